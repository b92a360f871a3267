//! `rolemirror run --config FILE`: the booth as a long-running service.
//!
//! Threads: capture (camera → slot of one frame), vision (frame → face observation; inference
//! never runs on the async executor), display (scene → screen). A current-thread tokio runtime
//! orchestrates: observations into the state machine, camera status, timers, signals (SIGTERM:
//! stop; SIGHUP: reload config and gallery) and systemd notification (READY once models, gallery
//! and display are up; WATCHDOG only while the vision worker makes progress).
//!
//! A config that does not validate, or models or a gallery that cannot be loaded, put the booth
//! on a service screen listing the problems (when the display works) and in the log; the
//! process stays up and waits for a fixed config (SIGHUP) instead of crash-looping.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::booth::analyze::analyze;
use crate::booth::machine::{BoothEvent, FaceObs, Machine, Ranked};
use crate::booth::scene::{scene_for, Scene};
use crate::camera::{self, CameraStatus, FrameSlot, Slot};
use crate::config::{Config, DisplayConfig};
use crate::display::render::Assets;
use crate::display::text::Fonts;
use crate::display::{self, Frame as DisplayFrame};
use crate::events::emit;
use crate::gallery::Gallery;
use crate::models::Manifest;
use crate::usb::install::Store;
use crate::usb::{Tick as UsbTick, Updater};
use crate::vision::{RgbImage, Vision, VisionOptions};

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// SIGTERM or SIGINT.
    Stopped,
    /// Replay without looping reached its end (demo and tests).
    ReplayEnded,
}

fn notify(states: &[sd_notify::NotifyState]) {
    // Outside systemd (no NOTIFY_SOCKET) this does nothing.
    let _ = sd_notify::notify(states);
}

/// What the vision worker sends per processed frame.
struct Observation {
    face: Option<FaceObs>,
    /// The frame as shown (mirrored when configured); in memory only.
    shown: Arc<RgbImage>,
    label: Option<String>,
}

/// Everything that lives as long as one loaded configuration.
struct Loaded {
    config: Config,
    vision: Arc<Vision>,
    gallery: Option<Arc<Gallery>>,
    assets: Arc<Assets>,
}

fn load(config: &Config) -> Result<Loaded, Vec<String>> {
    let mut problems = Vec::new();
    let vision = match vision_for(config) {
        Ok(v) => Some(Arc::new(v)),
        Err(e) => {
            problems.push(format!("vision.models: {e:#}"));
            None
        }
    };
    // A missing or stale index (after a software or model update) is rebuilt here, so the booth
    // recovers by itself; the watchdog and start timeout are fed while it embeds.
    let started = std::time::Instant::now();
    let opened = vision.as_ref().map(|v| {
        Gallery::open_or_build(Path::new(&config.gallery.dir), v, |_, _| {
            notify(&[sd_notify::NotifyState::Watchdog, sd_notify::NotifyState::ExtendTimeoutUsec(30_000_000)]);
        })
    });
    let gallery = match opened {
        None => None,
        Some(Err(e)) => {
            problems.push(format!("gallery.dir: {e:#}"));
            None
        }
        Some(Ok((g, rebuilt))) => {
            if rebuilt {
                emit(
                    "gallery_indexed",
                    &[("role_models", g.role_models.len().to_string()), ("seconds", format!("{:.1}", started.elapsed().as_secs_f64()))],
                );
            }
            if g.role_models.is_empty() {
                problems.push(format!("gallery.dir: {} has no role model with a usable photo", config.gallery.dir));
                None
            } else {
                Some(Arc::new(g.with_settings(config.gallery.matching())))
            }
        }
    };
    let fonts = match Fonts::load(Path::new(&config.display.font), Path::new(&config.display.font_bold)) {
        Ok(f) => Some(f),
        Err(e) => {
            problems.push(format!("display.font: {e}"));
            None
        }
    };
    match (vision, gallery, fonts, problems.is_empty()) {
        (Some(vision), gallery @ Some(_), Some(fonts), true) => {
            let assets = Arc::new(Assets::new(fonts, config.texts(), gallery.as_deref()));
            Ok(Loaded { config: config.clone(), vision, gallery, assets })
        }
        _ => Err(problems),
    }
}

/// Reads the config leniently for the service screen: the file's `[display]` table if that
/// part is usable (the mistakes may be elsewhere), else the defaults.
fn display_config_for_service(path: &Path) -> DisplayConfig {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let table = toml::from_str::<toml::Table>(&text).ok().and_then(|mut t| t.remove("display"));
    table.and_then(|d| d.try_into::<DisplayConfig>().ok()).unwrap_or_default()
}

/// For a config file that does not parse: the defaults with the file's `[usb]`, `[gallery]`,
/// `[vision]` and `[display]` tables where those parts are usable, so a signed stick can still
/// bring a fixed config.
fn lenient_config(path: &Path) -> Config {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let table = toml::from_str::<toml::Table>(&text).unwrap_or_default();
    let mut c = Config::default();
    let part = |name: &str| table.get(name).cloned();
    if let Some(u) = part("usb").and_then(|t| t.try_into().ok()) {
        c.usb = u;
    }
    if let Some(g) = part("gallery").and_then(|t| t.try_into().ok()) {
        c.gallery = g;
    }
    if let Some(v) = part("vision").and_then(|t| t.try_into().ok()) {
        c.vision = v;
    }
    c.display = display_config_for_service(path);
    c
}

/// Anonymous counters kept in the state directory: visitors and matches per role model.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Counters {
    visitors: u64,
    matches: BTreeMap<String, u64>,
}

impl Counters {
    fn path(dir: &str) -> PathBuf {
        Path::new(dir).join("counters.json")
    }
    fn load(dir: &str) -> Counters {
        std::fs::read(Self::path(dir)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }
    fn save(&self, dir: &str) {
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        if let Ok(bytes) = serde_json::to_vec_pretty(self) {
            if let Err(e) = crate::util::write_atomic(&Self::path(dir), &bytes) {
                log::warn!("state.dir {dir}: cannot save counters: {e}");
            }
        }
    }
}

/// Runs the daemon until SIGTERM (or the end of a non-looping replay).
pub fn run(config_path: &Path) -> anyhow::Result<Exit> {
    // The console's text, cursor and blanking stay off the framebuffer while the booth runs.
    #[cfg(target_os = "linux")]
    let _vt = crate::display::console::VtGraphics::take();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(daemon(config_path))
}

enum Outcome {
    Exit(Exit),
    Reload,
}

/// The signals the daemon reacts to, and what outlives a reload.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    /// SIGUSR1: look for USB sticks now (sent by the mount helper).
    usr1: tokio::signal::unix::Signal,
    /// Sticks already handled (mount point → identity), so a reload does not import again.
    seen: HashMap<PathBuf, String>,
}

/// Builds the vision pipeline a config asks for.
pub fn vision_for(config: &Config) -> anyhow::Result<Vision> {
    let manifest = Manifest::builtin()?;
    let dir = crate::models::model_dir((!config.vision.models.is_empty()).then(|| Path::new(&config.vision.models)));
    let mut opts = VisionOptions {
        embedder: (!config.vision.embedder.is_empty()).then(|| config.vision.embedder.clone()),
        threads: config.vision.threads,
        ..Default::default()
    };
    if let Ok(input) = crate::cli::parse_size(&config.vision.detector_input) {
        opts.detect.input = input;
    }
    opts.detect.score_threshold = config.vision.min_score;
    Vision::load(&dir, &manifest, &opts)
}

/// The [`Updater`] for a booth: `vision` when the booth has its models loaded, else they are
/// loaded when an import needs them.
fn updater(config: &Config, config_path: &Path, vision: Option<Arc<Vision>>, current: Option<Config>) -> Updater {
    let cfg = config.clone();
    let source: crate::usb::VisionSource = match vision {
        Some(v) => Arc::new(move || Ok(v.clone())),
        None => Arc::new(move || vision_for(&cfg).map(Arc::new)),
    };
    Updater::new(config.usb.clone(), config_path, current, Path::new(&config.gallery.dir), source, config.texts())
}

async fn daemon(config_path: &Path) -> anyhow::Result<Exit> {
    let mut sig = Signals {
        term: signal(SignalKind::terminate())?,
        int: signal(SignalKind::interrupt())?,
        hup: signal(SignalKind::hangup())?,
        usr1: signal(SignalKind::user_defined1())?,
        seen: HashMap::new(),
    };
    loop {
        let outcome = match Config::load(config_path) {
            Ok(config) => {
                // What an interrupted USB import left behind goes first (never the active gallery).
                let store = Store::new(Path::new(&config.gallery.dir));
                if store.versions.is_dir() {
                    if let Ok(_lock) = store.lock() {
                        for what in store.recover() {
                            log::info!("usb: {what}");
                        }
                    }
                }
                match load(&config) {
                    Ok(loaded) => booth(loaded, config_path, &mut sig).await?,
                    Err(problems) => {
                        let usb = updater(&config, config_path, None, Some(config.clone()));
                        service(&config.display, &problems, usb, &mut sig).await?
                    }
                }
            }
            Err(e) => {
                let problems: Vec<String> = e.problems.iter().map(|p| format!("{}: {p}", config_path.display())).collect();
                let lenient = lenient_config(config_path);
                let usb = updater(&lenient, config_path, None, None);
                service(&lenient.display, &problems, usb, &mut sig).await?
            }
        };
        match outcome {
            Outcome::Exit(exit) => return Ok(exit),
            Outcome::Reload => {
                notify(&[sd_notify::NotifyState::Reloading]);
                emit("config_reloaded", &[("file", config_path.display().to_string())]);
            }
        }
    }
}

/// The service screen: problems on screen and in the log; waits for SIGHUP or SIGTERM.
async fn service(display_cfg: &DisplayConfig, problems: &[String], mut usb: Updater, sig: &mut Signals) -> anyhow::Result<Outcome> {
    for p in problems {
        log::error!("{p}");
    }
    emit("service_needed", &[("problems", problems.len().to_string()), ("first", problems.first().cloned().unwrap_or_default())]);
    let slot = Arc::new(Slot::<DisplayFrame>::default());
    let mut display_thread = None;
    let mut assets = None;
    match Fonts::load(Path::new(&display_cfg.font), Path::new(&display_cfg.font_bold)) {
        Ok(fonts) => {
            let texts = crate::config::Texts::english();
            let a = Arc::new(Assets::new(fonts, texts, None));
            if let Ok((handle, rx)) = display::spawn(display_cfg.clone(), slot.clone()) {
                match rx.recv_timeout(Duration::from_secs(5)) {
                    Ok(Ok(_)) => {
                        slot.put(DisplayFrame { scene: Scene::Service { problems: problems.to_vec() }, assets: a.clone() });
                        display_thread = Some(handle);
                        assets = Some(a);
                    }
                    Ok(Err(e)) => log::error!("display: {e}"),
                    Err(_) => log::error!("display: did not start"),
                }
            }
        }
        Err(e) => log::error!("{e}"),
    }
    // Up, but not healthy: systemd shows the status; no restart loop.
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&format!("service needed: {}", problems.first().cloned().unwrap_or_default())),
    ]);
    let show = |scene: Scene| {
        if let Some(a) = &assets {
            slot.put(DisplayFrame { scene, assets: a.clone() });
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let outcome = loop {
        tokio::select! {
            _ = sig.term.recv() => break Outcome::Exit(Exit::Stopped),
            _ = sig.int.recv() => break Outcome::Exit(Exit::Stopped),
            _ = sig.hup.recv() => break Outcome::Reload,
            _ = sig.usr1.recv() => {
                if let Some(scene) = usb.poll(&mut sig.seen, true) {
                    show(scene);
                }
            }
            Some(scene) = usb.next(), if usb.importing() => show(scene),
            _ = tick.tick() => {
                notify(&[sd_notify::NotifyState::Watchdog]);
                match usb.tick() {
                    UsbTick::Finished { reload: true } => break Outcome::Reload,
                    UsbTick::Finished { reload: false } => show(Scene::Service { problems: problems.to_vec() }),
                    UsbTick::Busy => {}
                    UsbTick::Idle => {
                        if let Some(scene) = usb.poll(&mut sig.seen, false) {
                            show(scene);
                        }
                    }
                }
            }
        }
    };
    slot.close();
    if let Some(h) = display_thread {
        let _ = h.join();
    }
    if matches!(outcome, Outcome::Exit(_)) {
        emit("shutdown", &[]);
    }
    Ok(outcome)
}

fn matcher(gallery: &Gallery, k: usize) -> impl Fn(&crate::vision::embed::FaceCode) -> Vec<Ranked> + '_ {
    move |e| {
        gallery
            .top_k(e, k)
            .iter()
            .filter_map(|m| {
                gallery.role_models.iter().position(|r| r.id == m.role_model.id).map(|index| Ranked { index, similarity: m.similarity })
            })
            .collect()
    }
}

async fn booth(loaded: Loaded, config_path: &Path, sig: &mut Signals) -> anyhow::Result<Outcome> {
    let Loaded { config, vision, gallery, assets } = loaded;
    let mut usb = updater(&config, config_path, Some(vision.clone()), Some(config.clone()));
    let Some(gallery) = gallery else { anyhow::bail!("no gallery") };
    let start = Instant::now();
    let now = move || start.elapsed().as_secs_f64();

    // Display first: READY means the screen works.
    let scene_slot = Arc::new(Slot::<DisplayFrame>::default());
    let (display_thread, display_rx) = display::spawn(config.display.clone(), scene_slot.clone())?;
    match display_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok((w, h))) => log::info!("display {:?} {w}x{h}", config.display.backend),
        Ok(Err(e)) => {
            scene_slot.close();
            let _ = display_thread.join();
            let problems = vec![format!("display: {e}")];
            return service(&config.display, &problems, usb, sig).await;
        }
        Err(_) => anyhow::bail!("display thread did not start"),
    }

    // Capture and vision threads.
    let frames = Arc::new(FrameSlot::default());
    let (status_tx, mut status_rx) = mpsc::channel::<CameraStatus>(8);
    let cam_cfg = config.camera.clone();
    let capture = camera::spawn_capture(
        move || camera::open(&cam_cfg),
        Duration::from_secs_f32(config.camera.timeout_seconds),
        frames.clone(),
        move |s| {
            let _ = status_tx.blocking_send(s);
        },
    )?;
    let (obs_tx, mut obs_rx) = mpsc::channel::<Observation>(2);
    let heartbeat = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (frames, vision, heartbeat, stop) = (frames.clone(), vision.clone(), heartbeat.clone(), stop.clone());
        let booth_cfg = config.booth.clone();
        let mirror = config.camera.mirror;
        std::thread::Builder::new().name("vision".into()).spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                heartbeat.store(start.elapsed().as_millis() as u64, Ordering::SeqCst);
                let Some(frame) = frames.take(Duration::from_millis(250)) else { continue };
                let face = match analyze(&vision, &frame.image, &booth_cfg) {
                    Ok(f) => f,
                    Err(e) => {
                        log::warn!("vision: {e:#}");
                        None
                    }
                };
                let (shown, face) = if mirror {
                    let w = frame.image.width() as f32;
                    (
                        Arc::new(camera::mirrored(&frame.image)),
                        face.map(|mut f| {
                            f.bbox[0] = w - f.bbox[0] - f.bbox[2];
                            f
                        }),
                    )
                } else {
                    (frame.image.clone(), face)
                };
                if obs_tx.blocking_send(Observation { face, shown, label: frame.label.clone() }).is_err() {
                    break;
                }
            }
        })?
    };

    let mut machine = Machine::new(config.booth.clone(), now());
    let mut counters = Counters::load(&config.state.dir);
    let k = 1 + config.gallery.also_like;
    let mut camera_ok = false;
    let mut latest: Option<Arc<RgbImage>> = None;
    let mut last_scene_name = String::new();
    let mut last_showcase = None;
    let show = |scene: Scene| scene_slot.put(DisplayFrame { scene, assets: assets.clone() });
    show(Scene::CameraLost);

    notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status("running")]);
    emit("ready", &[("role_models", gallery.role_models.len().to_string()), ("embedder", vision.embedder_id.id.clone())]);

    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut saved_at = Instant::now();
    let outcome = loop {
        let mut changed = false;
        let mut usb_scene = None;
        tokio::select! {
            _ = sig.term.recv() => break Outcome::Exit(Exit::Stopped),
            _ = sig.int.recv() => break Outcome::Exit(Exit::Stopped),
            _ = sig.hup.recv() => break Outcome::Reload,
            _ = sig.usr1.recv() => usb_scene = usb.poll(&mut sig.seen, true),
            Some(scene) = usb.next(), if usb.importing() => usb_scene = Some(scene),
            Some(status) = status_rx.recv() => {
                match status {
                    CameraStatus::Connected(what) => {
                        camera_ok = true;
                        emit("camera_connected", &[("camera", what)]);
                    }
                    CameraStatus::Lost(why) => {
                        if camera_ok || last_scene_name.is_empty() {
                            emit("camera_lost", &[("reason", why)]);
                        }
                        camera_ok = false;
                        latest = None;
                        machine.reset(now());
                    }
                    CameraStatus::Ended => break Outcome::Exit(Exit::ReplayEnded),
                }
                changed = true;
            }
            Some(obs) = obs_rx.recv() => {
                if usb.busy() {
                    continue;
                }
                latest = Some(obs.shown.clone());
                for ev in machine.observe(now(), obs.face.as_ref(), matcher(&gallery, k)) {
                    match ev {
                        BoothEvent::VisitorArrived => counters.visitors += 1,
                        BoothEvent::Matched(r) => {
                            let rm = &gallery.role_models[r.index];
                            *counters.matches.entry(rm.id.clone()).or_default() += 1;
                            let mut fields = vec![("role_model", rm.id.clone()), ("similarity", format!("{:.4}", r.similarity))];
                            if let Some(label) = &obs.label {
                                fields.insert(0, ("visitor", label.clone()));
                            }
                            emit("match", &fields);
                        }
                        BoothEvent::VisitorLeft => {}
                    }
                }
                if obs.face.is_none() && obs.label.is_some() && matches!(machine.phase(), crate::booth::machine::Phase::Attract { .. }) {
                    emit("no_face", &[("visitor", obs.label.clone().unwrap_or_default())]);
                }
                changed = true;
            }
            _ = tick.tick() => {
                machine.tick(now());
                // Watchdog: only while the vision worker loops (it beats every 250 ms at most).
                let beat = heartbeat.load(Ordering::SeqCst);
                if start.elapsed().as_millis() as u64 - beat.min(start.elapsed().as_millis() as u64) < 5_000 {
                    notify(&[sd_notify::NotifyState::Watchdog]);
                }
                if saved_at.elapsed() > Duration::from_secs(60) {
                    counters.save(&config.state.dir);
                    saved_at = Instant::now();
                }
                match usb.tick() {
                    UsbTick::Finished { reload: true } => break Outcome::Reload,
                    UsbTick::Finished { reload: false } => {
                        // Back to the booth: a fresh start for whoever stands there now.
                        machine.reset(now());
                        last_scene_name.clear();
                    }
                    UsbTick::Busy => {}
                    UsbTick::Idle => usb_scene = usb.poll(&mut sig.seen, false),
                }
            }
        }
        if let Some(scene) = usb_scene {
            last_scene_name = scene.name().to_string();
            show(scene);
            continue;
        }
        if usb.busy() {
            // An update is on screen; the booth's own screens wait.
            continue;
        }
        let scene = if camera_ok {
            scene_for(&machine, now(), config.booth.showcase_seconds, gallery.role_models.len(), latest.as_ref(), config.gallery.also_like)
        } else {
            Scene::CameraLost
        };
        let showcase = if let Scene::Attract { showcase } = &scene { *showcase } else { None };
        if matches!(scene, Scene::Live { .. }) && changed || scene.name() != last_scene_name || showcase != last_showcase {
            last_scene_name = scene.name().to_string();
            last_showcase = showcase;
            show(scene);
        }
    };

    // Stop: camera and vision threads first, then the screen (blanked). STOPPING=1 only when the
    // process ends: on a reload systemd would take it as stopping and kill the booth after
    // TimeoutStopSec (it got RELOADING=1 from `daemon`).
    if matches!(outcome, Outcome::Exit(_)) {
        notify(&[sd_notify::NotifyState::Stopping]);
    }
    stop.store(true, Ordering::SeqCst);
    frames.close();
    drop(obs_rx);
    let deadline = Instant::now() + Duration::from_millis(1200);
    for h in [worker, capture] {
        while !h.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    scene_slot.close();
    let _ = display_thread.join();
    counters.save(&config.state.dir);
    if let Outcome::Exit(exit) = &outcome {
        emit("shutdown", &[("reason", format!("{exit:?}").to_lowercase())]);
    }
    Ok(outcome)
}
