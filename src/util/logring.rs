//! The last warnings and errors, kept in memory for the health report: a [`Tee`] in front of the
//! real logger copies every `warn` and `error` record into a bounded ring ([`recent`]).
//!
//! Log lines carry file names, keys, device names and error texts only — never a visitor's
//! embedding, similarity or picture (the privacy invariant; see `tests/it/booth.rs`) — so the
//! ring holds nothing about a visitor either.

use std::collections::VecDeque;
use std::sync::Mutex;

/// How many lines the ring keeps.
pub const CAPACITY: usize = 50;
/// Longer messages are cut to this many characters.
pub const MAX_LINE: usize = 400;

static RING: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// Adds one line (the oldest goes when the ring is full).
pub fn push(line: String) {
    let mut line = line.replace(['\n', '\r'], " ");
    if let Some((cut, _)) = line.char_indices().nth(MAX_LINE) {
        line.truncate(cut);
        line.push('…');
    }
    let mut ring = RING.lock().unwrap_or_else(|e| e.into_inner());
    while ring.len() >= CAPACITY {
        ring.pop_front();
    }
    ring.push_back(line);
}

/// The kept lines, oldest first.
pub fn recent() -> Vec<String> {
    RING.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
}

/// A logger that passes every record to `inner` (when `inner` wants it) and keeps warnings and
/// errors in the ring, whatever level `inner` prints.
pub struct Tee<L> {
    inner: L,
}

impl<L: log::Log> Tee<L> {
    pub fn new(inner: L) -> Tee<L> {
        Tee { inner }
    }
}

impl<L: log::Log> log::Log for Tee<L> {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn || self.inner.enabled(metadata)
    }

    fn log(&self, record: &log::Record) {
        if record.level() <= log::Level::Warn {
            let when = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
            push(format!("{when} {} {}: {}", record.level(), record.target(), record.args()));
        }
        if self.inner.enabled(record.metadata()) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_lines_cut_to_length() {
        for i in 0..CAPACITY + 7 {
            push(format!("line {i}\nsecond part"));
        }
        push("x".repeat(MAX_LINE + 50));
        let lines = recent();
        assert_eq!(lines.len(), CAPACITY);
        assert_eq!(lines[0], "line 8 second part");
        assert_eq!(lines.last().map(|l| l.chars().count()), Some(MAX_LINE + 1));
    }
}
