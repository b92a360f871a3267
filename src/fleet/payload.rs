//! The signed bundle as a Mender payload: the stick's `ROLEMIRROR/` folder in one tar file
//! (an artifact's payload is a flat list of files; a bundle is a tree).
//!
//! [`write`] packs a bundle made by `bundle create`. [`extract`] unpacks one on the booth
//! before anything in it is trusted: only plain files and folders under `ROLEMIRROR/`, within
//! the booth's `[usb]` limits, never over an existing file; links, devices and names that
//! escape are refused by name. What comes out then goes through the USB import unchanged
//! (`usb::bundle::check_stick`: signature, manifest, tree; `usb::install`: hashes while
//! copying, photos, config), so this file checks only what the import cannot see: the archive.

use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use crate::usb::bundle::{self, BundleManifest, Limits};

/// The payload file's name in the artifact.
pub const PAYLOAD_FILE: &str = "rolemirror-bundle.tar";

/// Writes `bundle` (a `ROLEMIRROR/` folder made by `bundle create`) as a tar file: the manifest
/// and signature first, then the manifest's files in its order. Only what the manifest lists
/// goes in (`reports/` or stray files in the folder stay out).
pub fn write(bundle: &Path, out: &Path) -> anyhow::Result<BundleManifest> {
    use anyhow::Context;
    let bytes = fs::read(bundle.join(bundle::MANIFEST_FILE)).with_context(|| format!("{}: no bundle manifest", bundle.display()))?;
    let manifest: BundleManifest =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not a bundle manifest", bundle.display()))?;
    let file = File::create(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    let names = [bundle::MANIFEST_FILE, bundle::SIGNATURE_FILE]
        .into_iter()
        .map(str::to_string)
        .chain(manifest.files.iter().map(|f| f.path.clone()));
    for name in names {
        let src = bundle.join(&name);
        let mut f = File::open(&src).with_context(|| format!("{}: cannot read", src.display()))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(f.metadata()?.len());
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, Path::new(bundle::BUNDLE_DIR).join(&name), &mut f)
            .with_context(|| format!("{}: cannot add to {}", src.display(), out.display()))?;
    }
    let mut w = tar.into_inner().context("finishing the tar file")?;
    w.flush()?;
    w.get_ref().sync_all()?;
    Ok(manifest)
}

/// What [`extract`] allows: the import's own limits, plus the manifest and signature.
struct Budget {
    files: usize,
    entries: usize,
    total: u64,
}

/// The largest manifest and signature the import reads.
const MAX_MANIFEST: u64 = 1 << 20;
const MAX_SIGNATURE: u64 = 1024;

impl Budget {
    fn new(limits: &Limits) -> Budget {
        Budget {
            files: limits.max_files.saturating_add(2),
            entries: limits.max_files.saturating_mul(2).saturating_add(32),
            total: limits.max_total_bytes.saturating_add(MAX_MANIFEST + MAX_SIGNATURE),
        }
    }

    /// The largest size of the member at `rel` (under `ROLEMIRROR/`).
    fn per_file(limits: &Limits, rel: &Path) -> u64 {
        if rel == Path::new(bundle::MANIFEST_FILE) {
            MAX_MANIFEST
        } else if rel == Path::new(bundle::SIGNATURE_FILE) {
            MAX_SIGNATURE
        } else {
            limits.max_file_bytes
        }
    }
}

/// A member's name as a relative path under `ROLEMIRROR/`, or why not.
fn member_path(raw: &Path) -> Result<PathBuf, String> {
    let shown = raw.to_string_lossy();
    let Some(text) = raw.to_str() else { return Err(format!("{shown}: name is not UTF-8")) };
    let mut parts = raw.components();
    if parts.next() != Some(Component::Normal(bundle::BUNDLE_DIR.as_ref())) {
        return Err(format!("{text}: outside {}/", bundle::BUNDLE_DIR));
    }
    if text.contains('\\') || !parts.clone().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!("{text}: not a plain relative name (refused)"));
    }
    Ok(parts.as_path().to_path_buf())
}

/// Unpacks the payload `tar` into `dest` (made here; must not exist) and returns
/// `dest/ROLEMIRROR`. Every refusal names the member and why; nothing outside `dest` is written.
pub fn extract(tar: impl Read, dest: &Path, limits: &Limits) -> Result<PathBuf, String> {
    let budget = Budget::new(limits);
    fs::create_dir(dest).map_err(|e| format!("{}: cannot create ({e})", dest.display()))?;
    let root = dest.join(bundle::BUNDLE_DIR);
    fs::create_dir(&root).map_err(|e| format!("{}: cannot create ({e})", root.display()))?;
    let mut archive = tar::Archive::new(BufReader::new(tar));
    let entries = archive.entries().map_err(|e| format!("the payload is not a tar file ({e})"))?;
    let (mut files, mut seen, mut total) = (0usize, 0usize, 0u64);
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("the payload is not a complete tar file ({e})"))?;
        seen += 1;
        if seen > budget.entries {
            return Err(format!("the payload has more than {} members (usb.max_files is {})", budget.entries, limits.max_files));
        }
        let raw = entry.path().map_err(|e| format!("a member's name is unreadable ({e})"))?.into_owned();
        let rel = member_path(&raw)?;
        let name = raw.display().to_string();
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                fs::create_dir_all(root.join(&rel)).map_err(|e| format!("{name}: cannot create ({e})"))?;
                continue;
            }
            tar::EntryType::Regular if !rel.as_os_str().is_empty() => {}
            other => return Err(format!("{name}: a {other:?} member (only plain files and folders; refused)")),
        }
        let size = entry.header().size().map_err(|e| format!("{name}: unreadable size ({e})"))?;
        files += 1;
        total = total.saturating_add(size);
        if files > budget.files {
            return Err(format!("the payload has more than {} files (usb.max_files is {})", budget.files, limits.max_files));
        }
        let most = Budget::per_file(limits, &rel);
        if size > most {
            return Err(format!("{name}: {size} bytes, over the limit of {most} per file (usb.max_file_mb)"));
        }
        if total > budget.total {
            return Err(format!("the payload holds over {} bytes (usb.max_total_mb is {} bytes)", budget.total, limits.max_total_bytes));
        }
        let path = root.join(&rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{name}: cannot create its folder ({e})"))?;
        }
        let mut out = File::options()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| format!("{name}: cannot write ({e}; listed twice?)"))?;
        let copied = std::io::copy(&mut (&mut entry).take(size.saturating_add(1)), &mut out).map_err(|e| format!("{name}: {e}"))?;
        if copied != size {
            return Err(format!("{name}: {copied} bytes in the payload, {size} in its header (truncated)"));
        }
        out.sync_all().map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rolemirror-payload-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    /// A tar with one member written by hand (name, type, content), as an attacker would.
    fn one_member(name: &str, kind: tar::EntryType, data: &[u8], link: Option<&str>) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        // Set the name bytes directly: `set_path` itself refuses "..".
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn members_that_escape_or_are_not_plain_files_are_refused_by_name() {
        let limits = Limits::default();
        let cases: [(&str, tar::EntryType, Option<&str>, &str); 6] = [
            ("ROLEMIRROR/../../etc/x", tar::EntryType::Regular, None, "not a plain relative name"),
            ("/ROLEMIRROR/gallery/a.jpg", tar::EntryType::Regular, None, "outside ROLEMIRROR/"),
            ("other/a.jpg", tar::EntryType::Regular, None, "outside ROLEMIRROR/"),
            ("ROLEMIRROR/gallery/l.jpg", tar::EntryType::Symlink, Some("/etc/shadow"), "Symlink member"),
            ("ROLEMIRROR/gallery/h.jpg", tar::EntryType::Link, Some("ROLEMIRROR/bundle.json"), "Link member"),
            ("ROLEMIRROR/gallery/dev", tar::EntryType::Char, None, "Char member"),
        ];
        for (i, (name, kind, link, why)) in cases.iter().enumerate() {
            let dest = tmp(&format!("bad{i}"));
            let err = extract(&one_member(name, *kind, b"x", *link)[..], &dest, &limits).expect_err(name);
            assert!(err.contains(why), "{name}: {err}");
            let _ = fs::remove_dir_all(&dest);
        }
    }

    #[test]
    fn limits_and_truncation_are_refused_and_a_good_tree_comes_out() {
        let src = tmp("src");
        let bundle = src.join(bundle::BUNDLE_DIR);
        fs::create_dir_all(bundle.join("gallery/sub")).unwrap();
        fs::write(bundle.join("gallery/gallery.toml"), "x").unwrap();
        fs::write(bundle.join("gallery/sub/a.jpg"), vec![7u8; 5000]).unwrap();
        let manifest = BundleManifest {
            format: bundle::FORMAT,
            created: String::new(),
            serial: 3,
            signer: String::new(),
            files: ["gallery/gallery.toml", "gallery/sub/a.jpg"]
                .iter()
                .map(|p| {
                    let (sha256, size) = crate::util::sha256_file(&bundle.join(p)).unwrap();
                    bundle::FileEntry { path: p.to_string(), sha256, size }
                })
                .collect(),
        };
        fs::write(bundle.join(bundle::MANIFEST_FILE), serde_json::to_vec(&manifest).unwrap()).unwrap();
        fs::write(bundle.join(bundle::SIGNATURE_FILE), "sig").unwrap();
        fs::create_dir_all(bundle.join("reports")).unwrap();
        fs::write(bundle.join("reports/old.txt"), "not packed").unwrap();
        let tar_path = src.join("p.tar");
        write(&bundle, &tar_path).unwrap();
        let bytes = fs::read(&tar_path).unwrap();

        let dest = tmp("good");
        let root = extract(&bytes[..], &dest, &Limits::default()).unwrap();
        assert_eq!(fs::read(root.join("gallery/sub/a.jpg")).unwrap(), vec![7u8; 5000]);
        assert!(root.join(bundle::SIGNATURE_FILE).is_file() && !root.join("reports").exists());
        // Extracting again over it: refused (never over existing files).
        assert!(extract(&bytes[..], &dest, &Limits::default()).unwrap_err().contains("cannot create"));
        let _ = fs::remove_dir_all(&dest);

        let dest = tmp("big");
        let err = extract(&bytes[..], &dest, &Limits { max_file_bytes: 4000, ..Limits::default() }).unwrap_err();
        assert!(err.contains("gallery/sub/a.jpg: 5000 bytes, over the limit"), "{err}");
        let _ = fs::remove_dir_all(&dest);
        let dest = tmp("few");
        let err = extract(&bytes[..], &dest, &Limits { max_files: 1, ..Limits::default() }).unwrap_err();
        assert!(err.contains("more than 3 files"), "{err}");
        let _ = fs::remove_dir_all(&dest);
        // Cut in the middle of the photo: the archive is incomplete.
        let dest = tmp("cut");
        let cut = &bytes[..bytes.len() / 2];
        let err = extract(cut, &dest, &Limits::default()).unwrap_err();
        assert!(err.contains("truncated") || err.contains("not a complete tar"), "{err}");
        let _ = fs::remove_dir_all(&dest);
        let _ = fs::remove_dir_all(&src);
    }
}
