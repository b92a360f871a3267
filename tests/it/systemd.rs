//! The unit files under systemd's own tools: `systemd-analyze verify` prints nothing, and the
//! offline security exposure is at most 2.5.

use std::process::Command;

use crate::common::*;

/// A root with the distribution's units, our unit and the programs it names.
fn root_dir(tmp: &TempDir) -> std::path::PathBuf {
    let r = tmp.path().join("root");
    for d in ["etc/systemd/system", "usr/bin", "bin", "lib/systemd", "usr/lib/rolemirror"] {
        std::fs::create_dir_all(r.join(d)).expect("mkdir");
    }
    let status = Command::new("cp").args(["-r", "/lib/systemd/system"]).arg(r.join("lib/systemd/")).status().expect("cp");
    assert!(status.success());
    std::fs::copy(root().join("systemd/rolemirror.service"), r.join("etc/systemd/system/rolemirror.service")).expect("unit");
    std::fs::copy(env!("CARGO_BIN_EXE_rolemirror"), r.join("usr/bin/rolemirror")).expect("binary");
    std::fs::copy("/bin/kill", r.join("bin/kill")).expect("kill");
    std::fs::copy(root().join("systemd/rolemirror-usb@.service"), r.join("etc/systemd/system/rolemirror-usb@.service")).expect("usb unit");
    std::fs::copy(root().join("systemd/usb-stick"), r.join("usr/lib/rolemirror/usb-stick")).expect("usb helper");
    r
}

#[test]
fn unit_verifies_silently_and_is_well_hardened() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        panic!("systemd-analyze is needed (apt-get install systemd)");
    }
    let tmp = TempDir::new("systemd");
    let r = root_dir(&tmp);
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", r.display()))
        .arg("/etc/systemd/system/rolemirror.service")
        .output()
        .expect("verify runs");
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

#[test]
fn usb_stick_unit_verifies_and_its_helper_parses() {
    let tmp = TempDir::new("systemd-usb");
    let r = root_dir(&tmp);
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", r.display()))
        .arg("/etc/systemd/system/rolemirror-usb@sda1.service")
        .output()
        .expect("verify runs");
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && printed.trim().is_empty(), "systemd-analyze verify said:\n{printed}");
    let helper = root().join("systemd/usb-stick");
    let status = Command::new("sh").arg("-n").arg(&helper).status().expect("sh");
    assert!(status.success(), "usb-stick does not parse");
    // It refuses device names that could escape /media/rolemirror, before touching anything.
    for bad in ["../etc", "sda1;reboot", ""] {
        let out = Command::new("sh").arg(&helper).args([bad, "mount"]).output().expect("sh");
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let rules = std::fs::read_to_string(root().join("systemd/90-rolemirror-usb.rules")).expect("rules");
    let rule = rules.lines().find(|l| !l.starts_with('#') && !l.trim().is_empty()).expect("a rule");
    for want in ["ACTION==\"add\"", "SUBSYSTEM==\"block\"", "ENV{ID_BUS}==\"usb\"", "ENV{SYSTEMD_WANTS}+=\"rolemirror-usb@%k.service\""] {
        assert!(rule.contains(want), "{want} missing from {rule}");
    }
}
