//! The booth daemon end to end: replay camera, PNG screen, real models and photos; signals,
//! camera loss, bad configs, systemd notification, and the privacy invariant under strace.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::*;

/// A booth config for tests: replay from `frames`, PNG screens and state under `dir`.
pub(crate) fn booth_config(dir: &Path, frames: &Path, gallery: &Path, looping: bool) -> PathBuf {
    let text = format!(
        r#"[camera]
source = "replay"
replay = "{frames}"
replay_fps = 10.0
replay_loop = {looping}
timeout_seconds = 1.0
[vision]
models = "{models}"
[gallery]
dir = "{gallery}"
[booth]
matching_frames = 3
result_min_seconds = 0.8
cooldown_seconds = 0.3
face_lost_seconds = 0.4
[display]
backend = "png"
png = "{dir}/screen.png"
png_dir = "{dir}/screens"
width = 960
height = 540
[state]
dir = "{dir}/state"
"#,
        frames = frames.display(),
        models = models().display(),
        gallery = gallery.display(),
        dir = dir.display(),
    );
    let path = dir.join("booth.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

fn grey_frame(path: &Path) {
    image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128])).save(path).expect("png");
}

/// Frames: each visitor photo `repeat` times, then `gap` empty frames. A looping replay drops
/// frames the vision worker is too slow for (as a live camera does): repeat a visitor often
/// enough that `matching_frames` good frames are seen on a slow or busy machine.
pub(crate) fn frames(dir: &Path, visitors: &[PathBuf], repeat: usize, gap: usize) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut n = 0;
    for v in visitors {
        for _ in 0..repeat {
            n += 1;
            let ext = v.extension().and_then(|e| e.to_str()).unwrap_or("jpg");
            std::fs::copy(v, dir.join(format!("{n:04}-{}.{ext}", v.file_stem().and_then(|s| s.to_str()).unwrap_or("v")))).expect("copy");
        }
        for _ in 0..gap {
            n += 1;
            grey_frame(&dir.join(format!("{n:04}-empty.png")));
        }
    }
}

/// The lines a child writes to its stdout, as they come (read on a thread of their own).
pub(crate) fn line_reader(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

pub(crate) struct Daemon {
    pub(crate) child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Daemon {
    pub(crate) fn start(config: &Path, extra_env: &[(&str, String)]) -> Daemon {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rolemirror"));
        cmd.args(["run", "--config"]).arg(config).stdout(Stdio::piped()).stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("daemon starts");
        let lines = line_reader(child.stdout.take().expect("stdout"));
        Daemon { child, lines, seen: Vec::new() }
    }

    /// Waits for an event line containing `needle`; panics after `secs`.
    pub(crate) fn wait_for(&mut self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
        }
        panic!("no {needle:?} within {secs} s; saw:\n{}", self.seen.join("\n"));
    }

    /// The first line containing `needle` within `secs`; None when none came (after `secs`).
    pub(crate) fn seen_within(&mut self, needle: &str, secs: f64) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line.clone());
                if line.contains(needle) {
                    return Some(line);
                }
            }
        }
        None
    }

    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Collects the remaining output until exit.
    pub(crate) fn finish(mut self, secs: u64) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(50));
                while let Ok(line) = self.lines.try_recv() {
                    self.seen.push(line);
                }
                return (status, std::mem::take(&mut self.seen));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("daemon did not exit within {secs} s; saw:\n{}", self.seen.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A failed test must not leave a booth running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screens(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("screens"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn visitors_get_their_role_model_and_an_empty_frame_keeps_attract() {
    let tmp = TempDir::new("run-match");
    let g = demo_gallery(&tmp);
    let visitors: Vec<PathBuf> = ["img30.jpg", "img14.jpg", "img48.jpg"].iter().map(|f| tmp.path().join("visitors").join(f)).collect();
    let f = tmp.path().join("frames");
    frames(&f, &visitors, 6, 12);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let config = booth_config(&out, &f, &g, false);
    let d = Daemon::start(&config, &[]);
    let (status, lines) = d.finish(60);
    assert!(status.success(), "{lines:?}");
    let matches: Vec<&String> = lines.iter().filter(|l| l.starts_with("event=match")).collect();
    assert_eq!(matches.len(), 3, "{lines:#?}");
    for (m, want) in matches.iter().zip(["demo-02", "demo-06", "demo-04"]) {
        assert!(m.contains(&format!("role_model={want} ")), "{m}");
    }
    // The default detector input is "auto": timed at start, one of the 4:3 standard sizes.
    let ready = lines.iter().find(|l| l.starts_with("event=ready")).expect("ready");
    assert!(ready.contains("detector_input_from=auto"), "{ready}");
    assert!(["640x480", "512x384", "384x288", "256x192"].iter().any(|s| ready.contains(&format!("detector_input={s} "))), "{ready}");
    assert!(lines.iter().any(|l| l == "event=shutdown reason=replayended"), "{lines:?}");
    // Empty frames never start a visit, and the booth returns to attract after each.
    let s = screens(&out);
    // One result per visitor (redrawn with each frame of them: their live picture beside it).
    let results = s
        .iter()
        .zip(std::iter::once(None).chain(s.iter().map(Some)))
        .filter(|(n, before)| n.ends_with("-result.png") && !before.is_some_and(|b| b.ends_with("-result.png")));
    assert_eq!(results.count(), 3, "{s:?}");
    assert!(s.last().is_some_and(|n| n.ends_with("-attract.png")), "{s:?}");
    let counters: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("state/counters.json")).expect("counters")).expect("json");
    assert_eq!(counters["visitors"], 3);
    assert_eq!(counters["matches"]["demo-06"], 1);
}

#[test]
fn a_stale_or_missing_index_is_rebuilt_at_start() {
    // After a software or model update the index no longer fits: the booth rebuilds it and runs
    // on, rather than waiting for a technician.
    let tmp = TempDir::new("run-reindex");
    let g = demo_gallery(&tmp);
    let index = g.join("index.json");
    let mut stale: serde_json::Value = serde_json::from_slice(&std::fs::read(&index).expect("index")).expect("json");
    stale["embedder"]["appearance"] = serde_json::Value::Null;
    std::fs::write(&index, serde_json::to_vec(&stale).expect("json")).expect("write stale index");
    let f = tmp.path().join("frames");
    frames(&f, &[tmp.path().join("visitors/img30.jpg")], 6, 4);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let d = Daemon::start(&booth_config(&out, &f, &g, false), &[]);
    let (status, lines) = d.finish(90);
    assert!(status.success(), "{lines:?}");
    let at = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} in {lines:#?}"));
    assert!(at("event=gallery_indexed role_models=12") < at("event=ready"), "{lines:#?}");
    assert!(lines[at("event=match")].contains("role_model=demo-02 "), "{lines:#?}");
    let rebuilt: serde_json::Value = serde_json::from_slice(&std::fs::read(&index).expect("index")).expect("json");
    assert!(rebuilt["embedder"]["appearance"].is_string(), "the rebuilt index carries appearance vectors");
    // A second start finds the index fresh and does not rebuild.
    std::fs::remove_dir_all(&out).expect("clean");
    std::fs::create_dir_all(&out).expect("mkdir");
    // With a size given in the config, that size is used (nothing timed).
    let config = booth_config(&out, &f, &g, false);
    let text = std::fs::read_to_string(&config).expect("config").replace("[vision]\n", "[vision]\ndetector_input = \"384x288\"\n");
    std::fs::write(&config, text).expect("write config");
    let (status, lines) = Daemon::start(&config, &[]).finish(60);
    assert!(status.success() && !lines.iter().any(|l| l.starts_with("event=gallery_indexed")), "{lines:#?}");
    let ready = lines.iter().find(|l| l.starts_with("event=ready")).expect("ready");
    assert!(ready.contains("detector_input=384x288 detector_input_from=config "), "{ready}");
}

#[test]
fn with_two_faces_the_larger_one_is_matched() {
    let tmp = TempDir::new("run-two");
    let g = demo_gallery(&tmp);
    // demo-02's other photo large, demo-06's other photo small, side by side.
    let big = image::open(tmp.path().join("visitors/img30.jpg")).expect("img30").to_rgb8();
    let small = image::open(tmp.path().join("visitors/img14.jpg")).expect("img14").to_rgb8();
    let big = image::imageops::resize(&big, 600, 600 * big.height() / big.width(), image::imageops::FilterType::Triangle);
    let small = image::imageops::resize(&small, 260, 260 * small.height() / small.width(), image::imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::from_pixel(960, big.height().max(small.height()), image::Rgb([90, 90, 90]));
    image::imageops::overlay(&mut canvas, &small, 20, 40);
    image::imageops::overlay(&mut canvas, &big, 340, 0);
    let f = tmp.path().join("frames");
    std::fs::create_dir_all(&f).expect("mkdir");
    for i in 0..6 {
        canvas.save(f.join(format!("{i:02}-two.png"))).expect("save");
    }
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let (status, lines) = Daemon::start(&booth_config(&out, &f, &g, false), &[]).finish(60);
    assert!(status.success());
    let m: Vec<&String> = lines.iter().filter(|l| l.starts_with("event=match")).collect();
    assert_eq!(m.len(), 1, "{lines:?}");
    assert!(m[0].contains("role_model=demo-02 "), "{m:?}");
}

#[test]
fn camera_loss_recovers_and_sigterm_stops_quickly() {
    let tmp = TempDir::new("run-loss");
    let g = demo_gallery(&tmp);
    let f = tmp.path().join("frames");
    frames(&f, &[tmp.path().join("visitors/img2.jpg")], 20, 6);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let mut d = Daemon::start(&booth_config(&out, &f, &g, true), &[]);
    d.wait_for("event=camera_connected", 30);
    d.wait_for("event=match", 30);
    // Unplug: the replay folder goes away.
    let away = tmp.path().join("frames-away");
    std::fs::rename(&f, &away).expect("rename");
    d.wait_for("event=camera_lost", 10);
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::rename(&away, &f).expect("rename back");
    d.wait_for("event=camera_connected", 15);
    d.wait_for("event=match", 30);
    let screens_now = screens(&out);
    assert!(screens_now.iter().any(|n| n.ends_with("-camera-lost.png")), "{screens_now:?}");
    let t = Instant::now();
    d.signal(libc::SIGTERM);
    let (status, lines) = d.finish(10);
    let took = t.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(lines.iter().any(|l| l == "event=shutdown reason=stopped"), "{lines:?}");
    eprintln!("SIGTERM to exit: {took:?}");
    assert!(took < Duration::from_secs(2), "stopping took {took:?}");
}

#[test]
fn a_bad_config_shows_the_service_screen_and_sighup_recovers() {
    let tmp = TempDir::new("run-bad");
    let g = demo_gallery(&tmp);
    let f = tmp.path().join("frames");
    frames(&f, &[tmp.path().join("visitors/img2.jpg")], 20, 4);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let good = booth_config(&out, &f, &g, true);
    let text = std::fs::read_to_string(&good).expect("read");
    std::fs::write(&good, text.replace("matching_frames = 3", "matching_frames = 0\nmystery = 1")).expect("write");
    let notify_path = tmp.path().join("notify.sock");
    let sock = UnixDatagram::bind(&notify_path).expect("bind notify socket");
    let mut d = Daemon::start(&good, &[("NOTIFY_SOCKET", notify_path.display().to_string()), ("WATCHDOG_USEC", "2000000".into())]);
    d.wait_for("event=service_needed", 20);
    // What the daemon tells systemd, as systemd would read it (it must never wait for a reader).
    let first = |sock: &UnixDatagram, want: &str| -> Vec<String> {
        sock.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let mut buf = [0u8; 512];
        let mut got = Vec::new();
        while !got.iter().any(|m: &String| m.contains(want)) {
            let n = sock.recv(&mut buf).unwrap_or_else(|e| panic!("no {want:?} notification ({e}); got {got:?}"));
            got.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
        got
    };
    let msgs = first(&sock, "READY=1");
    assert!(msgs.last().is_some_and(|m| m.contains("STATUS=service needed")), "{msgs:?}");
    // The service screen (drawn by the display thread) appears.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !screens(&out).iter().any(|n| n.ends_with("-service.png")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(screens(&out).iter().any(|n| n.ends_with("-service.png")), "{:?}", screens(&out));
    // Fix the file and reload.
    std::fs::write(&good, &text).expect("write");
    d.signal(libc::SIGHUP);
    d.wait_for("event=config_reloaded", 10);
    d.wait_for("event=ready", 30);
    d.wait_for("event=match", 30);
    // The fallback screen's pings filled the socket's queue while nobody read it; the booth went
    // on (a match came). Read on: the running booth tells systemd it is ready and alive.
    let msgs = first(&sock, "STATUS=running");
    assert!(msgs.last().is_some_and(|m| m.contains("READY=1")), "{msgs:?}");
    let msgs = first(&sock, "WATCHDOG=1");
    assert!(!msgs.is_empty());
    d.signal(libc::SIGTERM);
    let (status, _) = d.finish(10);
    assert!(status.success());
}

#[test]
fn config_check_names_every_mistake_with_its_key_path() {
    let tmp = TempDir::new("config-check");
    let file = tmp.path().join("bad.toml");
    std::fs::write(&file, "[camera]\nfps = 0\n[booth]\nresult_min_seconds = -1\n[texts]\nlanguage = \"fr\"\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_rolemirror")).args(["config", "check"]).arg(&file).output().expect("runs");
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    for key in ["camera.fps", "booth.result_min_seconds", "texts.language"] {
        assert!(text.contains(key), "{key} missing:\n{text}");
    }
    let example = root().join("config/rolemirror.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_rolemirror")).args(["config", "check"]).arg(&example).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

/// Under strace: no IP (or any non-AF_UNIX) socket, no file written outside the configured
/// outputs (PNG screens, the state directory), and no output line carrying an embedding.
#[test]
fn privacy_no_network_no_stray_writes_no_biometrics_in_logs() {
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is needed for the privacy test (apt-get install strace)");
    }
    let tmp = TempDir::new("privacy");
    let g = demo_gallery(&tmp);
    let f = tmp.path().join("frames");
    frames(&f, &[tmp.path().join("visitors/img2.jpg"), tmp.path().join("visitors/img30.jpg")], 5, 4);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let config = booth_config(&out, &f, &g, false);
    // A stick without a bundle: the booth writes its health report there, and nowhere else.
    let media = tmp.path().join("media");
    let reports = media.join("stick/ROLEMIRROR/reports");
    std::fs::create_dir_all(media.join("stick/ROLEMIRROR")).expect("mkdir");
    let mut text = std::fs::read_to_string(&config).expect("read");
    text += &format!("[usb]\nmount_roots = [\"{}\"]\npoll_seconds = 0.2\nreport_spool = \"{}/spool\"\n", media.display(), out.display());
    std::fs::write(&config, text).expect("write");
    let trace = tmp.path().join("strace.txt");
    let output = Command::new("strace")
        .args(["-f", "-qq", "-e", TRACED, "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_rolemirror"))
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "debug")
        .output()
        .expect("strace runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("event=match"), "the run must have matched someone:\n{stdout}");
    assert!(stdout.contains("event=health_report_written"), "the stick must have had its health report:\n{stdout}");
    let problems = stray_effects(&std::fs::read_to_string(&trace).expect("trace"), &[&out, &reports]);
    // Logs and events: no long runs of numbers (an embedding), no encoded images.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let numbers = regex_like_float_run(&stdout) || regex_like_float_run(&stderr);
    assert!(!numbers, "an output line carries a list of numbers");
    for text in [&*stdout, &*stderr] {
        assert!(!text.contains("iVBORw0KGgo") && !text.contains("/9j/"), "image data in the output");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The only files the booth made are its screens and its counters.
    let mut made: Vec<String> = Vec::new();
    for e in walk(&out) {
        made.push(e.strip_prefix(&out).map(|p| p.display().to_string()).unwrap_or_default());
    }
    assert!(
        made.iter().all(|m| m == "booth.toml"
            || m == "screen.png"
            || m.starts_with("screens/")
            || m == "state/counters.json"
            || m == "state/health.json"),
        "{made:?}"
    );
    // On the stick: one health report, as text and JSON, and nothing else.
    let on_stick: Vec<String> = walk(&media).iter().map(|p| p.strip_prefix(&media).expect("under media").display().to_string()).collect();
    assert_eq!(on_stick.len(), 2, "{on_stick:?}");
    assert!(
        on_stick.iter().all(|m| m.starts_with("stick/ROLEMIRROR/reports/health-") && (m.ends_with(".txt") || m.ends_with(".json"))),
        "{on_stick:?}"
    );
}

/// The strace check itself: writes inside the allowed folders pass, anything else is named.
#[test]
fn stray_effects_names_writes_outside_the_allowed_folders() {
    let (out, reports) = (Path::new("/tmp/t/out"), Path::new("/tmp/t/media/stick/ROLEMIRROR/reports"));
    let ok = "12 openat(AT_FDCWD, \"/tmp/t/out/state/.health.json.tmp-12\", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 9\n\
              12 mkdir(\"/tmp/t/media/stick/ROLEMIRROR/reports\", 0777) = 0\n\
              12 openat(AT_FDCWD, \"/tmp/t/media/stick/ROLEMIRROR/reports/health-1.json\", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666) = 9\n\
              12 openat(AT_FDCWD, \"/etc/hostname\", O_RDONLY|O_CLOEXEC) = 9\n";
    assert!(stray_effects(ok, &[out, reports]).is_empty(), "{:?}", stray_effects(ok, &[out, reports]));
    for bad in [
        "12 openat(AT_FDCWD, \"/tmp/t/media/stick/ROLEMIRROR/face.png\", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 9",
        "12 openat(AT_FDCWD, \"/var/tmp/x\", O_RDWR|O_CREAT, 0666) = 9",
        "12 renameat(AT_FDCWD, \"/tmp/t/out/a\", AT_FDCWD, \"/tmp/elsewhere\") = 0",
        "12 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 9",
    ] {
        assert_eq!(stray_effects(bad, &[out, reports]).len(), 1, "not caught: {bad}");
    }
}

/// Syscalls in an strace log that break the privacy invariant: a socket other than AF_UNIX,
/// or a file created, written, renamed or removed outside `allowed`.
fn stray_effects(trace: &str, allowed: &[&Path]) -> Vec<String> {
    let mut problems = Vec::new();
    for line in trace.lines() {
        // With several threads strace splits a call into "<unfinished ...>" (which holds the
        // arguments, checked) and "<... resumed>" (the result only).
        if line.contains("resumed>") {
            continue;
        }
        if line.contains("socket(") && !line.contains("AF_UNIX") {
            problems.push(format!("non-unix socket: {line}"));
        }
        let writes = ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"].iter().any(|f| line.contains(f));
        let mutating = writes || ["rename", "mkdir", "unlink", "creat(", "truncate("].iter().any(|s| line.contains(s));
        if mutating && !line.contains("= -1") {
            // Every path in the call must be inside an allowed folder (a rename names two).
            let paths: Vec<&str> = line.split('"').skip(1).step_by(2).filter(|p| p.starts_with('/')).collect();
            let inside = |p: &str| allowed.iter().any(|a| Path::new(p).starts_with(a));
            let ok = (!paths.is_empty() && paths.iter().all(|p| inside(p))) || line.contains("/dev/null") || line.contains("/dev/tty");
            if !ok {
                problems.push(format!("write outside outputs: {line}"));
            }
        }
    }
    problems
}

const TRACED: &str = "trace=socket,connect,bind,sendto,open,openat,creat,rename,renameat,renameat2,mkdir,mkdirat,unlink,unlinkat,truncate";

/// The demo too: no IP socket, nothing written outside its output folder.
#[test]
fn privacy_of_the_demo_under_strace() {
    let tmp = TempDir::new("privacy-demo");
    let _ = demo_gallery(&tmp);
    let out = tmp.path().join("out");
    let trace = tmp.path().join("strace.txt");
    let output = Command::new("strace")
        .args(["-f", "-qq", "-e", TRACED, "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_rolemirror"))
        .args(["--models", models().to_str().expect("utf-8"), "demo", "--size", "480x270", "--data"])
        .arg(tmp.path())
        .arg("--out")
        .arg(&out)
        .output()
        .expect("strace runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("event=match"), "{stdout}");
    let problems = stray_effects(&std::fs::read_to_string(&trace).expect("trace"), &[&out]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(!regex_like_float_run(&stdout), "an output line carries a list of numbers");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// True if some line holds eight or more decimal numbers in a row (what an embedding looks like).
fn regex_like_float_run(text: &str) -> bool {
    text.lines().any(|line| {
        let mut run = 0;
        for tok in line.split([',', ' ', '[', ']']) {
            if !tok.is_empty() && tok.contains('.') && tok.trim_start_matches('-').parse::<f32>().is_ok() {
                run += 1;
                if run >= 8 {
                    return true;
                }
            } else if !tok.is_empty() {
                run = 0;
            }
        }
        false
    })
}

#[test]
fn the_strace_check_catches_what_it_should() {
    let allowed = Path::new("/out");
    let trace = "123 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = 3\n\
                 123 socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC, 0) = 4\n\
                 123 openat(AT_FDCWD, \"/tmp/face.png\", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 5\n\
                 123 openat(AT_FDCWD, \"/out/screens/0001-attract.png\", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 6\n\
                 123 openat(AT_FDCWD, \"/models/x.onnx\", O_RDONLY|O_CLOEXEC) = 7\n\
                 123 openat(AT_FDCWD, \"/etc/nowhere\", O_WRONLY|O_CREAT, 0666) = -1 EACCES (Permission denied)\n\
                 124 rename(\"/out/.screen.png.tmp-1\", \"/out/screen.png\" <unfinished ...>\n\
                 124 <... rename resumed>)             = 0\n";
    let p = stray_effects(trace, &[allowed]);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].contains("AF_INET") && p[1].contains("/tmp/face.png"));
    assert!(regex_like_float_run("event=x v=[0.1, -0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]"));
    assert!(!regex_like_float_run("event=match role_model=demo-01 similarity=0.6662"));
}

/// A 640x480 camera frame: grey, with each (photo, width, x) pasted at the top, scaled to that
/// width.
fn camera_frame(photos: &[(&str, u32, i64)]) -> std::sync::Arc<image::RgbImage> {
    let mut canvas = image::RgbImage::from_pixel(640, 480, image::Rgb([90, 90, 90]));
    for (name, width, x) in photos {
        let p = image::open(demo_dir().join("visitors").join(name)).expect("visitor photo").to_rgb8();
        let p = image::imageops::resize(&p, *width, width * p.height() / p.width(), image::imageops::FilterType::Triangle);
        image::imageops::overlay(&mut canvas, &p, *x, 40);
    }
    std::sync::Arc::new(canvas)
}

#[test]
fn the_frame_analyser_tracks_the_face_and_still_sees_a_second_visitor() {
    use rolemirror::booth::{FrameAnalyser, FrameKind, FULL_FRAME_EVERY};
    use rolemirror::config::BoothSettings;
    let vision = default_vision();
    let settings = BoothSettings::default();
    // A visitor on the left, then a second, larger one steps in on the right, then nobody, then
    // the first again.
    let one = camera_frame(&[("img14.jpg", 200, 0)]);
    let two = camera_frame(&[("img14.jpg", 200, 0), ("img30.jpg", 300, 330)]);
    let empty = camera_frame(&[]);
    let stream: Vec<&std::sync::Arc<image::RgbImage>> =
        [vec![&one; 7], vec![&two; 6], vec![&empty; 2], vec![&one; 1]].into_iter().flatten().collect();
    assert_eq!(FULL_FRAME_EVERY, 5, "the expected pattern below assumes it");
    let mut analyser = FrameAnalyser::default();
    let mut kinds = Vec::new();
    let mut sides = Vec::new();
    for (i, frame) in stream.iter().enumerate() {
        let obs = analyser.analyse(vision, frame, None, &settings, false).expect("analyse");
        let kind = analyser.last_kind().expect("a kind");
        kinds.push(match kind {
            FrameKind::Full => 'F',
            FrameKind::Tracked => 't',
        });
        let centre = obs.face.as_ref().map(|f| f.bbox[0] + f.bbox[2] / 2.0);
        sides.push(match centre {
            None => '-',
            Some(c) if c < 320.0 => 'L',
            Some(_) => 'R',
        });
        // A tracked frame sees the face where a full-frame detection on the same frame does.
        if let (FrameKind::Tracked, Some(face)) = (kind, &obs.face) {
            let full = vision.faces(frame).expect("detect");
            let overlap = full.iter().map(|f| rolemirror::vision::detect::iou(&face.bbox, &f.bbox)).fold(0.0f32, f32::max);
            assert!(overlap > 0.7, "frame {i}: tracked {:?} vs full {full:?}", face.bbox);
        }
        // A lone frame (an analyser that looks at every frame on its own) is analysed as the
        // analyser's full-frame frames are.
        if i == 0 {
            let alone = FrameAnalyser::new(1).analyse(vision, frame, None, &settings, false).expect("analyse").face.expect("face");
            assert_eq!(obs.face.as_ref().map(|f| f.bbox), Some(alone.bbox));
        }
    }
    let kinds: String = kinds.into_iter().collect();
    let sides: String = sides.into_iter().collect();
    // One detection per frame: full on the first, every 5th while tracking, and on the frame
    // after the face was lost (frame 13 found nobody around it, frame 14 looked everywhere).
    assert_eq!(kinds, "FttttFttttFtttFF", "{sides}");
    // The second visitor (larger, nearer the centre) is taken at the next full-frame detection.
    assert_eq!(sides, "LLLLLLLLLLRRR--L", "{kinds}");
}

/// Once the booth's result is decided the vision worker stops embedding: the analyser still
/// finds and tracks the face (same boxes, same frame kinds) but embeds nothing until told again.
#[test]
fn the_frame_analyser_embeds_only_while_embeddings_are_wanted() {
    use rolemirror::booth::FrameAnalyser;
    use rolemirror::config::BoothSettings;
    let vision = default_vision();
    let settings = BoothSettings::default();
    let frame = camera_frame(&[("img2.jpg", 400, 120)]);
    let (mut wanting, mut not) = (FrameAnalyser::default(), FrameAnalyser::default());
    not.set_embedding(false);
    for i in 0..6 {
        let a = wanting.analyse(vision, &frame, None, &settings, false).expect("analyse");
        let b = not.analyse(vision, &frame, None, &settings, false).expect("analyse");
        let (fa, fb) = (a.face.expect("a face"), b.face.expect("the same face"));
        assert_eq!(wanting.last_kind(), not.last_kind(), "frame {i}");
        assert_eq!(fa.bbox, fb.bbox, "frame {i}");
        assert!(fa.embedding.is_some(), "frame {i}: a good face is embedded when wanted");
        assert!(fb.embedding.is_none(), "frame {i}: and not when not");
    }
    not.set_embedding(true);
    let b = not.analyse(vision, &frame, None, &settings, false).expect("analyse");
    assert!(b.face.expect("face").embedding.is_some(), "wanted again: embedded again");
}
