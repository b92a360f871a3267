//! `rolemirror run --config FILE`: the booth as a long-running systemd service.
//!
//! - [`daemon`]: the one event loop (a single `select!` over signals, start-up, the screen, the
//!   camera, analysed frames, USB and a tick) and everything that does I/O.
//! - [`machine`]: the daemon's decisions over its whole life, without I/O — start-up, the
//!   running booth, the service screen, updates, reloads, the exit (tested on a fake clock).
//! - [`core`]: the running booth's decisions, without I/O; the one thing that steps
//!   [`crate::booth::Booth`] — in the daemon, in `rolemirror demo` and in `rolemirror bench`.
//! - [`startup`]: models, gallery and screen assets, phase by phase.
//! - [`pipeline`]: the capture and vision threads.
//! - [`simulated`]: the booth on a simulated clock (`rolemirror demo`, `rolemirror bench`).
//! - [`counters`]: the anonymous counters in the state directory.
//! - [`health`]: the health report (on a stick, and `rolemirror report`) and its snapshot file.

pub mod core;
pub mod counters;
mod daemon;
pub mod health;
pub mod machine;
pub mod pipeline;
pub mod simulated;
pub mod startup;

use std::path::Path;

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
    rt.block_on(daemon::daemon(config_path))
}
