//! `rolemirror doctor [--config FILE] [--skip CHECK]... [--json]`: for a technician at a booth
//! that shows nothing useful. One line per check — config, camera, screen, models, gallery,
//! trusted keys, service, cpuinfo — `ok` with what was found, or `FAIL` with what is wrong and
//! the next step; exit 0 only when every check passes (a check left out with `--skip` does not
//! fail).
//!
//! When the booth runs and holds the camera, the camera line comes from its health snapshot
//! (`STATE_DIR/health.json`, refreshed every 10 s), not from opening the device: a camera is
//! opened by one program at a time. Otherwise the camera is opened as the booth would open it
//! (`camera.backend = "auto"` decides the same way) and a few frames are read; they are dropped
//! at once. Doctor writes nothing.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use super::ExitCode;
use crate::config::{Backend, Config};
use crate::models::{model_dir, verified_path, Kind, Manifest};
use crate::service::health::{self, Snapshot};
use crate::vision::EmbedderId;

/// The checks, in the order they are printed.
pub const CHECKS: [&str; 8] = ["config", "camera", "screen", "models", "gallery", "keys", "service", "cpuinfo"];

/// Frames read from a camera the booth does not hold.
const FRAMES: u64 = 3;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(String),
    Fail { what: String, next: String },
    Skipped,
}

fn fail(what: impl Into<String>, next: impl Into<String>) -> Outcome {
    Outcome::Fail { what: what.into(), next: next.into() }
}

/// The running booth's snapshot, when its process is alive.
fn running_booth(config: &Config) -> Option<Snapshot> {
    health::load_snapshot(&config.state_dir).filter(health::daemon_alive)
}

fn config_check(path: &Path) -> (Config, Outcome) {
    match Config::load(path) {
        Ok(c) => (c, Outcome::Ok(format!("{} is valid", path.display()))),
        Err(e) => {
            let problems: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
            let next = format!(
                "`rolemirror config check {}` lists each problem by key; fix them, then `sudo systemctl reload rolemirror`",
                path.display()
            );
            (Config::lenient(path), fail(format!("{} problem(s): {}", problems.len(), problems.join("; ")), next))
        }
    }
}

/// The next step for a camera problem, by what it says.
fn camera_next(why: &str) -> String {
    if why.contains("not installed") || why.contains("(install ") {
        "install it as said, then `sudo systemctl restart rolemirror`".into()
    } else if why.contains("no camera found") {
        "`rpicam-hello --list-cameras` (a Camera Module) or `v4l2-ctl --list-devices` (a webcam) shows what the system sees".into()
    } else if why.contains("Permission denied") {
        "run as root (`sudo rolemirror doctor`); the booth's user must be in group video".into()
    } else if why.contains("Device or resource busy") {
        "another program holds the camera: stop it (`sudo fuser -v /dev/video*`)".into()
    } else {
        "check the camera's cable; `journalctl -u rolemirror | grep camera_` shows what the booth saw".into()
    }
}

fn camera_check(config: &Config, booth: Option<&Snapshot>) -> Outcome {
    if let Some(s) = booth {
        let fps = s.captured_fps.map_or(String::new(), |f| format!(", {f} frames/s"));
        match (&s.camera_connected, &s.camera_lost) {
            (Some(cam), _) => return Outcome::Ok(format!("{cam} (the running booth, pid {}{fps})", s.pid)),
            (None, Some(why)) => return fail(format!("the running booth (pid {}) has no camera: {why}", s.pid), camera_next(why)),
            // On its service screen the booth holds no camera: open it here.
            (None, None) => {}
        }
    }
    let started = Instant::now();
    let mut source = match crate::camera::open(&config.camera) {
        Ok(s) => s,
        Err(e) => {
            let why = match e {
                crate::camera::CameraError::Gone(why) => why,
                other => other.to_string(),
            };
            return fail(format!("{}: {why}", config.camera.source), camera_next(&why));
        }
    };
    let describe = source.describe();
    // A libcamera program gets extra time for its first frame (as in the booth).
    let deadline = started + config.camera.timeout + Duration::from_secs(20);
    let (mut frames, mut size, mut last_problem) = (0, None, String::new());
    while frames < FRAMES && Instant::now() < deadline {
        match source.next_frame() {
            Ok(f) => {
                frames += 1;
                size = Some(f.image.dimensions());
            }
            Err(crate::camera::CameraError::BadFrame(why)) => last_problem = why,
            Err(crate::camera::CameraError::Gone(why)) => {
                last_problem = why;
                break;
            }
            Err(e) => {
                last_problem = e.to_string();
                break;
            }
        }
    }
    drop(source);
    match size {
        Some((w, h)) if frames == FRAMES => {
            Outcome::Ok(format!("{describe}: {frames} frames of {w}x{h} in {:.1} s", started.elapsed().as_secs_f32()))
        }
        _ => fail(
            format!(
                "{describe} opened, but {frames} of {FRAMES} frames came: {}",
                if last_problem.is_empty() { "timed out" } else { &last_problem }
            ),
            camera_next(&last_problem),
        ),
    }
}

/// Whether `path` opens for reading and writing.
fn opens_rw(path: &Path) -> Result<(), String> {
    std::fs::OpenOptions::new().read(true).write(true).open(path).map(|_| ()).map_err(|e| format!("{}: {e}", path.display()))
}

fn screen_check(config: &Config, booth: Option<&Snapshot>) -> Outcome {
    if let Some(s) = booth {
        return match s.state.strip_prefix("service screen: ") {
            Some(problems) if problems.contains("display") => {
                fail(format!("the running booth cannot draw: {problems}"), "is the screen connected and on? see the display settings")
            }
            // The service screen for another reason still draws.
            _ => Outcome::Ok(format!("the running booth (pid {}) draws on its screen", s.pid)),
        };
    }
    match &config.display.backend {
        Backend::Fbdev { device } => match opens_rw(device) {
            Ok(()) => Outcome::Ok(format!("framebuffer {} opens", device.display())),
            Err(e) => fail(e, "is the HDMI screen connected at boot (`ls /dev/fb*`)? set display.fbdev to the screen's framebuffer"),
        },
        Backend::Png { file, .. } => match file.parent().map(|d| d.is_dir()) {
            Some(true) | None => Outcome::Ok(format!("PNG file {}", file.display())),
            Some(false) => fail(format!("{}: its folder does not exist", file.display()), "create the folder or set display.png"),
        },
        Backend::Kms(_) | Backend::Auto { .. } => {
            // Opened as the booth opens it (DRM master taken and given back, or `auto`'s choice).
            let mut opened = None;
            match crate::display::with_screen(&config.display, &mut |screen| opened = Some(screen.size())) {
                Ok(()) => {
                    let (w, h) = opened.unwrap_or_default();
                    let which = if matches!(config.display.backend, Backend::Kms(_)) { "kms" } else { "auto" };
                    Outcome::Ok(format!("the screen opens at {w}x{h} (display.backend = \"{which}\")"))
                }
                Err(e) => fail(
                    e.to_string(),
                    "is the screen connected and on (`ls /dev/dri`, `cat /sys/class/drm/*/status`)? is a desktop session holding it?",
                ),
            }
        }
        Backend::Spi(spi) => match opens_rw(&spi.spidev).and_then(|_| opens_rw(&spi.gpiochip)) {
            Ok(()) => Outcome::Ok(format!("SPI panel on {} and {}", spi.spidev.display(), spi.gpiochip.display())),
            Err(e) => fail(e, "enable SPI (dtparam=spi=on in /boot/firmware/config.txt) and reboot; the user needs groups spi and gpio"),
        },
    }
}

/// The configured models verified; the embedder's identity for the gallery check.
fn models_check(config: &Config) -> (Outcome, Option<EmbedderId>) {
    let manifest = match Manifest::builtin() {
        Ok(m) => m,
        Err(e) => return (fail(format!("the built-in model manifest: {e:#}"), "reinstall rolemirror"), None),
    };
    let dir = model_dir(config.vision.models.as_deref());
    let detector = config.vision.detector.clone().unwrap_or_else(|| manifest.default_detector.clone());
    let embedder = config.vision.embedder.clone().unwrap_or_else(|| manifest.default_embedder.clone());
    let mut found = Vec::new();
    let mut id = None;
    for (name, kind) in [(&detector, Kind::Detector), (&embedder, Kind::Embedder)] {
        let spec = match manifest.get_kind(name, kind) {
            Ok(s) => s,
            Err(e) => return (fail(e.to_string(), "set vision.embedder to a model `rolemirror models list` shows"), None),
        };
        match verified_path(&dir, spec) {
            Ok((_, sha256)) => {
                found.push(name.clone());
                if kind == Kind::Embedder {
                    id = Some(EmbedderId { id: name.clone(), sha256, dim: spec.dim.unwrap_or(0), appearance: spec.appearance.clone() });
                }
            }
            Err(e) => {
                return (
                    fail(e.to_string(), format!("`sudo rolemirror models fetch --models {}`, or reinstall the package", dir.display())),
                    None,
                )
            }
        }
    }
    (Outcome::Ok(format!("{} verified in {}", found.join(" and "), dir.display())), id)
}

fn gallery_check(config: &Config, embedder: Option<&EmbedderId>) -> Outcome {
    let dir = &config.gallery.dir;
    let Some(embedder) = embedder else {
        return fail(format!("{}: not checked without the models", dir.display()), "fix the models first");
    };
    match crate::gallery::Gallery::open(dir, embedder) {
        Ok(g) => Outcome::Ok(format!("{} role models in {}, index up to date", g.role_models.len(), dir.display())),
        Err(e) => fail(
            format!("{e:#}"),
            format!("bring a gallery on a signed USB stick, or `sudo -u rolemirror rolemirror gallery build {}`", dir.display()),
        ),
    }
}

fn keys_check(config: &Config) -> Outcome {
    let dir = &config.usb.trusted_keys;
    let (keys, problems) = crate::usb::bundle::trusted_keys(dir);
    let next = format!("copy the signing key's .pub file (from `rolemirror keygen`) into {}", dir.display());
    match (keys.len(), problems.first()) {
        (_, Some(p)) => fail(p.clone(), next),
        (0, None) if config.usb.enabled => fail(format!("no trusted keys in {}: every USB update is refused", dir.display()), next),
        (0, None) => Outcome::Ok("none, and USB updates are off (usb.enabled = false)".into()),
        (n, None) => Outcome::Ok(format!("{n} trusted key(s) in {}", dir.display())),
    }
}

/// `systemctl show rolemirror` as key=value pairs.
fn unit_properties() -> Result<Vec<(String, String)>, String> {
    let out = std::process::Command::new("systemctl")
        .args(["show", "rolemirror.service", "--property=ActiveState,SubState,UnitFileState,NRestarts,StatusText,ProcSubset"])
        .output()
        .map_err(|e| format!("cannot run systemctl: {e}"))?;
    if !out.status.success() {
        let said: Vec<String> =
            String::from_utf8_lossy(&out.stderr).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
        return Err(format!("systemctl: {}", said.join("; ")));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

fn service_check(unit: &Result<Vec<(String, String)>, String>) -> Outcome {
    let props = match unit {
        Ok(p) => p,
        Err(e) => {
            return fail(
                format!("cannot ask systemd: {e}"),
                "run doctor on the booth itself (`--skip service` in a container or an image build)",
            )
        }
    };
    let get = |k: &str| props.iter().find(|(key, _)| key == k).map_or("", |(_, v)| v.as_str());
    let (active, sub, enabled, restarts, status) =
        (get("ActiveState"), get("SubState"), get("UnitFileState"), get("NRestarts"), get("StatusText"));
    if active != "active" {
        return fail(
            format!("rolemirror.service is {active} ({sub})"),
            "`sudo systemctl start rolemirror`; `journalctl -u rolemirror -b` says why it stopped",
        );
    }
    if let Some(problems) = status.strip_prefix("service needed: ") {
        return fail(
            format!("the booth shows its service screen: {problems}"),
            "fix what it names, then `sudo systemctl reload rolemirror`",
        );
    }
    if enabled != "enabled" {
        return fail(
            format!("rolemirror.service runs but is {enabled}: it will not start at the next boot"),
            "`sudo systemctl enable rolemirror`",
        );
    }
    Outcome::Ok(format!("active ({sub}), enabled, {restarts} restart(s), status {status:?}"))
}

fn cpuinfo_check(unit: &Result<Vec<(String, String)>, String>) -> Outcome {
    let text = match std::fs::read_to_string("/proc/cpuinfo") {
        Ok(t) => t,
        Err(e) => return fail(format!("/proc/cpuinfo: {e}"), "tract picks its ARM kernels from it: mount /proc normally"),
    };
    if let Ok(props) = unit {
        if props.iter().any(|(k, v)| k == "ProcSubset" && v == "pid") {
            return fail(
                "the unit sets ProcSubset=pid: the booth cannot read /proc/cpuinfo and runs the generic kernels, without f16",
                "remove ProcSubset= from the unit or its drop-ins (`systemctl cat rolemirror`)",
            );
        }
    }
    let field =
        |name: &str| text.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == name).map(|(_, v)| v.trim().to_string()));
    let cores = text.lines().filter(|l| l.starts_with("processor")).count();
    let what = match (field("CPU part"), field("Features")) {
        (Some(part), Some(features)) => {
            format!("CPU part {part}{}", if features.split(' ').any(|f| f == "asimdhp") { ", fp16 arithmetic" } else { "" })
        }
        _ => field("model name").unwrap_or_else(|| "no CPU model named".into()),
    };
    Outcome::Ok(format!("readable: {cores} processor(s), {what}"))
}

/// `doctor`: every check not in `skip`, one line each (or one JSON object each).
pub fn doctor(config_path: &Path, skip: &[String], json: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    if let Some(unknown) = skip.iter().find(|s| !CHECKS.contains(&s.as_str())) {
        anyhow::bail!("--skip {unknown}: not a check (the checks: {})", CHECKS.join(", "));
    }
    let skipped = |name: &str| skip.iter().any(|s| s == name);
    let (config, config_outcome) = config_check(config_path);
    let booth = running_booth(&config);
    let unit = if skipped("service") && skipped("cpuinfo") { Err(String::new()) } else { unit_properties() };
    let mut embedder = None;
    let mut failed = 0;
    for name in CHECKS {
        let outcome = if skipped(name) {
            Outcome::Skipped
        } else {
            match name {
                "config" => config_outcome.clone(),
                "camera" => camera_check(&config, booth.as_ref()),
                "screen" => screen_check(&config, booth.as_ref()),
                "models" => {
                    let (o, id) = models_check(&config);
                    embedder = id;
                    o
                }
                "gallery" => gallery_check(&config, embedder.as_ref()),
                "keys" => keys_check(&config),
                "service" => service_check(&unit),
                _ => cpuinfo_check(&unit),
            }
        };
        failed += usize::from(matches!(outcome, Outcome::Fail { .. }));
        print(out, name, &outcome, json)?;
    }
    if !json {
        match failed {
            0 => writeln!(out, "doctor: all checks passed")?,
            n => writeln!(out, "doctor: {n} check(s) failed")?,
        }
    }
    Ok(if failed == 0 { ExitCode::Ok } else { ExitCode::InputFailed })
}

fn print(out: &mut impl Write, name: &str, outcome: &Outcome, json: bool) -> std::io::Result<()> {
    if json {
        let value = match outcome {
            Outcome::Ok(detail) => serde_json::json!({"check": name, "ok": true, "detail": detail}),
            Outcome::Fail { what, next } => serde_json::json!({"check": name, "ok": false, "detail": what, "next": next}),
            Outcome::Skipped => serde_json::json!({"check": name, "ok": null, "detail": "skipped"}),
        };
        return writeln!(out, "{value}");
    }
    match outcome {
        Outcome::Ok(detail) => writeln!(out, "{name:<8} ok    {detail}"),
        Outcome::Fail { what, next } => writeln!(out, "{name:<8} FAIL  {what} — next: {next}"),
        Outcome::Skipped => writeln!(out, "{name:<8} skip  (--skip)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
        Ok(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn the_service_line_says_what_systemd_says() {
        let running = [
            ("ActiveState", "active"),
            ("SubState", "running"),
            ("UnitFileState", "enabled"),
            ("NRestarts", "2"),
            ("StatusText", "running"),
        ];
        assert!(matches!(service_check(&props(&running)), Outcome::Ok(d) if d.contains("2 restart(s)")));
        let mut service_screen = running;
        service_screen[4] = ("StatusText", "service needed: gallery: /var/lib/rolemirror/gallery has no index");
        assert!(matches!(service_check(&props(&service_screen)), Outcome::Fail { what, .. } if what.contains("has no index")));
        let mut disabled = running;
        disabled[2] = ("UnitFileState", "disabled");
        assert!(matches!(service_check(&props(&disabled)), Outcome::Fail { next, .. } if next.contains("systemctl enable")));
        let failed = [("ActiveState", "failed"), ("SubState", "failed")];
        assert!(matches!(service_check(&props(&failed)), Outcome::Fail { what, .. } if what == "rolemirror.service is failed (failed)"));
        assert!(
            matches!(service_check(&Err("System has not been booted with systemd".into())), Outcome::Fail { what, .. } if what.contains("cannot ask systemd"))
        );
        assert!(matches!(cpuinfo_check(&props(&[("ProcSubset", "pid")])), Outcome::Fail { what, .. } if what.contains("ProcSubset=pid")));
        assert!(matches!(cpuinfo_check(&props(&[("ProcSubset", "all")])), Outcome::Ok(d) if d.starts_with("readable")));
    }
}
