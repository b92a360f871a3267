//! Installing a checked bundle: staging, verification while copying, the gallery build, and one
//! atomic switch.
//!
//! Layout next to the active gallery directory `G` (the config's `gallery.dir`):
//!
//! ```text
//! G                      symlink -> G.versions/v<serial>/gallery   (the active gallery)
//! G.versions/
//!   v<serial>/           one installed bundle: gallery/ (with index.json), config/, bundle.json
//!   previous             symlink -> v<older>/gallery  (for `rolemirror gallery rollback`)
//!   staging-<pid>-<n>/   an import in progress (deleted by the next import or start)
//!   installed.json       the highest serial installed (no replay of older bundles)
//!   .lock                one import at a time (flock)
//! ```
//!
//! An import copies every file off the stick into staging, hashing while it copies (a file that
//! changes after the signature check is caught), checks image headers against the pixel limit
//! before anything is decoded, validates the config like `config check`, builds the gallery
//! index, fsyncs every file and directory, and only then points `G` at the new version with one
//! `rename(2)` of a symlink (the first time, when `G` is still a plain directory, one
//! `renameat2(RENAME_EXCHANGE)`). A crash at any point leaves `G` on the old or the new gallery,
//! complete; [`Store::recover`] tidies up what an interrupted import left behind.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bundle::{self, CheckedBundle, Limits, Refusal};
use crate::config::Config;
use crate::gallery::index::{self, Index, PhotoRules};
use crate::gallery::GalleryManifest;
use crate::util::{hex, sync_dir, write_atomic};
use crate::vision::Vision;

const INSTALLED_FILE: &str = "installed.json";
const PREVIOUS_LINK: &str = "previous";

/// The installed galleries next to the active gallery directory.
#[derive(Debug, Clone)]
pub struct Store {
    /// The active gallery path (`gallery.dir`).
    pub active: PathBuf,
    /// `G.versions/`.
    pub versions: PathBuf,
}

/// `installed.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Installed {
    pub serial: u64,
    pub created: String,
    pub signer: String,
}

/// Held while an import or rollback runs.
pub struct Lock(#[allow(dead_code)] File);

/// What the active gallery path `G` is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Active {
    /// Nothing there (a fresh booth).
    Absent,
    /// A plain folder, not yet switched by an import (the first import keeps it as
    /// `v0-original/gallery`).
    Plain,
    /// A link to this target, as written (relative to `G`'s parent).
    Link(PathBuf),
    /// Something else (a file): never touched.
    Other,
}

/// The store's pointers at one moment (see [`Store::state`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreState {
    pub active: Active,
    /// `previous`'s target (relative to `G.versions/`).
    pub previous: Option<PathBuf>,
    pub installed: Option<Installed>,
}

impl Store {
    pub fn new(active: &Path) -> Store {
        let name = active.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "gallery".into());
        let parent = active.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Store { active: active.to_path_buf(), versions: parent.join(format!("{name}.versions")) }
    }

    fn switch_path(&self) -> PathBuf {
        let name = self.active.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.active.with_file_name(format!(".{name}.switch"))
    }

    /// Takes the store's lock (fails at once if another import holds it).
    pub fn lock(&self) -> anyhow::Result<Lock> {
        fs::create_dir_all(&self.versions).with_context(|| format!("{}: cannot create", self.versions.display()))?;
        let path = self.versions.join(".lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("{}: cannot open", path.display()))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            bail!("another import or rollback is running ({} is locked)", path.display());
        }
        Ok(Lock(f))
    }

    /// The version directory the active gallery points into, if it is one of ours.
    fn active_version(&self) -> Option<PathBuf> {
        let target = fs::read_link(&self.active).ok()?;
        let abs = self.active.parent().unwrap_or(Path::new(".")).join(target);
        abs.parent().map(Path::to_path_buf)
    }

    fn previous_version(&self) -> Option<PathBuf> {
        let target = fs::read_link(self.versions.join(PREVIOUS_LINK)).ok()?;
        self.versions.join(target).parent().map(Path::to_path_buf)
    }

    /// The highest serial installed: `installed.json`, or the active version's manifest if a
    /// crash came between the switch and writing `installed.json`.
    pub fn installed_serial(&self) -> u64 {
        let recorded = fs::read(self.versions.join(INSTALLED_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<Installed>(&b).ok())
            .map_or(0, |i| i.serial);
        let active = self
            .active_version()
            .and_then(|v| fs::read(v.join(bundle::MANIFEST_FILE)).ok())
            .and_then(|b| serde_json::from_slice::<bundle::BundleManifest>(&b).ok())
            .map_or(0, |m| m.serial);
        recorded.max(active)
    }

    /// Removes what an interrupted import or switch left behind; returns what it did.
    pub fn recover(&self) -> Vec<String> {
        let mut done = Vec::new();
        let switch = self.switch_path();
        if let Ok(meta) = fs::symlink_metadata(&switch) {
            if meta.file_type().is_symlink() {
                let _ = fs::remove_file(&switch);
                done.push(format!("removed unfinished switch {}", switch.display()));
            } else if meta.is_dir() {
                // The old plain gallery directory after the first exchange: keep it as "previous".
                let dest = self.versions.join("v0-original");
                let _ = fs::remove_dir_all(&dest);
                if fs::create_dir_all(&dest).is_ok() && fs::rename(&switch, dest.join("gallery")).is_ok() {
                    let _ = self.set_previous(&dest.join("gallery"));
                    done.push(format!("kept the original gallery as {}", dest.display()));
                }
            }
        }
        let Ok(entries) = fs::read_dir(&self.versions) else { return done };
        let active = self.active_version();
        let previous = self.previous_version();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let unfinished = name.starts_with("staging-") || name.starts_with(".previous.");
            let unused = name.starts_with('v') && Some(&path) != active.as_ref() && Some(&path) != previous.as_ref();
            if unfinished || unused {
                let _ = if e.file_type().is_ok_and(|t| t.is_dir()) { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
                done.push(format!("removed {}", path.display()));
            }
        }
        let _ = sync_dir(&self.versions);
        done
    }

    fn set_previous(&self, gallery: &Path) -> std::io::Result<()> {
        let rel = gallery.strip_prefix(&self.versions).unwrap_or(gallery).to_path_buf();
        let tmp = self.versions.join(format!(".previous.{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&rel, &tmp)?;
        fs::rename(&tmp, self.versions.join(PREVIOUS_LINK))?;
        sync_dir(&self.versions)
    }

    /// Points the active gallery at `gallery` (inside a version directory) atomically and
    /// keeps the one it replaces as "previous".
    fn activate(&self, gallery: &Path) -> anyhow::Result<()> {
        let parent = self.active.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let target = self.target_for(gallery)?;
        let old = fs::symlink_metadata(&self.active).ok();
        let old_target = self.active_version().map(|v| v.join("gallery"));
        match old {
            Some(m) if m.is_dir() => {
                // First install over a plain directory: swap both names in one step.
                let switch = self.switch_path();
                let _ = fs::remove_file(&switch);
                std::os::unix::fs::symlink(&target, &switch).with_context(|| format!("{}: cannot create symlink", switch.display()))?;
                exchange(&switch, &self.active)
                    .with_context(|| format!("cannot switch {} (renameat2 RENAME_EXCHANGE)", self.active.display()))?;
                sync_dir(parent)?;
                // `switch` is now the old directory; keep it as the previous gallery.
                let dest = self.versions.join("v0-original");
                let _ = fs::remove_dir_all(&dest);
                fs::create_dir_all(&dest)?;
                fs::rename(&switch, dest.join("gallery"))?;
                sync_dir(parent)?;
                sync_dir(&self.versions)?;
                self.set_previous(&dest.join("gallery"))?;
            }
            _ => {
                self.link_active(&target)?;
                if let Some(old) = old_target {
                    self.set_previous(&old)?;
                }
            }
        }
        Ok(())
    }

    /// `installed.json` as it is (None: no bundle installed yet, or unreadable).
    pub fn installed(&self) -> Option<Installed> {
        fs::read(self.versions.join(INSTALLED_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Where the store's pointers are now: the active gallery, the previous one, the installed
    /// serial. [`Store::restore`] puts them back.
    pub fn state(&self) -> StoreState {
        let active = match fs::symlink_metadata(&self.active) {
            Err(_) => Active::Absent,
            Ok(m) if m.file_type().is_symlink() => fs::read_link(&self.active).map_or(Active::Other, Active::Link),
            Ok(m) if m.is_dir() => Active::Plain,
            Ok(_) => Active::Other,
        };
        StoreState { active, previous: fs::read_link(self.versions.join(PREVIOUS_LINK)).ok(), installed: self.installed() }
    }

    /// Puts the store's pointers back where [`Store::state`] found them, each with one atomic
    /// step (a symlink renamed over the old one, `installed.json` written atomically): the
    /// previous gallery active again, `previous` (when its version is still kept: an import
    /// keeps two) and the installed serial as they were. A
    /// gallery that was a plain folder comes back as the link to its kept copy
    /// (`v0-original/gallery`, same files). Run again after a crash, it finishes the job.
    pub fn restore(&self, _lock: &Lock, to: &StoreState) -> anyhow::Result<()> {
        let parent = self.active.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let now = self.state();
        match &to.active {
            _ if now.active == to.active => {}
            Active::Absent => {
                if now.active != Active::Absent {
                    if !fs::symlink_metadata(&self.active).is_ok_and(|m| m.file_type().is_symlink()) {
                        bail!("{}: not a link made by an import; not removed", self.active.display());
                    }
                    fs::remove_file(&self.active).with_context(|| format!("{}: cannot remove", self.active.display()))?;
                    sync_dir(parent)?;
                }
            }
            Active::Plain => {
                let kept = self.versions.join("v0-original").join(bundle::GALLERY_DIR);
                if !kept.is_dir() {
                    bail!("{}: the original gallery is not there to go back to", kept.display());
                }
                self.link_active(&self.target_for(&kept)?)?;
            }
            Active::Link(target) => {
                if !parent.join(target).is_dir() {
                    bail!("{}: the gallery to go back to is gone", parent.join(target).display());
                }
                self.link_active(target)?;
            }
            Active::Other => bail!("{}: was neither a folder nor a link; not restored", self.active.display()),
        }
        // An import keeps only the active and the previous version: the one before may be gone.
        match to.previous.as_ref().filter(|rel| self.versions.join(rel).is_dir()) {
            Some(rel) => self.set_previous(&self.versions.join(rel))?,
            None => match fs::remove_file(self.versions.join(PREVIOUS_LINK)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => sync_dir(&self.versions)?,
            },
        }
        match &to.installed {
            Some(i) => write_atomic(&self.versions.join(INSTALLED_FILE), &serde_json::to_vec_pretty(i)?)?,
            None => match fs::remove_file(self.versions.join(INSTALLED_FILE)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => sync_dir(&self.versions)?,
            },
        }
        Ok(())
    }

    /// The link text that points `G` at `gallery` (a folder inside `G.versions/`).
    fn target_for(&self, gallery: &Path) -> anyhow::Result<PathBuf> {
        let parent = self.active.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let parent_abs = fs::canonicalize(parent)?;
        let versions_abs = fs::canonicalize(&self.versions)?;
        let rel_versions = versions_abs.strip_prefix(&parent_abs).map(Path::to_path_buf).unwrap_or(versions_abs.clone());
        Ok(rel_versions.join(gallery.strip_prefix(&self.versions).unwrap_or(gallery)))
    }

    /// Points the link `G` at `target` with one rename (G must not be a plain folder).
    fn link_active(&self, target: &Path) -> anyhow::Result<()> {
        let parent = self.active.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let switch = self.switch_path();
        let _ = fs::remove_file(&switch);
        std::os::unix::fs::symlink(target, &switch).with_context(|| format!("{}: cannot create symlink", switch.display()))?;
        fs::rename(&switch, &self.active).with_context(|| format!("cannot switch {}", self.active.display()))?;
        sync_dir(parent)?;
        Ok(())
    }

    /// `rolemirror gallery rollback`: makes the previous gallery active again (and the current
    /// one previous). The installed serial stays: the rolled-back bundle is not replayable.
    pub fn rollback(&self) -> anyhow::Result<PathBuf> {
        let _lock = self.lock()?;
        self.recover();
        let Some(prev) = self.previous_version() else { bail!("{}: no previous gallery to roll back to", self.versions.display()) };
        let prev_gallery = prev.join("gallery");
        crate::gallery::GalleryManifest::load(&prev_gallery)
            .with_context(|| format!("the previous gallery {} is not usable", prev_gallery.display()))?;
        self.activate(&prev_gallery)?;
        Ok(prev_gallery)
    }
}

fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
    let rc = unsafe { libc::syscall(libc::SYS_renameat2, libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Where an import is.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub step: String,
    pub fraction: f32,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Installed {
        serial: u64,
        role_models: Option<usize>,
        config: bool,
        signer: String,
    },
    /// The same serial is already installed: nothing to do.
    AlreadyInstalled {
        serial: u64,
    },
    Refused(Refusal),
}

/// What the booth allows and where things go.
pub struct ImportOptions<'a> {
    /// The trusted public keys (see [`bundle::trusted_keys`]).
    pub keys: &'a [ed25519_dalek::VerifyingKey],
    pub limits: Limits,
    pub rules: PhotoRules,
    /// The booth's config file: a config in the bundle replaces it (the old one is kept as
    /// `FILE.previous`). None: bundles with a config are refused.
    pub config_path: Option<&'a Path>,
    /// The running config, to refuse a bundle that would move the gallery, the state or the
    /// trusted keys.
    pub current: Option<&'a Config>,
}

fn refuse(reason: impl Into<String>) -> Outcome {
    Outcome::Refused(Refusal(vec![reason.into()]))
}

/// Imports the bundle in `root` (a stick's `ROLEMIRROR/`) into `store`. `vision` is asked for
/// the models only when a gallery needs embedding. Never panics on the stick's content; every
/// refusal names the file and the reason.
pub fn import(
    root: &Path,
    store: &Store,
    opts: &ImportOptions,
    vision: &dyn Fn() -> anyhow::Result<Arc<Vision>>,
    progress: &mut dyn FnMut(Progress),
) -> Outcome {
    let lock = match store.lock() {
        Ok(l) => l,
        Err(e) => return refuse(format!("{e:#}")),
    };
    import_locked(&lock, root, store, opts, vision, progress)
}

/// [`import`] with the store's lock already held (`_lock`), for a caller that records the store's
/// state before and after under the same lock (the Mender update module, `rolemirror-bundle`).
pub fn import_locked(
    _lock: &Lock,
    root: &Path,
    store: &Store,
    opts: &ImportOptions,
    vision: &dyn Fn() -> anyhow::Result<Arc<Vision>>,
    progress: &mut dyn FnMut(Progress),
) -> Outcome {
    let mut step = |s: &str, f: f32| progress(Progress { step: s.to_string(), fraction: f });
    step("checking the signature", 0.0);
    for what in store.recover() {
        log::info!("usb: {what}");
    }
    let checked = match bundle::check_stick(root, opts.keys, &opts.limits) {
        Ok(c) => c,
        Err(r) => return Outcome::Refused(r),
    };
    let installed = store.installed_serial();
    let serial = checked.manifest.serial;
    if serial == installed {
        return Outcome::AlreadyInstalled { serial };
    }
    if serial < installed {
        return refuse(format!("serial {serial} is older than the installed bundle's {installed}: an old bundle is never installed again"));
    }
    if checked.manifest.config().is_some() && opts.config_path.is_none() {
        return refuse("the bundle has a config, but this booth was not started with a config file to replace");
    }
    // A full disk is told as such up front, not as a write error in the middle of the copy.
    let need = checked.manifest.total_size().saturating_add(checked.manifest.total_size() / 10).saturating_add(1 << 20);
    if let Some(free) = free_bytes(&store.versions).filter(|free| *free < need) {
        return refuse(format!(
            "the booth's disk is full: the bundle needs about {:.1} MB, {:.1} MB are free in {}; the booth keeps its gallery \
             and config (make space there and insert the stick again)",
            need as f64 / 1e6,
            free as f64 / 1e6,
            store.versions.display()
        ));
    }
    let staging = store.versions.join(format!("staging-{}-{}", std::process::id(), serial));
    let result = stage(&checked, &staging, store, opts, vision, &mut step);
    let outcome = match result {
        Ok(role_models) => {
            step("switching", 0.97);
            match switch(&checked, &staging, store, opts, role_models.is_some()) {
                Ok(()) => {
                    Outcome::Installed { serial, role_models, config: checked.manifest.config().is_some(), signer: checked.signer.clone() }
                }
                Err(e) => refuse(format!("install failed: {e:#}")),
            }
        }
        Err(r) => Outcome::Refused(r),
    };
    if !matches!(outcome, Outcome::Installed { .. }) {
        let _ = fs::remove_dir_all(&staging);
    }
    for what in store.recover() {
        log::debug!("usb: {what}");
    }
    step("done", 1.0);
    outcome
}

/// Copies, verifies and builds everything in `staging`; returns the number of role models when
/// the bundle has a gallery.
fn stage(
    checked: &CheckedBundle,
    staging: &Path,
    store: &Store,
    opts: &ImportOptions,
    vision: &dyn Fn() -> anyhow::Result<Arc<Vision>>,
    step: &mut dyn FnMut(&str, f32),
) -> Result<Option<usize>, Refusal> {
    let one = |s: String| Refusal(vec![s]);
    let _ = fs::remove_dir_all(staging);
    fs::create_dir_all(staging).map_err(|e| one(format!("{}: cannot create ({e})", staging.display())))?;
    // 1. Copy off the stick, verifying size and hash of what was actually read.
    let total = checked.manifest.total_size().max(1) as f32;
    let mut copied = 0u64;
    for f in &checked.manifest.files {
        step(&format!("copying {}", f.path), 0.05 + 0.35 * copied as f32 / total);
        copy_verified(&checked.source(&f.path), &staging.join(&f.path), f).map_err(|e| one(format!("{}: {e}", f.path)))?;
        copied += f.size;
    }
    // 2. The config, like `config check`.
    if let Some(entry) = checked.manifest.config() {
        step("checking the config", 0.42);
        let text = fs::read_to_string(staging.join(&entry.path)).map_err(|e| one(format!("{}: not UTF-8 text ({e})", entry.path)))?;
        let new =
            Config::from_text(&text).map_err(|problems| Refusal(problems.iter().map(|p| format!("{}: {p}", entry.path)).collect()))?;
        if let Some(current) = opts.current {
            let mut moved = Vec::new();
            if new.gallery.dir != current.gallery.dir {
                moved.push("gallery.dir");
            }
            if new.state_dir != current.state_dir {
                moved.push("state.dir");
            }
            if new.usb.trusted_keys != current.usb.trusted_keys {
                moved.push("usb.trusted_keys");
            }
            if !moved.is_empty() {
                return Err(one(format!("{}: {} cannot be changed from a USB stick", entry.path, moved.join(", "))));
            }
        }
    }
    if !checked.manifest.has_gallery() {
        seal(checked, staging)?;
        return Ok(None);
    }
    // 3. Image headers against the pixel limit, before any decoding.
    let gallery = staging.join(bundle::GALLERY_DIR);
    let manifest = GalleryManifest::load(&gallery).map_err(|e| one(format!("gallery/gallery.toml: {e:#}")))?;
    let problems = manifest.validate(Some(&gallery));
    if !problems.is_empty() {
        return Err(Refusal(problems.into_iter().map(|p| format!("gallery/gallery.toml: {p}")).collect()));
    }
    step("checking image sizes", 0.44);
    let mut problems = Vec::new();
    for rm in &manifest.role_models {
        for photo in &rm.photos {
            if let Err(e) = check_header(&gallery.join(photo), opts.limits.max_pixels) {
                problems.push(format!("gallery/{photo}: {e}"));
            }
        }
    }
    if !problems.is_empty() {
        return Err(Refusal(problems));
    }
    // 4. The index, reusing the active gallery's embeddings of unchanged photos.
    step("loading the face models", 0.46);
    let vision = vision().map_err(|e| one(format!("face models: {e:#}")))?;
    let previous = Index::read(&store.active).ok().flatten();
    let photos: usize = manifest.role_models.iter().map(|r| r.photos.len()).sum::<usize>().max(1);
    let mut n = 0;
    let (idx, _stats) =
        index::build(&gallery, &manifest, &vision, &opts.rules, previous.as_ref(), index::Portraits::Prepare, |rm, photo| {
            step(&format!("embedding {} ({})", photo, rm.id), 0.48 + 0.48 * n as f32 / photos as f32);
            n += 1;
        })
        .map_err(|e| one(format!("gallery: {e:#}")))?;
    if !idx.rejected.is_empty() {
        return Err(Refusal(idx.rejected.iter().map(|r| format!("gallery/{} ({}): {}", r.file, r.role_model, r.reason)).collect()));
    }
    let role_models = manifest.role_models.iter().filter(|rm| idx.photos.iter().any(|p| p.role_model == rm.id)).count();
    if role_models == 0 {
        return Err(one("gallery: no role model has a usable photo".into()));
    }
    idx.write(&gallery).map_err(|e| one(format!("gallery/index.json: {e:#}")))?;
    seal(checked, staging)?;
    Ok(Some(role_models))
}

/// The signed manifest goes with the version (its serial survives a crash before
/// installed.json is written); then everything in staging reaches the disk before the switch.
fn seal(checked: &CheckedBundle, staging: &Path) -> Result<(), Refusal> {
    let one = |s: String| Refusal(vec![s]);
    let bytes = serde_json::to_vec_pretty(&checked.manifest).map_err(|e| one(e.to_string()))?;
    write_atomic(&staging.join(bundle::MANIFEST_FILE), &bytes).map_err(|e| one(format!("{}: {e}", staging.display())))?;
    sync_tree(staging).map_err(|e| one(format!("{}: fsync failed ({e})", staging.display())))
}

/// Moves staging into place and switches the gallery and/or the config.
fn switch(checked: &CheckedBundle, staging: &Path, store: &Store, opts: &ImportOptions, gallery: bool) -> anyhow::Result<()> {
    let serial = checked.manifest.serial;
    let version = store.versions.join(format!("v{serial}"));
    if fs::symlink_metadata(&version).is_ok() {
        fs::remove_dir_all(&version)?;
    }
    fs::rename(staging, &version)?;
    sync_dir(&store.versions)?;
    if gallery {
        store.activate(&version.join(bundle::GALLERY_DIR))?;
    }
    if let (Some(entry), Some(path)) = (checked.manifest.config(), opts.config_path) {
        let bytes = fs::read(version.join(&entry.path))?;
        if let Ok(old) = fs::read(path) {
            write_atomic(
                &path.with_file_name(format!("{}.previous", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())),
                &old,
            )?;
        }
        write_atomic(path, &bytes).with_context(|| format!("{}: cannot replace the config", path.display()))?;
    }
    let installed = Installed { serial, created: checked.manifest.created.clone(), signer: checked.signer.clone() };
    write_atomic(&store.versions.join(INSTALLED_FILE), &serde_json::to_vec_pretty(&installed)?)?;
    Ok(())
}

/// Copies one file off the stick (never following a symlink), reading at most its signed size
/// plus one byte, and checks the size and sha256 of the bytes read.
fn copy_verified(src: &Path, dest: &Path, entry: &bundle::FileEntry) -> Result<(), String> {
    let mut input = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(src)
        .map_err(|e| format!("cannot open on the stick ({e}; was the stick removed?)"))?;
    let meta = input.metadata().map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() {
        return Err("not a regular file".into());
    }
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let mut out = File::create(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(|e| format!("read error ({e}; was the stick removed?)"))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > entry.size {
            return Err(format!("larger than the {} bytes in the signed manifest", entry.size));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    if size != entry.size {
        return Err(format!("{size} bytes read, {} in the signed manifest (truncated, or the stick was removed)", entry.size));
    }
    let sum = hex(&hasher.finalize());
    if sum != entry.sha256 {
        return Err("content differs from the signed manifest (sha256 mismatch: changed after signing)".into());
    }
    out.sync_all().map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok(())
}

/// Reads only an image's header and refuses unknown formats and pixel counts over `max`.
pub fn check_header(path: &Path, max: u64) -> Result<(), String> {
    let reader = image::ImageReader::open(path).map_err(|e| e.to_string())?.with_guessed_format().map_err(|e| e.to_string())?;
    if reader.format().is_none() {
        return Err("not a JPEG, PNG or WebP image".into());
    }
    let (w, h) = reader.into_dimensions().map_err(|e| format!("unreadable image header ({e})"))?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > max {
        return Err(format!("{w}x{h} = {pixels} pixels, over the limit of {max} (refused before decoding)"));
    }
    Ok(())
}

/// Bytes an unprivileged process may still write in the filesystem of `dir` (None: unknown).
/// (`statvfs` counts are 32 bits wide on armv7, 64 on aarch64 and x86_64.)
#[allow(clippy::useless_conversion)]
/// Bytes free for an unprivileged writer on the filesystem of `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: all-zero is a valid `statvfs` (integers only).
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs reads the NUL-terminated path and writes `s`, both valid for the call.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    Some(u64::from(s.f_bavail).saturating_mul(u64::from(s.f_frsize)))
}

/// fsyncs every file and directory under `dir` (children before parents).
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            sync_tree(&e.path())?;
        } else if t.is_file() {
            File::open(e.path())?.sync_all()?;
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_paths_sit_next_to_the_gallery() {
        let s = Store::new(Path::new("/var/lib/rolemirror/gallery"));
        assert_eq!(s.versions, Path::new("/var/lib/rolemirror/gallery.versions"));
        assert_eq!(s.switch_path(), Path::new("/var/lib/rolemirror/.gallery.switch"));
    }
}
