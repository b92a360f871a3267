//! The booth state machine: Attract → Tracking → Matching → Result → Cooldown → Attract.
//!
//! Pure: time comes in as seconds (`now`) with each observation or tick, so tests drive it with
//! a fake clock. It holds the embeddings of the frames it is averaging only until the match is
//! made, and never hands them out. Matching goes through a closure (the gallery's top-k), so the
//! machine knows nothing of models or files.

use crate::config::BoothSettings;
pub use crate::display::scene::Guidance;
pub use crate::gallery::matcher::Ranked;
use crate::vision::detect::iou;
use crate::vision::embed::FaceCode;

/// What the vision worker saw of the chosen face in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceObs {
    /// Face box in frame coordinates (x, y, w, h).
    pub bbox: [f32; 4],
    /// Eye distance over frame width.
    pub eye_fraction: f32,
    pub frontal: bool,
    pub sharp: bool,
    /// The embedding (identity and appearance), present when the face was good enough to embed.
    pub embedding: Option<FaceCode>,
}

/// Where the booth is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Attract {
        since: f64,
    },
    Tracking {
        guidance: Guidance,
    },
    /// Collecting good frames; `last_good` is when the last one came.
    Matching {
        last_good: f64,
        collected: usize,
    },
    Result {
        since: f64,
        matches: Vec<Ranked>,
    },
    Cooldown {
        since: f64,
    },
}

impl Phase {
    /// Whether a face's embedding can still change anything: not once the result is decided
    /// (Result and Cooldown only look at where the face is, see [`Machine::observe`]).
    pub fn wants_embeddings(&self) -> bool {
        !matches!(self, Phase::Result { .. } | Phase::Cooldown { .. })
    }
}

/// Something worth an event line.
#[derive(Debug, Clone, PartialEq)]
pub enum BoothEvent {
    VisitorArrived,
    Matched(Ranked),
    VisitorLeft,
}

/// The state machine.
pub struct Machine {
    cfg: BoothSettings,
    phase: Phase,
    last_face_at: Option<f64>,
    /// When the last frame was analysed (with or without a face).
    last_frame_at: Option<f64>,
    face_box: Option<[f32; 4]>,
    collected: Vec<FaceCode>,
}

/// Judges a face: the advice it needs, or `None` when it is good to match.
pub fn guidance(face: &FaceObs, cfg: &BoothSettings) -> Option<Guidance> {
    if face.eye_fraction < cfg.min_eye_fraction {
        Some(Guidance::StepCloser)
    } else if !face.frontal {
        Some(Guidance::LookAtCamera)
    } else if !face.sharp || face.embedding.is_none() {
        Some(Guidance::HoldStill)
    } else {
        None
    }
}

impl Machine {
    /// A machine in Attract at time `now`.
    pub fn new(cfg: BoothSettings, now: f64) -> Machine {
        Machine {
            cfg,
            phase: Phase::Attract { since: now },
            last_face_at: None,
            last_frame_at: None,
            face_box: None,
            collected: Vec::new(),
        }
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The tracked face's box, while there is one.
    pub fn face_box(&self) -> Option<[f32; 4]> {
        self.face_box
    }

    /// Progress of matching, 0..1.
    pub fn matching_progress(&self) -> f32 {
        match self.phase {
            Phase::Matching { collected, .. } => collected as f32 / self.cfg.matching_frames.max(1) as f32,
            _ => 0.0,
        }
    }

    /// While matching: how `matcher` ranks the role models for the embeddings collected so far
    /// (the match the visitor will probably get, so that its portraits can be loaded before it
    /// is decided). Empty in every other phase. The embeddings stay inside, as for the match.
    pub fn likely(&self, matcher: impl FnOnce(&FaceCode) -> Vec<Ranked>) -> Vec<Ranked> {
        match self.phase {
            Phase::Matching { .. } => FaceCode::mean(&self.collected).map(|m| matcher(&m)).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Replaces the timings and thresholds (config reload) without changing the phase.
    pub fn set_config(&mut self, cfg: BoothSettings) {
        self.cfg = cfg;
    }

    /// The visitor acted on the result: its minimum and maximum time count from `now` again.
    pub fn keep_result(&mut self, now: f64) {
        if let Phase::Result { since, .. } = &mut self.phase {
            *since = now;
        }
    }

    /// Back to Attract (camera lost, gallery replaced).
    pub fn reset(&mut self, now: f64) {
        self.phase = Phase::Attract { since: now };
        self.collected.clear();
        self.face_box = None;
        self.last_face_at = None;
        self.last_frame_at = None;
    }

    /// The face is gone when frames analysed after it was last seen showed nobody, for longer
    /// than `face_lost_seconds`. No frame is no evidence: on a slow CPU (a Pi 3, an emulator)
    /// frames may come further apart than that while the visitor stands still.
    fn face_gone(&self, now: f64) -> bool {
        match self.last_face_at {
            None => true,
            Some(t) => now - t > f64::from(self.cfg.face_lost_seconds) && self.last_frame_at.is_some_and(|f| f > t),
        }
    }

    /// Advances time without a new frame (timeouts).
    pub fn tick(&mut self, now: f64) -> Vec<BoothEvent> {
        let mut events = Vec::new();
        match &self.phase {
            Phase::Tracking { .. } | Phase::Matching { .. } if self.face_gone(now) => {
                self.collected.clear();
                self.face_box = None;
                self.phase = Phase::Attract { since: now };
                events.push(BoothEvent::VisitorLeft);
            }
            Phase::Matching { last_good, .. } if now - last_good > f64::from(self.cfg.matching_timeout_seconds) => {
                self.collected.clear();
                self.phase = Phase::Tracking { guidance: Guidance::HoldStill };
            }
            Phase::Result { since, .. } => {
                let shown = now - since;
                if shown >= f64::from(self.cfg.result_max_seconds)
                    || (shown >= f64::from(self.cfg.result_min_seconds) && self.face_gone(now))
                {
                    self.collected.clear();
                    self.face_box = None;
                    self.phase = Phase::Cooldown { since: now };
                    events.push(BoothEvent::VisitorLeft);
                }
            }
            Phase::Cooldown { since } if now - since >= f64::from(self.cfg.cooldown_seconds) => {
                self.last_face_at = None;
                self.phase = Phase::Attract { since: now };
            }
            _ => {}
        }
        events
    }

    /// Takes one processed frame. `matcher` ranks role models for an averaged embedding.
    pub fn observe(&mut self, now: f64, face: Option<&FaceObs>, matcher: impl FnOnce(&FaceCode) -> Vec<Ranked>) -> Vec<BoothEvent> {
        let mut events = Vec::new();
        self.last_frame_at = Some(now);
        let Some(face) = face else {
            events.extend(self.tick(now));
            return events;
        };
        // A box that jumps to another place is another person: start again.
        let same_person = self.face_box.is_none_or(|b| iou(&b, &face.bbox) > 0.1);
        self.face_box = Some(face.bbox);
        self.last_face_at = Some(now);
        match &self.phase {
            Phase::Attract { .. } => {
                self.phase = Phase::Tracking { guidance: guidance(face, &self.cfg).unwrap_or(Guidance::HoldStill) };
                events.push(BoothEvent::VisitorArrived);
                self.consider(now, face, matcher, &mut events);
            }
            Phase::Tracking { .. } | Phase::Matching { .. } => {
                if !same_person {
                    self.collected.clear();
                    self.phase = Phase::Tracking { guidance: Guidance::HoldStill };
                }
                self.consider(now, face, matcher, &mut events);
            }
            Phase::Result { .. } | Phase::Cooldown { .. } => {
                if !same_person {
                    // The previous visitor has gone; let the timers run out as if so.
                    self.last_face_at = None;
                }
                events.extend(self.tick(now));
                if !same_person {
                    self.last_face_at = Some(now);
                }
            }
        }
        events
    }

    fn consider(&mut self, now: f64, face: &FaceObs, matcher: impl FnOnce(&FaceCode) -> Vec<Ranked>, events: &mut Vec<BoothEvent>) {
        let advice = guidance(face, &self.cfg);
        match (advice, &face.embedding) {
            (None, Some(embedding)) => {
                self.collected.push(embedding.clone());
                if self.collected.len() >= self.cfg.matching_frames.max(1) {
                    let mean = FaceCode::mean(&self.collected);
                    self.collected.clear();
                    let matches = mean.map(|m| matcher(&m)).unwrap_or_default();
                    if let Some(best) = matches.first() {
                        events.push(BoothEvent::Matched(best.clone()));
                        self.phase = Phase::Result { since: now, matches };
                    } else {
                        self.phase = Phase::Tracking { guidance: Guidance::HoldStill };
                    }
                } else {
                    self.phase = Phase::Matching { last_good: now, collected: self.collected.len() };
                }
            }
            (advice, _) => {
                let guidance = advice.unwrap_or(Guidance::HoldStill);
                match self.phase {
                    Phase::Matching { last_good, collected } if now - last_good <= f64::from(self.cfg.matching_timeout_seconds) => {
                        // Keep what was collected; a bad frame in between is normal.
                        self.phase = Phase::Matching { last_good, collected };
                    }
                    _ => {
                        self.collected.clear();
                        self.phase = Phase::Tracking { guidance };
                    }
                }
            }
        }
    }

    /// The advice to show while tracking or matching.
    pub fn current_guidance(&self) -> Option<Guidance> {
        match self.phase {
            Phase::Tracking { guidance } => Some(guidance),
            Phase::Matching { .. } => Some(Guidance::HoldStill),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BoothSettings {
        BoothSettings { matching_frames: 3, ..BoothSettings::default() }
    }

    fn good(x: f32) -> FaceObs {
        FaceObs {
            bbox: [x, 100.0, 120.0, 150.0],
            eye_fraction: 0.1,
            frontal: true,
            sharp: true,
            embedding: Some(FaceCode { identity: vec![1.0, 0.0], appearance: None }),
        }
    }

    fn matcher(e: &FaceCode) -> Vec<Ranked> {
        assert!((e.identity[0] - 1.0).abs() < 1e-6);
        vec![Ranked { index: 4, similarity: 0.5 }, Ranked { index: 1, similarity: 0.3 }]
    }

    /// Embeddings are wanted until the result is decided; after it, faces without one (what the
    /// vision worker then sends) take the machine through the same phases as faces with one.
    #[test]
    fn no_embedding_is_wanted_once_the_result_is_decided() {
        let (mut m, mut without) = (Machine::new(cfg(), 0.0), Machine::new(cfg(), 0.0));
        assert!(m.phase().wants_embeddings());
        for machine in [&mut m, &mut without] {
            machine.observe(1.0, Some(&FaceObs { eye_fraction: 0.01, ..good(100.0) }), matcher);
            assert!(matches!(machine.phase(), Phase::Tracking { .. }) && machine.phase().wants_embeddings());
            machine.observe(1.1, Some(&good(100.0)), matcher);
            assert!(matches!(machine.phase(), Phase::Matching { .. }) && machine.phase().wants_embeddings());
            machine.observe(1.2, Some(&good(100.0)), matcher);
            machine.observe(1.3, Some(&good(100.0)), matcher);
            assert!(matches!(machine.phase(), Phase::Result { .. }));
        }
        let bare = FaceObs { embedding: None, ..good(100.0) };
        let mut t = 1.4;
        while !matches!(m.phase(), Phase::Attract { .. }) {
            assert!(!m.phase().wants_embeddings(), "{:?}", m.phase());
            // The visitor stays 40 s, then leaves.
            let (a, b) = if t < 40.0 { (Some(good(100.0)), Some(bare.clone())) } else { (None, None) };
            assert_eq!(m.observe(t, a.as_ref(), matcher), without.observe(t, b.as_ref(), matcher));
            assert_eq!(std::mem::discriminant(m.phase()), std::mem::discriminant(without.phase()), "at {t}");
            t += 0.1;
            assert!(t < 200.0, "the booth returns to attract");
        }
        assert!(matches!(without.phase(), Phase::Attract { .. }) && m.phase().wants_embeddings());
    }

    #[test]
    fn full_visit_with_a_fake_clock() {
        let mut m = Machine::new(cfg(), 0.0);
        assert!(matches!(m.phase(), Phase::Attract { .. }));
        // A face too far away: tracking with advice, no matching.
        let far = FaceObs { eye_fraction: 0.01, ..good(100.0) };
        let ev = m.observe(1.0, Some(&far), matcher);
        assert_eq!(ev, vec![BoothEvent::VisitorArrived]);
        assert_eq!(m.current_guidance(), Some(Guidance::StepCloser));
        // Turned away.
        m.observe(1.1, Some(&FaceObs { frontal: false, ..good(100.0) }), matcher);
        assert_eq!(m.current_guidance(), Some(Guidance::LookAtCamera));
        // Three good frames (one bad one in between is tolerated) give a result.
        m.observe(1.2, Some(&good(101.0)), matcher);
        assert_eq!(m.matching_progress(), 1.0 / 3.0);
        m.observe(1.3, Some(&FaceObs { sharp: false, ..good(102.0) }), matcher);
        assert!(matches!(m.phase(), Phase::Matching { collected: 1, .. }));
        m.observe(1.4, Some(&good(103.0)), matcher);
        let ev = m.observe(1.5, Some(&good(104.0)), matcher);
        assert_eq!(ev, vec![BoothEvent::Matched(Ranked { index: 4, similarity: 0.5 })]);
        assert!(matches!(m.phase(), Phase::Result { .. }));
        // The result stays while the visitor stays, even past the minimum...
        for i in 0..20 {
            m.observe(2.0 + f64::from(i), Some(&good(104.0)), matcher);
        }
        assert!(matches!(m.phase(), Phase::Result { .. }));
        // ...but not past the maximum.
        m.observe(31.6, Some(&good(104.0)), matcher);
        assert!(matches!(m.phase(), Phase::Cooldown { .. }));
        m.tick(33.0);
        assert!(matches!(m.phase(), Phase::Cooldown { .. }));
        m.tick(34.7);
        assert!(matches!(m.phase(), Phase::Attract { .. }));
    }

    #[test]
    fn result_ends_after_the_minimum_once_the_visitor_leaves() {
        let mut m = Machine::new(BoothSettings { matching_frames: 1, ..BoothSettings::default() }, 0.0);
        m.observe(1.0, Some(&good(100.0)), matcher);
        assert!(matches!(m.phase(), Phase::Result { .. }));
        m.observe(2.0, None, matcher);
        m.tick(5.0);
        assert!(matches!(m.phase(), Phase::Result { .. }), "minimum time not over");
        let ev = m.tick(9.1);
        assert_eq!(ev, vec![BoothEvent::VisitorLeft]);
        assert!(matches!(m.phase(), Phase::Cooldown { .. }));
    }

    #[test]
    fn losing_the_face_goes_back_to_attract_after_the_grace_time() {
        let mut m = Machine::new(cfg(), 0.0);
        m.observe(1.0, Some(&good(100.0)), matcher);
        m.observe(1.5, None, matcher);
        assert!(matches!(m.phase(), Phase::Matching { .. }), "a blink is not leaving");
        m.tick(2.6);
        assert!(matches!(m.phase(), Phase::Attract { .. }));
    }

    #[test]
    fn frames_slower_than_the_grace_time_still_give_a_match() {
        // A Pi 3 or an emulated CPU: 3 s per frame, more than face_lost_seconds (1.5) apart.
        let mut m = Machine::new(BoothSettings { matching_frames: 5, ..BoothSettings::default() }, 0.0);
        let mut matched = Vec::new();
        for i in 0..5 {
            let t = 1.0 + 3.0 * f64::from(i);
            m.tick(t - 1.0);
            matched.extend(m.observe(t, Some(&good(100.0)), matcher));
            m.tick(t + 0.5);
        }
        assert_eq!(matched.last(), Some(&BoothEvent::Matched(Ranked { index: 4, similarity: 0.5 })), "{:?} {:?}", matched, m.phase());
        // Only a frame that shows nobody ends the visit.
        assert!(matches!(m.phase(), Phase::Result { .. }));
        m.observe(30.0, None, matcher);
        assert!(matches!(m.phase(), Phase::Cooldown { .. }), "{:?}", m.phase());
    }

    #[test]
    fn another_person_restarts_the_collection() {
        let mut m = Machine::new(cfg(), 0.0);
        m.observe(1.0, Some(&good(100.0)), matcher);
        m.observe(1.1, Some(&good(101.0)), matcher);
        assert!(matches!(m.phase(), Phase::Matching { collected: 2, .. }));
        m.observe(1.2, Some(&good(500.0)), matcher);
        assert!(matches!(m.phase(), Phase::Matching { collected: 1, .. }), "{:?}", m.phase());
    }

    #[test]
    fn matching_times_out_to_tracking() {
        let mut m = Machine::new(cfg(), 0.0);
        m.observe(1.0, Some(&good(100.0)), matcher);
        for i in 1..=100 {
            m.observe(1.0 + f64::from(i) * 0.1, Some(&FaceObs { sharp: false, ..good(100.0) }), matcher);
        }
        assert!(matches!(m.phase(), Phase::Tracking { .. }), "{:?}", m.phase());
    }

    #[test]
    fn an_empty_gallery_never_shows_a_result() {
        let mut m = Machine::new(BoothSettings { matching_frames: 1, ..BoothSettings::default() }, 0.0);
        let ev = m.observe(1.0, Some(&good(100.0)), |_| Vec::new());
        assert!(!ev.iter().any(|e| matches!(e, BoothEvent::Matched(_))));
        assert!(matches!(m.phase(), Phase::Tracking { .. }));
    }
}
