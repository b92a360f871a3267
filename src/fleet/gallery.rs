//! `rolemirror-bundle`: the update module for galleries and settings. An artifact carries the
//! same signed bundle as a USB stick (one tar file, [`super::payload`]); the module unpacks it
//! and runs the USB import on it unchanged — the booth's trusted keys decide, whatever Mender's
//! own artifact signature says — under the gallery store's one lock, so a stick and Mender never
//! install at the same time.
//!
//! The states (next to the active gallery `G`, in `G.versions/`):
//!
//! - `ArtifactInstall`: the store's state (active gallery, previous, installed serial) and the
//!   config file are recorded in `mender.json` and `mender-config.before`; the payload is
//!   unpacked into `mender-incoming/` and imported (verified, copied, indexed, switched with one
//!   rename); the running booth is told to reload (SIGHUP). A refusal undoes nothing because
//!   nothing was changed, and the record goes.
//! - `ArtifactCommit`: waits until the booth runs the new serial (its health snapshot), then
//!   drops the record. A booth that comes back on its service screen fails the commit, and the
//!   client rolls back.
//! - `ArtifactRollback`: the recorded state back ([`Store::restore`]: the previous gallery
//!   active again, the installed serial as it was, so the same artifact may be tried again) and
//!   the config as it was; the booth reloads. Run again after a crash, it finishes the job.
//!
//! Every step is one atomic rename or write, and the record is dropped last: a power cut leaves
//! the old gallery or the new one, and a later rollback (or the next install, which rolls back a
//! record it finds) puts the old one back. Had another install (a USB stick) changed the store
//! after ours, a rollback leaves it alone and says so.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::booth::{self, Before, Expect};
use super::payload;
use super::protocol::Tree;
use crate::config::Config;
use crate::gallery::index::PhotoRules;
use crate::usb::bundle::{self, Limits};
use crate::usb::install::{self, Active, ImportOptions, Lock, Outcome, Store, StoreState};
use crate::util::{sha256_bytes, write_atomic};
use crate::vision::Vision;

/// The update module's name (the artifact's payload type).
pub const TYPE: &str = "rolemirror-bundle";
const RECORD: &str = "mender.json";
const CONFIG_BEFORE: &str = "mender-config.before";
const INCOMING: &str = "mender-incoming";
const FORMAT: u32 = 1;

/// What an install did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub serial: u64,
    pub role_models: Option<usize>,
    /// sha256 of the config the bundle installed (None: the bundle had no config).
    pub config_sha256: Option<String>,
}

/// An install not yet committed or rolled back (`G.versions/mender.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub format: u32,
    pub artifact: String,
    pub started_unix: u64,
    /// The store before the install.
    pub before: StoreState,
    /// sha256 of the config file before (None: there was none); its bytes are in
    /// `mender-config.before`.
    pub config_before: Option<String>,
    /// The serial the bundle's manifest names (read before it is verified: only to recognise
    /// the version an install made).
    pub serial: Option<u64>,
    /// Set once the install switched.
    pub done: Option<Done>,
    pub booth: Before,
}

/// Where the store is compared with a record: whose change it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// As before the install: nothing to undo, or ours to undo.
    Ours,
    /// Another install (a USB stick) changed it after ours: leave it.
    Theirs,
}

/// Decides whether the store as it is `now` still holds the install recorded in `p` (no I/O).
pub fn whose(p: &Pending, now: &StoreState) -> Whose {
    let serial = p.done.as_ref().map(|d| d.serial).or(p.serial);
    let ours = |a: &Active| match (a, serial) {
        (Active::Link(t), Some(s)) => t.ends_with(Path::new(&format!("v{s}")).join(bundle::GALLERY_DIR)),
        _ => false,
    };
    let newer = match (now.installed.as_ref(), serial) {
        (Some(i), Some(s)) => i.serial > s,
        (Some(i), None) => p.before.installed.as_ref().is_none_or(|b| i.serial > b.serial),
        _ => false,
    };
    if newer || (now.active != p.before.active && !ours(&now.active)) {
        Whose::Theirs
    } else {
        Whose::Ours
    }
}

/// One line for an installed bundle.
fn installed_text(serial: u64, role_models: Option<usize>, config: bool, signer: &str) -> String {
    let mut what = format!("installed bundle serial {serial}, signed by key {signer}");
    if let Some(n) = role_models {
        what += &format!(": a gallery of {n} role models");
    }
    if config {
        what += if role_models.is_some() { " and a config" } else { ": a config" };
    }
    what
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Messages for the client's log (and the deployment log a server shows).
pub fn say(msg: &str) {
    eprintln!("{TYPE}: {msg}");
}

/// The module, set up from the booth's config.
pub struct Module {
    pub config_path: PathBuf,
    /// The config as loaded; when it does not load, its usable sections (as the daemon's service
    /// screen runs) and `current` is None: a signed config may then repair it.
    pub config: Config,
    pub current: Option<Config>,
    pub store: Store,
    /// How long a commit waits for the booth to run the new gallery.
    pub booth_timeout: Duration,
    /// How long an install waits for a USB import holding the store's lock.
    pub lock_timeout: Duration,
}

impl Module {
    pub fn new(config_path: &Path, booth_timeout: Duration) -> Module {
        let (config, current) = match Config::load(config_path) {
            Ok(c) => (c.clone(), Some(c)),
            Err(e) => {
                for p in &e.problems {
                    say(&format!("{}: {p} (going on with its usable sections, as the booth does)", config_path.display()));
                }
                (Config::lenient(config_path), None)
            }
        };
        let store = Store::new(&config.gallery.dir);
        Module { config_path: config_path.to_path_buf(), config, current, store, booth_timeout, lock_timeout: Duration::from_secs(600) }
    }

    /// The folder whose owner (the booth's user) the module runs as.
    pub fn home(&self) -> PathBuf {
        self.store.versions.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
    }

    fn record_path(&self) -> PathBuf {
        self.store.versions.join(RECORD)
    }

    /// The unfinished install, if any (an unreadable record is reported and treated as none).
    pub fn pending(&self) -> Option<Pending> {
        let bytes = fs::read(self.record_path()).ok()?;
        match serde_json::from_slice::<Pending>(&bytes) {
            Ok(p) => Some(p),
            Err(e) => {
                say(&format!("{}: unreadable ({e}); ignored", self.record_path().display()));
                None
            }
        }
    }

    fn save(&self, p: &Pending) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(p).map_err(|e| e.to_string())?;
        write_atomic(&self.record_path(), &bytes).map_err(|e| format!("{}: cannot write ({e})", self.record_path().display()))
    }

    /// The store's lock, waiting (up to `lock_timeout`) for a USB import that holds it.
    fn lock(&self) -> Result<Lock, String> {
        let start = Instant::now();
        let mut said = false;
        loop {
            match self.store.lock() {
                Ok(l) => return Ok(l),
                Err(e) if start.elapsed() >= self.lock_timeout => return Err(format!("{e:#}")),
                Err(e) => {
                    if !said {
                        say(&format!("waiting: {e:#}"));
                        said = true;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    /// Drops the record (the last step of a commit or rollback) and tidies the store.
    fn forget(&self, _lock: &Lock) -> Result<(), String> {
        for f in [RECORD, CONFIG_BEFORE] {
            match fs::remove_file(self.store.versions.join(f)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(format!("{}: cannot remove ({e})", f)),
                _ => {}
            }
        }
        let _ = crate::util::sync_dir(&self.store.versions);
        for what in self.store.recover() {
            log::debug!("{what}");
        }
        Ok(())
    }

    /// Puts back what `p` recorded, unless another install changed the store since.
    fn undo(&self, lock: &Lock, p: &Pending) -> Result<String, String> {
        let now = self.store.state();
        if whose(p, &now) == Whose::Theirs {
            return Ok(format!(
                "nothing rolled back: another install (serial {}) changed the gallery after this one, and stays",
                now.installed.as_ref().map_or(0, |i| i.serial)
            ));
        }
        // The config first: the version holding the bundle's copy may go with the store's tidying.
        let current = fs::read(&self.config_path).ok();
        let installed_config = p.done.as_ref().and_then(|d| d.config_sha256.clone()).or_else(|| {
            let copy = self.store.versions.join(format!("v{}", p.serial?)).join(bundle::CONFIG_FILE);
            fs::read(copy).ok().map(|b| sha256_bytes(&b))
        });
        let ours = current.as_deref().map(sha256_bytes);
        let mut config_note = "";
        if installed_config.is_some() && ours == installed_config && ours != p.config_before {
            match fs::read(self.store.versions.join(CONFIG_BEFORE)) {
                Ok(bytes) if p.config_before.as_deref() == Some(sha256_bytes(&bytes).as_str()) => {
                    write_atomic(&self.config_path, &bytes).map_err(|e| format!("{}: cannot restore ({e})", self.config_path.display()))?;
                    config_note = ", the config as it was";
                }
                _ if p.config_before.is_none() => {
                    fs::remove_file(&self.config_path).map_err(|e| format!("{}: cannot remove ({e})", self.config_path.display()))?;
                    config_note = ", no config (as before)";
                }
                _ => {
                    return Err(format!("{}: the saved config is gone or changed; the config is left as the bundle set it", CONFIG_BEFORE))
                }
            }
        }
        if now == p.before && config_note.is_empty() {
            return Ok("nothing to roll back: the gallery and config were not changed".into());
        }
        self.store.restore(lock, &p.before).map_err(|e| format!("{e:#}"))?;
        let serial = p.before.installed.as_ref().map_or(0, |i| i.serial);
        Ok(format!("rolled back: the gallery before the install is active again (installed serial {serial}){config_note}"))
    }

    /// `ArtifactInstall`: `payload` is the artifact's tar file, opened before root was given up.
    pub fn install(&self, tree: &Tree, payload: File) -> Result<String, String> {
        let lock = self.lock()?;
        for what in self.store.recover() {
            say(&what);
        }
        if let Some(p) = self.pending() {
            say(&format!("an earlier install (artifact {}) was never committed or rolled back: rolling it back first", p.artifact));
            say(&self.undo(&lock, &p)?);
            self.forget(&lock)?;
        }
        let config_bytes = fs::read(&self.config_path).ok();
        let before_path = self.store.versions.join(CONFIG_BEFORE);
        match &config_bytes {
            Some(b) => write_atomic(&before_path, b).map_err(|e| format!("{}: cannot write ({e})", before_path.display()))?,
            None => {
                let _ = fs::remove_file(&before_path);
            }
        }
        let mut pending = Pending {
            format: FORMAT,
            artifact: tree.artifact_name(),
            started_unix: unix_now(),
            before: self.store.state(),
            config_before: config_bytes.as_deref().map(sha256_bytes),
            serial: None,
            done: None,
            booth: booth::before(&self.config),
        };
        self.save(&pending)?;
        let incoming = self.store.versions.join(INCOMING);
        let _ = fs::remove_dir_all(&incoming);
        let outcome = self.unpack_and_import(&lock, payload, &incoming, &mut pending);
        let _ = fs::remove_dir_all(&incoming);
        let result = match outcome {
            Ok(Outcome::Installed { serial, role_models, config, signer }) => {
                let config_sha256 = if config { fs::read(&self.config_path).ok().map(|b| sha256_bytes(&b)) } else { None };
                pending.done = Some(Done { serial, role_models, config_sha256 });
                self.save(&pending)?;
                drop(lock);
                return Ok(format!("{}{}", installed_text(serial, role_models, config, &signer), self.reload_note("starts on it")));
            }
            Ok(Outcome::AlreadyInstalled { serial }) => Ok(format!("bundle serial {serial} is already installed: nothing to change")),
            Ok(Outcome::Refused(r)) => Err(r.0),
            Err(e) => Err(vec![e]),
        };
        // Refused, or already there: nothing was switched (undo makes sure) and the record goes.
        let undone = self.undo(&lock, &pending)?;
        if !undone.starts_with("nothing") {
            say(&undone);
        }
        self.forget(&lock)?;
        result.map_err(|reasons| {
            let mut text = format!("REFUSED ({} reason(s)); the booth keeps its gallery and config:", reasons.len());
            for r in reasons {
                text += &format!("\n  {r}");
            }
            text
        })
    }

    /// Tells the running booth to reload; how that went, for the message.
    fn reload_note(&self, idle: &str) -> String {
        match booth::reload(&self.config) {
            Ok(true) => "; the booth reloads onto it".into(),
            Ok(false) => format!("; the booth is not running ({idle})"),
            Err(e) => {
                say(&e);
                "; the booth could not be told to reload".into()
            }
        }
    }

    fn unpack_and_import(&self, lock: &Lock, payload: File, incoming: &Path, pending: &mut Pending) -> Result<Outcome, String> {
        let limits = Limits::from(&self.config.usb);
        say("unpacking the bundle");
        let root = payload::extract(payload, incoming, &limits)?;
        // The serial only recognises the version this install makes; the import verifies it.
        pending.serial = fs::read(root.join(bundle::MANIFEST_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<bundle::BundleManifest>(&b).ok())
            .map(|m| m.serial);
        self.save(pending)?;
        let (keys, problems) = bundle::trusted_keys(&self.config.usb.trusted_keys);
        for p in problems {
            say(&format!("usb.trusted_keys: {p}"));
        }
        let opts = ImportOptions {
            keys: &keys,
            limits,
            rules: PhotoRules { max_pixels: limits.max_pixels, ..PhotoRules::default() },
            config_path: Some(&self.config_path),
            current: self.current.as_ref(),
        };
        let vision = || Vision::open(&self.config.vision).map(Arc::new);
        let mut last = String::new();
        Ok(install::import_locked(lock, &root, &self.store, &opts, &vision, &mut |p| {
            // One line per step (not per photo): the client logs each line.
            let step = p.step.split(' ').next().unwrap_or_default().to_string();
            if step != last {
                say(&format!("import step: {}", p.step));
                last = step;
            }
        }))
    }

    /// `ArtifactCommit`: the booth runs the new gallery, or the commit fails (and the client
    /// rolls back).
    pub fn commit(&self) -> Result<String, String> {
        let Some(p) = self.pending() else {
            return Ok("nothing to commit: this artifact's bundle was already installed".into());
        };
        let Some(done) = &p.done else {
            return Err("the install did not finish (interrupted?): nothing to commit; the client rolls it back".into());
        };
        if p.booth.pid.is_some() || booth::live(&self.config).is_some() {
            let ok = booth::wait(&self.config, &Expect::Serial(done.serial), p.booth.running, self.booth_timeout, &mut |m| say(m))?;
            say(&ok);
        }
        let lock = self.lock()?;
        self.forget(&lock)?;
        Ok(format!("committed bundle serial {} (artifact {})", done.serial, p.artifact))
    }

    /// `ArtifactRollback`.
    pub fn rollback(&self) -> Result<String, String> {
        let lock = self.lock()?;
        let Some(p) = self.pending() else {
            return Ok("nothing to roll back: the gallery and config were not changed (no install recorded)".into());
        };
        let what = self.undo(&lock, &p)?;
        self.forget(&lock)?;
        drop(lock);
        Ok(format!("{what}{}", self.reload_note("nothing to reload")))
    }

    /// `Cleanup` and `ArtifactFailure`: what an interrupted unpacking left.
    pub fn cleanup(&self) -> Result<String, String> {
        let incoming = self.store.versions.join(INCOMING);
        if incoming.exists() {
            fs::remove_dir_all(&incoming).map_err(|e| format!("{}: cannot remove ({e})", incoming.display()))?;
        }
        Ok(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usb::install::Installed;

    fn state(active: &str, serial: u64) -> StoreState {
        StoreState {
            active: Active::Link(PathBuf::from(active)),
            previous: None,
            installed: Some(Installed { serial, created: String::new(), signer: String::new() }),
        }
    }

    fn pending(serial: Option<u64>, done: bool) -> Pending {
        Pending {
            format: FORMAT,
            artifact: "a".into(),
            started_unix: 0,
            before: state("gallery.versions/v5/gallery", 5),
            config_before: None,
            serial,
            done: done.then(|| Done { serial: serial.unwrap_or(0), role_models: Some(2), config_sha256: None }),
            booth: Before { pid: None, running: false },
        }
    }

    #[test]
    fn a_rollback_undoes_its_own_install_and_leaves_a_later_one() {
        // Switched to ours (v7), finished or not.
        assert_eq!(whose(&pending(Some(7), true), &state("gallery.versions/v7/gallery", 7)), Whose::Ours);
        assert_eq!(whose(&pending(Some(7), false), &state("gallery.versions/v7/gallery", 7)), Whose::Ours);
        // Interrupted before the switch: as before.
        assert_eq!(whose(&pending(Some(7), false), &state("gallery.versions/v5/gallery", 5)), Whose::Ours);
        assert_eq!(whose(&pending(None, false), &state("gallery.versions/v5/gallery", 5)), Whose::Ours);
        // A config-only bundle: the gallery stays, the serial moved to ours.
        assert_eq!(whose(&pending(Some(7), true), &state("gallery.versions/v5/gallery", 7)), Whose::Ours);
        // A USB stick installed serial 9 after ours: leave it.
        assert_eq!(whose(&pending(Some(7), true), &state("gallery.versions/v9/gallery", 9)), Whose::Theirs);
        assert_eq!(whose(&pending(Some(7), true), &state("gallery.versions/v7/gallery", 9)), Whose::Theirs);
        // Unknown serial (interrupted while unpacking) yet the store changed: not ours.
        assert_eq!(whose(&pending(None, false), &state("gallery.versions/v9/gallery", 9)), Whose::Theirs);
        // v17 is not v7.
        assert_eq!(whose(&pending(Some(7), true), &state("gallery.versions/v17/gallery", 7)), Whose::Theirs);
    }
}
