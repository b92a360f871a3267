//! `rolemirror run`, `rolemirror demo [fetch]` and `rolemirror config check`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::{Common, ExitCode};
use crate::config::{self, Config};
use crate::demo::{self, DemoOptions};
use crate::gallery::Gallery;
use crate::util::Size;

/// `run --config FILE`: the daemon until SIGTERM.
pub fn run(config: &Path) -> anyhow::Result<ExitCode> {
    crate::service::run(config)?;
    Ok(ExitCode::Ok)
}

/// `config check FILE`.
pub fn config_check(file: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("{}: cannot read", file.display()))?;
    let problems = config::check(&text);
    if problems.is_empty() {
        writeln!(out, "{}: ok", file.display())?;
        return Ok(ExitCode::Ok);
    }
    Ok(super::print_problems(out, &file.display().to_string(), "", &problems)?)
}

/// `demo fetch [--data-mirror DIR] [--out DIR]`.
pub fn demo_fetch(mirror: &Path, dir: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let gallery = demo::data::fetch(mirror, dir)?;
    writeln!(out, "demo photos verified; gallery in {} (next: rolemirror gallery build {})", gallery.display(), gallery.display())?;
    Ok(ExitCode::Ok)
}

/// `demo [--data DIR] [--out DIR] [--size WxH]`.
pub fn demo(common: &Common, data: &Path, out_dir: &Path, size: Size, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let vision = common.vision()?;
    let (gallery, _) =
        Gallery::open_or_build(&data.join("gallery"), &vision, |_, _| {}).context("demo gallery (run `rolemirror demo fetch` first)")?;
    let gallery = gallery.with_settings(common.matching);
    let opts = DemoOptions { data: data.to_path_buf(), out: out_dir.to_path_buf(), size };
    let summary = demo::run(&vision, &gallery, &Config::default(), &opts)?;
    out.flush()?;
    eprintln!("demo: {} visitor frames, {} matches; screens in {}", summary.visitors, summary.matches, out_dir.join("screens").display());
    Ok(ExitCode::Ok)
}
