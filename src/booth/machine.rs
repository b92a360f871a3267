//! The booth state machine: Attract → Tracking → Matching → Result → Cooldown → Attract.
//!
//! Pure: time comes in as seconds (`now`) with each observation or tick, so tests drive it with
//! a fake clock. It holds the embeddings of the frames it is averaging only until the match is
//! made, and never hands them out. Matching goes through a closure (the gallery's top-k), so the
//! machine knows nothing of models or files.

use crate::config::BoothConfig;
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

/// Advice to the visitor while tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guidance {
    StepCloser,
    LookAtCamera,
    HoldStill,
}

/// One ranked role model (index into the gallery's role models) with its cosine similarity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub index: usize,
    pub similarity: f32,
}

/// Where the booth is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Attract { since: f64 },
    Tracking { guidance: Guidance },
    Matching { started: f64, collected: usize },
    Result { since: f64, matches: Vec<Ranked> },
    Cooldown { since: f64 },
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
    cfg: BoothConfig,
    phase: Phase,
    last_face_at: Option<f64>,
    /// An observation without the face came after `last_face_at`: only then can the visitor
    /// have left (on a slow CPU the next frame may take longer than `face_lost_seconds`).
    empty_since_face: bool,
    face_box: Option<[f32; 4]>,
    collected: Vec<FaceCode>,
}

/// Judges a face: the advice it needs, or `None` when it is good to match.
pub fn guidance(face: &FaceObs, cfg: &BoothConfig) -> Option<Guidance> {
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
    pub fn new(cfg: BoothConfig, now: f64) -> Machine {
        Machine {
            cfg,
            phase: Phase::Attract { since: now },
            last_face_at: None,
            empty_since_face: false,
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

    /// Replaces the timings and thresholds (config reload) without changing the phase.
    pub fn set_config(&mut self, cfg: BoothConfig) {
        self.cfg = cfg;
    }

    /// Back to Attract (camera lost, gallery replaced).
    pub fn reset(&mut self, now: f64) {
        self.phase = Phase::Attract { since: now };
        self.collected.clear();
        self.face_box = None;
        self.last_face_at = None;
    }

    fn face_gone(&self, now: f64) -> bool {
        self.last_face_at.is_none_or(|t| self.empty_since_face && now - t > f64::from(self.cfg.face_lost_seconds))
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
            Phase::Matching { started, .. } if now - started > f64::from(self.cfg.matching_timeout_seconds) => {
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
        let Some(face) = face else {
            self.empty_since_face = true;
            events.extend(self.tick(now));
            return events;
        };
        // A box that jumps to another place is another person: start again.
        let same_person = self.face_box.is_none_or(|b| iou(&b, &face.bbox) > 0.1);
        self.face_box = Some(face.bbox);
        self.last_face_at = Some(now);
        self.empty_since_face = false;
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
                let started = match self.phase {
                    Phase::Matching { started, .. } => started,
                    _ => now,
                };
                self.collected.push(embedding.clone());
                if self.collected.len() >= self.cfg.matching_frames.max(1) {
                    let mean = FaceCode::mean(&self.collected);
                    self.collected.clear();
                    let matches = mean.map(|m| matcher(&m)).unwrap_or_default();
                    if let Some(best) = matches.first() {
                        events.push(BoothEvent::Matched(*best));
                        self.phase = Phase::Result { since: now, matches };
                    } else {
                        self.phase = Phase::Tracking { guidance: Guidance::HoldStill };
                    }
                } else {
                    self.phase = Phase::Matching { started, collected: self.collected.len() };
                }
            }
            (advice, _) => {
                let guidance = advice.unwrap_or(Guidance::HoldStill);
                match self.phase {
                    Phase::Matching { started, collected } if now - started <= f64::from(self.cfg.matching_timeout_seconds) => {
                        // Keep what was collected; a bad frame in between is normal.
                        self.phase = Phase::Matching { started, collected };
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

    fn cfg() -> BoothConfig {
        BoothConfig { matching_frames: 3, ..BoothConfig::default() }
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
        let mut m = Machine::new(BoothConfig { matching_frames: 1, ..BoothConfig::default() }, 0.0);
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
    fn frames_slower_than_the_grace_time_do_not_end_the_visit() {
        // A slow CPU: 4 s per frame. Between frames nothing says the visitor left.
        let mut m = Machine::new(cfg(), 0.0);
        m.observe(1.0, Some(&good(100.0)), matcher);
        m.tick(4.9);
        assert!(matches!(m.phase(), Phase::Matching { collected: 1, .. }), "{:?}", m.phase());
        m.observe(5.0, Some(&good(101.0)), matcher);
        m.tick(8.9);
        let ev = m.observe(9.0, Some(&good(102.0)), matcher);
        assert_eq!(ev, vec![BoothEvent::Matched(Ranked { index: 4, similarity: 0.5 })]);
        // The frame that shows the empty room does.
        m.observe(20.0, None, matcher);
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
        let mut m = Machine::new(BoothConfig { matching_frames: 1, ..BoothConfig::default() }, 0.0);
        let ev = m.observe(1.0, Some(&good(100.0)), |_| Vec::new());
        assert!(!ev.iter().any(|e| matches!(e, BoothEvent::Matched(_))));
        assert!(matches!(m.phase(), Phase::Tracking { .. }));
    }
}
