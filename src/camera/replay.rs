//! Replay camera: images from a folder (sorted by name) or a list file, at a fixed rate.
//!
//! A folder that disappears behaves like an unplugged camera (`Gone`), a file that does not
//! decode like a garbage frame (`BadFrame`); so tests exercise the booth's recovery paths with
//! real files. Frames carry the file name as their label (for the demo's per-visitor events).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{CameraError, Frame, FrameSource};
use crate::util::image;

/// Image file endings the replay source picks up from a folder.
const EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

/// The replay source.
pub struct Replay {
    spec: PathBuf,
    files: Vec<PathBuf>,
    pos: usize,
    interval: Duration,
    looping: bool,
    next_due: Instant,
    seq: u64,
}

/// Lists the images of a folder (sorted) or of a list file (one path per line, relative to the
/// file's folder; blank lines and `#` comments skipped).
pub fn list_images(spec: &Path) -> Result<Vec<PathBuf>, CameraError> {
    let gone = |e: std::io::Error| CameraError::Gone(format!("{}: {e}", spec.display()));
    let files: Vec<PathBuf> = if spec.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(spec)
            .map_err(gone)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())))
            .collect();
        v.sort();
        v
    } else {
        let text = std::fs::read_to_string(spec).map_err(gone)?;
        let base = spec.parent().unwrap_or(Path::new("."));
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(|l| base.join(l)).collect()
    };
    if files.is_empty() {
        return Err(CameraError::Gone(format!("{}: no images", spec.display())));
    }
    Ok(files)
}

impl Replay {
    /// Opens the folder or list of images at `spec`, for `fps` frames a second, once or looping.
    pub fn new(spec: &Path, fps: f32, looping: bool) -> Result<Replay, CameraError> {
        let spec = spec.to_path_buf();
        let files = list_images(&spec)?;
        Ok(Replay {
            spec,
            files,
            pos: 0,
            interval: Duration::from_secs_f32(1.0 / fps.max(0.01)),
            looping,
            next_due: Instant::now(),
            seq: 0,
        })
    }
}

impl FrameSource for Replay {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        if self.pos >= self.files.len() {
            if !self.looping {
                return Err(CameraError::End);
            }
            self.pos = 0;
        }
        let wait = self.next_due.saturating_duration_since(Instant::now());
        std::thread::sleep(wait);
        self.next_due = Instant::now().max(self.next_due) + self.interval;
        let path = self.files[self.pos].clone();
        self.pos += 1;
        if !self.spec.exists() {
            return Err(CameraError::Gone(format!("{} went away", self.spec.display())));
        }
        let image = match image::load(&path, image::DEFAULT_MAX_PIXELS) {
            Ok(img) => img,
            Err(image::ImageError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CameraError::Gone(format!("{}: {e}", path.display())));
            }
            Err(e) => return Err(CameraError::BadFrame(format!("{}: {e}", path.display()))),
        };
        self.seq += 1;
        let label = path.file_name().map(|n| n.to_string_lossy().into_owned());
        Ok(Frame { image: Arc::new(image), seq: self.seq, label })
    }

    fn describe(&self) -> String {
        format!("replay {} ({} images)", self.spec.display(), self.files.len())
    }

    /// Played once, a replay is a recording: every frame is analysed.
    fn lossless(&self) -> bool {
        !self.looping
    }
}
