//! The `rolemirror` binary: parses the command line, sets up logging, and hands over to
//! [`rolemirror::cli`]. Exit codes are documented there.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rolemirror::cli::{self, Common, ExitCode};

#[derive(Parser)]
#[command(name = "rolemirror", version, about = "A recruitment-booth mirror: the role model who looks most like you")]
struct Cli {
    /// Model directory (default: $ROLEMIRROR_MODELS, else ./models in a checkout, else
    /// /usr/share/rolemirror/models).
    #[arg(long, global = true, value_name = "DIR")]
    models: Option<PathBuf>,
    /// Embedder model id from the manifest (default: the manifest's default).
    #[arg(long, global = true, value_name = "ID")]
    embedder: Option<String>,
    /// tract threads per model.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    /// Detector input WIDTHxHEIGHT, multiples of 32 (default 640x640: photos are scaled to fit,
    /// never enlarged). Smaller is faster and misses small faces.
    #[arg(long, global = true, value_name = "WxH", value_parser = cli::parse_size)]
    detector_input: Option<(u32, u32)>,
    /// How role models are ranked: "perceived" (appearance and identity, corrected for hubness;
    /// the default), "fair" (identity cosine corrected for hubness) or "resemblance" (plain
    /// identity cosine). The booth reads gallery.matcher from its config.
    #[arg(long, global = true, value_name = "MODE", default_value = "perceived")]
    matcher: rolemirror::gallery::matcher::Mode,
    /// Weight of the soft gender cue from role models' declared genders in "perceived" and
    /// "fair" mode (0..=1, 0: off). The booth reads gallery.gender_cue from its config.
    #[arg(long, global = true, value_name = "W", default_value_t = rolemirror::gallery::matcher::DEFAULT_GENDER_CUE, value_parser = cli::parse_weight)]
    gender_cue: f32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect faces and print their boxes, landmarks and embeddings, one line per image.
    Embed {
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// The role models who look most like the largest face of each image.
    Match {
        #[arg(long, value_name = "DIR")]
        gallery: PathBuf,
        #[arg(long, default_value_t = 3)]
        top: usize,
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Build or check a gallery's embedding index.
    Gallery {
        #[command(subcommand)]
        action: GalleryAction,
    },
    /// Per-stage latency (decode, detect, align, embed, match), medians in ms.
    Bench {
        #[arg(long)]
        json: bool,
        /// Photo to run on (default: the demo visitor demo/visitors/img2.jpg).
        #[arg(long)]
        image: Option<PathBuf>,
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Match against this gallery instead of a synthetic one.
        #[arg(long, value_name = "DIR")]
        gallery: Option<PathBuf>,
        /// Size of the synthetic gallery.
        #[arg(long, default_value_t = 120)]
        gallery_size: usize,
    },
    /// Measure accuracy (LFW pairs) and relatability (UTKFace protocol).
    Eval {
        #[command(subcommand)]
        action: EvalAction,
    },
    /// The booth on the demo data, one pass: prints one event per visitor, writes the screens
    /// as PNG files. `demo fetch` first copies the demo photos.
    Demo {
        #[command(subcommand)]
        action: Option<DemoAction>,
        /// The demo folder (from `demo fetch`).
        #[arg(long, value_name = "DIR", default_value = "demo")]
        data: PathBuf,
        /// Where the screens go (OUT/screens/NNNN-scene.png, OUT/screen.png).
        #[arg(long, value_name = "DIR", default_value = "demo-out")]
        out: PathBuf,
        /// Screen size, e.g. 1920x1080 or 240x320.
        #[arg(long, value_name = "WxH", value_parser = cli::parse_size, default_value = "1920x1080")]
        size: (u32, u32),
    },
    /// The booth daemon (camera, vision, screen) until SIGTERM; SIGHUP reloads.
    Run {
        #[arg(long, value_name = "FILE", default_value = "/etc/rolemirror/rolemirror.toml")]
        config: PathBuf,
    },
    /// Check a booth config file: every problem with its key path.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Make an ed25519 key pair for signing USB bundles (DIR/NAME.key, mode 0600, and DIR/NAME.pub).
    Keygen {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[arg(long, default_value = "rolemirror")]
        name: String,
    },
    /// Make, check or install signed USB bundles (a gallery and/or a config).
    Bundle {
        #[command(subcommand)]
        action: BundleAction,
    },
    /// Fetch, verify, list and quantize model files.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
}

#[derive(Subcommand)]
enum GalleryAction {
    /// Embed every photo (reusing cached embeddings) and write DIR/index.json atomically.
    Build { dir: PathBuf },
    /// Validate the manifest and every photo without writing anything.
    Check { dir: PathBuf },
    /// How evenly the gallery would be shown to a population of faces, and whom it covers
    /// (from consented, self-declared fields). Text, --json, and a PNG chart with --png.
    Audit {
        dir: PathBuf,
        /// Folder of face photos standing in for visitors (jpg/png, searched 4 levels deep).
        /// Without it, each role model's photos are matched against the others.
        #[arg(long, value_name = "DIR")]
        reference: Option<PathBuf>,
        /// Replicated border added to reference photos before detection (tight face crops,
        /// such as UTKFace's, need about 50).
        #[arg(long, default_value_t = 0, value_name = "PX")]
        pad: u32,
        /// Use the matcher settings of this booth config (gallery.matcher, gallery.gender_cue).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Also draw the audit as a chart into this PNG file.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Make the gallery installed before the last USB update active again.
    Rollback {
        #[arg(long, value_name = "FILE", default_value = "/etc/rolemirror/rolemirror.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum BundleAction {
    /// Write OUT/ROLEMIRROR/ (e.g. OUT = the stick) with the files, a manifest and its signature.
    Create {
        #[arg(long, value_name = "DIR")]
        gallery: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Private key from `rolemirror keygen`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Must be greater than the serial installed on the booths (default: seconds since 1970).
        #[arg(long)]
        serial: Option<u64>,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Check a bundle as a booth would (signature, hashes, limits, every photo, the config) and
    /// print what it would change.
    Verify {
        /// The stick (or the folder holding ROLEMIRROR/).
        dir: PathBuf,
        #[arg(long, value_name = "FILE")]
        pubkey: PathBuf,
        /// Compare with this gallery (e.g. a copy of the booth's).
        #[arg(long, value_name = "DIR")]
        against: Option<PathBuf>,
        /// Compare with this config file.
        #[arg(long, value_name = "FILE")]
        against_config: Option<PathBuf>,
    },
    /// Install a bundle on this booth from a shell, exactly as from a stick.
    Install {
        dir: PathBuf,
        #[arg(long, value_name = "FILE", default_value = "/etc/rolemirror/rolemirror.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum EvalAction {
    /// Verification accuracy on an LFW-format pairs file.
    Pairs {
        #[arg(long, value_name = "FILE")]
        pairs: PathBuf,
        /// Choose the threshold on this pairs file (else: cross-validation over the folds).
        #[arg(long, value_name = "FILE")]
        tune: Option<PathBuf>,
        /// Image root: ROOT/NAME/NAME_0001.jpg.
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        #[arg(long)]
        json: bool,
    },
    /// The relatability protocol of ../shared/data/README.md on a UTKFace folder.
    Relatability {
        #[arg(long, value_name = "DIR")]
        utk: PathBuf,
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Parse and validate; exit 0 when usable, 3 (with every problem listed) when not.
    Check { file: PathBuf },
}

#[derive(Subcommand)]
enum DemoAction {
    /// Copy the demo photos from a data mirror (checksums verified) and write the demo gallery.
    Fetch {
        /// A directory laid out like ../shared/data.
        #[arg(long, value_name = "DIR", default_value = "../shared/data")]
        data_mirror: PathBuf,
        /// Where to put gallery/ and visitors/.
        #[arg(long, value_name = "DIR", default_value = "demo")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ModelsAction {
    /// Fill the model directory from a mirror or the pinned upstreams, verifying checksums.
    Fetch {
        /// A directory laid out like the model directory (e.g. ../shared/models).
        #[arg(long, value_name = "DIR")]
        mirror: Option<PathBuf>,
    },
    /// List the manifest and whether each file is present and verified.
    List,
    /// Quantize an ONNX model's Conv weights to int8 per output channel.
    Quantize {
        input: PathBuf,
        output: PathBuf,
        #[arg(long, default_value_t = cli::models::DEFAULT_MIN_ELEMENTS)]
        min_elements: usize,
    },
}

fn out_lock() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

fn main() -> std::process::ExitCode {
    // RUST_LOG chooses the level, but the inference crates stay at warn whatever it says: at
    // debug they print tensors, and a tensor may hold a visitor's face (privacy invariant).
    let mut logger = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"));
    for module in [
        "tract_core",
        "tract_hir",
        "tract_onnx",
        "tract_onnx_opl",
        "tract_nnef",
        "tract_linalg",
        "tract_data",
        "tract_extra",
        "tract_transformers",
    ] {
        logger.filter_module(module, log::LevelFilter::Warn);
    }
    logger.init();
    let args = Cli::parse();
    let common = Common {
        models: args.models.clone(),
        embedder: args.embedder.clone(),
        threads: args.threads,
        detector_input: args.detector_input,
        matching: rolemirror::gallery::matcher::Settings { mode: args.matcher, gender_cue: args.gender_cue },
    };
    let mut out = std::io::stdout().lock();
    let result = match args.command {
        Command::Embed { json, images } => cli::embed::embed(&common, &images, json, &mut out),
        Command::Match { gallery, top, json, images } => cli::embed::match_images(&common, &gallery, top, &images, json, &mut out),
        Command::Gallery { action: GalleryAction::Build { dir } } => cli::gallery::build(&common, &dir, true, &mut out),
        Command::Gallery { action: GalleryAction::Check { dir } } => cli::gallery::build(&common, &dir, false, &mut out),
        Command::Gallery { action: GalleryAction::Audit { dir, reference, pad, config, png, jobs, json } } => {
            let opts = cli::audit::AuditOptions { dir, reference, pad, config, png, jobs, json };
            cli::audit::run(&common, &opts, &mut out)
        }
        Command::Gallery { action: GalleryAction::Rollback { config } } => cli::usb::rollback(&config, &mut out),
        Command::Keygen { out: dir, name } => cli::usb::keygen(&dir, &name, &mut out),
        Command::Bundle { action: BundleAction::Create { gallery, config, key, serial, out: dest } } => {
            cli::usb::create(gallery.as_deref(), config.as_deref(), &key, serial, &dest, &mut out)
        }
        Command::Bundle { action: BundleAction::Verify { dir, pubkey, against, against_config } } => {
            cli::usb::verify(&common, &dir, &pubkey, against.as_deref(), against_config.as_deref(), &mut out)
        }
        Command::Bundle { action: BundleAction::Install { dir, config } } => cli::usb::install(&dir, &config, &mut out),
        Command::Bench { json, image, runs, gallery, gallery_size } => {
            let opts = cli::bench::BenchOptions { image, runs, gallery, gallery_size };
            cli::bench::bench(&common, &opts, json, &mut out)
        }
        Command::Eval { action: EvalAction::Pairs { pairs, tune, root, jobs, json } } => {
            cli::eval::pairs(&common, &pairs, tune.as_deref(), &root, jobs, json, &mut out)
        }
        Command::Eval { action: EvalAction::Relatability { utk, jobs, json } } => {
            cli::eval::relatability(&common, &utk, jobs, json, &mut out)
        }
        Command::Demo { action: None, data, out, size } => cli::booth::demo(&common, &data, &out, size, &mut out_lock()),
        Command::Run { config } => match rolemirror::daemon::run(&config) {
            Ok(_) => Ok(ExitCode::Ok),
            Err(e) => Err(e),
        },
        Command::Config { action: ConfigAction::Check { file } } => cli::booth::config_check(&file, &mut out_lock()),
        Command::Demo { action: Some(DemoAction::Fetch { data_mirror, out: dir }), .. } => {
            match rolemirror::demo::fetch(&data_mirror, &dir) {
                Ok(gallery) => {
                    println!(
                        "demo photos verified; gallery in {} (next: rolemirror gallery build {})",
                        gallery.display(),
                        gallery.display()
                    );
                    Ok(ExitCode::Ok)
                }
                Err(e) => Ok(cli::setup_error(&e)),
            }
        }
        Command::Models { action: ModelsAction::Fetch { mirror } } => {
            cli::models::fetch(args.models.as_deref(), mirror.as_deref(), &mut out)
        }
        Command::Models { action: ModelsAction::List } => cli::models::list(args.models.as_deref(), &mut out),
        Command::Models { action: ModelsAction::Quantize { input, output, min_elements } } => {
            cli::models::quantize(&input, &output, min_elements, &mut out)
        }
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rolemirror: {e:#}");
            ExitCode::Setup
        }
    };
    std::process::ExitCode::from(code as u8)
}
