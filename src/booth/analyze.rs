//! Per-frame analysis for the booth: pick the visitor's face, judge it, and embed it when it is
//! good enough. Frames and crops stay in memory; only the [`FaceObs`] leaves.

use super::machine::{guidance, FaceObs};
use crate::config::BoothSettings;
use crate::vision::{align, Face, RgbImage, Vision};

/// Frontal by landmark geometry: the nose near the eyes' midpoint (yaw) and the eye line near
/// level (roll).
pub fn is_frontal(lm: &[[f32; 2]; 5], max_yaw: f32, max_roll_degrees: f32) -> bool {
    let [l, r, nose] = [lm[0], lm[1], lm[2]];
    let (dx, dy) = (r[0] - l[0], r[1] - l[1]);
    let eye = (dx * dx + dy * dy).sqrt();
    if !(eye > 1.0) {
        return false;
    }
    let mid = [(l[0] + r[0]) / 2.0, (l[1] + r[1]) / 2.0];
    // Nose offset along the eye line, relative to the eye distance.
    let along = ((nose[0] - mid[0]) * dx + (nose[1] - mid[1]) * dy) / (eye * eye);
    let roll = dy.atan2(dx).to_degrees().abs();
    along.abs() <= max_yaw && roll <= max_roll_degrees
}

/// Sharpness: variance of the 4-neighbour Laplacian of the grey crop.
pub fn sharpness(crop: &RgbImage) -> f32 {
    let (w, h) = (crop.width() as usize, crop.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let grey: Vec<f32> = crop.pixels().map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])).collect();
    let mut values = Vec::with_capacity((w - 2) * (h - 2));
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let c = grey[y * w + x];
            values.push(grey[y * w + x - 1] + grey[y * w + x + 1] + grey[(y - 1) * w + x] + grey[(y + 1) * w + x] - 4.0 * c);
        }
    }
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n
}

/// How long each stage of one frame's analysis took, in seconds (`None`: the stage did not run).
/// `detect` is the full-frame or the tracking detection, whichever ran.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    pub detect: Option<f64>,
    pub align: Option<f64>,
    pub embed: Option<f64>,
}

/// How good the visitor's `face` (found in `frame`) is; embedded only when good and `embed`.
/// Alignment and embedding are timed into `times` (the daemon's health report).
pub fn judge(
    vision: &Vision,
    frame: &RgbImage,
    face: &Face,
    cfg: &BoothSettings,
    embed: bool,
    times: &mut StageTimes,
) -> anyhow::Result<FaceObs> {
    let eye_fraction = face.eye_distance() / frame.width().max(1) as f32;
    let frontal = is_frontal(&face.landmarks, cfg.max_yaw, cfg.max_roll_degrees);
    let started = std::time::Instant::now();
    let crop = align::align(frame, &face.landmarks);
    times.align = Some(started.elapsed().as_secs_f64());
    let sharp = crop.as_ref().is_some_and(|c| sharpness(c) >= cfg.min_sharpness);
    let mut obs = FaceObs { bbox: face.bbox, eye_fraction, frontal, sharp, embedding: None };
    let placeholder = crate::vision::embed::FaceCode { identity: Vec::new(), appearance: None };
    if embed && guidance(&FaceObs { embedding: Some(placeholder), ..obs.clone() }, cfg).is_none() {
        if let Some(crop) = crop {
            let started = std::time::Instant::now();
            obs.embedding = Some(vision.embedder.describe(&crop)?);
            times.embed = Some(started.elapsed().as_secs_f64());
        }
    }
    Ok(obs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontal_geometry() {
        let straight = [[40.0, 50.0], [72.0, 50.0], [56.0, 70.0], [42.0, 90.0], [70.0, 90.0]];
        assert!(is_frontal(&straight, 0.25, 15.0));
        let turned = [[40.0, 50.0], [72.0, 50.0], [68.0, 70.0], [42.0, 90.0], [70.0, 90.0]];
        assert!(!is_frontal(&turned, 0.25, 15.0));
        let tilted = [[40.0, 40.0], [72.0, 60.0], [56.0, 70.0], [42.0, 90.0], [70.0, 90.0]];
        assert!(!is_frontal(&tilted, 0.25, 15.0));
        assert!(!is_frontal(&[[1.0, 1.0]; 5], 0.25, 15.0));
    }

    #[test]
    fn sharpness_separates_edges_from_flat() {
        let flat = RgbImage::from_pixel(20, 20, image::Rgb([90, 90, 90]));
        let stripes = RgbImage::from_fn(20, 20, |x, _| if x % 2 == 0 { image::Rgb([0, 0, 0]) } else { image::Rgb([255, 255, 255]) });
        assert_eq!(sharpness(&flat), 0.0);
        assert!(sharpness(&stripes) > 1000.0);
        let blurred = crate::util::image::resize(&crate::util::image::resize(&stripes, 5, 5), 20, 20);
        assert!(sharpness(&blurred) < sharpness(&stripes));
    }
}
