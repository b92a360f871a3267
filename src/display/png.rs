//! PNG backend: the current screen as a PNG file (for the demo, tests and remote support).
//!
//! `present` rewrites the file atomically when the picture changed; with a directory set, each
//! distinct screen is also kept there as `NNNN-<scene>.png`, numbered in order. The canvas is
//! encoded as it is, straight into the file (no copy of a 6 MB 1920x1080 picture, nor of the
//! compressed file, per frame), and the last screen is
//! remembered by a hash of its pixels, not a copy.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use super::canvas::Canvas;
use crate::util::write_atomic_with;

/// Writes screens to PNG files.
pub struct PngScreen {
    path: PathBuf,
    dir: Option<PathBuf>,
    width: u32,
    height: u32,
    /// A hash of the last screen's pixels (SipHash, 64 bits).
    last: Option<u64>,
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
        let hash = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            canvas.rgb().hash(&mut h);
            h.finish()
        };
        if self.last == Some(hash) {
            return Ok(None);
        }
        write_atomic_with(&self.path, |f| encode(canvas, f))?;
        self.last = Some(hash);
        let mut kept = None;
        if let Some(dir) = &self.dir {
            self.count += 1;
            let file = dir.join(format!("{:04}-{scene_name}.png", self.count));
            // The file just written, under a second name (its own inode: the next screen
            // replaces `path` by a rename), or a copy where the two folders are apart.
            let _ = std::fs::remove_file(&file);
            if std::fs::hard_link(&self.path, &file).is_err() {
                write_atomic_with(&file, |f| encode(canvas, f))?;
            }
            kept = Some(file);
        }
        Ok(kept)
    }
}

/// Encodes the canvas as a PNG into `out` as it goes (zlib's own window and 64 KiB chunks in
/// memory, not the whole compressed picture: `image`'s encoder collects it all first).
fn encode(canvas: &Canvas, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let mut encoder = png::Encoder::new(out, canvas.width(), canvas.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    let mut stream = writer.stream_writer_with_size(64 << 10).map_err(std::io::Error::other)?;
    std::io::Write::write_all(&mut stream, canvas.rgb())?;
    stream.finish().map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::Rgb888;
    use embedded_graphics::prelude::*;

    #[test]
    fn each_distinct_screen_is_written_once_as_drawn() {
        let dir = std::env::temp_dir().join(format!("rolemirror-png-screen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut screen = PngScreen::new(dir.join("screen.png"), Some(dir.join("kept")), 7, 5).expect("screen");
        let mut canvas = Canvas::new(7, 5);
        Pixel(Point::new(3, 2), Rgb888::new(200, 10, 30)).draw(&mut canvas).expect("draw");
        let first = screen.present(&canvas, "attract").expect("written").expect("kept");
        assert_eq!(first.file_name().and_then(|n| n.to_str()), Some("0001-attract.png"));
        let written = image::open(dir.join("screen.png")).expect("decodes").to_rgb8();
        assert_eq!(written, canvas.to_image());
        let first_picture = written;
        // The same picture again: nothing written.
        assert_eq!(screen.present(&canvas, "attract").expect("ok"), None);
        // One pixel changed: a new screen.
        Pixel(Point::new(0, 0), Rgb888::new(1, 1, 1)).draw(&mut canvas).expect("draw");
        let second = screen.present(&canvas, "result").expect("written").expect("kept");
        assert_eq!(second.file_name().and_then(|n| n.to_str()), Some("0002-result.png"));
        assert_eq!(image::open(&second).expect("decodes").to_rgb8(), canvas.to_image());
        assert_eq!(image::open(dir.join("screen.png")).expect("decodes").to_rgb8(), canvas.to_image());
        // The kept first screen is still the first picture (its own file, not the current one).
        assert_eq!(image::open(&first).expect("decodes").to_rgb8(), first_picture);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
