//! Prepared portraits: each role model's card picture, cropped and sized when the index is built
//! (`rolemirror gallery build`, a booth's own rebuild, a USB import) and stored beside the index
//! in [`DIR`], so that showing a result decodes a small JPEG instead of the gallery photo.
//!
//! The gallery photo behind a card is often a 2–12 megapixel camera JPEG: decoding and cropping
//! it took 33–77 ms here (0.3–0.6 s on a Pi 4), at the moment a visitor waits for their match.
//! A prepared portrait is the same 3:4 crop around the face ([`crop`], at most
//! [`MAX_SIZE`]) as a JPEG of ~50–100 KB, named after the photo's sha256 and recorded in the
//! index with its own sha256: a portrait is used only when its bytes are the ones recorded
//! (otherwise the card falls back to the photo, and the index is stale, so the next start
//! rebuilds the portrait).
//!
//! Each portrait also has a small copy ([`SMALL_SIZE`], ~20 KB) for the further look-alikes'
//! thumbnails, so a result card decodes one portrait and a few small ones (at 1080p: ~4 ms
//! instead of ~11 for four full-size ones).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::util::image::{self, RgbImage};
use crate::util::{sha256_bytes, write_atomic};

/// The folder beside `index.json`, inside the gallery directory.
pub const DIR: &str = "index-portraits";

/// The largest portrait (width, height): a 3:4 crop, the photo box of a 1080p result card.
pub const MAX_SIZE: (u32, u32) = (600, 800);

/// The largest small copy (width, height): the look-alikes' thumbnails are at most ~170 px wide
/// on every layout (1080p landscape 162x216, 1080x1920 portrait ~145x195).
pub const SMALL_SIZE: (u32, u32) = (240, 320);

/// JPEG quality of a prepared portrait (no visible loss at its size on a screen).
const QUALITY: u8 = 90;

/// A prepared portrait in the index: its file (relative to the gallery directory) and sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    pub file: String,
    pub sha256: String,
    /// Its small copy (absent in indexes from before small copies: such a portrait is not
    /// usable as recorded, so the index is stale and rebuilt once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub small: Option<Small>,
}

/// A portrait's small copy: its file and sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Small {
    pub file: String,
    pub sha256: String,
}

/// A 3:4 portrait crop around a face box (x, y, w, h in photo pixels; none: the middle),
/// resized to fit [`MAX_SIZE`] (never enlarged).
pub fn crop(img: &RgbImage, face: Option<[f32; 4]>) -> RgbImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (cx, cy, fw) = match face {
        Some(b) if b[2] > 0.0 => (b[0] + b[2] / 2.0, b[1] + b[3] / 2.0, b[2]),
        _ => (w / 2.0, h / 2.0, w / 2.0),
    };
    let mut cw = (fw * 2.2).min(w).min(h * 0.75);
    let mut ch = cw * 4.0 / 3.0;
    if ch > h {
        ch = h;
        cw = ch * 0.75;
    }
    let x0 = (cx - cw / 2.0).clamp(0.0, (w - cw).max(0.0));
    let y0 = (cy - ch * 0.45).clamp(0.0, (h - ch).max(0.0));
    let region = image::Region {
        x: x0 as u32,
        y: y0 as u32,
        width: (cw.max(1.0) as u32).min(img.width()),
        height: (ch.max(1.0) as u32).min(img.height()),
    };
    let (mw, mh) = (MAX_SIZE.0 as f32, MAX_SIZE.1 as f32);
    let scale = (mw / region.width as f32).min(mh / region.height as f32).min(1.0);
    let (dw, dh) = (((region.width as f32 * scale) as u32).max(1), ((region.height as f32 * scale) as u32).max(1));
    image::resize_region(img, region, dw, dh)
}

/// The portrait's file for a photo with this sha256, relative to the gallery directory.
pub fn file_for(photo_sha256: &str) -> String {
    format!("{DIR}/{}.jpg", &photo_sha256[..photo_sha256.len().min(32)])
}

/// The small copy's file for a photo with this sha256.
pub fn small_file_for(photo_sha256: &str) -> String {
    format!("{DIR}/{}.small.jpg", &photo_sha256[..photo_sha256.len().min(32)])
}

/// Encodes `img` as a JPEG and writes it as `file` in `dir` (atomically); returns its sha256.
/// Chroma at half resolution (4:2:0, as cameras write photos): the `image` crate's encoder
/// keeps it whole (4:4:4), which made each decode for the result card ~1.5x the work.
fn write_jpeg(dir: &Path, file: &str, img: &RgbImage) -> anyhow::Result<String> {
    let (w, h) = (u16::try_from(img.width()), u16::try_from(img.height()));
    let (Ok(w), Ok(h)) = (w, h) else { anyhow::bail!("a portrait of {}x{} is too large for a JPEG", img.width(), img.height()) };
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, QUALITY);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder.encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb).context("encoding the portrait")?;
    let path = dir.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    write_atomic(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(sha256_bytes(&bytes))
}

/// Crops `img` around `face`, writes it as `file_for(photo_sha256)` in `dir` and its small copy
/// as `small_file_for(photo_sha256)` (atomically) and returns its index entry.
pub fn prepare(dir: &Path, photo_sha256: &str, img: &RgbImage, face: Option<[f32; 4]>) -> anyhow::Result<Prepared> {
    let portrait = crop(img, face);
    let file = file_for(photo_sha256);
    let sha256 = write_jpeg(dir, &file, &portrait)?;
    let (w, h) = (portrait.width() as f32, portrait.height() as f32);
    let scale = (SMALL_SIZE.0 as f32 / w).min(SMALL_SIZE.1 as f32 / h).min(1.0);
    let small = image::resize(&portrait, ((w * scale) as u32).max(1), ((h * scale) as u32).max(1));
    let small_file = small_file_for(photo_sha256);
    let small_sha256 = write_jpeg(dir, &small_file, &small)?;
    Ok(Prepared { file, sha256, small: Some(Small { file: small_file, sha256: small_sha256 }) })
}

/// Removes the files in `dir`'s [`DIR`] that `keep` (index entries) does not name: portraits of
/// photos replaced or removed. Best effort (a file that cannot be removed only takes space).
pub fn tidy<'a>(dir: &Path, keep: impl IntoIterator<Item = &'a Prepared>) {
    let keep: Vec<&str> =
        keep.into_iter().flat_map(|p| std::iter::once(p.file.as_str()).chain(p.small.as_ref().map(|s| s.file.as_str()))).collect();
    let Ok(entries) = std::fs::read_dir(dir.join(DIR)) else { return };
    for e in entries.flatten() {
        let name = format!("{DIR}/{}", e.file_name().to_string_lossy());
        if !keep.contains(&name.as_str()) && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Why the prepared portrait is not usable as recorded (missing, changed, not inside the
/// gallery), if it is not. Reads the file (~50–100 KB).
pub fn problem(dir: &Path, p: &Prepared) -> Option<String> {
    let small = match &p.small {
        None => Err(anyhow::anyhow!("portrait {} has no small copy", p.file)),
        Some(s) => read_checked(dir, &s.file, &s.sha256).map(drop),
    };
    match read_checked(dir, &p.file, &p.sha256).map(drop).and(small) {
        Ok(()) => None,
        Err(e) => Some(format!("{e:#}")),
    }
}

/// The prepared portrait, decoded, when its bytes are the ones recorded.
pub fn load(dir: &Path, p: &Prepared) -> anyhow::Result<RgbImage> {
    let (path, bytes) = read_checked(dir, &p.file, &p.sha256)?;
    image::decode(&bytes, u64::from(MAX_SIZE.0) * u64::from(MAX_SIZE.1)).with_context(|| format!("portrait {}", path.display()))
}

/// The portrait's small copy, decoded, when it is recorded and its bytes are the ones recorded.
pub fn load_small(dir: &Path, p: &Prepared) -> anyhow::Result<RgbImage> {
    let s = p.small.as_ref().with_context(|| format!("portrait {} has no small copy", p.file))?;
    let (path, bytes) = read_checked(dir, &s.file, &s.sha256)?;
    image::decode(&bytes, u64::from(SMALL_SIZE.0) * u64::from(SMALL_SIZE.1)).with_context(|| format!("portrait {}", path.display()))
}

fn read_checked(dir: &Path, file: &str, sha256: &str) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    // Only files inside the portraits folder: a crafted index must not make the booth read
    // anything else.
    let inside = file
        .strip_prefix(DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') && !name.starts_with('.'));
    if !inside {
        anyhow::bail!("portrait {file:?} is not a file in {DIR}/");
    }
    let path = dir.join(file);
    let bytes = std::fs::read(&path).with_context(|| format!("portrait {}", path.display()))?;
    if sha256_bytes(&bytes) != sha256 {
        anyhow::bail!("portrait {file} changed since the index was built");
    }
    Ok((path, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder removed when the test ends.
    struct Scratch(PathBuf);
    impl Scratch {
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn photo(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| ::image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8]))
    }

    #[test]
    fn crops_three_by_four_around_the_face_within_the_largest_size() {
        // A 4000x3000 camera photo with a 400 px face: a 3:4 crop, scaled to fit 600x800.
        let p = crop(&photo(4000, 3000), Some([1800.0, 1000.0, 400.0, 500.0]));
        assert!(p.width() == 600 && (799..=800).contains(&p.height()), "{:?}", p.dimensions());
        // A small photo is not enlarged; no face: the middle.
        let p = crop(&photo(300, 200), None);
        assert_eq!(p.dimensions(), (150, 200));
        // A face at the edge: the crop stays inside the photo.
        let p = crop(&photo(1000, 1000), Some([950.0, 950.0, 50.0, 50.0]));
        assert!(p.width() <= 600 && p.height() <= 800 && p.width() > 0);
    }

    #[test]
    fn a_portrait_is_used_only_with_the_bytes_recorded() {
        let dir = std::env::temp_dir().join(format!("rm-portrait-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let dir = Scratch(dir);
        let sha = "ab".repeat(32);
        let p = prepare(dir.path(), &sha, &photo(900, 1200), Some([300.0, 300.0, 300.0, 400.0])).expect("prepared");
        assert_eq!(p.file, format!("{DIR}/{}.jpg", "ab".repeat(16)));
        assert_eq!(problem(dir.path(), &p), None);
        let img = load(dir.path(), &p).expect("loads");
        assert_eq!(img.dimensions(), (600, 800));
        // Its small copy: the same picture at 240x320.
        let small = load_small(dir.path(), &p).expect("small copy");
        assert_eq!(small.dimensions(), (240, 320));
        let again = crate::util::image::resize(&img, 240, 320);
        let diff =
            small.as_raw().iter().zip(again.as_raw()).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / small.as_raw().len() as f64;
        assert!(diff < 4.0, "small copy {diff:.2} levels from the portrait scaled down");
        // Tidying keeps both files and removes others.
        std::fs::write(dir.path().join(DIR).join("old.jpg"), b"x").expect("write");
        tidy(dir.path(), [&p]);
        assert_eq!(std::fs::read_dir(dir.path().join(DIR)).expect("dir").count(), 2);
        // A changed or missing small copy makes the portrait unusable as recorded; an entry
        // without one (an index from before small copies) too.
        let small_file = p.small.clone().expect("small").file;
        let bytes = std::fs::read(dir.path().join(&small_file)).expect("read");
        std::fs::write(dir.path().join(&small_file), b"changed").expect("write");
        assert!(problem(dir.path(), &p).expect("refused").contains("changed since the index was built"));
        assert!(load_small(dir.path(), &p).is_err());
        std::fs::write(dir.path().join(&small_file), bytes).expect("write");
        let older = Prepared { small: None, ..p.clone() };
        assert!(problem(dir.path(), &older).expect("refused").contains("has no small copy"));
        assert!(load(dir.path(), &older).is_ok() && load_small(dir.path(), &older).is_err());
        // A changed file is refused, naming it.
        std::fs::write(dir.path().join(&p.file), b"not a jpeg").expect("write");
        let why = problem(dir.path(), &p).expect("refused");
        assert!(why.contains("changed since the index was built"), "{why}");
        assert!(load(dir.path(), &p).is_err());
        // A missing one, and one outside the folder.
        std::fs::remove_file(dir.path().join(&p.file)).expect("rm");
        assert!(problem(dir.path(), &p).expect("missing").contains(&p.file));
        for file in ["../gallery.toml", "index-portraits/../x.jpg", "/etc/passwd", "index-portraits/", "index-portraits/.hidden"] {
            let bad = Prepared { file: file.into(), ..p.clone() };
            assert!(problem(dir.path(), &bad).expect("refused").contains("is not a file in"), "{file}");
        }
    }
}
