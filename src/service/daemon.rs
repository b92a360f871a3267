//! The daemon's one event loop: a single `tokio::select!` over signals, start-up's progress, the
//! screen opening, the camera, analysed frames, USB imports and a 100 ms tick. Each input goes to
//! the state machine ([`Machine`]), and this module carries out the [`Effect`]s it returns: it
//! owns everything that does I/O — the config file, the loading thread, the screen, the capture
//! and vision threads ([`Pipeline`]), the USB updater, systemd's socket, the counters and the
//! health snapshot files. It reads the clock (seconds since the daemon started) and passes it in;
//! the machine decides.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, Signal as UnixSignal, SignalKind};
use tokio::sync::{mpsc, oneshot};

use super::core::{Action, Core};
use super::counters::{self, Counters};
use super::health::{self, Live, ModelVersion, SharedLive, Timings};
use super::machine::{Effect, Input, Machine, Notify, Ready, Signal};
use super::pipeline::Pipeline;
use super::startup::{self, Loaded, Progress};
use super::{notify, Exit};
use crate::camera::CameraStatus;
use crate::config::{Config, Texts};
use crate::display::render::Assets;
use crate::display::text::Fonts;
use crate::display::{self, DisplayError, DisplayThread};
use crate::events::emit;
use crate::input::Gesture;
use crate::usb::{Tick as UsbTick, Updater};
use crate::vision::Vision;

/// The signals the daemon reacts to.
struct Signals {
    term: UnixSignal,
    int: UnixSignal,
    hup: UnixSignal,
    /// SIGUSR1: look for USB sticks now (sent by the mount helper).
    usr1: UnixSignal,
}

/// Everything the loop owns; what one configuration needs is dropped at each restart.
struct Io {
    config_path: PathBuf,
    clock: Instant,
    sig: Signals,
    /// Sticks already handled (mount point → identity): outlives restarts, so a reload does not
    /// import the same stick again.
    seen: HashMap<PathBuf, String>,
    /// The config in use (after a config error, the parts of it that are valid).
    config: Config,
    /// Start-up, running on its own thread: its progress, and its result.
    progress: Option<mpsc::Receiver<Progress>>,
    loading: Option<oneshot::Receiver<Result<Loaded, Vec<String>>>>,
    loaded: Option<Loaded>,
    /// The service screen's fonts and texts, when the booth's own assets are not loaded.
    service_assets: Option<Arc<Assets>>,
    opening: Option<tokio::task::JoinHandle<Result<DisplayThread, DisplayError>>>,
    display: Option<DisplayThread>,
    pipeline: Option<Pipeline>,
    status: Option<mpsc::Receiver<CameraStatus>>,
    observations: Option<mpsc::Receiver<crate::booth::Observation>>,
    usb: Option<Updater>,
    /// The input devices' thread and its gestures (while the booth runs with `input.enabled`).
    #[cfg(target_os = "linux")]
    input: Option<crate::input::devices::InputThread>,
    gestures: Option<mpsc::Receiver<Gesture>>,
    live: Option<SharedLive>,
    timings: Arc<Mutex<Timings>>,
}

/// Waits for the next value of an optional channel; pending while there is none.
async fn next_of<T>(rx: Option<&mut mpsc::Receiver<T>>) -> Option<Option<T>> {
    match rx {
        Some(rx) => Some(rx.recv().await),
        None => std::future::pending().await,
    }
}

/// Runs the daemon until SIGTERM or the end of a non-looping replay.
pub(super) async fn daemon(config_path: &Path) -> anyhow::Result<Exit> {
    let sig = Signals {
        term: signal(SignalKind::terminate())?,
        int: signal(SignalKind::interrupt())?,
        hup: signal(SignalKind::hangup())?,
        usr1: signal(SignalKind::user_defined1())?,
    };
    let mut io = Io {
        config_path: config_path.to_path_buf(),
        clock: Instant::now(),
        sig,
        seen: HashMap::new(),
        config: Config::default(),
        progress: None,
        loading: None,
        loaded: None,
        service_assets: None,
        opening: None,
        display: None,
        pipeline: None,
        status: None,
        observations: None,
        usb: None,
        #[cfg(target_os = "linux")]
        input: None,
        gestures: None,
        live: None,
        timings: Arc::new(Mutex::new(Timings::default())),
    };
    let mut machine = Machine::new(config_path.display().to_string());
    let mut queue: VecDeque<Effect> = io.configure(&mut machine).into();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        while let Some(effect) = queue.pop_front() {
            match io.perform(effect, &mut machine).await {
                Step::Done => {}
                Step::Effects(more) => queue.extend(more),
                Step::Exit(exit) => return Ok(exit),
            }
        }
        if let (Some(p), Some(core)) = (&io.pipeline, machine.core()) {
            p.set_embedding(core.wants_embeddings());
        }
        let input = tokio::select! {
            _ = io.sig.term.recv() => Input::Signal(Signal::Stop),
            _ = io.sig.int.recv() => Input::Signal(Signal::Stop),
            _ = io.sig.hup.recv() => Input::Signal(Signal::Reload),
            _ = io.sig.usr1.recv() => Input::Signal(Signal::UsbNow),
            Some(p) = next_of(io.progress.as_mut()) => match p {
                Some(p) => Input::Progress(p),
                None => {
                    // The loading thread is done with its progress; its result follows.
                    io.progress = None;
                    continue;
                }
            },
            done = async { match io.loading.as_mut() { Some(done) => done.await, None => std::future::pending().await } } => {
                io.loading = None;
                let result = done.unwrap_or_else(|_| Err(vec!["start-up failed: the loading thread ended without a result".into()]));
                io.loaded_input(result)
            }
            opened = async { match io.opening.as_mut() { Some(h) => h.await, None => std::future::pending().await } } => {
                io.opening = None;
                Input::Display(match opened {
                    Ok(Ok(d)) => {
                        log::info!("display {}x{}", d.size.0, d.size.1);
                        io.display = Some(d);
                        Ok(())
                    }
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(format!("the display thread failed: {e}")),
                })
            }
            Some(status) = next_of(io.status.as_mut()) => match status {
                Some(status) => {
                    io.camera_health(&status);
                    Input::Camera(status)
                }
                None => {
                    io.status = None;
                    continue;
                }
            },
            Some(obs) = next_of(io.observations.as_mut()) => match obs {
                Some(obs) => {
                    // The step that ranks the gallery: its time is the match stage's.
                    let started = Instant::now();
                    let effects = machine.handle(io.now(), Input::Observation(obs));
                    if effects.iter().any(|e| matches!(e, Effect::Booth(Action::Emit(ev)) if ev.name == "match")) {
                        io.timings.lock().unwrap_or_else(|e| e.into_inner()).matched(started.elapsed().as_secs_f64());
                    }
                    queue.extend(effects);
                    continue;
                }
                None => {
                    // The vision worker ended: after the camera stopped, that is the end of the
                    // replay; otherwise the heartbeat stops and systemd's watchdog restarts us.
                    io.observations = None;
                    if !machine.draining() {
                        log::error!("vision: the worker stopped");
                        continue;
                    }
                    Input::Drained
                }
            },
            Some(gesture) = next_of(io.gestures.as_mut()) => match gesture {
                Some(gesture) => Input::Gesture { gesture, screen: io.display.as_ref().map_or((0, 0), |d| d.size) },
                None => {
                    io.gestures = None;
                    continue;
                }
            },
            Some(scene) = async { match io.usb.as_mut() { Some(u) if u.importing() => u.next().await, _ => std::future::pending().await } } => Input::Usb(scene),
            _ = tick.tick() => {
                let now = io.now();
                let usb = io.usb.as_mut().map_or(UsbTick::Idle, |u| u.tick(now));
                let heartbeat = io.pipeline.as_ref().map_or(now, Pipeline::heartbeat);
                Input::Tick { heartbeat, usb }
            }
        };
        queue.extend(machine.handle(io.now(), input));
    }
}

/// What carrying out one effect led to.
enum Step {
    Done,
    /// More effects (from an input the effect produced, or a restart).
    Effects(Vec<Effect>),
    Exit(Exit),
}

impl Io {
    fn now(&self) -> f64 {
        self.clock.elapsed().as_secs_f64()
    }

    /// Reads the config file and tells the machine: its problems, or go.
    fn configure(&mut self, machine: &mut Machine) -> Vec<Effect> {
        let now = self.now();
        match Config::load(&self.config_path) {
            Ok(config) => {
                startup::tidy_gallery_store(&config.gallery.dir);
                self.config = config;
                machine.configure(now, Ok(()))
            }
            Err(e) => {
                let problems: Vec<String> = e.problems.iter().map(|p| format!("{}: {p}", self.config_path.display())).collect();
                self.config = Config::lenient(&self.config_path);
                self.service_updater(&problems, None);
                machine.configure(now, Err(problems))
            }
        }
    }

    /// The service screen's health snapshot and USB updater (`current`: the config in use, when
    /// it is valid).
    fn service_updater(&mut self, problems: &[String], current: Option<Config>) {
        let state = format!("service screen: {}", problems.join("; "));
        let snapshot = health::new_snapshot(&self.config, &state, health::configured_models(&self.config), None);
        health::save_snapshot(&self.config.state_dir, &snapshot);
        let days = Counters::load(&self.config.state_dir).days;
        let live = Arc::new(Mutex::new(Live { snapshot, days }));
        self.usb = Some(updater(&self.config, &self.config_path, None, current, live.clone()));
        self.live = Some(live);
    }

    /// Start-up ended: the booth's health, updater and core, or the service screen's.
    fn loaded_input(&mut self, result: Result<Loaded, Vec<String>>) -> Input {
        let loaded = match result {
            Ok(loaded) => loaded,
            Err(problems) => {
                let current = Some(self.config.clone());
                self.service_updater(&problems, current);
                return Input::Loaded(Err(problems));
            }
        };
        // Start-up (model optimisation, gallery indexing) freed far more than the booth keeps:
        // give it back before running.
        crate::util::memory::release_free();
        let Loaded { config, vision, gallery, .. } = &loaded;
        let detector_sha = crate::models::Manifest::builtin().ok().and_then(|m| m.get(&vision.detector_id).ok().map(|s| s.sha256.clone()));
        let models = vec![
            ModelVersion { role: "detector".into(), id: vision.detector_id.clone(), sha256: detector_sha.unwrap_or_default() },
            ModelVersion { role: "embedder".into(), id: vision.embedder_id.id.clone(), sha256: vision.embedder_id.sha256.clone() },
        ];
        let snapshot = health::new_snapshot(config, "running", models, Some(gallery.role_models.len()));
        health::save_snapshot(&config.state_dir, &snapshot);
        let live = Arc::new(Mutex::new(Live { snapshot, days: Counters::load(&config.state_dir).days }));
        self.usb = Some(updater(config, &self.config_path, Some(vision.clone()), Some(config.clone()), live.clone()));
        self.live = Some(live);
        self.timings = Arc::new(Mutex::new(Timings::default()));
        let core = Core::new(config, gallery.clone(), Counters::load(&config.state_dir), Box::new(counters::today), self.now());
        let (dw, dh) = vision.detector_input();
        if let Some(a) = &vision.auto_input {
            let t: Vec<String> = a.timings.iter().map(ToString::to_string).collect();
            let how = if a.fits { "the largest within" } else { "the smallest: none is within" };
            log::info!("vision: detector input {dw}x{dh} (auto, {how} {} ms a full-frame detection): {}", a.budget_ms, t.join(", "));
        }
        let fields = vec![
            ("role_models", gallery.role_models.len().to_string()),
            ("embedder", vision.embedder_id.id.clone()),
            ("detector_input", format!("{dw}x{dh}")),
            ("detector_input_from", if vision.auto_input.is_some() { "auto" } else { "config" }.to_string()),
            ("precision", vision.precision().to_string()),
        ];
        self.loaded = Some(loaded);
        Input::Loaded(Ok(Box::new(Ready { core, fields })))
    }

    /// The camera's state in the live health values.
    fn camera_health(&self, status: &CameraStatus) {
        if let Some(live) = &self.live {
            let mut l = live.lock().unwrap_or_else(|e| e.into_inner());
            (l.snapshot.camera_connected, l.snapshot.camera_lost) = match status {
                CameraStatus::Connected(what) => (Some(what.clone()), None),
                CameraStatus::Lost(why) => (None, Some(why.clone())),
                CameraStatus::Ended => (None, None),
            };
        }
    }

    /// The assets scenes are drawn with: the booth's, else the service screen's (loaded on first
    /// use; `None` when the fonts cannot be read).
    fn assets(&mut self) -> Result<Arc<Assets>, String> {
        if let Some(l) = &self.loaded {
            return Ok(l.assets.clone());
        }
        if let Some(a) = &self.service_assets {
            return Ok(a.clone());
        }
        let d = &self.config.display;
        let fonts = Fonts::load(&d.font, &d.font_bold).map_err(|e| format!("display.font: {e}"))?;
        let assets = Arc::new(Assets::new(fonts, Texts::english(), None));
        self.service_assets = Some(assets.clone());
        Ok(assets)
    }

    fn show(&mut self, scene: crate::display::Scene) {
        if self.display.is_none() {
            return;
        }
        if let (Ok(assets), Some(d)) = (self.assets(), &self.display) {
            d.show(scene, &assets);
        }
    }

    /// Carries out one effect.
    async fn perform(&mut self, effect: Effect, machine: &mut Machine) -> Step {
        match effect {
            Effect::Booth(Action::Show(scene)) | Effect::Show(scene) => self.show(scene),
            Effect::Booth(Action::Emit(event)) | Effect::Emit(event) => event.emit(),
            Effect::Booth(Action::Watchdog) | Effect::Notify(Notify::Watchdog) => notify(&[sd_notify::NotifyState::Watchdog]),
            Effect::Booth(Action::SaveCounters) => {
                if let Some(core) = machine.core() {
                    core.counters().save(&self.config.state_dir);
                }
            }
            Effect::Booth(Action::Health { save }) => self.refresh_health(machine, save),
            Effect::Log(level, message) => log::log!(level, "{message}"),
            Effect::Notify(n) => match n {
                Notify::Ready(status) => notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(&status)]),
                Notify::Status(status) => notify(&[sd_notify::NotifyState::Status(&status)]),
                Notify::ExtendTimeout => notify(&[sd_notify::NotifyState::ExtendTimeoutUsec(30_000_000)]),
                Notify::Reloading => notify(&[sd_notify::NotifyState::Reloading]),
                Notify::Stopping => notify(&[sd_notify::NotifyState::Stopping]),
                Notify::Watchdog => unreachable!("handled above"),
            },
            Effect::StartLoading => self.start_loading(),
            Effect::OpenDisplay(seconds) => {
                if let Err(why) = self.assets() {
                    return Step::Effects(machine.handle(self.now(), Input::Display(Err(why))));
                }
                let (settings, timeout) = (self.config.display.clone(), Duration::from_secs_f64(seconds));
                self.opening = Some(tokio::task::spawn_blocking(move || display::start(&settings, timeout)));
            }
            Effect::StartCamera => {
                let started = self.loaded.as_ref().map(|l| Pipeline::start(&l.config, l.vision.clone(), self.clock, self.timings.clone()));
                match started {
                    Some(Ok((p, out))) => {
                        (self.status, self.observations) = (Some(out.status), Some(out.observations));
                        self.pipeline = Some(p);
                    }
                    Some(Err(e)) => log::error!("camera: cannot start the capture and vision threads: {e:#}"),
                    None => {}
                }
                self.start_input();
            }
            Effect::StopCamera => {
                if let Some(p) = &self.pipeline {
                    p.stop_camera();
                }
            }
            Effect::Embed(wanted) => {
                if let Some(p) = &self.pipeline {
                    p.set_embedding(wanted);
                }
            }
            Effect::PollUsb { now_please } => {
                let now = self.now();
                let scene = self.usb.as_mut().and_then(|u| u.poll(now, &mut self.seen, now_please));
                if let Some(scene) = scene {
                    return Step::Effects(machine.handle(now, Input::Usb(scene)));
                }
            }
            Effect::Restart => {
                self.teardown(machine).await;
                return Step::Effects(self.configure(machine));
            }
            Effect::Exit(exit) => {
                self.teardown(machine).await;
                emit("shutdown", &[("reason", exit.name().to_string())]);
                return Step::Exit(exit);
            }
        }
        Step::Done
    }

    /// Starts reading the visitor's input devices (`[input]`), when enabled. Gestures that come
    /// faster than the loop takes them are dropped (a queue of 16: a visitor's presses, not a
    /// stream).
    fn start_input(&mut self) {
        let Some(settings) = self.loaded.as_ref().map(|l| l.config.input.clone()).filter(|s| s.enabled) else { return };
        let (tx, rx) = mpsc::channel::<Gesture>(16);
        #[cfg(target_os = "linux")]
        match crate::input::devices::start(
            &settings,
            Box::new(move |g| {
                let _ = tx.try_send(g);
            }),
        ) {
            Ok(thread) => (self.input, self.gestures) = (Some(thread), Some(rx)),
            Err(e) => log::error!("input: cannot start the input thread: {e}"),
        }
        #[cfg(not(target_os = "linux"))]
        {
            log::info!("input: evdev devices need Linux; input.enabled does nothing here");
            drop((settings, tx, rx));
        }
    }

    /// Loads models, gallery and screen assets on a thread of its own.
    fn start_loading(&mut self) {
        let (progress_tx, progress) = mpsc::channel::<Progress>(64);
        let (done_tx, done) = oneshot::channel();
        let config = self.config.clone();
        let spawned = std::thread::Builder::new().name("start-up".into()).spawn(move || {
            let loaded = startup::load(&config, &|p| {
                // Photos are only counted: a full channel drops one rather than stall loading.
                let _ = match p {
                    Progress::Photo => progress_tx.try_send(p).map_err(|_| ()),
                    Progress::Phase(_) => progress_tx.blocking_send(p).map_err(|_| ()),
                };
            });
            let _ = done_tx.send(loaded);
        });
        match spawned {
            Ok(_) => (self.progress, self.loading) = (Some(progress), Some(done)),
            Err(e) => {
                let (tx, done) = oneshot::channel();
                let _ = tx.send(Err(vec![format!("start-up: cannot start the loading thread: {e}")]));
                self.loading = Some(done);
            }
        }
    }

    /// Copies the loop's live values into the health snapshot (for a stick's report) and, with
    /// `save`, writes the snapshot file (for `rolemirror report`). Timings, rates, counts and log
    /// lines: nothing about a visitor.
    fn refresh_health(&self, machine: &Machine, save: bool) {
        let (Some(live), Some(core)) = (&self.live, machine.core()) else { return };
        let (stages, (captured, analysed)) = {
            let t = self.timings.lock().unwrap_or_else(|e| e.into_inner());
            (t.stages(), t.rates())
        };
        let snapshot = {
            let mut l = live.lock().unwrap_or_else(|e| e.into_inner());
            l.snapshot.stages = stages;
            (l.snapshot.captured_fps, l.snapshot.analysed_fps) = (captured, analysed);
            l.snapshot.updated_unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            l.snapshot.warnings = crate::util::logring::recent();
            l.days.clone_from(&core.counters().days);
            save.then(|| l.snapshot.clone())
        };
        if let Some(s) = snapshot {
            health::save_snapshot(&self.config.state_dir, &s);
        }
    }

    /// Ends one configuration: the counters and the health snapshot saved first, then the camera
    /// and vision threads stopped, then the screen (blanked).
    async fn teardown(&mut self, machine: &Machine) {
        (self.status, self.observations, self.gestures) = (None, None, None);
        // What must outlive the process first: systemd's stop timeout may end the rest (the
        // counters change only in this loop, so nothing the pipeline still does alters them).
        if let Some(core) = machine.core() {
            core.counters().save(&self.config.state_dir);
            self.refresh_health(machine, true);
        }
        if let Some(p) = self.pipeline.take() {
            p.stop();
        }
        #[cfg(target_os = "linux")]
        if let Some(input) = self.input.take() {
            input.stop();
        }
        if let Some(opening) = self.opening.take() {
            // Its own timeout bounds the wait; a screen that opened meanwhile is closed again.
            if let Ok(Ok(d)) = opening.await {
                self.display = Some(d);
            }
        }
        if let Some(d) = self.display.take() {
            d.stop();
        }
        // A loading thread still running (SIGTERM during start-up) is left to end with the
        // process.
        (self.progress, self.loading, self.loaded) = (None, None, None);
        self.service_assets = None;
        self.usb = None;
        self.live = None;
    }
}

/// The USB [`Updater`] for a booth: `vision` when the booth has its models loaded, else they are
/// loaded when an import needs them. Every stick with a `ROLEMIRROR/` folder gets a health report
/// from `live`.
fn updater(config: &Config, config_path: &Path, vision: Option<Arc<Vision>>, current: Option<Config>, live: SharedLive) -> Updater {
    let options = config.vision.clone();
    let source: crate::usb::VisionSource = match vision {
        Some(v) => Arc::new(move || Ok(v.clone())),
        None => Arc::new(move || Vision::open(&options).map(Arc::new)),
    };
    Updater::new(config.usb.clone(), config_path, current, &config.gallery.dir, source, config.texts.clone()).with_health(health::source(
        config_path,
        config,
        live,
    ))
}
