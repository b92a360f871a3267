//! The screen: scenes are rendered into a [`canvas::Canvas`] back buffer (an
//! `embedded_graphics` `DrawTarget`), then a backend presents it in one copy: a DRM/KMS card
//! with page flips ([`kms`]), the Linux framebuffer ([`fbdev`]), an SPI TFT ([`spi`]) or a PNG
//! file ([`png`]). `display.backend = "auto"` takes KMS when a card has a connected output,
//! else the framebuffer, and logs which and why.
//!
//! `display.rotation` turns the picture for a screen mounted turned: scenes are laid out for
//! the turned size and the canvas writes each pixel where the screen needs it while drawing
//! (an SPI panel's controller turns it instead).
//!
//! [`scene`] holds what a screen shows as pure data; [`render`] draws it. The display runs on its
//! own thread ([`start`]): it takes the latest scene from a slot of one, renders and presents
//! it; a scene not yet drawn is replaced by a newer one. Between scenes it lets the screen look
//! at its outputs ([`Screen::poll`]: KMS hot-plug) and draws the last scene again on an output
//! that came (back).

#[cfg(target_os = "linux")]
pub mod bench;
pub mod canvas;
pub mod checks;
#[cfg(target_os = "linux")]
pub mod console;
pub mod fbdev;
pub mod hit;
#[cfg(target_os = "linux")]
pub mod kms;
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
    /// The DRM/KMS card cannot be used: none, not master, nothing connected, a failed call.
    #[cfg(target_os = "linux")]
    #[error("KMS: {0}")]
    Kms(#[from] kms::KmsError),
    /// `auto`: neither a KMS output nor the framebuffer.
    #[error("no KMS output ({kms}), and {fbdev}")]
    Auto { kms: String, fbdev: fbdev::FbError },
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
    /// Physical width and height in pixels (the screen's own, before `display.rotation`).
    fn size(&self) -> (u32, u32);
    /// Shows the canvas (one copy; the canvas has the screen's size).
    fn present(&mut self, canvas: &Canvas, scene: &str) -> Result<(), DisplayError>;
    /// Black (on shutdown).
    fn blank(&mut self);
    /// Looks at the outputs when due (KMS hot-plug). `Some(size)`: an output was set up (again)
    /// at this physical size, and the last scene must be drawn again.
    fn poll(&mut self) -> Option<(u32, u32)> {
        None
    }
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

#[cfg(target_os = "linux")]
impl Screen for kms::Kms {
    fn size(&self) -> (u32, u32) {
        kms::Kms::size(self)
    }
    fn present(&mut self, canvas: &Canvas, _scene: &str) -> Result<(), DisplayError> {
        // A lost output is not an error of the frame: the screen turns dark and comes back.
        kms::Kms::present(self, canvas);
        Ok(())
    }
    fn blank(&mut self) {
        kms::Kms::blank(self);
    }
    fn poll(&mut self) -> Option<(u32, u32)> {
        match kms::Kms::poll(self) {
            kms::Change::Shown { width, height } => Some((width, height)),
            kms::Change::None => None,
        }
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
        Backend::Kms(settings) => {
            let mut screen = kms::Kms::open(settings)?;
            f(&mut screen);
            Ok(())
        }
        #[cfg(target_os = "linux")]
        Backend::Auto { kms: settings, fbdev: device } => match kms::Kms::open(settings) {
            Ok(mut screen) => {
                log::info!("display: auto: KMS (a DRM card with a connected output; page flips, no tearing)");
                f(&mut screen);
                Ok(())
            }
            Err(e) => {
                log::info!("display: auto: the framebuffer {}, not KMS: {e}", device.display());
                let mut screen = fbdev::Fbdev::open(device).map_err(|fbdev| DisplayError::Auto { kms: e.to_string(), fbdev })?;
                f(&mut screen);
                Ok(())
            }
        },
        #[cfg(not(target_os = "linux"))]
        Backend::Auto { fbdev: device, .. } => {
            let mut screen = fbdev::Fbdev::open(device)?;
            f(&mut screen);
            Ok(())
        }
        #[cfg(not(target_os = "linux"))]
        Backend::Kms(_) => Err(DisplayError::Panel("KMS needs Linux".into())),
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
    /// The width and height scenes are laid out for (the screen's, turned by `display.rotation`).
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
            let mut canvas = Canvas::rotated(w, h, settings.rotation);
            let _ = tx.send(Ok(canvas.layout_size()));
            // The scene on screen, drawn again when an output comes (back).
            let mut last: Option<Frame> = None;
            loop {
                let mut next = thread_slot.take(Duration::from_millis(500));
                if next.is_none() && thread_slot.is_closed() {
                    break;
                }
                if let Some((w, h)) = screen.poll() {
                    if (w, h) != (canvas.width(), canvas.height()) {
                        canvas = Canvas::rotated(w, h, settings.rotation);
                        let (lw, lh) = canvas.layout_size();
                        log::info!("display: the screen is {w}x{h} now; scenes laid out at {lw}x{lh}");
                    }
                    next = next.or_else(|| last.take());
                }
                if let Some(frame) = next {
                    render(&frame.scene, &frame.assets, &mut canvas);
                    if let Err(e) = screen.present(&canvas, frame.scene.name()) {
                        log::warn!("display: {e}");
                    }
                    // While the visitor holds still, the likely match's portraits are loaded.
                    frame.assets.prefetch(&frame.scene);
                    last = Some(frame);
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
