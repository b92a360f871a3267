//! Progress of a long command on stderr: a bar when stderr is a terminal, nothing otherwise.
//!
//! Quiet in pipes (stderr not a terminal), with `--json` (the caller passes `quiet`), and in
//! the daemon (which never makes one). The bar is cleared when finished, so the command's own
//! output is all that stays on the screen.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that draws only on a terminal.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar on stderr when stderr is a terminal and `quiet` is false; otherwise draws nothing.
    pub fn new(total: u64, what: &str, quiet: bool) -> Progress {
        Progress::with_drawing(total, what, shown(quiet, std::io::stderr().is_terminal()))
    }

    fn with_drawing(total: u64, what: &str, draw: bool) -> Progress {
        let target = if draw { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        Progress { bar }
    }

    /// Counts `n` more items done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// The item being worked on (shown after the count).
    pub fn set_message(&self, msg: &str) {
        self.bar.set_message(msg.to_string());
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // A command that fails half-way must not leave a half-drawn bar above its error.
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// A `(done, total)` callback drawing a [`Progress`] bar, made at the first call (when the total
/// is known), for library loops that report progress that way (`gallery import`, `preview`).
pub fn callback(what: &'static str, quiet: bool) -> impl FnMut(usize, usize) {
    let mut bar: Option<Progress> = None;
    move |done, total| {
        let b = bar.get_or_insert_with(|| Progress::new(total as u64, what, quiet));
        b.bar.set_position(done as u64);
        if done >= total {
            b.finish();
        }
    }
}

/// Whether a bar is drawn: only on a terminal, and never when asked to be quiet.
fn shown(quiet: bool, stderr_is_terminal: bool) -> bool {
    stderr_is_terminal && !quiet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_only_on_a_terminal_and_never_when_quiet() {
        assert!(shown(false, true));
        assert!(!shown(true, true), "--json on a terminal");
        assert!(!shown(false, false), "a pipe");
        assert!(!shown(true, false));
    }

    #[test]
    fn hidden_mode_counts_without_drawing() {
        let p = Progress::new(5, "testing", true);
        assert!(p.bar.is_hidden());
        p.set_message("item one");
        p.inc(2);
        p.inc(3);
        assert_eq!(p.bar.position(), 5);
        assert_eq!(p.bar.length(), Some(5));
        p.finish();
        assert!(p.bar.is_finished());
        // Counting past the total or after finishing is harmless.
        p.inc(10);
    }

    #[test]
    fn the_callback_makes_its_bar_at_the_first_call() {
        let mut cb = callback("testing", true);
        cb(1, 3);
        cb(3, 3);
        cb(3, 3);
    }
}
