//! The face pipeline: detect (YuNet) → align (5 points) → embed (MobileFaceNet), all on tract.
//!
//! Only this module knows tract. [`Vision`] is loaded once with the models named in the
//! manifest (each file's sha256 checked) and then used per image or frame. [`quantize`] makes
//! the int8-weight model files (an ONNX graph rewrite, so it is here too).

pub mod align;
pub mod autosize;
pub mod choose;
pub mod detect;
pub mod embed;
pub mod onnx;
pub mod ops;
pub mod profile;
pub mod quantize;

use std::path::Path;

use anyhow::Context;

use crate::models::{self, Kind, Manifest};
pub use crate::util::image::{Region, RgbImage};
pub use choose::{choose_face, FacePolicy};
pub use detect::{DetectorOptions, Face};

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
    /// Arithmetic precision of the networks (the config's `vision.precision`).
    pub precision: Precision,
    /// Use the fused lowerings of [`ops`] (PReLU, max-pool, depthwise+ReLU(+pool), stem); false
    /// loads with tract's own (for comparisons; the results agree, see `tests/it/speed.rs`).
    /// Default true, or false when the environment has `ROLEMIRROR_FUSED_OPS=0` (to measure
    /// both on a Pi with the same binary: `ROLEMIRROR_FUSED_OPS=0 rolemirror bench`).
    pub fused_ops: bool,
    /// `vision.detector_input = "auto"`: `Some((width, height))` of the camera frames, and the
    /// full-frame detector's input is chosen at load by timing it on this CPU ([`autosize`],
    /// budget [`autosize::FULL_FRAME_BUDGET_MS`]; `detect.input` is then ignored). `None`: the
    /// input is `detect.input` as given.
    pub auto_input: Option<(u32, u32)>,
    /// Input of the second, small detector that looks for a known face in a region around it
    /// ([`Vision::faces_near`]); loaded on first use. Default [`TRACK_INPUT`].
    pub track_input: (u32, u32),
}

/// Default input of the tracking detector: a square region twice the face's size
/// ([`TRACK_REGION_SCALE`]) scaled to this puts the face at about 96 px, where YuNet's
/// landmarks still agree with a full-frame detection (see `tests/it/speed.rs`).
pub const TRACK_INPUT: (u32, u32) = (192, 192);

/// Side of the tracking region over the face box's larger side.
pub const TRACK_REGION_SCALE: f32 = 2.0;

impl Default for VisionOptions {
    fn default() -> Self {
        VisionOptions {
            models: None,
            detector: None,
            embedder: None,
            threads: 1,
            detect: DetectorOptions::default(),
            precision: Precision::F32,
            fused_ops: std::env::var_os("ROLEMIRROR_FUSED_OPS").is_none_or(|v| v != "0"),
            auto_input: None,
            track_input: TRACK_INPUT,
        }
    }
}

/// Arithmetic precision of the networks: `vision.precision = "auto" | "f32" | "f16"`.
///
/// f16 halves the memory traffic of every activation and doubles the NEON lanes, but only CPUs
/// with fp16 arithmetic (ARMv8.2 `asimdhp`: the Pi 5's Cortex-A76; not the Pi 4's A72, not x86)
/// run it natively — elsewhere tract emulates it, about 200x slower. `Auto` is f16 exactly where
/// [`fp16_supported`] says so; `F16` on a CPU without it is refused at load with that reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Auto,
    #[default]
    F32,
    F16,
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Precision::Auto),
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            _ => Err(format!("{s:?}: expected \"auto\", \"f32\" or \"f16\"")),
        }
    }
}

impl Precision {
    /// Whether to run in f16 on this CPU, or why not: `Ok(true)` for f16, `Ok(false)` for f32,
    /// `Err` when f16 is asked for and the CPU has no fp16 arithmetic.
    pub fn resolve(self) -> Result<bool, String> {
        match self {
            Precision::F32 => Ok(false),
            Precision::Auto => Ok(fp16_supported()),
            Precision::F16 if fp16_supported() => Ok(true),
            Precision::F16 => {
                Err("precision f16: this CPU has no fp16 arithmetic (ARMv8.2 asimdhp, e.g. a Raspberry Pi 5); use \"auto\" or \"f32\""
                    .into())
            }
        }
    }
}

/// Does this CPU do f16 arithmetic natively (tract's `has_fp16`: aarch64 with `asimdhp` in
/// `/proc/cpuinfo`, or a core known to have it)?
pub fn fp16_supported() -> bool {
    tract_linalg::has_fp16()
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
    /// What `detector_input = "auto"` chose and the timings (None: the input was given).
    pub auto_input: Option<autosize::AutoInput>,
    /// The tracking detector (small input), loaded on first use.
    tracker: std::sync::OnceLock<detect::Detector>,
    detector_path: std::path::PathBuf,
    tuning: onnx::Tuning,
    track_options: DetectorOptions,
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
    /// With `opts.auto_input`, the detector input is chosen by timing ([`Vision::auto_input`]).
    pub fn load(dir: &Path, manifest: &Manifest, opts: &VisionOptions) -> anyhow::Result<Vision> {
        let auto = opts.auto_input.map(|frame| (frame, autosize::FULL_FRAME_BUDGET_MS));
        let (mut v, chosen) = Self::load_with(dir, manifest, opts, auto)?;
        v.auto_input = chosen;
        Ok(v)
    }

    /// As [`Vision::load`], with the detector input chosen by timing on this CPU for frames of
    /// `frame` (width, height) within `budget_ms` ([`autosize`]; `opts.detect.input` is ignored).
    /// What was chosen and the timings come back with it (the booth's `ready` event shows them).
    pub fn load_auto(
        dir: &Path,
        manifest: &Manifest,
        opts: &VisionOptions,
        frame: (u32, u32),
        budget_ms: f64,
    ) -> anyhow::Result<(Vision, autosize::AutoInput)> {
        let (mut v, auto) = Self::load_with(dir, manifest, opts, Some((frame, budget_ms)))?;
        let auto = auto.context("detector input was not chosen")?;
        v.auto_input = Some(auto.clone());
        Ok((v, auto))
    }

    fn load_with(
        dir: &Path,
        manifest: &Manifest,
        opts: &VisionOptions,
        auto: Option<((u32, u32), f64)>,
    ) -> anyhow::Result<(Vision, Option<autosize::AutoInput>)> {
        let det_id = opts.detector.as_deref().unwrap_or(&manifest.default_detector);
        let emb_id = opts.embedder.as_deref().unwrap_or(&manifest.default_embedder);
        let det_spec = manifest.get_kind(det_id, Kind::Detector)?;
        let emb_spec = manifest.get_kind(emb_id, Kind::Embedder)?;
        let (det_path, _) = models::verified_path(dir, det_spec)?;
        let (emb_path, emb_sha) = models::verified_path(dir, emb_spec)?;
        let f16 = opts.precision.resolve().map_err(|e| anyhow::anyhow!("vision: {e}"))?;
        let tuning = onnx::Tuning { threads: opts.threads.max(1), fused_ops: opts.fused_ops, f16 };
        let (detector, chosen) = match auto {
            None => (detect::Detector::load(&det_path, opts.detect, tuning)?, None),
            Some((frame, budget)) => {
                let (d, a) = autosize::choose(&det_path, opts.detect, tuning, frame, budget)?;
                (d, Some(a))
            }
        };
        let prep = emb_spec.preprocess.clone().with_context(|| format!("manifest: {emb_id} has no preprocess"))?;
        let dim = emb_spec.dim.with_context(|| format!("manifest: {emb_id} has no dim"))?;
        let embedder = embed::Embedder::load(&emb_path, prep, dim, emb_spec.appearance.clone(), tuning)?;
        let vision = Vision {
            detector,
            embedder,
            embedder_id: EmbedderId { id: emb_id.to_string(), sha256: emb_sha, dim, appearance: emb_spec.appearance.clone() },
            detector_id: det_id.to_string(),
            auto_input: None,
            tracker: std::sync::OnceLock::new(),
            detector_path: det_path,
            tuning,
            track_options: DetectorOptions { input: opts.track_input, ..opts.detect },
        };
        Ok((vision, chosen))
    }

    /// "f16" or "f32": what the networks run in.
    pub fn precision(&self) -> &'static str {
        if self.tuning.f16 {
            "f16"
        } else {
            "f32"
        }
    }

    /// Whether the fused lowerings are in use ([`VisionOptions::fused_ops`]).
    pub fn fused_ops(&self) -> bool {
        self.tuning.fused_ops
    }

    /// The full-frame detector's input size.
    pub fn detector_input(&self) -> (u32, u32) {
        self.detector.options().input
    }

    /// The small detector for regions around a known face (loaded on the first call).
    pub fn tracker(&self) -> anyhow::Result<&detect::Detector> {
        if let Some(t) = self.tracker.get() {
            return Ok(t);
        }
        let loaded = detect::Detector::load(&self.detector_path, self.track_options, self.tuning)?;
        Ok(self.tracker.get_or_init(|| loaded))
    }

    /// The region [`Vision::faces_near`] searches around `face` in a `width` x `height` frame.
    pub fn track_region(face: &Face, width: u32, height: u32) -> Option<Region> {
        detect::region_around(face.bbox, width, height, TRACK_REGION_SCALE)
    }

    /// Faces in a region around a face found in an earlier frame (a square twice its size),
    /// detected at the tracker's small input, in the frame's coordinates, largest first. Much
    /// cheaper than [`Vision::faces`] on the whole frame (about 192x192 pixels of network input
    /// against 640x480); it cannot see a face elsewhere in the frame, so the booth still runs a
    /// full-frame detection from time to time. Empty when the region is outside the frame.
    pub fn faces_near(&self, img: &RgbImage, face: &Face) -> anyhow::Result<Vec<Face>> {
        match Self::track_region(face, img.width(), img.height()) {
            Some(region) => self.tracker()?.detect_region(img, region),
            None => Ok(Vec::new()),
        }
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
