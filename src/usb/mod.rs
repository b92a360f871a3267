//! USB updates: signed bundles of a gallery and/or a config, verified, installed atomically
//! and reported back.
//!
//! - [`bundle`]: keys, the signed manifest, `bundle create`, and the check of a stick's tree.
//! - [`install`]: staging, verification while copying, the gallery build and the atomic switch.
//! - This module: finding sticks under the mount roots, the daemon's side of an import
//!   ([`Updater`]: progress and outcome as screens, events, a report on the stick).

pub mod bundle;
pub mod install;

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, Texts, UsbSettings};
use crate::display::scene::Scene;
use crate::events::emit;
use crate::gallery::index::PhotoRules;
use crate::vision::Vision;
use install::{ImportOptions, Outcome, Progress, Store};

/// A stick with a bundle directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Stick {
    /// The stick's mount point.
    pub mount: PathBuf,
    /// `MOUNT/ROLEMIRROR`.
    pub bundle: PathBuf,
    /// Changes when another stick (or another bundle) appears at the same place.
    pub identity: String,
}

/// Sticks under the mount roots: `ROOT/NAME/ROLEMIRROR` and `ROOT/USER/NAME/ROLEMIRROR`. Symlinked
/// mount points are not followed; a stick without `ROLEMIRROR/` is ignored.
pub fn scan(roots: &[PathBuf]) -> Vec<Stick> {
    let mut found = Vec::new();
    for root in roots {
        scan_level(root, 2, &mut found);
    }
    found
}

fn scan_level(dir: &Path, depth: usize, found: &mut Vec<Stick>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries.into_iter().take(256) {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let mount = e.path();
        let bundle = mount.join(bundle::BUNDLE_DIR);
        if let Ok(meta) = std::fs::symlink_metadata(&bundle) {
            let manifest = std::fs::symlink_metadata(bundle.join(bundle::MANIFEST_FILE)).ok();
            let identity = format!(
                "{}:{}:{}",
                meta.dev(),
                meta.ino(),
                manifest.map_or(String::new(), |m| format!("{}.{}:{}", m.mtime(), m.mtime_nsec(), m.len()))
            );
            found.push(Stick { mount, bundle, identity });
        } else if depth > 1 {
            scan_level(&mount, depth - 1, found);
        }
    }
}

/// The text of a report for the stick.
pub fn report_text(outcome: &Outcome, stick: &Stick) -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let when = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let mut s = format!(
        "rolemirror {} USB update report\nbooth: {host}\ntime: {when}\nstick: {}\n",
        env!("CARGO_PKG_VERSION"),
        stick.mount.display()
    );
    match outcome {
        Outcome::Installed { serial, role_models, config, signer } => {
            s += &format!("result: INSTALLED\nserial: {serial}\nsigned by key: {signer}\n");
            if let Some(n) = role_models {
                s += &format!("gallery: {n} role models\n");
            }
            if *config {
                s += "config: replaced (the previous one is kept as rolemirror.toml.previous)\n";
            }
        }
        Outcome::AlreadyInstalled { serial } => s += &format!("result: ALREADY INSTALLED\nserial: {serial}\n"),
        Outcome::Refused(r) => {
            s += "result: REFUSED (the booth keeps its gallery and config)\nreasons:\n";
            for line in &r.0 {
                s += &format!("  - {line}\n");
            }
        }
    }
    s
}

/// The stick's `ROLEMIRROR/reports/` folder, made when missing (a file or link of that name is
/// refused).
fn reports_dir(stick: &Stick) -> std::io::Result<PathBuf> {
    let dir = stick.bundle.join(bundle::REPORTS_DIR);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    if !std::fs::symlink_metadata(&dir)?.is_dir() {
        return Err(std::io::Error::other("reports is not a directory"));
    }
    Ok(dir)
}

/// Writes the report into `ROLEMIRROR/reports/` when the stick is writable, else into `spool`
/// (named after the mount point) for the mount helper. Returns where it went.
pub fn write_report(stick: &Stick, spool: &Path, text: &str) -> Result<PathBuf, String> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let on_stick = (|| -> std::io::Result<PathBuf> {
        let dir = reports_dir(stick)?;
        // A Pi without a real-time clock may step its time back: a name already taken gets a
        // suffix rather than sending the report to the spool (an old report is never replaced).
        use std::io::Write;
        for n in 0..100 {
            let name = if n == 0 { format!("report-{stamp}.txt") } else { format!("report-{stamp}-{n}.txt") };
            let path = dir.join(name);
            let mut f = match std::fs::File::options().write(true).create_new(true).open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            return Ok(path);
        }
        Err(std::io::Error::other("100 reports with the same time stamp already on the stick"))
    })();
    match on_stick {
        Ok(p) => Ok(p),
        Err(stick_err) => {
            let name = stick.mount.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "stick".into());
            let path = spool.join(format!("{name}.txt"));
            std::fs::create_dir_all(spool)
                .and_then(|_| crate::util::write_atomic(&path, text.as_bytes()))
                .map(|_| path)
                .map_err(|e| format!("stick not writable ({stick_err}) and {}: {e}", spool.display()))
        }
    }
}

/// Makes a health report (text, JSON) for a stick; set by the service with
/// [`Updater::with_health`].
pub type HealthSource = Arc<dyn Fn() -> (String, String) + Send + Sync>;

/// Writes a health report as `ROLEMIRROR/reports/health-<time>.json` and `.txt` (one name for
/// both; a taken name gets a suffix, an old report is never replaced). When the stick cannot take
/// it (mounted read-only as the mount helper does, full, pulled), it goes to `spool` as
/// `<mount name>.health.json` and `.txt` (the JSON first: the helper copies both when it sees the
/// text). Returns the text file's path, and why the stick could not take it when it went to the
/// spool.
pub fn write_health(stick: &Stick, spool: &Path, text: &str, json: &str) -> Result<(PathBuf, Option<std::io::Error>), String> {
    use std::io::Write;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let on_stick = (|| -> std::io::Result<PathBuf> {
        let dir = reports_dir(stick)?;
        for n in 0..100 {
            let stem = if n == 0 { format!("health-{stamp}") } else { format!("health-{stamp}-{n}") };
            let (json_path, text_path) = (dir.join(format!("{stem}.json")), dir.join(format!("{stem}.txt")));
            if std::fs::symlink_metadata(&text_path).is_ok() {
                continue;
            }
            let mut f = match std::fs::File::options().write(true).create_new(true).open(&json_path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            let written = f.write_all(json.as_bytes()).and_then(|_| f.sync_all()).and_then(|_| {
                let mut t = std::fs::File::options().write(true).create_new(true).open(&text_path)?;
                t.write_all(text.as_bytes())?;
                t.sync_all()
            });
            if let Err(e) = written {
                // A full stick: no half report left behind.
                let _ = std::fs::remove_file(&json_path);
                let _ = std::fs::remove_file(&text_path);
                return Err(e);
            }
            return Ok(text_path);
        }
        Err(std::io::Error::other("100 health reports with the same time stamp already on the stick"))
    })();
    match on_stick {
        Ok(p) => Ok((p, None)),
        Err(stick_err) => {
            let name = stick.mount.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "stick".into());
            let (json_path, text_path) = (spool.join(format!("{name}.health.json")), spool.join(format!("{name}.health.txt")));
            std::fs::create_dir_all(spool)
                .and_then(|_| crate::util::write_atomic(&json_path, json.as_bytes()))
                .and_then(|_| crate::util::write_atomic(&text_path, text.as_bytes()))
                .map_err(|e| format!("stick not writable ({stick_err}) and {}: {e}", spool.display()))?;
            Ok((text_path, Some(stick_err)))
        }
    }
}

/// Loads the models when an import needs them.
pub type VisionSource = Arc<dyn Fn() -> anyhow::Result<Arc<Vision>> + Send + Sync>;

enum Msg {
    Progress(Progress),
    Done(Outcome),
}

/// What the daemon loop should do after [`Updater::tick`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// No update: the booth shows its own screens.
    Idle,
    /// An update (or its outcome) is on screen.
    Busy,
    /// The outcome was shown; `reload` when something was installed.
    Finished { reload: bool },
}

/// An import's outcome on screen: for `result_seconds` from the first [`Updater::tick`] after it
/// ended (`until`, on the daemon's clock), then the booth reloads (`reload`: something was
/// installed) or goes back to its own screens.
struct Showing {
    until: Option<f64>,
    reload: bool,
}

/// The daemon's side of USB updates: looks for sticks, runs one import at a time on its own
/// thread, and turns its progress and outcome into screens, events and a report.
pub struct Updater {
    cfg: UsbSettings,
    config_path: PathBuf,
    current: Option<Config>,
    gallery_dir: PathBuf,
    vision: VisionSource,
    texts: Texts,
    rx: Option<tokio::sync::mpsc::UnboundedReceiver<Msg>>,
    stick: Option<Stick>,
    /// An import's outcome on screen.
    showing: Option<Showing>,
    /// When the mount roots were last looked at.
    last_scan: Option<f64>,
    health: Option<HealthSource>,
}

impl Updater {
    pub fn new(
        cfg: UsbSettings,
        config_path: &Path,
        current: Option<Config>,
        gallery_dir: &Path,
        vision: VisionSource,
        texts: Texts,
    ) -> Updater {
        Updater {
            cfg,
            config_path: config_path.to_path_buf(),
            current,
            gallery_dir: gallery_dir.to_path_buf(),
            vision,
            texts,
            rx: None,
            stick: None,
            showing: None,
            last_scan: None,
            health: None,
        }
    }

    /// Every stick with a `ROLEMIRROR/` folder gets a health report made by `health`.
    pub fn with_health(mut self, health: HealthSource) -> Updater {
        self.health = Some(health);
        self
    }

    /// Writes a health report onto the stick (or the spool) and tells where; a stick that cannot
    /// take it is a warning, never a stop.
    fn health_report(&self, stick: &Stick) {
        let Some(health) = &self.health else { return };
        let (text, json) = health();
        match write_health(stick, &self.cfg.report_spool, &text, &json) {
            Ok((p, stick_err)) => {
                match stick_err {
                    // Read-only is how the mount helper mounts sticks: it copies the report over.
                    Some(e) if e.raw_os_error() == Some(libc::EROFS) => {
                        log::info!("usb: {}: read-only; health report left for the mount helper", stick.mount.display())
                    }
                    Some(e) => log::warn!(
                        "usb: {}: health report not written on the stick ({e}); left in {} (make space on the stick or use another)",
                        stick.mount.display(),
                        self.cfg.report_spool.display()
                    ),
                    None => {}
                }
                emit("health_report_written", &[("path", p.display().to_string()), ("mount", stick.mount.display().to_string())]);
            }
            Err(e) => log::warn!("usb: {}: no health report written: {e}", stick.mount.display()),
        }
    }

    /// Looks at the mount roots (at most every `poll_seconds`, or at once with `now_please`),
    /// forgets sticks that are gone, and starts an import for a new one. `seen` outlives
    /// reloads, so a stick is handled once per insertion. `now` is the daemon's clock (seconds).
    pub fn poll(&mut self, now: f64, seen: &mut HashMap<PathBuf, String>, now_please: bool) -> Option<Scene> {
        if !self.cfg.enabled || self.rx.is_some() || self.showing.is_some() {
            return None;
        }
        let due = self.last_scan.is_none_or(|t| now - t >= self.cfg.poll.as_secs_f64());
        if !due && !now_please {
            return None;
        }
        self.last_scan = Some(now);
        let sticks = scan(&self.cfg.mount_roots);
        seen.retain(|mount, _| sticks.iter().any(|s| &s.mount == mount));
        let stick = sticks.into_iter().find(|s| seen.get(&s.mount) != Some(&s.identity))?;
        seen.insert(stick.mount.clone(), stick.identity.clone());
        emit("usb_detected", &[("mount", stick.mount.display().to_string())]);
        if self.health.is_some() && std::fs::symlink_metadata(stick.bundle.join(bundle::MANIFEST_FILE)).is_err() {
            // No bundle: a stick for the health report only; the booth's screen stays as it is.
            self.health_report(&stick);
            return None;
        }
        self.start(stick);
        Some(self.progress_scene(&Progress { step: "reading the stick".into(), fraction: 0.0 }))
    }

    fn start(&mut self, stick: Stick) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let bundle_dir = stick.bundle.clone();
        let (cfg, config_path, current, gallery_dir, vision) =
            (self.cfg.clone(), self.config_path.clone(), self.current.clone(), self.gallery_dir.clone(), self.vision.clone());
        let spawned = std::thread::Builder::new().name("usb-import".into()).spawn(move || {
            std::thread::sleep(cfg.settle);
            let store = Store::new(&gallery_dir);
            let (keys, problems) = bundle::trusted_keys(&cfg.trusted_keys);
            for p in problems {
                log::warn!("usb.trusted_keys: {p}");
            }
            let opts = ImportOptions {
                keys: &keys,
                limits: bundle::Limits::from(&cfg),
                rules: PhotoRules { max_pixels: cfg.max_pixels, ..PhotoRules::default() },
                config_path: Some(&config_path),
                current: current.as_ref(),
            };
            let progress_tx = tx.clone();
            // Each step in the journal too: after a power cut it tells how far an import got.
            let mut last_step = String::new();
            let outcome = install::import(&bundle_dir, &store, &opts, &*vision, &mut |p| {
                if p.step != last_step {
                    log::info!("usb: import step: {}", p.step);
                    last_step.clone_from(&p.step);
                }
                let _ = progress_tx.send(Msg::Progress(p));
            });
            let _ = tx.send(Msg::Done(outcome));
        });
        match spawned {
            Ok(_) => {
                self.rx = Some(rx);
                self.stick = Some(stick);
            }
            Err(e) => log::error!("usb: cannot start the import thread: {e}"),
        }
    }

    /// True while an import runs (the daemon then awaits [`Updater::next`]).
    pub fn importing(&self) -> bool {
        self.rx.is_some()
    }

    /// The next message of the running import; pending forever when none runs.
    pub async fn next(&mut self) -> Option<Scene> {
        let Some(rx) = self.rx.as_mut() else { return std::future::pending().await };
        match rx.recv().await {
            Some(Msg::Progress(p)) => Some(self.progress_scene(&p)),
            Some(Msg::Done(outcome)) => Some(self.finish(outcome)),
            None => Some(self.finish(Outcome::Refused(bundle::Refusal(vec!["the import stopped unexpectedly".into()])))),
        }
    }

    fn progress_scene(&self, p: &Progress) -> Scene {
        Scene::Update { title: self.texts.usb_updating.clone(), lines: vec![p.step.clone()], progress: Some(p.fraction) }
    }

    /// The import ended: its report and events, and its outcome's screen (shown from the next
    /// [`Updater::tick`] on for `result_seconds`).
    fn finish(&mut self, outcome: Outcome) -> Scene {
        self.rx = None;
        let stick = self.stick.take().unwrap_or(Stick { mount: PathBuf::new(), bundle: PathBuf::new(), identity: String::new() });
        let mount = stick.mount.display().to_string();
        // The report first: the events below tell operators (and tests) the stick is done with.
        if !matches!(outcome, Outcome::AlreadyInstalled { .. }) && !stick.mount.as_os_str().is_empty() {
            match write_report(&stick, &self.cfg.report_spool, &report_text(&outcome, &stick)) {
                Ok(p) => log::info!("usb: report written to {}", p.display()),
                Err(e) => log::warn!("usb: no report written: {e}"),
            }
        }
        if !stick.mount.as_os_str().is_empty() {
            self.health_report(&stick);
        }
        let (title, lines, reload) = match &outcome {
            Outcome::Installed { serial, role_models, config, .. } => {
                if let Some(n) = role_models {
                    emit("gallery_installed", &[("role_models", n.to_string()), ("serial", serial.to_string())]);
                }
                if *config {
                    emit("config_installed", &[("serial", serial.to_string())]);
                }
                let mut lines = Vec::new();
                if let Some(n) = role_models {
                    lines.push(format!("{n} role models"));
                }
                if *config {
                    lines.push("new settings".to_string());
                }
                (self.texts.usb_installed.clone(), lines, true)
            }
            Outcome::AlreadyInstalled { serial } => {
                emit("usb_up_to_date", &[("mount", mount.clone()), ("serial", serial.to_string())]);
                (self.texts.usb_up_to_date.clone(), vec![], false)
            }
            Outcome::Refused(r) => {
                for line in &r.0 {
                    log::warn!("usb: {}: refused: {line}", stick.mount.display());
                }
                emit(
                    "usb_rejected",
                    &[("mount", mount.clone()), ("reason", r.0.first().cloned().unwrap_or_default()), ("reasons", r.0.len().to_string())],
                );
                (self.texts.usb_refused.clone(), r.0.iter().take(8).cloned().collect(), false)
            }
        };
        // The outcome's time on screen starts at the next tick (which knows the time).
        self.showing = Some(Showing { until: None, reload });
        Scene::Update { title, lines, progress: None }
    }

    /// An import runs or its outcome is on screen.
    pub fn busy(&self) -> bool {
        self.rx.is_some() || self.showing.is_some()
    }

    /// Whether the booth may show its own screens, or should reload now (`now`: the daemon's
    /// clock, seconds).
    pub fn tick(&mut self, now: f64) -> Tick {
        if self.rx.is_some() {
            return Tick::Busy;
        }
        match &mut self.showing {
            None => Tick::Idle,
            Some(Showing { until: until @ None, .. }) => {
                *until = Some(now + self.cfg.result.as_secs_f64());
                Tick::Busy
            }
            Some(Showing { until: Some(until), reload }) if now >= *until => {
                let reload = *reload;
                self.showing = None;
                Tick::Finished { reload }
            }
            Some(_) => Tick::Busy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_in_the_same_second_keep_each_other() {
        // After the clock steps back (or two imports in one second), a report's name is taken:
        // the new one gets a suffix on the stick, the old one stays as it was.
        let root = std::env::temp_dir().join(format!("rolemirror-report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let bundle = root.join("stick").join(bundle::BUNDLE_DIR);
        std::fs::create_dir_all(&bundle).unwrap();
        let stick = Stick { mount: root.join("stick"), bundle, identity: String::new() };
        let spool = root.join("spool");
        // Names of the next few seconds already taken (the clock stepped back): a collision for
        // sure, whatever second the writes below fall in.
        let reports = stick.bundle.join(bundle::REPORTS_DIR);
        std::fs::create_dir_all(&reports).unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        for t in now..now + 5 {
            std::fs::write(reports.join(format!("report-{t}.txt")), "older").unwrap();
        }
        let mut written = Vec::new();
        for i in 0..3 {
            written.push(write_report(&stick, &spool, &format!("report {i}")).unwrap());
        }
        // Usually all three land in one second; whatever the clock did, each is on the stick.
        for (i, p) in written.iter().enumerate() {
            assert!(p.starts_with(stick.bundle.join(bundle::REPORTS_DIR)), "{p:?}");
            assert_eq!(std::fs::read_to_string(p).unwrap(), format!("report {i}"));
        }
        assert!(!spool.exists());
        for t in now..now + 5 {
            assert_eq!(std::fs::read_to_string(reports.join(format!("report-{t}.txt"))).unwrap(), "older", "an old report replaced");
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
