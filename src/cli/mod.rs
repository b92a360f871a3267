//! The commands behind the `rolemirror` binary: [`args`] declares them, [`run`] dispatches and
//! decides the exit code in one place.
//!
//! Exit codes: 0 success; 1 some inputs failed (each named in the output) but the run went on;
//! 2 bad usage (from the argument parser); 3 setup problem — a model, gallery, index, config or
//! key that is missing, corrupt or stale: any error a command returns, printed as one line that
//! says what to run or fix.

pub mod args;
pub mod audit;
pub mod bench;
pub mod booth;
pub mod doctor;
pub mod embed;
pub mod eval;
pub mod gallery;
pub mod gallery_import;
pub mod mender;
pub mod models;
pub mod preview;
pub mod report;
pub mod usb;

use std::io::Write;
use std::path::PathBuf;

pub use args::Cli;
use args::{BundleAction, Command, ConfigAction, DemoAct, DemoAction, EvalAction, GalleryAction, ModelsAction};

use crate::gallery::matcher;
use crate::input::Gesture;
use crate::util::Size;
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
pub fn print_problems(out: &mut impl Write, header: &str, what: &str, problems: &[impl std::fmt::Display]) -> std::io::Result<ExitCode> {
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
    /// Detector input; None: the default 640x640.
    pub detector_input: Option<Size>,
    /// How role models are ranked (match, bench, eval relatability, gallery audit).
    pub matching: matcher::Settings,
}

impl Common {
    /// The vision options these flags describe.
    pub fn vision_options(&self) -> VisionOptions {
        let mut opts = VisionOptions {
            models: self.models.clone(),
            embedder: self.embedder.clone(),
            threads: self.threads.max(1),
            ..Default::default()
        };
        if let Some(input) = self.detector_input {
            opts.detect.input = input.pair();
        }
        opts
    }

    /// Loads the vision pipeline these options name.
    pub fn vision(&self) -> anyhow::Result<Vision> {
        Vision::open(&self.vision_options())
    }
}

/// Runs the command `cli` names, writing to stdout; the exit code.
pub fn run(cli: Cli) -> ExitCode {
    let common = Common {
        models: cli.models.clone(),
        embedder: cli.embedder.clone(),
        threads: cli.threads,
        detector_input: cli.detector_input,
        matching: matcher::Settings { mode: cli.matcher, gender_cue: cli.gender_cue },
    };
    // Not locked for the whole command: the daemon writes event lines from other threads too.
    let mut out = std::io::stdout();
    match dispatch(&cli, &common, &mut out) {
        Ok(code) => code,
        Err(e) => {
            let _ = out.flush();
            eprintln!("rolemirror: {e:#}");
            ExitCode::Setup
        }
    }
}

fn dispatch(cli: &Cli, common: &Common, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let models = cli.models.as_deref();
    match &cli.command {
        Command::Embed { json, images } => embed::embed(common, images, *json, out),
        Command::Match { gallery, top, json, images } => embed::match_images(common, gallery, *top, images, *json, out),
        Command::Gallery { action } => match action {
            GalleryAction::Build { dir } => gallery::build(common, dir, true, out),
            GalleryAction::Check { dir } => gallery::build(common, dir, false, out),
            GalleryAction::Audit { dir, reference, pad, config, png, jobs, json, variety } => {
                let opts = audit::AuditOptions {
                    dir: dir.clone(),
                    reference: reference.clone(),
                    pad: *pad,
                    config: config.clone(),
                    png: png.clone(),
                    jobs: *jobs,
                    json: *json,
                    no_variety: variety.no_variety,
                    variety_margin: variety.variety_margin,
                    seeds: variety.seeds,
                };
                audit::run(common, &opts, out)
            }
            GalleryAction::Import { dir, csv, json } => gallery_import::import(dir, csv, *json, out),
            GalleryAction::New { dir } => gallery_import::new(dir, out),
            GalleryAction::Rollback { config } => usb::rollback(config, out),
            GalleryAction::Preview { dir, out: dest, sizes, config, json } => {
                let opts = preview::PreviewOptions { dir, out: dest, sizes, config: config.as_deref(), json: *json };
                preview::run(common, &opts, out)
            }
        },
        Command::Keygen { out: dir, name } => usb::keygen(dir, name, out),
        Command::Bundle { action } => match action {
            BundleAction::Create { gallery, config, key, serial, out: dest, force, mender } => {
                let what =
                    usb::BundleSource { gallery: gallery.as_deref(), config: config.as_deref(), key, serial: *serial, force: *force };
                usb::create(common, &what, dest.as_deref(), mender, out)
            }
            BundleAction::Verify { dir, pubkey, against, against_config } => {
                usb::verify(common, dir, pubkey, against.as_deref(), against_config.as_deref(), out)
            }
            BundleAction::Install { dir, config } => usb::install(dir, config, out),
        },
        Command::Bench { json, image, runs, gallery, gallery_size, booth } => {
            let opts = bench::BenchOptions {
                image: image.clone(),
                runs: *runs,
                gallery: gallery.clone(),
                gallery_size: *gallery_size,
                booth: *booth,
            };
            bench::bench(common, &opts, *json, out)
        }
        Command::Eval { action } => match action {
            EvalAction::Pairs { pairs, tune, root, jobs, json } => eval::pairs(common, pairs, tune.as_deref(), root, *jobs, *json, out),
            EvalAction::Relatability { utk, jobs, json, no_population, png, variety } => {
                let mut settings = crate::gallery::variety::VarietySettings::default();
                settings.enabled = !variety.no_variety;
                settings.margin = variety.variety_margin.unwrap_or(settings.margin);
                let opts = crate::eval::RelatabilityOptions {
                    variety: settings,
                    seeds: variety.seeds.max(1),
                    population: !no_population,
                    quiet: *json,
                };
                eval::relatability(common, utk, *jobs, *json, png.as_deref(), &opts, out)
            }
        },
        Command::Demo { action: None, data, out: dir, size, config, visitors, act } => {
            let acts = act
                .iter()
                .map(|a| match a {
                    DemoAct::Next => Gesture::Next,
                    DemoAct::Language => Gesture::Language,
                })
                .collect();
            let what = booth::DemoRun { data, out: dir, size: *size, config: config.as_deref(), visitors: visitors.as_deref(), acts };
            booth::demo(common, &what, out)
        }
        Command::Demo { action: Some(DemoAction::Fetch { data_mirror, out: dir }), .. } => booth::demo_fetch(data_mirror, dir, out),
        Command::Run { config } => booth::run(config),
        Command::Report { config, json } => report::report(config, *json, out),
        Command::Doctor { config, skip, json } => doctor::doctor(config, skip, *json, out),
        Command::Config { action: ConfigAction::Check { file } } => booth::config_check(file, out),
        Command::Mender { action } => mender::run(action, out),
        Command::Models { action } => match action {
            ModelsAction::Fetch { mirror } => models::fetch(models, mirror.as_deref(), out),
            ModelsAction::List => models::list(models, out),
            ModelsAction::Quantize { input, output, min_elements } => models::quantize(input, output, *min_elements, out),
        },
    }
}

/// Rounds for JSON output (4 decimals for coordinates and scores).
pub(crate) fn round4(v: f32) -> f64 {
    (f64::from(v) * 1e4).round() / 1e4
}
