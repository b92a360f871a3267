//! Faults a booth meets in weeks unattended, each with a real part: corrupt files at start (a
//! truncated model, a bit-flipped `index.json`, a `gallery.toml` that is not UTF-8, a zero-length
//! config), the wall clock stepping while the booth runs (libfaketime on the real daemon), a full
//! disk (a real tmpfs of a few megabytes as the state directory, a real FAT stick) and a screen
//! that comes late. Camera storms and junk frames: `faults_camera`.

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::booth::{booth_config, frames, Daemon};
use crate::common::*;
use rolemirror::gallery::index::{Index, INDEX_FILE};
use rolemirror::gallery::Gallery;

/// The booth's systemd notifications (READY, STATUS, WATCHDOG), each with when it came.
struct Notifications {
    path: PathBuf,
    got: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Notifications {
    fn bind(path: &Path) -> Notifications {
        let sock = UnixDatagram::bind(path).expect("bind notify socket");
        sock.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let got = Arc::new(Mutex::new(Vec::new()));
        let store = got.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            // Ends when the test (and its socket file) is gone: reads time out, the Arc is alone.
            while Arc::strong_count(&store) > 1 {
                if let Ok(n) = sock.recv(&mut buf) {
                    store.lock().expect("lock").push((Instant::now(), String::from_utf8_lossy(&buf[..n]).into_owned()));
                }
            }
        });
        Notifications { path: path.to_path_buf(), got }
    }

    fn env(&self) -> (&'static str, String) {
        ("NOTIFY_SOCKET", self.path.display().to_string())
    }

    /// Waits until a notification contains `want`; returns it.
    fn wait_for(&self, want: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some((_, m)) = self.got.lock().expect("lock").iter().find(|(_, m)| m.contains(want)) {
                return m.clone();
            }
            assert!(Instant::now() < deadline, "no {want:?} notification; got {:?}", self.got.lock().expect("lock"));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn since(&self, t: Instant) -> Vec<String> {
        self.got.lock().expect("lock").iter().filter(|(at, _)| *at > t).map(|(_, m)| m.clone()).collect()
    }
}

/// Starts the daemon on `config`, expects the service screen whose first problem contains every
/// one of `needles`, checks it stays up telling systemd it needs service (no restart loop), and
/// stops it with SIGTERM (exit 0).
fn expect_service_screen(tmp: &Path, config: &Path, needles: &[&str]) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let notes = Notifications::bind(&tmp.join(format!("notify-{n}.sock")));
    let mut d = Daemon::start(config, &[notes.env()]);
    let line = d.wait_for("event=service_needed", 30);
    for n in needles {
        assert!(line.contains(n), "{n:?} not in {line}");
    }
    let status = notes.wait_for("READY=1", 20);
    assert!(status.contains("STATUS=service needed: "), "{status}");
    // Still up (systemd would restart a process that exited): watchdog pings keep coming.
    let t = Instant::now();
    while !notes.since(t).iter().any(|m| m.contains("WATCHDOG=1")) {
        assert!(t.elapsed() < Duration::from_secs(20), "no watchdog ping from the service screen");
        std::thread::sleep(Duration::from_millis(50));
    }
    d.signal(libc::SIGTERM);
    let (status, lines) = d.finish(10);
    assert!(status.success(), "{status:?} {lines:?}");
    assert!(lines.iter().any(|l| l == "event=shutdown reason=stopped"), "{lines:?}");
    line
}

/// The demo gallery's index as read (for comparing embeddings).
fn index_of(dir: &Path) -> Index {
    Index::read(dir).expect("index reads").expect("index exists")
}

/// A copy of the demo gallery and a booth config whose replay shows visitor img30 (demo-02):
/// (the temporary folder, the gallery, the output folder, the config file).
fn img30_booth(name: &str, looping: bool) -> (TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = TempDir::new(name);
    let g = demo_gallery(&tmp);
    let f = tmp.path().join("frames");
    frames(&f, &[tmp.path().join("visitors/img30.jpg")], 6, 4);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let config = booth_config(&out, &f, &g, looping);
    (tmp, g, out, config)
}

#[test]
fn corrupt_files_at_start_give_the_service_screen_or_a_rebuild() {
    let (tmp, g, _out, config) = img30_booth("fault-corrupt", false);
    let text = std::fs::read_to_string(&config).expect("config");

    // 1. A model file cut off (a power cut during `models fetch`, a bad SD card).
    let m = tmp.path().join("models");
    assert!(Command::new("cp").arg("-r").arg(models()).arg(&m).status().expect("cp").success());
    let yunet = m.join("yunet/yunet_n_320_320.onnx");
    let bytes = std::fs::read(&yunet).expect("model");
    let mut perms = std::fs::metadata(&yunet).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&yunet, perms).expect("chmod");
    std::fs::write(&yunet, &bytes[..bytes.len() / 2]).expect("truncate");
    std::fs::write(&config, text.replace(&models().display().to_string(), &m.display().to_string())).expect("write");
    expect_service_screen(tmp.path(), &config, &["vision.models", "yunet_n_320_320.onnx", "corrupt"]);

    // 2. gallery.toml that is not UTF-8 (a name saved in Latin-1, a damaged sector).
    std::fs::write(&config, &text).expect("write");
    let manifest = g.join("gallery.toml");
    let good_manifest = std::fs::read(&manifest).expect("manifest");
    let mut bad = good_manifest.clone();
    let at = bad.windows(6).position(|w| w == b"name =").expect("a name") + 8;
    bad.splice(at..at, [0xE9, 0xFF]);
    std::fs::write(&manifest, &bad).expect("write");
    expect_service_screen(tmp.path(), &config, &["gallery.dir", "gallery.toml", "UTF-8"]);
    std::fs::write(&manifest, &good_manifest).expect("restore");

    // 3. A zero-length config: it named no problem and the booth ran on the defaults (camera,
    //    screen, language and gallery of a fresh install) without a word.
    std::fs::write(&config, b"").expect("truncate config");
    expect_service_screen(tmp.path(), &config, &[config.to_str().expect("utf-8"), "the file is empty"]);
    std::fs::write(&config, &text).expect("write");

    // 4. A bit flipped in a number of index.json: still valid JSON. The booth rebuilds the index,
    //    says which file and why, and matches as before. (The index as this version writes it:
    //    with its checksum; a fixture cached by an older build has none.)
    let original = index_of(&g);
    original.write(&g).expect("write index");
    let raw = std::fs::read(g.join(INDEX_FILE)).expect("index");
    let mut flipped = raw.clone();
    flipped[digit_after(&raw, b"\"embedding\":[")] ^= 0x01;
    std::fs::write(g.join(INDEX_FILE), &flipped).expect("write");
    // The detector input the fixture was built with (the CLI's 640x640; the booth's default is
    // 640x480, whose embeddings of the same photo differ: see docs/reliability.md).
    std::fs::write(&config, text.replace("[vision]\n", "[vision]\ndetector_input = \"640x640\"\n")).expect("write");
    let d = Daemon::start(&config, &[]);
    let (status, lines) = d.finish(90);
    assert!(status.success(), "{lines:#?}");
    let indexed = lines.iter().find(|l| l.starts_with("event=gallery_indexed")).unwrap_or_else(|| panic!("no rebuild: {lines:#?}"));
    assert!(indexed.contains(&g.join(INDEX_FILE).display().to_string()) && indexed.contains("checksum"), "{indexed}");
    assert!(lines.iter().any(|l| l.starts_with("event=match") && l.contains("role_model=demo-02 ")), "{lines:#?}");
    let rebuilt = index_of(&g);
    // Re-embedded from the photos, the flipped value not carried over.
    let corrupt: Index = serde_json::from_slice(&flipped).expect("the flipped index is valid JSON");
    assert_ne!(rebuilt.photos[0].embedding, corrupt.photos[0].embedding);
    assert_eq!(rebuilt.photos.len(), original.photos.len());
    for (a, b) in rebuilt.photos.iter().zip(&original.photos) {
        let diff = a.embedding.iter().zip(&b.embedding).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-4 && a.file == b.file, "{} ({}): differs by {diff}", a.file, b.file);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).expect("needle")
}

/// A decimal digit of the first number after `needle` (after its decimal point).
fn digit_after(hay: &[u8], needle: &[u8]) -> usize {
    let start = find(hay, needle) + needle.len();
    let dot = start + hay[start..].iter().position(|&b| b == b'.').expect("a decimal point");
    assert!(hay[dot + 2].is_ascii_digit(), "{}", String::from_utf8_lossy(&hay[start..dot + 4]));
    dot + 2
}

/// 400 single bit flips spread over `index.json` (a fixed seed): each is refused (not JSON, or
/// its checksum no longer matches), makes the index stale, or changes nothing the booth uses. A
/// corrupt index is rebuilt from the photos, none of its embeddings reused.
#[test]
fn bit_flips_in_the_index_are_caught_or_harmless() {
    let tmp = TempDir::new("fault-flips");
    let g = demo_gallery(&tmp);
    let vision = default_vision();
    let original = index_of(&g);
    original.write(&g).expect("write index (with its checksum)");
    let raw = std::fs::read(g.join(INDEX_FILE)).expect("index");
    assert!(String::from_utf8_lossy(&raw).contains("\"checksum\":\""), "index.json carries a checksum");
    let (mut refused, mut stale, mut same) = (0, 0, 0);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..400 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let bit = (seed % (raw.len() as u64 * 8)) as usize;
        let mut bytes = raw.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(g.join(INDEX_FILE), &bytes).expect("write");
        match Index::read(&g) {
            Err(e) => {
                assert!(format!("{e:#}").contains(INDEX_FILE), "{e:#}");
                refused += 1;
            }
            Ok(None) => panic!("the index is there"),
            Ok(Some(index)) if index == original => same += 1,
            Ok(Some(index)) => {
                let at = bit / 8;
                let context = String::from_utf8_lossy(&bytes[at.saturating_sub(30)..(at + 30).min(bytes.len())]).into_owned();
                assert!(index.staleness(&g, &vision.embedder_id).is_some(), "flip at byte {at} accepted with other content: …{context}…");
                stale += 1;
            }
        }
    }
    eprintln!("400 bit flips in index.json: {refused} refused, {stale} stale, {same} without effect");
    assert!(refused > 300, "most flips land in numbers and must be caught ({refused})");
    // A flip in a number: the booth's open rebuilds, naming the file and the checksum.
    let mut bytes = raw.clone();
    bytes[digit_after(&raw, b"\"embedding\":[")] ^= 0x01;
    std::fs::write(g.join(INDEX_FILE), &bytes).expect("write");
    let (gallery, why) = Gallery::open_or_build(&g, vision, |_, _| {}).expect("opens");
    let why = why.expect("rebuilt");
    assert!(why.contains(INDEX_FILE) && why.contains("checksum"), "{why}");
    assert_eq!(gallery.role_models.len(), 12);
    // Every embedding computed again from its photo (none taken from the corrupt index).
    let rebuilt = index_of(&g);
    assert_eq!(rebuilt.photos.len(), original.photos.len());
    for (a, b) in rebuilt.photos.iter().zip(&original.photos) {
        let diff = a.embedding.iter().zip(&b.embedding).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-5 && a.file == b.file, "{} ({}): differs by {diff}", a.file, b.file);
    }
    let (_, again) = Gallery::open_or_build(&g, vision, |_, _| {}).expect("opens");
    assert_eq!(again, None, "the rewritten index is fresh");
}

/// libfaketime: the daemon's wall clock (CLOCK_REALTIME) is read from a file the test rewrites,
/// as an NTP step sets it; its monotonic clock is left alone, as the kernel leaves it.
fn libfaketime() -> PathBuf {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("libfaketime is needed for the clock-step test (apt-get install faketime)"))
}

fn set_clock(file: &Path, when: &str) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, format!("@{when}\n")).expect("write");
    std::fs::rename(&tmp, file).expect("rename");
}

/// The wall clock steps +1 h, +1 day, -1 h and -1 day while the booth runs, each step between
/// two visitors: every visitor is matched once, the replay, the state machine and the watchdog go
/// on (they run on the monotonic clock: a timer on the wall clock would fire at once, or stall for
/// a day), no event comes twice, and each visit is counted on the day the wall clock said.
#[test]
fn clock_steps_while_running_leave_timers_alone_and_count_on_the_right_day() {
    let lib = libfaketime();
    let tmp = TempDir::new("fault-clock");
    let g = demo_gallery(&tmp);
    let v = |f: &str| tmp.path().join("visitors").join(f);
    let visitors = [v("img30.jpg"), v("img14.jpg"), v("img48.jpg"), v("img2.jpg"), v("img30.jpg")];
    let f = tmp.path().join("frames");
    // 20 empty frames after each visitor: the step lands before the next one arrives.
    frames(&f, &visitors, 5, 20);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let config = booth_config(&out, &f, &g, false);
    let clock = tmp.path().join("faketime");
    set_clock(&clock, "2026-06-15 23:30:00");
    let notes = Notifications::bind(&tmp.path().join("notify.sock"));
    let mut d = Daemon::start(
        &config,
        &[
            ("LD_PRELOAD", lib.display().to_string()),
            ("FAKETIME_TIMESTAMP_FILE", clock.display().to_string()),
            ("FAKETIME_NO_CACHE", "1".into()),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1".into()),
            ("TZ", "UTC".into()),
            notes.env(),
        ],
    );
    let steps = ["2026-06-16 00:30:00", "2026-06-17 00:30:00", "2026-06-16 23:30:00", "2026-06-15 23:30:00"];
    let mut last_step = Instant::now();
    for step in steps {
        d.wait_for("event=match", 60);
        set_clock(&clock, step);
        last_step = Instant::now();
    }
    let (status, lines) = d.finish(60);
    assert!(status.success(), "{status:?}");
    let events = event_lines(&lines);
    let count = |name: &str| events.iter().filter(|l| l.starts_with(&format!("event={name} ")) || **l == format!("event={name}")).count();
    // The lines the test read while waiting are in `lines` too (Daemon keeps what it saw).
    assert_eq!(count("match"), 5, "{events:#?}");
    let roles: Vec<&str> =
        events.iter().filter(|l| l.starts_with("event=match ")).filter_map(|l| l.split("role_model=").nth(1)?.split(' ').next()).collect();
    assert_eq!(roles, ["demo-02", "demo-06", "demo-04", "demo-01", "demo-02"], "{events:#?}");
    assert_eq!((count("ready"), count("camera_connected"), count("camera_lost"), count("service_needed")), (1, 1, 0, 0), "{events:#?}");
    assert_eq!(events.last().map(String::as_str), Some("event=shutdown reason=replayended"));
    // The watchdog was still fed after the last step (a heartbeat on the wall clock stops at -1 day).
    assert!(notes.since(last_step).iter().any(|m| m.contains("WATCHDOG=1")), "no watchdog ping after the last clock step");
    let counters: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("state/counters.json")).expect("counters")).expect("json");
    let days: BTreeMap<String, (u64, u64)> = counters["days"]
        .as_object()
        .expect("days")
        .iter()
        .map(|(k, v)| (k.clone(), (v["visitors"].as_u64().unwrap_or(0), v["matches"].as_u64().unwrap_or(0))))
        .collect();
    let want: BTreeMap<String, (u64, u64)> =
        [("2026-06-15", (2, 2)), ("2026-06-16", (2, 2)), ("2026-06-17", (1, 1))].iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(days, want, "{counters}");
    assert_eq!(counters["visitors"], 5);
}

/// Every event line of a daemon's output.
fn event_lines(lines: &[String]) -> Vec<String> {
    lines.iter().filter(|l| l.starts_with("event=")).cloned().collect()
}

/// A small real filesystem (tmpfs of `size`) mounted on `dir`, unmounted on drop. None, with the
/// reason printed, where this process may not mount (not root, or no mount in this container).
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(dir: &Path, size: &str) -> Option<SmallFs> {
        std::fs::create_dir_all(dir).expect("mkdir");
        // SAFETY: geteuid has no arguments and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIPPED: the disk-full test mounts a {size} tmpfs and needs root");
            return None;
        }
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"]).arg(dir).output();
        match out {
            Ok(o) if o.status.success() => Some(SmallFs(dir.to_path_buf())),
            Ok(o) => {
                eprintln!("SKIPPED: cannot mount a tmpfs here: {}", String::from_utf8_lossy(&o.stderr).trim());
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }

    /// Writes a filler file until the filesystem is full; returns it.
    fn fill(&self, name: &str) -> PathBuf {
        use std::io::Write;
        let path = self.0.join(name);
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0x5au8; 64 << 10];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                    break;
                }
            }
        }
        assert!(std::fs::write(self.0.join("probe"), [0u8; 8192]).is_err(), "the filesystem is full");
        let _ = std::fs::remove_file(self.0.join("probe"));
        path
    }

    fn free(&self) -> u64 {
        let c = std::ffi::CString::new(self.0.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: all-zero is a valid statvfs; statvfs reads the path and writes the struct.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0);
        s.f_bavail * s.f_frsize
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// sha256 of every file under `dir` (following the active gallery's symlink), by relative path.
fn tree_sums(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let dir = std::fs::canonicalize(dir).expect("gallery");
    for e in std::fs::read_dir(&dir).expect("list").flatten() {
        if e.path().is_file() {
            out.insert(e.file_name().to_string_lossy().into_owned(), rolemirror::util::sha256_file(&e.path()).expect("hash").0);
        }
    }
    out
}

/// The state directory (gallery, versions, counters) on a 16 MB tmpfs, filled up while the booth
/// runs: a signed USB import is refused with the reason, the active gallery is intact, the booth
/// keeps matching; when space returns the same bundle installs and the counters of the whole run
/// are written. Then the booth restarts on the full disk with an index to rebuild: it runs on
/// the index in memory.
#[test]
fn a_full_disk_refuses_the_import_keeps_the_gallery_and_the_booth_matching() {
    use crate::usb::{active_ids, create, keys, small_gallery, usb_booth, FatStick};
    let tmp = TempDir::new("fault-diskfull");
    let Some(fs) = SmallFs::mount(&tmp.path().join("state"), "16m") else { return };
    let demo = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).expect("mkdir");
    let active = fs.0.join("gallery");
    assert!(Command::new("cp").arg("-r").arg(&demo).arg(&active).status().expect("cp").success());
    let demo_ids = active_ids(&active).expect("demo gallery");
    let visitor = shared().join("data/faces-small/img2.jpg"); // the person of demo-01
    let cfg = usb_booth(tmp.path(), &[visitor], &active, &k.trusted, &media);
    let mut booth = Daemon::start(&cfg, &[]);
    booth.wait_for("event=ready", 60);
    booth.wait_for("role_model=demo-01", 60);
    let before = tree_sums(&active);

    // The disk fills up (logs, a runaway spool, anything).
    let filler = fs.fill("filler");
    let free_full = fs.free();
    let g1 = small_gallery(&tmp.path().join("g1"), &demo, &[("new-a", "img16.jpg"), ("new-b", "img22.jpg")]);
    let content = tmp.path().join("c1");
    create(&content, Some(&g1), None, &k.private, 100);
    let mut stick = FatStick::new(&content, &tmp.path().join("s1.img"), &media.join("s1"), |_| {});
    let line = booth.wait_for("event=usb_rejected", 60);
    eprintln!("{line}");
    assert!(line.contains("the booth's disk is full") && line.contains("gallery.versions"), "{line}");
    booth.wait_for("role_model=demo-01", 60);
    assert_eq!(tree_sums(&active), before, "the active gallery changed");
    assert_eq!(active_ids(&active), Ok(demo_ids.clone()));
    let leftovers: Vec<String> = std::fs::read_dir(fs.0.join("gallery.versions"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with("staging")).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(fs.free() >= free_full, "the refused import left data behind");
    stick.unplug();
    let reports = stick.reports();
    assert!(reports.iter().any(|r| r.contains("result: REFUSED") && r.contains("the booth's disk is full")), "{reports:?}");
    drop(stick);

    // Space returns: the same bundle installs.
    std::fs::remove_file(&filler).expect("free space");
    let _stick = FatStick::new(&content, &tmp.path().join("s2.img"), &media.join("s2"), |_| {});
    booth.wait_for("event=gallery_installed", 60);
    let ready = booth.wait_for("event=ready", 60);
    assert!(ready.contains("role_models=2"), "{ready}");
    booth.wait_for("event=match", 60);
    booth.signal(libc::SIGTERM);
    let (status, lines) = booth.finish(15);
    assert!(status.success(), "{status:?}");
    // Counted in memory while the disk was full, written when there was space again.
    let shown = lines.iter().filter(|l| l.starts_with("event=match") && l.contains("role_model=demo-01 ")).count();
    let counters: serde_json::Value = serde_json::from_slice(&std::fs::read(fs.0.join("counters.json")).expect("counters")).expect("json");
    assert_eq!(counters["matches"]["demo-01"].as_u64(), Some(shown as u64), "{counters}");

    // The booth restarts on a full disk with an index to rebuild (a software update changed the
    // model): it rebuilds, cannot write index.json, and runs on the index in memory.
    let index = active.join(INDEX_FILE);
    std::fs::remove_file(&index).expect("remove index");
    let _filler = fs.fill("filler2");
    let mut booth = Daemon::start(&cfg, &[]);
    let line = booth.wait_for("event=gallery_indexed", 60);
    assert!(line.contains("index.json is missing"), "{line}");
    booth.wait_for("event=ready", 60);
    booth.wait_for("event=match", 60);
    booth.signal(libc::SIGTERM);
    let (status, lines) = booth.finish(15);
    assert!(status.success(), "{lines:?}");
    assert!(!index.exists(), "no index.json could be written");
}

/// The counters on a full disk, driven on the service's fake clock with the real state directory:
/// a save that fails keeps the old file and leaves no temporary file; visits keep counting in
/// memory; the next save after space returns writes them all.
#[test]
fn counters_keep_counting_on_a_full_disk_and_are_written_when_space_returns() {
    use rolemirror::booth::machine::FaceObs;
    use rolemirror::booth::Observation;
    use rolemirror::camera::CameraStatus;
    use rolemirror::service::core::{Action, Core};
    use rolemirror::service::counters::Counters;
    use rolemirror::vision::embed::FaceCode;
    let tmp = TempDir::new("fault-counters");
    let Some(fs) = SmallFs::mount(&tmp.path().join("state"), "1m") else { return };
    let dir = fs.0.clone();
    let gallery = Arc::new(Gallery::open(&demo_dir().join("gallery"), &default_vision().embedder_id).expect("gallery"));
    let photo = &gallery.index.photos[0];
    let face = FaceObs {
        bbox: [100.0, 80.0, 120.0, 150.0],
        eye_fraction: 0.1,
        frontal: true,
        sharp: true,
        embedding: Some(FaceCode { identity: photo.embedding.clone(), appearance: photo.appearance.clone() }),
    };
    let frame = |face: Option<FaceObs>| Observation { frame: Arc::new(image::RgbImage::new(4, 4)), mirror: false, face, label: None };
    let mut config = rolemirror::config::Config {
        booth: rolemirror::config::BoothSettings { matching_frames: 2, ..Default::default() },
        ..Default::default()
    };
    (config.gallery.also_like, config.gallery.variety) = (0, rolemirror::gallery::variety::VarietySettings::OFF);
    let mut core = Core::new(&config, gallery.clone(), Counters::load(&dir), Box::new(|| "2026-06-15".to_string()), 0.0);
    let saved = |core: &Core, actions: Vec<Action>| {
        for a in actions {
            if a == Action::SaveCounters {
                core.counters().save(&dir); // as the daemon's loop does
            }
        }
    };
    core.camera(0.0, &CameraStatus::Connected("test".into()));
    let mut t = 0.0;
    let visit = |core: &mut Core, t: &mut f64| {
        for _ in 0..4 {
            *t += 0.2;
            core.observation(*t, &frame(Some(face.clone())));
        }
        for _ in 0..40 {
            *t += 0.5;
            core.observation(*t, &frame(None));
            core.tick(*t, *t);
        }
    };
    let on_disk = || Counters::load(&dir);
    visit(&mut core, &mut t);
    assert_eq!(core.counters().visitors, 1);
    let a = core.tick(60.0, 60.0);
    saved(&core, a);
    assert_eq!(on_disk().visitors, 1);
    let filler = fs.fill("filler");
    let mut t = 61.0;
    visit(&mut core, &mut t);
    visit(&mut core, &mut t);
    let a = core.tick(121.0, 121.0);
    assert!(a.contains(&Action::SaveCounters));
    saved(&core, a);
    assert_eq!((core.counters().visitors, on_disk().visitors), (3, 1), "counted in memory, the old file kept");
    let names: Vec<String> =
        std::fs::read_dir(&dir).expect("list").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| n == "counters.json" || n == "filler"), "{names:?}");
    std::fs::remove_file(filler).expect("space returns");
    let a = core.tick(181.0, 181.0);
    saved(&core, a);
    let written = on_disk();
    assert_eq!(written.visitors, 3);
    assert_eq!(written.days["2026-06-15"].visitors, 3);
    assert_eq!(written, *core.counters());
}

#[test]
fn a_screen_that_appears_after_the_start_brings_the_booth_up() {
    // Found by the system test's power-cut reboots: under load, the framebuffer's DRM driver
    // came up after the booth had started, and the booth stayed on a service screen it could not
    // even show until someone restarted it. The stand-in for the late device: the PNG screen's
    // folder is a plain file (the screen cannot open) until the test removes it.
    let (_tmp, _g, out, config) = img30_booth("fault-late-screen", true);
    let late = out.join("late");
    std::fs::write(&late, b"not yet a folder").expect("blocker");
    let text = std::fs::read_to_string(&config).expect("config").replace(
        &format!("png = \"{0}/screen.png\"\npng_dir = \"{0}/screens\"", out.display()),
        &format!("png = \"{0}/screen.png\"\npng_dir = \"{0}/screens\"", late.display()),
    );
    assert!(text.contains("late/screen.png"), "{text}");
    std::fs::write(&config, text).expect("write config");

    let mut d = Daemon::start(&config, &[]);
    let line = d.wait_for("event=service_needed", 60);
    assert!(line.contains("display"), "{line}");
    // Still waiting for its screen a few retries later, not exited.
    std::thread::sleep(Duration::from_secs(5));
    assert!(d.child.try_wait().expect("wait").is_none(), "the daemon exited");
    std::fs::remove_file(&late).expect("the screen arrives");
    d.wait_for("event=ready", 60);
    let matched = d.wait_for("event=match", 60);
    assert!(matched.contains("role_model=demo-02 "), "{matched}");
    assert!(late.join("screen.png").exists(), "nothing drawn on the screen that came late");
    d.signal(libc::SIGTERM);
    let (status, lines) = d.finish(20);
    assert!(status.success(), "{status:?} {lines:#?}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("event=service_needed")).count(), 1, "{lines:#?}");
}
