//! `rolemirror-deb`: the booth's own package through Mender.
//!
//! Mender's (and Debian's) `deb` update module runs `dpkg -i` and nothing else. Under the
//! client's service its standard input is `/dev/null`, so when a booth's config was edited (or
//! replaced by a bundle) and a new package ships a changed default config, dpkg's conffile
//! question meets end of file and the upgrade stops half-configured ("end of file on stdin at
//! conffile prompt": the new files unpacked, the postinst never run). This module installs with
//! `--force-confdef --force-confold` (the booth's config stays; the package's new default lands
//! beside it as `rolemirror.toml.dpkg-dist`), only a `rolemirror` package, and its commit waits
//! until the booth runs again after the package's postinst restarted it. The gallery and the
//! counters live in `/var/lib/rolemirror`, which a package upgrade never touches.
//!
//! There is no rollback: dpkg keeps no copy of the package it replaces. A booth that does not
//! come back fails the commit, and the deployment is marked failed on the server.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::booth::{self, Before, Expect};
use super::protocol::Tree;
use crate::config::Config;

/// The update module's name.
pub const TYPE: &str = "rolemirror-deb";
/// The one package it installs.
pub const PACKAGE: &str = "rolemirror";
const RECORD: &str = "rolemirror-deb.json";

/// Messages for the client's log.
pub fn say(msg: &str) {
    eprintln!("{TYPE}: {msg}");
}

/// What the install saw, kept in the payload's `tmp/` until the commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    version: String,
    started_unix: u64,
    booth: Before,
}

pub struct Module {
    pub config: Config,
    pub package: String,
    /// Install into this root instead of `/` (dpkg `--root`: an image being built, the tests).
    pub dpkg_root: Option<PathBuf>,
    pub booth_timeout: Duration,
}

/// A field of a .deb's control file (`dpkg-deb --field`).
pub fn field(deb: &Path, name: &str) -> Result<String, String> {
    let out = Command::new("dpkg-deb").arg("--field").arg(deb).arg(name).output().map_err(|e| format!("dpkg-deb: {e}"))?;
    if !out.status.success() {
        return Err(format!("{}: not a Debian package ({})", deb.display(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Module {
    pub fn new(config_path: &Path, booth_timeout: Duration) -> Module {
        let config = Config::load(config_path).unwrap_or_else(|_| Config::lenient(config_path));
        Module { config, package: PACKAGE.into(), dpkg_root: None, booth_timeout }
    }

    fn dpkg(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        if let Some(root) = &self.dpkg_root {
            if program == "dpkg" {
                cmd.arg(format!("--root={}", root.display()));
            } else {
                cmd.arg(format!("--admindir={}", root.join("var/lib/dpkg").display()));
            }
        }
        cmd.env("DEBIAN_FRONTEND", "noninteractive").stdin(Stdio::null());
        cmd
    }

    /// The installed package's status and version (`dpkg-query`).
    fn installed(&self) -> Option<(String, String)> {
        let out = self.dpkg("dpkg-query").args(["-W", "-f", "${Status}\t${Version}"]).arg(&self.package).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (status, version) = text.split_once('\t')?;
        Some((status.to_string(), version.to_string()))
    }

    /// `ArtifactInstall`.
    pub fn install(&self, tree: &Tree) -> Result<String, String> {
        let files = tree.files()?;
        let deb = match files.as_slice() {
            [one] if one.extension().is_some_and(|e| e == "deb") => one.clone(),
            _ => return Err(format!("the artifact's payload must be one .deb file (it has {} file(s))", files.len())),
        };
        let package = field(&deb, "Package")?;
        if package != self.package {
            return Err(format!(
                "{}: package {package:?}, not {:?}: refused (this module installs only the booth's own package)",
                deb.display(),
                self.package
            ));
        }
        let version = field(&deb, "Version")?;
        let record = Record {
            version: version.clone(),
            started_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            booth: booth::before(&self.config),
        };
        let path = tree.dir.join("tmp").join(RECORD);
        let bytes = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
        crate::util::write_atomic(&path, &bytes).map_err(|e| format!("{}: cannot write ({e})", path.display()))?;
        let was = self.installed().map(|(_, v)| v).unwrap_or_else(|| "none".into());
        say(&format!("installing {package} {version} over {was} (dpkg --force-confdef --force-confold: the booth's config stays)"));
        let out = self
            .dpkg("dpkg")
            .args(["--force-confdef", "--force-confold", "--install"])
            .arg(&deb)
            .output()
            .map_err(|e| format!("dpkg: {e}"))?;
        for line in String::from_utf8_lossy(&out.stdout).lines().chain(String::from_utf8_lossy(&out.stderr).lines()) {
            say(&format!("dpkg: {line}"));
        }
        if !out.status.success() {
            return Err(format!(
                "dpkg failed ({}); on the booth, `dpkg --configure -a` finishes a half-done install, `journalctl -u mender-client` has dpkg's lines",
                out.status
            ));
        }
        match self.installed() {
            Some((status, v)) if status == "install ok installed" && v == version => Ok(format!("installed {package} {version}")),
            other => Err(format!("dpkg ended, but {package} is {other:?}, not {version} installed")),
        }
    }

    /// `ArtifactCommit`: the booth that ran before runs again, restarted by the new package.
    pub fn commit(&self, tree: &Tree) -> Result<String, String> {
        let path = tree.dir.join("tmp").join(RECORD);
        let record: Record = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| format!("{}: missing: the install did not finish", path.display()))?;
        if record.booth.pid.is_none() && booth::live(&self.config).is_none() {
            return Ok(format!("committed {} {} (the booth was not running)", self.package, record.version));
        }
        let ok =
            booth::wait(&self.config, &Expect::StartedSince(record.started_unix), record.booth.running, self.booth_timeout, &mut |m| {
                say(m)
            })?;
        Ok(format!("committed {} {}: {ok}", self.package, record.version))
    }
}
