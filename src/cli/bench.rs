//! `rolemirror bench`: per-stage latency of the pipeline on one photo, and of the booth's frames.
//!
//! Stages: decode (file bytes to RGB), detect (letterbox, YuNet, decoding, NMS), align
//! (similarity transform and warp), embed (MobileFaceNet), match (cosine top-5 against a
//! gallery; a synthetic one of `--gallery-size` unit vectors unless `--gallery DIR`), each split
//! further where it runs a network (`stages_ms`: prepare, network, decode / finish). Then the
//! booth's frame kinds on the photo as a 640x480 camera frame (`booth.frames_ms`: full-frame
//! detection, tracked, tracked + embedding, and the naive full-frame detect+align+embed), the
//! per-node profile of both networks (top operator kinds), resident memory, and on a CPU with
//! fp16 arithmetic the same in f16. Each figure is the median over `--runs` runs after two
//! warm-up runs, in milliseconds, on the wall clock — or on the thread's CPU clock with
//! `ROLEMIRROR_BENCH_CLOCK=cpu` (for side-by-side ratios on a shared machine; see
//! `models/ort_compare.py`). `ROLEMIRROR_FUSED_OPS=0` measures tract's own lowerings.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use super::{Common, ExitCode};
use crate::gallery::matcher::Candidate;
use crate::gallery::Gallery;
use crate::vision::profile::Stopwatch;
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

/// A camera frame from a photo: scaled to fit `width` x `height` (never enlarged).
pub fn camera_frame(img: &vision::RgbImage, width: u32, height: u32) -> vision::RgbImage {
    let s = (f64::from(width) / f64::from(img.width().max(1))).min(f64::from(height) / f64::from(img.height().max(1))).min(1.0);
    let w = ((f64::from(img.width()) * s).round() as u32).max(1);
    let h = ((f64::from(img.height()) * s).round() as u32).max(1);
    vision::image::resize(img, w, h)
}

/// The booth's camera frame size (the config's default `camera.width` x `camera.height`).
pub const BOOTH_FRAME: (u32, u32) = (640, 480);

/// Milliseconds of a duration.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Rounds to microseconds, for JSON.
fn r3(v: f64) -> serde_json::Value {
    json!((v * 1000.0).round() / 1000.0)
}

/// Named samples, in the order first pushed.
#[derive(Default)]
struct Samples(Vec<(&'static str, Vec<f64>)>);

impl Samples {
    fn push(&mut self, name: &'static str, v: f64) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, s)) => s.push(v),
            None => self.0.push((name, vec![v])),
        }
    }
    fn median(&self, name: &str) -> f64 {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, s)| median(s)).unwrap_or(f64::NAN)
    }
    fn json(&self, names: &[(&str, &'static str)]) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> =
            names.iter().map(|(key, name)| (key.to_string(), r3(self.median(name)))).collect();
        serde_json::Value::Object(map)
    }
}

/// One pass over the booth's frame kinds on `frame`; pushes each kind's time.
fn booth_frames(
    vision: &vision::Vision,
    detector: &vision::detect::Detector,
    frame: &vision::RgbImage,
    s: &mut Samples,
    prefix: &str,
) -> anyhow::Result<()> {
    let key = |kind: &'static str| -> &'static str {
        match (prefix, kind) {
            ("", k) => k,
            (_, "full") => "f16.full",
            (_, "tracked") => "f16.tracked",
            (_, "embedding") => "f16.embedding",
            _ => "f16.full_embedding",
        }
    };
    // Full-frame detection frame: the whole frame at the full-frame detector's input.
    let t = Stopwatch::start();
    let faces = detector.detect(frame)?;
    let face = faces.first().context("no face in the booth frame")?.clone();
    let crop = align::align(frame, &face.landmarks).context("degenerate landmarks")?;
    s.push(key("full"), ms(t.elapsed()));
    // The naive pipeline: full-frame detection, align and embed on every frame.
    let t = Stopwatch::start();
    let faces = detector.detect(frame)?;
    let first = faces.first().context("no face in the booth frame")?;
    let crop2 = align::align(frame, &first.landmarks).context("degenerate landmarks")?;
    std::hint::black_box(vision.embedder.describe(&crop2)?);
    s.push(key("full_embedding"), ms(t.elapsed()));
    // Tracked frame: the region around the face at the tracker's input, aligned (judged).
    let t = Stopwatch::start();
    let near = vision.faces_near(frame, &face)?;
    let tracked = near.first().context("the tracker lost the face")?;
    std::hint::black_box(align::align(frame, &tracked.landmarks));
    s.push(key("tracked"), ms(t.elapsed()));
    // Embedding frame: a tracked frame whose face is embedded.
    let t = Stopwatch::start();
    let near = vision.faces_near(frame, &face)?;
    let tracked = near.first().context("the tracker lost the face")?;
    let crop3 = align::align(frame, &tracked.landmarks).context("degenerate landmarks")?;
    std::hint::black_box(vision.embedder.describe(&crop3)?);
    s.push(key("embedding"), ms(t.elapsed()));
    std::hint::black_box(crop);
    Ok(())
}

/// Frames of the steady-state visit (5 s at the camera's 30 fps).
pub const VISIT_FRAMES: usize = 150;

/// What one steady-state visit cost (see [`visit`]).
struct Visit {
    /// Mean ms per frame over the whole visit, over the frames until the match was decided, and
    /// over the frames after it.
    mean_ms: f64,
    matching_ms: f64,
    after_ms: f64,
    /// Frames by kind: full-frame detections, tracked, embedded; the frame the match came on.
    full: usize,
    tracked: usize,
    embedded: usize,
    matched_at: Option<usize>,
}

/// The booth's vision worker over a visit: [`VISIT_FRAMES`] camera frames of the visitor
/// standing in front of the booth (the photo as a 640x480 frame, swaying a few pixels as a person
/// does), each through the daemon's [`FrameAnalyser`] (full-frame detection on the first frame
/// and every 5th, the tracker between, an embedding while the booth still wants one) and the
/// booth's state machine at 30 fps on a fake clock, as the daemon runs them; the analyser's time
/// per frame. Matching (the event loop's work) is not timed.
fn visit(
    vision: &vision::Vision,
    frames: &[std::sync::Arc<vision::RgbImage>],
    candidates: &[Candidate],
    hubs: &crate::gallery::matcher::Hubs,
    matching: crate::gallery::matcher::Settings,
) -> anyhow::Result<Visit> {
    use crate::booth::machine::{BoothEvent, Machine};
    use crate::booth::{FrameAnalyser, FrameKind};
    let settings = crate::config::BoothSettings::default();
    let mut machine = Machine::new(settings.clone(), 0.0);
    let mut analyser = FrameAnalyser::default();
    let (mut times, mut full, mut tracked, mut embedded, mut matched_at) = (Vec::new(), 0, 0, 0, None);
    for i in 0..VISIT_FRAMES {
        let now = 1.0 + i as f64 / 30.0;
        analyser.set_embedding(machine.phase().wants_embeddings());
        let t = Stopwatch::start();
        let obs = analyser.analyse(vision, &frames[i % frames.len()], None, &settings, false)?;
        times.push(ms(t.elapsed()));
        match analyser.last_kind() {
            Some(FrameKind::Full) => full += 1,
            _ => tracked += 1,
        }
        embedded += usize::from(obs.face.as_ref().is_some_and(|f| f.embedding.is_some()));
        let events = machine.observe(now, obs.face.as_ref(), |code| crate::gallery::matcher::rank(code, candidates, hubs, matching, 5));
        if matched_at.is_none() && events.iter().any(|e| matches!(e, BoothEvent::Matched(_))) {
            matched_at = Some(i);
        }
    }
    let mean = |s: &[f64]| if s.is_empty() { f64::NAN } else { s.iter().sum::<f64>() / s.len() as f64 };
    let split = matched_at.map_or(times.len(), |m| m + 1);
    Ok(Visit {
        mean_ms: mean(&times),
        matching_ms: mean(&times[..split]),
        after_ms: mean(&times[split..]),
        full,
        tracked,
        embedded,
        matched_at,
    })
}

/// The visit's camera frames: `frame` on a 640x480 grey frame, moved by up to 6 px (one sway a
/// second at 30 fps).
fn visit_frames(frame: &vision::RgbImage) -> Vec<std::sync::Arc<vision::RgbImage>> {
    (0..30)
        .map(|i| {
            let a = i as f64 / 30.0 * std::f64::consts::TAU;
            let (dx, dy) = ((6.0 * a.sin()).round() as i64, (3.0 * a.cos()).round() as i64);
            let (w, h) = BOOTH_FRAME;
            let mut canvas = vision::RgbImage::from_pixel(w, h, ::image::Rgb([110, 110, 110]));
            let x = (i64::from(w) - i64::from(frame.width())) / 2 + dx;
            let y = (i64::from(h) - i64::from(frame.height())) / 2 + dy;
            ::image::imageops::overlay(&mut canvas, frame, x, y);
            std::sync::Arc::new(canvas)
        })
        .collect()
}

/// The top `n` operator kinds of a profile, as JSON.
fn profile_json(nodes: &[vision::profile::NodeTime], n: usize) -> serde_json::Value {
    let total: f64 = nodes.iter().map(|x| x.ms).sum();
    let ops: Vec<serde_json::Value> = vision::profile::by_op(nodes)
        .into_iter()
        .take(n)
        .map(|o| json!({"op": o.op, "nodes": o.nodes, "ms": r3(o.ms), "share": (o.share * 1000.0).round() / 1000.0}))
        .collect();
    json!({"total_ms": r3(total), "ops": ops})
}

/// Runs the benchmark and prints JSON or a table.
///
/// Per run, in this order (so that drift on a shared machine spreads over all of them): the
/// photo through the command's pipeline (decode, detect, align, embed, match, as before), then
/// the booth's frame kinds on the photo as a 640x480 camera frame: a full-frame detection frame
/// (detect, choose, align), the naive full-frame detect+align+embed, a tracked frame (the
/// tracker on the region around the face, align) and an embedding frame (tracked + embed). The
/// booth's full-frame detector input is `--detector-input` if given, else what
/// `detector_input = "auto"` picks on this CPU. Then per-node profiles of both networks, peak
/// RSS, and — on a CPU with fp16 arithmetic — the networks and frames again in f16.
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
    let mut vision = common.vision()?;
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
    let photo = vision::image::decode(&bytes, vision::image::DEFAULT_MAX_PIXELS).with_context(|| image.display().to_string())?;
    let frame = camera_frame(&photo, BOOTH_FRAME.0, BOOTH_FRAME.1);
    // The booth's full-frame detector: the given input, or what "auto" picks here.
    let (booth_detector, auto) = match common.detector_input {
        Some(_) => (None, None),
        None => {
            let manifest = crate::models::Manifest::builtin()?;
            let dir = crate::models::model_dir(common.models.as_deref());
            let spec = manifest.get_kind(&vision.detector_id, crate::models::Kind::Detector)?;
            let (path, _) = crate::models::verified_path(&dir, spec)?;
            let tuning = vision::onnx::Tuning { threads: common.threads.max(1), fused_ops: vision.fused_ops(), f16: false };
            let (d, a) = vision::autosize::choose(
                &path,
                *vision.detector.options(),
                tuning,
                frame.dimensions(),
                vision::autosize::FULL_FRAME_BUDGET_MS,
            )?;
            (Some(d), Some(a))
        }
    };
    // The booth's detector goes into `vision` (the visit runs the daemon's analyser on it);
    // the commands' detector, timed as the `detect` stage, is kept beside it.
    let command_input = vision.detector_input();
    let mut command_detector = booth_detector;
    if let Some(d) = command_detector.as_mut() {
        std::mem::swap(&mut vision.detector, d);
    }
    let vision = vision;
    let booth_detector = &vision.detector;
    let command_detector = command_detector.as_ref().unwrap_or(&vision.detector);
    let visit_frames = visit_frames(&frame);
    let mut last_visit = None;
    let names = ["decode", "detect", "align", "embed", "match"];
    let mut s = Samples::default();
    let runs = opts.runs.max(1);
    for run in 0..runs + 2 {
        let mut lap = Samples::default();
        let t = Stopwatch::start();
        let img = vision::image::decode(&bytes, vision::image::DEFAULT_MAX_PIXELS).with_context(|| image.display().to_string())?;
        lap.push("decode", ms(t.elapsed()));
        let t = Stopwatch::start();
        let (faces, dt) = command_detector.detect_timed(&img, vision::Region::whole(img.width(), img.height()))?;
        lap.push("detect", ms(t.elapsed()));
        let face = faces.first().with_context(|| format!("no face in {}", image.display()))?;
        let t = Stopwatch::start();
        let crop = align::align(&img, &face.landmarks).context("degenerate landmarks")?;
        lap.push("align", ms(t.elapsed()));
        let t = Stopwatch::start();
        let (embedding, et) = vision.embedder.describe_timed(&crop)?;
        lap.push("embed", ms(t.elapsed()));
        let t = Stopwatch::start();
        let best = crate::gallery::matcher::rank(&embedding, &candidates, &hubs, settings, 5);
        lap.push("match", ms(t.elapsed()));
        std::hint::black_box(best);
        for (name, v) in [
            ("detect.prepare", dt.prepare),
            ("detect.network", dt.network),
            ("detect.decode", dt.decode),
            ("embed.prepare", et.prepare),
            ("embed.network", et.network),
            ("embed.finish", et.finish),
        ] {
            lap.push(name, ms(v));
        }
        booth_frames(&vision, booth_detector, &frame, &mut lap, "")?;
        let v = visit(&vision, &visit_frames, &candidates, &hubs, settings)?;
        lap.push("steady", v.mean_ms);
        lap.push("steady.matching", v.matching_ms);
        lap.push("steady.after", v.after_ms);
        last_visit = Some(v);
        if run >= 2 {
            for (name, v) in lap.0 {
                s.push(name, v[0]);
            }
        }
    }
    let medians: Vec<f64> = names.iter().map(|n| s.median(n)).collect();
    let total: f64 = medians.iter().sum();
    let crop = {
        let faces = vision.faces(&photo)?;
        align::align(&photo, &faces.first().context("no face")?.landmarks).context("degenerate landmarks")?
    };
    let profile_detect = booth_detector.profile(&frame, runs)?;
    let profile_embed = vision.embedder.profile(&crop, runs)?;
    let memory = vision::profile::memory();
    let efficiency = efficiency(booth_detector, &vision.embedder, &frame, &crop, runs)?;
    // f16 where the CPU has it (a Pi 5): the same networks and frames, side by side.
    let f16 = if vision::fp16_supported() && vision.precision() == "f32" {
        let manifest = crate::models::Manifest::builtin()?;
        let dir = crate::models::model_dir(common.models.as_deref());
        let mut o = vision::VisionOptions {
            embedder: common.embedder.clone(),
            threads: common.threads.max(1),
            precision: vision::Precision::F16,
            ..Default::default()
        };
        o.detect.input = booth_detector.options().input;
        let v16 = vision::Vision::load(&dir, &manifest, &o)?;
        let mut s16 = Samples::default();
        for run in 0..runs + 2 {
            let mut lap = Samples::default();
            let (_, et) = v16.embedder.describe_timed(&crop)?;
            lap.push("f16.embed.network", ms(et.network));
            let (_, dt) = v16.detector.detect_timed(&frame, vision::Region::whole(frame.width(), frame.height()))?;
            lap.push("f16.detect.network", ms(dt.network));
            booth_frames(&v16, &v16.detector, &frame, &mut lap, "f16")?;
            if run >= 2 {
                for (name, v) in lap.0 {
                    s16.push(name, v[0]);
                }
            }
        }
        Some(s16)
    } else {
        None
    };
    let frame_keys = [("full", "full"), ("tracked", "tracked"), ("embedding", "embedding"), ("full_embedding", "full_embedding")];
    if json_out {
        let stages: serde_json::Map<String, serde_json::Value> = names.iter().zip(&medians).map(|(n, m)| (n.to_string(), r3(*m))).collect();
        let mut line = json!({
            "image": image, "runs": runs, "threads": common.threads.max(1),
            "detector": vision.detector_id, "embedder": vision.embedder_id.id,
            "gallery_size": candidates.len(), "median_ms": stages, "total_ms": r3(total),
            "clock": vision::profile::clock_name(), "fused_ops": vision.fused_ops(),
            "precision": vision.precision(), "fp16_supported": vision::fp16_supported(),
            "detector_input": command_input,
            "stages_ms": {
                "detect": s.json(&[("prepare", "detect.prepare"), ("network", "detect.network"), ("decode", "detect.decode")]),
                "embed": s.json(&[("prepare", "embed.prepare"), ("network", "embed.network"), ("finish", "embed.finish")]),
            },
            "booth": {
                "frame": frame.dimensions(),
                "detector_input": booth_detector.options().input,
                "track_input": vision::TRACK_INPUT,
                "auto": auto,
                "frames_ms": s.json(&frame_keys),
                "steady": last_visit.as_ref().map(|v| json!({
                    "detector_input": booth_detector.options().input,
                    "frames": VISIT_FRAMES,
                    "mean_ms": r3(s.median("steady")),
                    "matching_mean_ms": r3(s.median("steady.matching")),
                    "after_match_mean_ms": r3(s.median("steady.after")),
                    "full_frames": v.full, "tracked_frames": v.tracked, "embedded_frames": v.embedded,
                    "matched_at_frame": v.matched_at,
                })),
            },
            "profile": {"detect": profile_json(&profile_detect, 8), "embed": profile_json(&profile_embed, 8)},
            "rss_mb": memory.map(|m| (m.rss_kib as f64 / 102.4).round() / 10.0),
            "peak_rss_mb": memory.map(|m| (m.peak_rss_kib as f64 / 102.4).round() / 10.0),
        });
        line["efficiency"] = efficiency.json();
        if let Some(s16) = &f16 {
            line["f16"] = json!({
                "median_ms": {"detect_network": r3(s16.median("f16.detect.network")), "embed_network": r3(s16.median("f16.embed.network"))},
                "frames_ms": s16.json(&[("full", "f16.full"), ("tracked", "f16.tracked"), ("embedding", "f16.embedding"), ("full_embedding", "f16.full_embedding")]),
            });
        }
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "{} runs on {}, {} thread(s), {}{}, embedder {}, gallery of {}, {} clock",
            runs,
            image.display(),
            common.threads.max(1),
            vision.precision(),
            if vision.fused_ops() { "" } else { ", tract's own lowerings (ROLEMIRROR_FUSED_OPS=0)" },
            vision.embedder_id.id,
            candidates.len(),
            vision::profile::clock_name()
        )?;
        for (n, m) in names.iter().zip(&medians) {
            writeln!(out, "  {n:<8} {m:>9.3} ms")?;
            let subs: &[&str] = match *n {
                "detect" => &["detect.prepare", "detect.network", "detect.decode"],
                "embed" => &["embed.prepare", "embed.network", "embed.finish"],
                _ => &[],
            };
            for sub in subs {
                writeln!(out, "    {:<14} {:>9.3} ms", sub, s.median(sub))?;
            }
        }
        writeln!(out, "  {:<8} {total:>9.3} ms", "total")?;
        let (bw, bh) = booth_detector.options().input;
        let (tw, th) = vision::TRACK_INPUT;
        let how = if auto.is_some() { "auto" } else { "--detector-input" };
        writeln!(
            out,
            "booth frames ({}x{} camera frame, full-frame detector {bw}x{bh} ({how}), tracker {tw}x{th}):",
            frame.width(),
            frame.height()
        )?;
        for (label, key) in [
            ("full-frame detection", "full"),
            ("tracked", "tracked"),
            ("tracked + embedding", "embedding"),
            ("full detect+align+embed", "full_embedding"),
        ] {
            writeln!(out, "  {label:<24} {:>9.3} ms", s.median(key))?;
            if let Some(s16) = &f16 {
                let k16 = format!("f16.{key}");
                writeln!(out, "  {:<24} {:>9.3} ms", format!("  in f16"), s16.median(&k16))?;
            }
        }
        if let Some(v) = &last_visit {
            let (dw, dh) = vision.detector_input();
            writeln!(
                out,
                "booth steady state, a {VISIT_FRAMES}-frame visit (full-frame detector {dw}x{dh}): {:.3} ms per frame \
                 (until the match {:.3}, after it {:.3}); {} full, {} tracked, {} embedded; matched at frame {}",
                s.median("steady"),
                s.median("steady.matching"),
                s.median("steady.after"),
                v.full,
                v.tracked,
                v.embedded,
                v.matched_at.map_or("never".to_string(), |m| m.to_string()),
            )?;
        }
        if let Some(a) = &auto {
            let t: Vec<String> = a.timings.iter().map(|t| format!("{}x{} {:.1} ms", t.input.0, t.input.1, t.ms)).collect();
            writeln!(out, "auto detector input (budget {} ms): {}x{} — {}", a.budget_ms, a.input.0, a.input.1, t.join(", "))?;
        }
        for (what, nodes) in [("detector network", &profile_detect), ("embedder network", &profile_embed)] {
            let total: f64 = nodes.iter().map(|x| x.ms).sum();
            writeln!(out, "profile, {what}: {total:.3} ms")?;
            for o in vision::profile::by_op(nodes).into_iter().take(8) {
                writeln!(out, "  {:<22} {:>3} nodes {:>9.3} ms {:>5.1} %", o.op, o.nodes, o.ms, o.share * 100.0)?;
            }
        }
        efficiency.print(out)?;
        if let Some(m) = memory {
            writeln!(out, "memory: rss {:.1} MB, peak {:.1} MB", m.rss_kib as f64 / 1024.0, m.peak_rss_kib as f64 / 1024.0)?;
        }
    }
    Ok(ExitCode::Ok)
}

/// The networks' arithmetic rate as a share of what one core can do (see [`efficiency`]).
struct Efficiency {
    peak: vision::peak::Peak,
    networks: Vec<Network>,
}

/// One network's figures: what, its input size (detector), MACs per run, median network ms.
struct Network(&'static str, Option<(u32, u32)>, u64, f64);

impl Efficiency {
    fn share(&self, macs: u64, ms: f64) -> (f64, f64) {
        let gmac = macs as f64 / (ms / 1000.0) / 1e9;
        (gmac, gmac / self.peak.gfma)
    }

    fn json(&self) -> serde_json::Value {
        let mut v = json!({"peak_gfma": r3(self.peak.gfma), "isa": self.peak.isa});
        for Network(what, input, macs, ms) in &self.networks {
            let (gmac, share) = self.share(*macs, *ms);
            v[*what] = json!({"input": input, "macs": macs, "network_ms": r3(*ms), "gmac_s": r3(gmac), "share": r3(share)});
        }
        v
    }

    fn print(&self, out: &mut impl Write) -> anyhow::Result<()> {
        writeln!(out, "networks against one core's fp32 FMA peak ({:.1} G FMA/s, {}, measured):", self.peak.gfma, self.peak.isa)?;
        for Network(what, input, macs, ms) in &self.networks {
            let (gmac, share) = self.share(*macs, *ms);
            let input = input.map_or(String::new(), |(w, h)| format!(" {w}x{h}"));
            writeln!(
                out,
                "  {:<18} {:>7.1} M MACs {ms:>8.3} ms {gmac:>7.1} G MAC/s {:>5.1} %",
                format!("{what}{input}"),
                *macs as f64 / 1e6,
                share * 100.0
            )?;
        }
        Ok(())
    }
}

/// Each network's MACs per second (MACs counted from its graph) as a share of one core's fp32
/// FMA peak ([`vision::peak`]): the peak, the detector network at the booth's input on `frame`
/// and the embedder network on `crop`, interleaved, `runs` times after two warm-ups, medians.
fn efficiency(
    detector: &vision::detect::Detector,
    embedder: &vision::embed::Embedder,
    frame: &vision::RgbImage,
    crop: &vision::RgbImage,
    runs: usize,
) -> anyhow::Result<Efficiency> {
    let mut s = Samples::default();
    let mut isa = "";
    for run in 0..runs + 2 {
        let peak = vision::peak::measure(vision::peak::ITERATIONS);
        isa = peak.isa;
        let (_, dt) = detector.detect_timed(frame, vision::Region::whole(frame.width(), frame.height()))?;
        let (_, et) = embedder.describe_timed(crop)?;
        if run >= 2 {
            s.push("peak", peak.gfma);
            s.push("detect", ms(dt.network));
            s.push("embed", ms(et.network));
        }
    }
    Ok(Efficiency {
        peak: vision::peak::Peak { gfma: s.median("peak"), isa },
        networks: vec![
            Network("detector", Some(detector.options().input), detector.macs(), s.median("detect")),
            Network("embedder", None, embedder.macs(), s.median("embed")),
        ],
    })
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
