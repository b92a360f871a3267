//! `rolemirror gallery preview DIR --out OUTDIR [--size WxH]... [--config FILE] [--json]`: the
//! cards and contact sheets written, and the problems of [`crate::display::checks`] printed
//! (which `bundle create` prints too, with [`print_summary`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Common, ExitCode};
use crate::display::checks::{check_gallery, Checked};
use crate::display::preview::ContactSheet;
use crate::gallery::GalleryManifest;
use crate::util::image::RgbImage;
use crate::util::Size;

fn write_png(path: &Path, image: &RgbImage) -> anyhow::Result<()> {
    crate::util::image::write_png(path, image).with_context(|| path.display().to_string())
}

/// Options of `gallery preview`.
pub struct PreviewOptions<'a> {
    pub dir: &'a Path,
    pub out: &'a Path,
    pub sizes: &'a [Size],
    pub config: Option<&'a Path>,
    pub json: bool,
}

/// `gallery preview`: one PNG per role model per size (`OUT/<id>-<W>x<H>.png`), one contact sheet
/// per size (`OUT/contact-sheet-<W>x<H>.png`), and the problems. Exit 0 without errors (warnings
/// are listed), 1 with errors, 3 when the gallery, config, fonts or models cannot be used.
pub fn run(common: &Common, opts: &PreviewOptions, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let manifest = GalleryManifest::load(opts.dir)?;
    let problems = manifest.validate(Some(opts.dir));
    if !problems.is_empty() {
        return Ok(super::print_problems(out, &opts.dir.display().to_string(), " in gallery.toml; nothing previewed", &problems)?);
    }
    std::fs::create_dir_all(opts.out).with_context(|| opts.out.display().to_string())?;
    let mut sheets: Vec<(Size, ContactSheet, PathBuf)> = Vec::new();
    let mut files: Vec<serde_json::Value> = Vec::new();
    let mut progress = crate::util::progress::callback("cards", opts.json);
    let checked = check_gallery(
        &common.vision_options(),
        opts.dir,
        opts.config,
        opts.sizes,
        &mut |gallery, fonts, card| {
            let id = &gallery.role_models[card.index].id;
            let file = opts.out.join(format!("{id}-{}.png", card.size));
            write_png(&file, card.image)?;
            files.push(serde_json::json!({ "role_model": id, "size": card.size.to_string(), "file": file }));
            let slot = match sheets.iter().position(|(s, _, _)| *s == card.size) {
                Some(i) => i,
                None => {
                    let path = opts.out.join(format!("contact-sheet-{}.png", card.size));
                    sheets.push((card.size, ContactSheet::new(gallery.role_models.len(), card.size), path));
                    sheets.len() - 1
                }
            };
            sheets[slot].1.add(fonts, card.index, card.image, id, card.worst, card.problems);
            Ok(())
        },
        &mut progress,
    )?;
    for (_, sheet, path) in &sheets {
        write_png(path, &sheet.image())?;
    }
    let code = if checked.errors() > 0 { ExitCode::InputFailed } else { ExitCode::Ok };
    if opts.json {
        let v = serde_json::json!({
            "gallery": opts.dir,
            "out": opts.out,
            "sizes": checked.sizes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "cards": files,
            "contact_sheets": sheets.iter().map(|(_, _, p)| p).collect::<Vec<_>>(),
            "errors": checked.errors(),
            "warnings": checked.warnings(),
            "problems": checked.problems,
            "note": checked.note,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(code);
    }
    if let Some(note) = &checked.note {
        writeln!(out, "note: {note} (pass --size WxH for another)")?;
    }
    let sizes: Vec<String> = checked.sizes.iter().map(ToString::to_string).collect();
    writeln!(out, "{}: {} cards at {} rendered into {}", opts.dir.display(), files.len(), sizes.join(", "), opts.out.display())?;
    for (_, _, path) in &sheets {
        writeln!(out, "  contact sheet: {}", path.display())?;
    }
    print_summary(&checked, out)?;
    Ok(code)
}

/// The problem list and a one-line verdict.
pub fn print_summary(checked: &Checked, out: &mut impl Write) -> std::io::Result<()> {
    for p in &checked.problems {
        writeln!(out, "  {p}")?;
    }
    writeln!(
        out,
        "{} error(s), {} warning(s) over {} role models at {} size(s)",
        checked.errors(),
        checked.warnings(),
        checked.cards,
        checked.sizes.len()
    )
}
