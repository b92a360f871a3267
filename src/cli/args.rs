//! The command line: every command, option and default (clap). [`super::run`] dispatches.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::util::Size;

/// How `gallery audit` and `eval relatability` simulate the booth's variety policy.
#[derive(clap::Args, Debug, Clone)]
pub struct VarietyArgs {
    /// Do not simulate the variety policy (rank every face by score alone).
    #[arg(long)]
    pub no_variety: bool,
    /// Variety's largest penalty in look-alike points (default: the config's, else 30).
    #[arg(long, value_name = "POINTS", value_parser = parse_margin)]
    pub variety_margin: Option<f32>,
    /// Shuffled orders in which the faces meet the booth (mean and spread over them).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub seeds: usize,
}

/// Parses a margin in 0..=100 (`--variety-margin`).
pub fn parse_margin(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(w) if (0.0..=100.0).contains(&w) => Ok(w),
        _ => Err(format!("{s:?}: expected a number from 0 to 100")),
    }
}

/// Parses a weight in 0..=1 (`--gender-cue`).
pub fn parse_weight(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(w) if (0.0..=1.0).contains(&w) => Ok(w),
        _ => Err(format!("{s:?}: expected a number from 0 to 1")),
    }
}

/// What a demo visitor does on their result (`demo --act`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoAct {
    /// Another match (a short press of the button).
    Next,
    /// The next language (a long press).
    Language,
}

#[derive(Parser)]
#[command(name = "rolemirror", version, about = "A recruitment-booth mirror: the role model who looks most like you")]
pub struct Cli {
    /// Model directory (default: $ROLEMIRROR_MODELS, else ./models in a checkout, else
    /// /usr/share/rolemirror/models).
    #[arg(long, global = true, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Embedder model id from the manifest (default: the manifest's default).
    #[arg(long, global = true, value_name = "ID")]
    pub embedder: Option<String>,
    /// tract threads per model.
    #[arg(long, global = true, default_value_t = 1)]
    pub threads: usize,
    /// Detector input WIDTHxHEIGHT, multiples of 32 (default 640x640: photos are scaled to fit,
    /// never enlarged). Smaller is faster and misses small faces.
    #[arg(long, global = true, value_name = "WxH")]
    pub detector_input: Option<Size>,
    /// How role models are ranked: "perceived" (appearance and identity, corrected for hubness;
    /// the default), "fair" (identity cosine corrected for hubness) or "resemblance" (plain
    /// identity cosine). The booth reads gallery.matcher from its config.
    #[arg(long, global = true, value_name = "MODE", default_value = "perceived")]
    pub matcher: crate::gallery::matcher::Mode,
    /// Weight of the soft gender cue from role models' declared genders in "perceived" and
    /// "fair" mode (0..=1, 0: off). The booth reads gallery.gender_cue from its config.
    #[arg(long, global = true, value_name = "W", default_value_t = crate::gallery::matcher::DEFAULT_GENDER_CUE, value_parser = parse_weight)]
    pub gender_cue: f32,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// Only a visit through the booth (the daemon's analyser and core on a simulated clock).
        #[arg(long)]
        booth: bool,
    },
    /// Measure accuracy (LFW pairs) and relatability (UTKFace protocol).
    Eval {
        #[command(subcommand)]
        action: EvalAction,
    },
    /// The booth on the demo data, one pass: prints one event per visitor, writes the screens
    /// as PNG files. First fetches the models and demo photos it lacks (from ../shared or
    /// $ROLEMIRROR_SHARED, else the pinned upstreams) and builds the demo gallery's index.
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
        #[arg(long, value_name = "WxH", default_value = "1920x1080")]
        size: Size,
        /// A booth's config instead of the demo's: its gallery (gallery.dir), models, booth
        /// settings and texts; the visitors come from --visitors. Nothing is fetched.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The visitor photos (default: DATA/visitors).
        #[arg(long, value_name = "DIR")]
        visitors: Option<PathBuf>,
        /// What each matched visitor does next, in order, comma-separated: "next" (another
        /// match: the button's short press) or "language" (its long press).
        #[arg(long, value_name = "ACTS", value_delimiter = ',')]
        act: Vec<DemoAct>,
    },
    /// The booth daemon (camera, vision, screen) until SIGTERM; SIGHUP reloads.
    Run {
        #[arg(long, value_name = "FILE", default_value = "/etc/rolemirror/rolemirror.toml")]
        config: PathBuf,
    },
    /// The booth's health report (versions, uptime, gallery, camera, timings, warnings,
    /// temperature, free space, per-day counters): the same a USB stick receives.
    Report {
        #[arg(long, value_name = "FILE", default_value = "/etc/rolemirror/rolemirror.toml")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// One line per check of a booth (config, camera, screen, models, gallery, trusted keys,
    /// service, /proc/cpuinfo): ok, or what is wrong and the next step. Exit 0 only when all pass.
    Doctor {
        #[arg(long, value_name = "FILE", default_value = "/etc/rolemirror/rolemirror.toml")]
        config: PathBuf,
        /// Leave a check out (repeat for several): config, camera, screen, models, gallery, keys,
        /// service, cpuinfo.
        #[arg(long, value_name = "CHECK")]
        skip: Vec<String>,
        /// One JSON object per check instead of text.
        #[arg(long)]
        json: bool,
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
    /// Mender beside the booth (docs/fleet.md): its update modules, its inventory, package
    /// artifacts.
    Mender {
        #[command(subcommand)]
        action: MenderAction,
    },
    /// Fetch, verify, list and quantize model files.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
}

#[derive(Subcommand)]
pub enum GalleryAction {
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
        #[command(flatten)]
        variety: VarietyArgs,
    },
    /// Write or update DIR/gallery.toml from a spreadsheet saved as CSV (docs/authoring.md).
    /// Every problem is listed by row and column; nothing is written unless there is none.
    Import {
        dir: PathBuf,
        /// The CSV: a header row (id, name, role, story_url, photos; optional branch, quote,
        /// consent, gender, group, tags), `,` or `;`, UTF-8 with or without BOM.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// One JSON object (added, updated, kept, problems with row and column) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Start a gallery: a commented DIR/gallery.toml and DIR/role-models.csv (the columns and
    /// one example row). Never overwrites.
    New { dir: PathBuf },
    /// Make the gallery installed before the last USB update active again.
    Rollback {
        #[arg(long, value_name = "FILE", default_value = "/etc/rolemirror/rolemirror.toml")]
        config: PathBuf,
    },
    /// Render every role model's result card with the booth's renderer and list what is wrong:
    /// text cut, a face small or off-centre in its crop, a QR code that does not read back.
    Preview {
        dir: PathBuf,
        /// Folder for the card PNGs and contact sheets.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Screen size to render at (repeat for several); default: the config's display.
        #[arg(long = "size", value_name = "WxH")]
        sizes: Vec<Size>,
        /// The booth's config (display size, fonts, texts); default: the built-in defaults.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum BundleAction {
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
        /// Where ROLEMIRROR/ goes (e.g. the stick); optional with --mender.
        #[arg(long, value_name = "DIR", required_unless_present = "mender")]
        out: Option<PathBuf>,
        /// Bundle although the gallery preview's checks give warnings (errors still refuse).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        mender: MenderArtifactArgs,
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

/// A Mender artifact of a bundle (`bundle create --mender`).
#[derive(clap::Args, Debug, Clone)]
pub struct MenderArtifactArgs {
    /// Also (or instead of --out) write a Mender artifact carrying the bundle, for the booths'
    /// rolemirror-bundle update module (docs/fleet.md); needs mender-artifact.
    #[arg(long, value_name = "FILE")]
    pub mender: Option<PathBuf>,
    #[command(flatten)]
    pub common: ArtifactArgs,
}

/// What every artifact the booth's modules take is written with.
#[derive(clap::Args, Debug, Clone)]
pub struct ArtifactArgs {
    /// The artifact's device type; repeat for several (booths set up as in docs/fleet.md report
    /// rolemirror-booth).
    #[arg(long = "device-type", value_name = "TYPE", default_value = crate::fleet::artifact::DEFAULT_DEVICE_TYPE)]
    pub device_types: Vec<String>,
    /// The artifact's name (default: what is in it and when it was made).
    #[arg(long, value_name = "NAME")]
    pub artifact_name: Option<String>,
    /// Also sign the artifact for Mender (mender-artifact --key). The booth trusts only the
    /// bundle's own signature; this one matters to clients set up with ArtifactVerifyKey.
    #[arg(long, value_name = "FILE")]
    pub mender_key: Option<PathBuf>,
    /// A Mender state script to carry along (ArtifactInstall_Enter_00, …); repeatable.
    #[arg(long = "mender-script", value_name = "FILE")]
    pub mender_scripts: Vec<PathBuf>,
}

#[derive(Subcommand)]
pub enum MenderAction {
    /// One call of an update module, as the Mender client makes it: the package's
    /// /usr/share/mender/modules/v3/rolemirror-bundle and rolemirror-deb run
    /// `rolemirror mender module TYPE STATE DIR`.
    Module {
        /// rolemirror-bundle (galleries and settings) or rolemirror-deb (the booth's package).
        kind: String,
        /// The protocol's state or query (ArtifactInstall, SupportsRollback, …).
        state: String,
        /// The client's File API folder for the payload.
        dir: PathBuf,
        #[arg(long, value_name = "FILE", default_value = "/etc/rolemirror/rolemirror.toml")]
        config: PathBuf,
        /// How long a commit waits for the booth to come back on the update.
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        booth_timeout: u64,
        /// rolemirror-deb only: install into this root (dpkg --root), e.g. an image being built.
        #[arg(long, value_name = "DIR")]
        dpkg_root: Option<PathBuf>,
    },
    /// The booth's Mender inventory (key=value lines): what its health report says, never
    /// anything about a visitor. /usr/share/mender/inventory/mender-inventory-rolemirror runs it.
    Inventory {
        #[arg(long, value_name = "FILE", default_value = "/etc/rolemirror/rolemirror.toml")]
        config: PathBuf,
    },
    /// A Mender artifact of the booth's .deb, for its rolemirror-deb update module.
    DebArtifact {
        deb: PathBuf,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        common: ArtifactArgs,
    },
}

#[derive(Subcommand)]
pub enum EvalAction {
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
        /// Only the protocol's 431 visitors, not the large population of the folder's other faces.
        #[arg(long)]
        no_population: bool,
        /// Also draw the large population's exposure chart into this PNG file.
        #[arg(long, value_name = "FILE")]
        png: Option<PathBuf>,
        #[command(flatten)]
        variety: VarietyArgs,
    },
}

#[derive(Subcommand)]
pub enum ConfigAction {
    /// Parse and validate; exit 0 when usable, 3 (with every problem listed) when not.
    Check { file: PathBuf },
}

#[derive(Subcommand)]
pub enum DemoAction {
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
pub enum ModelsAction {
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
        #[arg(long, default_value_t = super::models::DEFAULT_MIN_ELEMENTS)]
        min_elements: usize,
    },
}
