//! Inventory, not surveillance: the attributes a booth sends to a Mender server, made from the
//! same health report a USB stick receives (`service::health`; docs/health-report.md) and
//! nothing else. The client runs `/usr/share/mender/inventory/mender-inventory-rolemirror`,
//! which prints these as `key=value` lines (a key given on several lines becomes a list).
//!
//! What goes: versions, the state, the gallery's serial, date, signer and size, the models, the
//! camera's state, the config's checksum, temperature, throttling, free space, warnings counted,
//! and the per-day totals of the last [`DAYS`] days. What never goes: anything about a visitor
//! (no picture, similarity, role model shown, time of a visit: the report has none of these),
//! and no free text from the log (the warnings are only counted).

use crate::service::health::Report;
use crate::usb::install::Installed;

/// Days of counters sent (the health report on a stick has up to 400).
pub const DAYS: usize = 7;

/// The inventory attributes, in a stable order.
pub fn attributes(r: &Report, installed: Option<&Installed>) -> Vec<(String, String)> {
    let mut a: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| a.push((format!("rolemirror_{k}"), v));
    let sw = &r.software;
    put("version", sw.version.clone());
    put("daemon", if sw.daemon == crate::service::health::Daemon::NotRunning { "not running" } else { "running" }.into());
    put("state", sw.state.clone().unwrap_or_else(|| "unknown".into()));
    if let Some(s) = sw.uptime_seconds {
        put("uptime_seconds", s.to_string());
    }
    if let Some(n) = sw.restarts_since_boot {
        put("restarts_since_boot", n.to_string());
    }
    for m in &r.models {
        put(&m.role, m.id.clone());
    }
    put("gallery_serial", r.gallery.serial.to_string());
    if let Some(i) = installed {
        put("gallery_created", i.created.clone());
        put("gallery_signer", i.signer.clone());
    }
    put("gallery_role_models", r.gallery.role_models.map_or_else(|| "unknown".into(), |n| n.to_string()));
    put("config_sha256", r.config.sha256.clone().unwrap_or_else(|| "unreadable".into()));
    let camera = match (&r.camera.connected, &r.camera.lost) {
        (Some(mode), _) => format!("connected: {mode}"),
        (None, Some(why)) => format!("lost: {why}"),
        (None, None) => "not connected".into(),
    };
    put("camera", camera);
    if let Some(fps) = r.camera.captured_fps {
        put("camera_fps", fps.to_string());
    }
    put("warnings", r.warnings.len().to_string());
    if let Some(t) = r.system.temperatures.iter().map(|t| t.celsius).max_by(f64::total_cmp) {
        put("temperature_celsius", format!("{t:.1}"));
    }
    put(
        "throttling",
        r.system.throttling.as_ref().map_or_else(
            || "not exposed".into(),
            |t| {
                let words = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
                format!("now: {}; since boot: {}", words(&t.now), words(&t.since_boot))
            },
        ),
    );
    if let Some(b) = r.system.state_dir_free_bytes {
        put("free_mb", format!("{:.0}", b as f64 / 1e6));
    }
    let days = &r.counters_per_day;
    for d in &days[days.len().saturating_sub(DAYS)..] {
        put("counters", format!("{} visitors={} matches={} no_match={}", d.date, d.visitors, d.matches, d.no_match));
    }
    a
}

/// The attributes as the client reads them: `key=value` lines, each value on one line.
pub fn text(attrs: &[(String, String)]) -> String {
    attrs.iter().map(|(k, v)| format!("{k}={}\n", v.replace(['\n', '\r'], " "))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_value_and_lists_as_repeated_keys() {
        let attrs = vec![
            ("rolemirror_state".to_string(), "service screen: a\nb".to_string()),
            ("rolemirror_counters".into(), "x".into()),
            ("rolemirror_counters".into(), "y".into()),
        ];
        assert_eq!(text(&attrs), "rolemirror_state=service screen: a b\nrolemirror_counters=x\nrolemirror_counters=y\n");
    }
}
