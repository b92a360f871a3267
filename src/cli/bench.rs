//! `rolemirror bench`: per-stage latency of the pipeline on one photo, and of the booth's frames.
//!
//! Stages: decode (file bytes to RGB), detect (letterbox, YuNet, decoding, NMS), align
//! (similarity transform and warp), embed (MobileFaceNet), match (the booth's ranking with
//! variety against a gallery: a synthetic one of `--gallery-size` role models unless
//! `--gallery DIR`), each split further where it runs a network (`stages_ms`: prepare, network,
//! decode / finish). Then the booth's frame kinds on the photo as a 640x480 camera frame
//! (`booth.frames_ms`: full-frame detection, tracked, tracked + embedding, and the naive
//! full-frame detect+align+embed), a visit through the booth itself (the daemon's analyser and
//! `Core` on a simulated clock, [`Simulated`]), the per-node profile of both networks (top
//! operator kinds), each network's MACs per second as a share of one core's fp32 FMA peak
//! ([`efficiency`]), resident memory, and on a CPU with fp16 arithmetic the frames in f16. Each
//! figure is the median over `--runs` runs after two warm-up runs, in milliseconds, on the wall
//! clock — or on the thread's CPU clock with `ROLEMIRROR_BENCH_CLOCK=cpu` (for side-by-side
//! ratios on a shared machine; see `models/ort_compare.py`). `ROLEMIRROR_FUSED_OPS=0` measures
//! tract's own lowerings. `--booth` runs only the visit.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use super::{Common, ExitCode};
use crate::camera::CameraStatus;
use crate::config::Config;
use crate::display::canvas::Canvas;
use crate::display::render::{render, Assets, Card, Photo};
use crate::display::text::Fonts;
use crate::display::Scene;
use crate::gallery::variety::Variety;
use crate::gallery::Gallery;
use crate::service::core::Action;
use crate::service::simulated::{event, Simulated};
use crate::vision::profile::Stopwatch;
use crate::vision::{self, align, Vision};

/// Photo benchmarked when no `--image` is given (made by `rolemirror models fetch`).
pub const DEFAULT_IMAGE: &str = "demo/visitors/img2.jpg";

/// Bench settings.
pub struct BenchOptions {
    pub image: Option<PathBuf>,
    pub runs: usize,
    pub gallery: Option<PathBuf>,
    pub gallery_size: usize,
    /// Only the visit through the booth.
    pub booth: bool,
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

/// A camera frame from a photo: scaled to fit `width` x `height` (never enlarged).
pub fn camera_frame(img: &vision::RgbImage, width: u32, height: u32) -> vision::RgbImage {
    let s = (f64::from(width) / f64::from(img.width().max(1))).min(f64::from(height) / f64::from(img.height().max(1))).min(1.0);
    let w = ((f64::from(img.width()) * s).round() as u32).max(1);
    let h = ((f64::from(img.height()) * s).round() as u32).max(1);
    crate::util::image::resize(img, w, h)
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
    /// Keeps this lap's samples (after the warm-up runs).
    fn keep(&mut self, lap: Samples) {
        for (name, v) in lap.0 {
            for x in v {
                self.push(name, x);
            }
        }
    }
}

/// The stages of the command pipeline on the photo's `bytes`, once: decode, detect, align,
/// embed, and the booth's match (ranking with variety, as the booth ranks).
fn stages(vision: &Vision, bytes: &[u8], gallery: &Gallery, k: usize, variety: &mut Variety, lap: &mut Samples) -> anyhow::Result<()> {
    let t = Stopwatch::start();
    let img = crate::util::image::decode(bytes, crate::util::image::DEFAULT_MAX_PIXELS)?;
    lap.push("decode", ms(t.elapsed()));
    let t = Stopwatch::start();
    let (faces, dt) = vision.detector.detect_timed(&img, vision::Region::whole(img.width(), img.height()))?;
    lap.push("detect", ms(t.elapsed()));
    let face = faces.first().context("no face in the photo")?;
    let t = Stopwatch::start();
    let crop = align::align(&img, &face.landmarks).context("degenerate landmarks")?;
    lap.push("align", ms(t.elapsed()));
    let t = Stopwatch::start();
    let (code, et) = vision.embedder.describe_timed(&crop)?;
    lap.push("embed", ms(t.elapsed()));
    let t = Stopwatch::start();
    std::hint::black_box(gallery.rank_varied(&code, k, variety));
    lap.push("match", ms(t.elapsed()));
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
    Ok(())
}

/// One pass over the booth's frame kinds on `frame` with `vision`'s full-frame detector; pushes
/// each kind's time (names prefixed `f16.` with `f16`).
fn booth_frames(vision: &Vision, frame: &vision::RgbImage, s: &mut Samples, f16: bool) -> anyhow::Result<()> {
    let key = |kind: &'static str| -> &'static str {
        match (f16, kind) {
            (false, k) => k,
            (true, "full") => "f16.full",
            (true, "tracked") => "f16.tracked",
            (true, "embedding") => "f16.embedding",
            _ => "f16.full_embedding",
        }
    };
    // Full-frame detection frame: the whole frame at the full-frame detector's input.
    let t = Stopwatch::start();
    let faces = vision.detector.detect(frame)?;
    let face = faces.first().context("no face in the booth frame")?.clone();
    std::hint::black_box(align::align(frame, &face.landmarks).context("degenerate landmarks")?);
    s.push(key("full"), ms(t.elapsed()));
    // The naive pipeline: full-frame detection, align and embed on every frame.
    let t = Stopwatch::start();
    let faces = vision.detector.detect(frame)?;
    let first = faces.first().context("no face in the booth frame")?;
    let crop = align::align(frame, &first.landmarks).context("degenerate landmarks")?;
    std::hint::black_box(vision.embedder.describe(&crop)?);
    s.push(key("full_embedding"), ms(t.elapsed()));
    // Tracked frame: the region around the face at the tracker's input, aligned (judged);
    // embedding frame: the same, and the face embedded.
    for (kind, embed) in [("tracked", false), ("embedding", true)] {
        let t = Stopwatch::start();
        let near = vision.faces_near(frame, &face)?;
        let tracked = near.first().context("the tracker lost the face")?;
        let crop = align::align(frame, &tracked.landmarks).context("degenerate landmarks")?;
        if embed {
            std::hint::black_box(vision.embedder.describe(&crop)?);
        }
        s.push(key(kind), ms(t.elapsed()));
    }
    Ok(())
}

/// Frames of the steady-state visit (5 s at the camera's 30 fps).
pub const VISIT_FRAMES: usize = 150;

/// What one visit through the booth cost (see [`visit`]).
struct Visit {
    /// Mean ms per frame over the whole visit, over the frames until the match was decided, and
    /// over the frames after it.
    mean_ms: f64,
    matching_ms: f64,
    after_ms: f64,
    /// From the first frame with the face to the frame whose step made the match, the booth's
    /// time (analysis and steps, not the camera's frame interval).
    first_face_to_match_ms: Option<f64>,
    /// The result card at the match, drawn by the booth's renderer at [`RESULT_SCREEN`]: as the
    /// display thread draws it (the likely match's portraits loaded while matching), and with
    /// no portrait kept from before (as for a role model not shown lately) from the cards'
    /// prepared portraits or decoding the gallery photo instead (as before them). None without a
    /// gallery of photos (the synthetic one) or fonts.
    result_draw_ms: Option<ResultDraw>,
    /// The display thread's time loading the likely match's portraits after drawing the live
    /// scenes while matching (off the booth's path: the analysis of the next frame goes on).
    prefetch_ms: f64,
    /// From the first frame with the face to the result on screen: the booth's time to the
    /// match plus drawing the result as the display thread does.
    first_face_to_result_ms: Option<f64>,
    /// Frames by kind: full-frame detections, tracked, embedded; the frame the match came on.
    full: usize,
    tracked: usize,
    embedded: usize,
    matched_at: Option<usize>,
}

/// A visit through the booth: [`VISIT_FRAMES`] camera frames of the visitor standing in front of
/// the booth (the photo as a 640x480 frame, swaying a few pixels as a person does) at 30 fps on a
/// simulated clock, each analysed by the daemon's analyser and stepped through the daemon's
/// `Core` ([`Simulated`]: tracking, embedding while the booth still wants one, the match with
/// variety, the scenes) — with `config`'s booth settings; the time of each frame's analysis and
/// step.
fn visit(
    vision: &Vision,
    gallery: &Arc<Gallery>,
    config: &Config,
    frames: &[Arc<vision::RgbImage>],
    mut screen: Option<&mut ResultScreen>,
) -> anyhow::Result<Visit> {
    use crate::booth::FrameKind;
    let (mut booth, _) = Simulated::new(vision, gallery.clone(), config);
    booth.camera(1.0, &CameraStatus::Connected("bench".into()));
    let (mut times, mut full, mut tracked, mut embedded, mut matched_at) = (Vec::new(), 0, 0, 0, None);
    let (mut first_face, mut result_draw_ms, mut prefetch_ms) = (None, None, 0.0);
    if let Some(screen) = screen.as_deref() {
        // A role model not shown lately: nothing kept from an earlier visit.
        screen.assets.forget_portraits();
    }
    for i in 0..VISIT_FRAMES {
        let t = Stopwatch::start();
        let (obs, actions) = booth.frame(1.0 / 30.0, &frames[i % frames.len()], None)?;
        times.push(ms(t.elapsed()));
        // The display thread, after drawing each live scene.
        if let Some(screen) = screen.as_deref() {
            for a in &actions {
                if let Action::Show(scene @ Scene::Live { .. }) = a {
                    prefetch_ms += screen.prefetch(scene);
                }
            }
        }
        match booth.analyser().last_kind() {
            Some(FrameKind::Full) => full += 1,
            _ => tracked += 1,
        }
        if first_face.is_none() && obs.face.is_some() {
            first_face = Some(i);
        }
        embedded += usize::from(obs.face.as_ref().is_some_and(|f| f.embedding.is_some()));
        if matched_at.is_none() && event(&actions, "match").is_some() {
            matched_at = Some(i);
            let result = actions.iter().find_map(|a| match a {
                Action::Show(scene) if scene.name() == "result" => Some(scene),
                _ => None,
            });
            if let (Some(screen), Some(scene)) = (screen.as_deref_mut(), result) {
                result_draw_ms = Some(screen.draw(scene));
            }
        }
    }
    let mean = |s: &[f64]| if s.is_empty() { f64::NAN } else { s.iter().sum::<f64>() / s.len() as f64 };
    let split = matched_at.map_or(times.len(), |m| m + 1);
    let to_match = |from: usize| matched_at.filter(|&m| m >= from).map(|m| times[from..=m].iter().sum::<f64>());
    Ok(Visit {
        mean_ms: mean(&times),
        matching_ms: mean(&times[..split]),
        after_ms: mean(&times[split..]),
        first_face_to_match_ms: to_match(0),
        first_face_to_result_ms: first_face.and_then(to_match).zip(result_draw_ms).map(|(m, draw)| m + draw.shown),
        result_draw_ms,
        prefetch_ms,
        full,
        tracked,
        embedded,
        matched_at,
    })
}

/// The screen the result card is timed on: 1920x1080, where its photo box is the largest.
pub const RESULT_SCREEN: (u32, u32) = (1920, 1080);

/// The booth's renderer with the gallery's cards, twice: as built (prepared portraits) and with
/// the photos only (each portrait decoded from its gallery photo when shown, as before them).
struct ResultScreen {
    canvas: Canvas,
    assets: Assets,
    photo_cards: Vec<Card>,
}

impl ResultScreen {
    /// None for a gallery without photos (the synthetic one) or without the config's fonts.
    fn new(gallery: &Gallery, config: &Config) -> Option<ResultScreen> {
        if !gallery.index.photos.iter().any(|p| p.portrait.is_some()) {
            return None;
        }
        let fonts = Fonts::load(&config.display.font, &config.display.font_bold).ok()?;
        let photo_cards = gallery
            .role_models
            .iter()
            .map(|rm| {
                let mut card = Card::build(gallery, rm);
                if let Photo::File { prepared, .. } = &mut card.photo {
                    *prepared = None;
                }
                card
            })
            .collect();
        let assets = Assets::new(fonts, config.texts.clone(), Some(gallery));
        Some(ResultScreen { canvas: Canvas::new(RESULT_SCREEN.0, RESULT_SCREEN.1), assets, photo_cards })
    }

    /// Milliseconds the display thread spends after drawing `scene` loading the portraits of the
    /// likely match ([`Assets::prefetch`]; a lookup once they are kept).
    fn prefetch(&self, scene: &Scene) -> f64 {
        let t = Stopwatch::start();
        self.assets.prefetch(scene);
        ms(t.elapsed())
    }

    /// Milliseconds to draw `scene`: as the display thread would, with the portraits loaded while
    /// matching ([`ResultScreen::prefetch`]); then with nothing kept from before, with the
    /// prepared portraits and decoding the photos; and again with the portraits kept (the
    /// drawing alone).
    fn draw(&mut self, scene: &Scene) -> ResultDraw {
        let t = Stopwatch::start();
        render(scene, &self.assets, &mut self.canvas);
        let shown = ms(t.elapsed());
        let once = |assets: &Assets, canvas: &mut Canvas| {
            assets.forget_portraits();
            let t = Stopwatch::start();
            render(scene, assets, canvas);
            ms(t.elapsed())
        };
        let prepared = once(&self.assets, &mut self.canvas);
        std::mem::swap(&mut self.assets.cards, &mut self.photo_cards);
        let photos = once(&self.assets, &mut self.canvas);
        std::mem::swap(&mut self.assets.cards, &mut self.photo_cards);
        // The same scene once more, its portraits kept: the drawing alone.
        render(scene, &self.assets, &mut self.canvas);
        let t = Stopwatch::start();
        render(scene, &self.assets, &mut self.canvas);
        ResultDraw { shown, prepared, photos, kept: ms(t.elapsed()) }
    }
}

/// The result card's drawing times, ms (see [`ResultScreen::draw`]).
#[derive(Debug, Clone, Copy)]
struct ResultDraw {
    /// With the portraits loaded while matching, as the booth shows it.
    shown: f64,
    /// Nothing kept from before: the prepared portraits loaded, or the photos decoded.
    prepared: f64,
    photos: f64,
    /// Drawn again with its portraits kept: the drawing alone.
    kept: f64,
}

/// The visit's camera frames: `frame` on a 640x480 grey frame, moved by up to 6 px (one sway a
/// second at 30 fps).
fn visit_frames(frame: &vision::RgbImage) -> Vec<Arc<vision::RgbImage>> {
    (0..30)
        .map(|i| {
            let a = i as f64 / 30.0 * std::f64::consts::TAU;
            let (dx, dy) = ((6.0 * a.sin()).round() as i64, (3.0 * a.cos()).round() as i64);
            let (w, h) = BOOTH_FRAME;
            let mut canvas = vision::RgbImage::from_pixel(w, h, ::image::Rgb([110, 110, 110]));
            let x = (i64::from(w) - i64::from(frame.width())) / 2 + dx;
            let y = (i64::from(h) - i64::from(frame.height())) / 2 + dy;
            ::image::imageops::overlay(&mut canvas, frame, x, y);
            Arc::new(canvas)
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

/// The gallery matched against: `--gallery DIR`, else a synthetic one of `--gallery-size` role
/// models with the embedder's vector lengths.
fn bench_gallery(common: &Common, vision: &Vision, opts: &BenchOptions) -> anyhow::Result<Gallery> {
    let gallery = match &opts.gallery {
        Some(dir) => Gallery::open(dir, &vision.embedder_id)?,
        None => {
            // The appearance length, from one run on a grey crop.
            let grey = vision::RgbImage::from_pixel(align::CROP, align::CROP, ::image::Rgb([128, 128, 128]));
            let appearance = vision.embedder.describe(&grey).ok().and_then(|c| c.appearance).map(|a| a.len());
            Gallery::random(opts.gallery_size, vision.embedder_id.dim, appearance)
        }
    };
    Ok(gallery.with_settings(common.matching))
}

/// The booth's vision when it differs from the commands': without `--detector-input`, the
/// booth's full-frame detector input is what `detector_input = "auto"` picks on this CPU for
/// `frame`-sized camera frames (the commands keep their 640x640).
fn booth_vision(common: &Common, frame: (u32, u32)) -> anyhow::Result<Option<Vision>> {
    if common.detector_input.is_some() {
        return Ok(None);
    }
    let mut opts = common.vision_options();
    opts.auto_input = Some(frame);
    Ok(Some(Vision::open(&opts)?))
}

/// Everything measured, for printing.
struct Measured {
    runs: usize,
    samples: Samples,
    visit: Option<Visit>,
    profiles: Option<(Vec<vision::profile::NodeTime>, Vec<vision::profile::NodeTime>)>,
    f16: Option<Samples>,
    efficiency: Option<Efficiency>,
}

/// Runs the benchmark and prints JSON or a table.
///
/// Per run, in this order (so that drift on a shared machine spreads over all of them): the
/// photo through the command's pipeline (decode, detect, align, embed, match), then the booth's
/// frame kinds on the photo as a 640x480 camera frame: a full-frame detection frame (detect,
/// choose, align), the naive full-frame detect+align+embed, a tracked frame (the tracker on the
/// region around the face, align) and an embedding frame (tracked + embed), then a visit through
/// the booth ([`visit`]). The booth's full-frame detector input is `--detector-input` if given,
/// else what `detector_input = "auto"` picks on this CPU. Then per-node profiles of both
/// networks, peak RSS, and — on a CPU with fp16 arithmetic — the frames again in f16.
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
    let gallery = Arc::new(bench_gallery(common, &vision, opts)?);
    let photo = crate::util::image::decode(&bytes, crate::util::image::DEFAULT_MAX_PIXELS).with_context(|| image.display().to_string())?;
    let frame = camera_frame(&photo, BOOTH_FRAME.0, BOOTH_FRAME.1);
    let own_booth_vision = booth_vision(common, frame.dimensions())?;
    let booth = own_booth_vision.as_ref().unwrap_or(&vision);
    // The booth's settings as shipped (variety on, two further look-alikes).
    let config = Config::default();
    let k = 1 + config.gallery.also_like;
    let mut variety = Variety::for_gallery(&gallery, config.gallery.variety);
    let visit_frames = visit_frames(&frame);
    let mut screen = ResultScreen::new(&gallery, &config);
    let runs = opts.runs.max(1);
    let mut m = Measured { runs, samples: Samples::default(), visit: None, profiles: None, f16: None, efficiency: None };
    for run in 0..runs + 2 {
        let mut lap = Samples::default();
        if !opts.booth {
            stages(&vision, &bytes, &gallery, k, &mut variety, &mut lap).with_context(|| image.display().to_string())?;
            booth_frames(booth, &frame, &mut lap, false)?;
        }
        let v = visit(booth, &gallery, &config, &visit_frames, screen.as_mut())?;
        lap.push("steady", v.mean_ms);
        if let Some(d) = v.result_draw_ms {
            lap.push("result_draw.shown", d.shown);
            lap.push("result_draw", d.prepared);
            lap.push("result_draw.photo", d.photos);
            lap.push("result_draw.kept", d.kept);
            lap.push("result_prefetch", v.prefetch_ms);
        }
        if let Some(f) = v.first_face_to_result_ms {
            lap.push("first_face_to_result", f);
        }
        lap.push("steady.matching", v.matching_ms);
        lap.push("steady.after", v.after_ms);
        if let Some(f) = v.first_face_to_match_ms {
            lap.push("first_face_to_match", f);
        }
        m.visit = Some(v);
        if run >= 2 {
            m.samples.keep(lap);
        }
    }
    if !opts.booth {
        let crop = {
            let faces = vision.faces(&photo)?;
            align::align(&photo, &faces.first().context("no face")?.landmarks).context("degenerate landmarks")?
        };
        m.profiles = Some((booth.detector.profile(&frame, runs)?, vision.embedder.profile(&crop, runs)?));
        m.efficiency = Some(efficiency(&booth.detector, &vision.embedder, &frame, &crop, runs)?);
        m.f16 = f16_frames(common, booth, &frame, runs)?;
    }
    let report = Report { common, vision: &vision, booth, gallery: &gallery, image: &image, frame: &frame, m: &m };
    if json_out {
        print_json(&report, out)
    } else {
        print_table(&report, out)
    }
}

/// On a CPU with fp16 arithmetic (a Pi 5), the booth's frames again in f16.
fn f16_frames(common: &Common, booth: &Vision, frame: &vision::RgbImage, runs: usize) -> anyhow::Result<Option<Samples>> {
    if !vision::fp16_supported() || booth.precision() != "f32" {
        return Ok(None);
    }
    let mut o = common.vision_options();
    o.precision = vision::Precision::F16;
    o.detect.input = booth.detector.options().input;
    let v16 = Vision::open(&o)?;
    let mut s16 = Samples::default();
    for run in 0..runs + 2 {
        let mut lap = Samples::default();
        booth_frames(&v16, frame, &mut lap, true)?;
        if run >= 2 {
            s16.keep(lap);
        }
    }
    Ok(Some(s16))
}

/// What a bench run measured, and on what: the printers' input.
#[derive(Clone, Copy)]
struct Report<'a> {
    common: &'a Common,
    vision: &'a Vision,
    booth: &'a Vision,
    gallery: &'a Gallery,
    image: &'a std::path::Path,
    frame: &'a vision::RgbImage,
    m: &'a Measured,
}

const STAGES: [&str; 5] = ["decode", "detect", "align", "embed", "match"];
const FRAME_KEYS: [(&str, &str); 4] =
    [("full", "full"), ("tracked", "tracked"), ("embedding", "embedding"), ("full_embedding", "full_embedding")];

fn print_json(r: &Report, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let Report { common, vision, booth, gallery, image, frame, m } = *r;
    let s = &m.samples;
    let stages: serde_json::Map<String, serde_json::Value> = STAGES.iter().map(|n| (n.to_string(), r3(s.median(n)))).collect();
    let total: f64 = STAGES.iter().map(|n| s.median(n)).sum();
    let memory = vision::profile::memory();
    let mut line = json!({
        "image": image, "runs": m.runs, "threads": common.threads.max(1),
        "detector": vision.detector_id, "embedder": vision.embedder_id.id,
        "gallery_size": gallery.role_models.len(), "median_ms": stages, "total_ms": r3(total),
        "clock": vision::profile::clock_name(), "fused_ops": vision.fused_ops(),
        "precision": vision.precision(), "fp16_supported": vision::fp16_supported(),
        "detector_input": vision.detector_input(),
        "stages_ms": {
            "detect": s.json(&[("prepare", "detect.prepare"), ("network", "detect.network"), ("decode", "detect.decode")]),
            "embed": s.json(&[("prepare", "embed.prepare"), ("network", "embed.network"), ("finish", "embed.finish")]),
        },
        "booth": {
            "frame": frame.dimensions(),
            "detector_input": booth.detector.options().input,
            "track_input": vision::TRACK_INPUT,
            "auto": booth.auto_input,
            "frames_ms": s.json(&FRAME_KEYS),
            "steady": m.visit.as_ref().map(|v| json!({
                "detector_input": booth.detector.options().input,
                "frames": VISIT_FRAMES,
                "mean_ms": r3(s.median("steady")),
                "matching_mean_ms": r3(s.median("steady.matching")),
                "after_match_mean_ms": r3(s.median("steady.after")),
                "first_face_to_match_ms": r3(s.median("first_face_to_match")),
                "result_screen": RESULT_SCREEN,
                "result_shown_ms": v.result_draw_ms.map(|_| r3(s.median("result_draw.shown"))),
                "result_prefetch_ms": v.result_draw_ms.map(|_| r3(s.median("result_prefetch"))),
                "result_draw_ms": v.result_draw_ms.map(|_| r3(s.median("result_draw"))),
                "result_draw_decoding_photo_ms": v.result_draw_ms.map(|_| r3(s.median("result_draw.photo"))),
                "result_redraw_ms": v.result_draw_ms.map(|_| r3(s.median("result_draw.kept"))),
                "first_face_to_result_ms": v.first_face_to_result_ms.map(|_| r3(s.median("first_face_to_result"))),
                "full_frames": v.full, "tracked_frames": v.tracked, "embedded_frames": v.embedded,
                "matched_at_frame": v.matched_at,
            })),
        },
        "rss_mb": memory.map(|m| (m.rss_kib as f64 / 102.4).round() / 10.0),
        "peak_rss_mb": memory.map(|m| (m.peak_rss_kib as f64 / 102.4).round() / 10.0),
    });
    if let Some((detect, embed)) = &m.profiles {
        line["profile"] = json!({"detect": profile_json(detect, 8), "embed": profile_json(embed, 8)});
    }
    if let Some(e) = &m.efficiency {
        line["efficiency"] = e.json();
    }
    if let Some(s16) = &m.f16 {
        line["f16"] = json!({
            "frames_ms": s16.json(&[("full", "f16.full"), ("tracked", "f16.tracked"), ("embedding", "f16.embedding"), ("full_embedding", "f16.full_embedding")]),
        });
    }
    writeln!(out, "{line}")?;
    Ok(ExitCode::Ok)
}

fn print_table(r: &Report, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let Report { common, vision, booth, gallery, image, frame, m } = *r;
    let s = &m.samples;
    writeln!(
        out,
        "{} runs on {}, {} thread(s), {}{}, embedder {}, gallery of {}, {} clock",
        m.runs,
        image.display(),
        common.threads.max(1),
        vision.precision(),
        if vision.fused_ops() { "" } else { ", tract's own lowerings (ROLEMIRROR_FUSED_OPS=0)" },
        vision.embedder_id.id,
        gallery.role_models.len(),
        vision::profile::clock_name()
    )?;
    if m.profiles.is_some() {
        for n in STAGES {
            writeln!(out, "  {n:<8} {:>9.3} ms", s.median(n))?;
            let subs: &[&str] = match n {
                "detect" => &["detect.prepare", "detect.network", "detect.decode"],
                "embed" => &["embed.prepare", "embed.network", "embed.finish"],
                _ => &[],
            };
            for sub in subs {
                writeln!(out, "    {:<14} {:>9.3} ms", sub, s.median(sub))?;
            }
        }
        writeln!(out, "  {:<8} {:>9.3} ms", "total", STAGES.iter().map(|n| s.median(n)).sum::<f64>())?;
    }
    let (bw, bh) = booth.detector.options().input;
    let (tw, th) = vision::TRACK_INPUT;
    let how = if booth.auto_input.is_some() { "auto" } else { "--detector-input" };
    if m.profiles.is_some() {
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
            if let Some(s16) = &m.f16 {
                writeln!(out, "  {:<24} {:>9.3} ms", "  in f16", s16.median(&format!("f16.{key}")))?;
            }
        }
    }
    if let Some(v) = &m.visit {
        writeln!(
            out,
            "booth visit, {VISIT_FRAMES} frames through the booth's own analyser and core (full-frame detector {bw}x{bh}): \
             {:.3} ms per frame (until the match {:.3}, after it {:.3}); first face to match {:.1} ms of booth time; \
             {} full, {} tracked, {} embedded; matched at frame {}",
            s.median("steady"),
            s.median("steady.matching"),
            s.median("steady.after"),
            s.median("first_face_to_match"),
            v.full,
            v.tracked,
            v.embedded,
            v.matched_at.map_or("never".to_string(), |m| m.to_string()),
        )?;
        if v.result_draw_ms.is_some() {
            let (w, h) = RESULT_SCREEN;
            writeln!(
                out,
                "result on screen ({w}x{h}, the booth's renderer): drawn in {:.3} ms with the likely match's portraits loaded while matching \
                 ({:.3} ms on the display thread, off the booth's path); with no portrait kept from before {:.3} ms from the prepared portraits \
                 ({:.3} ms decoding the gallery photos instead, {:.3} ms redrawn with them kept); first face to result on screen {:.1} ms",
                s.median("result_draw.shown"),
                s.median("result_prefetch"),
                s.median("result_draw"),
                s.median("result_draw.photo"),
                s.median("result_draw.kept"),
                s.median("first_face_to_result"),
            )?;
        } else {
            writeln!(
                out,
                "result on screen: not timed (the gallery has no prepared portraits: give --gallery DIR, built by this version)"
            )?;
        }
    }
    if let Some(a) = &booth.auto_input {
        let t: Vec<String> = a.timings.iter().map(ToString::to_string).collect();
        writeln!(out, "auto detector input (budget {} ms): {}x{} — {}", a.budget_ms, a.input.0, a.input.1, t.join(", "))?;
    }
    if let Some((detect, embed)) = &m.profiles {
        for (what, nodes) in [("detector network", detect), ("embedder network", embed)] {
            let total: f64 = nodes.iter().map(|x| x.ms).sum();
            writeln!(out, "profile, {what}: {total:.3} ms")?;
            for o in vision::profile::by_op(nodes).into_iter().take(8) {
                writeln!(out, "  {:<22} {:>3} nodes {:>9.3} ms {:>5.1} %", o.op, o.nodes, o.ms, o.share * 100.0)?;
            }
        }
    }
    if let Some(e) = &m.efficiency {
        e.print(out)?;
    }
    if let Some(mem) = vision::profile::memory() {
        writeln!(out, "memory: rss {:.1} MB, peak {:.1} MB", mem.rss_kib as f64 / 1024.0, mem.peak_rss_kib as f64 / 1024.0)?;
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
}
