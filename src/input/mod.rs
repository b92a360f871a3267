//! What a visitor does: a push button, a touch screen or (for development) a keyboard, read with
//! evdev. Optional (`[input]` in the config); absent hardware is never an error.
//!
//! - [`gesture`]: key and touch edges → [`Gesture`]s (short press, long press, tap with its place),
//!   without I/O, on a fake clock in its tests.
//! - [`devices`]: the input thread: finds `/dev/input/event*` devices by what they can do (keys the
//!   config names as the button or the development keys; a touch surface: `ABS_X`/`ABS_Y` with
//!   `BTN_TOUCH` or a tablet's `BTN_LEFT`, or multi-touch positions), picks up devices that come
//!   and go by looking at the folder again every [`devices::RESCAN_SECONDS`] (the daemon opens no
//!   netlink socket), and hands gestures to a callback. The only code that knows evdev.
//!
//! Nothing here is logged per press: device names when they are opened or lost, nothing about
//! what a visitor pressed (the service counts presses, anonymously).

#[cfg(target_os = "linux")]
pub mod devices;
pub mod gesture;

use std::path::PathBuf;

/// What the visitor asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gesture {
    /// Another match: a short press of the button, a development key (N).
    Next,
    /// The next language: a long press of the button, a development key (L).
    Language,
    /// A tap on the screen, at `x`, `y` as fractions (0..1) of the screen's width and height, as
    /// the scenes are laid out (after [`TouchMapping`]).
    Tap { x: f32, y: f32 },
}

/// How a touch panel's axes are turned onto the screen: first flipped (`invert_x`, `invert_y`,
/// along the panel's own axes), then turned `rotation` degrees clockwise (0, 90, 180, 270) — a
/// panel mounted, or a screen rotated, differently from the way the touch controller reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TouchMapping {
    pub rotation: u16,
    pub invert_x: bool,
    pub invert_y: bool,
}

impl TouchMapping {
    /// A position on the panel (fractions of its axes) as a position on the screen.
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let x = if self.invert_x { 1.0 - x } else { x };
        let y = if self.invert_y { 1.0 - y } else { y };
        match self.rotation {
            90 => (1.0 - y, x),
            180 => (1.0 - x, 1.0 - y),
            270 => (y, 1.0 - x),
            _ => (x, y),
        }
    }
}

/// `[input]`, checked (built from the config file by `config::Config::from_raw`).
#[derive(Debug, Clone, PartialEq)]
pub struct InputSettings {
    /// Read input devices at all.
    pub enabled: bool,
    /// Where the event devices are (`/dev/input`).
    pub dir: PathBuf,
    /// Linux key codes of the push button: short press = another match, long = language.
    pub button_keys: Vec<u16>,
    /// Key codes that always mean "another match" / "language" (development keyboards).
    pub next_keys: Vec<u16>,
    pub language_keys: Vec<u16>,
    /// Seconds the button is held for the language.
    pub long_press: f64,
    /// Use touch screens (and tablets).
    pub touch: bool,
    pub mapping: TouchMapping,
}

impl Default for InputSettings {
    fn default() -> Self {
        InputSettings {
            enabled: false,
            dir: PathBuf::from("/dev/input"),
            button_keys: Vec::new(),
            next_keys: Vec::new(),
            language_keys: Vec::new(),
            long_press: 1.2,
            touch: false,
            mapping: TouchMapping::default(),
        }
    }
}

/// The Linux key code of a name from `linux/input-event-codes.h` (`KEY_ENTER`, `BTN_0`), if it
/// is one.
pub fn key_code(name: &str) -> Option<u16> {
    #[cfg(target_os = "linux")]
    {
        name.parse::<evdev::KeyCode>().ok().map(|k| k.code())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = name;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_the_kernels() {
        assert_eq!(key_code("KEY_ENTER"), Some(28));
        assert_eq!(key_code("KEY_N"), Some(49));
        assert_eq!(key_code("BTN_0"), Some(0x100));
        assert_eq!(key_code("ENTER"), None);
        assert_eq!(key_code("key_enter"), None);
    }
}
