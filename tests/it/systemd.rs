//! The unit files under systemd's own tools: `systemd-analyze verify` prints nothing, and the
//! offline security exposure is at most 2.5.

use std::process::Command;

use crate::common::*;

/// A root with the distribution's units, our unit and the programs it names.
fn root_dir(tmp: &TempDir) -> std::path::PathBuf {
    let r = tmp.path().join("root");
    for d in ["etc/systemd/system", "usr/bin", "bin", "lib/systemd"] {
        std::fs::create_dir_all(r.join(d)).expect("mkdir");
    }
    let status = Command::new("cp").args(["-r", "/lib/systemd/system"]).arg(r.join("lib/systemd/")).status().expect("cp");
    assert!(status.success());
    std::fs::copy(root().join("systemd/rolemirror.service"), r.join("etc/systemd/system/rolemirror.service")).expect("unit");
    std::fs::copy(env!("CARGO_BIN_EXE_rolemirror"), r.join("usr/bin/rolemirror")).expect("binary");
    std::fs::copy("/bin/kill", r.join("bin/kill")).expect("kill");
    r
}

#[test]
fn unit_verifies_silently_and_is_well_hardened() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        panic!("systemd-analyze is needed (apt-get install systemd)");
    }
    let tmp = TempDir::new("systemd");
    let r = root_dir(&tmp);
    let out = Command::new("systemd-analyze").arg("verify").arg(format!("--root={}", r.display())).arg("/etc/systemd/system/rolemirror.service").output().expect("verify runs");
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && printed.trim().is_empty(), "systemd-analyze verify said:\n{printed}");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(format!("--root={}", r.display()))
        .arg("rolemirror.service")
        .output()
        .expect("security runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f32 = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    eprintln!("systemd-analyze security exposure: {score}");
    assert!(score <= 2.5, "exposure {score}:\n{text}");
}
