//! What the screen shows, as pure data. The booth and the USB updater build scenes; the
//! renderer ([`super::render`]) draws them. Nothing here knows how a scene was chosen.

use std::sync::Arc;

use crate::vision::RgbImage;

/// Advice to the visitor while the booth tracks their face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guidance {
    StepCloser,
    LookAtCamera,
    HoldStill,
}

impl Guidance {
    /// The name in event lines (`advice=step_closer`).
    pub fn name(self) -> &'static str {
        match self {
            Guidance::StepCloser => "step_closer",
            Guidance::LookAtCamera => "look_at_camera",
            Guidance::HoldStill => "hold_still",
        }
    }
}

/// One screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Scene {
    /// Nobody there: a slow showcase of the gallery and an invitation. `showcase` indexes the
    /// gallery's role models (None: empty gallery).
    Attract { showcase: Option<usize> },
    /// The visitor, the face framed, with advice; `progress` while matching. `face` is in
    /// `frame`'s coordinates (x, y, width, height); with `mirror` the renderer draws the frame
    /// flipped left to right, as a mirror shows it, and the box with it (no flipped copy of the
    /// frame is made).
    Live { frame: Arc<RgbImage>, face: Option<[f32; 4]>, mirror: bool, guidance: Guidance, progress: Option<f32> },
    /// The role model card: best match (an index into the gallery's role models) with its
    /// look-alike percentage, and up to two more.
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
