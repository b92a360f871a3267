//! Demo data: the demo gallery and visitor frames, assembled from a local data mirror.
//!
//! `models/demo.toml` (compiled in) lists the photos with their sha256. [`fetch`] copies them
//! from a mirror laid out like `../shared/data`, verifies each checksum, and writes
//! `OUT/gallery/` (a gallery manifest with neutral names and placeholder texts, never the real
//! name of the person pictured, plus the photos) and `OUT/visitors/`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::gallery::manifest::{GalleryManifest, RoleModel, MANIFEST_FILE};
use crate::util::{sha256_file, write_atomic};

/// The demo data list shipped with this binary.
pub const DEMO_TOML: &str = include_str!("../../models/demo.toml");

/// A demo role model: one photo.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoRoleModel {
    pub id: String,
    pub photo: String,
    pub sha256: String,
}

/// A demo visitor frame, with the role model it should match when that person is in the gallery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoVisitor {
    pub photo: String,
    pub sha256: String,
    pub expect: Option<String>,
}

/// The parsed demo list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoData {
    #[serde(rename = "role_model")]
    pub role_models: Vec<DemoRoleModel>,
    #[serde(rename = "visitor")]
    pub visitors: Vec<DemoVisitor>,
}

impl DemoData {
    /// The list compiled into this binary.
    pub fn builtin() -> anyhow::Result<DemoData> {
        Ok(toml::from_str(DEMO_TOML)?)
    }

    /// The gallery manifest of the demo: neutral names and placeholder texts.
    pub fn gallery_manifest(&self) -> GalleryManifest {
        let role_models = self
            .role_models
            .iter()
            .enumerate()
            .map(|(i, rm)| RoleModel {
                id: rm.id.clone(),
                name: format!("Demo role model {:02}", i + 1),
                role: "Placeholder role".into(),
                branch: "Placeholder branch".into(),
                quote: "Placeholder quote: a real gallery shows the role model's own words here.".into(),
                story_url: format!("https://example.org/rolemirror/stories/{}", rm.id),
                photos: vec![flat_name(&rm.photo)],
                declared: None,
            })
            .collect();
        GalleryManifest { role_models }
    }
}

/// File name used in the demo folders for a mirror path (`faces-small/img1.jpg` → `img1.jpg`).
pub fn flat_name(photo: &str) -> String {
    Path::new(photo).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| photo.replace('/', "_"))
}

fn copy_verified(mirror: &Path, photo: &str, sha256: &str, dest: &Path) -> anyhow::Result<()> {
    if dest.is_file() && sha256_file(dest)?.0 == sha256 {
        return Ok(());
    }
    let src = mirror.join(photo);
    let (actual, _) = sha256_file(&src).with_context(|| format!("{} (is --data-mirror right?)", src.display()))?;
    if actual != sha256 {
        bail!("{} has sha256 {actual}, expected {sha256}: refused", src.display());
    }
    let bytes = std::fs::read(&src)?;
    write_atomic(dest, &bytes).with_context(|| format!("writing {}", dest.display()))
}

/// Copies the demo photos from `mirror` into `out/gallery` and `out/visitors`, writing the demo
/// gallery manifest. Returns the gallery directory.
pub fn fetch(mirror: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let data = DemoData::builtin()?;
    let gallery = out.join("gallery");
    let visitors = out.join("visitors");
    std::fs::create_dir_all(&gallery).with_context(|| format!("creating {}", gallery.display()))?;
    std::fs::create_dir_all(&visitors).with_context(|| format!("creating {}", visitors.display()))?;
    for rm in &data.role_models {
        copy_verified(mirror, &rm.photo, &rm.sha256, &gallery.join(flat_name(&rm.photo)))?;
    }
    for v in &data.visitors {
        copy_verified(mirror, &v.photo, &v.sha256, &visitors.join(flat_name(&v.photo)))?;
    }
    let manifest = toml::to_string(&data.gallery_manifest())?;
    let text = format!("# Demo gallery written by `rolemirror demo fetch`; placeholder texts, neutral names.\n\n{manifest}");
    let path = gallery.join(MANIFEST_FILE);
    let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == text);
    if !unchanged {
        write_atomic(&path, text.as_bytes())?;
    }
    Ok(gallery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_list_is_consistent() {
        let d = DemoData::builtin().expect("parses");
        assert_eq!(d.role_models.len(), 12);
        let m = d.gallery_manifest();
        assert!(m.validate(None).is_empty(), "{:?}", m.validate(None));
        for v in &d.visitors {
            if let Some(e) = &v.expect {
                assert!(d.role_models.iter().any(|r| &r.id == e), "{e}");
            }
        }
        // Neutral names only.
        assert!(m.role_models.iter().all(|r| r.name.starts_with("Demo role model")));
    }
}
