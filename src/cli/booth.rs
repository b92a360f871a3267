//! `rolemirror run`, `rolemirror demo [fetch]` and `rolemirror config check`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::{Common, ExitCode};
use crate::config::{self, Config};
use crate::demo::{self, DemoOptions};
use crate::gallery::{Gallery, GalleryManifest};
use crate::input::Gesture;
use crate::util::Progress;
use crate::util::Size;
use crate::vision::Vision;

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

/// What `demo` runs on.
pub struct DemoRun<'a> {
    pub data: &'a Path,
    pub out: &'a Path,
    pub size: Size,
    /// A booth's own config (its gallery, models, settings, texts) instead of the demo's.
    pub config: Option<&'a Path>,
    /// The visitor photos, if not DATA/visitors.
    pub visitors: Option<&'a Path>,
    /// What each matched visitor does on their result.
    pub acts: Vec<Gesture>,
}

/// `demo [--data DIR] [--out DIR] [--size WxH] [--config FILE] [--visitors DIR] [--act ...]`: on
/// a fresh checkout it first fetches the models and demo photos it lacks and builds the demo
/// gallery's index, saying each step on stderr (see [`demo::firstrun`]). With `--config`, the
/// booth that config describes (what a technician checks on a laptop before a stick goes out):
/// nothing is fetched, and every problem is named by the config key it comes from.
pub fn demo(common: &Common, run: &DemoRun, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let (vision, gallery_dir, config) = match run.config {
        Some(file) => {
            let config = Config::load(file)?;
            let vision = Vision::open(&config.vision).map_err(|e| anyhow::anyhow!("{}: vision.models: {e:#}", file.display()))?;
            (vision, config.gallery.dir.clone(), config)
        }
        None => {
            let shared = demo::firstrun::find_shared();
            let models = crate::models::model_dir(common.models.as_deref());
            demo::firstrun::ensure_models(&models, shared.as_deref())?;
            demo::firstrun::ensure_photos(run.data, shared.as_deref(), false)?;
            (common.vision()?, run.data.join("gallery"), Config::default())
        }
    };
    let photos = GalleryManifest::load(&gallery_dir).map_or(0, |m| m.role_models.iter().map(|r| r.photos.len()).sum::<usize>());
    let bar = Progress::new(photos as u64, "embedding", false);
    let (gallery, rebuilt) = Gallery::open_or_build(&gallery_dir, &vision, |rm, photo| {
        bar.set_message(&format!("{} {photo}", rm.id));
        bar.inc(1);
    })
    .with_context(|| match run.config {
        Some(file) => format!("{}: gallery.dir {}", file.display(), gallery_dir.display()),
        None => format!("the demo gallery {} (run `rolemirror demo fetch` to restore its photos)", gallery_dir.display()),
    })?;
    bar.finish();
    let which = if run.config.is_some() { "the booth's gallery" } else { "demo gallery" };
    match rebuilt {
        Some(why) => eprintln!("demo: {which}: built {} ({why})", gallery_dir.join(crate::gallery::index::INDEX_FILE).display()),
        None => eprintln!("demo: {which}: index up to date"),
    }
    let gallery = gallery.with_settings(if run.config.is_some() { config.gallery.matching } else { common.matching });
    let visitors = run.visitors.map_or_else(|| run.data.join("visitors"), Path::to_path_buf);
    eprintln!("demo: running the booth on {} (screens into {})", visitors.display(), run.out.join("screens").display());
    let opts = DemoOptions { visitors, out: run.out.to_path_buf(), size: run.size, acts: run.acts.clone() };
    let summary = demo::run(&vision, std::sync::Arc::new(gallery), &config, &opts)?;
    out.flush()?;
    eprintln!("demo: {} visitor frames, {} matches; screens in {}", summary.visitors, summary.matches, run.out.join("screens").display());
    Ok(ExitCode::Ok)
}
