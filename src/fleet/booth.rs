//! The running booth seen from outside, as an update module sees it: through the health snapshot
//! the daemon writes (`STATE_DIR/health.json`, see `service::health`) — the daemon opens no
//! socket — and a SIGHUP to reload it (what `systemctl reload rolemirror` sends).
//!
//! A commit waits until the booth runs what was installed: [`judge`] decides from one look at
//! the snapshot (no I/O, tested on fake snapshots), [`wait`] looks again every second.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::service::health::{self, Snapshot};

/// The booth as an install found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Before {
    /// The daemon's pid (None: not running).
    pub pid: Option<u32>,
    /// It ran the booth (not the service screen).
    pub running: bool,
}

/// The daemon's snapshot, when that daemon still runs.
pub fn live(config: &Config) -> Option<Snapshot> {
    health::load_snapshot(&config.state_dir).filter(health::daemon_alive)
}

/// How the booth is now.
pub fn before(config: &Config) -> Before {
    match live(config) {
        Some(s) => Before { pid: Some(s.pid), running: s.state == "running" },
        None => Before { pid: None, running: false },
    }
}

/// Asks the running booth to reload its config and gallery (SIGHUP). `Ok(false)`: no booth runs.
pub fn reload(config: &Config) -> Result<bool, String> {
    let Some(s) = live(config) else { return Ok(false) };
    let pid = i32::try_from(s.pid).map_err(|_| format!("pid {} in the health snapshot is not a pid", s.pid))?;
    // SAFETY: kill(2) with a pid read from the booth's snapshot, checked to be a running rolemirror.
    if unsafe { libc::kill(pid, libc::SIGHUP) } != 0 {
        return Err(format!("cannot signal the booth (pid {pid}): {}", std::io::Error::last_os_error()));
    }
    Ok(true)
}

/// What a commit waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The booth loaded its gallery and config after this bundle serial was installed.
    Serial(u64),
    /// A booth process started at or after this time (unix seconds): the package's postinst
    /// restarted it.
    StartedSince(u64),
}

/// One look at the booth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not yet: why.
    Wait(String),
    /// It runs what was installed.
    Up(String),
    /// It came back and cannot run it: why.
    Down(String),
}

/// Judges one snapshot (`None`: no running daemon). `was_running`: the booth ran before the
/// install, so a service screen now is the install's fault; a booth that was already on its
/// service screen (a fresh install with no gallery, a missing screen) only has to have loaded it.
pub fn judge(expect: &Expect, was_running: bool, snap: Option<&Snapshot>) -> Verdict {
    let Some(s) = snap else { return Verdict::Wait("the booth is not running (yet)".into()) };
    let (fresh, what) = match expect {
        Expect::Serial(serial) => (s.installed_serial == Some(*serial), format!("bundle serial {serial}")),
        Expect::StartedSince(t) => (s.started_unix >= *t, format!("version {}", s.version)),
    };
    if !fresh {
        return Verdict::Wait(format!("the booth (pid {}) still runs what it loaded before", s.pid));
    }
    if s.state == "running" {
        Verdict::Up(format!("the booth (pid {}) runs {what}", s.pid))
    } else if was_running {
        Verdict::Down(format!("the booth runs {what} but shows its {}", s.state))
    } else {
        Verdict::Up(format!("the booth (pid {}) loaded {what}; it shows its {} as before the install", s.pid, s.state))
    }
}

/// Looks at the booth every second until [`judge`] says up or down, or `timeout` passes.
pub fn wait(config: &Config, expect: &Expect, was_running: bool, timeout: Duration, say: &mut dyn FnMut(&str)) -> Result<String, String> {
    let start = Instant::now();
    let mut last = String::new();
    loop {
        match judge(expect, was_running, live(config).as_ref()) {
            Verdict::Up(why) => return Ok(why),
            Verdict::Down(why) => return Err(why),
            Verdict::Wait(why) => {
                if why != last {
                    say(&format!("waiting for the booth: {why}"));
                    last = why;
                }
            }
        }
        if start.elapsed() >= timeout {
            return Err(format!("the booth did not come back on the update within {} s ({last})", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The owner (uid, gid) of `dir`, for [`drop_to`].
pub fn owner(dir: &Path) -> Result<(u32, u32), String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(dir).map_err(|e| format!("{}: {e} (is the booth installed?)", dir.display()))?;
    Ok((m.uid(), m.gid()))
}

/// Gives up root for good, becoming `uid`:`gid` (the booth's user, who owns the gallery store),
/// so that a bundle is unpacked, decoded and installed with the booth's own rights and leaves
/// files the booth can manage. Nothing happens when not root or when `uid` is root.
pub fn drop_to(uid: u32, gid: u32) -> Result<bool, String> {
    // SAFETY: plain system calls on integers; no memory is shared.
    unsafe {
        if libc::geteuid() != 0 || uid == 0 {
            return Ok(false);
        }
        let groups = [gid as libc::gid_t];
        if libc::setgroups(1, groups.as_ptr()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
            return Err(format!("cannot become uid {uid} gid {gid}: {}", std::io::Error::last_os_error()));
        }
        if libc::setuid(0) == 0 || libc::geteuid() != uid {
            return Err("root could not be given up".into());
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(serial: u64, started: u64, state: &str) -> Snapshot {
        Snapshot {
            pid: 42,
            installed_serial: Some(serial),
            started_unix: started,
            state: state.into(),
            version: "0.2.0".into(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_commit_waits_for_the_booth_to_run_what_was_installed() {
        let e = Expect::Serial(9);
        assert!(matches!(judge(&e, true, None), Verdict::Wait(w) if w.contains("not running")));
        // Still on the old serial: the reload has not happened yet.
        assert!(matches!(judge(&e, true, Some(&snap(8, 100, "running"))), Verdict::Wait(_)));
        assert!(matches!(judge(&e, true, Some(&snap(9, 100, "running"))), Verdict::Up(u) if u.contains("serial 9")));
        // It came back on the service screen: the install broke a running booth.
        let down = judge(&e, true, Some(&snap(9, 100, "service screen: gallery: no role model")));
        assert!(matches!(&down, Verdict::Down(d) if d.contains("service screen: gallery")), "{down:?}");
        // A booth on its service screen before (e.g. no screen attached) only has to load it.
        assert!(matches!(judge(&e, false, Some(&snap(9, 100, "service screen: display"))), Verdict::Up(_)));
        // An old snapshot (written before the field existed) never counts as the new serial.
        let mut old = snap(9, 100, "running");
        old.installed_serial = None;
        assert!(matches!(judge(&e, true, Some(&old)), Verdict::Wait(_)));
    }

    #[test]
    fn a_package_commit_waits_for_a_restarted_booth() {
        let e = Expect::StartedSince(1000);
        assert!(matches!(judge(&e, true, Some(&snap(1, 999, "running"))), Verdict::Wait(_)));
        assert!(matches!(judge(&e, true, Some(&snap(1, 1000, "running"))), Verdict::Up(u) if u.contains("version 0.2.0")));
        assert!(matches!(judge(&e, true, Some(&snap(1, 1001, "service screen: camera"))), Verdict::Down(_)));
    }
}
