//! The running booth's two worker threads: capture (camera → a slot of one frame; stale frames
//! are dropped) and vision (frame → [`FrameAnalyser`] → observation). Inference never runs on
//! the event loop's executor; the loop receives camera status changes and observations on two
//! bounded channels.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::health::Timings;
use crate::booth::{FrameAnalyser, Observation};
use crate::camera::{self, CameraStatus, FrameSlot};
use crate::config::Config;
use crate::vision::Vision;

/// The capture and vision threads of one running configuration.
pub struct Pipeline {
    frames: Arc<FrameSlot>,
    stop: Arc<AtomicBool>,
    /// Whether good faces are embedded (the booth no longer needs them once its result is
    /// decided): set by the loop after each step, read by the worker before each frame.
    embed: Arc<AtomicBool>,
    /// Milliseconds since the daemon's clock started when the vision worker last looped (the
    /// watchdog's evidence).
    heartbeat: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// What the pipeline's threads send the event loop.
pub struct Outputs {
    /// Camera status changes.
    pub status: mpsc::Receiver<CameraStatus>,
    /// Analysed frames; closed when the vision worker ends.
    pub observations: mpsc::Receiver<Observation>,
}

impl Pipeline {
    /// Starts the camera `config` names and the vision worker on `vision`. `clock` is the daemon's
    /// (the heartbeat is kept on it); stage times go into `timings` (the health report).
    pub fn start(
        config: &Config,
        vision: Arc<Vision>,
        clock: Instant,
        timings: Arc<Mutex<Timings>>,
    ) -> anyhow::Result<(Pipeline, Outputs)> {
        let frames = Arc::new(FrameSlot::default());
        let (status_tx, status) = mpsc::channel::<CameraStatus>(8);
        // A way of streaming that opens but gives no usable frame is given up for another.
        let capture = camera::spawn(config.camera.clone(), frames.clone(), move |s| {
            let _ = status_tx.blocking_send(s);
        })?;
        let (obs_tx, observations) = mpsc::channel::<Observation>(2);
        let heartbeat = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let embed = Arc::new(AtomicBool::new(true));
        let worker = {
            let (frames, heartbeat, stop, embed) = (frames.clone(), heartbeat.clone(), stop.clone(), embed.clone());
            let (settings, mirror) = (config.booth.clone(), config.camera.mirror);
            std::thread::Builder::new().name("vision".into()).spawn(move || {
                // Tracks the visitor's face between frames: one detection per frame, mostly small.
                let mut analyser = FrameAnalyser::default();
                while !stop.load(Ordering::SeqCst) {
                    heartbeat.store(clock.elapsed().as_millis() as u64, Ordering::SeqCst);
                    let Some(frame) = frames.take(Duration::from_millis(250)) else {
                        analyser.reset();
                        continue;
                    };
                    analyser.set_embedding(embed.load(Ordering::SeqCst));
                    let analysed = analyser.analyse(&vision, &frame.image, frame.label.clone(), &settings, mirror);
                    timings.lock().unwrap_or_else(|e| e.into_inner()).frame(frame.seq, &analyser.last_times());
                    match analysed {
                        Ok(obs) => {
                            if obs_tx.blocking_send(obs).is_err() {
                                break;
                            }
                        }
                        Err(e) => log::warn!("vision: {e:#}"),
                    }
                    // The soak's leak gate (trace level only; a size, nothing about the frame).
                    crate::util::memory::log_in_use(format_args!("frame {}", frame.seq));
                }
            })?
        };
        Ok((Pipeline { frames, stop, embed, heartbeat, threads: vec![worker, capture] }, Outputs { status, observations }))
    }

    /// When the vision worker last looped, in seconds on the daemon's clock.
    pub fn heartbeat(&self) -> f64 {
        self.heartbeat.load(Ordering::SeqCst) as f64 / 1000.0
    }

    /// Whether good faces are embedded from the next frame on.
    pub fn set_embedding(&self, wanted: bool) {
        self.embed.store(wanted, Ordering::SeqCst);
    }

    /// Stops the camera; the vision worker finishes the frame it has and ends, which closes
    /// [`Outputs::observations`].
    pub fn stop_camera(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.frames.close();
    }

    /// Stops both threads and waits for them a little (a camera stuck in the kernel is left
    /// behind: the process ends or starts over without it). The loop drops [`Outputs`] first, so
    /// a worker waiting to hand over a frame ends too.
    pub fn stop(mut self) {
        self.stop_camera();
        let deadline = Instant::now() + Duration::from_millis(1200);
        for h in std::mem::take(&mut self.threads) {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
