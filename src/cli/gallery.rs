//! `rolemirror gallery build DIR` and `gallery check DIR`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::{Common, ExitCode};
use crate::gallery::index::{self, Index, PhotoRules};
use crate::gallery::GalleryManifest;
use crate::util::Progress;

fn report_rejections(index: &Index, out: &mut impl Write) -> std::io::Result<()> {
    for r in &index.rejected {
        writeln!(out, "  left out {} ({}): {}", r.file, r.role_model, r.reason)?;
    }
    Ok(())
}

/// The gallery's manifest; a folder without one is named with what to do.
pub(crate) fn load_manifest(dir: &Path) -> anyhow::Result<GalleryManifest> {
    let path = dir.join(crate::gallery::manifest::MANIFEST_FILE);
    if !path.is_file() {
        anyhow::bail!(
            "{}: no such file; a gallery folder holds gallery.toml and the photos (`rolemirror gallery new {}` writes a template)",
            path.display(),
            dir.display()
        );
    }
    GalleryManifest::load(dir)
}

/// Builds (or, with `write = false`, only checks) the gallery index. Exit 0 when every photo
/// was accepted, 1 when some were left out (named), 3 when the gallery cannot be used at all.
pub fn build(common: &Common, dir: &Path, write: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let manifest = load_manifest(dir)?;
    let problems = manifest.validate(Some(dir));
    if !problems.is_empty() {
        return Ok(super::print_problems(out, &dir.display().to_string(), " in gallery.toml", &problems)?);
    }
    let vision = common.vision()?;
    let previous = match Index::read(dir) {
        Ok(p) => p,
        Err(e) => {
            log::warn!("{e:#}; rebuilding from scratch");
            None
        }
    };
    let total: usize = manifest.role_models.iter().map(|r| r.photos.len()).sum();
    let bar = Progress::new(total as u64, if write { "embedding" } else { "checking" }, false);
    let portraits = if write { index::Portraits::Prepare } else { index::Portraits::Keep };
    let result = index::build(dir, &manifest, &vision, &PhotoRules::default(), previous.as_ref(), portraits, |rm, photo| {
        bar.set_message(&format!("{} {photo}", rm.id));
        bar.inc(1);
    });
    bar.finish();
    let (index, stats) = result?;
    let accepted_models = manifest.role_models.iter().filter(|rm| index.photos.iter().any(|p| p.role_model == rm.id)).count();
    if write {
        index.write(dir).with_context(|| {
            format!("{}: cannot write the index (is the folder writable, the disk full?)", dir.join(index::INDEX_FILE).display())
        })?;
    }
    writeln!(
        out,
        "{}: {} role models, {} photos accepted ({} embedded, {} from cache), {} left out; model {}{}",
        dir.display(),
        accepted_models,
        index.photos.len(),
        stats.embedded,
        stats.reused,
        stats.rejected,
        index.embedder.id,
        if write { format!("; wrote {}", dir.join(index::INDEX_FILE).display()) } else { " (check only, nothing written)".into() }
    )?;
    report_rejections(&index, out)?;
    let without: Vec<&str> =
        manifest.role_models.iter().filter(|rm| !index.photos.iter().any(|p| p.role_model == rm.id)).map(|rm| rm.id.as_str()).collect();
    if !without.is_empty() {
        writeln!(out, "  role models with no usable photo (not shown): {}", without.join(", "))?;
    }
    if accepted_models >= 2 {
        writeln!(out, "{}", super::audit::exposure_note(dir))?;
    }
    Ok(if stats.rejected > 0 { ExitCode::InputFailed } else { ExitCode::Ok })
}
