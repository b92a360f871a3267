//! `rolemirror keygen`, `bundle create|verify|install` and `gallery rollback`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Common, ExitCode};
use anyhow::Context;

use crate::config::{self, raw, Config};
use crate::gallery::index::PhotoRules;
use crate::gallery::{GalleryManifest, RoleModel};
use crate::usb::bundle::{self, Limits};
use crate::usb::install::{self, ImportOptions, Outcome, Store};
use crate::vision::Vision;

/// `keygen --out DIR`.
pub fn keygen(dir: &Path, name: &str, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let (private, public, id) = bundle::keygen(dir, name)?;
    writeln!(out, "key {id}\n  private: {} (mode 0600: keep it off the booth and off sticks)\n  public:  {} (copy to each booth's usb.trusted_keys directory)", private.display(), public.display())?;
    Ok(ExitCode::Ok)
}

/// `bundle create`: the config is checked; the gallery's manifest is validated, then its cards
/// get the `gallery preview` checks at the display size of the bundled config (or the default
/// config's): any error refuses, warnings refuse unless `force`.
#[allow(clippy::too_many_arguments)]
pub fn create(
    common: &super::Common,
    gallery: Option<&Path>,
    config: Option<&Path>,
    key: &Path,
    serial: Option<u64>,
    dest: &Path,
    force: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let key = bundle::read_signing_key(key)?;
    if let Some(cfg) = config {
        let text =
            std::fs::read_to_string(cfg).with_context(|| format!("{}: cannot read the config to bundle (--config FILE)", cfg.display()))?;
        let problems = config::check(&text);
        if !problems.is_empty() {
            return Ok(super::print_problems(out, &cfg.display().to_string(), "; not bundled", &problems)?);
        }
    }
    if let Some(dir) = gallery {
        let manifest = super::gallery::load_manifest(dir)?;
        let problems = manifest.validate(Some(dir));
        if !problems.is_empty() {
            return Ok(super::print_problems(out, &dir.display().to_string(), " in gallery.toml; not bundled", &problems)?);
        }
        // The preview's checks (nothing is written): cards rendered at the booth's size.
        let checked = crate::display::checks::check_gallery(
            &common.vision_options(),
            dir,
            config,
            &[],
            &mut |_, _, _| Ok(()),
            &mut crate::util::progress::callback("checking cards", false),
        )?;
        if !checked.problems.is_empty() {
            if let Some(note) = &checked.note {
                writeln!(out, "note: {note}")?;
            }
            writeln!(out, "{}: the preview's checks of the result cards:", dir.display())?;
            super::preview::print_summary(&checked, out)?;
            if checked.errors() > 0 {
                writeln!(out, "not bundled: fix the errors (see the cards with `rolemirror gallery preview {} --out DIR`)", dir.display())?;
                return Ok(ExitCode::InputFailed);
            }
            if !force {
                writeln!(out, "not bundled: warnings only; look at the cards (`rolemirror gallery preview {} --out DIR`), fix them or pass --force to bundle anyway", dir.display())?;
                return Ok(ExitCode::InputFailed);
            }
            writeln!(out, "--force: bundling despite {} warning(s)", checked.warnings())?;
        }
    }
    // Default serial: seconds since 1970, so later bundles from any laptop with a sane clock win.
    let serial = serial.unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs()));
    // The bar appears with the first file copied, when the number of files is known.
    let mut bar: Option<crate::util::Progress> = None;
    let m = bundle::create_with_progress(gallery, config, &key, serial, dest, &mut |_, total| {
        bar.get_or_insert_with(|| crate::util::Progress::new(total as u64, "copying", false)).inc(1);
    })?;
    if let Some(bar) = bar {
        bar.finish();
    }
    writeln!(
        out,
        "wrote {} : serial {serial}, {} files, {} bytes, signed by key {}",
        dest.join(bundle::BUNDLE_DIR).display(),
        m.files.len(),
        m.total_size(),
        m.signer
    )?;
    writeln!(out, "check it with: rolemirror bundle verify {} --pubkey PUBLIC_KEY", dest.display())?;
    Ok(ExitCode::Ok)
}

/// The bundle directory for a stick root or the `ROLEMIRROR` directory itself.
fn bundle_root(dir: &Path) -> PathBuf {
    let inner = dir.join(bundle::BUNDLE_DIR);
    if std::fs::symlink_metadata(&inner).is_ok() {
        inner
    } else {
        dir.to_path_buf()
    }
}

fn photo_hashes(dir: &Path, rm: &RoleModel) -> Vec<Option<String>> {
    rm.photos.iter().map(|p| crate::util::sha256_file(&dir.join(p)).ok().map(|(s, _)| s)).collect()
}

fn print_outcome(outcome: &Outcome, out: &mut impl Write) -> std::io::Result<()> {
    match outcome {
        Outcome::Installed { serial, role_models, config, signer } => {
            writeln!(out, "serial {serial}, signed by key {signer}")?;
            if let Some(n) = role_models {
                writeln!(out, "gallery: {n} role models, every photo usable")?;
            }
            if *config {
                writeln!(out, "config: valid (replaces the booth's config)")?;
            }
        }
        Outcome::AlreadyInstalled { serial } => writeln!(out, "serial {serial} is already installed: nothing to do")?,
        Outcome::Refused(r) => {
            writeln!(out, "REFUSED ({} reason(s)):", r.0.len())?;
            for line in &r.0 {
                writeln!(out, "  {line}")?;
            }
        }
    }
    Ok(())
}

/// `bundle verify DIR --pubkey FILE [--against GALLERY] [--against-config FILE]`: the booth's
/// own import, into a throwaway directory.
pub fn verify(
    common: &Common,
    dir: &Path,
    pubkey: &Path,
    against: Option<&Path>,
    against_config: Option<&Path>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let key = bundle::read_verifying_key(pubkey)?;
    let tmp = std::env::temp_dir().join(format!("rolemirror-verify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)
        .with_context(|| format!("{}: cannot create the throwaway folder for the check (is $TMPDIR writable?)", tmp.display()))?;
    let store = Store::new(&tmp.join("gallery"));
    let config_path = tmp.join("rolemirror.toml");
    let limits = Limits::default();
    let opts = ImportOptions {
        keys: std::slice::from_ref(&key),
        limits,
        rules: PhotoRules { max_pixels: limits.max_pixels, ..PhotoRules::default() },
        config_path: Some(&config_path),
        current: None,
    };
    let vision = || common.vision().map(Arc::new);
    // The booth's import reports a fraction and a step; the bar counts per mille.
    let bar = crate::util::Progress::new(1000, "verifying", false);
    let mut shown = 0u64;
    let outcome = install::import(&bundle_root(dir), &store, &opts, &vision, &mut |p| {
        log::info!("{:3.0}% {}", p.fraction * 100.0, p.step);
        let at = (f64::from(p.fraction).clamp(0.0, 1.0) * 1000.0) as u64;
        bar.inc(at.saturating_sub(shown));
        shown = shown.max(at);
        bar.set_message(&p.step.to_string());
    });
    bar.finish();
    print_outcome(&outcome, out)?;
    let code = match &outcome {
        Outcome::Installed { role_models, .. } => {
            if role_models.is_some() {
                if let (Some(cur), Ok(new)) = (against, GalleryManifest::load(&store.active)) {
                    gallery_diff(cur, &store.active, &new, out)?;
                }
            }
            if let (Some(cur), Ok(new)) = (against_config, std::fs::read_to_string(&config_path)) {
                config_diff(cur, &new, out)?;
            }
            ExitCode::Ok
        }
        _ => ExitCode::InputFailed,
    };
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(code)
}

fn gallery_diff(current: &Path, new_dir: &Path, new: &GalleryManifest, out: &mut impl Write) -> std::io::Result<()> {
    let cur = match GalleryManifest::load(current) {
        Ok(m) => m,
        Err(e) => return writeln!(out, "(cannot compare with {}: {e:#})", current.display()),
    };
    let by_id = |m: &GalleryManifest| m.role_models.iter().map(|r| (r.id.clone(), r.clone())).collect::<BTreeMap<_, _>>();
    let (a, b) = (by_id(&cur), by_id(new));
    let added: Vec<&str> = b.keys().filter(|k| !a.contains_key(*k)).map(String::as_str).collect();
    let removed: Vec<&str> = a.keys().filter(|k| !b.contains_key(*k)).map(String::as_str).collect();
    let changed: Vec<&str> = b
        .iter()
        .filter(|(k, rm)| a.get(*k).is_some_and(|old| old != *rm || photo_hashes(current, old) != photo_hashes(new_dir, rm)))
        .map(|(k, _)| k.as_str())
        .collect();
    writeln!(out, "compared with {}: {} role models now, {} after", current.display(), a.len(), b.len())?;
    for (what, list) in [("added", added), ("removed", removed), ("changed", changed)] {
        writeln!(out, "  {what} ({}): {}", list.len(), if list.is_empty() { "-".to_string() } else { list.join(", ") })?;
    }
    Ok(())
}

fn config_diff(current: &Path, new: &str, out: &mut impl Write) -> std::io::Result<()> {
    let (Ok(cur), Ok(new)) = (raw::Config::load(current), raw::Config::parse(new)) else {
        return writeln!(out, "(cannot compare with {}: it does not load)", current.display());
    };
    let flat = |c: &raw::Config| {
        let mut m = BTreeMap::new();
        if let Ok(toml::Value::Table(t)) = toml::Value::try_from(c) {
            flatten("", &toml::Value::Table(t), &mut m);
        }
        m
    };
    let (a, b) = (flat(&cur), flat(&new));
    let changed: Vec<String> = b.iter().filter(|(k, v)| a.get(*k) != Some(v)).map(|(k, v)| format!("{k} = {v}")).collect();
    writeln!(out, "config compared with {}: {} setting(s) change", current.display(), changed.len())?;
    for c in changed {
        writeln!(out, "  {c}")?;
    }
    Ok(())
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// `bundle install DIR --config FILE`: what the booth does with a stick, from a shell (the
/// running daemon then needs `systemctl reload rolemirror`). Progress goes to stderr.
pub fn install(dir: &Path, config_path: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let (keys, problems) = bundle::trusted_keys(&config.usb.trusted_keys);
    for p in problems {
        writeln!(out, "warning: usb.trusted_keys: {p}")?;
    }
    let store = Store::new(&config.gallery.dir);
    let limits = Limits::from(&config.usb);
    let opts = ImportOptions {
        keys: &keys,
        limits,
        rules: PhotoRules { max_pixels: limits.max_pixels, ..PhotoRules::default() },
        config_path: Some(config_path),
        current: Some(&config),
    };
    let vision = || Vision::open(&config.vision).map(Arc::new);
    let mut err = std::io::stderr();
    let outcome = install::import(&bundle_root(dir), &store, &opts, &vision, &mut |p| {
        let _ = writeln!(err, "progress {:.3} {}", p.fraction, p.step);
    });
    print_outcome(&outcome, out)?;
    Ok(match outcome {
        Outcome::Installed { .. } => {
            writeln!(out, "installed; a running booth picks it up with: systemctl reload rolemirror")?;
            ExitCode::Ok
        }
        Outcome::AlreadyInstalled { .. } => ExitCode::Ok,
        Outcome::Refused(_) => ExitCode::InputFailed,
    })
}

/// `gallery rollback --config FILE`.
pub fn rollback(config_path: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let active = Store::new(&config.gallery.dir).rollback()?;
    writeln!(out, "{} now points to {}; reload the booth: systemctl reload rolemirror", config.gallery.dir.display(), active.display())?;
    Ok(ExitCode::Ok)
}
