//! PNG backend: the current screen as a PNG file (for the demo, tests and remote support).
//!
//! `present` rewrites the file atomically when the picture changed; with a directory set, each
//! distinct screen is also kept there as `NNNN-<scene>.png`, numbered in order.

use std::path::PathBuf;

use super::canvas::Canvas;
use crate::util::write_atomic;

/// Writes screens to PNG files.
pub struct PngScreen {
    path: PathBuf,
    dir: Option<PathBuf>,
    width: u32,
    height: u32,
    last: Option<Vec<u8>>,
    count: usize,
}

impl PngScreen {
    /// A `width` x `height` screen written to `path` (and every distinct screen into `dir`).
    pub fn new(path: PathBuf, dir: Option<PathBuf>, width: u32, height: u32) -> std::io::Result<PngScreen> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)?;
        }
        Ok(PngScreen { path, dir, width, height, last: None, count: 0 })
    }

    /// The file the current screen goes to.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Encodes and writes the canvas if it differs from the last one. Returns the kept file.
    pub fn present(&mut self, canvas: &Canvas, scene_name: &str) -> std::io::Result<Option<PathBuf>> {
        if self.last.as_deref() == Some(canvas.rgb()) {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgb8(canvas.to_image())
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .map_err(std::io::Error::other)?;
        write_atomic(&self.path, &bytes)?;
        self.last = Some(canvas.rgb().to_vec());
        let mut kept = None;
        if let Some(dir) = &self.dir {
            self.count += 1;
            let file = dir.join(format!("{:04}-{scene_name}.png", self.count));
            write_atomic(&file, &bytes)?;
            kept = Some(file);
        }
        Ok(kept)
    }
}
