//! The daemon's decisions over its whole life, without I/O: start-up, the running booth, the
//! service screen, USB updates, reloads and the exit are modes of one state machine, fed by the
//! one event loop ([`super::daemon`]) and answering with [`Effect`]s for it to carry out. The
//! clock is passed in (`now`, seconds since the daemon started), so the tests below drive the
//! whole life of a daemon on a fake clock.
//!
//! ```text
//!  configure ─▶ Starting ──loaded──▶ Opening ──screen open──▶ Running ──replay ended──▶ Draining
//!      ▲           │ failed             │ no screen               │                     │
//!      │           ▼                    ▼                         │                     ▼
//!      │        Servicing ◀─────────────┘                         │                    exit
//!      └── Restart (SIGHUP, an installed update, a screen that came) ◀─┘
//! ```
//!
//! The running booth's own decisions (visits, scenes, counters) are [`Core`]'s; this machine
//! holds it while the booth runs.

use super::core::{Action, Core};
use super::startup::{Progress, STALL};
use super::Exit;
use crate::booth::Observation;
use crate::camera::CameraStatus;
use crate::display::scene::Scene;
use crate::events::Event;
use crate::input::Gesture;
use crate::usb::Tick as UsbTick;

/// How often start-up feeds the watchdog and extends the start timeout while it makes progress.
pub const STARTUP_PING: f64 = 2.0;
/// How often a long start-up phase is logged again.
pub const STARTUP_LOG_EVERY: f64 = 15.0;
/// How long the first attempt to open the screen may take.
pub const DISPLAY_OPEN: f64 = 10.0;
/// How often the service screen tries a screen that did not open (at boot the framebuffer or the
/// DRM device can appear after the booth starts — found by the system test's power-cut reboots).
pub const DISPLAY_RETRY: f64 = 2.0;
/// After a non-looping replay ended, the frames still in analysis reach the booth for this long.
pub const DRAIN: f64 = 10.0;

/// A signal, as the daemon understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or SIGINT.
    Stop,
    /// SIGHUP: read the config again.
    Reload,
    /// SIGUSR1 (from the USB mount helper): look for sticks now.
    UsbNow,
}

/// The booth, loaded: its core and the fields of its `ready` event.
pub struct Ready {
    pub core: Core,
    pub fields: Vec<(&'static str, String)>,
}

/// What happened.
pub enum Input {
    /// Time passes (every 100 ms). `heartbeat`: when the vision worker last looped; `usb`: what
    /// the USB updater is doing (its [`crate::usb::Updater::tick`] at the same `now`).
    Tick {
        heartbeat: f64,
        usb: UsbTick,
    },
    Signal(Signal),
    /// Start-up's progress.
    Progress(Progress),
    /// Start-up ended: the booth (the loop holds its threads' parts), or every problem.
    Loaded(Result<Box<Ready>, Vec<String>>),
    /// The screen the loop was asked to open: open, or why not.
    Display(Result<(), String>),
    Camera(CameraStatus),
    Observation(Observation),
    /// The vision worker ended (after the camera stopped): nothing more to drain.
    Drained,
    /// An import's progress or outcome, to show.
    Usb(Scene),
    /// The visitor pressed or tapped (`screen`: the screen's size in pixels, for taps).
    Gesture {
        gesture: Gesture,
        screen: (u32, u32),
    },
}

/// What systemd should be told.
#[derive(Debug, Clone, PartialEq)]
pub enum Notify {
    /// Up (with a status line), healthy or not.
    Ready(String),
    Status(String),
    Watchdog,
    /// Start-up makes progress: more time to start.
    ExtendTimeout,
    Reloading,
    Stopping,
}

/// What the event loop should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A decision of the running booth (draw, event line, watchdog, counters, health).
    Booth(Action),
    /// Draw this scene (the service screen, an update's progress).
    Show(Scene),
    Emit(Event),
    Log(log::Level, String),
    Notify(Notify),
    /// Load models, gallery and screen assets (progress and result come back as inputs).
    StartLoading,
    /// Open the screen, waiting at most this many seconds (the result comes back as an input).
    OpenDisplay(f64),
    /// Start the camera, the vision worker and the input devices.
    StartCamera,
    /// Stop the camera; frames already in analysis still come.
    StopCamera,
    /// Tell the vision worker whether good faces should be embedded.
    Embed(bool),
    /// Look for USB sticks (`now_please`: at once, else when the poll interval is due).
    PollUsb {
        now_please: bool,
    },
    /// Stop everything and start over from the config file (SIGHUP, an installed update, a screen
    /// that came).
    Restart,
    /// Stop everything and end the process.
    Exit(Exit),
}

/// Start-up's bookkeeping.
struct Starting {
    started: f64,
    phase: &'static str,
    photos: usize,
    progressed: f64,
    logged: f64,
    pinged: f64,
    /// SIGHUP came while loading: start over once loaded.
    reload: bool,
}

/// The service screen's screen.
#[derive(Debug, Clone, PartialEq)]
enum Screen {
    Opening,
    Open,
    /// It did not open; tried again at `retry`.
    Failed {
        retry: f64,
    },
}

/// The service screen's bookkeeping.
struct Servicing {
    problems: Vec<String>,
    /// The screen was the booth's only problem: its arrival starts the booth.
    display_only: bool,
    screen: Screen,
    /// Why the screen did not open the last time it was tried (logged when it changes).
    failed: Option<String>,
    /// An update (or its outcome) is on screen.
    updating: bool,
}

enum Mode {
    Starting(Starting),
    /// Loaded; the screen is opening.
    Opening(Box<Ready>),
    Running(Box<Core>),
    /// A non-looping replay ended: the frames still in analysis reach the booth until `until`.
    Draining {
        core: Box<Core>,
        until: f64,
    },
    Servicing(Servicing),
    /// Restart or exit decided; the loop carries it out (and saves the core's counters).
    Done(Option<Box<Core>>),
}

/// The daemon's state machine.
pub struct Machine {
    mode: Mode,
    /// For the `config_reloaded` event.
    config_file: String,
}

impl Machine {
    /// A daemon for the config file `config_file` (its name, for events), before its config
    /// is read: [`Machine::configure`] comes next.
    pub fn new(config_file: String) -> Machine {
        Machine { mode: Mode::Done(None), config_file }
    }

    /// The config was read: load what it names, or show its problems.
    pub fn configure(&mut self, now: f64, config: Result<(), Vec<String>>) -> Vec<Effect> {
        match config {
            Ok(()) => {
                self.mode = Mode::Starting(Starting {
                    started: now,
                    phase: "starting",
                    photos: 0,
                    progressed: now,
                    logged: now,
                    pinged: now,
                    reload: false,
                });
                vec![Effect::StartLoading]
            }
            Err(problems) => self.service(problems, false),
        }
    }

    /// The running booth's core (its counters, to save them), while there is one.
    pub fn core(&self) -> Option<&Core> {
        match &self.mode {
            Mode::Running(core) | Mode::Draining { core, .. } | Mode::Done(Some(core)) => Some(core),
            Mode::Opening(ready) => Some(&ready.core),
            _ => None,
        }
    }

    /// Whether the mode waits for the vision worker's last frames.
    pub fn draining(&self) -> bool {
        matches!(self.mode, Mode::Draining { .. })
    }

    /// Takes one input at `now`.
    pub fn handle(&mut self, now: f64, input: Input) -> Vec<Effect> {
        let mode = std::mem::replace(&mut self.mode, Mode::Done(None));
        if let Input::Signal(Signal::Stop) = input {
            let core = match mode {
                Mode::Running(core) | Mode::Draining { core, .. } => Some(core),
                _ => None,
            };
            return self.exit(Exit::Stopped, core);
        }
        match mode {
            Mode::Starting(s) => self.starting(now, s, input),
            Mode::Opening(ready) => self.opening(ready, input),
            Mode::Running(core) => self.running(now, core, input),
            Mode::Draining { core, until } => self.draining_step(now, core, until, input),
            Mode::Servicing(s) => self.servicing(now, s, input),
            Mode::Done(core) => {
                self.mode = Mode::Done(core);
                Vec::new()
            }
        }
    }

    fn exit(&mut self, exit: Exit, core: Option<Box<Core>>) -> Vec<Effect> {
        self.mode = Mode::Done(core);
        vec![Effect::Notify(Notify::Stopping), Effect::Exit(exit)]
    }

    /// Start over from the config file; `reload` (SIGHUP, an update) says so to systemd and in
    /// the `config_reloaded` event.
    fn restart(&mut self, reload: bool, core: Option<Box<Core>>) -> Vec<Effect> {
        self.mode = Mode::Done(core);
        let mut effects = Vec::new();
        if reload {
            effects.push(Effect::Notify(Notify::Reloading));
            effects.push(Effect::Emit(Event::new("config_reloaded", vec![("file", self.config_file.clone())])));
        }
        effects.push(Effect::Restart);
        effects
    }

    fn starting(&mut self, now: f64, mut s: Starting, input: Input) -> Vec<Effect> {
        let mut effects = Vec::new();
        match input {
            Input::Progress(Progress::Phase(name)) => {
                (s.phase, s.progressed, s.logged) = (name, now, now);
                effects.push(Effect::Log(log::Level::Info, format!("start-up: {name}")));
                effects.push(Effect::Notify(Notify::Status(format!("starting: {name}"))));
            }
            Input::Progress(Progress::Photo) => {
                s.photos += 1;
                s.progressed = now;
                if s.photos == 1 {
                    effects.push(Effect::Log(
                        log::Level::Info,
                        "start-up: the gallery's index is missing or stale; embedding its photos".into(),
                    ));
                }
            }
            Input::Tick { .. } => {
                if now - s.pinged >= STARTUP_PING {
                    s.pinged = now;
                    // A hung load stops feeding the watchdog: systemd restarts it rather than
                    // waiting forever.
                    if now - s.progressed < STALL.as_secs_f64() {
                        effects.push(Effect::Notify(Notify::Watchdog));
                        effects.push(Effect::Notify(Notify::ExtendTimeout));
                    }
                }
                if now - s.logged >= STARTUP_LOG_EVERY {
                    s.logged = now;
                    let embedded = if s.photos > 0 { format!(", {} photos embedded", s.photos) } else { String::new() };
                    effects.push(Effect::Log(
                        log::Level::Info,
                        format!("start-up: still {} after {:.0} s{embedded}", s.phase, now - s.started),
                    ));
                }
            }
            Input::Signal(Signal::Reload) => s.reload = true,
            Input::Loaded(loaded) => {
                if s.reload {
                    return self.restart(true, None);
                }
                return match loaded {
                    Ok(ready) => {
                        self.mode = Mode::Opening(ready);
                        vec![
                            Effect::Log(log::Level::Info, format!("start-up: done in {:.1} s", now - s.started)),
                            Effect::OpenDisplay(DISPLAY_OPEN),
                        ]
                    }
                    Err(problems) => self.service(problems, false),
                };
            }
            _ => {}
        }
        self.mode = Mode::Starting(s);
        effects
    }

    fn opening(&mut self, ready: Box<Ready>, input: Input) -> Vec<Effect> {
        match input {
            Input::Display(Ok(())) => {
                let Ready { mut core, fields } = *ready;
                let mut effects = vec![Effect::StartCamera];
                effects.extend(core.start().into_iter().map(Effect::Booth));
                effects.push(Effect::Notify(Notify::Ready("running".into())));
                effects.push(Effect::Emit(Event::new("ready", fields)));
                effects.push(Effect::Embed(core.wants_embeddings()));
                self.mode = Mode::Running(Box::new(core));
                effects
            }
            Input::Display(Err(why)) => self.service(vec![format!("display: {why}")], true),
            Input::Signal(Signal::Reload) => self.restart(true, None),
            Input::Tick { .. } => {
                // The screen may take its time to open (DISPLAY_OPEN): the booth is alive.
                self.mode = Mode::Opening(ready);
                vec![Effect::Notify(Notify::Watchdog)]
            }
            _ => {
                self.mode = Mode::Opening(ready);
                Vec::new()
            }
        }
    }

    fn running(&mut self, now: f64, mut core: Box<Core>, input: Input) -> Vec<Effect> {
        let mut actions = Vec::new();
        let mut effects = Vec::new();
        match input {
            Input::Tick { heartbeat, usb } => {
                actions = core.tick(now, heartbeat);
                match usb {
                    UsbTick::Finished { reload: true } => {
                        effects.extend(actions.into_iter().map(Effect::Booth));
                        effects.extend(self.restart(true, Some(core)));
                        return effects;
                    }
                    UsbTick::Finished { reload: false } => actions.extend(core.update_finished(now)),
                    UsbTick::Busy => {}
                    UsbTick::Idle => effects.push(Effect::PollUsb { now_please: false }),
                }
            }
            Input::Signal(Signal::Reload) => return self.restart(true, Some(core)),
            Input::Signal(Signal::UsbNow) => effects.push(Effect::PollUsb { now_please: true }),
            Input::Usb(scene) => actions = core.update(scene),
            Input::Camera(CameraStatus::Ended) => {
                self.mode = Mode::Draining { core, until: now + DRAIN };
                return vec![Effect::StopCamera];
            }
            Input::Camera(status) => actions = core.camera(now, &status),
            Input::Observation(obs) => actions = core.observation(now, &obs),
            Input::Gesture { gesture, screen } => actions = core.gesture(now, gesture, screen),
            _ => {}
        }
        let mut all: Vec<Effect> = actions.into_iter().map(Effect::Booth).collect();
        all.extend(effects);
        all.push(Effect::Embed(core.wants_embeddings()));
        self.mode = Mode::Running(core);
        all
    }

    fn draining_step(&mut self, now: f64, mut core: Box<Core>, until: f64, input: Input) -> Vec<Effect> {
        let actions = match input {
            Input::Observation(obs) => core.observation(now, &obs),
            Input::Drained => return self.exit(Exit::ReplayEnded, Some(core)),
            Input::Tick { .. } if now >= until => return self.exit(Exit::ReplayEnded, Some(core)),
            _ => Vec::new(),
        };
        self.mode = Mode::Draining { core, until };
        actions.into_iter().map(Effect::Booth).collect()
    }

    /// The service screen: the booth cannot run as configured. Up, but not healthy — systemd is
    /// told READY with the first problem as status (no restart loop); a signed USB stick is still
    /// accepted (how a first gallery reaches a fresh install); SIGHUP tries again.
    fn service(&mut self, problems: Vec<String>, display_only: bool) -> Vec<Effect> {
        let first = problems.first().cloned().unwrap_or_default();
        let mut effects: Vec<Effect> = problems.iter().map(|p| Effect::Log(log::Level::Error, p.clone())).collect();
        effects.push(Effect::Emit(Event::new("service_needed", vec![("problems", problems.len().to_string()), ("first", first.clone())])));
        effects.push(Effect::OpenDisplay(DISPLAY_OPEN / 2.0));
        effects.push(Effect::Notify(Notify::Ready(format!("service needed: {first}"))));
        self.mode = Mode::Servicing(Servicing { problems, display_only, screen: Screen::Opening, failed: None, updating: false });
        effects
    }

    fn servicing(&mut self, now: f64, mut s: Servicing, input: Input) -> Vec<Effect> {
        let mut effects = Vec::new();
        let problems = |s: &Servicing| Effect::Show(Scene::Service { problems: s.problems.clone() });
        match input {
            Input::Display(Ok(())) => {
                if let Some(why) = s.failed.take() {
                    effects.push(Effect::Log(log::Level::Info, format!("display: the screen opens now (it did not: {why})")));
                }
                if s.display_only {
                    // The screen was the only problem: the booth can run after all.
                    effects.push(Effect::Log(log::Level::Info, "display: the screen opens now; starting the booth".into()));
                    effects.extend(self.restart(false, None));
                    return effects;
                }
                s.screen = Screen::Open;
                if !s.updating {
                    effects.push(problems(&s));
                }
            }
            Input::Display(Err(why)) => {
                let level = match &s.failed {
                    None => Some(log::Level::Error),
                    Some(before) if *before != why => Some(log::Level::Warn),
                    Some(_) => None,
                };
                if let Some(level) = level {
                    effects.push(Effect::Log(level, format!("display: {why} (trying again every {DISPLAY_RETRY} s)")));
                }
                s.failed = Some(why);
                s.screen = Screen::Failed { retry: now + DISPLAY_RETRY };
            }
            Input::Tick { usb, .. } => {
                effects.push(Effect::Notify(Notify::Watchdog));
                if let Screen::Failed { retry, .. } = &s.screen {
                    if now >= *retry && usb == UsbTick::Idle {
                        s.screen = Screen::Opening;
                        effects.push(Effect::OpenDisplay(1.0));
                    }
                }
                match usb {
                    UsbTick::Finished { reload: true } => return self.restart(true, None),
                    UsbTick::Finished { reload: false } => {
                        s.updating = false;
                        effects.push(problems(&s));
                    }
                    UsbTick::Busy => {}
                    UsbTick::Idle => effects.push(Effect::PollUsb { now_please: false }),
                }
            }
            Input::Usb(scene) => {
                s.updating = true;
                effects.push(Effect::Show(scene));
            }
            Input::Signal(Signal::Reload) => return self.restart(true, None),
            Input::Signal(Signal::UsbNow) => effects.push(Effect::PollUsb { now_please: true }),
            _ => {}
        }
        self.mode = Mode::Servicing(s);
        effects
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::booth::machine::FaceObs;
    use crate::config::{BoothSettings, Config};
    use crate::gallery::Gallery;
    use crate::service::counters::Counters;
    use crate::vision::embed::FaceCode;
    use crate::vision::RgbImage;

    fn ready() -> Box<Ready> {
        let gallery = Arc::new(Gallery::synthetic(&[("ann", vec![1.0, 0.0]), ("bo", vec![0.0, 1.0])]));
        let mut config = Config { booth: BoothSettings { matching_frames: 1, ..BoothSettings::default() }, ..Config::default() };
        config.gallery.variety = crate::gallery::variety::VarietySettings::OFF;
        let core = Core::new(&config, gallery, Counters::default(), Box::new(|| "2026-12-06".into()), 0.0);
        Box::new(Ready { core, fields: vec![("role_models", "2".into())] })
    }

    fn tick(usb: UsbTick) -> Input {
        Input::Tick { heartbeat: f64::NEG_INFINITY, usb }
    }

    /// The effects' names, for short assertions.
    fn names(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .map(|e| match e {
                Effect::Booth(Action::Show(s)) | Effect::Show(s) => format!("show {}", s.name()),
                Effect::Booth(Action::Emit(ev)) | Effect::Emit(ev) => format!("event {}", ev.name),
                Effect::Booth(a) => format!("{a:?}"),
                Effect::Notify(n) => format!("notify {n:?}"),
                Effect::Log(level, _) => format!("log {level}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn running() -> Machine {
        let mut m = Machine::new("/etc/rolemirror/rolemirror.toml".into());
        m.configure(0.0, Ok(()));
        m.handle(3.0, Input::Loaded(Ok(ready())));
        m.handle(3.1, Input::Display(Ok(())));
        m
    }

    #[test]
    fn start_up_feeds_the_watchdog_while_it_progresses_and_stops_when_it_hangs() {
        let mut m = Machine::new("c.toml".into());
        assert_eq!(names(&m.configure(0.0, Ok(()))), ["StartLoading"]);
        let e = m.handle(0.1, Input::Progress(Progress::Phase("loading models")));
        assert_eq!(e[1], Effect::Notify(Notify::Status("starting: loading models".into())));
        // Ticks every 100 ms after `from` up to `to` (seconds); the watchdog pings among them.
        let pings = |m: &mut Machine, from: f64, to: f64| {
            let (first, last) = ((from * 10.0).round() as i64 + 1, (to * 10.0).round() as i64);
            let mut n = 0;
            for k in first..=last {
                n += m.handle(k as f64 / 10.0, tick(UsbTick::Idle)).iter().filter(|e| **e == Effect::Notify(Notify::Watchdog)).count();
            }
            n
        };
        // Every 2 s while loading makes progress...
        assert_eq!(pings(&mut m, 0.1, 60.0), 30);
        // ...and not once the last progress is older than STALL.
        let stall = STALL.as_secs_f64();
        m.handle(60.0, Input::Progress(Progress::Photo));
        let before = pings(&mut m, 60.0, 60.0 + stall - 1.0);
        assert!(before >= (stall / 2.0) as usize - 2, "{before}");
        assert_eq!(pings(&mut m, 60.0 + stall + 1.0, 60.0 + stall + 30.0), 0, "a hung start-up is left to the watchdog");
        let e = m.handle(60.0 + stall + 40.0, Input::Loaded(Ok(ready())));
        assert_eq!(names(&e), ["log INFO", "OpenDisplay(10.0)"]);
    }

    #[test]
    fn a_loaded_booth_is_ready_once_its_screen_opens() {
        let mut m = Machine::new("c.toml".into());
        m.configure(0.0, Ok(()));
        m.handle(3.0, Input::Loaded(Ok(ready())));
        // The screen takes its time: the watchdog is fed meanwhile.
        assert!(m.handle(3.5, tick(UsbTick::Idle)).contains(&Effect::Notify(Notify::Watchdog)));
        let e = m.handle(4.0, Input::Display(Ok(())));
        assert_eq!(
            names(&e),
            ["StartCamera", "show camera-lost", "notify Ready(\"running\")", "event ready", "Embed(true)"],
            "READY means the screen works"
        );
        assert!(m.core().is_some());
    }

    #[test]
    fn a_screen_that_comes_late_restarts_the_booth() {
        let mut m = Machine::new("c.toml".into());
        m.configure(0.0, Ok(()));
        m.handle(3.0, Input::Loaded(Ok(ready())));
        let e = m.handle(13.0, Input::Display(Err("framebuffer /dev/fb0: No such file or directory".into())));
        assert_eq!(
            names(&e),
            [
                "log ERROR",
                "event service_needed",
                "OpenDisplay(5.0)",
                "notify Ready(\"service needed: display: framebuffer /dev/fb0: No such file or directory\")"
            ]
        );
        // Still no screen: tried again every 2 s, logged once.
        let e = m.handle(14.0, Input::Display(Err("framebuffer /dev/fb0: No such file or directory".into())));
        assert_eq!(names(&e), ["log ERROR"]);
        assert!(!names(&m.handle(15.0, tick(UsbTick::Idle))).contains(&"OpenDisplay(1.0)".to_string()));
        assert!(names(&m.handle(16.1, tick(UsbTick::Idle))).contains(&"OpenDisplay(1.0)".to_string()));
        assert!(m.handle(16.3, Input::Display(Err("framebuffer /dev/fb0: No such file or directory".into()))).is_empty());
        // Not while a USB import has the booth's attention.
        assert!(!names(&m.handle(18.4, tick(UsbTick::Busy))).contains(&"OpenDisplay(1.0)".to_string()));
        assert!(names(&m.handle(18.5, tick(UsbTick::Idle))).contains(&"OpenDisplay(1.0)".to_string()));
        // It opens: the screen was the only problem, so the booth starts over (not a reload).
        let e = m.handle(19.0, Input::Display(Ok(())));
        assert_eq!(names(&e), ["log INFO", "log INFO", "Restart"]);
    }

    #[test]
    fn a_failed_start_shows_its_problems_takes_a_stick_and_reloads_on_sighup() {
        let mut m = Machine::new("c.toml".into());
        let e = m.configure(0.0, Err(vec!["c.toml: camera.fps: 0 must be at least 1".into()]));
        assert_eq!(
            names(&e)[1..],
            ["event service_needed", "OpenDisplay(5.0)", "notify Ready(\"service needed: c.toml: camera.fps: 0 must be at least 1\")"]
        );
        assert_eq!(names(&m.handle(1.0, Input::Display(Ok(())))), ["show service"]);
        // The watchdog is fed; sticks are looked for.
        assert_eq!(names(&m.handle(1.1, tick(UsbTick::Idle))), ["notify Watchdog", "PollUsb { now_please: false }"]);
        assert_eq!(names(&m.handle(1.2, Input::Signal(Signal::UsbNow))), ["PollUsb { now_please: true }"]);
        // An import shows its progress; its refusal ends with the problems again.
        assert_eq!(
            names(&m.handle(1.3, Input::Usb(Scene::Update { title: "…".into(), lines: vec![], progress: Some(0.1) }))),
            ["show update"]
        );
        assert_eq!(names(&m.handle(1.4, tick(UsbTick::Busy))), ["notify Watchdog"]);
        assert_eq!(names(&m.handle(9.4, tick(UsbTick::Finished { reload: false }))), ["notify Watchdog", "show service"]);
        let e = m.handle(10.0, Input::Signal(Signal::Reload));
        assert_eq!(names(&e), ["notify Reloading", "event config_reloaded", "Restart"]);
        assert_eq!(e[1], Effect::Emit(Event::new("config_reloaded", vec![("file", "c.toml".into())])));
    }

    #[test]
    fn an_installed_update_reloads_and_sigterm_stops_in_every_mode() {
        let mut m = running();
        assert!(names(&m.handle(4.0, tick(UsbTick::Idle))).contains(&"PollUsb { now_please: false }".to_string()));
        let update = Scene::Update { title: "Updating".into(), lines: vec![], progress: Some(0.5) };
        assert_eq!(names(&m.handle(4.1, Input::Usb(update))), ["show update", "Embed(true)"]);
        let e = m.handle(9.0, tick(UsbTick::Finished { reload: true }));
        assert_eq!(names(&e)[names(&e).len() - 3..], ["notify Reloading", "event config_reloaded", "Restart"]);
        for mut m in [running(), Machine::new("c.toml".into())] {
            m.configure(0.0, Ok(()));
            assert_eq!(names(&m.handle(1.0, Input::Signal(Signal::Stop))), ["notify Stopping", "Exit(Stopped)"]);
            assert!(m.handle(1.1, tick(UsbTick::Idle)).is_empty(), "done: nothing more");
        }
    }

    #[test]
    fn sighup_while_loading_reloads_once_loaded() {
        let mut m = Machine::new("c.toml".into());
        m.configure(0.0, Ok(()));
        assert!(m.handle(1.0, Input::Signal(Signal::Reload)).is_empty());
        assert_eq!(names(&m.handle(2.0, Input::Loaded(Ok(ready())))), ["notify Reloading", "event config_reloaded", "Restart"]);
    }

    #[test]
    fn the_end_of_a_replay_drains_the_frames_in_analysis_then_exits() {
        let mut m = running();
        m.handle(4.0, Input::Camera(CameraStatus::Connected("replay".into())));
        assert_eq!(names(&m.handle(5.0, Input::Camera(CameraStatus::Ended))), ["StopCamera"]);
        assert!(m.draining());
        // The last frame still reaches the booth.
        let face = FaceObs {
            bbox: [10.0, 10.0, 50.0, 50.0],
            eye_fraction: 0.2,
            frontal: true,
            sharp: true,
            embedding: Some(FaceCode { identity: vec![0.0, 1.0], appearance: None }),
        };
        let obs = Observation { frame: Arc::new(RgbImage::new(4, 4)), mirror: false, face: Some(face), label: Some("bo.jpg".into()) };
        let e = m.handle(5.1, Input::Observation(obs));
        assert!(names(&e).contains(&"event match".to_string()), "{:?}", names(&e));
        assert_eq!(names(&m.handle(5.2, Input::Drained)), ["notify Stopping", "Exit(ReplayEnded)"]);
        // A worker that never ends is not waited for forever.
        let mut m = running();
        m.handle(5.0, Input::Camera(CameraStatus::Ended));
        assert!(m.handle(14.0, tick(UsbTick::Idle)).is_empty());
        assert_eq!(names(&m.handle(15.1, tick(UsbTick::Idle))), ["notify Stopping", "Exit(ReplayEnded)"]);
    }
}
