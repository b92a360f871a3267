//! The face pipeline: detect (YuNet) → align (5 points) → embed (MobileFaceNet), all on tract.
//!
//! Only this module knows tract. [`Vision`] is loaded once with the models named in the
//! manifest (each file's sha256 checked) and then used per image or frame.

pub mod align;
pub mod choose;
pub mod detect;
pub mod embed;
pub mod image;
pub mod onnx;

use std::path::Path;

use anyhow::Context;

use crate::models::{self, Kind, Manifest};
pub use choose::{choose_face, FacePolicy};
pub use detect::{DetectorOptions, Face};
pub use image::RgbImage;

/// Which models to load and how: the one description the vision stack is built from, by
/// [`Vision::open`] (the booth's `[vision]` settings and the commands' global options).
#[derive(Debug, Clone, PartialEq)]
pub struct VisionOptions {
    /// Model directory (None: see [`crate::models::model_dir`]).
    pub models: Option<std::path::PathBuf>,
    /// Detector id in the manifest (None: the manifest's default).
    pub detector: Option<String>,
    /// Embedder id in the manifest (None: the manifest's default).
    pub embedder: Option<String>,
    /// tract threads per model (1 = single-threaded).
    pub threads: usize,
    pub detect: DetectorOptions,
}

impl Default for VisionOptions {
    fn default() -> Self {
        VisionOptions { models: None, detector: None, embedder: None, threads: 1, detect: DetectorOptions::default() }
    }
}

/// Identity of the embedder that made an embedding: the gallery index keys its cache on this.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmbedderId {
    pub id: String,
    pub sha256: String,
    pub dim: usize,
    /// The appearance tensor (see [`embed`]); an index made without one is stale for a model
    /// that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance: Option<String>,
}

/// The loaded pipeline.
pub struct Vision {
    pub detector: detect::Detector,
    pub embedder: embed::Embedder,
    pub embedder_id: EmbedderId,
    /// Detector id in the manifest.
    pub detector_id: String,
}

impl Vision {
    /// Loads the pipeline `opts` describe, with the built-in manifest, from the model directory
    /// it names (or the default one).
    pub fn open(opts: &VisionOptions) -> anyhow::Result<Vision> {
        let manifest = Manifest::builtin()?;
        let dir = models::model_dir(opts.models.as_deref());
        Vision::load(&dir, &manifest, opts)
    }

    /// Loads detector and embedder from `dir`, verifying each file against `manifest`.
    pub fn load(dir: &Path, manifest: &Manifest, opts: &VisionOptions) -> anyhow::Result<Vision> {
        let det_id = opts.detector.as_deref().unwrap_or(&manifest.default_detector);
        let emb_id = opts.embedder.as_deref().unwrap_or(&manifest.default_embedder);
        let det_spec = manifest.get_kind(det_id, Kind::Detector)?;
        let emb_spec = manifest.get_kind(emb_id, Kind::Embedder)?;
        let (det_path, _) = models::verified_path(dir, det_spec)?;
        let (emb_path, emb_sha) = models::verified_path(dir, emb_spec)?;
        let threads = opts.threads.max(1);
        let detector = detect::Detector::load(&det_path, opts.detect, threads)?;
        let prep = emb_spec.preprocess.clone().with_context(|| format!("manifest: {emb_id} has no preprocess"))?;
        let dim = emb_spec.dim.with_context(|| format!("manifest: {emb_id} has no dim"))?;
        let embedder = embed::Embedder::load(&emb_path, prep, dim, emb_spec.appearance.clone(), threads)?;
        Ok(Vision {
            detector,
            embedder,
            embedder_id: EmbedderId { id: emb_id.to_string(), sha256: emb_sha, dim, appearance: emb_spec.appearance.clone() },
            detector_id: det_id.to_string(),
        })
    }

    /// Faces in the image, largest first.
    pub fn faces(&self, img: &RgbImage) -> anyhow::Result<Vec<Face>> {
        self.detector.detect(img)
    }

    /// Aligns and embeds one detected face.
    pub fn embed_face(&self, img: &RgbImage, face: &Face) -> anyhow::Result<Vec<f32>> {
        Ok(self.describe_face(img, face)?.identity)
    }

    /// Identity embedding and appearance vector of one detected face.
    pub fn describe_face(&self, img: &RgbImage, face: &Face) -> anyhow::Result<embed::FaceCode> {
        let crop = align::align(img, &face.landmarks).context("face landmarks are degenerate")?;
        self.embedder.describe(&crop)
    }
}
