//! What the screen shows, as pure data: built from the state machine and the latest frame,
//! drawn by [`crate::display::render`].

use std::sync::Arc;

use super::machine::{Guidance, Machine, Phase};
use crate::vision::RgbImage;

/// One screen.
#[derive(Debug, Clone)]
pub enum Scene {
    /// Nobody there: a slow showcase of the gallery and an invitation. `showcase` indexes the
    /// gallery's role models (None: empty gallery).
    Attract { showcase: Option<usize> },
    /// The visitor as in a mirror, the face framed, with advice; `progress` while matching.
    Live { frame: Arc<RgbImage>, face: Option<[f32; 4]>, guidance: Guidance, progress: Option<f32> },
    /// The role model card: best match, and up to two more.
    Result { best: usize, percent: u8, others: Vec<(usize, u8)> },
    /// Between visitors.
    Thanks,
    /// No frames from the camera.
    CameraLost,
    /// The booth cannot run as configured; each line a problem.
    Service { problems: Vec<String> },
    /// A USB update in progress or just finished.
    Update { title: String, lines: Vec<String>, progress: Option<f32> },
}

impl Scene {
    /// A short name (for file names of PNG screens and for logs).
    pub fn name(&self) -> &'static str {
        match self {
            Scene::Attract { .. } => "attract",
            Scene::Live { progress: Some(_), .. } => "matching",
            Scene::Live { .. } => "tracking",
            Scene::Result { .. } => "result",
            Scene::Thanks => "thanks",
            Scene::CameraLost => "camera-lost",
            Scene::Service { .. } => "service",
            Scene::Update { .. } => "update",
        }
    }
}

/// The scene for the machine's state at `now`. `role_models` is the gallery size; `frame` the
/// latest camera frame (already mirrored for display); `also_like` how many further matches the
/// result card shows.
pub fn scene_for(
    machine: &Machine,
    now: f64,
    showcase_seconds: f32,
    role_models: usize,
    frame: Option<&Arc<RgbImage>>,
    also_like: usize,
) -> Scene {
    match machine.phase() {
        Phase::Attract { since } => {
            let step = ((now - since).max(0.0) / f64::from(showcase_seconds.max(0.5))) as usize;
            Scene::Attract { showcase: (role_models > 0).then(|| step % role_models) }
        }
        Phase::Tracking { .. } | Phase::Matching { .. } => match frame {
            Some(frame) => Scene::Live {
                frame: frame.clone(),
                face: machine.face_box(),
                guidance: machine.current_guidance().unwrap_or(Guidance::HoldStill),
                progress: matches!(machine.phase(), Phase::Matching { .. }).then(|| machine.matching_progress()),
            },
            None => Scene::Attract { showcase: None },
        },
        Phase::Result { matches, .. } => match matches.first() {
            Some(best) => Scene::Result {
                best: best.index,
                percent: crate::gallery::matcher::display_percent(best.similarity),
                others: matches
                    .iter()
                    .skip(1)
                    .take(also_like)
                    .map(|m| (m.index, crate::gallery::matcher::display_percent(m.similarity)))
                    .collect(),
            },
            None => Scene::Thanks,
        },
        Phase::Cooldown { .. } => Scene::Thanks,
    }
}
