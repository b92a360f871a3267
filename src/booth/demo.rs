//! `rolemirror demo`: the booth on the demo data, one pass, then exit.
//!
//! Every visitor frame (the replay camera over `demo/visitors`, preceded by an empty-room frame
//! rendered here) goes through the booth's own pieces — per-frame analysis, the state machine,
//! the scenes and the renderer into the PNG backend — on a simulated clock, so that each visitor
//! gets a full visit (tracking, matching over several frames, result, thanks) in a fraction of
//! real time. For each visitor it prints `event=match visitor=FILE role_model=ID similarity=S`,
//! or `event=no_face visitor=FILE`, or `event=no_match visitor=FILE advice=…`. The real-time
//! daemon (`rolemirror run`) drives the same pieces from the capture thread and a real clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use super::analyze::analyze;
use super::machine::{BoothEvent, Guidance, Machine, Phase, Ranked};
use super::scene::{scene_for, Scene};
use crate::camera::{self, FrameSource};
use crate::config::{CameraConfig, CameraSource, Config};
use crate::display::canvas::Canvas;
use crate::display::png::PngScreen;
use crate::display::render::{render, Assets};
use crate::display::text::Fonts;
use crate::events::emit;
use crate::gallery::Gallery;
use crate::vision::{RgbImage, Vision};

/// Demo settings.
pub struct DemoOptions {
    /// The demo folder (gallery/ and visitors/ from `rolemirror demo fetch`).
    pub data: PathBuf,
    /// Where the PNG screens go.
    pub out: PathBuf,
    /// Screen size.
    pub width: u32,
    pub height: u32,
}

/// A plain frame with no face: an empty room (a wall and a floor).
pub fn empty_room(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |_, y| if y > height * 2 / 3 { image::Rgb([120, 100, 80]) } else { image::Rgb([200, 196, 186]) })
}

fn advice_name(g: Guidance) -> &'static str {
    match g {
        Guidance::StepCloser => "step_closer",
        Guidance::LookAtCamera => "look_at_camera",
        Guidance::HoldStill => "hold_still",
    }
}

/// Runs the demo. Returns (visitors seen, matches made).
pub fn run(vision: &Vision, gallery: &Gallery, config: &Config, opts: &DemoOptions) -> anyhow::Result<(usize, usize)> {
    let fonts = Fonts::load(Path::new(&config.display.font), Path::new(&config.display.font_bold))?;
    let assets = Assets::new(fonts, config.texts(), Some(gallery));
    let screens = opts.out.join("screens");
    // Screens of an earlier run would mix with this one's: remove them (only our NNNN-*.png).
    if let Ok(entries) = std::fs::read_dir(&screens) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.len() > 9 && name.ends_with(".png") && name[..4].bytes().all(|b| b.is_ascii_digit()) && name.as_bytes()[4] == b'-' {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let mut screen = PngScreen::new(opts.out.join("screen.png"), Some(screens.clone()), opts.width, opts.height)
        .with_context(|| format!("creating {}", screens.display()))?;
    let mut canvas = Canvas::new(opts.width, opts.height);
    let booth = &config.booth;
    let mut machine = Machine::new(booth.clone(), 0.0);
    let mut now = 0.0f64;
    let mut last_scene = String::new();
    let show = |scene: &Scene, canvas: &mut Canvas, screen: &mut PngScreen| -> anyhow::Result<()> {
        render(scene, &assets, canvas);
        screen.present(canvas, scene.name())?;
        Ok(())
    };
    let matcher = |e: &crate::vision::embed::FaceCode| -> Vec<Ranked> {
        gallery
            .top_k(e, 1 + config.gallery.also_like)
            .iter()
            .map(|m| Ranked {
                index: gallery.role_models.iter().position(|r| r.id == m.role_model.id).unwrap_or(0),
                similarity: m.similarity,
            })
            .collect()
    };
    let cam_cfg = CameraConfig {
        source: CameraSource::Replay,
        replay: opts.data.join("visitors").display().to_string(),
        replay_fps: 1000.0,
        replay_loop: false,
        ..CameraConfig::default()
    };
    let mut source = camera::replay::Replay::open(&cam_cfg).map_err(|e| anyhow::anyhow!("{e} (run `rolemirror demo fetch` first)"))?;
    emit("ready", &[("mode", "demo".into()), ("role_models", gallery.role_models.len().to_string())]);
    emit("camera_connected", &[("camera", source.describe())]);
    // The empty room first: the attract screen stays.
    let room = Arc::new(empty_room(640, 480));
    let mut frames: Vec<(String, Arc<RgbImage>)> = vec![("empty-room (rendered)".into(), room)];
    loop {
        match source.next_frame() {
            Ok(f) => frames.push((f.label.unwrap_or_default(), Arc::new(camera::mirrored(&f.image)))),
            Err(camera::CameraError::End) => break,
            Err(camera::CameraError::BadFrame(why)) => emit("bad_frame", &[("reason", why)]),
            Err(e) => return Err(anyhow::anyhow!("{e}")),
        }
    }
    let (mut visitors, mut matched) = (0, 0);
    for (label, frame) in &frames {
        visitors += 1;
        let mut outcome: Option<Ranked> = None;
        let mut saw_face = false;
        let mut advice = None;
        // Up to twice the frames a match needs, 0.2 s apart, as a camera would deliver them.
        for _ in 0..booth.matching_frames * 2 + 1 {
            now += 0.2;
            let obs = analyze(vision, frame, booth)?;
            saw_face |= obs.is_some();
            for ev in machine.observe(now, obs.as_ref(), matcher) {
                if let BoothEvent::Matched(r) = ev {
                    outcome = Some(r);
                }
            }
            advice = machine.current_guidance().or(advice);
            let scene = scene_for(&machine, now, booth.showcase_seconds, gallery.role_models.len(), Some(frame), config.gallery.also_like);
            if scene.name() != last_scene || matches!(scene, Scene::Live { .. }) {
                show(&scene, &mut canvas, &mut screen)?;
                last_scene = scene.name().to_string();
            }
            if outcome.is_some() || obs.is_none() {
                break;
            }
        }
        match outcome {
            Some(r) => {
                matched += 1;
                let rm = &gallery.role_models[r.index];
                emit("match", &[("visitor", label.clone()), ("role_model", rm.id.clone()), ("similarity", format!("{:.4}", r.similarity))]);
            }
            None if !saw_face => emit("no_face", &[("visitor", label.clone())]),
            None => {
                emit("no_match", &[("visitor", label.clone()), ("advice", advice.map(advice_name).unwrap_or("hold_still").to_string())])
            }
        }
        // The visitor leaves (the camera sees the empty room): result (minimum time), thanks,
        // attract.
        now += 0.2;
        machine.observe(now, None, matcher);
        for step in [f64::from(booth.face_lost_seconds) + 0.1, f64::from(booth.result_min_seconds), f64::from(booth.cooldown_seconds) + 0.1]
        {
            now += step;
            machine.tick(now);
            let scene = scene_for(&machine, now, booth.showcase_seconds, gallery.role_models.len(), None, config.gallery.also_like);
            if scene.name() != last_scene {
                show(&scene, &mut canvas, &mut screen)?;
                last_scene = scene.name().to_string();
            }
        }
        if !matches!(machine.phase(), Phase::Attract { .. }) {
            machine.reset(now);
        }
    }
    emit("shutdown", &[("visitors", visitors.to_string()), ("matches", matched.to_string()), ("screens", screens.display().to_string())]);
    Ok((visitors, matched))
}
