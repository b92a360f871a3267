//! `rolemirror demo`: the booth over a replay source on a simulated clock, one pass.
//!
//! [`data`] assembles the demo gallery and visitor photos from a local data mirror
//! (`rolemirror demo fetch`). [`run`] then shows each visitor photo to the booth as a visitor
//! standing still in front of the camera — through the daemon's own analyser and
//! [`crate::service::core::Core`] ([`Simulated`]), preceded by an empty-room frame — and renders
//! every screen the booth shows into the PNG backend. The clock is simulated, so a full visit
//! (tracking, matching over several frames, result, thanks) takes a fraction of real time. The
//! booth's own event lines go to stdout: per visitor `event=match visitor=FILE role_model=ID
//! similarity=S`, `event=no_face visitor=FILE` or `event=no_match visitor=FILE advice=…`; with
//! acts (`--act next,language`) each matched visitor then asks for another match or the other
//! language, as the button and the touch screen let them (`event=another_match`, `event=language`).
//! `rolemirror demo --config FILE --visitors DIR` runs a booth's own config and gallery on
//! photos of the technician's choosing; the system test renders its reference screens this way.

pub mod data;
pub mod firstrun;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;

use crate::booth::machine::Phase;
use crate::camera::{self, CameraStatus, FrameSource};
use crate::config::Config;
use crate::display::canvas::Canvas;
use crate::display::png::PngScreen;
use crate::display::render::{render, Assets};
use crate::display::text::Fonts;
use crate::events::emit;
use crate::gallery::Gallery;
use crate::input::Gesture;
use crate::service::core::Action;
use crate::service::simulated::{event, Simulated};
use crate::util::Size;
use crate::vision::{RgbImage, Vision};

/// Demo settings.
pub struct DemoOptions {
    /// The visitor photos (the demo's: visitors/ from `rolemirror demo fetch`).
    pub visitors: PathBuf,
    /// Where the PNG screens go.
    pub out: PathBuf,
    /// Screen size.
    pub size: Size,
    /// What each matched visitor does on their result, in order (another match, language);
    /// after each, [`FRAMES_AFTER_ACT`] more camera frames of them (the result is redrawn with
    /// their picture).
    pub acts: Vec<Gesture>,
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
/// Time between the result (or the last act) and a visitor's next act.
const ACT_SECONDS: f64 = 1.0;
/// Camera frames of the visitor after each act (each redraws the result with their picture, the
/// face found a pixel or two elsewhere; the PNG backend writes a screen equal to the one before
/// only once).
pub const FRAMES_AFTER_ACT: usize = 2;

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

/// The demo's screen: every scene the booth shows, rendered into a numbered PNG file.
struct Screen {
    png: PngScreen,
    canvas: Canvas,
    assets: Assets,
}

impl Screen {
    /// Carries out the booth's actions: scenes are drawn, event lines written (the demo's output).
    fn perform(&mut self, actions: Vec<Action>) -> anyhow::Result<()> {
        for action in actions {
            match action {
                Action::Show(scene) => {
                    render(&scene, &self.assets, &mut self.canvas);
                    self.png.present(&self.canvas, scene.name())?;
                }
                Action::Emit(e) => e.emit(),
                Action::Watchdog | Action::SaveCounters | Action::Health { .. } => {}
            }
        }
        Ok(())
    }
}

/// Runs the demo over `opts.visitors` with `gallery`, the booth settings and texts of `config`:
/// per visitor the empty room, the visitor standing still until matched, their acts on the
/// result (each followed by [`FRAMES_AFTER_ACT`] frames of them), then the empty room again.
pub fn run(vision: &Vision, gallery: Arc<Gallery>, config: &Config, opts: &DemoOptions) -> anyhow::Result<DemoSummary> {
    let fonts = Fonts::load(&config.display.font, &config.display.font_bold)?;
    let screens = opts.out.join("screens");
    clear_screens(&screens);
    let png = PngScreen::new(opts.out.join("screen.png"), Some(screens.clone()), opts.size.width, opts.size.height)
        .with_context(|| format!("creating {}", screens.display()))?;
    let mut screen = Screen {
        png,
        canvas: Canvas::new(opts.size.width, opts.size.height),
        assets: Assets::new(fonts, config.texts.clone(), Some(&gallery)).with_languages(config.languages.clone()),
    };
    let mut source = camera::replay::Replay::new(&opts.visitors, 1000.0, false)
        .map_err(|e| anyhow::anyhow!("{e} (run `rolemirror demo fetch` first)"))?;
    emit("ready", &[("mode", "demo".into()), ("role_models", gallery.role_models.len().to_string())]);
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
    let (mut booth, first) = Simulated::new(vision, gallery, config);
    screen.perform(first)?;
    screen.perform(booth.camera(0.0, &CameraStatus::Connected(source.describe())))?;
    let mut summary = DemoSummary { visitors: 0, matches: 0 };
    for (label, frame) in &frames {
        summary.visitors += 1;
        // A visitor standing still: every camera frame is this photo, up to twice the frames a
        // match needs, as a camera would deliver them.
        for _ in 0..settings.matching_frames * 2 + 1 {
            let (obs, actions) = booth.frame(FRAME_SECONDS, frame, Some(label.clone()))?;
            let matched = event(&actions, "match").is_some();
            screen.perform(actions)?;
            summary.matches += usize::from(matched);
            if matched {
                for &act in &opts.acts {
                    screen.perform(booth.gesture(ACT_SECONDS, act, (opts.size.width, opts.size.height)))?;
                    for _ in 0..FRAMES_AFTER_ACT {
                        let (_, actions) = booth.frame(FRAME_SECONDS, frame, Some(label.clone()))?;
                        screen.perform(actions)?;
                    }
                }
            }
            if matched || obs.face.is_none() {
                break;
            }
        }
        // The visitor leaves (the camera sees the empty room): result (minimum time), thanks,
        // attract.
        for step in [
            f64::from(settings.face_lost_seconds) + 0.1,
            f64::from(settings.result_min_seconds),
            f64::from(settings.cooldown_seconds) + 0.1,
        ] {
            let (_, actions) = booth.frame(FRAME_SECONDS, &room, None)?;
            screen.perform(actions)?;
            screen.perform(booth.tick(step))?;
        }
        if !matches!(booth.core().phase(), Phase::Attract { .. }) {
            log::warn!("demo: the booth is not back to attract after {label}: {:?}", booth.core().phase());
        }
    }
    emit(
        "shutdown",
        &[("visitors", summary.visitors.to_string()), ("matches", summary.matches.to_string()), ("screens", screens.display().to_string())],
    );
    Ok(summary)
}
