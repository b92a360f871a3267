//! What the screen shows, as pure data. The booth and the USB updater build scenes; the
//! renderer ([`super::render`]) draws them. Nothing here knows how a scene was chosen.

use std::sync::Arc;

use crate::gallery::likeness::Likeness;
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

/// The visitor as the camera sees them now, shown beside their match: the latest frame, their
/// face box in it (x, y, width, height in the frame's coordinates) and whether it is drawn
/// mirrored. Only the frame the booth already holds for the screen (nothing is copied or kept).
#[derive(Debug, Clone, PartialEq)]
pub struct Visitor {
    pub frame: Arc<RgbImage>,
    pub face: [f32; 4],
    pub mirror: bool,
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
    /// frame is made). `language`: the one the visitor chose (None: the configured one).
    /// `likely`: while matching, the role models the result would show if decided now (main
    /// match first, then the look-alikes; not drawn): the display thread loads their portraits
    /// after drawing this scene, so the result card does not wait for them
    /// ([`super::render::Assets::prefetch`]).
    Live {
        frame: Arc<RgbImage>,
        face: Option<[f32; 4]>,
        mirror: bool,
        guidance: Guidance,
        progress: Option<f32>,
        language: Option<String>,
        likely: Vec<usize>,
    },
    /// The role model card: the match shown (an index into the gallery's role models) with how
    /// alike they are in kind words, and up to two more. `rank` says which of the visitor's
    /// `choices` best matches is shown (0: the booth's own pick; "another match" goes on to the
    /// next); `language`: the one the visitor chose (None: the configured one). `visitor`: their
    /// live picture beside the match while a face is in the latest frame (None once they have
    /// left: the card alone).
    Result {
        best: usize,
        likeness: Likeness,
        others: Vec<(usize, Likeness)>,
        rank: usize,
        choices: usize,
        language: Option<String>,
        visitor: Option<Visitor>,
    },
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

    /// The language a visitor chose for this screen (None: the configured one).
    pub fn language(&self) -> Option<&str> {
        match self {
            Scene::Live { language, .. } | Scene::Result { language, .. } => language.as_deref(),
            _ => None,
        }
    }
}
