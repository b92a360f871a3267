//! The running booth: three threads and an event loop.
//!
//! - capture (camera → a slot of one frame; stale frames are dropped),
//! - vision (frame → [`FrameAnalyser`] → observation; inference never runs on the executor),
//! - display (scene → screen),
//! - this event loop (tokio, one thread): observations, camera status, a 100 ms tick, signals and
//!   USB updates go into [`Core`], whose actions it carries out — scenes to the display, event
//!   lines to stdout, the watchdog, the counters file.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::core::{Action, Core};
use super::counters::{self, Counters};
use super::health::{self, Live, ModelVersion, Timings};
use super::startup::Loaded;
use super::{fallback, notify, updater, Exit, Outcome, Signals};
use crate::booth::{Booth, FrameAnalyser, Observation};
use crate::camera::{self, CameraStatus, FrameSlot};
use crate::display::{self, DisplayThread};
use crate::events::emit;
use crate::usb::Tick as UsbTick;

/// Runs the booth until SIGTERM, SIGHUP (reload), the end of a non-looping replay, or an
/// installed USB update (reload).
pub(super) async fn booth(loaded: Loaded, config_path: &Path, sig: &mut Signals) -> anyhow::Result<Outcome> {
    let Loaded { config, vision, gallery, assets } = loaded;
    // Health: live values for a stick's report, and the snapshot file for `rolemirror report`.
    let detector_sha = crate::models::Manifest::builtin().ok().and_then(|m| m.get(&vision.detector_id).ok().map(|s| s.sha256.clone()));
    let models = vec![
        ModelVersion { role: "detector".into(), id: vision.detector_id.clone(), sha256: detector_sha.unwrap_or_default() },
        ModelVersion { role: "embedder".into(), id: vision.embedder_id.id.clone(), sha256: vision.embedder_id.sha256.clone() },
    ];
    let snapshot = health::new_snapshot(&config, "running", models, Some(gallery.role_models.len()));
    health::save_snapshot(&config.state_dir, &snapshot);
    let live = Arc::new(Mutex::new(Live { snapshot, days: Counters::load(&config.state_dir).days }));
    let timings = Arc::new(Mutex::new(Timings::default()));
    let mut usb = updater(&config, config_path, Some(vision.clone()), Some(config.clone()), live.clone());
    let clock = Instant::now();
    let now = move || clock.elapsed().as_secs_f64();

    // Display first: READY means the screen works.
    let display: DisplayThread = match display::start(&config.display, Duration::from_secs(10)) {
        Ok(d) => d,
        Err(e) => return fallback::service(&config.display, &[format!("display: {e}")], true, usb, sig).await,
    };
    log::info!("display {}x{}", display.size.0, display.size.1);

    // Capture and vision threads.
    let frames = Arc::new(FrameSlot::default());
    let (status_tx, mut status_rx) = mpsc::channel::<CameraStatus>(8);
    let camera_settings = config.camera.clone();
    let capture = camera::spawn_capture(
        move || camera::open(&camera_settings),
        config.camera.timeout,
        frames.clone(),
        move |s| {
            let _ = status_tx.blocking_send(s);
        },
    )?;
    let (obs_tx, mut obs_rx) = mpsc::channel::<Observation>(2);
    // Milliseconds since `clock` when the vision worker last looped (the watchdog's evidence).
    let heartbeat = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Whether the booth can still use an embedding (not once its result is decided): set by the
    // event loop after each step, read by the worker before each frame.
    let embed = Arc::new(AtomicBool::new(true));
    let worker = {
        let (frames, vision, heartbeat, stop, embed, timings) =
            (frames.clone(), vision.clone(), heartbeat.clone(), stop.clone(), embed.clone(), timings.clone());
        let (settings, mirror) = (config.booth.clone(), config.camera.mirror);
        std::thread::Builder::new().name("vision".into()).spawn(move || {
            // Tracks the visitor's face between frames: one detection per frame, mostly small.
            let mut analyser = FrameAnalyser::default();
            while !stop.load(Ordering::SeqCst) {
                heartbeat.store(clock.elapsed().as_millis() as u64, Ordering::SeqCst);
                let Some(frame) = frames.take(Duration::from_millis(250)) else {
                    analyser.reset();
                    continue;
                };
                analyser.set_embedding(embed.load(Ordering::SeqCst));
                let analysed = analyser.analyse(&vision, &frame.image, frame.label.clone(), &settings, mirror);
                timings.lock().unwrap_or_else(|e| e.into_inner()).frame(frame.seq, &analyser.last_times());
                match analysed {
                    Ok(obs) => {
                        if obs_tx.blocking_send(obs).is_err() {
                            break;
                        }
                    }
                    Err(e) => log::warn!("vision: {e:#}"),
                }
            }
        })?
    };

    let booth = Booth::new(config.booth.clone(), config.gallery.also_like, config.gallery.variety, &gallery, now());
    let (mut core, first) = Core::new(booth, gallery.clone(), Counters::load(&config.state_dir), Box::new(counters::today), now());
    let perform = |actions: Vec<Action>, core: &Core| {
        for action in actions {
            match action {
                Action::Show(scene) => display.show(scene, &assets),
                Action::Emit(event) => event.emit(),
                Action::Watchdog => notify(&[sd_notify::NotifyState::Watchdog]),
                Action::SaveCounters => core.counters().save(&config.state_dir),
            }
        }
    };
    perform(first, &core);
    notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status("running")]);
    let (dw, dh) = vision.detector_input();
    emit(
        "ready",
        &[
            ("role_models", gallery.role_models.len().to_string()),
            ("embedder", vision.embedder_id.id.clone()),
            ("detector_input", format!("{dw}x{dh}")),
            ("detector_input_from", if vision.auto_input.is_some() { "auto" } else { "config" }.to_string()),
            ("precision", vision.precision().to_string()),
        ],
    );

    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let (mut refreshed, mut saved) = (Instant::now(), Instant::now());
    let outcome = loop {
        let actions = tokio::select! {
            _ = sig.term.recv() => break Outcome::Exit(Exit::Stopped),
            _ = sig.int.recv() => break Outcome::Exit(Exit::Stopped),
            _ = sig.hup.recv() => break Outcome::Reload,
            _ = sig.usr1.recv() => usb.poll(&mut sig.seen, true).map(|scene| core.update(scene)).unwrap_or_default(),
            Some(scene) = usb.next(), if usb.importing() => core.update(scene),
            Some(status) = status_rx.recv() => {
                if status == CameraStatus::Ended {
                    break Outcome::Exit(Exit::ReplayEnded);
                }
                {
                    let mut l = live.lock().unwrap_or_else(|e| e.into_inner());
                    (l.snapshot.camera_connected, l.snapshot.camera_lost) = match &status {
                        CameraStatus::Connected(what) => (Some(what.clone()), None),
                        CameraStatus::Lost(why) => (None, Some(why.clone())),
                        CameraStatus::Ended => (None, None),
                    };
                }
                core.camera(now(), &status)
            }
            Some(obs) = obs_rx.recv() => {
                let started = Instant::now();
                let actions = core.observation(now(), &obs);
                // The step that ranked the gallery: its time is the match stage's.
                if actions.iter().any(|a| matches!(a, Action::Emit(e) if e.name == "match")) {
                    timings.lock().unwrap_or_else(|e| e.into_inner()).matched(started.elapsed().as_secs_f64());
                }
                actions
            }
            _ = tick.tick() => {
                if refreshed.elapsed() >= Duration::from_secs(1) {
                    refreshed = Instant::now();
                    let save = saved.elapsed() >= health::SNAPSHOT_EVERY;
                    refresh_health(&live, &timings, core.counters(), &config.state_dir, save);
                    if save {
                        saved = Instant::now();
                    }
                }
                let beat = heartbeat.load(Ordering::SeqCst) as f64 / 1000.0;
                let mut actions = core.tick(now(), beat);
                match usb.tick() {
                    UsbTick::Finished { reload: true } => {
                        perform(actions, &core);
                        break Outcome::Reload;
                    }
                    UsbTick::Finished { reload: false } => actions.extend(core.update_finished(now())),
                    UsbTick::Busy => {}
                    UsbTick::Idle => actions.extend(usb.poll(&mut sig.seen, false).map(|scene| core.update(scene)).unwrap_or_default()),
                }
                actions
            }
        };
        perform(actions, &core);
        embed.store(core.wants_embeddings(), Ordering::SeqCst);
    };

    // Stop: camera and vision threads first, then the screen (blanked). STOPPING=1 only when the
    // process ends: on a reload systemd would take it as stopping and kill the booth after
    // TimeoutStopSec (it got RELOADING=1 from the outer loop).
    if matches!(outcome, Outcome::Exit(_)) {
        notify(&[sd_notify::NotifyState::Stopping]);
    }
    stop.store(true, Ordering::SeqCst);
    frames.close();
    if matches!(outcome, Outcome::Exit(Exit::ReplayEnded)) {
        // The last frame of a recording may still be in analysis: let it reach the booth.
        let drain = async {
            while let Some(obs) = obs_rx.recv().await {
                perform(core.observation(now(), &obs), &core);
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
    }
    drop(obs_rx);
    let deadline = Instant::now() + Duration::from_millis(1200);
    for h in [worker, capture] {
        while !h.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    display.stop();
    core.counters().save(&config.state_dir);
    refresh_health(&live, &timings, core.counters(), &config.state_dir, true);
    if let Outcome::Exit(exit) = &outcome {
        emit("shutdown", &[("reason", exit.name().to_string())]);
    }
    Ok(outcome)
}

/// Copies the loop's live values into `live` (for a stick's report) and, with `save`, writes the
/// snapshot file (for `rolemirror report`). Timings, rates, counts and log lines: nothing about
/// a visitor.
fn refresh_health(live: &health::SharedLive, timings: &Mutex<Timings>, counters: &Counters, state_dir: &Path, save: bool) {
    let (stages, (captured, analysed)) = {
        let t = timings.lock().unwrap_or_else(|e| e.into_inner());
        (t.stages(), t.rates())
    };
    let snapshot = {
        let mut l = live.lock().unwrap_or_else(|e| e.into_inner());
        l.snapshot.stages = stages;
        (l.snapshot.captured_fps, l.snapshot.analysed_fps) = (captured, analysed);
        l.snapshot.updated_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        l.snapshot.warnings = crate::util::logring::recent();
        l.days.clone_from(&counters.days);
        save.then(|| l.snapshot.clone())
    };
    if let Some(s) = snapshot {
        health::save_snapshot(state_dir, &s);
    }
}
