//! SPI TFT backend: ST7789, ILI9341 or ILI9486 panels through `mipidsi`, on Linux spidev and
//! GPIO character-device lines (`linux-embedded-hal`). Pins and size come from `[display.spi]`,
//! the turn from `display.rotation`: the panel's controller turns the picture (its memory access
//! order, MADCTL), so the renderer draws unturned at the panel's turned size. Each frame is sent
//! as one window write of the whole canvas.
//!
//! No panel is attached to the build machine: this path is compiled and type-checked in CI but
//! runs only on a Pi (see the README's wiring table).

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
use linux_embedded_hal::spidev::{SpiModeFlags, SpidevOptions};
use linux_embedded_hal::{CdevPin, Delay, SpidevDevice};
use mipidsi::interface::SpiInterface;
use mipidsi::models::{ILI9341Rgb565, ILI9486Rgb666, ST7789};
use mipidsi::options::{ColorInversion, Orientation, Rotation};
use mipidsi::Builder;

use super::canvas::Canvas;
use super::{DisplayError, Screen};
use crate::config::{Rotation as PanelTurn, SpiDriver, SpiSettings};

fn output_pin(chip: &mut Chip, line: u32, initial: u8, what: &str) -> Result<CdevPin, DisplayError> {
    let handle = chip
        .get_line(line)
        .and_then(|l| l.request(LineRequestFlags::OUTPUT, initial, "rolemirror"))
        .map_err(|e| DisplayError::Panel(format!("GPIO line {line} ({what}): {e}")))?;
    CdevPin::new(handle).map_err(|e| DisplayError::Panel(format!("GPIO line {line} ({what}): {e}")))
}

struct Panel<D> {
    display: D,
    width: u32,
    height: u32,
}

impl<D, C> Screen for Panel<D>
where
    D: DrawTarget<Color = C>,
    C: PixelColor + From<Rgb888>,
    D::Error: std::fmt::Debug,
{
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn present(&mut self, canvas: &Canvas, _scene: &str) -> Result<(), DisplayError> {
        let area = Rectangle::new(Point::zero(), Size::new(self.width, self.height));
        let (w, h) = (self.width, self.height);
        let colors = (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| {
            let [r, g, b] = canvas.pixel(x, y).unwrap_or([0, 0, 0]);
            C::from(Rgb888::new(r, g, b))
        });
        self.display.fill_contiguous(&area, colors).map_err(|e| DisplayError::Panel(format!("SPI write: {e:?}")))
    }

    fn blank(&mut self) {
        let _ = self.display.clear(C::from(Rgb888::BLACK));
    }
}

/// Opens the panel and hands it to `f` (the interface borrows a buffer on this stack frame, so
/// the panel lives exactly as long as the call).
pub fn with_panel(cfg: &SpiSettings, f: &mut dyn FnMut(&mut dyn Screen)) -> Result<(), DisplayError> {
    let panel = |what: String| DisplayError::Panel(what);
    let mut spi = SpidevDevice::open(&cfg.spidev).map_err(|e| panel(format!("{}: {e}", cfg.spidev.display())))?;
    let options = SpidevOptions::new().bits_per_word(8).max_speed_hz(cfg.speed_hz).mode(SpiModeFlags::SPI_MODE_0).build();
    spi.configure(&options).map_err(|e| panel(format!("{}: configure: {e}", cfg.spidev.display())))?;
    let mut chip = Chip::new(&cfg.gpiochip).map_err(|e| panel(format!("{}: {e}", cfg.gpiochip.display())))?;
    let dc = output_pin(&mut chip, cfg.dc_pin, 0, "dc_pin")?;
    if let Some(line) = cfg.backlight_pin {
        // Held on while the handle lives.
        let backlight = output_pin(&mut chip, line, 1, "backlight_pin")?;
        std::mem::forget(backlight);
    }
    let mut buffer = [0u8; 4096];
    let di = SpiInterface::new(spi, dc, &mut buffer);
    let rotation = match cfg.rotation {
        PanelTurn::R0 => Rotation::Deg0,
        PanelTurn::R90 => Rotation::Deg90,
        PanelTurn::R180 => Rotation::Deg180,
        PanelTurn::R270 => Rotation::Deg270,
    };
    let orientation = Orientation::new().rotate(rotation);
    let invert = if cfg.invert { ColorInversion::Inverted } else { ColorInversion::Normal };
    let (w, h) = if matches!(rotation, Rotation::Deg90 | Rotation::Deg270) { (cfg.height, cfg.width) } else { (cfg.width, cfg.height) };
    let mut delay = Delay;
    let reset = cfg.reset_pin.map(|line| output_pin(&mut chip, line, 1, "reset_pin")).transpose()?;
    macro_rules! build {
        ($model:expr) => {{
            let builder = Builder::new($model, di).display_size(cfg.width, cfg.height).orientation(orientation).invert_colors(invert);
            match reset {
                Some(rst) => {
                    let display = builder.reset_pin(rst).init(&mut delay).map_err(|e| panel(format!("panel init: {e:?}")))?;
                    f(&mut Panel { display, width: u32::from(w), height: u32::from(h) });
                }
                None => {
                    let display = builder.init(&mut delay).map_err(|e| panel(format!("panel init: {e:?}")))?;
                    f(&mut Panel { display, width: u32::from(w), height: u32::from(h) });
                }
            }
            Ok(())
        }};
    }
    match cfg.driver {
        SpiDriver::St7789 => build!(ST7789),
        SpiDriver::Ili9341 => build!(ILI9341Rgb565),
        SpiDriver::Ili9486 => build!(ILI9486Rgb666),
    }
}
