//! `[display]`, checked: the backend (KMS, framebuffer, SPI panel, PNG, or `auto`), its size and
//! rotation.

use std::path::PathBuf;

use super::raw::{self, SpiDriver};
use super::{path, Checker};
use crate::util::Size;

/// An SPI panel, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SpiSettings {
    pub driver: SpiDriver,
    pub spidev: PathBuf,
    pub gpiochip: PathBuf,
    pub dc_pin: u32,
    /// `None`: not wired.
    pub reset_pin: Option<u32>,
    /// `None`: not wired (always on).
    pub backlight_pin: Option<u32>,
    pub width: u16,
    pub height: u16,
    /// The panel controller's turn (`display.rotation`, or the older `display.spi.rotation`).
    pub rotation: Rotation,
    pub speed_hz: u32,
    pub invert: bool,
}

/// How far the screen is turned clockwise from its normal position, as the visitor looks at
/// it: `R90` is a landscape monitor turned a quarter clockwise into portrait (its own top edge
/// on the right). Scenes are laid out for the turned size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rotation {
    #[default]
    R0,
    R90,
    R180,
    R270,
}

impl Rotation {
    /// 0, 90, 180 or 270; `None` for any other angle.
    pub fn from_degrees(degrees: u16) -> Option<Rotation> {
        match degrees {
            0 => Some(Rotation::R0),
            90 => Some(Rotation::R90),
            180 => Some(Rotation::R180),
            270 => Some(Rotation::R270),
            _ => None,
        }
    }

    pub fn degrees(self) -> u16 {
        match self {
            Rotation::R0 => 0,
            Rotation::R90 => 90,
            Rotation::R180 => 180,
            Rotation::R270 => 270,
        }
    }

    /// The size a `width` x `height` screen has once turned (swapped for 90 and 270).
    pub fn turn(self, width: u32, height: u32) -> (u32, u32) {
        match self {
            Rotation::R0 | Rotation::R180 => (width, height),
            Rotation::R90 | Rotation::R270 => (height, width),
        }
    }
}

/// Which KMS output and mode, checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KmsSettings {
    /// The DRM card (`None`: the first card with a connected output).
    pub device: Option<PathBuf>,
    /// The output's name, as the kernel names it (`HDMI-A-1`, `DSI-1`; `None`: the first connected).
    pub connector: Option<String>,
    /// The mode's size (`None`: the output's preferred mode).
    pub mode: Option<Size>,
}

/// The screen backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// KMS when a DRM card has a connected output (the one `kms` would open), else the
    /// framebuffer `fbdev`; the display module logs which and why.
    Auto { kms: KmsSettings, fbdev: PathBuf },
    /// A DRM/KMS card: two dumb buffers, page flips on vblank, hot-plug followed.
    Kms(KmsSettings),
    /// A Linux framebuffer device (its size and pixel format come from the device).
    Fbdev { device: PathBuf },
    /// A PNG file rewritten on every change (and every distinct screen kept in `dir`).
    Png { file: PathBuf, dir: Option<PathBuf>, size: Size },
    /// An SPI TFT panel.
    Spi(SpiSettings),
}

/// `[display]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplaySettings {
    pub backend: Backend,
    /// The turn the renderer applies (`R0` for an SPI panel, which its controller turns: see
    /// [`SpiSettings::rotation`]).
    pub rotation: Rotation,
    pub font: PathBuf,
    pub font_bold: PathBuf,
}

pub(super) fn display(d: &raw::Display, p: &mut Checker) -> DisplaySettings {
    p.check((240..=7680).contains(&d.width) && (240..=4320).contains(&d.height), "display.width", || {
        format!("{}x{} is not a supported screen size (240x240 to 7680x4320)", d.width, d.height)
    });
    let rotation = Rotation::from_degrees(d.rotation);
    p.check(rotation.is_some(), "display.rotation", || format!("{} is not 0, 90, 180 or 270", d.rotation));
    let rotation = rotation.unwrap_or_default();
    let kms = kms(d, p);
    let (backend, rotation) = match d.backend {
        raw::DisplayKind::Auto => {
            p.check(!d.fbdev.is_empty(), "display.fbdev", || "must name a framebuffer device (auto falls back to it)".into());
            (Backend::Auto { kms, fbdev: PathBuf::from(&d.fbdev) }, rotation)
        }
        raw::DisplayKind::Kms => (Backend::Kms(kms), rotation),
        raw::DisplayKind::Fbdev => {
            p.check(!d.fbdev.is_empty(), "display.fbdev", || "must name a framebuffer device".into());
            (Backend::Fbdev { device: PathBuf::from(&d.fbdev) }, rotation)
        }
        raw::DisplayKind::Png => {
            p.check(!d.png.is_empty(), "display.png", || "must name a file".into());
            (Backend::Png { file: PathBuf::from(&d.png), dir: path(&d.png_dir), size: Size::new(d.width, d.height) }, rotation)
        }
        raw::DisplayKind::Spi => {
            let s = &d.spi;
            p.check(!s.spidev.is_empty(), "display.spi.spidev", || "must name a spidev device".into());
            let old = Rotation::from_degrees(s.rotation);
            p.check(old.is_some(), "display.spi.rotation", || format!("{} is not 0, 90, 180 or 270", s.rotation));
            p.check(s.rotation == 0 || d.rotation == 0 || s.rotation == d.rotation, "display.spi.rotation", || {
                format!(
                    "{} differs from display.rotation = {}: remove display.spi.rotation (display.rotation turns every screen, SPI panels included)",
                    s.rotation, d.rotation
                )
            });
            p.check((64..=1024).contains(&s.width) && (64..=1024).contains(&s.height), "display.spi.width", || {
                "panel sizes must be in 64..=1024".into()
            });
            let mut pin = |key: &str, pin: &raw::Pin| match pin.line() {
                Ok(line) => line,
                Err(e) => {
                    p.check(false, key, || e);
                    None
                }
            };
            let reset_pin = pin("display.spi.reset_pin", &s.reset_pin);
            let backlight_pin = pin("display.spi.backlight_pin", &s.backlight_pin);
            // The panel's controller turns the picture (free); the renderer does not.
            let panel_rotation = if rotation != Rotation::R0 { rotation } else { old.unwrap_or_default() };
            let panel = SpiSettings {
                driver: s.driver,
                spidev: PathBuf::from(&s.spidev),
                gpiochip: PathBuf::from(&s.gpiochip),
                dc_pin: s.dc_pin,
                reset_pin,
                backlight_pin,
                width: s.width,
                height: s.height,
                rotation: panel_rotation,
                speed_hz: s.speed_hz,
                invert: s.invert,
            };
            (Backend::Spi(panel), Rotation::R0)
        }
    };
    DisplaySettings { backend, rotation, font: PathBuf::from(&d.font), font_bold: PathBuf::from(&d.font_bold) }
}

/// `display.kms_device`, `display.connector` and `display.mode`.
fn kms(d: &raw::Display, p: &mut Checker) -> KmsSettings {
    let mode = match d.mode.trim() {
        "" => None,
        text => match text.parse::<Size>() {
            Ok(size) => Some(size),
            Err(e) => {
                p.check(false, "display.mode", || format!("{e}, or empty for the output's preferred mode"));
                None
            }
        },
    };
    let connector = d.connector.trim();
    p.check(connector.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "display.connector", || {
        format!("{connector:?} is not an output name such as \"HDMI-A-1\" or \"DSI-1\" (empty: the first connected output)")
    });
    KmsSettings { device: path(&d.kms_device), connector: (!connector.is_empty()).then(|| connector.to_string()), mode }
}
