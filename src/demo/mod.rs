//! `rolemirror demo`: the booth step over a replay source on a simulated clock, one pass.
//!
//! [`data`] assembles the demo gallery and visitor photos from a local data mirror
//! (`rolemirror demo fetch`). [`run`] then shows each visitor photo to the booth as a visitor
//! standing still in front of the camera — through the same [`analyse_frame`] and [`Booth`] as
//! the daemon, preceded by an empty-room frame — and renders every screen into the PNG backend.
//! The clock is simulated, so a full visit (tracking, matching over several frames, result,
//! thanks) takes a fraction of real time. Per visitor it prints `event=match visitor=FILE
//! role_model=ID similarity=S`, `event=no_face visitor=FILE` or `event=no_match visitor=FILE
//! advice=…`.

pub mod data;
pub mod firstrun;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::booth::machine::{BoothEvent, Phase, Ranked};
use crate::booth::{analyse_frame, Booth, Observation};
use crate::camera::{self, FrameSource};
use crate::config::Config;
use crate::display::canvas::Canvas;
use crate::display::png::PngScreen;
use crate::display::render::{render, Assets};
use crate::display::scene::Scene;
use crate::display::text::Fonts;
use crate::events::emit;
use crate::gallery::Gallery;
use crate::util::Size;
use crate::vision::{RgbImage, Vision};

/// Demo settings.
pub struct DemoOptions {
    /// The demo folder (gallery/ and visitors/ from `rolemirror demo fetch`).
    pub data: PathBuf,
    /// Where the PNG screens go.
    pub out: PathBuf,
    /// Screen size.
    pub size: Size,
}

/// What a demo pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSummary {
    /// Visitor frames shown to the booth (the empty room included).
    pub visitors: usize,
    pub matches: usize,
}

/// Time between two frames of the simulated camera (5 frames/s).
const FRAME_SECONDS: f64 = 0.2;

/// A plain frame with no face: an empty room (a wall and a floor).
pub fn empty_room(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |_, y| if y > height * 2 / 3 { image::Rgb([120, 100, 80]) } else { image::Rgb([200, 196, 186]) })
}

/// Removes the numbered screens (`NNNN-scene.png`) an earlier run left in `dir`.
fn clear_screens(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let numbered = name.len() > 9 && name[..4].bytes().all(|b| b.is_ascii_digit()) && name.as_bytes()[4] == b'-';
        if numbered && name.ends_with(".png") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The demo's screen: renders scenes into PNG files, each distinct screen kept once.
struct Screen {
    png: PngScreen,
    canvas: Canvas,
    assets: Assets,
    last: Option<&'static str>,
}

impl Screen {
    /// Shows `scene` when it differs from the last one shown (the mirror view always).
    fn show(&mut self, scene: &Scene) -> anyhow::Result<()> {
        if Some(scene.name()) == self.last && !matches!(scene, Scene::Live { .. }) {
            return Ok(());
        }
        render(scene, &self.assets, &mut self.canvas);
        self.png.present(&self.canvas, scene.name())?;
        self.last = Some(scene.name());
        Ok(())
    }
}

/// Runs the demo over `opts.data` with `gallery`, the booth settings and texts of `config`.
pub fn run(vision: &Vision, gallery: &Gallery, config: &Config, opts: &DemoOptions) -> anyhow::Result<DemoSummary> {
    let fonts = Fonts::load(&config.display.font, &config.display.font_bold)?;
    let screens = opts.out.join("screens");
    clear_screens(&screens);
    let png = PngScreen::new(opts.out.join("screen.png"), Some(screens.clone()), opts.size.width, opts.size.height)
        .with_context(|| format!("creating {}", screens.display()))?;
    let mut screen = Screen {
        png,
        canvas: Canvas::new(opts.size.width, opts.size.height),
        assets: Assets::new(fonts, config.texts.clone(), Some(gallery)),
        last: None,
    };
    let mut source = camera::replay::Replay::new(&opts.data.join("visitors"), 1000.0, false)
        .map_err(|e| anyhow::anyhow!("{e} (run `rolemirror demo fetch` first)"))?;
    emit("ready", &[("mode", "demo".into()), ("role_models", gallery.role_models.len().to_string())]);
    emit("camera_connected", &[("camera", source.describe())]);
    // The empty room first: the attract screen stays.
    let room = Arc::new(empty_room(640, 480));
    let mut frames: Vec<(String, Arc<RgbImage>)> = vec![("empty-room (rendered)".into(), room.clone())];
    loop {
        match source.next_frame() {
            Ok(f) => frames.push((f.label.unwrap_or_default(), f.image)),
            Err(camera::CameraError::End) => break,
            Err(camera::CameraError::BadFrame(why)) => emit("bad_frame", &[("reason", why)]),
            Err(e) => return Err(anyhow::anyhow!("{e}")),
        }
    }
    let settings = &config.booth;
    let mut booth = Booth::new(settings.clone(), config.gallery.also_like, config.gallery.variety, gallery, 0.0);
    let mut now = 0.0f64;
    let mut summary = DemoSummary { visitors: 0, matches: 0 };
    for (label, frame) in &frames {
        summary.visitors += 1;
        // A visitor standing still: every camera frame is this photo, so it is analysed once.
        let obs: Observation = analyse_frame(vision, frame, Some(label.clone()), settings, config.camera.mirror)?;
        let mut matched: Option<Ranked> = None;
        let mut advice = None;
        // Up to twice the frames a match needs, as a camera would deliver them.
        for _ in 0..settings.matching_frames * 2 + 1 {
            now += FRAME_SECONDS;
            for ev in booth.observe(now, &obs, gallery) {
                if let BoothEvent::Matched(r) = ev {
                    matched = Some(r);
                }
            }
            advice = booth.guidance().or(advice);
            screen.show(&booth.scene(now))?;
            if matched.is_some() || obs.face.is_none() {
                break;
            }
        }
        match matched {
            Some(r) => {
                summary.matches += 1;
                let rm = &gallery.role_models[r.index];
                emit("match", &[("visitor", label.clone()), ("role_model", rm.id.clone()), ("similarity", format!("{:.4}", r.similarity))]);
            }
            None if obs.face.is_none() => emit("no_face", &[("visitor", label.clone())]),
            None => emit(
                "no_match",
                &[("visitor", label.clone()), ("advice", advice.unwrap_or(crate::display::Guidance::HoldStill).name().to_string())],
            ),
        }
        // The visitor leaves (the camera sees the empty room): result (minimum time), thanks, attract.
        let nobody = Observation { shown: room.clone(), face: None, label: None };
        for step in [
            f64::from(settings.face_lost_seconds) + 0.1,
            f64::from(settings.result_min_seconds),
            f64::from(settings.cooldown_seconds) + 0.1,
        ] {
            now += FRAME_SECONDS;
            booth.observe(now, &nobody, gallery);
            now += step;
            booth.tick(now);
            screen.show(&booth.scene(now))?;
        }
        if !matches!(booth.phase(), Phase::Attract { .. }) {
            booth.reset(now);
        }
    }
    emit(
        "shutdown",
        &[("visitors", summary.visitors.to_string()), ("matches", summary.matches.to_string()), ("screens", screens.display().to_string())],
    );
    Ok(summary)
}
