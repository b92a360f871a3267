//! The screen: scenes are rendered into a [`canvas::Canvas`] back buffer (an
//! `embedded_graphics` `DrawTarget`), then a backend presents it in one copy: the Linux
//! framebuffer ([`fbdev`]), an SPI TFT ([`spi`]) or a PNG file ([`png`]).
//!
//! [`scene`] holds what a screen shows as pure data; [`render`] draws it. The display runs on its
//! own thread ([`start`]): it takes the latest scene from a slot of one, renders and presents
//! it; a scene not yet drawn is replaced by a newer one.

pub mod canvas;
#[cfg(target_os = "linux")]
pub mod console;
pub mod fbdev;
pub mod hit;
pub mod png;
pub mod preview;
pub mod render;
pub mod scene;
#[cfg(target_os = "linux")]
pub mod spi;
pub mod text;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Backend, DisplaySettings};
use crate::util::Slot;
use canvas::Canvas;
use render::{render, Assets};
pub use scene::{Guidance, Scene};

/// Why the screen cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    /// The framebuffer cannot be opened, has an unsupported format, or a write failed.
    #[error(transparent)]
    Framebuffer(#[from] fbdev::FbError),
    /// The PNG file or its folder cannot be written.
    #[error("display.png {}: {source}", path.display())]
    Png { path: PathBuf, source: std::io::Error },
    /// The SPI panel, its bus or one of its GPIO lines.
    #[error("SPI panel: {0}")]
    Panel(String),
    /// The display thread did not report the screen in time.
    #[error("the display did not start within {0:?}")]
    Timeout(Duration),
}

/// A screen backend.
pub trait Screen {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Shows the canvas (one copy; the canvas has the screen's size).
    fn present(&mut self, canvas: &Canvas, scene: &str) -> Result<(), DisplayError>;
    /// Black (on shutdown).
    fn blank(&mut self);
}

impl Screen for png::PngScreen {
    fn size(&self) -> (u32, u32) {
        png::PngScreen::size(self)
    }
    fn present(&mut self, canvas: &Canvas, scene: &str) -> Result<(), DisplayError> {
        png::PngScreen::present(self, canvas, scene)
            .map(|_| ())
            .map_err(|source| DisplayError::Png { path: self.path().to_path_buf(), source })
    }
    fn blank(&mut self) {}
}

impl Screen for fbdev::Fbdev {
    fn size(&self) -> (u32, u32) {
        (self.geometry().width, self.geometry().height)
    }
    fn present(&mut self, canvas: &Canvas, _scene: &str) -> Result<(), DisplayError> {
        Ok(fbdev::Fbdev::present(self, canvas)?)
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
pub fn with_screen(settings: &DisplaySettings, f: &mut dyn FnMut(&mut dyn Screen)) -> Result<(), DisplayError> {
    match &settings.backend {
        Backend::Png { file, dir, size } => {
            let mut screen = png::PngScreen::new(file.clone(), dir.clone(), size.width, size.height)
                .map_err(|source| DisplayError::Png { path: file.clone(), source })?;
            f(&mut screen);
            Ok(())
        }
        Backend::Fbdev { device } => {
            let mut screen = fbdev::Fbdev::open(device)?;
            f(&mut screen);
            Ok(())
        }
        #[cfg(target_os = "linux")]
        Backend::Spi(spi) => spi::with_panel(spi, f),
        #[cfg(not(target_os = "linux"))]
        Backend::Spi(_) => Err(DisplayError::Panel("SPI panels need Linux".into())),
    }
}

/// The running display thread.
pub struct DisplayThread {
    handle: std::thread::JoinHandle<()>,
    slot: Arc<Slot<Frame>>,
    /// The screen's width and height.
    pub size: (u32, u32),
}

impl DisplayThread {
    /// Draws `scene` next (replacing a scene not yet drawn).
    pub fn show(&self, scene: Scene, assets: &Arc<Assets>) {
        self.slot.put(Frame { scene, assets: assets.clone() });
    }

    /// Blanks the screen and ends the thread.
    pub fn stop(self) {
        self.slot.close();
        let _ = self.handle.join();
    }
}

/// Starts the display thread and waits up to `timeout` for the screen: then it draws every
/// frame shown until stopped, and blanks the screen.
pub fn start(settings: &DisplaySettings, timeout: Duration) -> Result<DisplayThread, DisplayError> {
    let slot = Arc::new(Slot::<Frame>::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let (settings, thread_slot) = (settings.clone(), slot.clone());
    let spawned = std::thread::Builder::new().name("display".into()).spawn(move || {
        let result = with_screen(&settings, &mut |screen| {
            let (w, h) = screen.size();
            let _ = tx.send(Ok((w, h)));
            let mut canvas = Canvas::new(w, h);
            loop {
                match thread_slot.take(Duration::from_millis(500)) {
                    Some(frame) => {
                        render(&frame.scene, &frame.assets, &mut canvas);
                        if let Err(e) = screen.present(&canvas, frame.scene.name()) {
                            log::warn!("display: {e}");
                        }
                    }
                    None if thread_slot.is_closed() => break,
                    None => {}
                }
            }
            screen.blank();
        });
        if let Err(e) = result {
            let _ = tx.send(Err(e));
        }
    });
    let handle = spawned.map_err(|e| DisplayError::Panel(format!("cannot start the display thread: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(Ok(size)) => Ok(DisplayThread { handle, slot, size }),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => {
            // A screen that hangs on open: leave the thread; it ends when the slot closes.
            slot.close();
            Err(DisplayError::Timeout(timeout))
        }
    }
}
