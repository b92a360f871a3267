//! Where frames come from: a narrow [`FrameSource`] trait with a V4L2 implementation (the
//! booth's USB camera, `v4l.rs`) and a replay implementation over image files (demo, tests,
//! trying settings without a camera, `replay.rs`).
//!
//! Frames are owned RGB images; they live in memory only and are dropped after use. The capture
//! thread ([`spawn_capture`]) keeps only the latest frame (a slot of one: stale frames are
//! dropped), reopens a lost camera with backoff, and reports camera state changes.

pub mod replay;
#[cfg(target_os = "linux")]
pub mod v4l;

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::config::{CameraConfig, CameraSource};
use crate::vision::RgbImage;

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
}

/// Opens the source the config names.
pub fn open(cfg: &CameraConfig) -> Result<Box<dyn FrameSource>, CameraError> {
    match cfg.source {
        CameraSource::Replay => Ok(Box::new(replay::Replay::open(cfg)?)),
        #[cfg(target_os = "linux")]
        CameraSource::V4l2 => Ok(Box::new(v4l::V4l2Camera::open(cfg)?)),
        #[cfg(not(target_os = "linux"))]
        CameraSource::V4l2 => Err(CameraError::Gone("V4L2 needs Linux".into())),
    }
}

/// Camera state changes and frames, as seen by the rest of the booth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraStatus {
    Connected(String),
    Lost(String),
    Ended,
}

/// A slot of one value between two threads: `put` replaces what was not yet taken, so the
/// consumer always gets the latest (camera frames to the vision worker, scenes to the display).
pub struct Slot<T> {
    inner: Mutex<SlotState<T>>,
    ready: Condvar,
}

struct SlotState<T> {
    value: Option<T>,
    closed: bool,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot { inner: Mutex::new(SlotState { value: None, closed: false }), ready: Condvar::new() }
    }
}

impl<T> Slot<T> {
    /// Puts a value in the slot, replacing (dropping) any value not yet taken.
    pub fn put(&self, value: T) {
        if let Ok(mut s) = self.inner.lock() {
            s.value = Some(value);
            self.ready.notify_one();
        }
    }

    /// Takes the latest value, waiting up to `timeout`. `None` on timeout or when closed.
    pub fn take(&self, timeout: Duration) -> Option<T> {
        let guard = self.inner.lock().ok()?;
        let (mut guard, _) = self.ready.wait_timeout_while(guard, timeout, |s| s.value.is_none() && !s.closed).ok()?;
        guard.value.take()
    }

    /// Wakes every waiter for shutdown.
    pub fn close(&self) {
        if let Ok(mut s) = self.inner.lock() {
            s.closed = true;
            self.ready.notify_all();
        }
    }

    pub fn is_closed(&self) -> bool {
        self.inner.lock().map(|s| s.closed).unwrap_or(true)
    }
}

/// The slot between the capture thread and the vision worker.
pub type FrameSlot = Slot<Frame>;

/// Backoff between reopen attempts: 0.5 s doubling to 8 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(4)))
}

/// Runs the capture loop on its own thread until `slot` is closed: frames into the slot,
/// state changes through `status`. `open_source` (re)opens the camera.
pub fn spawn_capture(
    open_source: impl Fn() -> Result<Box<dyn FrameSource>, CameraError> + Send + 'static,
    timeout: Duration,
    slot: Arc<FrameSlot>,
    status: impl Fn(CameraStatus) + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("capture".into()).spawn(move || {
        let mut attempt = 0u32;
        let mut connected = false;
        let mut last_reason = String::new();
        while !slot.is_closed() {
            let mut source = match open_source() {
                Ok(s) => s,
                Err(e) => {
                    let reason = e.to_string();
                    if connected || last_reason != reason {
                        status(CameraStatus::Lost(reason.clone()));
                        last_reason = reason;
                    }
                    connected = false;
                    sleep_unless_closed(&slot, backoff(attempt));
                    attempt = attempt.saturating_add(1);
                    continue;
                }
            };
            let mut last_frame = Instant::now();
            loop {
                if slot.is_closed() {
                    return;
                }
                match source.next_frame() {
                    Ok(frame) => {
                        if !connected {
                            status(CameraStatus::Connected(source.describe()));
                            connected = true;
                            last_reason.clear();
                            attempt = 0;
                        }
                        last_frame = Instant::now();
                        slot.put(frame);
                    }
                    Err(CameraError::BadFrame(why)) => {
                        log::debug!("skipping a bad frame: {why}");
                        if last_frame.elapsed() > timeout {
                            status(CameraStatus::Lost(format!("no usable frame for {:.1} s", timeout.as_secs_f32())));
                            connected = false;
                            break;
                        }
                    }
                    Err(CameraError::End) => {
                        status(CameraStatus::Ended);
                        return;
                    }
                    Err(CameraError::Gone(why)) => {
                        status(CameraStatus::Lost(why.clone()));
                        last_reason = why;
                        connected = false;
                        break;
                    }
                }
            }
            sleep_unless_closed(&slot, backoff(attempt));
            attempt = attempt.saturating_add(1);
        }
    })
}

fn sleep_unless_closed(slot: &FrameSlot, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until && !slot.is_closed() {
        std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())));
    }
}

/// Mirrors an image left to right (for display as in a mirror).
pub fn mirrored(img: &RgbImage) -> RgbImage {
    image::imageops::flip_horizontal(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64) -> Frame {
        Frame { image: Arc::new(RgbImage::new(2, 2)), seq, label: None }
    }

    #[test]
    fn slot_keeps_only_the_latest_frame() {
        let slot = FrameSlot::default();
        slot.put(frame(1));
        slot.put(frame(2));
        assert_eq!(slot.take(Duration::from_millis(1)).map(|f| f.seq), Some(2));
        assert!(slot.take(Duration::from_millis(1)).is_none());
        slot.close();
        assert!(slot.take(Duration::from_secs(5)).is_none(), "closed slot returns at once");
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(10), Duration::from_secs(8));
    }
}
