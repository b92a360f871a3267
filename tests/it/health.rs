//! The health report: written by a running booth onto a real FAT image (mkfs.vfat, mounted with
//! fusefat), read back with mtools; every section there, nothing about a visitor in it; a full
//! stick leaves it in the spool with a warning while the booth keeps running; `rolemirror report`
//! from a shell while the daemon runs and after it stopped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::booth::Daemon;
use crate::common::*;
use crate::usb::{keys, usb_booth, FatStick};

/// Every heading of the text report.
const SECTIONS: [&str; 10] = [
    "[software]",
    "[models]",
    "[gallery]",
    "[config]",
    "[camera]",
    "[stage timings]",
    "[warnings and errors]",
    "[system]",
    "[counters per day]",
    "date,visitors,matches,no_match",
];

/// The files in `::/ROLEMIRROR/reports` of a FAT image: (name, text).
fn read_reports(image: &Path) -> Vec<(String, String)> {
    let out = Command::new("mdir")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-b", "-i"])
        .arg(image)
        .arg("::/ROLEMIRROR/reports")
        .output()
        .expect("mdir (apt-get install mtools)");
    if !out.status.success() {
        return Vec::new(); // no reports folder
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("/ROLEMIRROR/reports/"))
        .map(|name| {
            let text = Command::new("mtype").env("MTOOLS_SKIP_CHECK", "1").arg("-i").arg(image).arg(name).output().expect("mtype").stdout;
            (name.rsplit('/').next().unwrap_or(name).to_string(), String::from_utf8_lossy(&text).into_owned())
        })
        .collect()
}

/// Free bytes on a fresh 64 MiB stick image holding an empty ROLEMIRROR/ (as FatStick makes it).
fn free_on_fresh_stick(tmp: &Path) -> u64 {
    let image = tmp.join("probe.img");
    let content = tmp.join("probe");
    std::fs::create_dir_all(content.join("ROLEMIRROR")).expect("mkdir");
    assert!(Command::new("mkfs.vfat").args(["-C", "-n", "STICK"]).arg(&image).arg("65536").output().expect("mkfs").status.success());
    assert!(Command::new("mcopy")
        .args(["-s", "-i"])
        .arg(&image)
        .arg(content.join("ROLEMIRROR"))
        .arg("::/")
        .status()
        .expect("mcopy")
        .success());
    let out = Command::new("mdir").arg("-i").arg(&image).arg("::/").output().expect("mdir");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("bytes free")).expect("bytes free");
    line.replace("bytes free", "").chars().filter(char::is_ascii_digit).collect::<String>().parse().expect("number")
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{key}=")))
}

/// The next `n` matches of a running booth: (role model, similarity) of each visit, which no
/// report may carry.
pub(crate) fn visits(booth: &mut Daemon, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|_| {
            let line = booth.wait_for("event=match", 60);
            (field(&line, "role_model").expect("role_model").to_string(), field(&line, "similarity").expect("similarity").to_string())
        })
        .collect()
}

#[test]
fn a_running_booth_writes_its_health_onto_a_fat_stick_and_nothing_about_visitors() {
    let tmp = TempDir::new("health");
    let gallery = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).expect("mkdir");
    let visitor = shared().join("data/faces-small/img2.jpg");
    let cfg = usb_booth(tmp.path(), &[visitor], &gallery, &k.trusted, &media);
    let mut booth = Daemon::start(&cfg, &[]);
    booth.wait_for("event=ready", 60);
    // Two visits: their similarities and role models must not reach the report.
    let visits = visits(&mut booth, 2);
    // The snapshot file is refreshed every 10 s: wait for one with stage timings in it.
    std::thread::sleep(Duration::from_millis(11_000));

    // `rolemirror report` from a shell while the booth runs.
    let out = rolemirror(&["report", "--config", s(&cfg), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let live: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report --json is JSON");
    assert_eq!(live["software"]["daemon"], "running", "{live:#}");
    assert_eq!(live["software"]["state"], "running");
    assert_eq!(live["gallery"]["role_models"], 12);
    let stages: Vec<&str> = live["stages"].as_array().expect("stages").iter().map(|s| s["stage"].as_str().unwrap_or_default()).collect();
    for stage in ["detect", "align", "embed", "match"] {
        assert!(stages.contains(&stage), "{stage} not timed: {live:#}");
    }
    assert!(live["camera"]["connected"].as_str().is_some_and(|c| c.contains("replay")), "{live:#}");
    assert!(live["camera"]["analysed_fps"].as_f64().is_some_and(|f| f > 0.0), "{live:#}");

    // 1. A stick with an empty ROLEMIRROR/ (no bundle), a real FAT image.
    let content = tmp.path().join("plain");
    std::fs::create_dir_all(content.join("ROLEMIRROR")).expect("mkdir");
    let image = tmp.path().join("plain.img");
    let mut stick = FatStick::new(&content, &image, &media.join("plain"), |_| {});
    let line = booth.wait_for("event=health_report_written", 30);
    let path = field(&line, "path").expect("path");
    assert!(path.starts_with(s(&media.join("plain/ROLEMIRROR/reports/health-"))) && path.ends_with(".txt"), "{line}");
    stick.unplug();
    let reports = read_reports(&image);
    let names: Vec<&str> = reports.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 2, "a .txt and a .json: {names:?}");
    let text = &reports.iter().find(|(n, _)| n.ends_with(".txt")).expect("txt").1;
    let json_text = &reports.iter().find(|(n, _)| n.ends_with(".json")).expect("json").1;
    assert_eq!(
        names.iter().map(|n| n.trim_end_matches(".txt").trim_end_matches(".json")).collect::<std::collections::BTreeSet<_>>().len(),
        1,
        "one name for both: {names:?}"
    );
    for section in SECTIONS {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    let json: serde_json::Value = serde_json::from_str(json_text).expect("the .json is JSON");
    for key in ["software", "models", "gallery", "config", "camera", "stages", "warnings", "system", "counters_per_day", "counters_csv"] {
        assert!(json.get(key).is_some(), "{key} missing in the JSON");
    }
    assert_eq!(json["software"]["daemon"], "this_process");
    assert!(json["software"]["restarts_since_boot"].is_u64(), "{json:#}");
    let config_sha = rolemirror::util::sha256_bytes(&std::fs::read(&cfg).expect("config"));
    assert_eq!(json["config"]["sha256"], config_sha.as_str());
    assert!(text.contains(&format!("sha256: {config_sha}")));
    assert!(text.contains("role models: 12"), "{text}");
    let embedder = &default_vision().embedder_id;
    assert!(text.contains(&format!("embedder: {} sha256 {}", embedder.id, embedder.sha256)), "{text}");
    // The counters: today's row counts the visits.
    let today = json["counters_per_day"].as_array().and_then(|d| d.last().cloned()).expect("a day");
    assert!(today["visitors"].as_u64() >= Some(2) && today["matches"].as_u64() >= Some(2), "{today}");
    let row = format!("{},{},{},{}", today["date"].as_str().expect("date"), today["visitors"], today["matches"], today["no_match"]);
    assert!(text.contains(&row), "{row} not in the CSV:\n{text}");
    // Nothing about a visitor: no role model shown to a visitor, no similarity, no embedding,
    // no picture.
    for (role_model, similarity) in &visits {
        for doc in [text, json_text] {
            assert!(!doc.contains(role_model.as_str()), "{role_model} (a visit's match) in the report:\n{doc}");
            assert!(!doc.contains(similarity.as_str()), "similarity {similarity} in the report:\n{doc}");
        }
    }
    for doc in [text, json_text] {
        assert!(!doc.contains("similarity") && !doc.contains("embedding") && !doc.contains("iVBORw0KGgo"), "{doc}");
        let numbers =
            doc.lines().any(|l| l.split([',', ' ', '[', ']']).filter(|t| t.contains('.') && t.parse::<f32>().is_ok()).count() >= 8);
        assert!(!numbers, "a run of numbers in the report:\n{doc}");
    }

    // 2. A full stick: the report goes to the spool, with a warning; the booth keeps running.
    let full = tmp.path().join("full");
    std::fs::create_dir_all(full.join("ROLEMIRROR")).expect("mkdir");
    let filler = std::fs::File::create(full.join("ROLEMIRROR/filler.bin")).expect("filler");
    filler.set_len(free_on_fresh_stick(tmp.path())).expect("size");
    drop(filler);
    let full_image = tmp.path().join("full.img");
    let mut stick = FatStick::new(&full, &full_image, &media.join("full"), |_| {});
    let line = booth.wait_for("event=health_report_written", 30);
    let spooled = PathBuf::from(field(&line, "path").expect("path"));
    assert_eq!(spooled, tmp.path().join("spool/full.health.txt"), "{line}");
    assert!(std::fs::read_to_string(&spooled).expect("spooled").contains("[counters per day]"));
    assert!(tmp.path().join("spool/full.health.json").is_file());
    stick.unplug();
    let left: Vec<String> = read_reports(&full_image).into_iter().map(|(n, t)| format!("{n}: {} bytes", t.len())).collect();
    assert!(left.is_empty(), "nothing half-written on the full stick: {left:?}");
    booth.wait_for("event=match", 60);

    // The warning about the full stick is in the next report (the ring of warnings).
    let content = tmp.path().join("again");
    std::fs::create_dir_all(content.join("ROLEMIRROR")).expect("mkdir");
    let again = tmp.path().join("again.img");
    let mut stick = FatStick::new(&content, &again, &media.join("again"), |_| {});
    booth.wait_for("event=health_report_written", 30);
    stick.unplug();
    let text = read_reports(&again).into_iter().find(|(n, _)| n.ends_with(".txt")).expect("txt").1;
    let warnings = text.split("[warnings and errors]").nth(1).and_then(|t| t.split("[system]").next()).expect("section");
    // (fusefat answers a full FAT with EPERM, the kernel's vfat with ENOSPC: the cause is named
    // as the filesystem gives it.)
    assert!(warnings.contains("WARN") && warnings.contains("media/full: health report not written on the stick"), "{text}");

    // After the booth stopped, `rolemirror report` says so and shows the last values.
    booth.signal(libc::SIGTERM);
    let (status, _) = booth.finish(15);
    assert!(status.success());
    let out = rolemirror(&["report", "--config", s(&cfg)]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("daemon: NOT RUNNING"), "{text}");
    assert!(text.contains("detect: "), "the last snapshot's timings: {text}");
    for section in SECTIONS {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
}

#[test]
fn report_without_a_daemon_or_state_says_so() {
    let tmp = TempDir::new("health-none");
    let cfg = tmp.path().join("booth.toml");
    std::fs::write(
        &cfg,
        format!("[state]\ndir = \"{}/state\"\n[gallery]\ndir = \"{}/gallery\"\n", tmp.path().display(), tmp.path().display()),
    )
    .expect("write");
    let out = rolemirror(&["report", "--config", s(&cfg)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("daemon: NOT RUNNING") && text.contains("uptime: unknown") && text.contains("none measured yet"), "{text}");
    assert!(!tmp.path().join("state").exists(), "report writes nothing");
    let out = rolemirror(&["report", "--config", s(&cfg), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["software"]["daemon"], "not_running");
    assert_eq!(json["gallery"]["serial"], 0);
    // The daemon's state directory is not everyone's (0750, files 0600): another user is told
    // to use sudo, not shown a booth that is "not running".
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && Command::new("setpriv").arg("--version").output().is_ok() {
        std::fs::create_dir_all(tmp.path().join("state")).expect("mkdir");
        std::fs::write(tmp.path().join("state/health.json"), "{}").expect("write");
        std::fs::set_permissions(tmp.path().join("state/health.json"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_rolemirror"), "report", "--config", s(&cfg)])
            .output()
            .expect("setpriv runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(err.contains("Permission denied") && err.contains("sudo rolemirror report"), "{err}");
    }
    // A broken config: the report still comes, and names the problem.
    std::fs::write(&cfg, "[camera]\nfps = 0\n").expect("write");
    let out = rolemirror(&["report", "--config", s(&cfg)]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("camera.fps"), "{}", String::from_utf8_lossy(&out.stdout));
}
