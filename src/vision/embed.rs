//! Face embedding with a MobileFaceNet run by tract.
//!
//! In: an aligned 112x112 RGB crop. The crop is put in the model's colour order and normalised
//! as its manifest entry says (`x * scale - mean) / std` per channel), run, and the output
//! L2-normalised. Out: the embedding, a unit vector; faces of one person point the same way.
//!
//! When the manifest names an `appearance` tensor for the model, the same run also gives an
//! appearance vector: that intermediate feature map averaged over its spatial positions and
//! L2-normalised. The identity embedding is trained to ignore much of what people notice first
//! (skin tone, hair, light, the overall shape of a face); the averaged feature map keeps it, and
//! is what the `perceived` matcher compares (see `gallery::matcher`).

use std::path::Path;

use super::align::CROP;
use crate::util::image::RgbImage;
use std::time::Duration;

use super::onnx::{nchw_tensor, ModelError, NamedOutput, Plan, Tuning};
use tract_onnx::prelude::Tensor;

pub use crate::models::{ColorOrder, Preprocess};

/// A loaded embedder.
pub struct Embedder {
    plan: Plan,
    prep: Preprocess,
    dim: usize,
    /// Name of the appearance tensor, if the model has one.
    appearance: Option<String>,
}

/// What the embedder gives for one face.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceCode {
    /// Identity embedding, unit length.
    pub identity: Vec<f32>,
    /// Appearance vector, unit length (None: the model has no appearance tensor).
    pub appearance: Option<Vec<f32>>,
}

impl FaceCode {
    /// The mean of several codes of one face (frames of one visitor): each part the normalised
    /// mean of its vectors; appearance only when every code has one. None when empty or the
    /// vectors cancel out or differ in length.
    pub fn mean(codes: &[FaceCode]) -> Option<FaceCode> {
        let identities: Vec<&[f32]> = codes.iter().map(|c| c.identity.as_slice()).collect();
        let appearances: Vec<&[f32]> = codes.iter().filter_map(|c| c.appearance.as_deref()).collect();
        let appearance = if appearances.len() == codes.len() { centroid(&appearances) } else { None };
        Some(FaceCode { identity: centroid(&identities)?, appearance })
    }
}

/// The normalised mean of several unit vectors; `None` when there are none, their lengths
/// differ, or they cancel out.
pub fn centroid(vectors: &[&[f32]]) -> Option<Vec<f32>> {
    let first = vectors.first()?;
    let mut sum = vec![0f32; first.len()];
    for v in vectors {
        if v.len() != sum.len() {
            return None;
        }
        for (s, x) in sum.iter_mut().zip(v.iter()) {
            *s += x;
        }
    }
    normalize(sum)
}

/// Spatial mean of an NCHW (N = 1) feature map, per channel.
pub fn channel_means(shape: &[usize], data: &[f32]) -> Option<Vec<f32>> {
    let (c, hw) = match shape {
        [1, c, h, w] => (*c, h * w),
        [1, c] => (*c, 1),
        _ => return None,
    };
    if c == 0 || hw == 0 || data.len() != c * hw {
        return None;
    }
    Some(data.chunks(hw).map(|ch| ch.iter().sum::<f32>() / hw as f32).collect())
}

impl Embedder {
    /// Loads the model at `path` for one 112x112 crop with this preprocessing and output size.
    /// `appearance` names the intermediate tensor for the appearance vector (see the module docs).
    pub fn load(path: &Path, prep: Preprocess, dim: usize, appearance: Option<String>, tuning: Tuning) -> Result<Self, ModelError> {
        if prep.std.iter().any(|s| !(s.abs() > 0.0)) {
            return Err(ModelError { path: path.to_path_buf(), reason: "preprocess std must not be 0".into() });
        }
        let side = CROP as usize;
        let extra: Vec<String> = appearance.iter().cloned().collect();
        let plan = Plan::load_with_outputs(path, [1, 3, side, side], tuning, false, &extra)?;
        Ok(Embedder { plan, prep, dim, appearance })
    }

    /// Does this model give appearance vectors?
    pub fn has_appearance(&self) -> bool {
        self.appearance.is_some()
    }

    /// Length of the embeddings this model produces.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Embeds one aligned crop; the result has unit length.
    pub fn embed(&self, crop: &RgbImage) -> anyhow::Result<Vec<f32>> {
        Ok(self.describe(crop)?.identity)
    }

    /// The model input for one aligned crop.
    fn input(&self, crop: &RgbImage) -> anyhow::Result<Tensor> {
        anyhow::ensure!(crop.dimensions() == (CROP, CROP), "crop must be {CROP}x{CROP}, got {:?}", crop.dimensions());
        let side = CROP as usize;
        let raw = crop.as_raw();
        let p = &self.prep;
        nchw_tensor(side, side, |c, x, y| {
            let src = match p.color {
                ColorOrder::Rgb => c,
                ColorOrder::Bgr => 2 - c,
            };
            (f32::from(raw[(y * side + x) * 3 + src]) * p.scale - p.mean[c]) / p.std[c]
        })
    }

    /// Per-node times of the embedder on this crop (see [`super::profile`]).
    pub fn profile(&self, crop: &RgbImage, runs: usize) -> anyhow::Result<Vec<super::profile::NodeTime>> {
        self.plan.profile(&self.input(crop)?, runs)
    }

    /// Identity embedding and appearance vector of one aligned crop, from one run.
    pub fn describe(&self, crop: &RgbImage) -> anyhow::Result<FaceCode> {
        Ok(self.describe_timed(crop)?.0)
    }

    /// As [`Embedder::describe`], with the time each step took.
    pub fn describe_timed(&self, crop: &RgbImage) -> anyhow::Result<(FaceCode, EmbedTimes)> {
        let t = super::profile::Stopwatch::start();
        let input = self.input(crop)?;
        let prepare = t.elapsed();
        let t = super::profile::Stopwatch::start();
        let outputs = self.plan.run_shaped(input)?;
        let network = t.elapsed();
        let t = super::profile::Stopwatch::start();
        let code = self.finish(outputs)?;
        Ok((code, EmbedTimes { prepare, network, finish: t.elapsed() }))
    }

    /// The face code from the network's outputs.
    fn finish(&self, outputs: Vec<NamedOutput>) -> anyhow::Result<FaceCode> {
        let mut outputs = outputs.into_iter();
        let (_, _, out) = outputs.next().ok_or_else(|| anyhow::anyhow!("embedder gave no output"))?;
        anyhow::ensure!(out.len() == self.dim, "embedder gave {} values, manifest says {}", out.len(), self.dim);
        let identity = normalize(out).ok_or_else(|| anyhow::anyhow!("embedder output is zero or not finite"))?;
        let appearance = match &self.appearance {
            None => None,
            Some(name) => {
                let (_, shape, data) = outputs.next().ok_or_else(|| anyhow::anyhow!("embedder gave no {name} output"))?;
                let means = channel_means(&shape, &data)
                    .ok_or_else(|| anyhow::anyhow!("appearance tensor {name} has shape {shape:?}, not 1xCxHxW"))?;
                Some(normalize(means).ok_or_else(|| anyhow::anyhow!("appearance vector is zero or not finite"))?)
            }
        };
        Ok(FaceCode { identity, appearance })
    }
}

/// Where one embedding's time went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EmbedTimes {
    /// Colour order and normalisation into the model input.
    pub prepare: Duration,
    /// The network.
    pub network: Duration,
    /// Normalising the embedding, averaging the appearance tensor.
    pub finish: Duration,
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
    fn mean_of_face_codes() {
        let code = |i: [f32; 2], a: Option<[f32; 2]>| FaceCode { identity: i.to_vec(), appearance: a.map(|a| a.to_vec()) };
        let m = FaceCode::mean(&[code([1.0, 0.0], Some([0.0, 1.0])), code([0.0, 1.0], Some([0.0, 1.0]))]).expect("mean");
        assert!((m.identity[0] - m.identity[1]).abs() < 1e-6 && (m.identity[0] - 0.70710677).abs() < 1e-5);
        assert_eq!(m.appearance, Some(vec![0.0, 1.0]));
        let m = FaceCode::mean(&[code([1.0, 0.0], Some([0.0, 1.0])), code([1.0, 0.0], None)]).expect("mean");
        assert_eq!(m.appearance, None, "appearance only when every frame has one");
        assert!(FaceCode::mean(&[]).is_none());
        assert!(FaceCode::mean(&[code([1.0, 0.0], None), code([-1.0, 0.0], None)]).is_none());
    }

    #[test]
    fn channel_means_average_each_feature_map() {
        let data = [1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 10.0];
        assert_eq!(channel_means(&[1, 2, 2, 2], &data), Some(vec![2.5, 10.0]));
        assert_eq!(channel_means(&[1, 2], &[3.0, 4.0]), Some(vec![3.0, 4.0]));
        assert_eq!(channel_means(&[2, 2, 2, 2], &data), None);
        assert_eq!(channel_means(&[1, 3, 2, 2], &data), None);
    }

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[0.0, 1.0])).abs() < 1e-6);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[-1.0, 0.0]) + 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
