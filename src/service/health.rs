//! The health report: what a technician needs to judge a booth from a USB stick or a shell —
//! versions, uptime and restarts, gallery, config checksum, camera mode and rate, stage timings,
//! the last warnings and errors, temperature and throttling, free space, and the per-day
//! counters. Never anything about a visitor: no embedding, similarity, role model of a visit or
//! time of a visit; the counters are per-day totals (see docs/health-report.md).
//!
//! The running booth keeps its live values in a [`Live`] (in memory, for the report on a
//! stick) and writes them every [`SNAPSHOT_EVERY`] to `STATE_DIR/health.json` (atomically),
//! where `rolemirror report`, another process, reads them.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::counters::{Counters, Day};
use crate::config::Config;
use crate::models::Manifest;

/// The daemon's snapshot in the state directory.
pub const SNAPSHOT_FILE: &str = "health.json";
/// How often the daemon refreshes the snapshot file.
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(10);
/// Frames in the window the stage medians and frame rates are taken over.
pub const WINDOW: usize = 300;
/// The snapshot format.
const FORMAT: u32 = 1;

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(unix)).to_string()
}

/// The kernel's id of this boot (`/proc/sys/kernel/random/boot_id`).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// A model the booth runs: its id in the manifest and the pinned sha256 (checked at every load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub role: String,
    pub id: String,
    pub sha256: String,
}

/// The median time of one stage over the recent window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageStat {
    pub stage: String,
    pub median_ms: f64,
    pub samples: usize,
}

/// What the daemon knows live (no visitor data: timings and rates are medians and counts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: u32,
    pub version: String,
    pub pid: u32,
    pub boot_id: String,
    /// When this process started (unix seconds).
    pub started_unix: u64,
    /// Processes started during this boot, this one included.
    pub starts_this_boot: u64,
    pub updated_unix: u64,
    /// "running", or "service screen: <problems>".
    pub state: String,
    pub models: Vec<ModelVersion>,
    pub gallery_role_models: Option<usize>,
    /// The installed bundle's serial when this config and gallery were loaded (a reload after an
    /// update shows the new one: what a Mender commit waits for).
    #[serde(default)]
    pub installed_serial: Option<u64>,
    /// The camera as opened (device, size, pixel format), when connected.
    pub camera_connected: Option<String>,
    /// The last camera problem, when lost.
    pub camera_lost: Option<String>,
    pub captured_fps: Option<f64>,
    pub analysed_fps: Option<f64>,
    pub stages: Vec<StageStat>,
    /// The last warnings and errors (oldest first).
    pub warnings: Vec<String>,
}

/// This process's start: the time, and the count of starts during this boot (kept in the
/// previous snapshot of the same boot; the first read of a state directory decides).
fn this_start(state_dir: &Path) -> (u64, u64) {
    static START: OnceLock<(u64, u64)> = OnceLock::new();
    *START.get_or_init(|| {
        let boot = boot_id();
        let before = load_snapshot(state_dir).filter(|s| !boot.is_empty() && s.boot_id == boot).map_or(0, |s| s.starts_this_boot);
        (unix_now(), before + 1)
    })
}

/// Reads the snapshot in `state_dir` (none, or unreadable: `None`).
pub fn load_snapshot(state_dir: &Path) -> Option<Snapshot> {
    let bytes = std::fs::read(state_dir.join(SNAPSHOT_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the snapshot atomically; a failure is logged once per kind and the booth goes on.
pub fn save_snapshot(state_dir: &Path, snapshot: &Snapshot) {
    let result = std::fs::create_dir_all(state_dir)
        .and_then(|_| serde_json::to_vec_pretty(snapshot).map_err(std::io::Error::other))
        .and_then(|bytes| crate::util::write_atomic(&state_dir.join(SNAPSHOT_FILE), &bytes));
    if let Err(e) = result {
        log::debug!("state.dir {}: cannot save {SNAPSHOT_FILE}: {e}", state_dir.display());
    }
}

/// Stage times and frame counts over a window of recent frames, fed by the vision worker and
/// the event loop.
#[derive(Debug, Default)]
pub struct Timings {
    detect: VecDeque<f64>,
    align: VecDeque<f64>,
    embed: VecDeque<f64>,
    matching: VecDeque<f64>,
    /// (when, the camera's frame number) of analysed frames.
    frames: VecDeque<(Instant, u64)>,
}

fn push_bounded<T>(q: &mut VecDeque<T>, v: T) {
    while q.len() >= WINDOW {
        q.pop_front();
    }
    q.push_back(v);
}

fn median(q: &VecDeque<f64>) -> Option<f64> {
    let mut v: Vec<f64> = q.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

impl Timings {
    /// One analysed frame: its camera frame number and its stage times.
    pub fn frame(&mut self, seq: u64, times: &crate::booth::analyze::StageTimes) {
        push_bounded(&mut self.frames, (Instant::now(), seq));
        for (q, t) in [(&mut self.detect, times.detect), (&mut self.align, times.align), (&mut self.embed, times.embed)] {
            if let Some(t) = t {
                push_bounded(q, t);
            }
        }
    }

    /// One match against the gallery (the booth step that ranked the role models).
    pub fn matched(&mut self, seconds: f64) {
        push_bounded(&mut self.matching, seconds);
    }

    /// Medians in milliseconds, stages with samples only.
    pub fn stages(&self) -> Vec<StageStat> {
        [("detect", &self.detect), ("align", &self.align), ("embed", &self.embed), ("match", &self.matching)]
            .into_iter()
            .filter_map(|(stage, q)| {
                median(q).map(|m| StageStat { stage: stage.into(), median_ms: (m * 1e5).round() / 100.0, samples: q.len() })
            })
            .collect()
    }

    /// (frames the camera delivered, frames analysed) per second over the window.
    pub fn rates(&self) -> (Option<f64>, Option<f64>) {
        let (Some(first), Some(last)) = (self.frames.front(), self.frames.back()) else { return (None, None) };
        let secs = last.0.duration_since(first.0).as_secs_f64();
        if self.frames.len() < 2 || secs <= 0.0 {
            return (None, None);
        }
        let round = |x: f64| (x * 10.0).round() / 10.0;
        (Some(round(last.1.saturating_sub(first.1) as f64 / secs)), Some(round((self.frames.len() - 1) as f64 / secs)))
    }
}

/// The running daemon's live health: the snapshot and the per-day counters, refreshed by the
/// event loop, read when a stick asks for a report.
#[derive(Debug, Default)]
pub struct Live {
    pub snapshot: Snapshot,
    pub days: BTreeMap<String, Day>,
}

/// Shared between the event loop (writer) and the USB updater (reader).
pub type SharedLive = Arc<Mutex<Live>>;

/// A fresh snapshot for this process: versions, start, state; the loop fills in the rest.
pub fn new_snapshot(config: &Config, state: &str, models: Vec<ModelVersion>, role_models: Option<usize>) -> Snapshot {
    let (started_unix, starts_this_boot) = this_start(&config.state_dir);
    Snapshot {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        boot_id: boot_id(),
        started_unix,
        starts_this_boot,
        updated_unix: unix_now(),
        state: state.to_string(),
        models,
        gallery_role_models: role_models,
        installed_serial: Some(crate::usb::install::Store::new(&config.gallery.dir).installed_serial()),
        warnings: crate::util::logring::recent(),
        ..Snapshot::default()
    }
}

/// The models a config names, by the built-in manifest (ids and pinned sha256).
pub fn configured_models(config: &Config) -> Vec<ModelVersion> {
    let Ok(manifest) = Manifest::builtin() else { return Vec::new() };
    let detector = config.vision.detector.clone().unwrap_or_else(|| manifest.default_detector.clone());
    let embedder = config.vision.embedder.clone().unwrap_or_else(|| manifest.default_embedder.clone());
    [("detector", detector), ("embedder", embedder)]
        .into_iter()
        .map(|(role, id)| {
            let sha256 = manifest.get(&id).map(|m| m.sha256.clone()).unwrap_or_else(|_| "unknown model id".into());
            ModelVersion { role: role.into(), id, sha256 }
        })
        .collect()
}

/// Whether the daemon that wrote `snapshot` still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Daemon {
    /// This report is made by the running booth itself.
    ThisProcess,
    /// Another process runs with the snapshot's pid and is rolemirror.
    Running,
    /// No snapshot, or its process is gone.
    NotRunning,
}

/// Is `pid` a running rolemirror process (of this boot)?
pub fn daemon_alive(snapshot: &Snapshot) -> bool {
    if snapshot.boot_id != boot_id() {
        return false;
    }
    std::fs::read(format!("/proc/{}/cmdline", snapshot.pid))
        .map(|c| c.split(|b| *b == 0).next().is_some_and(|arg0| String::from_utf8_lossy(arg0).contains("rolemirror")))
        .unwrap_or(false)
}

#[derive(Debug, Clone, Serialize)]
pub struct Software {
    pub version: String,
    pub daemon: Daemon,
    pub pid: Option<u32>,
    pub state: Option<String>,
    pub started: Option<String>,
    pub uptime_seconds: Option<u64>,
    pub starts_this_boot: Option<u64>,
    pub restarts_since_boot: Option<u64>,
    pub system_uptime_seconds: Option<u64>,
    /// When the daemon last refreshed its values (not the report's own time).
    pub values_from: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GalleryHealth {
    pub dir: PathBuf,
    /// The installed USB bundle's serial (0: none installed yet).
    pub serial: u64,
    /// Role models the running booth shows (from its live values; else the installed gallery's).
    pub role_models: Option<usize>,
    /// Role models in the gallery installed on disk (differs from `role_models` for the moment
    /// between a USB update's install and the booth's reload onto it).
    pub installed_role_models: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigHealth {
    pub path: PathBuf,
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CameraHealth {
    pub configured: String,
    pub connected: Option<String>,
    pub lost: Option<String>,
    pub captured_fps: Option<f64>,
    pub analysed_fps: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Temperature {
    pub zone: String,
    pub kind: String,
    pub celsius: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throttling {
    /// The firmware's flags as read (hex).
    pub raw: String,
    pub now: Vec<String>,
    pub since_boot: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemHealth {
    pub temperatures: Vec<Temperature>,
    /// Raspberry Pi firmware flags; `None` where the system does not expose them.
    pub throttling: Option<Throttling>,
    pub state_dir: PathBuf,
    pub state_dir_free_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayRow {
    pub date: String,
    pub visitors: u64,
    pub matches: u64,
    pub no_match: u64,
}

/// The whole report (its JSON form; [`Report::text`] is the text form).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format: u32,
    pub generated: String,
    pub host: String,
    pub software: Software,
    pub models: Vec<ModelVersion>,
    pub gallery: GalleryHealth,
    pub config: ConfigHealth,
    pub camera: CameraHealth,
    pub stages: Vec<StageStat>,
    pub warnings: Vec<String>,
    pub system: SystemHealth,
    pub counters_per_day: Vec<DayRow>,
    pub counters_csv: String,
}

/// The CPU temperatures the kernel exposes (`/sys/class/thermal/thermal_zone*/temp`).
pub fn temperatures(root: &Path) -> Vec<Temperature> {
    let mut zones: Vec<PathBuf> = std::fs::read_dir(root.join("sys/class/thermal"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("thermal_zone")))
                .collect()
        })
        .unwrap_or_default();
    zones.sort();
    zones
        .iter()
        .filter_map(|z| {
            let milli: f64 = std::fs::read_to_string(z.join("temp")).ok()?.trim().parse().ok()?;
            let kind = std::fs::read_to_string(z.join("type")).map(|t| t.trim().to_string()).unwrap_or_default();
            Some(Temperature { zone: z.file_name()?.to_string_lossy().into_owned(), kind, celsius: milli / 1000.0 })
        })
        .collect()
}

/// The Raspberry Pi firmware's throttling flags decoded into words.
pub fn decode_throttled(flags: u32) -> (Vec<String>, Vec<String>) {
    const BITS: [(u32, &str); 4] = [(0, "under-voltage"), (1, "ARM frequency capped"), (2, "throttled"), (3, "soft temperature limit")];
    let now = BITS.iter().filter(|(b, _)| flags & (1 << b) != 0).map(|(_, w)| w.to_string()).collect();
    let since = BITS.iter().filter(|(b, _)| flags & (1 << (b + 16)) != 0).map(|(_, w)| w.to_string()).collect();
    (now, since)
}

/// The Pi firmware's flags, where `soc:firmware/get_throttled` exists.
pub fn throttling(root: &Path) -> Option<Throttling> {
    let text = std::fs::read_to_string(root.join("sys/devices/platform/soc/soc:firmware/get_throttled")).ok()?;
    let raw = text.trim().to_string();
    let flags = u32::from_str_radix(raw.trim_start_matches("0x"), 16).ok()?;
    let (now, since_boot) = decode_throttled(flags);
    Some(Throttling { raw, now, since_boot })
}

fn system_uptime() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    text.split_whitespace().next()?.parse::<f64>().ok().map(|s| s as u64)
}

/// Per-day counters as CSV (`date,visitors,matches,no_match`), oldest day first.
pub fn counters_csv(days: &BTreeMap<String, Day>) -> String {
    let mut s = String::from("date,visitors,matches,no_match\n");
    for (date, d) in days {
        s += &format!("{date},{},{},{}\n", d.visitors, d.matches, d.no_match);
    }
    s
}

/// Puts a report together: the daemon's values from `snapshot` (live or the last written), the
/// config and the system as they are now, the counters from `days`.
pub fn gather(config_path: &Path, config: &Config, snapshot: Option<&Snapshot>, daemon: Daemon, days: &BTreeMap<String, Day>) -> Report {
    let now = unix_now();
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let snap = snapshot.cloned().unwrap_or_default();
    let have = snapshot.is_some();
    let software = Software {
        version: env!("CARGO_PKG_VERSION").to_string(),
        daemon,
        pid: have.then_some(snap.pid),
        state: have.then(|| snap.state.clone()),
        started: have.then(|| rfc3339(snap.started_unix)),
        uptime_seconds: (daemon != Daemon::NotRunning && have).then(|| now.saturating_sub(snap.started_unix)),
        starts_this_boot: (have && snap.boot_id == boot_id()).then_some(snap.starts_this_boot),
        restarts_since_boot: (have && snap.boot_id == boot_id()).then(|| snap.starts_this_boot.saturating_sub(1)),
        system_uptime_seconds: system_uptime(),
        values_from: have.then(|| rfc3339(snap.updated_unix)),
    };
    let installed_role_models = crate::gallery::manifest::GalleryManifest::load(&config.gallery.dir).ok().map(|m| m.role_models.len());
    let role_models = snap.gallery_role_models.or(installed_role_models);
    let configured = config.camera.source.to_string();
    let rows: Vec<DayRow> = days
        .iter()
        .map(|(date, d)| DayRow { date: date.clone(), visitors: d.visitors, matches: d.matches, no_match: d.no_match })
        .collect();
    Report {
        format: FORMAT,
        generated: rfc3339(now),
        host,
        software,
        models: if have { snap.models.clone() } else { configured_models(config) },
        gallery: GalleryHealth {
            dir: config.gallery.dir.clone(),
            serial: crate::usb::install::Store::new(&config.gallery.dir).installed_serial(),
            role_models,
            installed_role_models,
        },
        config: ConfigHealth {
            path: config_path.to_path_buf(),
            sha256: std::fs::read(config_path).ok().map(|b| crate::util::sha256_bytes(&b)),
        },
        camera: CameraHealth {
            configured,
            connected: snap.camera_connected.clone(),
            lost: snap.camera_lost.clone(),
            captured_fps: snap.captured_fps,
            analysed_fps: snap.analysed_fps,
        },
        stages: snap.stages.clone(),
        warnings: snap.warnings.clone(),
        system: SystemHealth {
            temperatures: temperatures(Path::new("/")),
            throttling: throttling(Path::new("/")),
            state_dir: config.state_dir.clone(),
            state_dir_free_bytes: crate::usb::install::free_bytes(&config.state_dir),
        },
        counters_csv: counters_csv(days),
        counters_per_day: rows,
    }
}

/// The counters saved in the state directory, per day (for `rolemirror report`).
pub fn saved_days(state_dir: &Path) -> BTreeMap<String, Day> {
    Counters::load(state_dir).days
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "unknown".to_string(), |v| v.to_string())
}

fn duration(secs: Option<u64>) -> String {
    secs.map_or_else(|| "unknown".to_string(), |s| format!("{} ({s} s)", humantime::format_duration(Duration::from_secs(s))))
}

impl Report {
    /// The report as text, one section per heading.
    pub fn text(&self) -> String {
        let mut s = format!("rolemirror {} health report\nbooth: {}\ntime: {}\n", self.software.version, self.host, self.generated);
        let sw = &self.software;
        s += "\n[software]\n";
        s += &format!("version: {}\n", sw.version);
        s += &format!(
            "daemon: {}\n",
            match sw.daemon {
                Daemon::ThisProcess | Daemon::Running => "running",
                Daemon::NotRunning => "NOT RUNNING (the values below are from its last snapshot, where there is one)",
            }
        );
        s += &format!("state: {}\n", opt(&sw.state));
        s += &format!("pid: {}\n", opt(&sw.pid));
        s += &format!("started: {}\n", opt(&sw.started));
        s += &format!("uptime: {}\n", duration(sw.uptime_seconds));
        s += &format!("restarts since boot: {}\n", opt(&sw.restarts_since_boot));
        s += &format!("system uptime: {}\n", duration(sw.system_uptime_seconds));
        s += &format!("values from: {}\n", opt(&sw.values_from));
        s += "\n[models]\n";
        for m in &self.models {
            s += &format!("{}: {} sha256 {}\n", m.role, m.id, m.sha256);
        }
        s += "\n[gallery]\n";
        s += &format!("dir: {}\n", self.gallery.dir.display());
        s += &format!("installed serial: {}\n", self.gallery.serial);
        s += &format!("role models: {}\n", opt(&self.gallery.role_models));
        if self.gallery.installed_role_models != self.gallery.role_models {
            // Right after a USB update, before the booth has reloaded onto the new gallery.
            s += &format!("role models in the installed gallery (shown after the reload): {}\n", opt(&self.gallery.installed_role_models));
        }
        s += "\n[config]\n";
        s += &format!("file: {}\n", self.config.path.display());
        s += &format!("sha256: {}\n", self.config.sha256.as_deref().unwrap_or("unreadable"));
        s += "\n[camera]\n";
        s += &format!("configured: {}\n", self.camera.configured);
        s += &format!("mode: {}\n", self.camera.connected.as_deref().unwrap_or("not connected"));
        if let Some(lost) = &self.camera.lost {
            s += &format!("last problem: {lost}\n");
        }
        s += &format!("frames delivered per second: {}\n", opt(&self.camera.captured_fps));
        s += &format!("frames analysed per second: {}\n", opt(&self.camera.analysed_fps));
        s += &format!("\n[stage timings] (medians over the last {WINDOW} frames at most)\n");
        if self.stages.is_empty() {
            s += "none measured yet\n";
        }
        for st in &self.stages {
            s += &format!("{}: {:.2} ms ({} samples)\n", st.stage, st.median_ms, st.samples);
        }
        s += &format!("\n[warnings and errors] (the last {} at most, oldest first)\n", crate::util::logring::CAPACITY);
        if self.warnings.is_empty() {
            s += "none\n";
        }
        for w in &self.warnings {
            s += &format!("{w}\n");
        }
        s += "\n[system]\n";
        if self.system.temperatures.is_empty() {
            s += "cpu temperature: not exposed by this system\n";
        }
        for t in &self.system.temperatures {
            s += &format!("temperature {} ({}): {:.1} °C\n", t.zone, t.kind, t.celsius);
        }
        match &self.system.throttling {
            None => s += "throttling: not exposed by this system\n",
            Some(t) => {
                let words = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
                s += &format!("throttling: flags {} — now: {}; since boot: {}\n", t.raw, words(&t.now), words(&t.since_boot));
            }
        }
        s += &format!(
            "free space in {}: {}\n",
            self.system.state_dir.display(),
            self.system.state_dir_free_bytes.map_or("unknown".to_string(), |b| format!("{:.1} MB", b as f64 / 1e6))
        );
        s += "\n[counters per day] (anonymous totals, CSV)\n";
        s += &self.counters_csv;
        s
    }

    /// The report as pretty JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// What the running booth's USB updater calls for a stick: (text, JSON) of a report from the
/// live values.
pub fn source(config_path: &Path, config: &Config, live: SharedLive) -> crate::usb::HealthSource {
    let (path, config) = (config_path.to_path_buf(), config.clone());
    Arc::new(move || {
        let (snapshot, days) = {
            let l = live.lock().unwrap_or_else(|e| e.into_inner());
            let mut snap = l.snapshot.clone();
            snap.warnings = crate::util::logring::recent();
            (snap, l.days.clone())
        };
        let report = gather(&path, &config, Some(&snapshot), Daemon::ThisProcess, &days);
        (report.text(), report.json())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_flags_in_words() {
        let (now, since) = decode_throttled(0x50005);
        assert_eq!(now, ["under-voltage", "throttled"]);
        assert_eq!(since, ["under-voltage", "throttled"]);
        let (now, since) = decode_throttled(0x80000);
        assert!(now.is_empty());
        assert_eq!(since, ["soft temperature limit"]);
        let dir = std::env::temp_dir().join(format!("rm-throttle-{}", std::process::id()));
        let fw = dir.join("sys/devices/platform/soc/soc:firmware");
        std::fs::create_dir_all(&fw).unwrap();
        std::fs::write(fw.join("get_throttled"), "20002\n").unwrap();
        let t = throttling(&dir).unwrap();
        assert_eq!((t.now, t.since_boot), (vec!["ARM frequency capped".to_string()], vec!["ARM frequency capped".to_string()]));
        let zone = dir.join("sys/class/thermal/thermal_zone0");
        std::fs::create_dir_all(&zone).unwrap();
        std::fs::write(zone.join("temp"), "48312\n").unwrap();
        std::fs::write(zone.join("type"), "cpu-thermal\n").unwrap();
        let t = temperatures(&dir);
        assert_eq!((t.len(), t[0].kind.as_str(), t[0].celsius), (1, "cpu-thermal", 48.312));
        assert!(throttling(&dir.join("nothing")).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn medians_and_rates_over_a_bounded_window() {
        let mut t = Timings::default();
        for i in 0..WINDOW as u64 + 20 {
            let times = crate::booth::analyze::StageTimes { detect: Some(0.010 + (i % 3) as f64 * 0.001), align: None, embed: None };
            t.frame(i * 2, &times);
        }
        t.matched(0.0004);
        let st = t.stages();
        assert_eq!(st.iter().map(|s| s.stage.as_str()).collect::<Vec<_>>(), ["detect", "match"]);
        assert_eq!((st[0].median_ms, st[0].samples), (11.0, WINDOW));
        assert_eq!(st[1].median_ms, 0.4);
        assert_eq!(t.frames.len(), WINDOW);
    }

    #[test]
    fn counters_as_csv() {
        let mut days = BTreeMap::new();
        days.insert("2026-11-29".to_string(), Day { visitors: 3, matches: 2, no_match: 1, ..Default::default() });
        days.insert("2026-11-30".to_string(), Day { visitors: 1, matches: 1, no_match: 0, ..Default::default() });
        assert_eq!(counters_csv(&days), "date,visitors,matches,no_match\n2026-11-29,3,2,1\n2026-11-30,1,1,0\n");
    }
}
