//! `rolemirror run --config FILE`: the booth as a long-running systemd service.
//!
//! - This module: the outer loop — read the config, tidy an interrupted USB import, start up,
//!   run the booth (or the service screen), reload on SIGHUP or after a USB update, stop on
//!   SIGTERM.
//! - [`startup`]: models, gallery and screen assets, phase by phase, feeding systemd's watchdog.
//! - [`running`]: the running booth's threads and event loop.
//! - [`core`]: the event loop's decisions without I/O (tested on a fake clock).
//! - [`fallback`]: the service screen when the booth cannot run as configured.
//! - [`counters`]: the anonymous counters in the state directory.
//! - [`health`]: the health report (on a stick, and `rolemirror report`) and its snapshot file.

pub mod core;
pub mod counters;
pub mod fallback;
pub mod health;
pub mod running;
pub mod startup;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::config::Config;
use crate::events::emit;
use crate::usb::Updater;
use crate::vision::Vision;
use startup::Startup;

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// SIGTERM or SIGINT.
    Stopped,
    /// Replay without looping reached its end (tests).
    ReplayEnded,
}

impl Exit {
    /// The `reason` of the `shutdown` event.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Stopped => "stopped",
            Exit::ReplayEnded => "replayended",
        }
    }
}

/// How one configuration's run ended.
pub(crate) enum Outcome {
    Exit(Exit),
    /// SIGHUP or an installed update: read the config again and start over.
    Reload,
    /// What was missing is there now (a screen that appeared after the booth started): start over.
    Retry,
}

/// Tells systemd (outside systemd, without `NOTIFY_SOCKET`, this does nothing). Never waits: the
/// datagram is sent non-blocking, and dropped when the manager's queue is full — the booth's
/// event loop must not stall on a slow reader (the next ping follows within a second).
pub(crate) fn notify(states: &[sd_notify::NotifyState]) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    let message: String = states.iter().map(|s| format!("{s}\n")).collect();
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name),
        None => SocketAddr::from_pathname(&path),
    };
    let sent = UnixDatagram::unbound().and_then(|sock| {
        sock.set_nonblocking(true)?;
        sock.send_to_addr(message.as_bytes(), &addr?)
    });
    if let Err(e) = sent {
        log::debug!("sd_notify: {e}");
    }
}

/// The signals the daemon reacts to, and what outlives a reload.
pub(crate) struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
    /// SIGUSR1: look for USB sticks now (sent by the mount helper).
    usr1: Signal,
    /// Sticks already handled (mount point → identity), so a reload does not import again.
    seen: HashMap<PathBuf, String>,
}

/// The USB [`Updater`] for a booth: `vision` when the booth has its models loaded, else they are
/// loaded when an import needs them.
/// Every stick with a `ROLEMIRROR/` folder gets a health report from `live`.
fn updater(config: &Config, config_path: &Path, vision: Option<Arc<Vision>>, current: Option<Config>, live: health::SharedLive) -> Updater {
    let options = config.vision.clone();
    let source: crate::usb::VisionSource = match vision {
        Some(v) => Arc::new(move || Ok(v.clone())),
        None => Arc::new(move || Vision::open(&options).map(Arc::new)),
    };
    Updater::new(config.usb.clone(), config_path, current, &config.gallery.dir, source, config.texts.clone()).with_health(health::source(
        config_path,
        config,
        live,
    ))
}

/// The health of a booth on its service screen (it could not start as configured), also
/// written to the snapshot file for `rolemirror report`.
fn service_health(config: &Config, problems: &[String]) -> health::SharedLive {
    let state = format!("service screen: {}", problems.join("; "));
    let snapshot = health::new_snapshot(config, &state, health::configured_models(config), None);
    health::save_snapshot(&config.state_dir, &snapshot);
    let days = counters::Counters::load(&config.state_dir).days;
    Arc::new(std::sync::Mutex::new(health::Live { snapshot, days }))
}

/// Runs the daemon until SIGTERM (or the end of a non-looping replay).
pub fn run(config_path: &Path) -> anyhow::Result<Exit> {
    // The console's text, cursor and blanking stay off the framebuffer while the booth runs
    // (reloads included): see display::console.
    #[cfg(target_os = "linux")]
    let _vt = crate::display::console::VtGraphics::take();
    // tract picks its ARM kernels and f16 support from /proc/cpuinfo; a unit with
    // `ProcSubset=pid` (or a container) hides it, and every ARM CPU then gets the generic ones.
    if cfg!(any(target_arch = "aarch64", target_arch = "arm")) && std::fs::read_to_string("/proc/cpuinfo").is_err() {
        log::warn!(
            "vision: /proc/cpuinfo cannot be read: tract falls back to generic ARM kernels and no f16 (check the unit's ProcSubset=)"
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(daemon(config_path))
}

async fn daemon(config_path: &Path) -> anyhow::Result<Exit> {
    let mut sig = Signals {
        term: signal(SignalKind::terminate())?,
        int: signal(SignalKind::interrupt())?,
        hup: signal(SignalKind::hangup())?,
        usr1: signal(SignalKind::user_defined1())?,
        seen: HashMap::new(),
    };
    loop {
        let outcome = match Config::load(config_path) {
            Ok(config) => {
                startup::tidy_gallery_store(&config.gallery.dir);
                match startup::load_watched(&config, &mut sig).await {
                    Startup::Loaded(loaded) => {
                        // Start-up (model optimisation, gallery indexing) freed far more than the
                        // booth keeps: give it back before running.
                        crate::util::memory::release_free();
                        running::booth(*loaded, config_path, &mut sig).await?
                    }
                    Startup::Failed(problems) => {
                        let live = service_health(&config, &problems);
                        let usb = updater(&config, config_path, None, Some(config.clone()), live);
                        fallback::service(&config.display, &problems, false, usb, &mut sig).await?
                    }
                    Startup::Stopped => {
                        emit("shutdown", &[("reason", Exit::Stopped.name().to_string())]);
                        Outcome::Exit(Exit::Stopped)
                    }
                }
            }
            Err(e) => {
                let problems: Vec<String> = e.problems.iter().map(|p| format!("{}: {p}", config_path.display())).collect();
                let lenient = Config::lenient(config_path);
                let live = service_health(&lenient, &problems);
                let usb = updater(&lenient, config_path, None, None, live);
                fallback::service(&lenient.display, &problems, false, usb, &mut sig).await?
            }
        };
        match outcome {
            Outcome::Exit(exit) => return Ok(exit),
            Outcome::Reload => {
                notify(&[sd_notify::NotifyState::Reloading]);
                emit("config_reloaded", &[("file", config_path.display().to_string())]);
            }
            Outcome::Retry => {}
        }
    }
}
