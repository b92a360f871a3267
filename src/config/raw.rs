//! The config file as it is read: serde structs with every key's default, unknown keys refused.
//! Nothing here is validated beyond TOML types; [`super::Config::from_raw`] turns a [`Config`]
//! into typed settings or into every problem with its key path.
//!
//! The commented example in `config/rolemirror.toml` states every key with the default given
//! here (a test checks it).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::texts::Texts;
use super::Problem;
use crate::gallery::matcher::{self, Mode};
use crate::gallery::variety;

/// Where frames come from (`camera.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraKind {
    /// A live camera; `camera.backend` says which kind.
    Camera,
    /// Images from a folder or list, at a fixed rate.
    Replay,
    /// The old spelling of `Camera`, from when V4L2 was the only live camera: read as
    /// `Camera` (the backend still comes from `camera.backend`), so shipped configs keep working.
    V4l2,
}

impl<'de> Deserialize<'de> for CameraKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let choices = [("camera", CameraKind::Camera), ("replay", CameraKind::Replay), ("v4l2", CameraKind::V4l2)];
        choice(d, &choices, |value| match value {
            "libcamera" | "auto" => {
                format!("\"{value}\" is a camera backend, not a source: write source = \"camera\" and backend = \"{value}\"")
            }
            _ => format!(
                "\"{value}\" is not a camera source: \"camera\" (a live camera; camera.backend says which kind) or \"replay\" (images \
                 from a folder)"
            ),
        })
    }
}

/// A string key with a fixed set of values: the value, or a message that names the choices.
fn choice<'de, D: serde::Deserializer<'de>, T: Copy>(
    d: D,
    choices: &[(&str, T)],
    wrong: impl FnOnce(&str) -> String,
) -> Result<T, D::Error> {
    let value = String::deserialize(d)?;
    choices.iter().find(|(name, _)| *name == value).map(|(_, v)| *v).ok_or_else(|| serde::de::Error::custom(wrong(&value)))
}

/// Which kind of live camera (`camera.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraBackend {
    /// Whatever is there, decided each time the camera is opened: a Raspberry Pi Camera Module
    /// (CSI) through libcamera, else a V4L2 webcam (the reason goes to the log).
    Auto,
    /// A V4L2 capture device: a USB (UVC) webcam, MJPEG or YUYV.
    V4l2,
    /// A camera only libcamera drives (a Raspberry Pi Camera Module), through a child process.
    Libcamera,
}

impl<'de> Deserialize<'de> for CameraBackend {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let choices = [("auto", CameraBackend::Auto), ("v4l2", CameraBackend::V4l2), ("libcamera", CameraBackend::Libcamera)];
        choice(d, &choices, |value| {
            format!("\"{value}\" is not a camera backend: \"auto\", \"v4l2\" (USB webcams) or \"libcamera\" (Raspberry Pi Camera Modules)")
        })
    }
}

/// The program that streams frames from libcamera (`camera.libcamera_program`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LibcameraProgram {
    /// `rpicam-vid` where it is installed (Raspberry Pi OS), else GStreamer.
    #[serde(rename = "auto")]
    Auto,
    /// `rpicam-vid` (package rpicam-apps or rpicam-apps-lite).
    #[serde(rename = "rpicam-vid")]
    RpicamVid,
    /// `gst-launch-1.0` with `libcamerasrc` (packages gstreamer1.0-tools, gstreamer1.0-libcamera).
    #[serde(rename = "gstreamer")]
    Gstreamer,
}

impl<'de> Deserialize<'de> for LibcameraProgram {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let choices =
            [("auto", LibcameraProgram::Auto), ("rpicam-vid", LibcameraProgram::RpicamVid), ("gstreamer", LibcameraProgram::Gstreamer)];
        choice(d, &choices, |value| format!("\"{value}\" is not a libcamera program: \"auto\", \"rpicam-vid\" or \"gstreamer\""))
    }
}

/// `[camera]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Camera {
    pub source: CameraKind,
    /// Which kind of live camera: "auto", "v4l2" or "libcamera".
    pub backend: CameraBackend,
    /// V4L2 device; empty: the first video capture device found (with "auto": a set device
    /// means V4L2 on it).
    pub device: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// The libcamera backend's streaming program.
    pub libcamera_program: LibcameraProgram,
    /// Show the camera image mirrored, as a mirror would.
    pub mirror: bool,
    /// Replay: a folder of images (sorted by name) or a text file listing image paths.
    pub replay: String,
    /// Replay: frames per second.
    pub replay_fps: f32,
    /// Replay: start again after the last image.
    pub replay_loop: bool,
    /// No frame for this long: camera lost.
    pub timeout_seconds: f32,
}

impl Default for Camera {
    fn default() -> Self {
        Camera {
            source: CameraKind::Camera,
            backend: CameraBackend::Auto,
            device: String::new(),
            width: 640,
            height: 480,
            fps: 15,
            libcamera_program: LibcameraProgram::Auto,
            mirror: true,
            replay: String::new(),
            replay_fps: 5.0,
            replay_loop: true,
            timeout_seconds: 3.0,
        }
    }
}

/// `[vision]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vision {
    /// Model directory; empty: the default (see `rolemirror models list`).
    pub models: String,
    /// Embedder id; empty: the manifest's default.
    pub embedder: String,
    /// Detector input: "auto" (timed at start), or WIDTHxHEIGHT in multiples of 32 with the
    /// camera's aspect ratio.
    pub detector_input: String,
    /// Arithmetic of the networks: "auto", "f32" or "f16".
    pub precision: String,
    /// tract threads per model.
    pub threads: usize,
    /// Minimum detector score.
    pub min_score: f32,
}

impl Default for Vision {
    fn default() -> Self {
        Vision {
            models: String::new(),
            embedder: String::new(),
            detector_input: "auto".into(),
            precision: "auto".into(),
            threads: 1,
            min_score: 0.6,
        }
    }
}

/// `[gallery]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Gallery {
    /// The active gallery directory (gallery.toml, photos, index.json).
    pub dir: String,
    /// Role models shown on the result card besides the best one (0..=2).
    pub also_like: usize,
    /// How role models are ranked: "perceived", "fair" or "resemblance" (see gallery::matcher).
    pub matcher: Mode,
    /// Weight of the soft gender cue from role models' declared genders (0: off).
    pub gender_cue: f32,
    /// Variety: among near-equal look-alikes, prefer the role model shown less often so far
    /// (in memory, per booth run; see gallery::variety).
    pub variety: bool,
    /// Variety's largest penalty, in look-alike percentage points (0..=100).
    pub variety_margin: f32,
}

impl Default for Gallery {
    fn default() -> Self {
        Gallery {
            dir: "/var/lib/rolemirror/gallery".into(),
            also_like: 2,
            matcher: Mode::Perceived,
            gender_cue: matcher::DEFAULT_GENDER_CUE,
            variety: true,
            variety_margin: variety::DEFAULT_MARGIN,
        }
    }
}

/// `[booth]`: timings (seconds) and thresholds of the state machine. The keys are numbers
/// already, so the validated settings are this same struct.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoothSettings {
    /// Attract screen: seconds per showcased role model.
    pub showcase_seconds: f32,
    /// A face needs its eyes at least this fraction of the frame width apart to be matched
    /// (closer than that: "step closer").
    pub min_eye_fraction: f32,
    /// Frontal: the nose may be off the eyes' midpoint by this fraction of the eye distance.
    pub max_yaw: f32,
    /// Frontal: the eye line may tilt by this many degrees.
    pub max_roll_degrees: f32,
    /// Sharp: variance of the Laplacian of the aligned face, at least.
    pub min_sharpness: f32,
    /// Good frames averaged into one match.
    pub matching_frames: usize,
    /// Give up collecting after this long without a further good frame (back to tracking advice).
    pub matching_timeout_seconds: f32,
    /// The face may vanish this long before the booth considers the visitor gone (only frames
    /// that show nobody count).
    pub face_lost_seconds: f32,
    /// The result stays at least this long...
    pub result_min_seconds: f32,
    /// ...and while the same face stays, at most this long.
    pub result_max_seconds: f32,
    /// "Thank you" screen before the booth attracts again.
    pub cooldown_seconds: f32,
}

impl Default for BoothSettings {
    fn default() -> Self {
        BoothSettings {
            showcase_seconds: 6.0,
            min_eye_fraction: 0.06,
            max_yaw: 0.25,
            max_roll_degrees: 15.0,
            min_sharpness: 40.0,
            matching_frames: 5,
            matching_timeout_seconds: 8.0,
            face_lost_seconds: 1.5,
            result_min_seconds: 8.0,
            result_max_seconds: 30.0,
            cooldown_seconds: 3.0,
        }
    }
}

/// Screen backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DisplayKind {
    /// KMS when a DRM card has a connected output, else fbdev.
    Auto,
    /// A DRM/KMS card (`/dev/dri/cardN`): page flips on vblank.
    Kms,
    Fbdev,
    Spi,
    Png,
}

/// SPI panel controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpiDriver {
    St7789,
    Ili9341,
    Ili9486,
}

/// A GPIO line as written in the config: a BCM line number, or `"none"` when not wired
/// (`-1`, the old way of writing it, is still read as not wired).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Pin {
    Line(i64),
    Named(String),
}

impl Pin {
    /// The line number, `None` when not wired, or why the value is not a pin.
    pub fn line(&self) -> Result<Option<u32>, String> {
        match self {
            Pin::Line(-1) => Ok(None),
            Pin::Line(n) => u32::try_from(*n).map(Some).map_err(|_| format!("{n} is not a GPIO line number (or \"none\")")),
            Pin::Named(s) if s == "none" => Ok(None),
            Pin::Named(s) => Err(format!("{s:?} is not a GPIO line number (or \"none\")")),
        }
    }
}

/// `[display.spi]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Spi {
    pub driver: SpiDriver,
    pub spidev: String,
    pub gpiochip: String,
    /// Data/command GPIO line (BCM numbering).
    pub dc_pin: u32,
    /// Reset GPIO line, or "none".
    pub reset_pin: Pin,
    /// Backlight GPIO line, or "none" (always on).
    pub backlight_pin: Pin,
    pub width: u16,
    pub height: u16,
    /// 0, 90, 180 or 270: the panel's rotation, as `display.rotation` (which wins; this key is
    /// still read for configs written before `display.rotation` existed).
    pub rotation: u16,
    pub speed_hz: u32,
    /// Invert colours (many ST7789 panels need it).
    pub invert: bool,
}

impl Default for Spi {
    fn default() -> Self {
        Spi {
            driver: SpiDriver::St7789,
            spidev: "/dev/spidev0.0".into(),
            gpiochip: "/dev/gpiochip0".into(),
            dc_pin: 25,
            reset_pin: Pin::Line(27),
            backlight_pin: Pin::Line(18),
            width: 240,
            height: 320,
            rotation: 0,
            speed_hz: 40_000_000,
            invert: true,
        }
    }
}

/// `[display]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Display {
    pub backend: DisplayKind,
    /// How far the screen is turned clockwise from its normal position: 0, 90, 180 or 270.
    pub rotation: u16,
    /// KMS: the DRM card; empty: the first card with a connected output.
    pub kms_device: String,
    /// KMS: the output by name (`HDMI-A-1`, `DSI-1`); empty: the first connected one.
    pub connector: String,
    /// KMS: the mode as `WxH`; empty: the output's preferred mode.
    pub mode: String,
    /// fbdev device.
    pub fbdev: String,
    /// PNG backend: the file the current screen is written to (atomically).
    pub png: String,
    /// PNG backend: also keep every distinct screen here (for the demo and tests); empty: off.
    pub png_dir: String,
    /// PNG backend: screen size.
    pub width: u32,
    pub height: u32,
    /// TrueType font for all text (Latin with diacritics).
    pub font: String,
    pub font_bold: String,
    pub spi: Spi,
}

impl Default for Display {
    fn default() -> Self {
        Display {
            backend: DisplayKind::Auto,
            rotation: 0,
            kms_device: String::new(),
            connector: String::new(),
            mode: String::new(),
            fbdev: "/dev/fb0".into(),
            png: "/run/rolemirror/screen.png".into(),
            png_dir: String::new(),
            width: 1920,
            height: 1080,
            font: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into(),
            font_bold: "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf".into(),
            spi: Spi::default(),
        }
    }
}

/// `[texts]`: the language shown, and per-language overrides.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextsTable {
    /// "en", "nl", or a language defined under [texts.custom.LANG].
    pub language: String,
    /// Texts for further languages; missing keys fall back to English.
    pub custom: BTreeMap<String, Texts>,
}

impl Default for TextsTable {
    fn default() -> Self {
        TextsTable { language: "en".into(), custom: BTreeMap::new() }
    }
}

/// `[input]`: what a visitor can press or tap (see `crate::input`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Input {
    /// Read push buttons, touch screens and keyboards at all (absent ones are no error).
    pub enabled: bool,
    /// Where the event devices are.
    pub devices: String,
    /// Keys that are the push button (names from linux/input-event-codes.h): a short press shows
    /// another match, a long press the next language.
    pub button_keys: Vec<String>,
    /// Keys that always show another match (development keyboards).
    pub next_keys: Vec<String>,
    /// Keys that always switch the language (development keyboards).
    pub language_keys: Vec<String>,
    /// How long the button is held for the language.
    pub long_press_seconds: f32,
    /// Use touch screens (and tablets): a tap on "another match" or on the language.
    pub touch: bool,
    /// Degrees clockwise (0, 90, 180, 270) the touch panel's axes are turned onto the screen.
    pub touch_rotation: u16,
    /// Flip the touch panel's x / y axis (before turning it).
    pub touch_invert_x: bool,
    pub touch_invert_y: bool,
}

impl Default for Input {
    fn default() -> Self {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect();
        Input {
            enabled: true,
            devices: "/dev/input".into(),
            button_keys: names(&["KEY_ENTER", "KEY_KPENTER", "KEY_SPACE", "BTN_TRIGGER", "BTN_SOUTH"]),
            next_keys: names(&["KEY_N", "KEY_RIGHT"]),
            language_keys: names(&["KEY_L"]),
            long_press_seconds: 1.2,
            touch: true,
            touch_rotation: 0,
            touch_invert_x: false,
            touch_invert_y: false,
        }
    }
}

/// `[state]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct State {
    /// Anonymous counters (visitors, matches per role model) are kept here.
    pub dir: String,
}

impl Default for State {
    fn default() -> Self {
        State { dir: "/var/lib/rolemirror".into() }
    }
}

/// `[usb]`: updates from signed bundles on USB sticks.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Usb {
    /// Watch for sticks at all.
    pub enabled: bool,
    /// Where sticks get mounted; a stick's bundle is `ROOT/NAME/ROLEMIRROR` or `ROOT/USER/NAME/ROLEMIRROR`.
    pub mount_roots: Vec<String>,
    /// Directory of trusted public keys (`*.pub` from `rolemirror keygen`); none: every update refused.
    pub trusted_keys: String,
    /// How often the mount roots are looked at (SIGUSR1 looks at once).
    pub poll_seconds: f32,
    /// Wait this long after a stick appears before reading it.
    pub settle_seconds: f32,
    /// How long the outcome stays on screen.
    pub result_seconds: f32,
    /// Largest file in a bundle, in MiB.
    pub max_file_mb: u64,
    /// Largest bundle, in MiB.
    pub max_total_mb: u64,
    /// Most files in a bundle.
    pub max_files: usize,
    /// Largest photo, in megapixels (checked in the header, before decoding).
    pub max_megapixels: f64,
    /// Reports for read-only sticks go here (the mount helper copies them onto the stick).
    pub report_spool: String,
}

impl Default for Usb {
    fn default() -> Self {
        Usb {
            enabled: true,
            mount_roots: vec!["/media".into(), "/run/media".into()],
            trusted_keys: "/etc/rolemirror/trusted-keys".into(),
            poll_seconds: 2.0,
            settle_seconds: 1.0,
            result_seconds: 8.0,
            max_file_mb: 20,
            max_total_mb: 1024,
            max_files: 2000,
            max_megapixels: 40.0,
            report_spool: "/run/rolemirror/usb-reports".into(),
        }
    }
}

/// The whole file, as read.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub camera: Camera,
    pub vision: Vision,
    pub gallery: Gallery,
    pub booth: BoothSettings,
    pub display: Display,
    pub texts: TextsTable,
    pub input: Input,
    pub state: State,
    pub usb: Usb,
}

impl Config {
    /// Parses TOML (unknown keys and wrong types are errors, with their key path and line). An
    /// empty file (nothing but white space) is refused: it is what a power cut or a failed copy
    /// leaves, and running on the defaults would drop the booth's screen, camera and language
    /// settings without a word (a file of comments only is a deliberate "all defaults").
    pub fn parse(text: &str) -> Result<Config, Problem> {
        if text.trim().is_empty() {
            return Err(Problem::new(
                "",
                format!(
                    "the file is empty ({} bytes): cut off by a power cut or a failed copy? Restore it (a USB update keeps the config \
                     it replaced next to it, as FILE.previous) or write the settings; `rolemirror config check` checks it",
                    text.len()
                ),
            ));
        }
        toml::from_str(text).map_err(|e| toml_problem(text, &e))
    }

    /// Reads and parses a file (the first problem only; see [`super::check`] for all of them).
    pub fn load(path: &Path) -> Result<Config, Problem> {
        let text = std::fs::read_to_string(path).map_err(|e| Problem::new("", format!("{}: cannot read: {e}", path.display())))?;
        Config::parse(&text)
    }

    /// Replaces one top-level table by a TOML value (for the lenient reading of a broken file).
    pub(super) fn with_table(&self, name: &str, value: toml::Value) -> Option<Config> {
        let mut c = self.clone();
        match name {
            "camera" => c.camera = value.try_into().ok()?,
            "vision" => c.vision = value.try_into().ok()?,
            "gallery" => c.gallery = value.try_into().ok()?,
            "booth" => c.booth = value.try_into().ok()?,
            "display" => c.display = value.try_into().ok()?,
            "texts" => c.texts = value.try_into().ok()?,
            "input" => c.input = value.try_into().ok()?,
            "state" => c.state = value.try_into().ok()?,
            "usb" => c.usb = value.try_into().ok()?,
            _ => return None,
        }
        Some(c)
    }
}

/// A TOML error as a problem with its key path (the last `[table]` header before the error and
/// the key on the offending line) and line number.
fn toml_problem(text: &str, e: &toml::de::Error) -> Problem {
    let Some(span) = e.span() else { return Problem::new("", e.message().to_string()) };
    let start = span.start.min(text.len());
    // Some syntax errors come without a message (a stray carriage return): name the character
    // instead of printing nothing.
    let message = match (e.message().trim(), text.get(start..).and_then(|r| r.chars().next())) {
        ("", Some(c)) => format!("unexpected character {c:?}"),
        ("", None) => "unexpected end of file".to_string(),
        (m, _) => m.to_string(),
    };
    let line = text[..start].matches('\n').count() + 1;
    let table = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let key = match line_text.split_once('=') {
        Some((k, _)) if !line_text.trim_start().starts_with('[') => k.trim().to_string(),
        _ => String::new(),
    };
    let key = match (table, key.is_empty()) {
        (Some(t), false) => format!("{t}.{key}"),
        (Some(t), true) => format!("[{t}]"),
        (None, _) => key,
    };
    Problem { key, line: Some(line), message }
}
