//! The booth on a simulated clock: frames from a replay (photos, a scripted visit) analysed on
//! the caller's thread with the daemon's [`FrameAnalyser`] and stepped through the daemon's
//! [`Core`] — what `rolemirror demo` and `rolemirror bench` run, so that they show and measure
//! exactly what the booth does (tracking, variety, the scenes, the events). Only the clock and
//! the threads differ: the caller says how much time passes before each frame or tick.

use std::sync::Arc;

use super::core::{Action, Core};
use super::counters::Counters;
use crate::booth::{FrameAnalyser, Observation};
use crate::camera::CameraStatus;
use crate::config::Config;
use crate::gallery::Gallery;
use crate::vision::{RgbImage, Vision};

/// A booth driven by its caller's clock.
pub struct Simulated<'a> {
    core: Core,
    analyser: FrameAnalyser,
    vision: &'a Vision,
    config: &'a Config,
    now: f64,
}

impl<'a> Simulated<'a> {
    /// A booth for `gallery` with `config`'s booth, camera-mirror, result-card and variety
    /// settings, at time 0, and its first screen. Counters start at zero and are not saved.
    pub fn new(vision: &'a Vision, gallery: Arc<Gallery>, config: &'a Config) -> (Simulated<'a>, Vec<Action>) {
        let mut core = Core::new(config, gallery, Counters::default(), Box::new(super::counters::today), 0.0);
        let first = core.start();
        (Simulated { core, analyser: FrameAnalyser::default(), vision, config, now: 0.0 }, first)
    }

    /// The simulated time, in seconds.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// The booth's core (its phase, its counters).
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The analyser (how the last frame was looked at, its stage times).
    pub fn analyser(&self) -> &FrameAnalyser {
        &self.analyser
    }

    /// The camera connected or went away, `dt` seconds after the last step.
    pub fn camera(&mut self, dt: f64, status: &CameraStatus) -> Vec<Action> {
        self.now += dt;
        if matches!(status, CameraStatus::Lost(_)) {
            self.analyser.reset();
        }
        self.core.camera(self.now, status)
    }

    /// The next camera frame, `dt` seconds after the last step: analysed as the vision worker
    /// does (embedding only while the booth wants one), then taken by the booth. `label` names
    /// a replayed file in the events.
    pub fn frame(&mut self, dt: f64, image: &Arc<RgbImage>, label: Option<String>) -> anyhow::Result<(Observation, Vec<Action>)> {
        self.now += dt;
        self.analyser.set_embedding(self.core.wants_embeddings());
        let obs = self.analyser.analyse(self.vision, image, label, &self.config.booth, self.config.camera.mirror)?;
        let actions = self.core.observation(self.now, &obs);
        Ok((obs, actions))
    }

    /// The visitor presses or taps, `dt` seconds after the last step, on a screen of `screen`.
    pub fn gesture(&mut self, dt: f64, gesture: crate::input::Gesture, screen: (u32, u32)) -> Vec<Action> {
        self.now += dt;
        self.core.gesture(self.now, gesture, screen)
    }

    /// Time passes without a frame (`dt` seconds): timeouts. The vision worker counts as alive.
    pub fn tick(&mut self, dt: f64) -> Vec<Action> {
        self.now += dt;
        self.core.tick(self.now, self.now)
    }
}

/// The event of `name` among `actions`, if any.
pub fn event<'b>(actions: &'b [Action], name: &str) -> Option<&'b crate::events::Event> {
    actions.iter().find_map(|a| match a {
        Action::Emit(e) if e.name == name => Some(e),
        _ => None,
    })
}
