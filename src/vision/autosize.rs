//! `vision.detector_input = "auto"`: the largest standard detector input that keeps a
//! full-frame detection within the frame budget on this CPU, found by timing it at start.
//!
//! The budget ([`FULL_FRAME_BUDGET_MS`], 150 ms) is the cost of one full-frame detection —
//! resize, network, decoding — on one thread: with nobody in front of the booth it is what every
//! frame costs, so a visitor stepping in is seen within about 0.15 s (6–7 detections a second).
//! Once a face is tracked, most frames use the small tracking detector instead
//! ([`super::Vision::faces_near`]) and the full-frame detection — to notice a second visitor —
//! runs only every few frames. By the published figures this lands a Pi 4 on 384x288 and a Pi 5
//! on 640x480 (`docs/performance.md`).
//!
//! Candidates have the camera frame's aspect ratio in multiples of 32, at most the frame's
//! width (never enlarged): for 4:3, 640x480, 512x384, 384x288, 256x192. They are timed from the
//! largest down and the first that fits is taken, so a fast CPU times one size. If none fits,
//! the smallest is used (and [`AutoInput::fits`] says so).
//!
//! A slow CPU is not kept waiting by sizes that cannot fit: a candidate's timing stops as soon
//! as more than half its runs are over the budget (the median is then over it too), and a
//! candidate whose time, scaled down by pixels from the last one timed, is still over twice the
//! budget is not loaded or timed at all (its estimate is reported, [`SizeTiming::runs`] 0).
//! Scaling by pixels underestimates a smaller input (fixed costs do not shrink), so an
//! estimate over twice the budget means a real time over it. Under emulation (the system
//! test's guest, ~100x slower than a Pi) the first start-up's model loading went from ~115 s to ~47 s.

use std::path::Path;
use std::time::Instant;

use super::detect::{Detector, DetectorOptions};
use super::onnx::Tuning;
use crate::util::image::RgbImage;

/// Time allowed for one full-frame detection, in milliseconds.
pub const FULL_FRAME_BUDGET_MS: f64 = 150.0;

/// Widths tried, largest first.
pub const WIDTHS: [u32; 4] = [640, 512, 384, 256];

/// Timed detections per candidate (after one warm-up run); the median counts.
pub const RUNS: usize = 5;

/// Estimates over this multiple of the budget skip a candidate (see the module's notes).
pub const SKIP_OVER: f64 = 2.0;

/// One candidate's time.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SizeTiming {
    pub input: (u32, u32),
    /// Median milliseconds per full-frame detection (an estimate when `runs` is 0).
    pub ms: f64,
    /// Timed runs behind `ms`: [`RUNS`], fewer when the budget was out of reach early, 0 for a
    /// candidate not timed (its time scaled by pixels from the last one timed).
    pub runs: usize,
}

impl std::fmt::Display for SizeTiming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (w, h) = self.input;
        if self.runs == 0 {
            write!(f, "{w}x{h} ~{:.0} ms (estimated, not timed)", self.ms)
        } else {
            write!(f, "{w}x{h} {:.1} ms", self.ms)
        }
    }
}

/// What `auto` chose, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AutoInput {
    pub input: (u32, u32),
    pub budget_ms: f64,
    /// Every candidate timed, largest first.
    pub timings: Vec<SizeTiming>,
    /// False when even the smallest candidate is over the budget (it is used anyway).
    pub fits: bool,
}

/// Standard inputs for a `width` x `height` frame, largest first: the frame's aspect ratio, in
/// multiples of 32, no wider than the frame (the smallest is always offered).
pub fn candidates(width: u32, height: u32) -> Vec<(u32, u32)> {
    let aspect = f64::from(height.max(1)) / f64::from(width.max(1));
    let mut out: Vec<(u32, u32)> = Vec::new();
    for w in WIDTHS {
        if w > width && w != WIDTHS[WIDTHS.len() - 1] {
            continue;
        }
        let h = ((f64::from(w) * aspect / 32.0).round() as u32).clamp(1, 128) * 32;
        if !out.contains(&(w, h)) {
            out.push((w, h));
        }
    }
    out
}

/// A deterministic textured test frame (the detector's cost does not depend on the content).
pub fn test_frame(width: u32, height: u32) -> RgbImage {
    let mut state = 0x2545f4914f6cdd1du64;
    RgbImage::from_fn(width.max(1), height.max(1), |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let base = ((x / 8 + y / 8) % 2) as u8 * 96 + 64;
        let n = (state >> 56) as u8 / 8;
        image::Rgb([base.wrapping_add(n), base, base.wrapping_sub(n)])
    })
}

/// Median milliseconds of a full-frame detection by `detector` on `frame`.
pub fn time_detector(detector: &Detector, frame: &RgbImage, runs: usize) -> anyhow::Result<f64> {
    Ok(time_within(detector, frame, runs, f64::INFINITY)?.0)
}

/// As [`time_detector`], stopping once more than half of `runs` are over `budget_ms`: the
/// median (of the runs made) and how many were made.
pub fn time_within(detector: &Detector, frame: &RgbImage, runs: usize, budget_ms: f64) -> anyhow::Result<(f64, usize)> {
    detector.detect(frame)?;
    let runs = runs.max(1);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(detector.detect(frame)?);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if decided_over(&times, runs, budget_ms) {
            break;
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times.len()))
}

/// More than half of `runs` over `budget_ms` among `times`: the median of all runs would be over.
fn decided_over(times: &[f64], runs: usize, budget_ms: f64) -> bool {
    times.iter().filter(|&&t| t > budget_ms).count() > runs / 2
}

/// `ms` (measured at `from`) scaled to the pixels of `to`.
fn scaled(ms: f64, from: (u32, u32), to: (u32, u32)) -> f64 {
    let px = |(w, h): (u32, u32)| f64::from(w) * f64::from(h);
    ms * px(to) / px(from).max(1.0)
}

/// Loads the detector at each candidate input for a `frame` (width, height), largest first,
/// and returns the first whose full-frame detection takes at most `budget_ms` (else the
/// smallest), loaded, with the timings.
pub fn choose(
    path: &Path,
    options: DetectorOptions,
    tuning: Tuning,
    frame: (u32, u32),
    budget_ms: f64,
) -> anyhow::Result<(Detector, AutoInput)> {
    let test = test_frame(frame.0, frame.1);
    let sizes = candidates(frame.0, frame.1);
    let mut timings = Vec::new();
    let mut last = None;
    let mut timed: Option<SizeTiming> = None;
    for (i, &input) in sizes.iter().enumerate() {
        let smallest = i + 1 == sizes.len();
        if let Some(t) = timed.filter(|_| !smallest) {
            let estimate = scaled(t.ms, t.input, input);
            if estimate > SKIP_OVER * budget_ms {
                timings.push(SizeTiming { input, ms: estimate, runs: 0 });
                continue;
            }
        }
        let detector = Detector::load(path, DetectorOptions { input, ..options }, tuning)?;
        let (ms, runs) = time_within(&detector, &test, RUNS, budget_ms)?;
        let t = SizeTiming { input, ms, runs };
        timings.push(t);
        if ms <= budget_ms {
            return Ok((detector, AutoInput { input, budget_ms, timings, fits: true }));
        }
        timed = Some(t);
        last = Some((detector, input));
    }
    let (detector, input) = last.ok_or_else(|| anyhow::anyhow!("no detector input for a {}x{} frame", frame.0, frame.1))?;
    Ok((detector, AutoInput { input, budget_ms, timings, fits: false }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_keep_the_aspect_in_multiples_of_32() {
        assert_eq!(candidates(640, 480), vec![(640, 480), (512, 384), (384, 288), (256, 192)]);
        assert_eq!(candidates(1280, 960), vec![(640, 480), (512, 384), (384, 288), (256, 192)]);
        assert_eq!(candidates(1920, 1080), vec![(640, 352), (512, 288), (384, 224), (256, 160)]);
        assert_eq!(candidates(320, 240), vec![(256, 192)]);
        assert_eq!(candidates(100, 100), vec![(256, 256)]);
        for (w, h) in candidates(1024, 768).into_iter().chain(candidates(480, 640)) {
            assert!(w % 32 == 0 && h % 32 == 0 && h >= 32, "{w}x{h}");
        }
    }

    #[test]
    fn timing_stops_once_the_median_is_over_the_budget() {
        // 5 runs: the third over the budget decides it; under it, every run is made.
        assert!(!decided_over(&[200.0, 200.0], 5, 150.0));
        assert!(decided_over(&[200.0, 200.0, 200.0], 5, 150.0));
        assert!(!decided_over(&[100.0, 200.0, 100.0, 200.0], 5, 150.0));
        assert!(!decided_over(&[100.0; 5], 5, 150.0));
        assert!(decided_over(&[200.0], 1, 150.0));
        // No budget (time_detector): never stops early.
        assert!(!decided_over(&[1e9; 5], 5, f64::INFINITY));
    }

    #[test]
    fn estimates_scale_by_pixels() {
        assert_eq!(scaled(400.0, (640, 480), (320, 240)), 100.0);
        assert_eq!(scaled(100.0, (256, 192), (256, 192)), 100.0);
        let t = SizeTiming { input: (512, 384), ms: 1234.4, runs: 0 };
        assert_eq!(t.to_string(), "512x384 ~1234 ms (estimated, not timed)");
        assert_eq!(SizeTiming { runs: 3, ..t }.to_string(), "512x384 1234.4 ms");
    }

    #[test]
    fn test_frame_is_deterministic() {
        assert_eq!(test_frame(64, 48), test_frame(64, 48));
        assert_eq!(test_frame(64, 48).dimensions(), (64, 48));
    }
}
