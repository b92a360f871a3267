//! Mender's update-module protocol, version 3, as the client (3.x) speaks it: it runs
//! `/usr/share/mender/modules/v3/TYPE STATE DIR` once per state, with `DIR` as the working
//! directory — the "File API" tree it made for the payload (`…/modules/v3/payloads/0000/tree`):
//!
//! ```text
//! DIR/version, current_artifact_name, current_artifact_group, current_device_type
//! DIR/header/artifact_name, artifact_group, payload_type, header-info, type-info, meta-data
//! DIR/tmp/        empty, for the module; removed with DIR after Cleanup
//! DIR/files/      the payload's files (from ArtifactInstall on, when Download did not stream)
//! ```
//!
//! Order in `mender install` (standalone): `Download`, `SupportsRollback`, `ArtifactInstall`,
//! `NeedsArtifactReboot`; then `mender commit` gives `ArtifactCommit`, `Cleanup`, and `mender
//! rollback` `ArtifactRollback`, `Cleanup`. A failing state leads to `ArtifactRollback` (when
//! supported), `ArtifactFailure` and `Cleanup`. The daemon runs the same states in a row.
//! Unknown states must print nothing and succeed (the protocol grows). This file decides which
//! state is which and what a query answers; the modules ([`super::gallery`], [`super::deb`])
//! do the work.

use std::fs;
use std::path::{Path, PathBuf};

/// One call of an update module: a state to carry out or a query to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `Download`: the module may stream the payload itself; ours let the client store it in
    /// `files/` (checksums verified by the client before `ArtifactInstall`).
    Download,
    ArtifactInstall,
    ArtifactCommit,
    ArtifactRollback,
    ArtifactFailure,
    Cleanup,
    /// A query: print this answer on stdout.
    Answer(&'static str),
    /// Any other state (reboot states we never ask for, states of later protocol versions):
    /// nothing to do, success.
    Nothing,
}

/// What `STATE` asks of a module that supports rollback (`rollback`) and never needs a reboot.
pub fn call(state: &str, rollback: bool) -> Call {
    match state {
        "Download" => Call::Download,
        "ArtifactInstall" => Call::ArtifactInstall,
        "ArtifactCommit" => Call::ArtifactCommit,
        "ArtifactRollback" if rollback => Call::ArtifactRollback,
        "ArtifactFailure" => Call::ArtifactFailure,
        "Cleanup" => Call::Cleanup,
        "SupportsRollback" => Call::Answer(if rollback { "Yes" } else { "No" }),
        "NeedsArtifactReboot" => Call::Answer("No"),
        _ => Call::Nothing,
    }
}

/// The File API tree the client made for this payload.
#[derive(Debug, Clone)]
pub struct Tree {
    pub dir: PathBuf,
}

/// The longest value read from one of the client's small files.
const MAX_HEADER_FILE: u64 = 64 * 1024;

impl Tree {
    pub fn new(dir: &Path) -> Tree {
        Tree { dir: dir.to_path_buf() }
    }

    fn small(&self, rel: &str) -> String {
        let path = self.dir.join(rel);
        match fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() <= MAX_HEADER_FILE => {
                fs::read_to_string(&path).map(|s| s.trim().to_string()).unwrap_or_default()
            }
            _ => String::new(),
        }
    }

    /// The artifact being installed (`header/artifact_name`).
    pub fn artifact_name(&self) -> String {
        self.small("header/artifact_name")
    }

    /// The artifact installed before (`current_artifact_name`).
    pub fn current_artifact_name(&self) -> String {
        self.small("current_artifact_name")
    }

    /// The payload's files (`files/`), sorted by name; an error names the tree when the client
    /// has not stored them (the payload was streamed, or the state is too early).
    pub fn files(&self) -> Result<Vec<PathBuf>, String> {
        let dir = self.dir.join("files");
        let entries = fs::read_dir(&dir).map_err(|e| format!("{}: no payload files ({e})", dir.display()))?;
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        Ok(files)
    }

    /// The single payload file named `name`, refusing an artifact with other files (made for
    /// another module, or by hand).
    pub fn only_file(&self, name: &str) -> Result<PathBuf, String> {
        let files = self.files()?;
        let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
        match names.as_slice() {
            [one] if one == name => Ok(files[0].clone()),
            _ => Err(format!(
                "the artifact's payload must be the one file {name} (it has: {}); make it with `rolemirror bundle create --mender`",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_queries_as_the_client_sends_them() {
        assert_eq!(call("SupportsRollback", true), Call::Answer("Yes"));
        assert_eq!(call("SupportsRollback", false), Call::Answer("No"));
        assert_eq!(call("NeedsArtifactReboot", true), Call::Answer("No"));
        assert_eq!(call("ArtifactInstall", true), Call::ArtifactInstall);
        assert_eq!(call("ArtifactRollback", true), Call::ArtifactRollback);
        // Without rollback support the client never asks; if it did, nothing is done.
        assert_eq!(call("ArtifactRollback", false), Call::Nothing);
        for later in ["ArtifactReboot", "ArtifactVerifyReboot", "SupportsAugmentedArtifacts", "SomethingNew", ""] {
            assert_eq!(call(later, true), Call::Nothing, "{later}");
        }
    }

    #[test]
    fn the_payload_must_be_the_one_named_file() {
        let dir = std::env::temp_dir().join(format!("rolemirror-tree-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let tree = Tree::new(&dir);
        assert!(tree.only_file("x.tar").unwrap_err().contains("no payload files"));
        fs::create_dir_all(dir.join("files")).unwrap();
        fs::create_dir_all(dir.join("header")).unwrap();
        fs::write(dir.join("header/artifact_name"), "gallery-7\n").unwrap();
        assert_eq!(tree.artifact_name(), "gallery-7");
        assert_eq!(tree.current_artifact_name(), "");
        assert!(tree.only_file("x.tar").unwrap_err().contains("(it has: none)"));
        fs::write(dir.join("files/x.tar"), b"").unwrap();
        assert_eq!(tree.only_file("x.tar").unwrap(), dir.join("files/x.tar"));
        fs::write(dir.join("files/extra.deb"), b"").unwrap();
        assert!(tree.only_file("x.tar").unwrap_err().contains("extra.deb, x.tar"));
        let _ = fs::remove_dir_all(&dir);
    }
}
