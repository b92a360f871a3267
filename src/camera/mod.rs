//! Where frames come from: a narrow [`FrameSource`] trait with three implementations — V4L2
//! (a USB webcam, `v4l.rs`, its MJPEG frames made decodable by `mjpeg.rs`), libcamera (a
//! Raspberry Pi Camera Module, streamed by a supervised child process, `libcamera.rs` and
//! `child.rs`) and replay (image files: demo, tests, trying settings without a camera,
//! `replay.rs`). `camera.backend = "auto"` decides between V4L2 and libcamera each time the
//! camera is opened (`probe.rs`).
//!
//! Frames are owned RGB images; they live in memory only and are dropped after use. The capture
//! thread ([`spawn`], [`spawn_capture`]) keeps only the latest frame (a slot of one: stale frames
//! are dropped), reopens a lost camera with backoff, gives up on a way of streaming that never
//! yields a usable frame, and reports camera state changes; its decisions are pure code
//! (`supervise.rs`).

#[cfg(target_os = "linux")]
pub mod child;
#[cfg(target_os = "linux")]
pub mod libcamera;
pub mod mjpeg;
pub mod probe;
pub mod replay;
pub mod supervise;
#[cfg(target_os = "linux")]
pub mod v4l;
pub mod yuv;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{CameraBackend, CameraSettings, CameraSource};
use crate::util::image::RgbImage;
use crate::util::Slot;

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub image: Arc<RgbImage>,
    /// Increases by one per frame delivered by the source.
    pub seq: u64,
    /// Replay only: the file the frame came from (for demo events); never set for a camera.
    pub label: Option<String>,
}

/// Why no frame came.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// The device (or replay folder) is not there or went away: reopen later.
    #[error("camera not available: {0}")]
    Gone(String),
    /// A frame that could not be decoded: skip it.
    #[error("bad frame: {0}")]
    BadFrame(String),
    /// Replay without looping has shown every image.
    #[error("end of replay")]
    End,
}

/// A source of frames. `next_frame` blocks until a frame is due (at most about a second).
pub trait FrameSource: Send {
    fn next_frame(&mut self) -> Result<Frame, CameraError>;
    /// For logs: which device or folder.
    fn describe(&self) -> String;
    /// Every frame must be seen (a recording played once, for the demo and tests): the capture
    /// thread then waits for each frame to be taken before delivering the next, instead of
    /// dropping stale frames as it does for a live camera.
    fn lossless(&self) -> bool {
        false
    }
    /// The way of streaming (`YUYV`, `MJPEG`, `rpicam-vid`, …) when the source has several: one
    /// that opens but never yields a usable frame is given up for another (see `supervise.rs`).
    fn way(&self) -> Option<String> {
        None
    }
}

/// Frames a source drops or repairs, by kind: the first of each kind is logged, the counts when
/// the source closes. Never the frame itself.
#[derive(Debug)]
pub struct FrameLog {
    source: String,
    dropped: BTreeMap<String, u64>,
    repaired: BTreeMap<String, u64>,
}

impl FrameLog {
    pub fn new(source: String) -> FrameLog {
        FrameLog { source, dropped: BTreeMap::new(), repaired: BTreeMap::new() }
    }

    /// A frame dropped; `detail` is logged with the first of its kind.
    pub fn dropped(&mut self, kind: &str, detail: impl FnOnce() -> String) {
        let n = self.dropped.entry(kind.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            log::warn!("{}: dropped a frame: {kind} ({}); frames of this kind are counted, logged once", self.source, detail());
        }
    }

    /// A frame that needed a repair to decode (`what` was done).
    pub fn repaired(&mut self, kind: &str, what: &str) {
        let n = self.repaired.entry(kind.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            log::info!("{}: {kind}: {what} (logged once)", self.source);
        }
    }

    /// The counts, e.g. `dropped: 3 cut-off MJPEG; repaired: 120 MJPEG without Huffman tables`.
    pub fn summary(&self) -> Option<String> {
        let list = |m: &BTreeMap<String, u64>| m.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ");
        match (self.dropped.is_empty(), self.repaired.is_empty()) {
            (true, true) => None,
            (false, true) => Some(format!("dropped: {}", list(&self.dropped))),
            (true, false) => Some(format!("repaired: {}", list(&self.repaired))),
            (false, false) => Some(format!("dropped: {}; repaired: {}", list(&self.dropped), list(&self.repaired))),
        }
    }
}

impl Drop for FrameLog {
    fn drop(&mut self) {
        if let Some(s) = self.summary() {
            log::info!("{}: frames while open: {s}", self.source);
        }
    }
}

/// Opens the source the settings name (a one-off open, as `doctor` does; the booth's capture
/// thread keeps an [`Opener`]).
pub fn open(settings: &CameraSettings) -> Result<Box<dyn FrameSource>, CameraError> {
    Opener::new(settings.clone()).open(&[])
}

/// Opens the configured camera again and again: with `camera.backend = "auto"` it decides at
/// each open which camera is there, and logs the decision when it differs from the last one.
#[derive(Debug)]
pub struct Opener {
    settings: CameraSettings,
    last_decision: Mutex<String>,
}

impl Opener {
    pub fn new(settings: CameraSettings) -> Opener {
        Opener { settings, last_decision: Mutex::new(String::new()) }
    }

    /// Opens, leaving out the ways of streaming in `avoid` where another remains.
    pub fn open(&self, avoid: &[String]) -> Result<Box<dyn FrameSource>, CameraError> {
        let live = match &self.settings.source {
            CameraSource::Replay { path, fps, looping } => return Ok(Box::new(replay::Replay::new(path, *fps, *looping)?)),
            CameraSource::Live(live) => live,
        };
        let timeout = self.settings.timeout;
        // Only `auto` looks at every video node; the libcamera backend needs the media devices
        // alone (which Pi's ISP pads the frames).
        let probe = match live.backend {
            CameraBackend::Auto => probe::Probe::read(),
            _ => probe::Probe { media: probe::media_devices(std::path::Path::new(probe::MEDIA_DEVICES)), nodes: Vec::new() },
        };
        let decision = match live.backend {
            CameraBackend::V4l2 => probe::Decision::V4l2 { device: live.device.clone(), why: String::new() },
            CameraBackend::Libcamera => probe::Decision::Libcamera { why: String::new() },
            CameraBackend::Auto => {
                let d = probe::decide(&probe, live.device.as_deref());
                let words = match &d {
                    probe::Decision::V4l2 { why, .. } => format!("V4L2, because {why}"),
                    probe::Decision::Libcamera { why } => format!("libcamera, because {why}"),
                    probe::Decision::Nothing { why } => why.clone(),
                };
                let mut last = self.last_decision.lock().unwrap_or_else(|e| e.into_inner());
                if *last != words && !matches!(d, probe::Decision::Nothing { .. }) {
                    log::info!("camera: auto: {words}");
                }
                *last = words;
                d
            }
        };
        match decision {
            probe::Decision::Nothing { why } => Err(CameraError::Gone(why)),
            #[cfg(target_os = "linux")]
            probe::Decision::V4l2 { device, .. } => {
                Ok(Box::new(v4l::V4l2Camera::open(device.as_deref(), live.size, live.fps, timeout, avoid)?))
            }
            #[cfg(target_os = "linux")]
            probe::Decision::Libcamera { .. } => Ok(Box::new(libcamera::LibcameraCamera::open(live, timeout, avoid, probe.pisp())?)),
            #[cfg(not(target_os = "linux"))]
            _ => Err(CameraError::Gone("live cameras need Linux".into())),
        }
    }
}

/// Camera state changes and frames, as seen by the rest of the booth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraStatus {
    Connected(String),
    Lost(String),
    Ended,
}

/// The slot between the capture thread and the vision worker.
pub type FrameSlot = Slot<Frame>;

pub use supervise::backoff;

/// Runs the capture loop on its own thread until `slot` is closed: frames into the slot,
/// state changes through `status`. `open_source` (re)opens the camera.
pub fn spawn_capture(
    open_source: impl Fn() -> Result<Box<dyn FrameSource>, CameraError> + Send + 'static,
    timeout: Duration,
    slot: Arc<FrameSlot>,
    status: impl Fn(CameraStatus) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("capture".into()).spawn(move || capture(|_| open_source(), timeout, &slot, status))
}

/// The booth's capture thread for the configured camera: [`spawn_capture`] over an [`Opener`],
/// so that a way of streaming that opens but never gives a usable frame (an MJPEG stream no
/// frame of which decodes, a libcamera program that starts but sends nothing) is given up for
/// another one.
pub fn spawn(
    settings: CameraSettings,
    slot: Arc<FrameSlot>,
    status: impl Fn(CameraStatus) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let timeout = settings.timeout;
    let opener = Opener::new(settings);
    std::thread::Builder::new().name("capture".into()).spawn(move || capture(|avoid| opener.open(avoid), timeout, &slot, status))
}

/// The capture loop: opens, reads and reopens as [`supervise::Supervisor`] decides.
fn capture(
    open: impl Fn(&[String]) -> Result<Box<dyn FrameSource>, CameraError>,
    timeout: Duration,
    slot: &FrameSlot,
    status: impl Fn(CameraStatus),
) {
    let clock = Instant::now();
    let now = || clock.elapsed().as_secs_f64();
    let mut supervisor = supervise::Supervisor::new(timeout);
    while !slot.is_closed() {
        let mut source = match open(&supervisor.avoided()) {
            Ok(s) => s,
            Err(e) => {
                let actions = supervisor.open_failed(now(), &e.to_string());
                let wait = reopen_after(&actions);
                if carry_out(actions, None, slot, &status) {
                    return;
                }
                sleep_unless_closed(slot, wait.unwrap_or_default());
                continue;
            }
        };
        supervisor.opened(now(), &source.describe(), source.way().as_deref());
        loop {
            if slot.is_closed() {
                return;
            }
            let (actions, frame) = match source.next_frame() {
                Ok(frame) => (supervisor.frame(now()), Some(frame)),
                Err(CameraError::BadFrame(why)) => {
                    log::debug!("skipping a bad frame: {why}");
                    (supervisor.bad_frame(now()), None)
                }
                Err(CameraError::End) => (supervisor.ended(), None),
                Err(CameraError::Gone(why)) => (supervisor.gone(now(), &why), None),
            };
            let lossless = source.lossless();
            if let Some(wait) = reopen_after(&actions) {
                // Closed first (a child process is stopped), then the wait.
                drop(source);
                if carry_out(actions, None, slot, &status) {
                    return;
                }
                sleep_unless_closed(slot, wait);
                break;
            }
            if carry_out(actions, frame.map(|f| (f, lossless)), slot, &status) {
                return;
            }
        }
    }
}

/// Does what the supervisor decided (the waits excepted); `true` when capturing stops.
fn carry_out(actions: Vec<supervise::Action>, mut frame: Option<(Frame, bool)>, slot: &FrameSlot, status: &impl Fn(CameraStatus)) -> bool {
    use supervise::Action;
    let mut stop = false;
    for action in actions {
        match action {
            Action::Report(s) => status(s),
            Action::Deliver => {
                if let Some((f, lossless)) = frame.take() {
                    slot.put(f);
                    if lossless {
                        while !slot.wait_taken(Duration::from_millis(500)) && !slot.is_closed() {}
                    }
                }
            }
            Action::Warn(w) => log::warn!("{w}"),
            // The caller closes the source and waits.
            Action::Reopen(_) => {}
            Action::Stop => stop = true,
        }
    }
    stop
}

/// How long to wait before reopening, when the supervisor decided to reopen.
fn reopen_after(actions: &[supervise::Action]) -> Option<Duration> {
    actions.iter().find_map(|a| if let supervise::Action::Reopen(d) = a { Some(*d) } else { None })
}

fn sleep_unless_closed(slot: &FrameSlot, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until && !slot.is_closed() {
        std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())));
    }
}
