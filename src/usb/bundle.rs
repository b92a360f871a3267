//! The signed bundle on a USB stick: keys, the manifest, signing and checking.
//!
//! ```text
//! STICK/ROLEMIRROR/
//!   bundle.json        manifest: format, created, serial, signer, every file with sha256 and size
//!   bundle.sig         ed25519 signature of bundle.json's exact bytes (hex)
//!   gallery/           gallery.toml and the photos (optional)
//!   config/rolemirror.toml   a booth config (optional)
//!   reports/           written by booths; never read
//! ```
//!
//! Nothing on the stick is trusted before [`check_stick`] has verified the signature against a
//! trusted key and compared the stick's tree with the manifest (no symlinks, devices, stray or
//! oversized files, names that escape the bundle). File contents are then verified while they
//! are copied off the stick (see [`super::install`]), so a file changed after the check is
//! still caught.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::util::{hex, sha256_bytes, sha256_file, write_atomic};

/// The bundle's directory at the top of a stick.
pub const BUNDLE_DIR: &str = "ROLEMIRROR";
pub const MANIFEST_FILE: &str = "bundle.json";
pub const SIGNATURE_FILE: &str = "bundle.sig";
pub const REPORTS_DIR: &str = "reports";
pub const GALLERY_DIR: &str = "gallery";
pub const CONFIG_FILE: &str = "config/rolemirror.toml";
/// Version of the manifest format.
pub const FORMAT: u32 = 1;
/// Largest manifest read (it lists file names and hashes only).
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// One file of the bundle, relative to `ROLEMIRROR/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// `bundle.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleManifest {
    pub format: u32,
    /// RFC 3339, UTC, when the bundle was made (informational).
    pub created: String,
    /// Must be greater than the serial of the bundle installed on the booth.
    pub serial: u64,
    /// Key id of the signing key (see [`key_id`]); informational, every trusted key is tried.
    pub signer: String,
    pub files: Vec<FileEntry>,
}

impl BundleManifest {
    pub fn has_gallery(&self) -> bool {
        self.files.iter().any(|f| f.path.starts_with("gallery/"))
    }
    pub fn config(&self) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == CONFIG_FILE)
    }
    /// The sum of the listed sizes; saturates (a signed manifest may list absurd sizes, which
    /// the limits then refuse).
    pub fn total_size(&self) -> u64 {
        self.files.iter().fold(0u64, |sum, f| sum.saturating_add(f.size))
    }
}

/// Limits applied to a stick before anything on it is decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_files: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    /// Largest image, in pixels (read from the image header).
    pub max_pixels: u64,
}

impl From<&crate::config::UsbSettings> for Limits {
    fn from(u: &crate::config::UsbSettings) -> Limits {
        Limits { max_files: u.max_files, max_file_bytes: u.max_file_bytes, max_total_bytes: u.max_total_bytes, max_pixels: u.max_pixels }
    }
}

impl Default for Limits {
    /// The limits of the default `[usb]` settings.
    fn default() -> Self {
        Limits::from(&crate::config::Config::default().usb)
    }
}

/// A short, stable id for a public key: the first 16 hex digits of its sha256.
pub fn key_id(key: &VerifyingKey) -> String {
    sha256_bytes(key.as_bytes())[..16].to_string()
}

fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let t = text.trim();
    if t.len() != 2 * N || !t.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Writes a new key pair as `DIR/NAME.key` (private, mode 0600) and `DIR/NAME.pub`. Refuses to
/// overwrite existing files.
pub fn keygen(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf, String)> {
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let (private, public) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
    for p in [&private, &public] {
        if fs::symlink_metadata(p).is_ok() {
            bail!("{} exists: refusing to overwrite a key", p.display());
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&private)
        .with_context(|| format!("{}: cannot create", private.display()))?;
    f.write_all(format!("{}\n", hex(&seed)).as_bytes())?;
    f.sync_all()?;
    write_atomic(&public, format!("{}\n", hex(key.verifying_key().as_bytes())).as_bytes())
        .with_context(|| format!("{}: cannot write", public.display()))?;
    Ok((private, public, key_id(&key.verifying_key())))
}

/// Reads a private key file written by [`keygen`].
pub fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the private key (make a key pair with `rolemirror keygen --out DIR`)", path.display()))?;
    let seed = parse_hex::<32>(&text).with_context(|| format!("{}: not a rolemirror private key (64 hex digits)", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a public key file written by [`keygen`].
pub fn read_verifying_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the public key (the .pub file `rolemirror keygen` wrote)", path.display()))?;
    let bytes = parse_hex::<32>(&text).with_context(|| format!("{}: not a rolemirror public key (64 hex digits)", path.display()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: invalid public key: {e}", path.display()))
}

/// The trusted keys: every `*.pub` file in `dir`. Unreadable key files are reported.
pub fn trusted_keys(dir: &Path) -> (Vec<VerifyingKey>, Vec<String>) {
    let (mut keys, mut problems) = (Vec::new(), Vec::new());
    let Ok(entries) = fs::read_dir(dir) else { return (keys, problems) };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "pub")).collect();
    paths.sort();
    for p in paths {
        match read_verifying_key(&p) {
            Ok(k) => keys.push(k),
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    (keys, problems)
}

/// Is `p` a bundle file name we accept: relative, plain components, under `gallery/` or the
/// config file, nothing hidden that a signer could not see.
fn check_name(p: &str) -> Result<(), String> {
    let plain = p.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
    if p.is_empty()
        || p.contains('\\')
        || p.contains('\0')
        || !plain
        || !Path::new(p).components().all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(format!("file name {p:?} escapes the bundle or is not a plain relative path"));
    }
    if !(p.starts_with("gallery/") || p == CONFIG_FILE) {
        return Err(format!("file {p:?} is neither under gallery/ nor {CONFIG_FILE}"));
    }
    Ok(())
}

/// Writes `OUT/ROLEMIRROR/` from a gallery directory and/or a config file, signed with `key`.
/// Returns the manifest.
pub fn create(gallery: Option<&Path>, config: Option<&Path>, key: &SigningKey, serial: u64, out: &Path) -> anyhow::Result<BundleManifest> {
    create_with_progress(gallery, config, key, serial, out, &mut |_, _| {})
}

/// [`create`], calling `progress(done, total)` after each file copied.
pub fn create_with_progress(
    gallery: Option<&Path>,
    config: Option<&Path>,
    key: &SigningKey,
    serial: u64,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<BundleManifest> {
    if gallery.is_none() && config.is_none() {
        bail!("nothing to bundle: give --gallery DIR and/or --config FILE");
    }
    let root = out.join(BUNDLE_DIR);
    if root.exists() {
        for name in [MANIFEST_FILE, SIGNATURE_FILE, GALLERY_DIR, "config"] {
            let p = root.join(name);
            if fs::symlink_metadata(&p).is_ok() {
                bail!("{} already exists: use an empty stick or folder (or delete the old bundle)", p.display());
            }
        }
    }
    let mut files = Vec::new();
    if let Some(dir) = gallery {
        let mut list = Vec::new();
        walk(dir, Path::new(""), &mut list)?;
        // The booth builds its own index (and the cards' portraits beside it); a copy of ours
        // would only be checked and replaced.
        list.retain(|rel| rel != Path::new(crate::gallery::index::INDEX_FILE) && !rel.starts_with(crate::gallery::portrait::DIR));
        let total = list.len();
        for (i, rel) in list.into_iter().enumerate() {
            let name = rel.to_str().with_context(|| format!("{}: file name is not UTF-8", dir.join(&rel).display()))?;
            let dest = format!("gallery/{name}");
            copy_into(&dir.join(&rel), &root.join(&dest), &dest, &mut files)?;
            progress(i + 1, total);
        }
        if !files.iter().any(|f: &FileEntry| f.path == "gallery/gallery.toml") {
            bail!("{}: no gallery.toml (`rolemirror gallery new DIR` writes a template)", dir.display());
        }
    }
    if let Some(cfg) = config {
        copy_into(cfg, &root.join(CONFIG_FILE), CONFIG_FILE, &mut files)?;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = BundleManifest {
        format: FORMAT,
        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        serial,
        signer: key_id(&key.verifying_key()),
        files,
    };
    let bytes = serde_json::to_vec_pretty(&manifest)?;
    write_atomic(&root.join(MANIFEST_FILE), &bytes)?;
    write_atomic(&root.join(SIGNATURE_FILE), signature_text(&bytes, key).as_bytes())?;
    crate::util::sync_dir(&root)?;
    Ok(manifest)
}

/// The content of `bundle.sig` for manifest bytes.
pub fn signature_text(manifest: &[u8], key: &SigningKey) -> String {
    format!("{}\n", hex(&key.sign(manifest).to_bytes()))
}

fn copy_into(src: &Path, dest: &Path, name: &str, files: &mut Vec<FileEntry>) -> anyhow::Result<()> {
    check_name(name).map_err(anyhow::Error::msg)?;
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    fs::copy(src, dest).with_context(|| format!("cannot copy {} to {}", src.display(), dest.display()))?;
    fs::File::open(dest)?.sync_all()?;
    let (sha256, size) = sha256_file(dest)?;
    files.push(FileEntry { path: name.to_string(), sha256, size });
    Ok(())
}

/// Regular files under `dir` (relative paths), refusing symlinks and special files.
fn walk(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<_> =
        fs::read_dir(dir.join(rel)).with_context(|| format!("{}: cannot list", dir.join(rel).display()))?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        let t = e.file_type()?;
        if t.is_dir() {
            walk(dir, &r, out)?;
        } else if t.is_file() {
            out.push(r);
        } else {
            bail!("{}: not a regular file (symlinks and devices cannot go into a bundle)", dir.join(&r).display());
        }
    }
    Ok(())
}

/// A stick that passed [`check_stick`]: its manifest and where its files are.
#[derive(Debug, Clone)]
pub struct CheckedBundle {
    pub root: PathBuf,
    pub manifest: BundleManifest,
    pub signer: String,
    /// Each manifest path → the name it has on the stick. FAT is case-insensitive and shows
    /// short names in upper case (`IMG1.JPG` for a signed `img1.jpg`), so names are matched
    /// without regard to ASCII case.
    pub on_stick: BTreeMap<String, String>,
}

impl CheckedBundle {
    /// Where a manifest file is on the stick.
    pub fn source(&self, path: &str) -> PathBuf {
        self.root.join(self.on_stick.get(path).map_or(path, String::as_str))
    }
}

/// Why a bundle is refused: one line per reason, for the screen, the log and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal(pub Vec<String>);

fn read_limited(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, String> {
    let meta = fs::symlink_metadata(path).map_err(|e| format!("{what}: {e}"))?;
    if !meta.file_type().is_file() {
        return Err(format!("{what}: not a regular file"));
    }
    if meta.len() > limit {
        return Err(format!("{what}: {} bytes, over the limit of {limit}", meta.len()));
    }
    fs::read(path).map_err(|e| format!("{what}: cannot read ({e})"))
}

/// Verifies the signature of `root` (a `ROLEMIRROR` directory) against `keys` and compares the
/// tree on the stick with the manifest. Reads only the manifest, the signature and directory
/// entries — no photo or config is opened here.
pub fn check_stick(root: &Path, keys: &[VerifyingKey], limits: &Limits) -> Result<CheckedBundle, Refusal> {
    let meta = fs::symlink_metadata(root).map_err(|e| Refusal(vec![format!("{}: {e}", root.display())]))?;
    if !meta.file_type().is_dir() {
        return Err(Refusal(vec![format!("{BUNDLE_DIR} is not a directory (a symlink or file)")]));
    }
    let manifest_bytes = read_limited(&root.join(MANIFEST_FILE), MAX_MANIFEST_BYTES, MANIFEST_FILE).map_err(|e| Refusal(vec![e]))?;
    let sig_text = match read_limited(&root.join(SIGNATURE_FILE), 1024, SIGNATURE_FILE) {
        Ok(b) => b,
        Err(e) => return Err(Refusal(vec![format!("no signature: {e}")])),
    };
    let Some(sig) = std::str::from_utf8(&sig_text).ok().and_then(parse_hex::<64>) else {
        return Err(Refusal(vec![format!("{SIGNATURE_FILE}: not an ed25519 signature (128 hex digits)")]));
    };
    let sig = Signature::from_bytes(&sig);
    if keys.is_empty() {
        return Err(Refusal(vec![
            "no trusted public keys are installed on this booth (usb.trusted_keys): every USB update is refused".into()
        ]));
    }
    let Some(signer) = keys.iter().find(|k| k.verify_strict(&manifest_bytes, &sig).is_ok()) else {
        return Err(Refusal(vec![
            "signature does not match any trusted key (signed with another key, or bundle.json changed after signing)".into(),
        ]));
    };
    let manifest: BundleManifest = serde_json::from_slice(&manifest_bytes).map_err(|e| Refusal(vec![format!("{MANIFEST_FILE}: {e}")]))?;
    let mut problems = Vec::new();
    if manifest.format != FORMAT {
        problems.push(format!("{MANIFEST_FILE}: format {} is not supported (this booth reads format {FORMAT})", manifest.format));
    }
    if manifest.files.is_empty() {
        problems.push(format!("{MANIFEST_FILE}: lists no files"));
    }
    if manifest.files.len() > limits.max_files {
        problems.push(format!("{MANIFEST_FILE}: {} files, over the limit of {}", manifest.files.len(), limits.max_files));
    }
    let mut listed = BTreeMap::new();
    for f in &manifest.files {
        if let Err(e) = check_name(&f.path) {
            problems.push(e);
            continue;
        }
        if f.size > limits.max_file_bytes {
            problems.push(format!("{}: {} bytes, over the limit of {} per file", f.path, f.size, limits.max_file_bytes));
        }
        if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            problems.push(format!("{}: sha256 is not 64 hex digits", f.path));
        }
        if listed.insert(f.path.to_ascii_lowercase(), f).is_some() {
            problems.push(format!("{}: listed twice (names that differ only in case are the same file on a FAT stick)", f.path));
        }
    }
    if manifest.total_size() > limits.max_total_bytes {
        problems.push(format!("bundle is {} bytes, over the limit of {}", manifest.total_size(), limits.max_total_bytes));
    }
    if manifest.has_gallery() && !manifest.files.iter().any(|f| f.path == "gallery/gallery.toml") {
        problems.push("gallery/ without gallery/gallery.toml".into());
    }
    // The tree on the stick, without following anything.
    let mut seen = Vec::new();
    scan_tree(root, Path::new(""), &mut seen, &mut problems, limits.max_files * 2 + 16);
    let mut on_stick = BTreeMap::new();
    for (rel, size) in &seen {
        match listed.get(rel.to_ascii_lowercase().as_str()) {
            None => problems.push(format!("{rel}: on the stick but not in the signed manifest")),
            Some(f) if f.size != *size => problems.push(format!("{rel}: {size} bytes on the stick, {} in the signed manifest", f.size)),
            Some(f) => {
                if on_stick.insert(f.path.clone(), rel.clone()).is_some() {
                    problems.push(format!("{rel}: two files on the stick for {}", f.path));
                }
            }
        }
    }
    for f in listed.values() {
        if !on_stick.contains_key(&f.path) {
            problems.push(format!("{}: in the signed manifest but missing on the stick", f.path));
        }
    }
    if problems.is_empty() {
        Ok(CheckedBundle { root: root.to_path_buf(), manifest, signer: key_id(signer), on_stick })
    } else {
        Err(Refusal(problems))
    }
}

/// Regular files under `root` (UTF-8 relative names with sizes), skipping the manifest, the
/// signature and `reports/`; symlinks, devices, FIFOs, sockets and non-UTF-8 names are problems.
fn scan_tree(root: &Path, rel: &Path, seen: &mut Vec<(String, u64)>, problems: &mut Vec<String>, budget: usize) {
    let dir = root.join(rel);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!("{}: cannot list ({e})", display_rel(rel)));
            return;
        }
    };
    for entry in entries {
        if seen.len() + problems.len() > budget {
            problems.push("too many files on the stick".into());
            return;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{}: cannot list ({e})", display_rel(rel)));
                return;
            }
        };
        let r = rel.join(entry.file_name());
        let Some(name) = r.to_str() else {
            problems.push(format!("{}: file name is not valid UTF-8", r.to_string_lossy()));
            continue;
        };
        let top = name.to_ascii_lowercase();
        if rel.as_os_str().is_empty() && (top == MANIFEST_FILE || top == SIGNATURE_FILE || top == REPORTS_DIR) {
            continue;
        }
        let meta = match fs::symlink_metadata(entry.path()) {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let t = meta.file_type();
        if t.is_symlink() {
            problems.push(format!("{name}: symbolic link (refused)"));
        } else if t.is_dir() {
            scan_tree(root, &r, seen, problems, budget);
        } else if t.is_file() {
            seen.push((name.to_string(), meta.len()));
        } else if t.is_block_device() || t.is_char_device() {
            problems.push(format!("{name}: device file (refused)"));
        } else {
            problems.push(format!("{name}: FIFO or socket (refused)"));
        }
    }
}

fn display_rel(rel: &Path) -> String {
    if rel.as_os_str().is_empty() {
        BUNDLE_DIR.to_string()
    } else {
        rel.to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_are_refused() {
        for bad in ["../x.jpg", "/etc/passwd", "gallery/../../x", "gallery/./a.jpg", "gallery\\..\\a", "other/a.jpg", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for good in ["gallery/gallery.toml", "gallery/photos/a b.jpg", CONFIG_FILE] {
            assert!(check_name(good).is_ok(), "{good}");
        }
    }

    /// Two listed sizes whose sum overflows u64: the total panicked with overflow checks on (the
    /// fuzz build: "attempt to add with overflow") and wrapped in release; now it is refused.
    #[test]
    fn absurd_listed_sizes_are_refused_not_a_panic() {
        let root = std::env::temp_dir().join(format!("rolemirror-bundle-sizes-{}", std::process::id())).join(BUNDLE_DIR);
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("temp dir");
        let entry = |path: &str| FileEntry { path: path.into(), sha256: "0".repeat(64), size: u64::MAX };
        let manifest = BundleManifest {
            format: FORMAT,
            created: String::new(),
            serial: 1,
            signer: String::new(),
            files: vec![entry("gallery/gallery.toml"), entry("gallery/a.jpg")],
        };
        assert_eq!(manifest.total_size(), u64::MAX);
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let bytes = serde_json::to_vec(&manifest).expect("json");
        fs::write(root.join(MANIFEST_FILE), &bytes).expect("write");
        fs::write(root.join(SIGNATURE_FILE), signature_text(&bytes, &key)).expect("write");
        let refusal = check_stick(&root, &[key.verifying_key()], &Limits::default()).expect_err("refused");
        assert!(refusal.0.iter().any(|r| r.starts_with("bundle is 18446744073709551615 bytes, over the limit")), "{refusal:?}");
        let _ = fs::remove_dir_all(root.parent().expect("parent"));
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        assert_eq!(parse_hex::<2>("0aff"), Some([0x0a, 0xff]));
        assert_eq!(parse_hex::<2>("0af"), None);
        assert_eq!(parse_hex::<2>("zzzz"), None);
        assert_eq!(parse_hex::<2>("é0a"), None);
    }
}
