//! KMS backend: a DRM card (`/dev/dri/cardN`: vc4 on a Raspberry Pi, bochs-drm or virtio-gpu in
//! a VM) driven directly, through Smithay's `drm` crate. The only code that knows DRM.
//!
//! - **Output and mode**: the first connected output in its preferred mode, or
//!   `display.connector` / `display.mode` ([`plan::choose`]).
//! - **Tear-free**: two dumb buffers (XRGB8888). A frame is written into the one not on screen,
//!   then a page flip to it is queued; the kernel swaps on the next vertical blank and sends an
//!   event. Before the next frame is written into the other buffer, the display thread waits for
//!   that event with `poll(2)` on the card's file (no busy wait): a buffer is never written
//!   while it is scanned out.
//! - **DRM master**: the first process to open a card becomes its master (the one allowed to set
//!   modes). The booth checks it is, and says so when another program (a desktop) holds it. It
//!   gives it back when the screen closes, and the kernel gives it back if the process dies;
//!   the kernel's console framebuffer then takes the screen again. The console's text stays off
//!   meanwhile because the booth's VT is in graphics mode (`super::console`).
//! - **Hot-plug** by polling the outputs' state ([`plan::Watch`]): a monitor pulled out turns
//!   the screen dark (frames are counted, not flipped), one plugged in (late, again, or another
//!   one) is set up and the last scene drawn again, at its size.
//! - **Counts**: frames presented, flips completed, frames not shown while dark, failed flips
//!   and mode sets ([`plan::Counts`]), logged every ten minutes, on each change and at the end.
//!
//! No GPU on the build machine: the decisions are unit-tested in [`plan`]; this file runs in
//! the system test's guest (bochs-drm / virtio-gpu) and on a Pi.

pub mod plan;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use drm::buffer::{Buffer as _, DrmFourcc};
use drm::control::{
    connector, crtc, dumbbuffer::DumbBuffer, framebuffer, Device as ControlDevice, Event, Mode, ModeTypeFlags, PageFlipFlags,
};
use drm::Device as _;

use super::canvas::Canvas;
use crate::config::KmsSettings;
use plan::{Action, Check, Choice, Counts, Link, ModeInfo, NoOutput, OutputInfo, Watch, Wish};

/// How long a queued page flip may take before the output is taken as lost (a frame is 17 ms
/// at 60 Hz; a flip that has not completed in a second will not).
const FLIP_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a DRM card cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// No `/dev/dri/card*` at all (no KMS driver loaded).
    #[error("no DRM card in /dev/dri (no KMS driver loaded; on a Pi: dtoverlay=vc4-kms-v3d in config.txt)")]
    NoCard,
    /// The card cannot be opened (permissions, or the unit's DeviceAllow).
    #[error("{}: {source} (the booth's user needs the video group; the unit DeviceAllow=char-drm)", path.display())]
    Open { path: PathBuf, source: io::Error },
    /// Not a display card (a render-only card such as the Pi's v3d).
    #[error("{}: not a display card ({source})", path.display())]
    NotKms { path: PathBuf, source: io::Error },
    /// Another program holds the card's DRM master (a desktop, another booth).
    #[error("{}: another program drives this screen (it holds the DRM master: a desktop session? `systemctl set-default multi-user.target` turns it off): {source}", path.display())]
    NotMaster { path: PathBuf, source: io::Error },
    /// Nothing to show on.
    #[error("{}: {why}", path.display())]
    NoOutput { path: PathBuf, why: NoOutput },
    /// A DRM call failed.
    #[error("{}: {what}: {source}", path.display())]
    Io { path: PathBuf, what: &'static str, source: io::Error },
}

/// An open DRM card.
struct Card(File);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl drm::Device for Card {}
impl ControlDevice for Card {}

/// One scan-out buffer: a dumb buffer, its framebuffer object and a mapping kept for its life.
struct ScanBuffer {
    dumb: DumbBuffer,
    fb: framebuffer::Handle,
    map: *mut u8,
    len: usize,
}

// SAFETY: the mapping is owned by the buffer (unmapped in `release`), and only the display
// thread that owns the `Kms` touches it.
unsafe impl Send for ScanBuffer {}

impl ScanBuffer {
    fn new(card: &Card, width: u32, height: u32) -> io::Result<ScanBuffer> {
        let dumb = card.create_dumb_buffer((width, height), DrmFourcc::Xrgb8888, 32)?;
        let fb = match card.add_framebuffer(&dumb, 24, 32) {
            Ok(fb) => fb,
            Err(e) => {
                let _ = card.destroy_dumb_buffer(dumb);
                return Err(e);
            }
        };
        let len = dumb.pitch() as usize * height as usize;
        let mapped = drm_ffi::mode::dumbbuffer::map(card.as_fd(), dumb.handle().into(), 0, 0).and_then(|m| {
            // SAFETY: maps `len` bytes of the dumb buffer at the offset the kernel gave for it,
            // shared and read-write; the result is checked against MAP_FAILED.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    card.as_fd().as_raw_fd(),
                    m.offset as libc::off_t,
                )
            };
            if p == libc::MAP_FAILED {
                Err(io::Error::last_os_error())
            } else {
                Ok(p.cast::<u8>())
            }
        });
        match mapped {
            Ok(map) => Ok(ScanBuffer { dumb, fb, map, len }),
            Err(e) => {
                let _ = card.destroy_framebuffer(fb);
                let _ = card.destroy_dumb_buffer(dumb);
                Err(e)
            }
        }
    }

    fn size(&self) -> (u32, u32) {
        self.dumb.size()
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `map` points to `len` mapped bytes for as long as the buffer lives, and the
        // `&mut self` borrow makes this the only view of them.
        unsafe { std::slice::from_raw_parts_mut(self.map, self.len) }
    }

    fn release(self, card: &Card) {
        // SAFETY: unmaps exactly the mapping made in `new`, once (self is consumed).
        unsafe { libc::munmap(self.map.cast(), self.len) };
        let _ = card.destroy_framebuffer(self.fb);
        let _ = card.destroy_dumb_buffer(self.dumb);
    }
}

/// The output being driven.
struct Output {
    connector: connector::Handle,
    crtc: crtc::Handle,
}

/// What one read of the outputs found: the plan's view and the card's handles beside it.
struct Outputs {
    infos: Vec<OutputInfo>,
    /// Per output: its connector, its modes as the card gives them, the CRTC to use.
    handles: Vec<(connector::Handle, Vec<Mode>, Option<crtc::Handle>)>,
}

/// What a look at the outputs changed for the display thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    /// An output was set (again): draw the last scene again, at this physical size.
    Shown {
        width: u32,
        height: u32,
    },
}

/// An open KMS screen.
pub struct Kms {
    card: Card,
    path: PathBuf,
    wish: Wish,
    watch: Watch,
    clock: Instant,
    last: Option<Outputs>,
    output: Option<Output>,
    buffers: Vec<ScanBuffer>,
    /// The buffer the next frame is written into.
    back: usize,
    flip_pending: bool,
    counts: Counts,
}

fn io_err<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(io::Error) -> KmsError + 'a {
    move |source| KmsError::Io { path: path.to_path_buf(), what, source }
}

/// The DRM cards of this machine, in number order (`card0`, `card1`, …).
pub fn cards() -> Vec<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/dev/dri")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Some((name.strip_prefix("card")?.parse().ok()?, e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

impl Kms {
    /// Opens the configured card, or the first card with an output to show on; takes the DRM
    /// master and sets the output's mode. An explicit card with nothing connected is an error
    /// ([`KmsError::NoOutput`]): the service screen says so and the booth tries again.
    pub fn open(settings: &KmsSettings) -> Result<Kms, KmsError> {
        let wish = Wish { connector: settings.connector.clone(), mode: settings.mode.map(|s| s.pair()) };
        if let Some(path) = &settings.device {
            return Kms::open_card(path, &wish);
        }
        let mut first_error = None;
        for path in cards() {
            match Kms::open_card(&path, &wish) {
                Ok(kms) => return Ok(kms),
                Err(e) => {
                    log::debug!("display: kms: {e}");
                    // The most telling error: one about outputs beats a render-only card.
                    let telling = matches!(e, KmsError::NoOutput { why: NoOutput::NoOutputs, .. } | KmsError::NotKms { .. });
                    if first_error.is_none() || !telling {
                        first_error = Some(e);
                    }
                }
            }
        }
        Err(first_error.unwrap_or(KmsError::NoCard))
    }

    fn open_card(path: &Path, wish: &Wish) -> Result<Kms, KmsError> {
        let file =
            OpenOptions::new().read(true).write(true).open(path).map_err(|source| KmsError::Open { path: path.to_path_buf(), source })?;
        let card = Card(file);
        card.resource_handles().map_err(|source| KmsError::NotKms { path: path.to_path_buf(), source })?;
        // Already master when we were the first to open it; refused when another program is.
        card.acquire_master_lock().map_err(|source| KmsError::NotMaster { path: path.to_path_buf(), source })?;
        let clock = Instant::now();
        let mut kms = Kms {
            card,
            path: path.to_path_buf(),
            wish: wish.clone(),
            watch: Watch::new(0.0),
            clock,
            last: None,
            output: None,
            buffers: Vec::new(),
            back: 0,
            flip_pending: false,
            counts: Counts::default(),
        };
        let outputs = kms.read_outputs(true)?;
        let choice = plan::choose(&outputs.infos, wish).map_err(|why| KmsError::NoOutput { path: path.to_path_buf(), why })?;
        kms.last = Some(outputs);
        kms.set(choice)?;
        Ok(kms)
    }

    fn now(&self) -> f64 {
        self.clock.elapsed().as_secs_f64()
    }

    /// Reads every output (`force`: a full probe, else the kernel's cached state).
    fn read_outputs(&self, force: bool) -> Result<Outputs, KmsError> {
        let res = self.card.resource_handles().map_err(io_err(&self.path, "reading the card's resources"))?;
        let mut outputs = Outputs { infos: Vec::new(), handles: Vec::new() };
        for &handle in res.connectors() {
            let Ok(info) = self.card.get_connector(handle, force) else { continue };
            let link = match info.state() {
                connector::State::Connected => Link::Connected,
                connector::State::Disconnected => Link::Disconnected,
                connector::State::Unknown => Link::Unknown,
            };
            // The CRTC its current encoder drives, else the first one any of its encoders can.
            let current = info.current_encoder().and_then(|e| self.card.get_encoder(e).ok()).and_then(|e| e.crtc());
            let possible =
                info.encoders().iter().filter_map(|e| self.card.get_encoder(*e).ok()).flat_map(|e| res.filter_crtcs(e.possible_crtcs()));
            let crtc = current.or_else(|| possible.into_iter().next());
            let modes: Vec<Mode> = info.modes().to_vec();
            outputs.infos.push(OutputInfo {
                name: info.to_string(),
                link,
                modes: modes
                    .iter()
                    .map(|m| ModeInfo {
                        width: u32::from(m.size().0),
                        height: u32::from(m.size().1),
                        refresh: m.vrefresh(),
                        preferred: m.mode_type().contains(ModeTypeFlags::PREFERRED),
                    })
                    .collect(),
                has_crtc: crtc.is_some(),
            });
            outputs.handles.push((handle, modes, crtc));
        }
        Ok(outputs)
    }

    /// Sets the chosen output and mode: new buffers when the size changed, the mode set with the
    /// front buffer (it holds the last frame, or black).
    fn set(&mut self, choice: Choice) -> Result<(), KmsError> {
        let Some((connector, modes, Some(crtc))) = self.last.as_ref().and_then(|o| o.handles.get(choice.output)).cloned() else {
            return Err(KmsError::NoOutput { path: self.path.clone(), why: NoOutput::NoOutputs });
        };
        let Some(mode) = modes.get(choice.mode).copied() else {
            return Err(KmsError::NoOutput { path: self.path.clone(), why: NoOutput::NoOutputs });
        };
        self.settle_flip();
        let size = (choice.width, choice.height);
        if self.buffers.len() != 2 || self.buffers[0].size() != size {
            for b in self.buffers.drain(..) {
                b.release(&self.card);
            }
            for _ in 0..2 {
                let b = ScanBuffer::new(&self.card, size.0, size.1).map_err(io_err(&self.path, "creating a scan-out buffer"))?;
                self.buffers.push(b);
            }
            self.back = 1;
        }
        let front = self.buffers[1 - self.back].fb;
        self.card.set_crtc(crtc, Some(front), (0, 0), &[connector], Some(mode)).map_err(io_err(&self.path, "setting the mode"))?;
        if let Some(note) = &choice.note {
            log::warn!("display: kms: {note}");
        }
        log::info!("display: kms: {} on {}: showing (page flips on vblank)", choice.describe(), self.path.display());
        crate::events::emit(
            "display_connected",
            &[("output", choice.name.clone()), ("mode", format!("{}x{}@{}", choice.width, choice.height, choice.refresh))],
        );
        self.counts.modesets += 1;
        self.output = Some(Output { connector, crtc });
        let now = self.now();
        self.watch.shown(now, choice);
        Ok(())
    }

    /// The physical size of the mode shown (or of the last one, while dark).
    pub fn size(&self) -> (u32, u32) {
        self.buffers.first().map_or((0, 0), ScanBuffer::size)
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Writes the canvas into the buffer not on screen and queues a flip to it. While dark the
    /// frame is counted and dropped. Waits first for the previous flip (at most one frame).
    pub fn present(&mut self, canvas: &Canvas) {
        let Some(output) = &self.output else {
            self.counts.dark += 1;
            return;
        };
        let crtc = output.crtc;
        if self.flip_pending && !self.wait_flip(FLIP_TIMEOUT) {
            self.lost("page flip not completed within 1 s".into());
            self.counts.dark += 1;
            return;
        }
        let pitch = self.buffers[self.back].dumb.pitch() as usize;
        let back = &mut self.buffers[self.back];
        canvas.write_xrgb8888(back.bytes(), pitch);
        let fb = back.fb;
        self.counts.presented += 1;
        match self.card.page_flip(crtc, fb, PageFlipFlags::EVENT, None) {
            Ok(()) => {
                self.flip_pending = true;
                self.back = 1 - self.back;
            }
            Err(e) => {
                // Shown all the same by a mode set (it may tear); counted as failed.
                self.counts.failed += 1;
                log::warn!("display: kms: page flip refused ({e}); setting the frame directly");
                let shown = self.output.as_ref().map(|o| (o.connector, o.crtc));
                let mode = self.card.get_crtc(crtc).ok().and_then(|c| c.mode());
                if let (Some((connector, crtc)), Some(mode)) = (shown, mode) {
                    if self.card.set_crtc(crtc, Some(fb), (0, 0), &[connector], Some(mode)).is_ok() {
                        self.back = 1 - self.back;
                        return;
                    }
                }
                self.lost(format!("page flip refused: {e}"));
            }
        }
    }

    /// Waits up to `timeout` for the queued flip's event on the card's file; false if it did
    /// not come.
    fn wait_flip(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.flip_pending {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut fd = libc::pollfd { fd: self.card.as_fd().as_raw_fd(), events: libc::POLLIN, revents: 0 };
            let ms = i32::try_from(left.as_millis() + 1).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut fd, 1, ms) };
            if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return false;
            }
            if n <= 0 {
                continue;
            }
            match self.card.receive_events() {
                Ok(events) => {
                    for event in events {
                        if let Event::PageFlip(_) = event {
                            self.flip_pending = false;
                            self.counts.flipped += 1;
                        }
                    }
                }
                Err(e) => {
                    log::warn!("display: kms: reading the card's events: {e}");
                    return false;
                }
            }
        }
        true
    }

    /// A queued flip settled (completed, or given up after [`FLIP_TIMEOUT`]).
    fn settle_flip(&mut self) {
        if self.flip_pending && !self.wait_flip(FLIP_TIMEOUT) {
            self.flip_pending = false;
            self.counts.failed += 1;
        }
    }

    fn lost(&mut self, why: String) {
        let now = self.now();
        let action = self.watch.failed(now, why);
        self.apply(action);
    }

    fn apply(&mut self, action: Action) -> Change {
        match action {
            Action::Dark(why) => {
                if self.output.take().is_some() {
                    log::warn!("display: kms: {why}: screen dark until an output is connected ({})", self.counts.line());
                    crate::events::emit("display_lost", &[("reason", why)]);
                } else {
                    log::warn!("display: kms: {why} (looking again every {} s)", Watch::FULL_EVERY);
                }
                self.flip_pending = false;
                Change::None
            }
            Action::Show(choice) => match self.set(choice) {
                Ok(()) => {
                    let (width, height) = self.size();
                    Change::Shown { width, height }
                }
                Err(e) => {
                    let now = self.now();
                    let action = self.watch.failed(now, e.to_string());
                    self.apply(action)
                }
            },
        }
    }

    /// Looks at the outputs when a check is due (a cheap read while showing, a full probe while
    /// dark), and logs the counts when due.
    pub fn poll(&mut self) -> Change {
        let now = self.now();
        if self.output.is_some() && self.watch.log_due(now) {
            log::info!("display: kms: {}", self.counts.line());
        }
        let Some(check) = self.watch.due(now) else { return Change::None };
        match self.read_outputs(check == Check::Full) {
            Ok(outputs) => {
                let action = self.watch.seen(now, check, &outputs.infos, &self.wish);
                self.last = Some(outputs);
                action.map_or(Change::None, |a| self.apply(a))
            }
            Err(e) => {
                let action = self.watch.failed(now, e.to_string());
                self.apply(action)
            }
        }
    }

    /// Black on screen (on shutdown), shown before returning.
    pub fn blank(&mut self) {
        let (w, h) = self.size();
        self.present(&Canvas::new(w, h));
        self.settle_flip();
    }
}

impl Drop for Kms {
    fn drop(&mut self) {
        self.settle_flip();
        log::info!("display: kms: closing {}: {}", self.path.display(), self.counts.line());
        for b in self.buffers.drain(..) {
            b.release(&self.card);
        }
        // Given back explicitly (closing the file would too); the kernel's console takes over.
        let _ = self.card.release_master_lock();
    }
}
