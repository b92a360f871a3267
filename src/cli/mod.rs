//! The commands behind the `rolemirror` binary. `main.rs` parses arguments and calls these;
//! each returns the process exit code (see [`ExitCode`]).
//!
//! Exit codes: 0 success; 1 some inputs failed (each named in the output) but the run went on;
//! 2 bad usage (from the argument parser); 3 setup problem (a model, gallery or index that is
//! missing, corrupt or stale: the message says what to run).

pub mod audit;
pub mod bench;
pub mod booth;
pub mod embed;
pub mod eval;
pub mod gallery;
pub mod models;
pub mod usb;

use std::path::PathBuf;

use crate::models::Manifest;
use crate::vision::{Vision, VisionOptions};

/// Process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    InputFailed = 1,
    Usage = 2,
    Setup = 3,
}

/// Prints `HEADER: N problem(s)WHAT:` and one indented line per problem; the exit code for it.
pub fn print_problems(out: &mut impl std::io::Write, header: &str, what: &str, problems: &[String]) -> std::io::Result<ExitCode> {
    writeln!(out, "{header}: {} problem(s){what}:", problems.len())?;
    for p in problems {
        writeln!(out, "  {p}")?;
    }
    Ok(ExitCode::Setup)
}

/// Options every vision command shares.
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// Model directory (None: see [`crate::models::model_dir`]).
    pub models: Option<PathBuf>,
    /// Embedder id (None: the manifest's default).
    pub embedder: Option<String>,
    /// tract threads.
    pub threads: usize,
    /// Detector input (width, height); None: the default 640x640.
    pub detector_input: Option<(u32, u32)>,
    /// How role models are ranked (match, bench, eval relatability, gallery audit).
    pub matching: crate::gallery::matcher::Settings,
}

impl Common {
    /// Loads the vision pipeline these options name.
    pub fn vision(&self) -> anyhow::Result<Vision> {
        let manifest = Manifest::builtin()?;
        let dir = crate::models::model_dir(self.models.as_deref());
        let mut opts = VisionOptions { embedder: self.embedder.clone(), threads: self.threads.max(1), ..Default::default() };
        if let Some(input) = self.detector_input {
            opts.detect.input = input;
        }
        Vision::load(&dir, &manifest, &opts)
    }
}

/// Parses `WxH` (e.g. `640x480`).
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT, e.g. 640x480"))?;
    let p = |v: &str| v.trim().parse::<u32>().map_err(|_| format!("{s:?}: expected WIDTHxHEIGHT, e.g. 640x480"));
    Ok((p(w)?, p(h)?))
}

/// Parses a weight in 0..=1 (`--gender-cue`).
pub fn parse_weight(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(w) if (0.0..=1.0).contains(&w) => Ok(w),
        _ => Err(format!("{s:?}: expected a number from 0 to 1")),
    }
}

/// Prints an error chain on one line to stderr and returns the setup exit code.
pub fn setup_error(e: &anyhow::Error) -> ExitCode {
    eprintln!("rolemirror: {e:#}");
    ExitCode::Setup
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_sizes() {
        assert_eq!(super::parse_size("640x480"), Ok((640, 480)));
        assert!(super::parse_size("640").is_err());
        assert!(super::parse_size("ax1").is_err());
    }
}

/// Rounds for JSON output (4 decimals for coordinates and scores).
pub(crate) fn round4(v: f32) -> f64 {
    (f64::from(v) * 1e4).round() / 1e4
}
