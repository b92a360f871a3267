//! `rolemirror gallery preview DIR --out OUTDIR [--size WxH]... [--config FILE] [--json]`, and the
//! same checks for `bundle create` ([`gallery_checks`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Common, ExitCode};
use crate::config::{Backend, Config, KmsSettings};
use crate::display::preview::{self, CardImage, ContactSheet, Problem, Severity};
use crate::display::render::Assets;
use crate::display::text::Fonts;
use crate::gallery::index::{self, Index, PhotoRules};
use crate::gallery::{Gallery, GalleryManifest};
use crate::util::Size;
use crate::vision::RgbImage;

/// The screen sizes a config's display has, as scenes are laid out (turned by
/// `display.rotation`): the PNG backend's size, an SPI panel's, a KMS mode set in the config, or
/// for a screen whose size comes from the device at run time 1920x1080, said in `note`.
pub fn display_sizes(config: &Config) -> (Vec<Size>, Option<String>) {
    let turned = |w: u32, h: u32| Size::from(config.display.rotation.turn(w, h));
    let at_run_time = |what: String| {
        let size = turned(1920, 1080);
        (vec![size], Some(format!("display.backend is {what}: its size comes from the screen at run time; checked at {size}")))
    };
    match &config.display.backend {
        Backend::Png { size, .. } => (vec![turned(size.width, size.height)], None),
        Backend::Spi(spi) => (vec![Size::from(spi.rotation.turn(u32::from(spi.width), u32::from(spi.height)))], None),
        Backend::Kms(KmsSettings { mode: Some(mode), .. }) => (vec![turned(mode.width, mode.height)], None),
        Backend::Kms(_) => at_run_time("kms".into()),
        Backend::Auto { .. } => at_run_time("auto".into()),
        Backend::Fbdev { device } => at_run_time(format!("fbdev ({})", device.display())),
    }
}

/// What the checks found.
pub struct Checked {
    pub problems: Vec<Problem>,
    pub sizes: Vec<Size>,
    pub cards: usize,
    pub note: Option<String>,
}

impl Checked {
    pub fn errors(&self) -> usize {
        self.problems.iter().filter(|p| p.severity == Severity::Error).count()
    }
    pub fn warnings(&self) -> usize {
        self.problems.iter().filter(|p| p.severity == Severity::Warning).count()
    }
}

/// A gallery as the booth would open it, without writing anything into `dir`: its index when
/// fresh, else one built in memory (the booth builds the same at its first start).
fn open_gallery(dir: &Path, manifest: &GalleryManifest, vision: &crate::vision::Vision) -> anyhow::Result<Gallery> {
    let previous = Index::read(dir).unwrap_or(None);
    let index = match previous {
        Some(i) if i.staleness(dir, &vision.embedder_id).is_none() => i,
        previous => index::build(dir, manifest, vision, &PhotoRules::default(), previous.as_ref(), |_, _| {})?.0,
    };
    Ok(Gallery::from_parts(dir, manifest.clone(), index))
}

/// Renders and checks every card of the gallery in `dir` at `sizes` (empty: the config's display
/// sizes; `config` None: the default config). `each` receives every card image; `progress`
/// (done, total) is called after each card. The manifest must be valid (checked by the caller).
pub fn gallery_checks(
    common: &Common,
    dir: &Path,
    config: Option<&Path>,
    sizes: &[Size],
    each: &mut dyn FnMut(&Gallery, &Fonts, CardImage) -> anyhow::Result<()>,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Checked> {
    let config = match config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let (sizes, note) = if sizes.is_empty() { display_sizes(&config) } else { (sizes.to_vec(), None) };
    let fonts = Fonts::load(&config.display.font, &config.display.font_bold).context("the display fonts (display.font)")?;
    let manifest = GalleryManifest::load(dir)?;
    let vision = common.vision()?;
    let gallery = open_gallery(dir, &manifest, &vision)?;
    let assets = Assets::with_cards(fonts, config.texts.clone(), preview::cards_for(&gallery));
    let mut problems = preview::missing_photos(&manifest, &gallery);
    problems.extend(preview::left_out_photos(&gallery));
    let found = preview::check_cards(
        &assets,
        &gallery.role_models,
        Some(&vision),
        &sizes,
        &mut |card| each(&gallery, &assets.fonts, card),
        progress,
    )?;
    problems.extend(found);
    let key = |p: &Problem| (std::cmp::Reverse(p.severity), p.role_model.clone(), p.size.map(|s| (s.width, s.height)));
    problems.sort_by_key(key);
    Ok(Checked { problems, sizes, cards: gallery.role_models.len(), note })
}

fn write_png(path: &Path, image: &RgbImage) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image.clone())
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .with_context(|| path.display().to_string())?;
    crate::util::write_atomic(path, &bytes).with_context(|| path.display().to_string())
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
    let checked = gallery_checks(
        common,
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
