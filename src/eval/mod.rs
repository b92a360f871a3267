//! Evaluation commands: face-verification accuracy on LFW-format pair lists ([`pairs`]), and
//! the relatability protocol on UTKFace ([`utk`] for the data, [`relatability`] for the numbers;
//! `../shared/data/README.md`).
//!
//! Both use the same pipeline and the same matcher as the booth. Images are embedded in
//! parallel (`--jobs`, [`embed_many`]), each worker sharing the loaded models.

pub mod pairs;
pub mod relatability;
pub mod utk;

use std::path::{Path, PathBuf};

use anyhow::Context;

pub use pairs::{best_threshold, eval_pairs, parse_pairs, Pair, PairsReport};
pub use relatability::{
    eval_relatability, eval_relatability_with, relatability_from, GroupStats, PopulationExposure, RelatabilityOptions, RelatabilityReport,
    VarietyRelatability,
};
pub use utk::{embed_utk, group_name, md5_hex, parse_utk, utk_gallery, utk_split, Labelled, UtkFaces, UtkLabel};

use crate::util::Progress;
use crate::vision::embed::FaceCode;
pub use crate::vision::FacePolicy;
use crate::vision::{self, choose_face, Vision};

/// Pads an image by `pad` pixels on every side, replicating the border.
pub fn pad_replicate(img: &vision::RgbImage, pad: u32) -> vision::RgbImage {
    let (w, h) = img.dimensions();
    vision::RgbImage::from_fn(w + 2 * pad, h + 2 * pad, |x, y| {
        let sx = (x as i64 - pad as i64).clamp(0, w as i64 - 1) as u32;
        let sy = (y as i64 - pad as i64).clamp(0, h as i64 - 1) as u32;
        *img.get_pixel(sx, sy)
    })
}

/// Embeds the chosen face of each image (None: unreadable or no face), in parallel; counts each
/// image done on `progress`.
pub fn embed_many(
    vision: &Vision,
    paths: &[PathBuf],
    policy: FacePolicy,
    pad: u32,
    jobs: usize,
    progress: &Progress,
) -> Vec<Option<FaceCode>> {
    let jobs = jobs.max(1);
    let mut results: Vec<Option<FaceCode>> = vec![None; paths.len()];
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(path) = paths.get(i) else { break };
                let e = embed_path(vision, path, policy, pad).ok();
                progress.inc(1);
                if let Ok(mut d) = done.lock() {
                    d.push((i, e));
                }
            });
        }
    });
    for (i, e) in done.into_inner().unwrap_or_default() {
        results[i] = e;
    }
    results
}

fn embed_path(vision: &Vision, path: &Path, policy: FacePolicy, pad: u32) -> anyhow::Result<FaceCode> {
    let img = crate::util::image::load(path, crate::util::image::DEFAULT_MAX_PIXELS)?;
    let img = if pad > 0 { pad_replicate(&img, pad) } else { img };
    let faces = vision.faces(&img)?;
    let face = choose_face(&faces, img.width(), img.height(), policy).context("no face")?;
    vision.describe_face(&img, face)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_replicates_the_border() {
        let img = vision::RgbImage::from_fn(2, 1, |x, _| image::Rgb([x as u8 * 100, 0, 0]));
        let p = pad_replicate(&img, 2);
        assert_eq!(p.dimensions(), (6, 5));
        assert_eq!(p.get_pixel(0, 0).0[0], 0);
        assert_eq!(p.get_pixel(5, 4).0[0], 100);
    }
}
