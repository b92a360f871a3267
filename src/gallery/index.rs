//! The gallery index (`index.json` in the gallery directory): one embedding per accepted photo.
//!
//! Built by `rolemirror gallery build DIR`. Each photo's embedding is cached under its sha256
//! together with the embedder's id and sha256: an unchanged photo is never embedded twice, a
//! changed photo or another model forces new embeddings. Photos that cannot be trusted (no face,
//! several comparable faces, a face too small) are listed with the reason and left out. The file
//! is written atomically (temporary file, fsync, rename, directory fsync).

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::manifest::{GalleryManifest, RoleModel};
use super::portrait::{self, Prepared};
use crate::util::image;
use crate::util::{sha256_bytes, sha256_file, write_atomic};
use crate::vision::{EmbedderId, Face, Vision};

/// File name of the index inside a gallery directory.
pub const INDEX_FILE: &str = "index.json";
/// Version of the index format.
pub const FORMAT: u32 = 1;

/// Rules for trusting a gallery photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhotoRules {
    /// Smallest distance between the eyes, in photo pixels (the aligned crop has 35).
    pub min_eye_distance: f32,
    /// A second face at least this fraction of the largest face's area makes the photo ambiguous.
    pub ambiguous_area_ratio: f32,
    /// Largest photo decoded, in pixels.
    pub max_pixels: u64,
}

impl Default for PhotoRules {
    fn default() -> Self {
        PhotoRules { min_eye_distance: 24.0, ambiguous_area_ratio: 0.4, max_pixels: image::DEFAULT_MAX_PIXELS }
    }
}

/// One embedded photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoEntry {
    pub role_model: String,
    pub file: String,
    pub sha256: String,
    pub eye_distance: f32,
    /// The face's box in the photo (x, y, w, h), for cropping the portrait shown on screen.
    #[serde(default)]
    pub face: Option<[f32; 4]>,
    pub embedding: Vec<f32>,
    /// Appearance vector (when the embedder has one; see `vision::embed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance: Option<Vec<f32>>,
    /// The card's prepared portrait ([`super::portrait`]): on the first accepted photo of each
    /// role model (the one its card shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portrait: Option<Prepared>,
}

/// A photo left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub role_model: String,
    pub file: String,
    pub reason: String,
}

/// The index file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub format: u32,
    pub embedder: EmbedderId,
    /// sha256 of `gallery.toml` this index was built from.
    pub manifest_sha256: String,
    pub photos: Vec<PhotoEntry>,
    pub rejected: Vec<Rejection>,
}

/// A gallery photo's single trusted face, or why the photo is not used. Not a choice among
/// faces (that is `vision::choose_face` for visitors): a role model's photo with two comparable
/// faces is refused, because either could be the role model.
pub fn trusted_face(faces: &[Face], rules: &PhotoRules) -> Result<Face, String> {
    let Some(first) = faces.first() else {
        return Err("no face found".into());
    };
    if let Some(second) = faces.get(1) {
        if second.area() >= rules.ambiguous_area_ratio * first.area() {
            return Err(format!("{} faces of comparable size: use a photo of the role model alone", faces.len()));
        }
    }
    let eyes = first.eye_distance();
    if eyes < rules.min_eye_distance {
        return Err(format!("face too small to trust: eyes {eyes:.0} px apart, at least {:.0} needed", rules.min_eye_distance));
    }
    Ok(first.clone())
}

/// Outcome of embedding one photo.
pub enum PhotoResult {
    Embedded { eye_distance: f32, face: [f32; 4], embedding: Vec<f32>, appearance: Option<Vec<f32>> },
    Rejected(String),
}

/// Decodes, detects, checks and embeds one photo's bytes.
pub fn embed_photo(vision: &Vision, bytes: &[u8], rules: &PhotoRules) -> PhotoResult {
    match decode_photo(bytes, rules) {
        Ok(img) => embed_decoded(vision, &img, rules),
        Err(why) => PhotoResult::Rejected(why),
    }
}

/// A gallery photo's bytes decoded, or why not.
fn decode_photo(bytes: &[u8], rules: &PhotoRules) -> Result<image::RgbImage, String> {
    if let Some(why) = image::jpeg_truncated(bytes) {
        return Err(why);
    }
    image::decode(bytes, rules.max_pixels).map_err(|e| e.to_string())
}

/// Detects, checks and embeds one decoded photo.
fn embed_decoded(vision: &Vision, img: &image::RgbImage, rules: &PhotoRules) -> PhotoResult {
    let faces = match vision.faces(img) {
        Ok(f) => f,
        Err(e) => return PhotoResult::Rejected(format!("detector failed: {e:#}")),
    };
    let face = match trusted_face(&faces, rules) {
        Ok(f) => f,
        Err(reason) => return PhotoResult::Rejected(reason),
    };
    match vision.describe_face(img, &face) {
        Ok(code) => PhotoResult::Embedded {
            eye_distance: face.eye_distance(),
            face: face.bbox,
            embedding: code.identity,
            appearance: code.appearance,
        },
        Err(e) => PhotoResult::Rejected(format!("embedding failed: {e:#}")),
    }
}

/// What a build did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BuildStats {
    pub embedded: usize,
    pub reused: usize,
    pub rejected: usize,
}

/// Builds the index for the gallery in `dir` with `vision`, reusing cached embeddings from
/// `previous` where photo and embedder are unchanged. `progress` is called once per photo.
/// Problems in the manifest are an error (listing every one); bad photos are rejections.
pub fn build(
    dir: &Path,
    manifest: &GalleryManifest,
    vision: &Vision,
    rules: &PhotoRules,
    previous: Option<&Index>,
    portraits: Portraits,
    mut progress: impl FnMut(&RoleModel, &str),
) -> anyhow::Result<(Index, BuildStats)> {
    let problems = manifest.validate(Some(dir));
    if !problems.is_empty() {
        anyhow::bail!(
            "{}: {} problem(s):\n  {}",
            dir.join(super::manifest::MANIFEST_FILE).display(),
            problems.len(),
            problems.join("\n  ")
        );
    }
    let manifest_sha256 = sha256_file(&dir.join(super::manifest::MANIFEST_FILE))?.0;
    let cache: HashMap<&str, &PhotoEntry> = previous
        .filter(|p| p.embedder == vision.embedder_id && p.format == FORMAT)
        .map(|p| p.photos.iter().map(|e| (e.sha256.as_str(), e)).collect())
        .unwrap_or_default();
    let mut stats = BuildStats::default();
    let mut index =
        Index { format: FORMAT, embedder: vision.embedder_id.clone(), manifest_sha256, photos: Vec::new(), rejected: Vec::new() };
    for rm in &manifest.role_models {
        for photo in &rm.photos {
            progress(rm, photo);
            let path = dir.join(photo);
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    index.rejected.push(Rejection { role_model: rm.id.clone(), file: photo.clone(), reason: format!("cannot read: {e}") });
                    stats.rejected += 1;
                    continue;
                }
            };
            let sha256 = sha256_bytes(&bytes);
            // The card shows the role model's first accepted photo: its portrait is prepared.
            let first = !index.photos.iter().any(|p| p.role_model == rm.id);
            if let Some(cached) = cache.get(sha256.as_str()) {
                let mut entry = PhotoEntry { role_model: rm.id.clone(), file: photo.clone(), sha256, ..(*cached).clone() };
                // A valid portrait is kept; a missing or changed one is made again (not by a check).
                let valid = entry.portrait.take().filter(|p| first && portrait::problem(dir, p).is_none());
                entry.portrait = valid.or_else(|| {
                    (first && portraits == Portraits::Prepare)
                        .then(|| decode_photo(&bytes, rules).ok().and_then(|img| prepared(dir, &entry.sha256, &img, entry.face)))
                        .flatten()
                });
                index.photos.push(entry);
                stats.reused += 1;
                continue;
            }
            let img = match decode_photo(&bytes, rules) {
                Ok(img) => img,
                Err(reason) => {
                    index.rejected.push(Rejection { role_model: rm.id.clone(), file: photo.clone(), reason });
                    stats.rejected += 1;
                    continue;
                }
            };
            match embed_decoded(vision, &img, rules) {
                PhotoResult::Embedded { eye_distance, face, embedding, appearance } => {
                    let portrait = (first && portraits == Portraits::Prepare).then(|| prepared(dir, &sha256, &img, Some(face))).flatten();
                    index.photos.push(PhotoEntry {
                        role_model: rm.id.clone(),
                        file: photo.clone(),
                        sha256,
                        eye_distance,
                        face: Some(face),
                        embedding,
                        appearance,
                        portrait,
                    });
                    stats.embedded += 1;
                }
                PhotoResult::Rejected(reason) => {
                    index.rejected.push(Rejection { role_model: rm.id.clone(), file: photo.clone(), reason });
                    stats.rejected += 1;
                }
            }
        }
    }
    // Portraits of photos replaced or removed go, once every card has its own (on a full disk,
    // where some could not be written, nothing is removed: the space freed would go to
    // whatever asks next, and the old files may be the very ones the next build needs).
    let complete = index.photos.iter().filter(|p| first_of_role_model(&index, p)).all(|p| p.portrait.is_some());
    if portraits == Portraits::Prepare && complete {
        portrait::tidy(dir, index.photos.iter().filter_map(|p| p.portrait.as_ref()));
    }
    Ok((index, stats))
}

/// Is `p` its role model's first accepted photo (the one its card shows)?
fn first_of_role_model(index: &Index, p: &PhotoEntry) -> bool {
    index.photos.iter().find(|q| q.role_model == p.role_model).is_some_and(|q| std::ptr::eq(q, p))
}

/// Whether [`build`] writes the cards' prepared portraits ([`portrait`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Portraits {
    /// Prepared (and written beside the index) where missing or changed.
    Prepare,
    /// Nothing written (a check): valid ones from the previous index are kept.
    Keep,
}

/// The portrait prepared for a card, or none with a warning (the card then shows the photo,
/// cropped when shown): a full or read-only disk does not stop a build.
fn prepared(dir: &Path, sha256: &str, img: &image::RgbImage, face: Option<[f32; 4]>) -> Option<Prepared> {
    match portrait::prepare(dir, sha256, img, face) {
        Ok(p) => Some(p),
        Err(e) => {
            log::warn!("{e:#}: the card shows the photo instead (decoded when shown)");
            None
        }
    }
}

impl Index {
    /// Reads `DIR/index.json`; `Ok(None)` when there is none.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Index>> {
        let path = dir.join(INDEX_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let index: Index = serde_json::from_str(&text)
            .with_context(|| format!("{} is corrupt: run `rolemirror gallery build {}`", path.display(), dir.display()))?;
        // A flipped bit in a number still parses: the checksum catches it (an index written
        // before checksums has none and is read as it is).
        let stored: Checksum = serde_json::from_str(&text).unwrap_or_default();
        if let Some(sum) = stored.checksum {
            if sum != index.checksum()? {
                anyhow::bail!(
                    "{} is corrupt: its content does not match its checksum (a flipped bit or a torn write): run `rolemirror gallery build {}`",
                    path.display(),
                    dir.display()
                );
            }
        }
        Ok(Some(index))
    }

    /// sha256 of the index's compact JSON (without the checksum).
    fn checksum(&self) -> anyhow::Result<String> {
        Ok(sha256_bytes(&serde_json::to_vec(self)?))
    }

    /// Writes `DIR/index.json` atomically, with the checksum of its content.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(INDEX_FILE);
        let plain = serde_json::to_vec(self)?;
        // The checksum is over the JSON as `read` will serialize it again: when a number would
        // not come back identical (it does with serde_json's shortest round-trip output), the
        // index is written without one rather than refused at every start.
        let again = serde_json::from_slice::<Index>(&plain).ok().and_then(|i| serde_json::to_vec(&i).ok());
        let json = if again.as_deref() == Some(plain.as_slice()) {
            serde_json::to_vec(&WithChecksum { index: self, checksum: sha256_bytes(&plain) })?
        } else {
            log::debug!("{}: written without a checksum (its numbers do not round-trip)", path.display());
            plain
        };
        write_atomic(&path, &json).with_context(|| format!("writing {}", path.display()))
    }

    /// Why this index cannot serve matches for `manifest` in `dir` with `embedder`, if it cannot:
    /// another model, an edited manifest, or a photo whose bytes changed.
    pub fn staleness(&self, dir: &Path, embedder: &EmbedderId) -> Option<String> {
        if self.format != FORMAT {
            return Some(format!("index format {} (this build reads {FORMAT})", self.format));
        }
        if self.embedder.id == embedder.id && self.embedder.sha256 == embedder.sha256 && self.embedder.appearance != embedder.appearance {
            return Some(format!(
                "built without the appearance vectors ({:?}) this version matches with",
                embedder.appearance.as_deref().unwrap_or("none")
            ));
        }
        if &self.embedder != embedder {
            return Some(format!(
                "built with model {} ({}), now {} ({})",
                self.embedder.id,
                short(&self.embedder.sha256),
                embedder.id,
                short(&embedder.sha256)
            ));
        }
        match sha256_file(&dir.join(super::manifest::MANIFEST_FILE)) {
            Ok((sum, _)) if sum == self.manifest_sha256 => {}
            Ok(_) => return Some("gallery.toml changed since the index was built".into()),
            Err(e) => return Some(format!("cannot read gallery.toml: {e}")),
        }
        for photo in &self.photos {
            // Only files inside the gallery are opened: a corrupt or crafted index naming
            // `/dev/zero` or `../..` must not make the booth read (or hang on) anything else.
            if !super::manifest::is_contained_relative(&photo.file) {
                return Some(format!("photo {:?} is not a path inside the gallery", photo.file));
            }
            match sha256_file(&dir.join(&photo.file)) {
                Ok((sum, _)) if sum == photo.sha256 => {}
                Ok(_) => return Some(format!("photo {} changed since the index was built", photo.file)),
                Err(e) => return Some(format!("photo {}: {e}", photo.file)),
            }
            if photo.embedding.len() != embedder.dim || photo.embedding.iter().any(|v| !v.is_finite()) {
                return Some(format!("photo {}: embedding is malformed", photo.file));
            }
            let appearance_ok = match (&embedder.appearance, &photo.appearance) {
                (None, _) => true,
                (Some(_), Some(a)) => !a.is_empty() && a.iter().all(|v| v.is_finite()),
                (Some(_), None) => false,
            };
            if !appearance_ok {
                return Some(format!("photo {}: appearance vector missing or malformed", photo.file));
            }
        }
        // Each card's prepared portrait, as recorded (an index from before prepared portraits
        // is rebuilt once: embeddings reused, the portraits made).
        for photo in self.photos.iter().filter(|p| first_of_role_model(self, p)) {
            match &photo.portrait {
                None => return Some(format!("photo {}: no prepared portrait", photo.file)),
                Some(p) => {
                    if let Some(why) = portrait::problem(dir, p) {
                        return Some(why);
                    }
                }
            }
        }
        None
    }
}

/// `index.json` as written: the index and the sha256 of its compact JSON.
#[derive(Serialize)]
struct WithChecksum<'a> {
    #[serde(flatten)]
    index: &'a Index,
    checksum: String,
}

/// The checksum of an `index.json`, if it has one.
#[derive(Default, Deserialize)]
struct Checksum {
    #[serde(default)]
    checksum: Option<String>,
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(w: f32, eyes: f32) -> Face {
        Face { bbox: [0.0, 0.0, w, w], score: 0.9, landmarks: [[0.0, 0.0], [eyes, 0.0], [0.0; 2], [0.0; 2], [0.0; 2]] }
    }

    /// An index whose photo is `/dev/zero` hashed it forever at start (`Gallery::open`), and one
    /// naming `../x` read outside the gallery; both are stale now, before any file is opened.
    #[test]
    fn photos_outside_the_gallery_make_the_index_stale_without_reading_them() {
        let dir = std::env::temp_dir().join(format!("rolemirror-index-paths-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join(super::super::manifest::MANIFEST_FILE), b"x").expect("write");
        let embedder = EmbedderId { id: "m".into(), sha256: "s".into(), dim: 1, appearance: None };
        for file in ["/dev/zero", "../outside.jpg", "", "a/../../b.jpg"] {
            let index = Index {
                format: FORMAT,
                embedder: embedder.clone(),
                manifest_sha256: sha256_bytes(b"x"),
                photos: vec![PhotoEntry {
                    role_model: "a".into(),
                    file: file.into(),
                    sha256: String::new(),
                    eye_distance: 30.0,
                    face: None,
                    embedding: vec![1.0],
                    appearance: None,
                    portrait: None,
                }],
                rejected: vec![],
            };
            let why = index.staleness(&dir, &embedder).expect("stale");
            assert!(why.contains("not a path inside the gallery"), "{file}: {why}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn photo_rules() {
        let rules = PhotoRules::default();
        assert!(trusted_face(&[], &rules).unwrap_err().contains("no face"));
        assert!(trusted_face(&[face(100.0, 40.0)], &rules).is_ok());
        assert!(trusted_face(&[face(100.0, 10.0)], &rules).unwrap_err().contains("too small"));
        assert!(trusted_face(&[face(100.0, 40.0), face(80.0, 30.0)], &rules).unwrap_err().contains("comparable"));
        // A small bystander in the background does not make the photo ambiguous.
        assert!(trusted_face(&[face(100.0, 40.0), face(30.0, 10.0)], &rules).is_ok());
    }
}
