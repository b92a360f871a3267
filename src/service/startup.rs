//! Start-up: models, gallery (its index rebuilt when missing or stale) and the screens' assets,
//! phase by phase, on a thread of its own. Each phase is reported; the state machine
//! ([`super::machine`]) logs it, shows it in systemd's status line, and feeds systemd's watchdog
//! and start timeout while start-up makes progress — on a slow SD card, a Pi 3, or a gallery
//! whose index must be rebuilt after a software update, start-up can take minutes, and a booth
//! that is killed before it is ready is killed forever.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::display::render::Assets;
use crate::display::text::Fonts;
use crate::events::emit;
use crate::gallery::Gallery;
use crate::vision::Vision;

/// Everything that lives as long as one loaded configuration.
pub struct Loaded {
    pub config: Config,
    pub vision: Arc<Vision>,
    pub gallery: Arc<Gallery>,
    pub assets: Arc<Assets>,
}

/// What start-up is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A new phase.
    Phase(&'static str),
    /// One more gallery photo embedded (while the index is rebuilt).
    Photo,
}

/// Loads what `config` names, reporting each phase and photo to `progress`. Every problem is
/// named with its key (`vision.models: …`, `gallery.dir: …`, `display.font: …`).
pub fn load(config: &Config, progress: &(dyn Fn(Progress) + Sync)) -> Result<Loaded, Vec<String>> {
    let mut problems = Vec::new();
    progress(Progress::Phase("loading models"));
    // The tracking detector too, now: loaded on first use it would stall the vision worker (and
    // its watchdog heartbeat) for the length of a model load on the first tracked frame.
    let vision = match Vision::open(&config.vision).and_then(|v| {
        v.tracker()?;
        Ok(v)
    }) {
        Ok(v) => Some(Arc::new(v)),
        Err(e) => {
            problems.push(format!("vision.models: {e:#}"));
            None
        }
    };
    // A missing or stale index (after a software or model update) is rebuilt here, so the booth
    // recovers by itself.
    let started = Instant::now();
    let gallery = vision.as_ref().and_then(|v| {
        progress(Progress::Phase("opening the gallery"));
        let dir = &config.gallery.dir;
        match Gallery::open_or_build(dir, v, |_, _| progress(Progress::Photo)) {
            Err(e) => {
                problems.push(format!("gallery.dir: {e:#}"));
                None
            }
            Ok((g, rebuilt)) => {
                if let Some(why) = rebuilt {
                    let seconds = format!("{:.1}", started.elapsed().as_secs_f64());
                    emit("gallery_indexed", &[("role_models", g.role_models.len().to_string()), ("seconds", seconds), ("reason", why)]);
                }
                if g.role_models.is_empty() {
                    problems.push(format!("gallery.dir: {} has no role model with a usable photo", dir.display()));
                    None
                } else {
                    Some(Arc::new(g.for_booth().with_settings(config.gallery.matching)))
                }
            }
        }
    });
    progress(Progress::Phase("preparing the screens"));
    let fonts = match Fonts::load(&config.display.font, &config.display.font_bold) {
        Ok(f) => Some(f),
        Err(e) => {
            problems.push(format!("display.font: {e}"));
            None
        }
    };
    match (vision, gallery, fonts) {
        (Some(vision), Some(gallery), Some(fonts)) if problems.is_empty() => {
            let assets = Arc::new(Assets::new(fonts, config.texts.clone(), Some(&gallery)).with_languages(config.languages.clone()));
            Ok(Loaded { config: config.clone(), vision, gallery, assets })
        }
        _ => Err(problems),
    }
}

/// Start-up stops feeding the watchdog after this long without progress: a hung load is
/// restarted by systemd rather than waited for forever.
pub const STALL: Duration = Duration::from_secs(600);

/// Recovers what an interrupted USB import left next to the gallery (never the active gallery).
pub fn tidy_gallery_store(gallery_dir: &Path) {
    let store = crate::usb::install::Store::new(gallery_dir);
    if store.versions.is_dir() {
        if let Ok(_lock) = store.lock() {
            for what in store.recover() {
                log::info!("usb: {what}");
            }
        }
    }
}
