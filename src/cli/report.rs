//! `rolemirror report [--config FILE] [--json]`: the booth's health report from a shell — the
//! same report a stick receives (docs/health-report.md). The daemon's live values come from the
//! snapshot it keeps in its state directory (`health.json`, refreshed every 10 s); the config,
//! the system readings and the counters are read now. When the daemon is not running, the report
//! says so and shows its last snapshot's values.

use std::io::Write;
use std::path::Path;

use super::ExitCode;
use crate::config::Config;
use crate::service::health::{self, Daemon};

/// `report [--config FILE] [--json]`.
pub fn report(config_path: &Path, json: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let (_, report) = gather(config_path)?;
    if json {
        writeln!(out, "{}", report.json())?;
    } else {
        write!(out, "{}", report.text())?;
    }
    Ok(ExitCode::Ok)
}

/// The report as `rolemirror report` makes it (also for `mender inventory`), and the config it
/// was made with.
pub fn gather(config_path: &Path) -> anyhow::Result<(Config, health::Report)> {
    let (config, problems) = match Config::load(config_path) {
        Ok(c) => (c, Vec::new()),
        // The daemon runs on the lenient config then (its service screen): so does the report.
        Err(e) => (Config::lenient(config_path), e.problems.iter().map(|p| format!("config: {}: {p}", config_path.display())).collect()),
    };
    // The state directory is the daemon's (mode 0750, files 0600): say so rather than report
    // a running booth as not running.
    for file in [health::SNAPSHOT_FILE, "counters.json"] {
        let path = config.state_dir.join(file);
        if let Err(e) = std::fs::File::open(&path) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                anyhow::bail!("{}: {e}: run it as root or as the booth's user (sudo rolemirror report)", path.display());
            }
        }
    }
    let snapshot = health::load_snapshot(&config.state_dir);
    let daemon = match &snapshot {
        Some(s) if health::daemon_alive(s) => Daemon::Running,
        _ => Daemon::NotRunning,
    };
    let days = health::saved_days(&config.state_dir);
    let mut report = health::gather(config_path, &config, snapshot.as_ref(), daemon, &days);
    report.warnings.extend(problems);
    Ok((config, report))
}
