//! Soak: the real daemon (`rolemirror run`, replay camera at full speed, PNG screen, real models)
//! through a booth's day pattern — an empty room, single visitors, pairs, people walking past —
//! with a signed gallery imported from a real FAT stick every few hundred visitors, while the
//! test samples the process's heap in use, RSS, open file descriptors, threads and vision time
//! per frame.
//!
//! Soak time: one visitor slot is one simulated minute (a booth sees about one visitor a
//! minute), a day is 600 slots (10 h), one sample per slot. A slot is a handful of replayed
//! frames; each frame is a uniquely named symlink, so the daemon's own event lines (`no_face`
//! and `match` name the replayed file) tell the test which slot and frame the booth is at.
//! Per-frame time is the vision thread's CPU time (from `/proc/PID/task/*/stat`) over the frames
//! it analysed since the last sample; the wall time per frame is recorded too (it moves with the
//! machine's load).
//!
//! The heap in use is what the daemon logs after each frame at trace level on
//! `util::memory::LOG_TARGET` (glibc's bytes allocated; the soak turns that target on and reads
//! the lines from the daemon's stderr); RSS also holds the free memory glibc keeps by design,
//! so it moves by tens of MB with the heap unchanged and is gated looser.
//!
//! Pass: after warm-up, none of the heap in use, RSS, fds, threads and vision CPU time per
//! frame grows by more than its limit (5 % unless `Limits` says otherwise): the median over the last day's samples is at most 1.05 × the median over the
//! second day's (the first day is warm-up). Every day has the same sequence of slot kinds and
//! its imports at the same places, so days compare. `samples.csv` (rewritten every 100 samples
//! while the soak runs), `summary.txt` and `soak.png` (drawn by `soak_plot.rs` from the CSV) are written to
//! `SOAK_OUT` (default `target/soak/<name>`).
//!
//! The short soak runs in CI (three compressed days of 40 slots); the long one (7 days = 4,200
//! slots by default, `SOAK_DAYS` to change) is
//! `cargo test --release --test it soak::long -- --ignored --nocapture` (see
//! docs/reliability.md, "Soak").

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::soak_plot::{day_median, last_day, plot};
use crate::usb::{create, keys, small_gallery, FatStick};

/// Slots (simulated minutes) in a booth's day: 10 h.
const SLOTS_PER_DAY: usize = 600;
/// The kinds of a day's slots are the same every day (a fixed seed per day), who comes differs:
/// so every day has the same mix of frames, and days compare.
const DAY_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
/// Frames of a visitor standing in front of the booth (the booth matches on the third).
const FACE_FRAMES: usize = 5;
/// Empty frames after a visitor: long enough (at the fastest frame rate seen here) for the
/// result's minimum time, the face-lost grace time and the cooldown to pass.
const AFTER_FRAMES: usize = 12;
/// Empty frames of a minute nobody came.
const EMPTY_FRAMES: usize = 6;
/// Empty frames at the end of a segment, consumed while a stick is imported.
const TAIL_FRAMES: usize = 2500;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Empty,
    Single,
    Pair,
    WalkPast,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Empty => 'e',
            Kind::Single => 's',
            Kind::Pair => 'p',
            Kind::WalkPast => 'w',
        }
    }
}

/// A small deterministic PRNG (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The kind of a slot: busier at midday and late afternoon, quiet in the first and last hour.
/// A day is `day` slots (its tenths are its hours).
fn kind_at(slot: usize, day: usize, rng: &mut Rng) -> Kind {
    let hour = ((slot % day) * 10 / day).min(9);
    let empty = [0.45, 0.25, 0.15, 0.1, 0.05, 0.05, 0.15, 0.1, 0.2, 0.4][hour];
    let r = rng.unit();
    if r < empty {
        return Kind::Empty;
    }
    match rng.below(10) {
        0..=5 => Kind::Single,
        6 | 7 => Kind::Pair,
        _ => Kind::WalkPast,
    }
}

/// An empty room: a wall, a floor, a door, a poster; no face.
fn room() -> image::RgbImage {
    image::RgbImage::from_fn(640, 480, |x, y| {
        let n = ((x.wrapping_mul(7919) ^ y.wrapping_mul(104_729)) % 9) as u8;
        if y > 360 {
            image::Rgb([92 + n, 80 + n, 70 + n])
        } else if (80..200).contains(&x) && y > 90 {
            image::Rgb([120 + n, 95 + n, 60 + n])
        } else if (420..560).contains(&x) && (60..250).contains(&y) {
            image::Rgb([40 + n, 70 + n, 120 + n])
        } else {
            image::Rgb([200 + n, 198 + n, 190 + n])
        }
    })
}

/// A visitor as the booth's camera sees them: a 640x480 frame (the default `camera.width` and
/// `height`) of the photo's 4:3 window around its largest face — the photo's full width for a
/// tall photo, its full height for a wide one, so the face fills at least as much of the frame's
/// width as of the photo's.
fn camera_view(photo: &image::RgbImage) -> image::RgbImage {
    let (w, h) = (photo.width() as f32, photo.height() as f32);
    let faces = default_vision().faces(photo).expect("detect");
    let centre = faces.iter().max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])));
    let (cx, cy) = centre.map_or((w / 2.0, h / 2.0), |f| (f.bbox[0] + f.bbox[2] / 2.0, f.bbox[1] + f.bbox[3] / 2.0));
    let (ww, wh) = if w * 3.0 < h * 4.0 { (w, w * 0.75) } else { (h * 4.0 / 3.0, h) };
    let x0 = (cx - ww / 2.0).clamp(0.0, w - ww) as u32;
    let y0 = (cy - wh / 2.0).clamp(0.0, h - wh) as u32;
    let window = image::imageops::crop_imm(photo, x0, y0, ww as u32, wh as u32).to_image();
    image::imageops::resize(&window, 640, 480, image::imageops::FilterType::Triangle)
}

fn paste(canvas: &mut image::RgbImage, photo: &image::RgbImage, x: i64, y: i64) {
    image::imageops::overlay(canvas, photo, x, y);
}

fn fit(photo: &image::RgbImage, w: u32, h: u32) -> image::RgbImage {
    let s = (w as f32 / photo.width() as f32).min(h as f32 / photo.height() as f32);
    image::imageops::resize(
        photo,
        ((photo.width() as f32 * s) as u32).max(1),
        ((photo.height() as f32 * s) as u32).max(1),
        image::imageops::FilterType::Triangle,
    )
}

/// The replayed sequence: symlinks in `dir`, one list file per segment (between imports).
struct Sequence {
    dir: PathBuf,
    /// Slots in a day.
    day: usize,
    kinds: Vec<Kind>,
    /// Index (over the whole soak, tails excluded) of each slot's first frame.
    first_frame: Vec<usize>,
    /// The list file lines of each segment.
    segments: Vec<Vec<String>>,
}

impl Sequence {
    /// `slots` slots in days of `day` slots, an import before each slot of `imports`. Pictures
    /// from `visitors`: a single visitor's frames are their photo file itself, or with
    /// `camera_frames` the camera's view of them (see [`camera_view`]).
    fn build(dir: &Path, visitors: &[PathBuf], slots: usize, day: usize, imports: &[usize], camera_frames: bool) -> Sequence {
        let pics = dir.join("pictures");
        std::fs::create_dir_all(&pics).expect("mkdir");
        let bg = room();
        bg.save(pics.join("room.png")).expect("png");
        let photos: Vec<image::RgbImage> = visitors.iter().map(|v| image::open(v).expect("visitor photo").to_rgb8()).collect();
        let singles: Vec<PathBuf> = if camera_frames {
            photos
                .iter()
                .enumerate()
                .map(|(i, photo)| {
                    let p = pics.join(format!("single-{i:02}.png"));
                    camera_view(photo).save(&p).expect("png");
                    p
                })
                .collect()
        } else {
            visitors.to_vec()
        };
        // Pairs: two visitors side by side in the room. Walk-pasts: a visitor far away crossing
        // the room in three steps.
        let mut pairs = Vec::new();
        for i in 0..photos.len() {
            let mut c = bg.clone();
            paste(&mut c, &fit(&photos[i], 310, 420), 5, 40);
            paste(&mut c, &fit(&photos[(i + 5) % photos.len()], 310, 420), 325, 40);
            let p = pics.join(format!("pair-{i:02}.png"));
            c.save(&p).expect("png");
            pairs.push(p);
        }
        let mut walks = Vec::new();
        for (i, photo) in photos.iter().enumerate() {
            let small = fit(photo, 90, 110);
            let steps: Vec<PathBuf> = (0..3)
                .map(|k| {
                    let mut c = bg.clone();
                    paste(&mut c, &small, 60 + 200 * k, 180);
                    let p = pics.join(format!("walk-{i:02}-{k}.png"));
                    c.save(&p).expect("png");
                    p
                })
                .collect();
            walks.push(steps);
        }
        let room_png = pics.join("room.png");
        let (mut rng, mut who_rng) = (Rng(DAY_SEED), Rng(0x2545_f491_4f6c_dd1d));
        let (mut kinds, mut first_frame, mut segments) = (Vec::new(), Vec::new(), vec![Vec::new()]);
        let mut frame = 0;
        let link = |name: String, target: &Path, list: &mut Vec<String>| {
            let ext = target.extension().and_then(|e| e.to_str()).unwrap_or("png").to_string();
            let name = format!("{name}.{ext}");
            std::os::unix::fs::symlink(target, dir.join(&name)).expect("symlink");
            list.push(name);
        };
        for slot in 0..slots {
            if slot > 0 && imports.contains(&slot) {
                let seg = segments.len() - 1;
                for t in 0..TAIL_FRAMES {
                    link(format!("t{seg:03}-{t:04}"), &room_png, segments.last_mut().expect("segment"));
                }
                segments.push(Vec::new());
            }
            if slot % day == 0 {
                rng = Rng(DAY_SEED);
            }
            let kind = kind_at(slot, day, &mut rng);
            let who = who_rng.below(photos.len());
            let mut pictures: Vec<&Path> = Vec::new();
            match kind {
                Kind::Empty => pictures.extend(std::iter::repeat_n(room_png.as_path(), EMPTY_FRAMES)),
                Kind::Single => pictures.extend(std::iter::repeat_n(singles[who].as_path(), FACE_FRAMES)),
                Kind::Pair => pictures.extend(std::iter::repeat_n(pairs[who].as_path(), FACE_FRAMES)),
                Kind::WalkPast => pictures.extend(walks[who].iter().map(PathBuf::as_path)),
            }
            if kind != Kind::Empty {
                pictures.extend(std::iter::repeat_n(room_png.as_path(), AFTER_FRAMES));
            }
            kinds.push(kind);
            first_frame.push(frame);
            for (i, p) in pictures.iter().enumerate() {
                link(format!("s{slot:05}-{i:02}{}", kind.letter()), p, segments.last_mut().expect("segment"));
            }
            frame += pictures.len();
        }
        // The end of the recording: a few empty frames, then the replay ends (and the daemon).
        let seg = segments.len() - 1;
        for t in 0..4 {
            link(format!("t{seg:03}-{t:04}"), &room_png, segments.last_mut().expect("segment"));
        }
        first_frame.push(frame);
        Sequence { dir: dir.to_path_buf(), day, kinds, first_frame, segments }
    }

    /// Makes segment `n` the replay (read by the daemon when its camera opens).
    fn activate(&self, n: usize) -> PathBuf {
        let list = self.dir.join("replay.list");
        let tmp = self.dir.join("replay.list.tmp");
        std::fs::write(&tmp, self.segments[n].join("\n") + "\n").expect("write list");
        std::fs::rename(&tmp, &list).expect("rename list");
        list
    }

    /// (slot, frame index) of a replayed file's name, if it belongs to a slot.
    fn position(&self, label: &str) -> Option<(usize, usize)> {
        let rest = label.strip_prefix('s')?;
        let slot: usize = rest.get(..5)?.parse().ok()?;
        let i: usize = rest.get(6..8)?.parse().ok()?;
        Some((slot, self.first_frame.get(slot)? + i))
    }

    /// The segment whose tail a replayed file's name belongs to.
    fn tail(label: &str) -> Option<usize> {
        label.strip_prefix('t')?.get(..3)?.parse().ok()
    }
}

/// One sample of the daemon, taken when the booth reaches a new slot.
#[derive(Clone, Debug)]
struct Sample {
    slot: usize,
    frame: usize,
    segment: usize,
    wall: f64,
    rss_kb: u64,
    /// The heap in use after the vision worker's latest frame (its trace line), when one came.
    heap_kb: Option<u64>,
    fds: usize,
    threads: usize,
    /// The vision thread's CPU time (utime + stime), in clock ticks.
    vision_ticks: Option<u64>,
}

fn proc_status(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok()).unwrap_or(0)
}

fn vision_ticks(pid: u32) -> Option<u64> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        if std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim() == "vision") {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            // Fields after "(comm) ": state is field 3; utime and stime are fields 14 and 15.
            let after = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = after.split_whitespace().collect();
            return Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?);
        }
    }
    None
}

fn sample(pid: u32, heap_kb: Option<u64>, slot: usize, frame: usize, segment: usize, start: Instant) -> Sample {
    Sample {
        slot,
        frame,
        segment,
        wall: start.elapsed().as_secs_f64(),
        rss_kb: proc_status(pid, "VmRSS:"),
        heap_kb,
        fds: std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0),
        threads: proc_status(pid, "Threads:") as usize,
        vision_ticks: vision_ticks(pid),
    }
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// Per-frame figures of each sample over the frames since the previous sample of the same
/// segment (an import restarts the vision thread): (vision CPU ms per frame, wall ms per frame).
fn per_frame(samples: &[Sample]) -> Vec<(Option<f64>, Option<f64>)> {
    let tick_ms = 1000.0 / ticks_per_second();
    let mut out = vec![(None, None)];
    for w in samples.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let frames = b.frame.saturating_sub(a.frame);
        if a.segment != b.segment || frames == 0 {
            out.push((None, None));
            continue;
        }
        let cpu = match (a.vision_ticks, b.vision_ticks) {
            (Some(x), Some(y)) if y >= x => Some((y - x) as f64 * tick_ms / frames as f64),
            _ => None,
        };
        out.push((cpu, Some((b.wall - a.wall) * 1000.0 / frames as f64)));
    }
    out
}

/// Growth of one series over whole days (every day has the same mix of slots, imports at the
/// same places): (median over the second day, median over the last full day, ratio). The first
/// day is warm-up.
fn growth(samples: &[Sample], values: &[Option<f64>], day: usize) -> (f64, f64, f64) {
    let slots: Vec<usize> = samples.iter().map(|s| s.slot).collect();
    let (early, late) = (day_median(&slots, values, day, 1), day_median(&slots, values, day, last_day(&slots, day)));
    (early, late, late / early)
}

/// The kB of a daemon's "heap in use after frame N: K kB" trace line.
fn heap_line(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once(" heap in use after frame ")?;
    rest.split_once(": ")?.1.strip_suffix(" kB")?.parse().ok()
}

/// The daemon with its event lines on a channel.
struct Booth {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The latest heap in use the daemon logged (kB), from its stderr.
    heap_kb: Arc<Mutex<Option<u64>>>,
}

impl Booth {
    fn start(config: &Path) -> Booth {
        // SOAK_DAEMON_ENV: `KEY=VALUE ...` for the daemon alone (a heap profiler's preload:
        // "LD_PRELOAD=.../libheaptrack_preload.so DUMP_HEAPTRACK_OUTPUT=FILE").
        let extra = std::env::var("SOAK_DAEMON_ENV").unwrap_or_default();
        let extra = extra.split_whitespace().filter_map(|kv| kv.split_once('='));
        // SOAK_DAEMON_BIN: another build of the daemon (to compare two builds on one soak).
        let bin = std::env::var_os("SOAK_DAEMON_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rolemirror")), PathBuf::from);
        let mut child = Command::new(bin)
            .envs(extra)
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", format!("warn,{}=trace", rolemirror::util::memory::LOG_TARGET))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("daemon starts");
        let lines = crate::booth::line_reader(child.stdout.take().expect("stdout"));
        // The vision worker's "heap in use after frame N: K kB" lines are kept (the latest);
        // every other line goes on to the test's stderr.
        let heap_kb = Arc::new(Mutex::new(None));
        let (stderr, latest) = (child.stderr.take().expect("stderr"), heap_kb.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match heap_line(&line) {
                    Some(kb) => *latest.lock().unwrap() = Some(kb),
                    None => eprintln!("{line}"),
                }
            }
        });
        Booth { child, lines, heap_kb }
    }
}

impl Drop for Booth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// What a soak run saw.
struct Outcome {
    samples: Vec<Sample>,
    matches: usize,
    imports: usize,
    visitors_counted: u64,
    lines: Vec<String>,
    seconds: f64,
    /// The daemon's peak resident memory (VmHWM, start-up included) at its last sample, kB.
    peak_kb: u64,
}

/// The booth's config for a soak in `dir`: the replay list `list`, the gallery `active`, the
/// state folder `state`, sticks under `media` signed by the keys in `trusted`. Returns its path.
#[allow(clippy::too_many_arguments)]
fn write_config(dir: &Path, list: &Path, active: &Path, state: &Path, media: &Path, trusted: &Path, screen: (u32, u32)) -> PathBuf {
    let config = dir.join("booth.toml");
    std::fs::write(
        &config,
        format!(
            r#"[camera]
source = "replay"
replay = "{list}"
replay_fps = 120.0
replay_loop = false
timeout_seconds = 2.0
[vision]
models = "{models}"
[gallery]
dir = "{active}"
[booth]
matching_frames = 3
result_min_seconds = 0.15
result_max_seconds = 5.0
cooldown_seconds = 0.05
face_lost_seconds = 0.1
[display]
backend = "png"
png = "{dir}/screen.png"
width = {width}
height = {height}
[state]
dir = "{state}"
[usb]
mount_roots = ["{media}"]
trusted_keys = "{trusted}"
poll_seconds = 0.2
settle_seconds = 0.5
result_seconds = 0.5
report_spool = "{dir}/spool"
"#,
            list = list.display(),
            models = models().display(),
            active = active.display(),
            dir = dir.display(),
            state = state.display(),
            media = media.display(),
            trusted = trusted.display(),
            width = screen.0,
            height = screen.1,
        ),
    )
    .expect("write config");
    config
}

/// The names of the `.jpg` files in `dir`, sorted.
fn jpegs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (see ../shared/data/README.md)", dir.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    names.sort();
    names
}

/// What the booth starts with.
struct Setup {
    /// The active gallery at start (a folder with gallery.toml, its photos and, when built, its
    /// index): None for the demo gallery's twelve role models.
    gallery: Option<PathBuf>,
    /// The PNG screen's size.
    screen: (u32, u32),
    /// A single visitor's frames as a camera delivers them (640x480, [`camera_view`]) instead of
    /// the photo files (up to 2400x1702: 12 MB each decoded, several alive at once).
    camera_frames: bool,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup { gallery: None, screen: (960, 540), camera_frames: false }
    }
}

/// Runs the soak: `days` days of `day` simulated minutes, a stick before each slot of `imports`;
/// writes the numbers and the plot to `out`; returns what it saw.
fn soak(name: &str, days: usize, day: usize, imports: &[usize], limits: Limits, setup: &Setup) -> Outcome {
    assert!(days >= 3, "a soak needs a warm-up day, a reference day and a last day");
    let slots = days * day;
    let tmp = TempDir::new(&format!("soak-{name}"));
    let out = std::env::var_os("SOAK_OUT").map(PathBuf::from).unwrap_or_else(|| root().join("target/soak").join(name));
    std::fs::create_dir_all(&out).expect("mkdir out");
    let demo = demo_gallery(&tmp);
    let mut visitors: Vec<PathBuf> =
        std::fs::read_dir(tmp.path().join("visitors")).expect("visitors").flatten().map(|e| e.path()).collect();
    visitors.sort();
    let seq = Sequence::build(&tmp.path().join("frames"), &visitors, slots, day, imports, setup.camera_frames);
    let list = seq.activate(0);

    // Two galleries the technician alternates between (imported from sticks, embedded by the
    // booth): the demo gallery's twelve role models, and eleven of them.
    let photos = jpegs(&demo);
    let entries: Vec<(String, String)> = photos.iter().map(|p| (format!("rm-{}", p.trim_end_matches(".jpg")), p.clone())).collect();
    let as_refs = |n: usize| entries[..n].iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>();
    let galleries = [
        small_gallery(&tmp.path().join("g-all"), &demo, &as_refs(entries.len())),
        small_gallery(&tmp.path().join("g-less"), &demo, &as_refs(entries.len() - 1)),
    ];
    let k = keys(tmp.path(), "tech");
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).expect("mkdir");
    let active = tmp.path().join("active-gallery");
    let start_gallery = setup.gallery.as_deref().unwrap_or(&demo);
    assert!(Command::new("cp").arg("-r").arg(start_gallery).arg(&active).status().expect("cp").success());

    let state = tmp.path().join("state");
    let config = write_config(tmp.path(), &list, &active, &state, &media, &k.trusted, setup.screen);

    let start = Instant::now();
    let mut booth = Booth::start(&config);
    let pid = booth.child.id();
    let mut samples: Vec<Sample> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let (mut segment, mut matches, mut imports) = (0usize, 0usize, 0usize);
    let (mut next_slot, mut peak_kb) = (0usize, 0u64);
    let mut last_progress = Instant::now();
    let wait = |booth: &mut Booth, lines: &mut Vec<String>, needle: &str, secs: u64| -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(l) = booth.lines.recv_timeout(Duration::from_millis(100)) {
                lines.push(l.clone());
                if l.contains(needle) {
                    return l;
                }
            }
        }
        panic!("no {needle:?} within {secs} s; last lines:\n{}", lines[lines.len().saturating_sub(30)..].join("\n"));
    };
    wait(&mut booth, &mut lines, "event=ready", 120);
    loop {
        let line = match booth.lines.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => l,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                assert!(
                    last_progress.elapsed() < Duration::from_secs(120),
                    "the booth made no progress for 2 minutes at slot {next_slot}; last lines:\n{}",
                    lines[lines.len().saturating_sub(30)..].join("\n")
                );
                continue;
            }
        };
        last_progress = Instant::now();
        if line.starts_with("event=match") {
            matches += 1;
        }
        let label = field(&line, "visitor").map(str::to_string);
        lines.push(line);
        let Some(label) = label else { continue };
        if let Some((slot, frame)) = seq.position(&label) {
            if slot >= next_slot {
                let heap_kb = *booth.heap_kb.lock().unwrap();
                samples.push(sample(pid, heap_kb, slot, frame, segment, start));
                peak_kb = peak_kb.max(proc_status(pid, "VmHWM:"));
                next_slot = slot + 1;
                if samples.len().is_multiple_of(100) {
                    write_csv(&seq, &samples, &out);
                    let s = samples.last().expect("sample");
                    eprintln!(
                        "soak {name}: slot {slot}/{slots} after {:.0} s: rss {} kB, heap in use {:?} kB, fds {}, threads {}",
                        s.wall, s.rss_kb, s.heap_kb, s.fds, s.threads
                    );
                }
            }
        } else if Sequence::tail(&label) == Some(segment) && segment + 1 < seq.segments.len() {
            // The room is empty: the technician plugs in a stick with the other gallery.
            segment += 1;
            seq.activate(segment);
            let content = tmp.path().join(format!("stick-{segment}"));
            create(&content, Some(&galleries[segment % 2]), None, &k.private, 100 + segment as u64);
            let mut stick =
                FatStick::new(&content, &tmp.path().join(format!("stick-{segment}.img")), &media.join(format!("stick{segment}")), |_| {});
            let installed = wait(&mut booth, &mut lines, "event=gallery_installed", 120);
            assert!(installed.contains(&format!("serial={}", 100 + segment)), "{installed}");
            let ready = wait(&mut booth, &mut lines, "event=ready", 120);
            let want = if segment % 2 == 0 { entries.len() } else { entries.len() - 1 };
            assert!(ready.contains(&format!("role_models={want} ")), "{ready}");
            imports += 1;
            stick.unplug();
            drop(stick);
            let _ = std::fs::remove_file(tmp.path().join(format!("stick-{segment}.img")));
            let _ = std::fs::remove_dir_all(&content);
        }
    }
    let status = booth.child.wait().expect("wait");
    let seconds = start.elapsed().as_secs_f64();
    assert!(status.success(), "{status:?}; last lines:\n{}", lines[lines.len().saturating_sub(30)..].join("\n"));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("event=shutdown reason=replayended"),
        "{:?}",
        &lines[lines.len().saturating_sub(30)..]
    );
    let counters: serde_json::Value = serde_json::from_slice(&std::fs::read(state.join("counters.json")).expect("counters")).expect("json");
    let visitors_counted = counters["visitors"].as_u64().unwrap_or(0);
    // Nothing about visitors on disk but the counts.
    let mut kept: Vec<String> =
        std::fs::read_dir(&state).expect("state").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    kept.sort();
    assert_eq!(kept, ["counters.json", "health.json"], "the state directory holds only the counters and the health snapshot");
    let outcome = Outcome { samples, matches, imports, visitors_counted, lines, seconds, peak_kb };
    report(name, &seq, &outcome, &out, limits);
    outcome
}

/// Writes the samples (with their per-frame figures) to `out/samples.csv`; returns the latter.
fn write_csv(seq: &Sequence, samples: &[Sample], out: &Path) -> Vec<(Option<f64>, Option<f64>)> {
    let pf = per_frame(samples);
    let mut csv =
        String::from("slot,day,frame,segment,wall_s,rss_kb,heap_in_use_kb,fds,threads,vision_cpu_ms_per_frame,wall_ms_per_frame\n");
    for (s, (cpu, wall)) in samples.iter().zip(&pf) {
        let f = |v: &Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
        csv += &format!(
            "{},{:.4},{},{},{:.2},{},{},{},{},{},{}\n",
            s.slot,
            s.slot as f64 / seq.day as f64,
            s.frame,
            s.segment,
            s.wall,
            s.rss_kb,
            s.heap_kb.map(|k| k.to_string()).unwrap_or_default(),
            s.fds,
            s.threads,
            f(cpu),
            f(wall)
        );
    }
    std::fs::write(out.join("samples.csv"), csv).expect("write csv");
    pf
}

/// How much a gated series may grow from the second day to the last.
#[derive(Clone, Copy)]
struct Limits {
    /// The heap in use after a frame: what a leak makes grow.
    heap: f64,
    /// Resident memory: the heap in use plus what the allocator keeps (see `short`).
    rss: f64,
    /// Vision CPU time per frame; `None`: reported, not gated (a timing: see `short`).
    cpu: Option<f64>,
}

/// Writes samples.csv, summary.txt and soak.png to `out`; checks the pass criterion.
fn report(name: &str, seq: &Sequence, o: &Outcome, out: &Path, limits: Limits) {
    let pf = write_csv(seq, &o.samples, out);
    let series: [(&str, Vec<Option<f64>>, bool); 6] = [
        ("heap_in_use_kb", o.samples.iter().map(|s| s.heap_kb.map(|k| k as f64)).collect(), true),
        ("rss_kb", o.samples.iter().map(|s| Some(s.rss_kb as f64)).collect(), true),
        ("fds", o.samples.iter().map(|s| Some(s.fds as f64)).collect(), true),
        ("threads", o.samples.iter().map(|s| Some(s.threads as f64)).collect(), true),
        ("vision_cpu_ms_per_frame", pf.iter().map(|p| p.0).collect(), limits.cpu.is_some()),
        ("wall_ms_per_frame (not gated: moves with the machine's load)", pf.iter().map(|p| p.1).collect(), false),
    ];
    let count = |k: Kind| seq.kinds.iter().filter(|&&x| x == k).count();
    let slots = seq.kinds.len();
    let mut text = format!(
        "soak {name}: {slots} slots (simulated minutes) = {days:.2} booth days of {day} slots, {frames} frames, {seconds:.0} s wall\n\
         slots: {empty} empty, {single} single visitors, {pairs} pairs, {past} walking past; {imports} USB imports (FAT stick, signed gallery)\n\
         matches shown: {matches}; visitors counted by the booth (counters.json, kept across reloads): {counted}; slots with someone in them: {someone}\n\
         samples: {samples} (one per slot reached)\n\
         growth = median over the last day / median over the second day (the first day is warm-up; every day has the same slot mix); \
         pass: heap in use <= x{heap:.2}, resident memory <= x{rss:.2}, vision CPU per frame {cpu}, fds and threads <= x1.05\n",
        days = slots as f64 / seq.day as f64,
        day = seq.day,
        frames = seq.first_frame[slots] + seq.segments.len() * TAIL_FRAMES,
        seconds = o.seconds,
        empty = count(Kind::Empty),
        single = count(Kind::Single),
        pairs = count(Kind::Pair),
        past = count(Kind::WalkPast),
        imports = o.imports,
        matches = o.matches,
        counted = o.visitors_counted,
        someone = slots - count(Kind::Empty),
        samples = o.samples.len(),
        heap = limits.heap,
        rss = limits.rss,
        cpu = limits.cpu.map_or("reported, not gated".to_string(), |c| format!("<= x{c:.2}")),
    );
    let mut failures = Vec::new();
    for (key, values, gated) in &series {
        let (early, late, ratio) = growth(&o.samples, values, seq.day);
        let max = values.iter().flatten().copied().fold(f64::NAN, f64::max);
        let min = values.iter().flatten().copied().fold(f64::NAN, f64::min);
        let limit = match *key {
            "heap_in_use_kb" => limits.heap,
            "rss_kb" => limits.rss,
            k if k.starts_with("vision_cpu") => limits.cpu.unwrap_or(f64::INFINITY),
            _ => 1.05,
        };
        let verdict = if !gated {
            "reported"
        } else if ratio <= limit {
            "ok"
        } else {
            failures.push(format!("{key}: {early:.2} -> {late:.2} (x{ratio:.3}, limit x{limit:.2})"));
            "GROWS"
        };
        text += &format!("  {key}: second day {early:.2}, last day {late:.2}, ratio {ratio:.3} (min {min:.2}, max {max:.2}) {verdict}\n");
    }
    std::fs::write(out.join("summary.txt"), &text).expect("write summary");
    eprintln!("{text}");
    plot(&out.join("samples.csv"), &out.join("soak.png"), &format!("soak {name}"));
    eprintln!("soak {name}: numbers and plot in {}", out.display());
    assert!(failures.is_empty(), "grows after warm-up: {failures:?}\n{text}");
}

fn check(o: &Outcome, slots: usize) {
    assert!(o.samples.len() * 10 >= slots * 9, "samples at {} of {slots} slots", o.samples.len());
    let heap = o.samples.iter().filter(|s| s.heap_kb.is_some()).count();
    assert!(
        heap * 10 >= o.samples.len() * 9,
        "the heap in use known at {heap} of {} samples (no trace lines from the vision worker?)",
        o.samples.len()
    );
    // Privacy: the event lines name replayed files, role models and counts, nothing else.
    for l in &o.lines {
        assert!(l.starts_with("event="), "{l}");
    }
}

/// The CI soak: three compressed booth days of 40 slots (the day pattern in 40 minutes), a
/// stick imported in the middle of the first day. Only the warm-up day has an import: a reload
/// moves the process's RSS by up to ±20 % (see docs/reliability.md, "Soak"), so days 2 and 3
/// compare the booth running on, without one. With 40 samples a day (a booth day is ~30 s of
/// wall time) the curves that move with the machine's load are reported or gated loosely, to
/// catch what keeps growing rather than 5 %; the long soak gates every curve at x1.05:
/// - vision CPU time per frame is reported, not gated: it is a timing (rule: tests check
///   behaviour), and on this 2-core machine it moves with what runs beside the soak — x1.048
///   with another soak beside it, x1.329 in CI's fresh-clone run of 2026-12-07 (day 3 under the
///   other integration tests; wall time per frame x1.041, the heap in use x0.997). Work that
///   grows per frame grows a structure, which the heap gate sees;
/// - the heap in use at x1.05, as in the long soak: the leak gate (its day medians were
///   58-59 MB in every run here; a leaked camera frame, 0.9 MB, per visitor would add ~25 MB a
///   day, x1.4);
/// - resident memory at x1.50, against growth the heap does not see (mappings, stacks): glibc
///   keeps up to `util::memory::TRIM_THRESHOLD` (64 MB) of freed heap per arena resident by
///   design, so RSS moves by tens of MB with the heap flat (100-200 MB); its day medians moved
///   x1.081 and x1.265 in CI's fresh-clone runs and x1.298 in a run here whose heap in use
///   moved x0.997.
#[test]
fn short() {
    let (days, day) = (3, 40);
    let o = soak("short", days, day, &[day / 2], Limits { heap: 1.05, rss: 1.50, cpu: None }, &Setup::default());
    check(&o, days * day);
    assert_eq!(o.imports, 1);
    assert!(o.matches >= days * day / 2, "{} matches", o.matches);
}

/// The long soak: `SOAK_DAYS` booth days (default 7) of 600 slots (10 h at a visitor a minute),
/// a stick every `SOAK_USB_EVERY` slots (default 300).
#[test]
#[ignore = "long: cargo test --release --test it soak::long -- --ignored --nocapture"]
fn long() {
    let var = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let days = var("SOAK_DAYS", 7);
    let every = var("SOAK_USB_EVERY", 300);
    let imports: Vec<usize> = (1..days * SLOTS_PER_DAY).filter(|s| s % every == 0).collect();
    let o = soak("long", days, SLOTS_PER_DAY, &imports, Limits { heap: 1.05, rss: 1.20, cpu: Some(1.05) }, &Setup::default());
    check(&o, days * SLOTS_PER_DAY);
}

/// Resident memory with a large gallery (issue 27's target: at most 90 MB with 1,000 photos):
/// the short soak's three days with no imports, the booth starting on a gallery of 1,000
/// UTKFace photos (`../shared/data/utk-dev`, one role model each, indexed with `gallery build`
/// before the start) and a 1920x1080 screen, so the result cards show that gallery's portraits.
/// Prints the RSS the soak samples (one per slot: median and max of the last day) and the peak
/// (VmHWM, start-up included), and whether they are within the target; checks what the short
/// soak checks (no growth, the booth matched) — the heap in use at x1.5, as it is sampled
/// wherever a frame is (up to 80 MB in a full-frame detection, ~33 MB between). A measurement,
/// run by name; `SOAK_PHOTOS` changes the gallery's size. Numbers: docs/performance.md.
#[test]
#[ignore = "measurement: cargo test --release --test it soak::thousand_photos -- --ignored --nocapture"]
fn thousand_photos() {
    let photos = std::env::var("SOAK_PHOTOS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000usize);
    let tmp = TempDir::new("soak-gallery");
    let gallery = tmp.path().join("utk");
    std::fs::create_dir_all(&gallery).expect("mkdir");
    let utk = shared().join("data/utk-dev/images");
    let names = jpegs(&utk);
    assert!(names.len() >= photos, "{} photos in {}, {photos} wanted", names.len(), utk.display());
    let mut toml = String::new();
    for (i, name) in names.iter().take(photos).enumerate() {
        let file = format!("p{i:04}.jpg");
        std::fs::copy(utk.join(name), gallery.join(&file)).expect("copy photo");
        toml += &format!(
            "[[role_model]]\nid = \"rm-{i:04}\"\nname = \"Role model {i:04}\"\nrole = \"Role {i}\"\nquote = \"Quote number {i} of the gallery.\"\n\
             story_url = \"https://example.org/{i}\"\nphotos = [\"{file}\"]\n\n"
        );
    }
    std::fs::write(gallery.join("gallery.toml"), toml).expect("write");
    let out = rolemirror(&["gallery", "build", "--models", s(&models()), s(&gallery)]);
    assert!(out.status.success(), "gallery build: {}", String::from_utf8_lossy(&out.stderr));
    let (days, day) = (3, 40);
    let setup = Setup { gallery: Some(gallery), screen: (1920, 1080), camera_frames: true };
    let o = soak("thousand-photos", days, day, &[], Limits { heap: 1.50, rss: 1.50, cpu: None }, &setup);
    check(&o, days * day);
    let last_day: Vec<f64> = o.samples.iter().filter(|s| s.slot >= (days - 1) * day).map(|s| s.rss_kb as f64 / 1024.0).collect();
    let mut sorted = last_day.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    let max = sorted.last().copied().unwrap_or(f64::NAN);
    let peak = o.peak_kb as f64 / 1024.0;
    // The issue's 90 MB, in MiB as /proc reports (kB = KiB).
    let target = 90e6 / 1048576.0;
    let verdict = if max <= target {
        "within"
    } else if median <= target {
        "median within, max over"
    } else {
        "over"
    };
    eprintln!(
        "soak thousand-photos: {photos} photos, {} matches; RSS on the last day: median {median:.1} MiB, max {max:.1} MiB \
         ({verdict} the 90 MB = {target:.1} MiB target); peak (VmHWM) {peak:.1} MiB",
        o.matches
    );
    assert!(o.matches >= days * day / 2, "{} matches", o.matches);
}
