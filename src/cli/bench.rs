//! `rolemirror bench`: per-stage latency of the pipeline on one photo.
//!
//! Stages: decode (file bytes to RGB), detect (letterbox, YuNet, decoding, NMS, refinement
//! pass), align (similarity transform and warp), embed (MobileFaceNet), match (cosine top-5
//! against a gallery; a synthetic one of `--gallery-size` unit vectors unless `--gallery DIR`).
//! Each stage's median over `--runs` runs after two warm-up runs, in milliseconds.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;

use super::{Common, ExitCode};
use crate::gallery::matcher::Candidate;
use crate::gallery::Gallery;
use crate::vision::{self, align, embed::normalize};

/// Photo benchmarked when no `--image` is given (made by `rolemirror models fetch`).
pub const DEFAULT_IMAGE: &str = "demo/visitors/img2.jpg";

/// Bench settings.
pub struct BenchOptions {
    pub image: Option<PathBuf>,
    pub runs: usize,
    pub gallery: Option<PathBuf>,
    pub gallery_size: usize,
}

/// Median of a sample (sorted copy; NaN-safe).
pub fn median(samples: &[f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// A deterministic synthetic gallery of `n` unit vectors of length `dim` (and appearance
/// vectors of length `appearance`, when the embedder has them).
fn synthetic_gallery(n: usize, dim: usize, appearance: Option<usize>) -> Vec<Candidate> {
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32 - 0.5
    };
    (0..n)
        .filter_map(|i| {
            let v: Vec<f32> = (0..dim).map(|_| next()).collect();
            let appearance = appearance.and_then(|n| normalize((0..n).map(|_| next()).collect()));
            // Two declared genders, so the gender cue's cost is in the match time.
            normalize(v).map(|vector| Candidate { id: format!("synthetic-{i:04}"), vector, appearance, gender: Some((i % 2) as u16) })
        })
        .collect()
}

/// Runs the benchmark and prints JSON or a table.
pub fn bench(common: &Common, opts: &BenchOptions, json_out: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let image = opts.image.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_IMAGE));
    let bytes = match std::fs::read(&image) {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "rolemirror: bench image {}: {e} (pass --image FILE, or run `rolemirror models fetch` for the demo photos)",
                image.display()
            );
            return Ok(ExitCode::Setup);
        }
    };
    let vision = common.vision()?;
    let settings = common.matching;
    let candidates = match &opts.gallery {
        Some(dir) => Gallery::open(dir, &vision.embedder_id)?.candidates().to_vec(),
        None => {
            // The appearance length, from one run on a grey crop.
            let grey = vision::RgbImage::from_pixel(vision::align::CROP, vision::align::CROP, ::image::Rgb([128, 128, 128]));
            let appearance = vision.embedder.describe(&grey).ok().and_then(|c| c.appearance).map(|a| a.len());
            synthetic_gallery(opts.gallery_size, vision.embedder_id.dim, appearance)
        }
    };
    // Once per gallery (at load), not per visitor.
    let hubs = crate::gallery::matcher::Hubs::new(&candidates);
    let names = ["decode", "detect", "align", "embed", "match"];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let runs = opts.runs.max(1);
    for run in 0..runs + 2 {
        let mut lap = Vec::with_capacity(names.len());
        let t = Instant::now();
        let img = vision::image::decode(&bytes, vision::image::DEFAULT_MAX_PIXELS).with_context(|| image.display().to_string())?;
        lap.push(t.elapsed());
        let t = Instant::now();
        let faces = vision.faces(&img)?;
        lap.push(t.elapsed());
        let face = faces.first().with_context(|| format!("no face in {}", image.display()))?;
        let t = Instant::now();
        let crop = align::align(&img, &face.landmarks).context("degenerate landmarks")?;
        lap.push(t.elapsed());
        let t = Instant::now();
        let embedding = vision.embedder.describe(&crop)?;
        lap.push(t.elapsed());
        let t = Instant::now();
        let best = crate::gallery::matcher::rank(&embedding, &candidates, &hubs, settings, 5);
        lap.push(t.elapsed());
        std::hint::black_box(best);
        if run >= 2 {
            for (i, d) in lap.iter().enumerate() {
                times[i].push(d.as_secs_f64() * 1000.0);
            }
        }
    }
    let medians: Vec<f64> = times.iter().map(|t| median(t)).collect();
    let total: f64 = medians.iter().sum();
    if json_out {
        let stages: serde_json::Map<String, serde_json::Value> =
            names.iter().zip(&medians).map(|(n, m)| (n.to_string(), json!((m * 1000.0).round() / 1000.0))).collect();
        let line = json!({
            "image": image, "runs": runs, "threads": common.threads.max(1),
            "detector": vision.detector_id, "embedder": vision.embedder_id.id,
            "gallery_size": candidates.len(), "median_ms": stages, "total_ms": (total * 1000.0).round() / 1000.0,
        });
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "{} runs on {}, {} thread(s), embedder {}, gallery of {}",
            runs,
            image.display(),
            common.threads.max(1),
            vision.embedder_id.id,
            candidates.len()
        )?;
        for (n, m) in names.iter().zip(&medians) {
            writeln!(out, "  {n:<8} {m:>9.3} ms")?;
        }
        writeln!(out, "  {:<8} {total:>9.3} ms", "total")?;
    }
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn synthetic_gallery_is_deterministic_unit_vectors() {
        let a = synthetic_gallery(5, 16, Some(8));
        let b = synthetic_gallery(5, 16, Some(8));
        assert_eq!(a, b);
        assert_eq!(a.len(), 5);
        for c in &a {
            let n: f32 = c.vector.iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-4);
        }
    }
}
