//! `rolemirror doctor` on real install trees: a good one (every check ok, exit 0), a broken one
//! (each check names what is wrong and the next step, exit 1), and a running booth (the camera
//! and screen lines from its health snapshot, the camera not opened a second time).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::*;

/// An install tree in `dir`: the demo gallery with its index, the models, a trusted key, a replay
/// camera over the demo visitors, a PNG screen, state under `dir/state`.
fn good_tree(tmp: &TempDir) -> std::path::PathBuf {
    let dir = tmp.path();
    let gallery = demo_gallery(tmp);
    let keys = dir.join("trusted-keys");
    let out = rolemirror(&["keygen", "--out", s(&keys), "--name", "technician"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_file(keys.join("technician.key")).expect("only the public key stays on a booth");
    let config = crate::booth::booth_config(dir, &dir.join("visitors"), &gallery, true);
    let text = std::fs::read_to_string(&config).expect("config") + &format!("[usb]\ntrusted_keys = \"{}\"\n", keys.display());
    std::fs::write(&config, text).expect("config");
    config
}

fn doctor(config: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Output, Vec<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rolemirror"));
    cmd.args(["doctor", "--config", s(config)]).args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("doctor runs");
    let lines = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    (out, lines)
}

/// The line of `check`.
fn line<'a>(lines: &'a [String], check: &str) -> &'a str {
    lines.iter().find(|l| l.split_whitespace().next() == Some(check)).unwrap_or_else(|| panic!("no {check} line in {lines:#?}"))
}

#[test]
fn a_good_install_passes_every_check() {
    let tmp = TempDir::new("doctor-good");
    let config = good_tree(&tmp);
    let (out, lines) = doctor(&config, &["--skip", "service"], &[]);
    assert_eq!(out.status.code(), Some(0), "{lines:#?}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines.len(), 9, "one line per check and the verdict: {lines:#?}");
    for check in ["config", "camera", "screen", "models", "gallery", "keys", "cpuinfo"] {
        assert!(line(&lines, check).starts_with(&format!("{check:<8} ok    ")), "{lines:#?}");
    }
    assert!(line(&lines, "camera").contains("3 frames of"), "{lines:#?}");
    assert!(line(&lines, "gallery").contains("12 role models"), "{lines:#?}");
    assert!(line(&lines, "keys").contains("1 trusted key(s)"), "{lines:#?}");
    assert_eq!(line(&lines, "service"), "service  skip  (--skip)");
    assert_eq!(lines.last().map(String::as_str), Some("doctor: all checks passed"));
    // The JSON form: one object per check.
    let (out, lines) = doctor(&config, &["--skip", "service", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let checks: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(checks.len(), 8);
    assert!(checks.iter().all(|c| c["ok"] == serde_json::json!(true) || c["check"] == "service"), "{checks:#?}");
    let (out, _) = doctor(&config, &["--skip", "camra"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--skip camra: not a check"));
}

/// Everything but the config broken at once: a libcamera camera without its program, a screen
/// that is not there, a corrupt model (so the gallery cannot be checked), a garbage key, no
/// systemd to ask. Then a config with a key out of range.
#[test]
fn a_broken_install_names_each_problem_and_the_next_step() {
    let tmp = TempDir::new("doctor-broken");
    let dir = tmp.path();
    let models = dir.join("models");
    for e in std::fs::read_dir(crate::common::models()).expect("models").flatten().filter(|e| e.path().is_dir()) {
        let to = models.join(e.file_name());
        std::fs::create_dir_all(&to).expect("mkdir");
        for f in std::fs::read_dir(e.path()).expect("model dir").flatten() {
            std::fs::copy(f.path(), to.join(f.file_name())).expect("copy");
        }
    }
    // The embedder, cut short (a copy interrupted).
    let manifest = rolemirror::models::Manifest::builtin().expect("manifest");
    let embedder = manifest.get(&manifest.default_embedder).expect("embedder");
    let bytes = std::fs::read(models.join(&embedder.file)).expect("embedder file");
    std::fs::write(models.join(&embedder.file), &bytes[..bytes.len() / 2]).expect("cut");
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).expect("mkdir");
    std::fs::write(keys.join("someone.pub"), "not a key\n").expect("garbage key");
    let config = dir.join("booth.toml");
    let text = format!(
        "[camera]\nbackend = \"libcamera\"\nlibcamera_program = \"gstreamer\"\n[vision]\nmodels = \"{}\"\n[gallery]\ndir = \"{}\"\n\
         [display]\nbackend = \"fbdev\"\nfbdev = \"{}\"\n[usb]\ntrusted_keys = \"{}\"\n[state]\ndir = \"{}\"\n",
        models.display(),
        dir.join("gallery").display(),
        dir.join("fb9").display(),
        keys.display(),
        dir.join("state").display()
    );
    std::fs::write(&config, &text).expect("config");
    // Neither gst-launch-1.0 nor systemctl on this PATH.
    let (out, lines) = doctor(&config, &[], &[("PATH", "/nonexistent")]);
    assert_eq!(out.status.code(), Some(1), "{lines:#?}\n{}", String::from_utf8_lossy(&out.stderr));
    let fails = |lines: &[String], check: &str, what: &[&str]| {
        let l = line(lines, check);
        assert!(l.starts_with(&format!("{check:<8} FAIL  ")) && l.contains(" — next: "), "{l}");
        for w in what {
            assert!(l.contains(w), "{w:?} missing from: {l}");
        }
    };
    assert!(line(&lines, "config").starts_with("config   ok"), "{lines:#?}");
    fails(
        &lines,
        "camera",
        &["libcamera (first camera) 640x480", "gst-launch-1.0 is not installed: sudo apt install gstreamer1.0-tools", "install it"],
    );
    fails(&lines, "screen", &["fb9: No such file or directory", "display.fbdev"]);
    fails(&lines, "models", &["has sha256", "models fetch"]);
    fails(&lines, "gallery", &["not checked without the models"]);
    fails(&lines, "keys", &["someone.pub: not a rolemirror public key"]);
    fails(&lines, "service", &["cannot ask systemd", "--skip service"]);
    assert!(line(&lines, "cpuinfo").starts_with("cpuinfo  ok"), "{lines:#?}");
    assert_eq!(lines.last().map(String::as_str), Some("doctor: 6 check(s) failed"));

    std::fs::write(&config, text + "[booth]\nmatching_frames = 0\n").expect("config");
    let (out, lines) = doctor(&config, &["--skip", "service"], &[]);
    assert_eq!(out.status.code(), Some(1));
    fails(&lines, "config", &["booth.matching_frames: 0 is not in 1..=30", "rolemirror config check"]);
}

/// With the booth running and holding the camera, the camera and screen lines come from its
/// snapshot (it is not opened a second time) and name the booth's pid.
#[test]
fn a_running_booth_is_asked_through_its_snapshot() {
    let tmp = TempDir::new("doctor-running");
    let config = good_tree(&tmp);
    let mut booth = crate::booth::Daemon::start(&config, &[]);
    booth.wait_for("event=camera_connected", 120);
    // The snapshot is refreshed every 10 s: wait for one that has the camera.
    let snapshot = tmp.path().join("state/health.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&snapshot).unwrap_or_default().contains("\"camera_connected\": \"replay") {
        assert!(Instant::now() < deadline, "no snapshot with the camera");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (out, lines) = doctor(&config, &["--skip", "service"], &[]);
    let pid = booth.child.id();
    booth.signal(libc::SIGTERM);
    assert_eq!(out.status.code(), Some(0), "{lines:#?}");
    let camera = line(&lines, "camera");
    assert!(camera.contains(&format!("(the running booth, pid {pid}")) && camera.contains("replay"), "{camera}");
    assert!(line(&lines, "screen").contains(&format!("the running booth (pid {pid}) draws")), "{lines:#?}");
}
