//! `rolemirror run`, `rolemirror demo [fetch]` and `rolemirror config check`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::{Common, ExitCode};
use crate::config::{self, Config};
use crate::demo::{self, DemoOptions};
use crate::gallery::{Gallery, GalleryManifest};
use crate::util::Progress;
use crate::util::Size;

/// `run --config FILE`: the daemon until SIGTERM.
pub fn run(config: &Path) -> anyhow::Result<ExitCode> {
    crate::service::run(config)?;
    Ok(ExitCode::Ok)
}

/// `config check FILE`.
pub fn config_check(file: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("{}: cannot read", file.display()))?;
    let problems = config::check(&text);
    if problems.is_empty() {
        writeln!(out, "{}: ok", file.display())?;
        return Ok(ExitCode::Ok);
    }
    Ok(super::print_problems(out, &file.display().to_string(), "", &problems)?)
}

/// `demo fetch [--data-mirror DIR] [--out DIR]`.
pub fn demo_fetch(mirror: &Path, dir: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let gallery = demo::data::fetch(mirror, dir)?;
    writeln!(out, "demo photos verified; gallery in {} (next: rolemirror gallery build {})", gallery.display(), gallery.display())?;
    Ok(ExitCode::Ok)
}

/// `demo [--data DIR] [--out DIR] [--size WxH]`: on a fresh checkout it first fetches the
/// models and demo photos it lacks and builds the demo gallery's index, saying each step on
/// stderr (see [`demo::firstrun`]).
pub fn demo(common: &Common, data: &Path, out_dir: &Path, size: Size, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let shared = demo::firstrun::find_shared();
    let models = crate::models::model_dir(common.models.as_deref());
    demo::firstrun::ensure_models(&models, shared.as_deref())?;
    demo::firstrun::ensure_photos(data, shared.as_deref(), false)?;
    let vision = common.vision()?;
    let gallery_dir = data.join("gallery");
    let photos = GalleryManifest::load(&gallery_dir).map_or(0, |m| m.role_models.iter().map(|r| r.photos.len()).sum::<usize>());
    let bar = Progress::new(photos as u64, "embedding", false);
    let (gallery, rebuilt) = Gallery::open_or_build(&gallery_dir, &vision, |rm, photo| {
        bar.set_message(&format!("{} {photo}", rm.id));
        bar.inc(1);
    })
    .with_context(|| format!("the demo gallery {} (run `rolemirror demo fetch` to restore its photos)", gallery_dir.display()))?;
    bar.finish();
    match rebuilt {
        Some(why) => eprintln!("demo: demo gallery: built {} ({why})", gallery_dir.join(crate::gallery::index::INDEX_FILE).display()),
        None => eprintln!("demo: demo gallery: index up to date"),
    }
    let gallery = gallery.with_settings(common.matching);
    eprintln!("demo: running the booth on {} (screens into {})", data.join("visitors").display(), out_dir.join("screens").display());
    let opts = DemoOptions { data: data.to_path_buf(), out: out_dir.to_path_buf(), size };
    let summary = demo::run(&vision, std::sync::Arc::new(gallery), &Config::default(), &opts)?;
    out.flush()?;
    eprintln!("demo: {} visitor frames, {} matches; screens in {}", summary.visitors, summary.matches, out_dir.join("screens").display());
    Ok(ExitCode::Ok)
}
