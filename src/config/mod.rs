//! The booth's configuration: `/etc/rolemirror/rolemirror.toml` (commented example with every
//! key and its default in `config/rolemirror.toml`).
//!
//! Two steps, as ripgrep turns low-level arguments into high-level ones: [`raw::Config`] is the
//! file as read (serde, unknown keys refused, every key defaulted); [`Config::from_raw`] checks
//! it and returns typed settings — paths as `PathBuf`/`Option<PathBuf>`, sizes as [`Size`],
//! durations, the vision options and matcher settings ready to use — or every problem, each with
//! its key path. [`check`] collects parse errors and validation problems in one run, so
//! `rolemirror config check FILE` and the service screen can list them all at once.

mod display;
pub mod raw;
pub mod texts;

pub use display::{Backend, DisplaySettings, KmsSettings, Rotation, SpiSettings};

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use raw::{BoothSettings, CameraBackend, LibcameraProgram, SpiDriver};
pub use texts::Texts;

use crate::gallery::matcher;
use crate::gallery::variety::VarietySettings;
use crate::input::{InputSettings, TouchMapping};
use crate::util::Size;
use crate::vision::{Precision, VisionOptions};

/// One thing wrong with a config, with the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path (`camera.fps`), a table (`[camera]`), or empty for a file-level problem.
    pub key: String,
    /// The line in the file, for parse errors.
    pub line: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(key: &str, message: impl Into<String>) -> Problem {
        Problem { key: key.to_string(), line: None, message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.key.is_empty(), self.line) {
            (false, Some(n)) => write!(f, "{} (line {n}): {}", self.key, self.message),
            (false, None) => write!(f, "{}: {}", self.key, self.message),
            (true, Some(n)) => write!(f, "line {n}: {}", self.message),
            (true, None) => write!(f, "{}", self.message),
        }
    }
}

/// A config that cannot be used: every problem, each with its key path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {}", path.display(), problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

/// Where frames come from.
#[derive(Debug, Clone, PartialEq)]
pub enum CameraSource {
    /// A live camera.
    Live(LiveCamera),
    /// Images from a folder (sorted by name) or a list file, at `fps`, once or looping.
    Replay { path: PathBuf, fps: f32, looping: bool },
}

/// A live camera, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCamera {
    /// Which kind (`Auto`: decided at each open, see the camera's `probe`).
    pub backend: CameraBackend,
    /// A V4L2 device (`None`: the first capture device found). Always `None` for libcamera.
    pub device: Option<PathBuf>,
    pub size: Size,
    pub fps: u32,
    /// The libcamera backend's streaming program.
    pub program: LibcameraProgram,
}

impl fmt::Display for CameraSource {
    /// The configured camera in a few words, for the health report and `doctor`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CameraSource::Live(c) => {
                let device = c.device.as_ref().map_or("(first capture device)".to_string(), |d| d.display().to_string());
                let (w, h, fps) = (c.size.width, c.size.height, c.fps);
                match c.backend {
                    CameraBackend::V4l2 => write!(f, "v4l2 {device} {w}x{h} at {fps} fps"),
                    CameraBackend::Libcamera => write!(f, "libcamera (first camera) {w}x{h} at {fps} fps"),
                    CameraBackend::Auto if c.device.is_some() => write!(f, "auto: v4l2 {device} {w}x{h} at {fps} fps"),
                    CameraBackend::Auto => write!(f, "auto (Camera Module or first capture device) {w}x{h} at {fps} fps"),
                }
            }
            CameraSource::Replay { path, fps, looping } => {
                write!(f, "replay {} at {fps} fps{}", path.display(), if *looping { ", looping" } else { "" })
            }
        }
    }
}

/// `[camera]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSettings {
    pub source: CameraSource,
    /// Show the camera image mirrored, as a mirror would.
    pub mirror: bool,
    /// No frame for this long: camera lost.
    pub timeout: Duration,
}

/// `[gallery]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct GallerySettings {
    /// The active gallery directory (a symlink into `gallery.versions/` after a USB update).
    pub dir: PathBuf,
    /// Further look-alikes on the result card (0..=2).
    pub also_like: usize,
    pub matching: matcher::Settings,
    /// The booth's variety policy.
    pub variety: VarietySettings,
}

/// `[usb]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct UsbSettings {
    pub enabled: bool,
    pub mount_roots: Vec<PathBuf>,
    pub trusted_keys: PathBuf,
    pub poll: Duration,
    pub settle: Duration,
    /// How long the outcome stays on screen.
    pub result: Duration,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub max_files: usize,
    /// Largest photo, in pixels.
    pub max_pixels: u64,
    pub report_spool: PathBuf,
}

/// The booth's settings, checked and typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub camera: CameraSettings,
    /// The one description the vision stack is built from ([`crate::vision::Vision::open`]).
    pub vision: VisionOptions,
    pub gallery: GallerySettings,
    pub booth: BoothSettings,
    pub display: DisplaySettings,
    /// The texts in the configured language.
    pub texts: Texts,
    /// Every language a visitor can switch to, the configured one first, then `en`, `nl` and the
    /// custom ones (each once).
    pub languages: Vec<(String, Texts)>,
    /// `[input]`: push buttons, touch screens, development keys.
    pub input: InputSettings,
    /// Anonymous counters live here.
    pub state_dir: PathBuf,
    pub usb: UsbSettings,
}

impl Default for Config {
    fn default() -> Self {
        // The defaults are valid (unit test `defaults_are_valid`), so this cannot fail.
        Config::from_raw(&raw::Config::default()).expect("the built-in defaults are a valid config")
    }
}

/// Collects problems with their key paths.
pub(crate) struct Checker(Vec<Problem>);

impl Checker {
    pub(crate) fn check(&mut self, ok: bool, key: &str, why: impl FnOnce() -> String) {
        if !ok {
            self.0.push(Problem::new(key, why()));
        }
    }

    pub(crate) fn seconds(&mut self, key: &str, value: f32) -> Duration {
        self.check(value > 0.0 && value.is_finite() && value < 1e6, key, || format!("{value} must be a positive number of seconds"));
        Duration::from_secs_f32(if value > 0.0 && value.is_finite() && value < 1e6 { value } else { 1.0 })
    }
}

pub(crate) fn path(s: &str) -> Option<PathBuf> {
    (!s.is_empty()).then(|| PathBuf::from(s))
}

impl Config {
    /// Reads, parses and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let err = |problems| ConfigError { path: path.to_path_buf(), problems };
        let text = std::fs::read_to_string(path).map_err(|e| err(vec![Problem::new("", format!("cannot read: {e}"))]))?;
        Config::from_text(&text).map_err(err)
    }

    /// Parses and checks a config text: the settings, or every problem.
    pub fn from_text(text: &str) -> Result<Config, Vec<Problem>> {
        let problems = check(text);
        if !problems.is_empty() {
            return Err(problems);
        }
        Config::from_raw(&raw::Config::parse(text).map_err(|p| vec![p])?)
    }

    /// For a config file that cannot be used: the defaults with those of the file's `[display]`,
    /// `[usb]`, `[gallery]` and `[vision]` tables that are usable on their own — so the service
    /// screen appears where the booth's screen is, and a signed stick can still bring a fixed
    /// config. The problems themselves come from [`Config::load`].
    pub fn lenient(path: &Path) -> Config {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let table = toml::from_str::<toml::Table>(&text).unwrap_or_default();
        let mut raw = raw::Config::default();
        for name in ["display", "usb", "gallery", "vision"] {
            let candidate = table.get(name).and_then(|v| raw.with_table(name, v.clone()));
            if let Some(c) = candidate.filter(|c| Config::from_raw(c).is_ok()) {
                raw = c;
            }
        }
        Config::from_raw(&raw).unwrap_or_default()
    }

    /// Checks a raw config: typed settings, or every problem with its key path.
    pub fn from_raw(raw: &raw::Config) -> Result<Config, Vec<Problem>> {
        let mut p = Checker(Vec::new());
        let camera = camera(&raw.camera, &mut p);
        let vision = vision(&raw.vision, (raw.camera.width, raw.camera.height), &mut p);
        let g = &raw.gallery;
        p.check(!g.dir.is_empty(), "gallery.dir", || "must not be empty".into());
        p.check(g.also_like <= 2, "gallery.also_like", || format!("{} is not in 0..=2", g.also_like));
        p.check((0.0..=1.0).contains(&g.gender_cue), "gallery.gender_cue", || format!("{} is not in 0..=1", g.gender_cue));
        p.check((0.0..=100.0).contains(&g.variety_margin), "gallery.variety_margin", || format!("{} is not in 0..=100", g.variety_margin));
        let gallery = GallerySettings {
            dir: PathBuf::from(&g.dir),
            also_like: g.also_like,
            matching: matcher::Settings { mode: g.matcher, gender_cue: g.gender_cue },
            variety: VarietySettings { enabled: g.variety, margin: g.variety_margin },
        };
        booth(&raw.booth, &mut p);
        let display = display::display(&raw.display, &mut p);
        let lang = raw.texts.language.as_str();
        p.check(lang == "en" || lang == "nl" || raw.texts.custom.contains_key(lang), "texts.language", || {
            format!("{lang:?} is neither \"en\", \"nl\" nor defined under [texts.custom.{lang}]")
        });
        let language = |code: &str| match code {
            "nl" => Texts::dutch(),
            other => raw.texts.custom.get(other).cloned().unwrap_or_else(Texts::english),
        };
        let texts = language(lang);
        let mut codes: Vec<&str> = vec![lang, "en", "nl"];
        codes.extend(raw.texts.custom.keys().map(String::as_str));
        let mut languages: Vec<(String, Texts)> = Vec::new();
        for code in codes {
            if !languages.iter().any(|(c, _)| c == code) {
                languages.push((code.to_string(), language(code)));
            }
        }
        let input = input(&raw.input, &mut p);
        p.check(!raw.state.dir.is_empty(), "state.dir", || "must not be empty".into());
        let usb = usb(&raw.usb, &mut p);
        if !p.0.is_empty() {
            return Err(p.0);
        }
        Ok(Config {
            camera,
            vision,
            gallery,
            booth: raw.booth.clone(),
            display,
            texts,
            languages,
            input,
            state_dir: PathBuf::from(&raw.state.dir),
            usb,
        })
    }
}

fn camera(c: &raw::Camera, p: &mut Checker) -> CameraSettings {
    p.check((16..=4096).contains(&c.width), "camera.width", || format!("{} is not in 16..=4096", c.width));
    p.check((16..=4096).contains(&c.height), "camera.height", || format!("{} is not in 16..=4096", c.height));
    p.check((1..=120).contains(&c.fps), "camera.fps", || format!("{} is not in 1..=120", c.fps));
    p.check(c.replay_fps > 0.0 && c.replay_fps <= 120.0, "camera.replay_fps", || format!("{} is not in (0, 120]", c.replay_fps));
    let timeout = p.seconds("camera.timeout_seconds", c.timeout_seconds);
    let live = |backend| {
        CameraSource::Live(LiveCamera {
            backend,
            device: path(&c.device),
            size: Size::new(c.width, c.height),
            fps: c.fps,
            program: c.libcamera_program,
        })
    };
    let source = match (c.source, c.backend) {
        (raw::CameraKind::Replay, _) => {
            p.check(!c.replay.is_empty(), "camera.replay", || "a folder or list file is needed when camera.source = \"replay\"".into());
            CameraSource::Replay { path: PathBuf::from(&c.replay), fps: c.replay_fps, looping: c.replay_loop }
        }
        (kind, backend) => {
            p.check(kind != raw::CameraKind::V4l2 || backend != CameraBackend::Libcamera, "camera.source", || {
                "\"v4l2\" contradicts camera.backend = \"libcamera\": write source = \"camera\" (\"v4l2\" is its old spelling)".into()
            });
            if backend == CameraBackend::Libcamera {
                p.check(c.device.is_empty(), "camera.device", || {
                    format!(
                        "{:?} is a V4L2 device; the libcamera backend streams the first camera libcamera lists: leave camera.device \
                         empty, or set camera.backend = \"v4l2\" for a USB webcam",
                        c.device
                    )
                });
                p.check(c.width.is_multiple_of(2) && c.height.is_multiple_of(2), "camera.width", || {
                    format!("{}x{}: libcamera frames (YUV 4:2:0) need an even width and height", c.width, c.height)
                });
            }
            live(backend)
        }
    };
    CameraSettings { source, mirror: c.mirror, timeout }
}

/// The `[vision]` settings; `frame` is the camera's frame size, for `detector_input = "auto"`.
fn vision(v: &raw::Vision, frame: (u32, u32), p: &mut Checker) -> VisionOptions {
    let mut options = VisionOptions {
        models: path(&v.models),
        embedder: (!v.embedder.is_empty()).then(|| v.embedder.clone()),
        threads: v.threads,
        ..Default::default()
    };
    match v.detector_input.parse::<Size>() {
        _ if v.detector_input == "auto" => options.auto_input = Some(frame),
        Ok(s) => {
            let ok = s.width >= 32 && s.height >= 32 && s.width % 32 == 0 && s.height % 32 == 0 && s.width <= 4096 && s.height <= 4096;
            p.check(ok, "vision.detector_input", || format!("{s}: width and height must be multiples of 32 from 32 to 4096"));
            options.detect.input = s.pair();
        }
        Err(e) => p.check(false, "vision.detector_input", || format!("{e} (or \"auto\")")),
    }
    match v.precision.parse::<Precision>() {
        Ok(precision) => options.precision = precision,
        Err(e) => p.check(false, "vision.precision", || e),
    }
    p.check((1..=8).contains(&v.threads), "vision.threads", || format!("{} is not in 1..=8", v.threads));
    p.check(v.min_score > 0.0 && v.min_score < 1.0, "vision.min_score", || format!("{} is not in (0, 1)", v.min_score));
    options.detect.score_threshold = v.min_score;
    options
}

fn booth(b: &BoothSettings, p: &mut Checker) {
    for (key, value) in [
        ("booth.showcase_seconds", b.showcase_seconds),
        ("booth.matching_timeout_seconds", b.matching_timeout_seconds),
        ("booth.face_lost_seconds", b.face_lost_seconds),
        ("booth.result_min_seconds", b.result_min_seconds),
        ("booth.result_max_seconds", b.result_max_seconds),
    ] {
        p.seconds(key, value);
    }
    p.check(b.cooldown_seconds >= 0.0 && b.cooldown_seconds < 1e6, "booth.cooldown_seconds", || "must not be negative".into());
    p.check(b.result_max_seconds >= b.result_min_seconds, "booth.result_max_seconds", || {
        "must be at least booth.result_min_seconds".into()
    });
    p.check(b.min_eye_fraction > 0.0 && b.min_eye_fraction < 0.5, "booth.min_eye_fraction", || {
        format!("{} is not in (0, 0.5)", b.min_eye_fraction)
    });
    p.check(b.max_yaw > 0.0 && b.max_yaw <= 0.5, "booth.max_yaw", || format!("{} is not in (0, 0.5]", b.max_yaw));
    p.check(b.max_roll_degrees > 0.0 && b.max_roll_degrees <= 45.0, "booth.max_roll_degrees", || {
        format!("{} is not in (0, 45]", b.max_roll_degrees)
    });
    p.check(b.min_sharpness >= 0.0, "booth.min_sharpness", || "must not be negative".into());
    p.check((1..=30).contains(&b.matching_frames), "booth.matching_frames", || format!("{} is not in 1..=30", b.matching_frames));
}

/// `[input]`: every key name must be the kernel's, and in one list only.
fn input(i: &raw::Input, p: &mut Checker) -> InputSettings {
    let mut seen: Vec<(&str, String)> = Vec::new();
    let mut codes = |key: &'static str, names: &[String], p: &mut Checker| -> Vec<u16> {
        let mut out = Vec::new();
        for (n, name) in names.iter().enumerate() {
            let at = format!("input.{key}[{n}]");
            match crate::input::key_code(name) {
                Some(code) => out.push(code),
                None => p.check(false, &at, || {
                    format!("{name:?} is not a Linux key name (the names of linux/input-event-codes.h, e.g. \"KEY_ENTER\" or \"BTN_0\")")
                }),
            }
            if let Some((other, _)) = seen.iter().find(|(_, s)| s == name) {
                p.check(false, &at, || format!("{name:?} is already in input.{other}: a key can have one meaning only"));
            }
            seen.push((key, name.clone()));
        }
        out
    };
    let button_keys = codes("button_keys", &i.button_keys, p);
    let next_keys = codes("next_keys", &i.next_keys, p);
    let language_keys = codes("language_keys", &i.language_keys, p);
    let long = i.long_press_seconds;
    p.check((0.3..=10.0).contains(&long), "input.long_press_seconds", || {
        format!("{long} is not in 0.3..=10 (a long press shorter than that is hard to tell from a short one)")
    });
    p.check([0, 90, 180, 270].contains(&i.touch_rotation), "input.touch_rotation", || {
        format!("{} is not 0, 90, 180 or 270", i.touch_rotation)
    });
    p.check(!i.enabled || !i.devices.is_empty(), "input.devices", || "must name the folder of the event devices (/dev/input)".into());
    InputSettings {
        enabled: i.enabled,
        dir: PathBuf::from(&i.devices),
        button_keys,
        next_keys,
        language_keys,
        long_press: f64::from(long.clamp(0.3, 10.0)),
        touch: i.touch,
        mapping: TouchMapping { rotation: i.touch_rotation, invert_x: i.touch_invert_x, invert_y: i.touch_invert_y },
    }
}

fn usb(u: &raw::Usb, p: &mut Checker) -> UsbSettings {
    let poll = p.seconds("usb.poll_seconds", u.poll_seconds);
    let result = p.seconds("usb.result_seconds", u.result_seconds);
    p.check((0.0..=60.0).contains(&u.settle_seconds), "usb.settle_seconds", || format!("{} is not in 0..=60", u.settle_seconds));
    p.check((1..=4096).contains(&u.max_file_mb), "usb.max_file_mb", || format!("{} is not in 1..=4096", u.max_file_mb));
    p.check(u.max_total_mb >= u.max_file_mb && u.max_total_mb <= 65536, "usb.max_total_mb", || {
        "must be at least usb.max_file_mb and at most 65536".into()
    });
    p.check(u.max_files >= 1, "usb.max_files", || "must be at least 1".into());
    p.check(u.max_megapixels > 0.0 && u.max_megapixels <= 200.0, "usb.max_megapixels", || {
        format!("{} is not in (0, 200]", u.max_megapixels)
    });
    p.check(!u.enabled || !u.mount_roots.is_empty(), "usb.mount_roots", || "at least one directory is needed while usb.enabled".into());
    UsbSettings {
        enabled: u.enabled,
        mount_roots: u.mount_roots.iter().map(PathBuf::from).collect(),
        trusted_keys: PathBuf::from(&u.trusted_keys),
        poll,
        settle: Duration::from_secs_f32(u.settle_seconds.clamp(0.0, 60.0)),
        result,
        max_file_bytes: u.max_file_mb.min(4096) << 20,
        max_total_bytes: u.max_total_mb.min(65536) << 20,
        max_files: u.max_files,
        max_pixels: (u.max_megapixels.clamp(0.0, 200.0) * 1e6) as u64,
        report_spool: PathBuf::from(&u.report_spool),
    }
}

/// Every problem in a config text: parse errors (an unknown key, a wrong type) are collected one
/// by one, setting the offending line aside each time, then the rest is checked, so one run
/// names every mistake. Empty when the config is usable.
pub fn check(text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    // Lines keep their endings, so the first parse sees exactly the file's text (`lines()` drops
    // a `\r`, and a stray carriage return that `load` refuses passed the check; found by fuzzing).
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    for _ in 0..50 {
        match raw::Config::parse(&lines.concat()) {
            Ok(raw) => {
                if let Err(p) = Config::from_raw(&raw) {
                    problems.extend(p);
                }
                return problems;
            }
            Err(p) => {
                let line = p.line;
                problems.push(p);
                // Set the offending line aside and look further (syntax errors stop here).
                match line {
                    Some(n) if n >= 1 && n <= lines.len() && lines[n - 1].contains('=') => {
                        lines[n - 1] = if lines[n - 1].ends_with('\n') { "\n".into() } else { String::new() };
                    }
                    _ => return problems,
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.key.as_str()).collect()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::from_raw(&raw::Config::default()).err(), None);
    }

    #[test]
    fn the_shipped_example_parses_validates_and_states_the_defaults() {
        let text = include_str!("../../config/rolemirror.toml");
        let c = raw::Config::parse(text).expect("example parses");
        assert_eq!(check(text), vec![]);
        // Every key in the example carries its default value, so the file documents them.
        let mut want = raw::Config::default();
        want.display.backend = c.display.backend;
        assert_eq!(c, want);
    }

    #[test]
    fn typed_settings_from_the_defaults() {
        let c = Config::default();
        assert_eq!(
            c.camera.source,
            CameraSource::Live(LiveCamera {
                backend: CameraBackend::Auto,
                device: None,
                size: Size::new(640, 480),
                fps: 15,
                program: LibcameraProgram::Auto
            })
        );
        assert_eq!(
            (c.vision.auto_input, c.vision.precision),
            (Some((640, 480)), Precision::Auto),
            "timed at start for the camera's frames"
        );
        assert_eq!(c.vision.models, None);
        assert_eq!(c.gallery.dir, PathBuf::from("/var/lib/rolemirror/gallery"));
        assert_eq!(c.usb.max_file_bytes, 20 << 20);
        assert_eq!(c.usb.poll, Duration::from_secs(2));
        assert_eq!(c.display.backend, Backend::Auto { kms: KmsSettings::default(), fbdev: PathBuf::from("/dev/fb0") });
        assert_eq!(c.display.rotation, Rotation::R0);
    }

    #[test]
    fn display_rotation_kms_output_and_mode() {
        let c = Config::from_text("[display]\nbackend = \"kms\"\nrotation = 90\nconnector = \"HDMI-A-2\"\nmode = \"1280x720\"\n")
            .expect("valid");
        let want = KmsSettings { device: None, connector: Some("HDMI-A-2".into()), mode: Some(Size::new(1280, 720)) };
        assert_eq!((c.display.backend, c.display.rotation), (Backend::Kms(want), Rotation::R90));
        let c = Config::from_text("[display]\nbackend = \"kms\"\nkms_device = \"/dev/dri/card1\"\n").expect("valid");
        assert!(matches!(c.display.backend, Backend::Kms(KmsSettings { device: Some(d), .. }) if d == Path::new("/dev/dri/card1")));
        let p = check("[display]\nrotation = 45\nmode = \"1080p\"\nconnector = \"HDMI A 1\"\n");
        assert_eq!(keys(&p), vec!["display.rotation", "display.mode", "display.connector"], "{p:?}");
        assert!(p[0].message.contains("45 is not 0, 90, 180 or 270"), "{p:?}");
        assert!(p[1].message.contains("\"1080p\"") && p[1].message.contains("preferred mode"), "{p:?}");
        assert_eq!(Rotation::R270.turn(1920, 1080), (1080, 1920));
        assert_eq!(Rotation::R180.turn(1920, 1080), (1920, 1080));
    }

    /// The SPI panel's own `rotation` key (older configs) and `display.rotation`: the panel's
    /// controller turns the picture, the renderer does not; two different turns are refused.
    #[test]
    fn spi_rotation_is_display_rotation_done_by_the_panel() {
        let spi = |text: &str| {
            let c = Config::from_text(&format!("[display]\nbackend = \"spi\"\n{text}")).expect("valid");
            let Backend::Spi(panel) = c.display.backend else { panic!("spi") };
            (panel.rotation, c.display.rotation)
        };
        assert_eq!(spi("rotation = 90\n"), (Rotation::R90, Rotation::R0));
        assert_eq!(spi("[display.spi]\nrotation = 270\n"), (Rotation::R270, Rotation::R0), "the older key still works");
        assert_eq!(spi("rotation = 180\n[display.spi]\nrotation = 180\n"), (Rotation::R180, Rotation::R0));
        let p = check("[display]\nbackend = \"spi\"\nrotation = 90\n[display.spi]\nrotation = 270\n");
        assert_eq!(keys(&p), vec!["display.spi.rotation"], "{p:?}");
        assert!(p[0].message.contains("differs from display.rotation = 90"), "{p:?}");
        // On other backends the renderer turns.
        let c = Config::from_text("[display]\nbackend = \"fbdev\"\nrotation = 270\n").expect("valid");
        assert_eq!(c.display.rotation, Rotation::R270);
    }

    #[test]
    fn three_mistakes_are_all_named_with_key_paths() {
        let text = "[camera]\nfps = 0\n[booth]\nresult_min_seconds = -1\n[texts]\nlanguage = \"fr\"\n";
        let p = check(text);
        for key in ["camera.fps", "booth.result_min_seconds", "texts.language"] {
            assert!(keys(&p).contains(&key), "{key} missing from {p:?}");
        }
    }

    #[test]
    fn check_collects_parse_errors_and_validation_problems_together() {
        let text = "[camera]\nfps = 0\nwidht = 640\n[booth]\nmatching_frames = \"five\"\nresult_min_seconds = -1\n";
        let p = check(text);
        for key in ["camera.widht", "booth.matching_frames", "camera.fps", "booth.result_min_seconds"] {
            assert!(keys(&p).contains(&key), "{key} missing from {p:?}");
        }
        assert_eq!(p.len(), 4, "{p:?}");
        assert_eq!(check("[camera\n").len(), 1, "a syntax error is reported once");
    }

    /// Found by fuzzing (fuzz/regressions/config): a carriage return not followed by a newline
    /// passed `check` (which dropped it with the line ending) but failed `load`, with an empty
    /// message; a USB import then installed a config the booth could not load.
    #[test]
    fn check_sees_the_exact_text_and_every_error_has_a_reason() {
        for (text, want) in [
            ("[camera]\nfps = 10 # x\r\r\n", "camera.fps (line 2): expected newline"),
            ("# x\r\r\n", "line 1: unexpected character '\\r'"),
            ("[camera]\r\nfps = 10\r\n# a\rb\n", "[camera] (line 3): unexpected character '\\r'"),
        ] {
            let problems: Vec<String> = check(text).iter().map(ToString::to_string).collect();
            assert!(problems.len() == 1 && problems[0].starts_with(want), "{text:?}: {problems:?}");
            assert_eq!(raw::Config::parse(text).expect_err("refused").to_string(), problems[0]);
        }
        // Windows line endings are fine, and a set-aside line keeps the numbering.
        assert!(check("[camera]\r\nfps = 10\r\n").is_empty());
        let p: Vec<String> = check("[camera]\r\nwidht = 1\r\nfps = 0\r\n").iter().map(ToString::to_string).collect();
        assert!(p.len() == 2 && p[0].starts_with("camera.widht (line 2)") && p[1].starts_with("camera.fps"), "{p:?}");
    }

    /// A zero-length config (a power cut, a failed copy) ran the booth on the defaults without a
    /// word; found by `faults::corrupt_files_at_start_give_the_service_screen_or_a_rebuild`.
    #[test]
    fn an_empty_config_is_refused_and_a_comment_only_one_is_not() {
        for text in ["", "\n", "  \r\n\t\n"] {
            let p = check(text);
            assert!(p.len() == 1 && p[0].to_string().starts_with("the file is empty"), "{text:?}: {p:?}");
            assert!(Config::from_text(text).is_err());
        }
        assert!(check("# all defaults\n").is_empty());
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_with_their_line() {
        let e = raw::Config::parse("[camera]\nwidht = 640\n").expect_err("unknown key");
        assert!(e.to_string().starts_with("camera.widht (line 2)"), "{e}");
        let e = raw::Config::parse("[booth]\nmatching_frames = \"five\"\n").expect_err("wrong type");
        assert!(e.to_string().starts_with("booth.matching_frames (line 2)"), "{e}");
    }

    #[test]
    fn sizes_paths_and_pins_become_typed_values() {
        let text = "[camera]\nsource = \"replay\"\nreplay = \"/frames\"\n[vision]\ndetector_input = \"384x288\"\nmodels = \"/m\"\n\
                    [display]\nbackend = \"spi\"\n[display.spi]\nreset_pin = \"none\"\nbacklight_pin = -1\n";
        let c = Config::from_text(text).expect("valid");
        assert_eq!(c.camera.source, CameraSource::Replay { path: PathBuf::from("/frames"), fps: 5.0, looping: true });
        assert_eq!((c.vision.detect.input, c.vision.auto_input), ((384, 288), None), "a given size is used as it is");
        assert_eq!(c.vision.models, Some(PathBuf::from("/m")));
        let Backend::Spi(spi) = c.display.backend else { panic!("spi backend") };
        assert_eq!((spi.dc_pin, spi.reset_pin, spi.backlight_pin), (25, None, None));
        let p = check("[vision]\ndetector_input = \"640\"\n[display.spi]\nreset_pin = -7\n[camera]\nsource = \"replay\"\n");
        assert_eq!(keys(&p), vec!["camera.replay", "vision.detector_input"], "{p:?}");
        let c = Config::from_text("[camera]\nwidth = 1280\nheight = 720\n[vision]\nprecision = \"f32\"\n").expect("valid");
        assert_eq!((c.vision.auto_input, c.vision.precision), (Some((1280, 720)), Precision::F32));
        let p = check("[vision]\nprecision = \"half\"\ndetector_input = \"Auto\"\n");
        assert_eq!(keys(&p), vec!["vision.detector_input", "vision.precision"], "{p:?}");
        let p = check("[display]\nbackend = \"spi\"\n[display.spi]\nreset_pin = -7\nbacklight_pin = \"gpio18\"\n");
        assert_eq!(keys(&p), vec!["display.spi.reset_pin", "display.spi.backlight_pin"], "{p:?}");
    }

    /// The shipped conffile of earlier versions said `source = "v4l2"`: it still parses, as a
    /// live camera whose backend `camera.backend` decides; the new keys are named by key when
    /// wrong, with what to write instead.
    #[test]
    fn camera_backends_and_the_old_source_spelling() {
        let live = |text: &str| match Config::from_text(text).map(|c| c.camera.source) {
            Ok(CameraSource::Live(l)) => (l.backend, l.device, l.program),
            other => panic!("{text:?}: {other:?}"),
        };
        assert_eq!(
            live("[camera]\nsource = \"v4l2\"\ndevice = \"/dev/video2\"\n"),
            (CameraBackend::Auto, Some(PathBuf::from("/dev/video2")), LibcameraProgram::Auto)
        );
        assert_eq!(live("[camera]\nsource = \"v4l2\"\nbackend = \"v4l2\"\n").0, CameraBackend::V4l2);
        assert_eq!(
            live("[camera]\nbackend = \"libcamera\"\nlibcamera_program = \"gstreamer\"\n"),
            (CameraBackend::Libcamera, None, LibcameraProgram::Gstreamer)
        );
        let problems = |text: &str| check(text).iter().map(ToString::to_string).collect::<Vec<_>>();
        let p = problems("[camera]\nsource = \"libcamera\"\n");
        assert_eq!(p, vec!["camera.source (line 2): \"libcamera\" is a camera backend, not a source: write source = \"camera\" and backend = \"libcamera\""]);
        let p = problems("[camera]\nbackend = \"usb\"\nlibcamera_program = \"libcamera-vid\"\n");
        assert!(p.len() == 2 && p[0].starts_with("camera.backend (line 2): \"usb\" is not a camera backend: \"auto\", \"v4l2\""), "{p:?}");
        assert!(p[1].starts_with("camera.libcamera_program (line 3): \"libcamera-vid\" is not a libcamera program"), "{p:?}");
        let p = check("[camera]\nsource = \"v4l2\"\nbackend = \"libcamera\"\ndevice = \"/dev/video0\"\nwidth = 641\n");
        assert_eq!(keys(&p), vec!["camera.source", "camera.device", "camera.width"], "{p:?}");
        assert!(p[0].message.contains("write source = \"camera\""), "{p:?}");
        assert!(p[1].message.contains("set camera.backend = \"v4l2\" for a USB webcam") && p[2].message.contains("even"), "{p:?}");
        // The health report's words for each.
        let words = |text: &str| Config::from_text(text).expect("valid").camera.source.to_string();
        assert_eq!(words("[camera]\nbackend = \"v4l2\"\n"), "v4l2 (first capture device) 640x480 at 15 fps");
        assert_eq!(words("[camera]\nbackend = \"libcamera\"\nfps = 10\n"), "libcamera (first camera) 640x480 at 10 fps");
        assert_eq!(words("# defaults\n"), "auto (Camera Module or first capture device) 640x480 at 15 fps");
    }

    #[test]
    fn languages() {
        let texts = |t: &str| Config::from_text(t).map(|c| c.texts.invite);
        assert_eq!(texts("[texts]\n"), Ok(Texts::english().invite));
        assert_eq!(texts("[texts]\nlanguage = \"nl\"\n"), Ok("Kom voor de spiegel staan".into()));
        assert!(texts("[texts]\nlanguage = \"fy\"\n").is_err());
        assert_eq!(
            texts("[texts]\nlanguage = \"fy\"\n[texts.custom.fy]\ninvite = \"Kom foar de spegel\"\n"),
            Ok("Kom foar de spegel".into())
        );
        // A visitor switches through every language, the configured one first, each once.
        let codes = |t: &str| Config::from_text(t).map(|c| c.languages.into_iter().map(|(code, _)| code).collect::<Vec<_>>());
        assert_eq!(codes("[texts]\n"), Ok(vec!["en".to_string(), "nl".into()]));
        assert_eq!(codes("[texts]\nlanguage = \"fy\"\n[texts.custom.fy]\n"), Ok(vec!["fy".to_string(), "en".into(), "nl".into()]));
        assert_eq!(codes("[texts]\nlanguage = \"nl\"\n[texts.custom.de]\n"), Ok(vec!["nl".to_string(), "en".into(), "de".into()]));
    }

    #[test]
    fn input_keys_are_the_kernels_names_each_with_one_meaning() {
        let c = Config::default();
        assert!(c.input.enabled && c.input.touch);
        assert_eq!((c.input.button_keys[0], c.input.next_keys[0], c.input.language_keys[0]), (28, 49, 38), "KEY_ENTER, KEY_N, KEY_L");
        let p = check("[input]\nbutton_keys = [\"KEY_ENTER\", \"ENTER\"]\nnext_keys = [\"KEY_ENTER\"]\nlong_press_seconds = 0.1\ntouch_rotation = 45\n");
        assert_eq!(keys(&p), ["input.button_keys[1]", "input.next_keys[0]", "input.long_press_seconds", "input.touch_rotation"], "{p:?}");
        assert!(p[0].message.contains("\"ENTER\" is not a Linux key name"), "{}", p[0]);
        assert!(p[1].message.contains("already in input.button_keys"), "{}", p[1]);
        let c = Config::from_text("[input]\ntouch_rotation = 90\ntouch_invert_y = true\nlanguage_keys = []\n").expect("valid");
        assert_eq!(c.input.mapping, TouchMapping { rotation: 90, invert_x: false, invert_y: true });
        assert!(c.input.language_keys.is_empty());
    }

    #[test]
    fn lenient_keeps_the_usable_tables_of_a_broken_file() {
        let dir = std::env::temp_dir().join(format!("rm-config-lenient-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("broken.toml");
        std::fs::write(&file, "[camera]\nfps = 0\n[display]\nbackend = \"png\"\npng = \"/tmp/x.png\"\n[usb]\nmax_files = 0\n")
            .expect("write");
        let c = Config::lenient(&file);
        assert_eq!(c.display.backend, Backend::Png { file: PathBuf::from("/tmp/x.png"), dir: None, size: Size::new(1920, 1080) });
        assert_eq!(c.usb.max_files, 2000, "an unusable [usb] falls back to the defaults");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
