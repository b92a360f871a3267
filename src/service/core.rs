//! The running booth's decisions, without I/O: what the screen shows, which event lines are
//! written, when systemd's watchdog is fed and when the counters are saved — from the camera's
//! status, analysed frames, the visitor's gestures (button, touch), USB updates and the time. The event loop ([`super::running`]) turns
//! threads, channels and signals into calls here and carries out the returned [`Action`]s; the
//! tests below drive it on a fake clock.

use std::sync::Arc;

use super::counters::Counters;
use super::health::SNAPSHOT_EVERY;
use crate::booth::machine::{BoothEvent, Phase};
use crate::booth::{Booth, Observation};
use crate::camera::CameraStatus;
use crate::config::Config;
use crate::display::hit::{self, Target};
use crate::display::scene::{Guidance, Scene};
use crate::events::Event;
use crate::gallery::Gallery;
use crate::input::Gesture;

/// What the event loop should do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Draw this scene.
    Show(Scene),
    /// Write this event line.
    Emit(Event),
    /// Tell systemd's watchdog the booth is alive.
    Watchdog,
    /// Write the counters to the state directory.
    SaveCounters,
    /// Copy the loop's live values (stage times, rates, counters) into the health snapshot;
    /// with `save`, also write the snapshot file for `rolemirror report`.
    Health { save: bool },
}

/// The vision worker must have looped within this many seconds for the watchdog to be fed (it
/// loops at least every 250 ms, with or without frames).
pub const HEARTBEAT_TIMEOUT: f64 = 5.0;
/// The counters are written at most this often (seconds), and at shutdown.
pub const SAVE_EVERY: f64 = 60.0;
/// The live health values are refreshed this often (seconds).
pub const HEALTH_EVERY: f64 = 1.0;

/// Today's local date (`YYYY-MM-DD`), for the per-day counters: the wall clock, which may step
/// (a Pi without a real-time clock sets its time when the network comes); the timers never use it.
pub type Today = Box<dyn Fn() -> String + Send>;

/// The current visitor, for the events of their visit.
#[derive(Debug, Default)]
struct Visit {
    /// They have been shown a role model.
    matched: bool,
    /// Replay only: the file their frames came from.
    label: Option<String>,
    /// The last advice the booth gave them.
    advice: Option<Guidance>,
    /// Which of their best matches they are shown (0: the booth's pick; "another match" adds one).
    rank: usize,
    /// The language they chose, as an index into the booth's languages (0: the configured one).
    language: usize,
}

/// What identifies a screen: its name, the role model it shows (the showcase, the main match),
/// the visitor's rank of the match, their language, and whether their picture is beside it.
type Shown = (&'static str, Option<usize>, usize, Option<String>, bool);

/// The running booth's state besides the state machine.
pub struct Core {
    booth: Booth,
    gallery: Arc<Gallery>,
    counters: Counters,
    today: Today,
    /// `None` between visits.
    visit: Option<Visit>,
    camera_ok: bool,
    /// A camera loss was reported while no camera had ever connected (reported once).
    lost_reported: bool,
    /// The scene last shown (the same screen is not redrawn).
    shown: Option<Shown>,
    /// The codes of the languages a visitor can switch to, the configured one first.
    languages: Vec<String>,
    saved_at: f64,
    health_at: f64,
    snapshot_at: f64,
    /// A USB update (or its outcome) is on screen: the booth's own screens and frames wait.
    updating: bool,
}

impl Core {
    /// A core at `now` for `gallery` with the booth, result-card and variety settings of
    /// `config`. The only place a [`Booth`] is made: the daemon, `rolemirror demo` and
    /// `rolemirror bench` all step the booth through a `Core`. [`Core::start`] gives its first
    /// screen.
    pub fn new(config: &Config, gallery: Arc<Gallery>, counters: Counters, today: Today, now: f64) -> Core {
        let booth = Booth::new(config.booth.clone(), config.gallery.also_like, config.gallery.variety, &gallery, now);
        Core {
            booth,
            gallery,
            counters,
            today,
            visit: None,
            camera_ok: false,
            lost_reported: false,
            shown: None,
            languages: config.languages.iter().map(|(code, _)| code.clone()).collect(),
            saved_at: now,
            health_at: now,
            snapshot_at: now,
            updating: false,
        }
    }

    /// The first screen, once there is a screen: "camera not connected" until the camera
    /// delivers.
    pub fn start(&mut self) -> Vec<Action> {
        self.shown = Some(shown(&Scene::CameraLost));
        vec![Action::Show(Scene::CameraLost)]
    }

    /// Whether the vision worker should still embed faces (see [`Phase::wants_embeddings`]).
    pub fn wants_embeddings(&self) -> bool {
        self.booth.phase().wants_embeddings()
    }

    /// The booth's phase (for drivers that script a visit: the demo, the bench).
    pub fn phase(&self) -> &Phase {
        self.booth.phase()
    }

    /// The counters (to save them).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The camera connected or went away.
    pub fn camera(&mut self, now: f64, status: &CameraStatus) -> Vec<Action> {
        let mut actions = Vec::new();
        match status {
            CameraStatus::Connected(what) => {
                self.camera_ok = true;
                actions.push(Action::Emit(Event::new("camera_connected", vec![("camera", what.clone())])));
            }
            CameraStatus::Lost(why) => {
                if self.camera_ok || !self.lost_reported {
                    actions.push(Action::Emit(Event::new("camera_lost", vec![("reason", why.clone())])));
                    self.lost_reported = true;
                }
                self.camera_ok = false;
                self.booth.reset(now);
                self.visit = None;
            }
            // The replay ended: the event loop stops.
            CameraStatus::Ended => {}
        }
        actions.extend(self.refresh(now, true));
        actions
    }

    /// One analysed frame from the vision worker.
    pub fn observation(&mut self, now: f64, obs: &Observation) -> Vec<Action> {
        if self.updating {
            return Vec::new();
        }
        let mut actions = Vec::new();
        for ev in self.booth.observe(now, obs, &self.gallery) {
            match ev {
                BoothEvent::VisitorArrived => {
                    self.visit = Some(Visit { label: obs.label.clone(), ..Visit::default() });
                    self.counters.visitor(&(self.today)());
                }
                BoothEvent::Matched(r) => {
                    let rm = &self.gallery.role_models[r.index];
                    self.counters.matched(&rm.id, &(self.today)());
                    let mut fields = vec![("role_model", rm.id.clone()), ("similarity", format!("{:.4}", r.similarity))];
                    let visit = self.visit.get_or_insert_with(Visit::default);
                    visit.matched = true;
                    if let Some(label) = visit.label.clone().or_else(|| obs.label.clone()) {
                        fields.insert(0, ("visitor", label));
                    }
                    actions.push(Action::Emit(Event::new("match", fields)));
                }
                BoothEvent::VisitorLeft => actions.extend(self.left()),
            }
        }
        if let Some(visit) = self.visit.as_mut() {
            visit.advice = self.booth.guidance().or(visit.advice);
        }
        // Replayed files (demo data, tests) name the frames that showed nobody.
        if let (None, Some(label), Phase::Attract { .. }) = (&obs.face, &obs.label, self.booth.phase()) {
            actions.push(Action::Emit(Event::new("no_face", vec![("visitor", label.clone())])));
        }
        actions.extend(self.refresh(now, true));
        actions
    }

    /// Time passes (the event loop ticks every 100 ms). `heartbeat` is when the vision worker
    /// last looped, on the same clock.
    pub fn tick(&mut self, now: f64, heartbeat: f64) -> Vec<Action> {
        let mut actions = Vec::new();
        for ev in self.booth.tick(now) {
            if ev == BoothEvent::VisitorLeft {
                actions.extend(self.left());
            }
        }
        if now - heartbeat < HEARTBEAT_TIMEOUT {
            actions.push(Action::Watchdog);
        }
        if now - self.saved_at >= SAVE_EVERY {
            self.saved_at = now;
            actions.push(Action::SaveCounters);
        }
        if now - self.health_at >= HEALTH_EVERY {
            self.health_at = now;
            let save = now - self.snapshot_at >= SNAPSHOT_EVERY.as_secs_f64();
            if save {
                self.snapshot_at = now;
            }
            actions.push(Action::Health { save });
        }
        actions.extend(self.refresh(now, false));
        actions
    }

    /// A USB update shows its progress or outcome: it has the screen until [`Core::update_finished`].
    pub fn update(&mut self, scene: Scene) -> Vec<Action> {
        self.updating = true;
        self.shown = Some(shown(&scene));
        vec![Action::Show(scene)]
    }

    /// The update's outcome was shown (nothing to reload): a fresh start for whoever stands there.
    pub fn update_finished(&mut self, now: f64) -> Vec<Action> {
        self.updating = false;
        self.shown = None;
        self.booth.reset(now);
        self.visit = None;
        self.refresh(now, true).into_iter().collect()
    }

    /// A visitor's gesture (button, key or tap; a tap's place as fractions of a screen of
    /// `screen` pixels). "Another match" shows the next of their best matches on the result;
    /// "language" switches to the next language until they leave. Outside a visit (attract,
    /// thanks) and while an update has the screen, gestures do nothing. Counted per day, never
    /// logged with anything of the visitor.
    pub fn gesture(&mut self, now: f64, gesture: Gesture, screen: (u32, u32)) -> Vec<Action> {
        if self.updating || !self.camera_ok || self.visit.is_none() {
            return Vec::new();
        }
        let target = match gesture {
            Gesture::Next => Target::AnotherMatch,
            Gesture::Language => Target::Language,
            Gesture::Tap { x, y } => {
                let scene = self.scene(now);
                match hit::hit(&scene, screen, x * screen.0 as f32, y * screen.1 as f32) {
                    Some(t) => t,
                    None => return Vec::new(),
                }
            }
        };
        let choices = self.booth.choices();
        let (languages, today) = (self.languages.len(), (self.today)());
        let Some(visit) = self.visit.as_mut() else { return Vec::new() };
        let event = match target {
            Target::AnotherMatch if choices > 1 => {
                visit.rank = (visit.rank + 1) % choices;
                self.counters.another_match(&today);
                Event::new("another_match", vec![("rank", (visit.rank + 1).to_string()), ("of", choices.to_string())])
            }
            Target::Language if languages > 1 => {
                visit.language = (visit.language + 1) % languages;
                self.counters.language(&today);
                Event::new("language", vec![("language", self.languages[visit.language].clone())])
            }
            _ => return Vec::new(),
        };
        self.booth.keep_result(now);
        let mut actions = vec![Action::Emit(event)];
        actions.extend(self.refresh(now, false));
        actions
    }

    /// A visitor left; one who was never matched is counted as such and named with the last
    /// advice they got (`event=no_match advice=step_closer`).
    fn left(&mut self) -> Option<Action> {
        let visit = self.visit.take()?;
        if visit.matched {
            return None;
        }
        self.counters.no_match(&(self.today)());
        let mut fields = vec![("advice", visit.advice.unwrap_or(Guidance::HoldStill).name().to_string())];
        if let Some(label) = visit.label {
            fields.insert(0, ("visitor", label));
        }
        Some(Action::Emit(Event::new("no_match", fields)))
    }

    /// The booth's scene, when it is not already on screen (the mirror view, and the visitor's
    /// picture beside their match, are redrawn for every new frame).
    fn refresh(&mut self, now: f64, new_frame: bool) -> Option<Action> {
        if self.updating {
            return None;
        }
        let scene = self.scene(now);
        let key = shown(&scene);
        let live = matches!(scene, Scene::Live { .. } | Scene::Result { visitor: Some(_), .. });
        if (live && new_frame) || self.shown.as_ref() != Some(&key) {
            self.shown = Some(key);
            return Some(Action::Show(scene));
        }
        None
    }

    /// The booth's scene at `now`, with the visitor's rank of the match and language.
    fn scene(&self, now: f64) -> Scene {
        if !self.camera_ok {
            return Scene::CameraLost;
        }
        let (rank, chosen) = self.visit.as_ref().map_or((0, 0), |v| (v.rank, v.language));
        let mut scene = self.booth.scene(now, rank);
        if let Scene::Live { language, .. } | Scene::Result { language, .. } = &mut scene {
            *language = self.languages.get(chosen).filter(|_| chosen > 0).cloned();
        }
        scene
    }
}

/// The key of a scene for [`Core::refresh`].
fn shown(scene: &Scene) -> Shown {
    let (role_model, rank) = match scene {
        Scene::Attract { showcase } => (*showcase, 0),
        Scene::Result { best, rank, .. } => (Some(*best), *rank),
        _ => (None, 0),
    };
    let visitor = matches!(scene, Scene::Result { visitor: Some(_), .. });
    (scene.name(), role_model, rank, scene.language().map(str::to_string), visitor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::booth::machine::FaceObs;
    use crate::config::BoothSettings;
    use crate::vision::embed::FaceCode;
    use crate::vision::RgbImage;

    fn core() -> Core {
        let gallery =
            Arc::new(Gallery::synthetic(&[("ann", vec![1.0, 0.0, 0.0]), ("bo", vec![0.0, 1.0, 0.0]), ("cy", vec![0.0, 0.0, 1.0])]));
        let mut config = Config { booth: BoothSettings { matching_frames: 2, ..BoothSettings::default() }, ..Config::default() };
        (config.gallery.also_like, config.gallery.variety) = (1, crate::gallery::variety::VarietySettings::OFF);
        let mut core = Core::new(&config, gallery, Counters::default(), Box::new(|| "2026-11-30".to_string()), 0.0);
        assert_eq!(core.start(), vec![Action::Show(Scene::CameraLost)]);
        core
    }

    fn frame(label: Option<&str>, face: Option<[f32; 3]>) -> Observation {
        let face = face.map(|v| FaceObs {
            bbox: [100.0, 80.0, 120.0, 150.0],
            eye_fraction: 0.1,
            frontal: true,
            sharp: true,
            embedding: Some(FaceCode { identity: v.to_vec(), appearance: None }),
        });
        Observation { frame: Arc::new(RgbImage::new(4, 4)), mirror: false, face, label: label.map(str::to_string) }
    }

    fn events(actions: &[Action]) -> Vec<String> {
        actions.iter().filter_map(|a| if let Action::Emit(e) = a { Some(e.line()) } else { None }).collect()
    }

    fn scenes(actions: &[Action]) -> Vec<&'static str> {
        actions.iter().filter_map(|a| if let Action::Show(s) = a { Some(s.name()) } else { None }).collect()
    }

    #[test]
    fn a_visit_on_a_fake_clock_events_scenes_and_counters() {
        let mut c = core();
        let a = c.camera(0.5, &CameraStatus::Connected("replay".into()));
        assert_eq!(events(&a), vec!["event=camera_connected camera=replay"]);
        assert_eq!(scenes(&a), vec!["attract"]);
        // The empty room: no event, attract stays and is not redrawn.
        let a = c.observation(0.6, &frame(None, None));
        assert!(a.is_empty(), "{a:?}");
        // A replayed file with nobody on it is named.
        assert_eq!(events(&c.observation(0.7, &frame(Some("room.jpg"), None))), vec!["event=no_face visitor=room.jpg"]);
        // A visitor: two good frames (matching_frames = 2) give the match with the right role model.
        let a = c.observation(1.0, &frame(Some("v.jpg"), Some([0.1, 1.0, 0.0])));
        assert_eq!(scenes(&a), vec!["matching"]);
        let a = c.observation(1.2, &frame(Some("v.jpg"), Some([0.0, 1.0, 0.1])));
        assert_eq!(events(&a), vec!["event=match visitor=v.jpg role_model=bo similarity=0.9975"]);
        assert_eq!(scenes(&a), vec!["result"]);
        // The result stays while the visitor stays; it is not redrawn every tick, but with every
        // frame of them (their live picture beside the match).
        assert!(scenes(&c.tick(5.0, 5.0)).is_empty());
        let a = c.observation(5.05, &frame(Some("v.jpg"), Some([0.0, 1.0, 0.1])));
        assert!(matches!(&a[..], [Action::Show(Scene::Result { visitor: Some(_), .. })]), "{a:?}");
        // The visitor leaves (the camera sees nobody): their picture goes at once, the card stays
        // (drawn once more without it); after the minimum time, thanks, then attract.
        let a = c.observation(5.1, &frame(None, None));
        assert!(matches!(&a[..], [Action::Show(Scene::Result { visitor: None, .. })]), "{a:?}");
        assert!(scenes(&c.observation(5.2, &frame(None, None))).is_empty());
        assert_eq!(scenes(&c.tick(9.5, 9.5)), vec!["thanks"]);
        assert_eq!(scenes(&c.tick(13.0, 13.0)), vec!["attract"]);
        assert_eq!((c.counters().visitors, c.counters().matches.get("bo").copied()), (1, Some(1)));
        assert_eq!(
            c.counters().days["2026-11-30"],
            crate::service::counters::Day { visitors: 1, matches: 1, no_match: 0, ..Default::default() }
        );
    }

    #[test]
    fn a_visitor_who_leaves_unmatched_is_counted_on_the_day_of_the_clock() {
        let mut c = core();
        let day = Arc::new(std::sync::Mutex::new("2026-11-30".to_string()));
        let d = day.clone();
        c.today = Box::new(move || d.lock().map(|s| s.clone()).unwrap_or_default());
        c.camera(0.0, &CameraStatus::Connected("cam".into()));
        c.observation(1.0, &frame(None, Some([1.0, 0.0, 0.0])));
        // The clock steps a day forward (a Pi sets its time): the timers do not care.
        *day.lock().expect("lock") = "2026-12-01".into();
        c.observation(1.1, &frame(None, None));
        let a = c.tick(2.6, 2.6);
        assert!(a.iter().any(|a| matches!(a, Action::Show(Scene::Attract { .. }))), "the visitor left after 1.5 s");
        // Named once, with the advice they were last given (one good frame of two: hold still).
        assert_eq!(events(&a), vec!["event=no_match advice=hold_still"]);
        assert!(events(&c.tick(5.0, 5.0)).is_empty());
        let days = &c.counters().days;
        assert_eq!(days["2026-11-30"], crate::service::counters::Day { visitors: 1, matches: 0, no_match: 0, ..Default::default() });
        assert_eq!(days["2026-12-01"], crate::service::counters::Day { visitors: 0, matches: 0, no_match: 1, ..Default::default() });
    }

    #[test]
    fn the_camera_loss_is_reported_once_and_resets_the_visit() {
        let mut c = core();
        assert_eq!(events(&c.camera(0.0, &CameraStatus::Lost("no device".into()))), vec!["event=camera_lost reason=\"no device\""]);
        // Still no camera: the capture thread reports again; the log does not fill up.
        assert!(events(&c.camera(8.0, &CameraStatus::Lost("no device".into()))).is_empty());
        c.camera(9.0, &CameraStatus::Connected("cam".into()));
        c.observation(9.1, &frame(None, Some([1.0, 0.0, 0.0])));
        let a = c.camera(9.2, &CameraStatus::Lost("unplugged".into()));
        assert_eq!(events(&a), vec!["event=camera_lost reason=unplugged"]);
        assert_eq!(scenes(&a), vec!["camera-lost"]);
        // Frames of a visitor that was there before the loss do not finish the old visit.
        c.camera(10.0, &CameraStatus::Connected("cam".into()));
        assert!(events(&c.observation(10.1, &frame(None, Some([1.0, 0.0, 0.0])))).is_empty(), "one good frame is not a match");
    }

    const SCREEN: (u32, u32) = (1920, 1080);

    /// The result scene among `actions`: (main role model, rank, others, language).
    fn result(actions: &[Action]) -> Option<(usize, usize, Vec<usize>, Option<String>)> {
        actions.iter().find_map(|a| match a {
            Action::Show(Scene::Result { best, rank, others, language, .. }) => {
                Some((*best, *rank, others.iter().map(|o| o.0).collect(), language.clone()))
            }
            _ => None,
        })
    }

    #[test]
    fn another_match_goes_through_the_visitors_best_three_and_the_language_lasts_their_visit() {
        let mut c = core();
        c.camera(0.0, &CameraStatus::Connected("cam".into()));
        // Nobody there: a press does nothing.
        assert!(c.gesture(0.5, Gesture::Next, SCREEN).is_empty());
        assert!(c.gesture(0.5, Gesture::Language, SCREEN).is_empty());
        c.observation(1.0, &frame(None, Some([0.1, 1.0, 0.3])));
        // Matching: the language switches at once, on the mirror view too.
        let a = c.gesture(1.1, Gesture::Language, SCREEN);
        assert_eq!(events(&a), ["event=language language=nl"]);
        assert!(matches!(&a[1], Action::Show(Scene::Live { language: Some(l), .. }) if l == "nl"), "{a:?}");
        assert!(c.gesture(1.15, Gesture::Next, SCREEN).is_empty(), "no match yet");
        // The result: bo, then cy and ann by similarity; shown in Dutch.
        let a = c.observation(1.2, &frame(None, Some([0.1, 1.0, 0.3])));
        assert_eq!(result(&a), Some((1, 0, vec![2], Some("nl".into()))));
        let a = c.gesture(3.0, Gesture::Next, SCREEN);
        assert_eq!(events(&a), ["event=another_match rank=2 of=3"]);
        assert_eq!(result(&a), Some((2, 1, vec![1], Some("nl".into()))), "cy as the main match, bo beside it");
        assert_eq!(result(&c.gesture(3.5, Gesture::Next, SCREEN)), Some((0, 2, vec![1], Some("nl".into()))));
        assert_eq!(result(&c.gesture(4.0, Gesture::Next, SCREEN)), Some((1, 0, vec![2], Some("nl".into()))), "round again");
        // Two languages: a second switch is back to English.
        assert_eq!(result(&c.gesture(4.1, Gesture::Language, SCREEN)), Some((1, 0, vec![2], None)));
        c.gesture(4.2, Gesture::Language, SCREEN);
        // Only the booth's own pick counts as a match, and the role model shown most is
        // unchanged by the presses.
        assert_eq!((c.counters().matches.get("bo").copied(), c.counters().matches.get("cy")), (Some(1), None));
        let day = &c.counters().days["2026-11-30"];
        assert_eq!((day.another_match, day.language), (3, 3));
        // Each press keeps the result for its minimum time again (8 s from 4.2).
        c.observation(5.0, &frame(None, None));
        assert!(scenes(&c.tick(12.0, 12.0)).is_empty(), "still the result");
        assert_eq!(scenes(&c.tick(12.3, 12.3)), ["thanks"]);
        assert!(c.gesture(12.5, Gesture::Language, SCREEN).is_empty(), "the visitor has gone");
        // The next visitor starts with the booth's pick, in the configured language.
        c.tick(16.0, 16.0);
        c.observation(17.0, &frame(None, Some([0.1, 1.0, 0.3])));
        assert_eq!(result(&c.observation(17.1, &frame(None, Some([0.1, 1.0, 0.3])))), Some((1, 0, vec![2], None)));
    }

    #[test]
    fn taps_act_where_the_scene_offers_it() {
        let mut c = core();
        c.camera(0.0, &CameraStatus::Connected("cam".into()));
        c.observation(1.0, &frame(None, Some([0.1, 1.0, 0.3])));
        // On the mirror view there is no other match to tap.
        assert!(c.gesture(1.05, Gesture::Tap { x: 0.05, y: 0.95 }, SCREEN).is_empty());
        c.observation(1.1, &frame(None, Some([0.1, 1.0, 0.3])));
        assert!(c.gesture(1.2, Gesture::Tap { x: 0.5, y: 0.5 }, SCREEN).is_empty(), "the middle of the card");
        let a = c.gesture(1.3, Gesture::Tap { x: 0.05, y: 0.95 }, SCREEN);
        assert_eq!(events(&a), ["event=another_match rank=2 of=3"]);
        let a = c.gesture(1.4, Gesture::Tap { x: 0.95, y: 0.07 }, SCREEN);
        assert_eq!(events(&a), ["event=language language=nl"]);
        // The same places on a portrait screen.
        assert_eq!(events(&c.gesture(1.5, Gesture::Tap { x: 0.9, y: 0.04 }, (1080, 1920))), ["event=language language=en"]);
        // While an update has the screen, nothing.
        c.update(Scene::Update { title: "Updating".into(), lines: vec![], progress: None });
        assert!(c.gesture(1.6, Gesture::Next, SCREEN).is_empty());
    }

    #[test]
    fn the_watchdog_is_fed_only_while_the_vision_worker_loops() {
        let mut c = core();
        assert!(c.tick(1.0, 0.9).contains(&Action::Watchdog));
        assert!(c.tick(4.0, 0.9).contains(&Action::Watchdog));
        assert!(!c.tick(6.0, 0.9).contains(&Action::Watchdog), "stuck for 5.1 s");
        assert!(c.tick(6.1, 6.0).contains(&Action::Watchdog), "looping again");
    }

    #[test]
    fn counters_are_saved_once_a_minute() {
        let mut c = core();
        let saves = |c: &mut Core, t: f64| c.tick(t, t).iter().filter(|a| **a == Action::SaveCounters).count();
        assert_eq!(saves(&mut c, 30.0), 0);
        assert_eq!(saves(&mut c, 60.0), 1);
        assert_eq!(saves(&mut c, 61.0), 0);
        assert_eq!(saves(&mut c, 120.0), 1);
    }

    #[test]
    fn an_update_holds_the_screen_and_the_booth_starts_afresh_after_it() {
        let mut c = core();
        c.camera(0.0, &CameraStatus::Connected("cam".into()));
        c.observation(0.1, &frame(None, Some([1.0, 0.0, 0.0])));
        let update = Scene::Update { title: "Updating".into(), lines: vec![], progress: Some(0.5) };
        assert_eq!(scenes(&c.update(update)), vec!["update"]);
        // Frames and ticks during the update change nothing on screen and match nobody.
        assert!(c.observation(0.2, &frame(None, Some([1.0, 0.0, 0.0]))).is_empty());
        assert!(scenes(&c.tick(0.3, 0.3)).is_empty());
        assert_eq!(scenes(&c.update_finished(1.0)), vec!["attract"]);
        // The visit before the update does not carry over: one frame is not a match.
        assert!(events(&c.observation(1.1, &frame(None, Some([1.0, 0.0, 0.0])))).is_empty());
    }
}
