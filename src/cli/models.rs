//! `rolemirror models fetch|quantize|list`.

use std::io::Write;
use std::path::Path;

use super::ExitCode;
use crate::models::{fetch, model_dir, Manifest};
use crate::vision::quantize;

/// `models fetch [--mirror DIR]` into the model directory.
pub fn fetch(models: Option<&Path>, mirror: Option<&Path>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::builtin()?;
    let dir = model_dir(models);
    for (id, outcome) in fetch::fetch_all(&manifest, &dir, mirror, quantize::int8_weights)? {
        let spec = manifest.get(&id)?;
        writeln!(out, "{id:<24} {:<18} {}", format!("{outcome:?}"), dir.join(&spec.file).display())?;
    }
    Ok(ExitCode::Ok)
}

/// `models list`: every manifest entry and whether its file is present and verified.
pub fn list(models: Option<&Path>, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::builtin()?;
    let dir = model_dir(models);
    let mut missing = false;
    for spec in &manifest.models {
        let state = match crate::models::verified_path(&dir, spec) {
            Ok(_) => "ok".to_string(),
            Err(e) => {
                missing = true;
                e.to_string()
            }
        };
        let default = if spec.id == manifest.default_detector || spec.id == manifest.default_embedder { " (default)" } else { "" };
        writeln!(out, "{}{default}: {:?}, {}; {}", spec.id, spec.kind, spec.licence, state)?;
    }
    Ok(if missing { ExitCode::Setup } else { ExitCode::Ok })
}

/// `models quantize IN OUT [--min-elements N]`.
pub fn quantize(input: &Path, output: &Path, min_elements: usize, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let r = quantize::quantize_file(input, output, min_elements)?;
    let (sum, size) = crate::util::sha256_file(output)?;
    writeln!(
        out,
        "{}: {} Conv weight tensors ({} values) to int8 per channel; {} -> {} bytes; sha256 {sum} ({size} bytes)",
        output.display(),
        r.tensors,
        r.values,
        r.bytes_before,
        r.bytes_after
    )?;
    Ok(ExitCode::Ok)
}

/// Default for `--min-elements`.
pub const DEFAULT_MIN_ELEMENTS: usize = quantize::DEFAULT_MIN_ELEMENTS;
