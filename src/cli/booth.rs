//! `rolemirror demo` and `rolemirror config check`.

use std::io::Write;
use std::path::Path;

use super::{setup_error, Common, ExitCode};
use crate::booth::demo::{self, DemoOptions};
use crate::config::Config;
use crate::gallery::Gallery;

/// `config check FILE`.
pub fn config_check(file: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    match Config::load(file) {
        Ok(_) => {
            writeln!(out, "{}: ok", file.display())?;
            Ok(ExitCode::Ok)
        }
        Err(e) => Ok(super::print_problems(out, &file.display().to_string(), "", &e.problems)?),
    }
}

/// `demo [--data DIR] [--out DIR] [--size WxH]`.
pub fn demo(common: &Common, data: &Path, out_dir: &Path, size: (u32, u32), out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let vision = match common.vision() {
        Ok(v) => v,
        Err(e) => return Ok(setup_error(&e)),
    };
    let gallery = match Gallery::open_or_build(&data.join("gallery"), &vision, |_, _| {}) {
        Ok((g, _)) => g.with_settings(common.matching),
        Err(e) => return Ok(setup_error(&e.context("demo gallery (run `rolemirror demo fetch` first)"))),
    };
    let config = Config::default();
    let opts = DemoOptions { data: data.to_path_buf(), out: out_dir.to_path_buf(), width: size.0, height: size.1 };
    match demo::run(&vision, &gallery, &config, &opts) {
        Ok((visitors, matched)) => {
            out.flush()?;
            eprintln!("demo: {visitors} visitor frames, {matched} matches; screens in {}", out_dir.join("screens").display());
            Ok(ExitCode::Ok)
        }
        Err(e) => Ok(setup_error(&e)),
    }
}
