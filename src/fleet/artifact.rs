//! Mender artifacts for the booth's two update modules, written by Mender's own tool
//! (`mender-artifact write module-image`, Debian package `mender-artifact`): a bundle's tar file
//! for `rolemirror-bundle`, a .deb for `rolemirror-deb`. Each names what is in it, and provides
//! `rolemirror.bundle.version` (the bundle serial) or `rolemirror.package.version`, which a
//! server shows per device.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// The device type booths report and artifacts are made for, unless told otherwise.
pub const DEFAULT_DEVICE_TYPE: &str = "rolemirror-booth";

/// One artifact to write.
pub struct Spec<'a> {
    /// The update module (`rolemirror-bundle`, `rolemirror-deb`).
    pub payload_type: &'a str,
    pub name: String,
    pub device_types: &'a [String],
    pub files: Vec<PathBuf>,
    /// `rolemirror.<what>.version` = `version`.
    pub provides: (&'a str, String),
    /// Mender's own signing key (`mender-artifact -k`): checked by clients configured with
    /// `ArtifactVerifyKey`, in addition to the bundle's signature (which the booth checks).
    pub key: Option<&'a Path>,
    /// State scripts (`ArtifactInstall_Enter_00`, …) to carry along.
    pub scripts: &'a [PathBuf],
}

/// Writes the artifact `out` with `mender-artifact`.
pub fn write(spec: &Spec, out: &Path) -> anyhow::Result<()> {
    let mut cmd = Command::new("mender-artifact");
    cmd.args(["write", "module-image", "--type", spec.payload_type, "--artifact-name", &spec.name]);
    if spec.device_types.is_empty() {
        bail!("no device type: give --device-type (booths report {DEFAULT_DEVICE_TYPE} unless set up otherwise)");
    }
    for t in spec.device_types {
        cmd.args(["--device-type", t]);
    }
    for f in &spec.files {
        cmd.arg("--file").arg(f);
    }
    cmd.args(["--software-filesystem", "rolemirror", "--software-name", spec.provides.0, "--software-version", &spec.provides.1]);
    if let Some(k) = spec.key {
        cmd.arg("--key").arg(k);
    }
    for s in spec.scripts {
        cmd.arg("--script").arg(s);
    }
    cmd.arg("--output-path").arg(out);
    let result = cmd.output();
    let output = match result {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("mender-artifact is not installed (Debian: apt-get install mender-artifact)")
        }
        Err(e) => return Err(e).context("mender-artifact"),
    };
    if !output.status.success() {
        bail!("mender-artifact could not write {}: {}", out.display(), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// Letters, digits, `.`, `_` and `-` only (lower case), for names shown on a server.
fn plain(s: &str) -> String {
    let t: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c.to_ascii_lowercase() } else { '-' }).collect();
    t.trim_matches('-').to_string()
}

/// An artifact name that says what a bundle holds: `rolemirror-gallery-LABEL-s<serial>-<date>`
/// (`gallery-and-config`, `config` for the other kinds; the date is the bundle's creation day).
pub fn bundle_name(label: Option<&str>, gallery: bool, config: bool, serial: u64, created: &str) -> String {
    let kind = match (gallery, config) {
        (true, true) => "gallery-and-config",
        (true, false) => "gallery",
        _ => "config",
    };
    let date: String = created.chars().take(10).filter(char::is_ascii_digit).collect();
    let label = label.map(plain).filter(|l| !l.is_empty()).map(|l| format!("-{l}")).unwrap_or_default();
    format!("rolemirror-{kind}{label}-s{serial}-{date}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_what_is_inside() {
        assert_eq!(
            bundle_name(Some("Open day 2027"), true, false, 1796593062, "2026-12-06T21:37:39Z"),
            "rolemirror-gallery-open-day-2027-s1796593062-20261206"
        );
        assert_eq!(bundle_name(None, false, true, 7, "2026-12-06T00:00:00Z"), "rolemirror-config-s7-20261206");
        assert_eq!(bundle_name(Some("//"), true, true, 7, ""), "rolemirror-gallery-and-config-s7-");
    }
}
