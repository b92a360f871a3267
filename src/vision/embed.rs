//! Face embedding with a MobileFaceNet run by tract.
//!
//! In: an aligned 112x112 RGB crop. The crop is put in the model's colour order and normalised
//! as its manifest entry says (`x * scale - mean) / std` per channel), run, and the output
//! L2-normalised. Out: the embedding, a unit vector; faces of one person point the same way.

use std::path::Path;

use serde::Deserialize;

use super::align::CROP;
use super::image::RgbImage;
use super::onnx::{nchw_tensor, ModelError, Plan};

/// Channel order the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorOrder {
    Rgb,
    Bgr,
}

/// How a crop becomes model input: `(pixel * scale - mean[c]) / std[c]`, in `color` order.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    pub color: ColorOrder,
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// A loaded embedder.
pub struct Embedder {
    plan: Plan,
    prep: Preprocess,
    dim: usize,
}

impl Embedder {
    /// Loads the model at `path` for one 112x112 crop with this preprocessing and output size.
    pub fn load(path: &Path, prep: Preprocess, dim: usize, threads: usize) -> Result<Self, ModelError> {
        if prep.std.iter().any(|s| !(s.abs() > 0.0)) {
            return Err(ModelError { path: path.to_path_buf(), reason: "preprocess std must not be 0".into() });
        }
        let side = CROP as usize;
        let plan = Plan::load(path, [1, 3, side, side], threads, false)?;
        Ok(Embedder { plan, prep, dim })
    }

    /// Length of the embeddings this model produces.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Embeds one aligned crop; the result has unit length.
    pub fn embed(&self, crop: &RgbImage) -> anyhow::Result<Vec<f32>> {
        anyhow::ensure!(crop.dimensions() == (CROP, CROP), "crop must be {CROP}x{CROP}, got {:?}", crop.dimensions());
        let side = CROP as usize;
        let raw = crop.as_raw();
        let p = &self.prep;
        let input = nchw_tensor(side, side, |c, x, y| {
            let src = match p.color {
                ColorOrder::Rgb => c,
                ColorOrder::Bgr => 2 - c,
            };
            (f32::from(raw[(y * side + x) * 3 + src]) * p.scale - p.mean[c]) / p.std[c]
        })?;
        let outputs = self.plan.run(input)?;
        let (_, out) = outputs.into_iter().next().ok_or_else(|| anyhow::anyhow!("embedder gave no output"))?;
        anyhow::ensure!(out.len() == self.dim, "embedder gave {} values, manifest says {}", out.len(), self.dim);
        normalize(out).ok_or_else(|| anyhow::anyhow!("embedder output is zero or not finite"))
    }
}

/// Scales `v` to unit length; `None` if it is zero or not finite.
pub fn normalize(mut v: Vec<f32>) -> Option<Vec<f32>> {
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
    if !(norm.is_finite() && norm > 1e-12) {
        return None;
    }
    for x in &mut v {
        *x = (f64::from(*x) / norm) as f32;
    }
    Some(v)
}

/// Cosine similarity of two vectors (dot product over norms); 0 when either is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na > 0.0 && nb > 0.0 {
        (dot / (na.sqrt() * nb.sqrt())) as f32
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_gives_unit_length_and_refuses_zero() {
        let v = normalize(vec![3.0, 4.0]).expect("non-zero");
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert!(normalize(vec![0.0, 0.0]).is_none());
        assert!(normalize(vec![f32::NAN, 1.0]).is_none());
    }

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[0.0, 1.0])).abs() < 1e-6);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[-1.0, 0.0]) + 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
