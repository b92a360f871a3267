//! Many booths through Mender (docs/fleet.md): the booth's side of the fleet-update engine that
//! runs beside it. Nothing here runs inside the daemon, which still opens no socket: the Mender
//! client, a separate and optional process, runs these as update modules and as an inventory
//! script, and they reach the booth only through its files (the gallery store, the health
//! snapshot) and a SIGHUP.
//!
//! - [`protocol`]: Mender's update-module protocol v3 (the states, the queries, the File API).
//! - [`gallery`]: `rolemirror-bundle`, galleries and settings: the USB import, under its lock.
//! - [`payload`]: the signed bundle as one tar file, unpacked within the USB limits.
//! - [`deb`]: `rolemirror-deb`, the booth's own package.
//! - [`booth`]: the running booth seen from outside: reloaded, waited for; the booth's user.
//! - [`inventory`]: inventory attributes from the health report.
//! - [`artifact`]: artifacts written with `mender-artifact`.

pub mod artifact;
pub mod booth;
pub mod deb;
pub mod gallery;
pub mod inventory;
pub mod payload;
pub mod protocol;

use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::{Call, Tree};

/// Settings of an update module run.
#[derive(Debug, Clone)]
pub struct ModuleOptions {
    /// The booth's config file.
    pub config: PathBuf,
    /// How long a commit waits for the booth to come back on the update.
    pub booth_timeout: Duration,
    /// `rolemirror-deb` only: install into this root (dpkg `--root`).
    pub dpkg_root: Option<PathBuf>,
}

/// Runs update module `kind` for one call from the client (`STATE DIR`). `Ok(Some(answer))`:
/// a query's answer for stdout; `Err`: the state failed (the client then rolls back or fails
/// the deployment), with the reason.
pub fn run_module(kind: &str, state: &str, dir: &Path, opts: &ModuleOptions) -> Result<Option<String>, String> {
    match kind {
        gallery::TYPE => run_gallery(state, dir, opts),
        deb::TYPE => run_deb(state, dir, opts),
        other => Err(format!("unknown update module {other:?} (this booth has {} and {})", gallery::TYPE, deb::TYPE)),
    }
}

fn run_gallery(state: &str, dir: &Path, opts: &ModuleOptions) -> Result<Option<String>, String> {
    let call = protocol::call(state, true);
    match call {
        Call::Answer(a) => return Ok(Some(a.to_string())),
        Call::Nothing | Call::Download => return Ok(None),
        _ => {}
    }
    let tree = Tree::new(dir);
    // The client's tree is root's alone: the payload is opened before root is given up.
    let payload = match call {
        Call::ArtifactInstall => {
            let path = tree.only_file(payload::PAYLOAD_FILE)?;
            Some(std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        _ => None,
    };
    let module = gallery::Module::new(&opts.config, opts.booth_timeout);
    let (uid, gid) = booth::owner(&module.home())?;
    booth::drop_to(uid, gid)?;
    // The booth's own file modes (its unit has UMask=0077).
    // SAFETY: umask(2) only sets this process's file mode mask.
    unsafe { libc::umask(0o077) };
    let done = match (call, payload) {
        (Call::ArtifactInstall, Some(file)) => module.install(&tree, file)?,
        (Call::ArtifactCommit, _) => module.commit()?,
        (Call::ArtifactRollback, _) => module.rollback()?,
        (Call::ArtifactFailure, _) | (Call::Cleanup, _) => module.cleanup()?,
        _ => String::new(),
    };
    if !done.is_empty() {
        gallery::say(&done);
    }
    Ok(None)
}

fn run_deb(state: &str, dir: &Path, opts: &ModuleOptions) -> Result<Option<String>, String> {
    let call = protocol::call(state, false);
    let tree = Tree::new(dir);
    let mut module = deb::Module::new(&opts.config, opts.booth_timeout);
    module.dpkg_root = opts.dpkg_root.clone();
    let done = match call {
        Call::Answer(a) => return Ok(Some(a.to_string())),
        Call::ArtifactInstall => module.install(&tree)?,
        Call::ArtifactCommit => module.commit(&tree)?,
        Call::ArtifactFailure => "the booth keeps whatever dpkg left: a package upgrade cannot be rolled back".to_string(),
        _ => String::new(),
    };
    if !done.is_empty() {
        deb::say(&done);
    }
    Ok(None)
}
