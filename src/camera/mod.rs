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

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{CameraSettings, CameraSource};
use crate::util::Slot;
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
    /// Every frame must be seen (a recording played once, for the demo and tests): the capture
    /// thread then waits for each frame to be taken before delivering the next, instead of
    /// dropping stale frames as it does for a live camera.
    fn lossless(&self) -> bool {
        false
    }
}

/// Opens the source the settings name.
pub fn open(settings: &CameraSettings) -> Result<Box<dyn FrameSource>, CameraError> {
    match &settings.source {
        CameraSource::Replay { path, fps, looping } => Ok(Box::new(replay::Replay::new(path, *fps, *looping)?)),
        #[cfg(target_os = "linux")]
        CameraSource::V4l2 { device, size, fps } => Ok(Box::new(v4l::V4l2Camera::open(device.as_deref(), *size, *fps, settings.timeout)?)),
        #[cfg(not(target_os = "linux"))]
        CameraSource::V4l2 { .. } => Err(CameraError::Gone("V4L2 needs Linux".into())),
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
                        if source.lossless() {
                            while !slot.wait_taken(Duration::from_millis(500)) && !slot.is_closed() {}
                        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(10), Duration::from_secs(8));
    }
}
