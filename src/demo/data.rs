//! Demo data: the demo gallery and visitor frames, assembled from a local data mirror.
//!
//! `models/demo.toml` (compiled in) lists the photos with their sha256. [`fetch`] copies them
//! from a mirror laid out like `../shared/data`, verifies each checksum, and writes
//! `OUT/gallery/` (a gallery manifest with neutral names and placeholder texts, never the real
//! name of the person pictured, plus the photos) and `OUT/visitors/`. Without a mirror,
//! [`Source::Upstream`] downloads each photo from its pinned upstream URL with the system's
//! `curl` (rolemirror itself has no network code), checked against the same sha256.

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
    /// The photo's raw file at a pinned commit of its public repository.
    pub upstream: String,
}

/// A demo visitor frame, with the role model it should match when that person is in the gallery.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoVisitor {
    pub photo: String,
    pub sha256: String,
    pub upstream: String,
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

/// Where the demo photos come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory laid out like `../shared/data`.
    Mirror(PathBuf),
    /// Each photo's pinned upstream URL, downloaded with `curl`.
    Upstream,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Mirror(dir) => write!(f, "the mirror {}", dir.display()),
            Source::Upstream => write!(f, "the pinned upstream URLs in models/demo.toml (with curl)"),
        }
    }
}

/// One photo to have: (mirror path, sha256, upstream URL, destination).
struct Wanted<'a> {
    photo: &'a str,
    sha256: &'a str,
    upstream: &'a str,
    dest: PathBuf,
}

fn wanted<'a>(data: &'a DemoData, out: &Path) -> Vec<Wanted<'a>> {
    let gallery = out.join("gallery");
    let visitors = out.join("visitors");
    let rms = data.role_models.iter().map(|r| Wanted {
        photo: &r.photo,
        sha256: &r.sha256,
        upstream: &r.upstream,
        dest: gallery.join(flat_name(&r.photo)),
    });
    let vis = data.visitors.iter().map(|v| Wanted {
        photo: &v.photo,
        sha256: &v.sha256,
        upstream: &v.upstream,
        dest: visitors.join(flat_name(&v.photo)),
    });
    rms.chain(vis).collect()
}

fn present(w: &Wanted) -> bool {
    w.dest.is_file() && sha256_file(&w.dest).is_ok_and(|(sum, _)| sum == w.sha256)
}

/// The demo photos that are not yet in `out` with the right checksum, as `gallery/NAME` or
/// `visitors/NAME`, and how many photos the demo has in all.
pub fn missing(out: &Path) -> anyhow::Result<(Vec<PathBuf>, usize)> {
    let data = DemoData::builtin()?;
    let all = wanted(&data, out);
    let total = all.len();
    Ok((all.into_iter().filter(|w| !present(w)).map(|w| w.dest).collect(), total))
}

fn copy_verified(source: &Source, w: &Wanted) -> anyhow::Result<()> {
    if present(w) {
        return Ok(());
    }
    let bytes = match source {
        Source::Mirror(mirror) => {
            let src = mirror.join(w.photo);
            std::fs::read(&src).with_context(|| format!("{} (is the data mirror right?)", src.display()))?
        }
        Source::Upstream => download(w.upstream)?,
    };
    let actual = crate::util::sha256_bytes(&bytes);
    if actual != w.sha256 {
        let from = match source {
            Source::Mirror(mirror) => mirror.join(w.photo).display().to_string(),
            Source::Upstream => w.upstream.to_string(),
        };
        bail!("{from} has sha256 {actual}, models/demo.toml expects {}: refused", w.sha256);
    }
    write_atomic(&w.dest, &bytes).with_context(|| format!("writing {}", w.dest.display()))
}

/// Downloads `url` with the system's curl (into memory: demo photos are small).
fn download(url: &str) -> anyhow::Result<Vec<u8>> {
    let out = std::process::Command::new("curl")
        .args(["-fsSL", "--retry", "2", "--connect-timeout", "20", "--max-time", "120", url])
        .output()
        .context("cannot start curl (install it: apt-get install curl)")?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        bail!("downloading {url} failed ({}): {}", out.status, why.lines().last().unwrap_or_default().trim());
    }
    Ok(out.stdout)
}

/// Copies the demo photos from `mirror` into `out/gallery` and `out/visitors`, writing the demo
/// gallery manifest. Returns the gallery directory.
pub fn fetch(mirror: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    fetch_from(&Source::Mirror(mirror.to_path_buf()), out, &mut |_, _| {})
}

/// [`fetch`] from `source`; `progress(done, total)` after each photo. Photos already present
/// with the right checksum are kept, not fetched again.
pub fn fetch_from(source: &Source, out: &Path, progress: &mut dyn FnMut(usize, usize)) -> anyhow::Result<PathBuf> {
    let data = DemoData::builtin()?;
    let gallery = out.join("gallery");
    let visitors = out.join("visitors");
    std::fs::create_dir_all(&gallery).with_context(|| format!("creating {}", gallery.display()))?;
    std::fs::create_dir_all(&visitors).with_context(|| format!("creating {}", visitors.display()))?;
    let all = wanted(&data, out);
    for (i, w) in all.iter().enumerate() {
        copy_verified(source, w)?;
        progress(i + 1, all.len());
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
        // Every photo has a pinned upstream (a commit, not a branch).
        for (photo, url) in d.role_models.iter().map(|r| (&r.photo, &r.upstream)).chain(d.visitors.iter().map(|v| (&v.photo, &v.upstream)))
        {
            assert!(url.starts_with("https://raw.githubusercontent.com/"), "{photo}: {url}");
            let commit = url.split('/').nth(5).unwrap_or_default();
            assert!(commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()), "{photo}: {url} is not pinned to a commit");
        }
        // Neutral names only.
        assert!(m.role_models.iter().all(|r| r.name.starts_with("Demo role model")));
    }
}
