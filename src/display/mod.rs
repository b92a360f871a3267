//! The screen: scenes are rendered into a [`canvas::Canvas`] back buffer (an
//! `embedded_graphics` `DrawTarget`), then a backend presents it in one copy: the Linux
//! framebuffer ([`fbdev`]), an SPI TFT ([`spi`]) or a PNG file ([`png`]).
//!
//! The display runs on its own thread ([`spawn`]): it takes the latest scene from a slot of
//! one, renders and presents it; a scene not yet drawn is replaced by a newer one.

pub mod canvas;
#[cfg(target_os = "linux")]
pub mod console;
pub mod fbdev;
pub mod png;
pub mod render;
#[cfg(target_os = "linux")]
pub mod spi;
pub mod text;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::booth::scene::Scene;
use crate::camera::Slot;
use crate::config::{DisplayBackend, DisplayConfig};
use canvas::Canvas;
use render::{render, Assets};

/// A screen backend.
pub trait Screen {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Shows the canvas (one copy; the canvas has the screen's size).
    fn present(&mut self, canvas: &Canvas, scene: &str) -> Result<(), String>;
    /// Black (on shutdown).
    fn blank(&mut self);
}

impl Screen for png::PngScreen {
    fn size(&self) -> (u32, u32) {
        png::PngScreen::size(self)
    }
    fn present(&mut self, canvas: &Canvas, scene: &str) -> Result<(), String> {
        png::PngScreen::present(self, canvas, scene).map(|_| ()).map_err(|e| e.to_string())
    }
    fn blank(&mut self) {}
}

impl Screen for fbdev::Fbdev {
    fn size(&self) -> (u32, u32) {
        (self.geometry().width, self.geometry().height)
    }
    fn present(&mut self, canvas: &Canvas, _scene: &str) -> Result<(), String> {
        fbdev::Fbdev::present(self, canvas).map_err(|e| e.to_string())
    }
    fn blank(&mut self) {
        let _ = fbdev::Fbdev::blank(self);
    }
}

/// What the display thread draws next.
pub struct Frame {
    pub scene: Scene,
    pub assets: Arc<Assets>,
}

/// Opens the configured screen and hands it to `f` for as long as `f` runs.
pub fn with_screen(cfg: &DisplayConfig, f: &mut dyn FnMut(&mut dyn Screen)) -> Result<(), String> {
    match cfg.backend {
        DisplayBackend::Png => {
            let dir = (!cfg.png_dir.is_empty()).then(|| PathBuf::from(&cfg.png_dir));
            let mut screen = png::PngScreen::new(PathBuf::from(&cfg.png), dir, cfg.width, cfg.height)
                .map_err(|e| format!("display.png {}: {e}", cfg.png))?;
            f(&mut screen);
            Ok(())
        }
        DisplayBackend::Fbdev => {
            let mut screen = fbdev::Fbdev::open(std::path::Path::new(&cfg.fbdev)).map_err(|e| e.to_string())?;
            f(&mut screen);
            Ok(())
        }
        #[cfg(target_os = "linux")]
        DisplayBackend::Spi => spi::with_panel(&cfg.spi, f),
        #[cfg(not(target_os = "linux"))]
        DisplayBackend::Spi => Err("SPI panels need Linux".into()),
    }
}

/// Starts the display thread. It reports the screen size (or why the screen cannot be opened)
/// through the returned receiver, then draws every frame put in `slot` until it is closed, and
/// blanks the screen.
pub fn spawn(
    cfg: DisplayConfig,
    slot: Arc<Slot<Frame>>,
) -> std::io::Result<(std::thread::JoinHandle<()>, std::sync::mpsc::Receiver<Result<(u32, u32), String>>)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new().name("display".into()).spawn(move || {
        let result = with_screen(&cfg, &mut |screen| {
            let (w, h) = screen.size();
            let _ = tx.send(Ok((w, h)));
            let mut canvas = Canvas::new(w, h);
            loop {
                match slot.take(Duration::from_millis(500)) {
                    Some(frame) => {
                        render(&frame.scene, &frame.assets, &mut canvas);
                        if let Err(e) = screen.present(&canvas, frame.scene.name()) {
                            log::warn!("display: {e}");
                        }
                    }
                    None if slot.is_closed() => break,
                    None => {}
                }
            }
            screen.blank();
        });
        if let Err(e) = result {
            let _ = tx.send(Err(e));
        }
    })?;
    Ok((handle, rx))
}
