//! The booth's one frame step: frame → analyse ([`FrameAnalyser`]) → observe ([`Booth`]) →
//! scene. The daemon's vision worker and event loop, the demo and the bench all go through the
//! same analyser and the service's `Core`, which owns the booth, with the time passed in by the
//! caller: the daemon passes seconds since its start, the demo and bench a simulated clock.

use std::sync::Arc;

use super::analyze::{judge, StageTimes};
use super::machine::{BoothEvent, FaceObs, Machine, Phase};
use crate::config::BoothSettings;
use crate::display::scene::{Guidance, Scene, Visitor};
use crate::gallery::likeness::Likeness;
use crate::gallery::matcher::Mode;
use crate::gallery::variety::{Variety, VarietySettings};
use crate::gallery::Gallery;
use crate::vision::detect::iou;
use crate::vision::{choose_face, Face, FacePolicy, RgbImage, Vision};

/// One analysed camera frame.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The frame as the camera saw it; in memory only.
    pub frame: Arc<RgbImage>,
    /// Whether the screen shows `frame` mirrored (`camera.mirror`): the renderer flips it while
    /// drawing, with the face box.
    pub mirror: bool,
    /// The visitor's face, with its box in the coordinates of `frame`.
    pub face: Option<FaceObs>,
    /// Replay only: the file the frame came from (for demo and test events).
    pub label: Option<String>,
}

/// While a face is tracked, a full-frame detection runs at least every this many frames, so a
/// second visitor stepping in (larger or more central: [`FacePolicy::Visitor`]) is seen within
/// this many frames; the frames between look only in a region around the known face.
pub const FULL_FRAME_EVERY: u32 = 5;

/// How a frame's face was looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A full-frame detection at the configured (or `auto`) detector input.
    Full,
    /// The small tracking detector on a region around the face of the previous frame
    /// ([`Vision::faces_near`]).
    Tracked,
}

/// The face seen on the previous frame.
#[derive(Debug, Clone)]
struct Known {
    face: Face,
    /// The frame size it was seen in (a new size means a new camera mode: look everywhere).
    size: (u32, u32),
    /// Tracked frames since the last full-frame detection.
    tracked: u32,
}

/// Analyses a stream of camera frames with one detection per frame: a full-frame detection while
/// no face is known, when the tracked face was lost (on the frame after), and every
/// [`FULL_FRAME_EVERY`]th frame; on the frames between, the small tracking detector looks in a
/// region around the face of the previous frame. Each frame's face is then judged and, when
/// good, embedded once. With `full_every` 1 every frame is looked at on its own (a still photo).
/// Holds only the last face box and landmarks (no picture, no embedding).
#[derive(Debug, Clone)]
pub struct FrameAnalyser {
    known: Option<Known>,
    full_every: u32,
    last_kind: Option<FrameKind>,
    /// How long each stage of the last analysed frame took (the daemon's health report).
    last_times: StageTimes,
    /// Whether good faces are embedded (see [`FrameAnalyser::set_embedding`]).
    embed: bool,
}

impl Default for FrameAnalyser {
    fn default() -> Self {
        FrameAnalyser::new(FULL_FRAME_EVERY)
    }
}

impl FrameAnalyser {
    /// An analyser that runs a full-frame detection at least every `full_every` frames (1: on
    /// every frame, no tracking).
    pub fn new(full_every: u32) -> FrameAnalyser {
        FrameAnalyser { known: None, full_every: full_every.max(1), last_kind: None, last_times: StageTimes::default(), embed: true }
    }

    /// How the last analysed frame was looked at (None before the first).
    pub fn last_kind(&self) -> Option<FrameKind> {
        self.last_kind
    }

    /// How long the stages of the last analysed frame took (`None`: the stage did not run).
    pub fn last_times(&self) -> StageTimes {
        self.last_times
    }

    /// Whether the next frames' good faces are embedded. The booth needs no embedding once its
    /// result is decided (see [`super::machine::Phase::wants_embeddings`]): the face is then still
    /// found and tracked (a visitor leaving, another arriving) but not embedded.
    pub fn set_embedding(&mut self, wanted: bool) {
        self.embed = wanted;
    }

    /// Forgets the known face: the next frame gets a full-frame detection.
    pub fn reset(&mut self) {
        self.known = None;
    }

    /// Analyses the next frame of the stream (see [`FrameAnalyser`]): the visitor's face is
    /// chosen, judged and (when good) embedded on the frame as the camera saw it; `mirror` says
    /// whether the screen shows it flipped, as a mirror does (the renderer flips it while
    /// drawing). Its stage times are then in [`FrameAnalyser::last_times`].
    pub fn analyse(
        &mut self,
        vision: &Vision,
        frame: &Arc<RgbImage>,
        label: Option<String>,
        settings: &BoothSettings,
        mirror: bool,
    ) -> anyhow::Result<Observation> {
        self.last_times = StageTimes::default();
        let times = &mut self.last_times;
        let started = std::time::Instant::now();
        let size = frame.dimensions();
        let track = self.known.take().filter(|k| k.size == size && k.tracked + 1 < self.full_every);
        let (face, kind, tracked) = match track {
            Some(known) => {
                let near = vision.faces_near(frame, &known.face)?;
                (same_face(&near, &known.face).cloned(), FrameKind::Tracked, known.tracked + 1)
            }
            None => {
                let faces = vision.faces(frame)?;
                (choose_face(&faces, size.0, size.1, FacePolicy::Visitor).cloned(), FrameKind::Full, 0)
            }
        };
        self.last_kind = Some(kind);
        times.detect = Some(started.elapsed().as_secs_f64());
        let obs = match face {
            Some(face) => {
                let obs = judge(vision, frame, &face, settings, self.embed, times)?;
                self.known = Some(Known { face, size, tracked });
                Some(obs)
            }
            None => None,
        };
        Ok(Observation { frame: frame.clone(), mirror, face: obs, label })
    }
}

/// Of the faces found around `known`, the one that overlaps it most (None: none overlaps; the
/// face is lost and the next frame looks at the whole frame).
fn same_face<'a>(faces: &'a [Face], known: &Face) -> Option<&'a Face> {
    faces
        .iter()
        .map(|f| (iou(&f.bbox, &known.bbox), f))
        .filter(|(overlap, _)| *overlap > 0.0)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, f)| f)
}

/// The booth: the state machine, the latest frame for the mirror view, and the scenes.
pub struct Booth {
    machine: Machine,
    settings: BoothSettings,
    /// Further look-alikes on the result card.
    also_like: usize,
    /// Role models in the gallery (for the showcase).
    role_models: usize,
    /// Role models showcased in earlier attract phases: the next phase goes on from there, so
    /// every role model is shown in turn however short the pauses between visitors are.
    showcased: usize,
    /// The latest frame, and whether it is shown mirrored.
    latest: Option<(Arc<RgbImage>, bool)>,
    /// The face in the latest frame (None: nobody in it), for the visitor's picture beside the
    /// match: it goes with the first frame without them.
    seen: Option<[f32; 4]>,
    /// How often each role model was shown this run (the variety policy's only memory).
    variety: Variety,
    /// The gallery's matcher mode (the kind words' thresholds depend on it).
    mode: Mode,
    /// While matching: the role models the result would show if it were decided now (the main
    /// match first, then the look-alikes), for [`Scene::Live`]'s `likely`.
    likely: Vec<usize>,
}

/// How many of their best matches a visitor can go through with "another match" (the booth's
/// pick and the next by score; the result card shows `gallery.also_like` of the others).
pub const CHOICES: usize = 3;

impl Booth {
    /// A booth in Attract at `now`, for `gallery`, with the `variety` policy.
    pub fn new(settings: BoothSettings, also_like: usize, variety: VarietySettings, gallery: &Gallery, now: f64) -> Booth {
        Booth {
            machine: Machine::new(settings.clone(), now),
            settings,
            also_like,
            role_models: gallery.role_models.len(),
            showcased: 0,
            latest: None,
            seen: None,
            variety: Variety::for_gallery(gallery, variety),
            mode: gallery.settings.mode,
            likely: Vec::new(),
        }
    }

    /// Takes one analysed frame at `now`; when a match is due, ranks the gallery's role models
    /// (by index, best first) for the averaged face, the main match chosen by the variety policy.
    pub fn observe(&mut self, now: f64, obs: &Observation, gallery: &Gallery) -> Vec<BoothEvent> {
        self.latest = Some((obs.frame.clone(), obs.mirror));
        self.seen = obs.face.as_ref().map(|f| f.bbox);
        let k = (1 + self.also_like).max(CHOICES);
        let attract = self.attract_since();
        let variety = &mut self.variety;
        let events = self.machine.observe(now, obs.face.as_ref(), |code| gallery.rank_varied(code, k, variety));
        self.count_showcase(attract, now);
        self.likely = self.likely(gallery, k);
        events
    }

    /// While matching, the role models the result card would show (main match first, then the
    /// look-alikes) for the faces collected so far, chosen as the match will be: the variety
    /// policy on a copy of its memory, so nothing counts as shown. Empty in other phases.
    fn likely(&self, gallery: &Gallery, k: usize) -> Vec<usize> {
        if !matches!(self.machine.phase(), Phase::Matching { .. }) {
            return Vec::new();
        }
        let mut variety = self.variety.clone();
        let ranked = self.machine.likely(|code| gallery.rank_varied(code, k, &mut variety));
        ranked.into_iter().take(1 + self.also_like).map(|r| r.index).collect()
    }

    /// Advances time without a frame (timeouts).
    pub fn tick(&mut self, now: f64) -> Vec<BoothEvent> {
        let attract = self.attract_since();
        let events = self.machine.tick(now);
        self.count_showcase(attract, now);
        events
    }

    /// Back to Attract, forgetting the last frame (camera lost, an update shown).
    pub fn reset(&mut self, now: f64) {
        let attract = self.attract_since();
        self.machine.reset(now);
        self.count_showcase(attract, now);
        self.latest = None;
        self.seen = None;
    }

    /// When the current attract phase began (None: not in one).
    fn attract_since(&self) -> Option<f64> {
        match self.machine.phase() {
            Phase::Attract { since } => Some(*since),
            _ => None,
        }
    }

    /// Role models showcased in an attract phase from `since` up to `now` (the one on screen
    /// counts as shown).
    fn showcase_steps(&self, since: f64, now: f64) -> usize {
        ((now - since).max(0.0) / f64::from(self.settings.showcase_seconds.max(0.5))) as usize
    }

    /// After a step: if the attract phase that began at `before` has ended, the role models it
    /// showcased are counted, and the next phase goes on with the one after them.
    fn count_showcase(&mut self, before: Option<f64>, now: f64) {
        if let Some(since) = before {
            if self.attract_since() != Some(since) {
                self.showcased += self.showcase_steps(since, now) + 1;
            }
        }
    }

    pub fn phase(&self) -> &Phase {
        self.machine.phase()
    }

    /// The advice shown while tracking or matching.
    pub fn guidance(&self) -> Option<Guidance> {
        self.machine.current_guidance()
    }

    /// How many matches the visitor can be shown (0 outside the result).
    pub fn choices(&self) -> usize {
        match self.machine.phase() {
            Phase::Result { matches, .. } => matches.len(),
            _ => 0,
        }
    }

    /// The visitor acted on the result (another match, a language): it stays on screen as if it
    /// had just been shown.
    pub fn keep_result(&mut self, now: f64) {
        self.machine.keep_result(now);
    }

    /// What the screen shows at `now`; on the result card, the visitor's `rank`th best match as
    /// the main one (0: the booth's own pick; counted round), the others after it in their order.
    pub fn scene(&self, now: f64, rank: usize) -> Scene {
        let machine = &self.machine;
        match machine.phase() {
            Phase::Attract { since } => {
                let step = self.showcased + self.showcase_steps(*since, now);
                Scene::Attract { showcase: (self.role_models > 0).then(|| step % self.role_models) }
            }
            Phase::Tracking { .. } | Phase::Matching { .. } => match &self.latest {
                Some((frame, mirror)) => Scene::Live {
                    frame: frame.clone(),
                    face: machine.face_box(),
                    mirror: *mirror,
                    guidance: machine.current_guidance().unwrap_or(Guidance::HoldStill),
                    progress: matches!(machine.phase(), Phase::Matching { .. }).then(|| machine.matching_progress()),
                    language: None,
                    likely: self.likely.clone(),
                },
                None => Scene::Attract { showcase: None },
            },
            Phase::Result { matches, .. } if !matches.is_empty() => {
                let rank = rank % matches.len();
                let best = &matches[rank];
                let others = matches.iter().enumerate().filter(|(i, _)| *i != rank).take(self.also_like);
                Scene::Result {
                    best: best.index,
                    likeness: Likeness::of(best.similarity, self.mode),
                    others: others.map(|(_, m)| (m.index, Likeness::of(m.similarity, self.mode))).collect(),
                    rank,
                    choices: matches.len(),
                    language: None,
                    visitor: match (&self.latest, self.seen) {
                        (Some((frame, mirror)), Some(face)) => Some(Visitor { frame: frame.clone(), face, mirror: *mirror }),
                        _ => None,
                    },
                }
            }
            Phase::Result { .. } => Scene::Thanks,
            Phase::Cooldown { .. } => Scene::Thanks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::embed::FaceCode;

    fn frame() -> Arc<RgbImage> {
        Arc::new(RgbImage::from_fn(8, 4, |x, _| image::Rgb([x as u8 * 30, 0, 0])))
    }

    fn booth() -> Booth {
        let gallery = Gallery::synthetic(&[("a", vec![1.0, 0.0]), ("b", vec![0.0, 1.0]), ("c", vec![1.0, 1.0])]);
        Booth::new(
            BoothSettings { matching_frames: 1, showcase_seconds: 2.0, ..BoothSettings::default() },
            1,
            VarietySettings::default(),
            &gallery,
            0.0,
        )
    }

    fn found(x: f32) -> Face {
        Face { bbox: [x, 10.0, 40.0, 40.0], score: 0.9, landmarks: [[0.0; 2]; 5] }
    }

    #[test]
    fn the_tracked_face_is_the_one_overlapping_the_known_one_most() {
        let known = found(100.0);
        let faces = [found(150.0), found(110.0), found(300.0)];
        assert_eq!(same_face(&faces, &known).map(|f| f.bbox[0]), Some(110.0));
        assert_eq!(same_face(&[found(300.0)], &known).map(|f| f.bbox[0]), None, "no overlap: lost");
        assert!(same_face(&[], &known).is_none());
    }

    #[test]
    fn attract_showcases_the_role_models_in_turn() {
        let b = booth();
        let shown: Vec<Option<usize>> = [0.0, 1.9, 2.0, 4.1, 6.0]
            .iter()
            .map(|t| if let Scene::Attract { showcase } = b.scene(*t, 0) { showcase } else { None })
            .collect();
        assert_eq!(shown, vec![Some(0), Some(0), Some(1), Some(2), Some(0)]);
        // Pauses between visitors shorter than a showcase: each attract phase goes on with the next role model,
        // not from the first again (role model 0 on every pause, 1 and 2 never).
        let mut b = booth();
        let mut first = Vec::new();
        for visit in 0..4 {
            let t = f64::from(visit) * 10.0 + 1.0;
            if let Scene::Attract { showcase } = b.scene(t, 0) {
                first.push(showcase);
            }
            let face = FaceObs { bbox: [1.0, 1.0, 2.0, 2.0], eye_fraction: 0.01, frontal: true, sharp: true, embedding: None };
            b.observe(t, &Observation { frame: frame(), mirror: true, face: Some(face), label: None }, &Gallery::synthetic(&[]));
            b.reset(t + 8.5);
        }
        assert_eq!(first, vec![Some(0), Some(1), Some(2), Some(0)]);
        let empty = Booth::new(BoothSettings::default(), 2, VarietySettings::default(), &Gallery::synthetic(&[]), 0.0);
        assert_eq!(empty.scene(100.0, 0), Scene::Attract { showcase: None });
    }

    #[test]
    fn a_face_shows_the_mirror_view_with_its_box_and_advice() {
        let mut b = booth();
        let far = FaceObs { bbox: [1.0, 1.0, 2.0, 2.0], eye_fraction: 0.01, frontal: true, sharp: true, embedding: None };
        let obs = Observation { frame: frame(), mirror: true, face: Some(far), label: None };
        let gallery = Gallery::synthetic(&[]);
        assert_eq!(b.observe(1.0, &obs, &gallery), vec![BoothEvent::VisitorArrived]);
        match b.scene(1.0, 0) {
            Scene::Live { face, mirror, guidance, progress, .. } => {
                // The box in the camera's coordinates; the renderer flips it with the frame.
                assert_eq!((face, mirror, guidance, progress), (Some([1.0, 1.0, 2.0, 2.0]), true, Guidance::StepCloser, None));
            }
            other => panic!("{other:?}"),
        }
        // The camera goes away: back to attract, and the last frame is forgotten.
        b.reset(2.0);
        assert!(matches!(b.scene(2.0, 0), Scene::Attract { .. }));
        let good = FaceObs {
            eye_fraction: 0.2,
            embedding: Some(FaceCode { identity: vec![1.0], appearance: None }),
            ..obs.face.clone().expect("face")
        };
        b.observe(3.0, &Observation { face: Some(good), ..obs }, &gallery);
        assert!(matches!(b.phase(), Phase::Tracking { .. }), "an empty gallery never gives a result: {:?}", b.phase());
    }

    #[test]
    fn while_matching_the_live_scene_names_the_result_it_leads_to() {
        let gallery = Gallery::synthetic(&[("a", vec![1.0, 0.0]), ("b", vec![0.0, 1.0]), ("c", vec![1.0, 0.9])]);
        let settings = BoothSettings { matching_frames: 3, ..BoothSettings::default() };
        let mut b = Booth::new(settings, 1, VarietySettings::default(), &gallery, 0.0);
        let likely = |b: &Booth| match b.scene(1.0, 0) {
            Scene::Live { likely, .. } => likely,
            other => panic!("{other:?}"),
        };
        let seen = |x: f32, y: f32| {
            let embedding = Some(FaceCode { identity: crate::vision::embed::normalize(vec![x, y]).expect("unit"), appearance: None });
            let face = FaceObs { bbox: [2.0, 1.0, 3.0, 3.0], eye_fraction: 0.2, frontal: true, sharp: true, embedding };
            Observation { frame: frame(), mirror: true, face: Some(face), label: None }
        };
        // Tracking a face not yet good enough: nothing likely yet.
        let far = Observation { face: seen(1.0, 0.0).face.map(|f| FaceObs { eye_fraction: 0.01, ..f }), ..seen(1.0, 0.0) };
        b.observe(1.0, &far, &gallery);
        assert_eq!(likely(&b), Vec::<usize>::new());
        // The first good face leans to "a", the second (mean of both) to "c"; the result follows.
        b.observe(1.1, &seen(1.0, 0.0), &gallery);
        assert_eq!(likely(&b), vec![0, 2], "the main match, then one look-alike (also_like 1)");
        b.observe(1.2, &seen(0.3, 1.0), &gallery);
        assert_eq!(likely(&b), vec![2, 0]);
        b.observe(1.3, &seen(0.8, 0.9), &gallery);
        match b.scene(1.3, 0) {
            Scene::Result { best, others, .. } => {
                assert_eq!((best, others.iter().map(|o| o.0).collect::<Vec<_>>()), (2, vec![0]));
            }
            other => panic!("{other:?}"),
        }
        // Working out the likely match counted nothing as shown: only the result did.
        assert_eq!(b.variety.shown(), &[0, 0, 1]);
        assert!(b.likely.is_empty(), "nothing likely once decided");
    }

    #[test]
    fn the_result_shows_the_visitor_beside_the_match_until_a_frame_without_them() {
        let mut b = booth();
        let gallery = Gallery::synthetic(&[("a", vec![1.0, 0.0]), ("b", vec![0.0, 1.0]), ("c", vec![1.0, 1.0])]);
        let embedding = Some(FaceCode { identity: vec![1.0, 0.0], appearance: None });
        let face = FaceObs { bbox: [2.0, 1.0, 3.0, 3.0], eye_fraction: 0.2, frontal: true, sharp: true, embedding };
        let seen = Observation { frame: frame(), mirror: true, face: Some(face), label: None };
        b.observe(1.0, &seen, &gallery);
        b.observe(1.1, &seen, &gallery);
        let visitor = |b: &Booth, now| match b.scene(now, 0) {
            Scene::Result { visitor, .. } => visitor,
            other => panic!("{other:?}"),
        };
        assert_eq!(visitor(&b, 1.1), Some(Visitor { frame: frame(), face: [2.0, 1.0, 3.0, 3.0], mirror: true }));
        b.observe(1.2, &Observation { face: None, ..seen }, &gallery);
        assert_eq!(visitor(&b, 1.2), None, "gone with the first frame without them");
        assert!(matches!(b.phase(), Phase::Result { .. }), "the card stays: {:?}", b.phase());
    }
}
