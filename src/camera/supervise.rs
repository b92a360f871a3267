//! The capture thread's decisions, without I/O: when a camera counts as connected or lost,
//! when to close and reopen it and after how long, and when to give up on a way of streaming
//! (a V4L2 pixel format, a libcamera program) that opens but never yields a usable frame.
//!
//! Like `service::core`, [`Supervisor`] takes the time (`now`, seconds) with every call and
//! returns [`Action`]s; the capture thread in `camera/mod.rs` carries them out with a real clock
//! and its tests run it on a fake one. The same decisions cover every source: a V4L2 device that
//! is unplugged, a replay folder that vanishes, and a libcamera child process that dies, hangs or
//! never starts (its restart is a reopen).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::CameraStatus;

/// Opens of one way that ended without a usable frame before that way is given up (while
/// another way remains: the opener never leaves itself with none).
pub const GIVE_UP_AFTER: u32 = 2;

/// Backoff between reopen attempts: 0.5 s doubling to 8 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(4)))
}

/// What the capture thread does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Tell the booth (camera connected, lost, replay ended).
    Report(CameraStatus),
    /// Hand the frame just read to the vision worker.
    Deliver,
    /// A warning for the log (never frame data).
    Warn(String),
    /// Close the source (a child process is stopped), wait this long, then open again.
    Reopen(Duration),
    /// Stop capturing: the recording has ended.
    Stop,
}

/// The capture thread's state between calls.
#[derive(Debug)]
pub struct Supervisor {
    /// No usable frame for this long (seconds): the camera is lost.
    timeout: f64,
    /// Reopen attempts since the last frame (the backoff's exponent).
    attempt: u32,
    connected: bool,
    /// The last loss reported while no frame came since (the same reason is not repeated).
    last_reason: Option<String>,
    /// The open source: how it describes itself and its way of streaming.
    describe: String,
    way: Option<String>,
    /// When the last usable frame came (or the source opened).
    last_good: f64,
    /// Per way: opens in a row that ended without a usable frame.
    failures: BTreeMap<String, u32>,
    /// Ways given up for now.
    avoid: BTreeSet<String>,
}

impl Supervisor {
    /// A supervisor for a camera whose frames must come within `timeout`.
    pub fn new(timeout: Duration) -> Supervisor {
        Supervisor {
            timeout: timeout.as_secs_f64(),
            attempt: 0,
            connected: false,
            last_reason: None,
            describe: String::new(),
            way: None,
            last_good: 0.0,
            failures: BTreeMap::new(),
            avoid: BTreeSet::new(),
        }
    }

    /// The ways of streaming the next open should not use (given up after opens without a usable
    /// frame). The opener uses the others, or all of them when none would remain.
    pub fn avoided(&self) -> Vec<String> {
        self.avoid.iter().cloned().collect()
    }

    /// Whether the booth has been told the camera is connected.
    pub fn connected(&self) -> bool {
        self.connected
    }

    fn lost(&mut self, why: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.connected || self.last_reason.as_deref() != Some(why) {
            actions.push(Action::Report(CameraStatus::Lost(why.to_string())));
        }
        self.connected = false;
        self.last_reason = Some(why.to_string());
        actions.push(Action::Reopen(backoff(self.attempt)));
        self.attempt = self.attempt.saturating_add(1);
        actions
    }

    /// Opening failed (no device, no camera, the program missing, …). A camera that is not
    /// there may come back as another one: the ways given up are tried again.
    pub fn open_failed(&mut self, _now: f64, why: &str) -> Vec<Action> {
        self.avoid.clear();
        self.failures.clear();
        self.lost(why)
    }

    /// The source opened; `describe` is what the booth is told once frames come, `way` its
    /// way of streaming (`None`: the source has only one).
    pub fn opened(&mut self, now: f64, describe: &str, way: Option<&str>) {
        self.describe = describe.to_string();
        self.way = way.map(str::to_string);
        self.last_good = now;
    }

    /// A usable frame.
    pub fn frame(&mut self, now: f64) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.connected {
            actions.push(Action::Report(CameraStatus::Connected(self.describe.clone())));
            self.connected = true;
            self.last_reason = None;
        }
        self.attempt = 0;
        if let Some(way) = &self.way {
            self.failures.remove(way);
        }
        self.last_good = now;
        actions.push(Action::Deliver);
        actions
    }

    /// A frame that could not be used (the source logs and counts its kinds). After the
    /// timeout without a usable one, the camera is lost and reopened; a way that keeps doing
    /// this is given up.
    pub fn bad_frame(&mut self, now: f64) -> Vec<Action> {
        if now - self.last_good <= self.timeout {
            return Vec::new();
        }
        let mut actions = Vec::new();
        if let Some(way) = self.way.clone() {
            let n = self.failures.entry(way.clone()).or_insert(0);
            *n += 1;
            if *n >= GIVE_UP_AFTER && self.avoid.insert(way.clone()) {
                actions.push(Action::Warn(format!(
                    "camera: giving up on {way} after {n} opens without a usable frame ({}); trying another way",
                    self.describe
                )));
            }
        }
        let why = format!("no usable frame for {:.1} s", self.timeout);
        let mut lost = self.lost(&why);
        lost.append(&mut actions);
        lost
    }

    /// The source went away (unplugged, timed out, its process ended).
    pub fn gone(&mut self, _now: f64, why: &str) -> Vec<Action> {
        self.lost(why)
    }

    /// A recording played once has ended.
    pub fn ended(&mut self) -> Vec<Action> {
        vec![Action::Report(CameraStatus::Ended), Action::Stop]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reports(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Report(CameraStatus::Connected(d)) => Some(format!("connected {d}")),
                Action::Report(CameraStatus::Lost(w)) => Some(format!("lost {w}")),
                Action::Report(CameraStatus::Ended) => Some("ended".into()),
                _ => None,
            })
            .collect()
    }

    fn reopen(actions: &[Action]) -> Option<Duration> {
        actions.iter().find_map(|a| if let Action::Reopen(d) = a { Some(*d) } else { None })
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(10), Duration::from_secs(8));
    }

    /// A camera that is missing at start, comes, goes and comes back: one report per change,
    /// the backoff growing while it is away and starting over once it delivers.
    #[test]
    fn lost_and_connected_once_per_change_with_backoff() {
        let mut s = Supervisor::new(Duration::from_secs(3));
        let a = s.open_failed(0.0, "no video capture device found");
        assert_eq!(reports(&a), vec!["lost no video capture device found"]);
        assert_eq!(reopen(&a), Some(Duration::from_millis(500)));
        // Still missing: no second report, a longer wait.
        let a = s.open_failed(0.5, "no video capture device found");
        assert!(reports(&a).is_empty());
        assert_eq!(reopen(&a), Some(Duration::from_secs(1)));
        assert_eq!(reopen(&s.open_failed(1.5, "no video capture device found")), Some(Duration::from_secs(2)));
        s.opened(3.5, "/dev/video0 (640x480 YUYV)", Some("YUYV"));
        let a = s.frame(3.6);
        assert_eq!(reports(&a), vec!["connected /dev/video0 (640x480 YUYV)"]);
        assert!(a.contains(&Action::Deliver));
        assert_eq!(s.frame(3.7), vec![Action::Deliver], "connected once");
        // Unplugged: reported, reopened after the first backoff again.
        let a = s.gone(10.0, "/dev/video0: read frame: No such device");
        assert_eq!(reports(&a), vec!["lost /dev/video0: read frame: No such device"]);
        assert_eq!(reopen(&a), Some(Duration::from_millis(500)));
        // Back: connected again.
        s.opened(11.0, "/dev/video0 (640x480 YUYV)", Some("YUYV"));
        assert_eq!(reports(&s.frame(11.1)), vec!["connected /dev/video0 (640x480 YUYV)"]);
    }

    /// A child process that starts and dies before its first frame, again and again (a Camera
    /// Module cable pulled): one report, the backoff growing to its cap.
    #[test]
    fn a_source_that_dies_before_its_first_frame_is_reported_once() {
        let mut s = Supervisor::new(Duration::from_secs(3));
        let mut waits = Vec::new();
        let mut all = Vec::new();
        for i in 0..7 {
            s.opened(f64::from(i), "libcamera via rpicam-vid", Some("rpicam-vid"));
            let a = s.gone(f64::from(i) + 0.1, "rpicam-vid exited with status 255: ERROR: *** no cameras available ***");
            all.extend(reports(&a));
            waits.push(reopen(&a).expect("reopens"));
        }
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(waits.last(), Some(&Duration::from_secs(8)));
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
    }

    /// Bad frames are skipped until the timeout; then lost, reopened, and after
    /// [`GIVE_UP_AFTER`] such opens the way is given up (the opener tries another).
    #[test]
    fn only_bad_frames_lose_the_camera_and_give_up_on_the_way() {
        let mut s = Supervisor::new(Duration::from_secs(3));
        s.opened(0.0, "/dev/video0 (1280x720 Mjpeg)", Some("MJPEG"));
        assert!(s.bad_frame(1.0).is_empty());
        assert!(s.bad_frame(3.0).is_empty(), "still within the timeout");
        let a = s.bad_frame(3.2);
        assert_eq!(reports(&a), vec!["lost no usable frame for 3.0 s"]);
        assert!(reopen(&a).is_some());
        assert!(s.avoided().is_empty(), "one bad open is not enough");
        s.opened(4.0, "/dev/video0 (1280x720 Mjpeg)", Some("MJPEG"));
        let a = s.bad_frame(7.5);
        assert!(reports(&a).is_empty(), "the same loss is not reported twice");
        assert!(a.iter().any(|a| matches!(a, Action::Warn(w) if w.contains("giving up on MJPEG"))), "{a:?}");
        assert_eq!(s.avoided(), vec!["MJPEG".to_string()]);
        // The next open streams YUYV and delivers: MJPEG stays avoided.
        s.opened(8.0, "/dev/video0 (1280x720 Yuyv)", Some("YUYV"));
        assert_eq!(reports(&s.frame(8.1)), vec!["connected /dev/video0 (1280x720 Yuyv)"]);
        assert_eq!(s.avoided(), vec!["MJPEG".to_string()]);
        // A good frame in between resets the count of a way.
        let mut s = Supervisor::new(Duration::from_secs(3));
        s.opened(0.0, "cam", Some("MJPEG"));
        s.bad_frame(3.5);
        s.opened(4.0, "cam", Some("MJPEG"));
        s.frame(4.1);
        s.bad_frame(7.5);
        assert!(s.avoided().is_empty(), "not two opens in a row without a frame");
    }

    /// The camera went away: the ways given up are tried again (it may come back as another).
    #[test]
    fn an_open_failure_forgets_the_ways_given_up() {
        let mut s = Supervisor::new(Duration::from_secs(1));
        for t in [0.0, 2.0] {
            s.opened(t, "cam", Some("MJPEG"));
            s.bad_frame(t + 1.5);
        }
        assert_eq!(s.avoided().len(), 1);
        s.open_failed(5.0, "no video capture device found");
        assert!(s.avoided().is_empty());
    }

    #[test]
    fn a_recording_ends() {
        let mut s = Supervisor::new(Duration::from_secs(1));
        s.opened(0.0, "replay", None);
        assert_eq!(s.ended(), vec![Action::Report(CameraStatus::Ended), Action::Stop]);
    }
}
