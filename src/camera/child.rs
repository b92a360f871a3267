//! A supervised child process that streams raw frames of a fixed size on its stdout (the
//! libcamera programs, `libcamera.rs`).
//!
//! - **No orphans.** The child runs in a process group of its own and gets `SIGKILL` when the
//!   thread that started it ends (`PR_SET_PDEATHSIG`: the capture thread, which lives as long as
//!   its source). Dropping a [`ChildStream`] sends `SIGTERM` to the whole group (a program's
//!   helpers, such as libcamera's IPA proxy or GStreamer's plugin scanner, included), waits up to
//!   [`STOP_GRACE`], sends `SIGKILL` to what is left, and reaps the child.
//! - **Never blocked past the timeout.** A frame is read with `poll(2)` against a deadline; a
//!   child that hangs is a lost camera, not a stuck booth.
//! - **Its stderr goes to the log line by line, rate-limited** ([`LineBudget`]), each line made
//!   printable and cut to [`MAX_LINE`] characters; a line that is not text (a program writing
//!   binary to stderr) is logged as its length only. Its stdout, the frames, never reaches a log.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::CameraError;

/// How long a stopped child gets to end before it is killed.
pub const STOP_GRACE: Duration = Duration::from_millis(500);
/// Characters of a stderr line kept for the log.
pub const MAX_LINE: usize = 240;

/// A program to run and what it writes.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// For logs and reasons: `rpicam-vid`, `gst-launch-1.0`.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set for the child.
    pub env: Vec<(String, String)>,
    /// Bytes per frame on its stdout.
    pub frame_bytes: usize,
}

/// At most `max` lines per `window` seconds; what is held back is counted and said with the
/// next line let through. Pure: the time comes in.
#[derive(Debug)]
pub struct LineBudget {
    window: f64,
    max: u32,
    started: f64,
    used: u32,
    held: u64,
}

/// What to do with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Log,
    /// Log it, after saying how many lines were held back before it.
    LogAfterHeld(u64),
    Hold,
}

impl LineBudget {
    pub fn new(max: u32, window: Duration) -> LineBudget {
        LineBudget { window: window.as_secs_f64(), max, started: f64::NEG_INFINITY, used: 0, held: 0 }
    }

    pub fn admit(&mut self, now: f64) -> Verdict {
        if now - self.started >= self.window {
            self.started = now;
            self.used = 0;
        }
        if self.used >= self.max {
            self.held += 1;
            return Verdict::Hold;
        }
        self.used += 1;
        match std::mem::take(&mut self.held) {
            0 => Verdict::Log,
            n => Verdict::LogAfterHeld(n),
        }
    }
}

/// A stderr line as it may be logged: text, without libcamera's `[0:00:01.234] [1234] `
/// time and thread prefix, printable, at most [`MAX_LINE`] characters; `None` for a line that is
/// not text.
pub fn printable(raw: &[u8]) -> Option<String> {
    let line = String::from_utf8_lossy(raw);
    let line = line.trim_end_matches(['\n', '\r']);
    let odd = line.chars().filter(|c| *c == char::REPLACEMENT_CHARACTER || (c.is_control() && *c != '\t' && *c != '\u{1b}')).count();
    // Binary (frame bytes, say) is mostly control and invalid characters; text has next to none.
    if odd * 4 > line.chars().count().max(8) {
        return None;
    }
    let mut rest = line.trim_start();
    // libcamera's log prefix: "[0:00:01.234567890] [1234] ".
    for _ in 0..2 {
        if let Some(after) = rest.strip_prefix('[').and_then(|r| r.split_once("] ")).filter(|(inside, _)| inside.len() < 32).map(|(_, a)| a)
        {
            rest = after;
        }
    }
    // Terminal colours (ESC [ … m) and other control characters out.
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            while chars.next().is_some_and(|c| !c.is_ascii_alphabetic()) {}
        } else if !c.is_control() || c == '\t' {
            out.push(c);
        }
    }
    if out.chars().count() > MAX_LINE {
        out = out.chars().take(MAX_LINE).collect::<String>() + "…";
    }
    Some(out)
}

/// A running child and the frame it is writing.
pub struct ChildStream {
    name: String,
    child: Child,
    stdout: ChildStdout,
    frame: Vec<u8>,
    /// The last stderr line (printable), for the reason when the child ends.
    last_line: Arc<Mutex<String>>,
    stderr: Option<std::thread::JoinHandle<()>>,
}

impl ChildStream {
    /// Starts `spec` (`ENOENT`: the program is not installed: `Gone`, with the caller's hint).
    pub fn spawn(spec: &ChildSpec) -> Result<ChildStream, CameraError> {
        let parent = std::process::id();
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            // libcamera's V4L2 compatibility layer (`libcamerify`, the old way to run the booth with a
            // Camera Module) would sit between the program and its own devices.
            .env_remove("LD_PRELOAD")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: between fork and exec only async-signal-safe calls (prctl, getppid).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have ended before the prctl: then nobody would stop this child.
                if libc::getppid() as u32 != parent {
                    return Err(std::io::Error::other("the booth ended while starting the camera program"));
                }
                Ok(())
            });
        }
        let mut child =
            command.spawn().map_err(|e| CameraError::Gone(format!("{}: cannot start {}: {e}", spec.name, spec.program.display())))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(CameraError::Gone(format!("{}: no pipes to the child", spec.name)));
        };
        let last_line = Arc::new(Mutex::new(String::new()));
        let stderr = {
            let (name, last) = (spec.name.clone(), last_line.clone());
            std::thread::Builder::new()
                .name("camera-stderr".into())
                .spawn(move || {
                    log_lines(stderr, &last, |level, line| log::log!(level, "{name}: {line}"));
                })
                .map_err(|e| CameraError::Gone(format!("{}: cannot start its log thread: {e}", spec.name)))?
        };
        log::info!("camera: started {} (pid {}): {} {}", spec.name, child.id(), spec.program.display(), spec.args.join(" "));
        Ok(ChildStream { name: spec.name.clone(), child, stdout, frame: vec![0; spec.frame_bytes], last_line, stderr: Some(stderr) })
    }

    /// The child's process id (its process group's too).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next whole frame, waiting at most `timeout`. A child that ends, or sends nothing in
    /// time, is `Gone` (the capture thread stops it and starts another).
    pub fn read_frame(&mut self, timeout: Duration) -> Result<&[u8], CameraError> {
        let deadline = Instant::now() + timeout;
        let mut filled = 0;
        while filled < self.frame.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CameraError::Gone(format!("{}: no frame for {:.1} s{}", self.name, timeout.as_secs_f32(), self.part(filled))));
            }
            let mut poll = libc::pollfd { fd: self.stdout.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd for the duration of the call.
            let ready = unsafe { libc::poll(&mut poll, 1, ms) };
            if ready < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(CameraError::Gone(format!("{}: poll: {e}", self.name)));
            }
            if ready == 0 {
                continue;
            }
            match self.stdout.read(&mut self.frame[filled..]) {
                Ok(0) => return Err(CameraError::Gone(self.ended(filled))),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CameraError::Gone(format!("{}: read: {e}", self.name))),
            }
        }
        Ok(&self.frame)
    }

    fn part(&self, filled: usize) -> String {
        if filled == 0 {
            String::new()
        } else {
            format!(" (stopped inside a frame: {filled} of {} bytes)", self.frame.len())
        }
    }

    /// Why the stream ended: the exit status and the child's last words.
    fn ended(&mut self, filled: usize) -> String {
        // The pipe closes a moment before the process is gone.
        let deadline = Instant::now() + STOP_GRACE;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => break None,
            }
        };
        let status = match status {
            Some(s) => format!("exited ({s})"),
            None => "closed its output".to_string(),
        };
        // Its last words: the log thread reads stderr to its end (a helper still holding it open
        // is not waited for beyond the grace time).
        while self.stderr.as_ref().is_some_and(|t| !t.is_finished()) && Instant::now() < deadline + STOP_GRACE {
            std::thread::sleep(Duration::from_millis(5));
        }
        let last = self.last_line.lock().map(|l| l.clone()).unwrap_or_default();
        let last = if last.is_empty() { String::new() } else { format!(": {last}") };
        format!("{} {status}{}{last}", self.name, self.part(filled))
    }

    /// Stops the process group: `SIGTERM`, up to [`STOP_GRACE`], `SIGKILL`, reaped.
    fn stop(&mut self) {
        let Ok(pgid) = libc::pid_t::try_from(self.child.id()) else { return };
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            // Ended and reaped: its group id may be reused; helpers left in it end with their pipes.
            return;
        }
        // SAFETY: signals to the child's own process group (it is not reaped yet, so the id is ours).
        unsafe { libc::killpg(pgid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && !exited_unreaped(pgid) {
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: as above; the leader is not reaped before this (a zombie keeps its id).
        unsafe { libc::killpg(pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Whether process `pid` (our child) has ended, without reaping it.
fn exited_unreaped(pid: libc::pid_t) -> bool {
    // SAFETY: waitid fills a siginfo_t we own; WNOWAIT leaves the child reapable.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) == 0 && info.si_pid() != 0
    }
}

impl Drop for ChildStream {
    fn drop(&mut self) {
        self.stop();
        if let Some(t) = self.stderr.take() {
            let _ = t.join();
        }
    }
}

/// The child's stderr into `emit` (the log), line by line (lines over 4 KiB are cut), at most
/// 20 lines per 10 s; the last line kept for the reason when the child ends.
pub fn log_lines(stderr: impl Read, last: &Mutex<String>, mut emit: impl FnMut(log::Level, String)) {
    let clock = Instant::now();
    let mut budget = LineBudget::new(20, Duration::from_secs(10));
    let mut reader = BufReader::new(stderr);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match reader.by_ref().take(4096).read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if raw.last() != Some(&b'\n') && raw.len() >= 4096 {
            // The rest of an overlong line.
            let mut skip = Vec::new();
            let _ = reader.read_until(b'\n', &mut skip);
        }
        let line = printable(&raw);
        if let Some(l) = &line {
            if l.trim().is_empty() {
                continue;
            }
            if let Ok(mut last) = last.lock() {
                last.clone_from(l);
            }
        }
        match budget.admit(clock.elapsed().as_secs_f64()) {
            Verdict::Hold => continue,
            Verdict::LogAfterHeld(n) => emit(log::Level::Info, format!("({n} lines not logged)")),
            Verdict::Log => {}
        }
        match line {
            Some(l) => emit(log::Level::Info, l),
            None => emit(log::Level::Warn, format!("{} bytes on stderr that are not text (not logged)", raw.len())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_budget_holds_back_and_says_how_many() {
        let mut b = LineBudget::new(2, Duration::from_secs(10));
        assert_eq!(b.admit(0.0), Verdict::Log);
        assert_eq!(b.admit(1.0), Verdict::Log);
        assert_eq!(b.admit(2.0), Verdict::Hold);
        assert_eq!(b.admit(9.9), Verdict::Hold);
        assert_eq!(b.admit(10.0), Verdict::LogAfterHeld(2));
        assert_eq!(b.admit(10.1), Verdict::Log);
        assert_eq!(b.admit(10.2), Verdict::Hold);
        assert_eq!(b.admit(100.0), Verdict::LogAfterHeld(1));
    }

    #[test]
    fn lines_are_made_printable_and_binary_is_not_logged() {
        assert_eq!(
            printable(b"[0:00:01.118543037] [1234]  INFO Camera camera_manager.cpp:327 libcamera v0.4.0\n").as_deref(),
            Some(" INFO Camera camera_manager.cpp:327 libcamera v0.4.0")
        );
        assert_eq!(
            printable(b"\x1b[1;31mERROR\x1b[0m: *** no cameras available ***\r\n").as_deref(),
            Some("ERROR: *** no cameras available ***")
        );
        assert_eq!(printable(b"a\tb\x07c").as_deref(), Some("a\tbc"));
        let long = printable(&[b'x'; 1000]).expect("text");
        assert_eq!(long.chars().count(), MAX_LINE + 1);
        let frame: Vec<u8> = (0..=255u8).cycle().take(600).collect();
        assert_eq!(printable(&frame), None, "frame bytes are not text");
        assert_eq!(printable(&[0x80, 0x81, 0x82, b'o', b'k']), None);
    }

    /// A program that writes a frame's bytes to stderr (a pipeline misdirected to fd 2): what
    /// reaches the log is their count, never the bytes; text lines around them are logged, the
    /// flood is held back to the budget, and the last line is kept for the reason.
    #[test]
    fn stderr_with_frame_bytes_logs_their_count_only() {
        let frame: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let mut stderr = b"[0:00:00.5] [77]  INFO Camera camera_manager.cpp:327 libcamera v0.4.0\n".to_vec();
        stderr.extend_from_slice(&frame);
        stderr.extend_from_slice(b"\n");
        for i in 0..40 {
            stderr.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        stderr.extend_from_slice(b"ERROR: *** no cameras available ***\n");
        let last = Mutex::new(String::new());
        let mut logged = Vec::new();
        log_lines(stderr.as_slice(), &last, |level, line| logged.push((level, line)));
        assert_eq!(logged.len(), 20, "{logged:?}");
        assert_eq!(logged[0].1, " INFO Camera camera_manager.cpp:327 libcamera v0.4.0");
        assert!(
            logged.iter().any(|(level, l)| *level == log::Level::Warn && l.contains("bytes on stderr that are not text")),
            "{logged:?}"
        );
        let total: usize = logged.iter().map(|(_, l)| l.len()).sum();
        assert!(total < 2000, "{total} characters logged");
        for window in frame.windows(8).step_by(997) {
            let needle = String::from_utf8_lossy(window);
            assert!(!logged.iter().any(|(_, l)| l.contains(needle.as_ref())), "frame bytes in the log");
        }
        assert_eq!(*last.lock().expect("lock"), "ERROR: *** no cameras available ***");
    }
}
