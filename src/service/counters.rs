//! Anonymous counters kept in the state directory (`counters.json`): visitors and matches per
//! role model since installation, and per local calendar day visitors, matches, visitors who
//! left before a match, and how often visitors asked for another match or language. Nothing about a visitor is in them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Days kept in `days` (older ones are dropped): more than a year, bounded.
pub const MAX_DAYS: usize = 400;

/// One day's counts.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Day {
    pub visitors: u64,
    pub matches: u64,
    /// Visitors who left before a match (too far away, turned away, moving).
    pub no_match: u64,
    /// Times a visitor asked for another match, and switched the language (button or touch).
    #[serde(default)]
    pub another_match: u64,
    #[serde(default)]
    pub language: u64,
}

/// The counters.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub visitors: u64,
    pub matches: BTreeMap<String, u64>,
    /// By local date, `YYYY-MM-DD`.
    #[serde(default)]
    pub days: BTreeMap<String, Day>,
}

impl Counters {
    fn path(dir: &Path) -> PathBuf {
        dir.join("counters.json")
    }

    /// The counters saved in `dir` (none yet, or unreadable: zero, with a warning for the latter).
    pub fn load(dir: &Path) -> Counters {
        let path = Counters::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                log::warn!("{}: unreadable ({e}); counting from zero", path.display());
                Counters::default()
            }),
            Err(_) => Counters::default(),
        }
    }

    /// Writes the counters to `dir` atomically; a failure is logged, the counting goes on in
    /// memory and the next save tries again.
    pub fn save(&self, dir: &Path) {
        let result = std::fs::create_dir_all(dir)
            .and_then(|_| serde_json::to_vec_pretty(self).map_err(std::io::Error::other))
            .and_then(|bytes| crate::util::write_atomic(&Counters::path(dir), &bytes));
        if let Err(e) = result {
            log::warn!("state.dir {}: cannot save counters: {e}", dir.display());
        }
    }

    fn day(&mut self, date: &str) -> &mut Day {
        if !self.days.contains_key(date) {
            while self.days.len() >= MAX_DAYS {
                self.days.pop_first();
            }
        }
        self.days.entry(date.to_string()).or_default()
    }

    /// A visitor arrived on `date`.
    pub fn visitor(&mut self, date: &str) {
        self.visitors += 1;
        self.day(date).visitors += 1;
    }

    /// A visitor was shown role model `id` on `date`.
    pub fn matched(&mut self, id: &str, date: &str) {
        *self.matches.entry(id.to_string()).or_default() += 1;
        self.day(date).matches += 1;
    }

    /// A visitor left on `date` without a match.
    pub fn no_match(&mut self, date: &str) {
        self.day(date).no_match += 1;
    }

    /// A visitor asked for another match on `date`.
    pub fn another_match(&mut self, date: &str) {
        self.day(date).another_match += 1;
    }

    /// A visitor switched the language on `date`.
    pub fn language(&mut self, date: &str) {
        self.day(date).language += 1;
    }
}

/// The local calendar date of `t` (`YYYY-MM-DD`, the booth's time zone from `/etc/localtime`).
pub fn local_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let time = libc::time_t::try_from(secs).unwrap_or(libc::time_t::MAX);
    // SAFETY: all-zero is a valid `tm` (integers and a null pointer).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `time` and writes `tm`, both valid for the call; it is thread-safe.
    if unsafe { libc::localtime_r(&time, &mut tm) }.is_null() {
        return humantime::format_rfc3339_seconds(t).to_string().chars().take(10).collect();
    }
    format!("{:04}-{:02}-{:02}", i64::from(tm.tm_year) + 1900, tm.tm_mon + 1, tm.tm_mday)
}

/// Today, by the system clock.
pub fn today() -> String {
    local_date(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_and_loaded_and_a_corrupt_file_counts_from_zero() {
        let dir = std::env::temp_dir().join(format!("rm-counters-{}", std::process::id()));
        let mut c = Counters::default();
        c.visitor("2026-11-30");
        c.matched("ann", "2026-11-30");
        c.visitor("2026-12-01");
        c.matched("ann", "2026-12-01");
        c.visitor("2026-12-01");
        c.no_match("2026-12-01");
        c.save(&dir);
        assert_eq!(Counters::load(&dir), c);
        assert_eq!(c.matches.get("ann"), Some(&2));
        assert_eq!(c.days["2026-12-01"], Day { visitors: 2, matches: 1, no_match: 1, ..Day::default() });
        std::fs::write(dir.join("counters.json"), b"{\"visitors\": 3, \"matches\"").expect("write");
        assert_eq!(Counters::load(&dir), Counters::default());
        // A file from before per-day counts still loads.
        std::fs::write(dir.join("counters.json"), b"{\"visitors\": 3, \"matches\": {\"bo\": 2}}").expect("write");
        assert_eq!(Counters::load(&dir).visitors, 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn days_are_bounded() {
        let mut c = Counters::default();
        for d in 0..MAX_DAYS + 10 {
            c.visitor(&format!("day-{d:05}"));
        }
        assert_eq!(c.days.len(), MAX_DAYS);
        assert!(!c.days.contains_key("day-00000") && c.days.contains_key(&format!("day-{:05}", MAX_DAYS + 9)));
        assert_eq!(c.visitors, (MAX_DAYS + 10) as u64);
    }

    #[test]
    fn local_dates() {
        let d = local_date(UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000));
        assert!(d == "2027-01-15" || d == "2027-01-14", "{d}");
        assert_eq!(today().len(), 10);
    }
}
