//! Start-up: models, gallery (its index rebuilt when missing or stale) and the screens' assets,
//! phase by phase. Each phase is logged and shown in systemd's status line, and systemd's
//! watchdog and start timeout are fed while start-up makes progress — on a slow SD card, a
//! Pi 3, or a gallery whose index must be rebuilt after a software update, start-up can take
//! minutes, and a booth that is killed before it is ready is killed forever.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{notify, Signals};
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
                    Some(Arc::new(g.with_settings(config.gallery.matching)))
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
            let assets = Arc::new(Assets::new(fonts, config.texts.clone(), Some(&gallery)));
            Ok(Loaded { config: config.clone(), vision, gallery, assets })
        }
        _ => Err(problems),
    }
}

/// How start-up ended.
pub enum Startup {
    Loaded(Box<Loaded>),
    Failed(Vec<String>),
    /// SIGTERM or SIGINT while loading.
    Stopped,
}

/// Start-up stops feeding the watchdog after this long without progress: a hung load is
/// restarted by systemd rather than waited for forever.
pub const STALL: Duration = Duration::from_secs(600);
/// How often a long phase is logged again.
const LOG_EVERY: Duration = Duration::from_secs(15);

/// Runs [`load`] on a blocking thread while feeding the watchdog and extending the start
/// timeout, logging each phase and, every 15 s, what it is still doing.
pub(super) async fn load_watched(config: &Config, sig: &mut Signals) -> Startup {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
    let cfg = config.clone();
    let mut task = tokio::task::spawn_blocking(move || {
        load(&cfg, &|p| {
            let _ = tx.send(p);
        })
    });
    let started = Instant::now();
    let (mut phase, mut photos) = ("starting", 0usize);
    let (mut progressed, mut logged) = (Instant::now(), Instant::now());
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            done = &mut task => {
                return match done {
                    Ok(Ok(loaded)) => {
                        log::info!("start-up: done in {:.1} s", started.elapsed().as_secs_f64());
                        Startup::Loaded(Box::new(loaded))
                    }
                    Ok(Err(problems)) => Startup::Failed(problems),
                    Err(e) => Startup::Failed(vec![format!("start-up failed: {e}")]),
                };
            }
            Some(p) = rx.recv() => {
                progressed = Instant::now();
                match p {
                    Progress::Phase(name) => {
                        phase = name;
                        log::info!("start-up: {name}");
                        notify(&[sd_notify::NotifyState::Status(&format!("starting: {name}"))]);
                        logged = Instant::now();
                    }
                    Progress::Photo => {
                        photos += 1;
                        if photos == 1 {
                            log::info!("start-up: the gallery's index is missing or stale; embedding its photos");
                        }
                    }
                }
            }
            _ = tick.tick() => {
                if progressed.elapsed() < STALL {
                    notify(&[sd_notify::NotifyState::Watchdog, sd_notify::NotifyState::ExtendTimeoutUsec(30_000_000)]);
                }
                if logged.elapsed() >= LOG_EVERY {
                    let embedded = if photos > 0 { format!(", {photos} photos embedded") } else { String::new() };
                    log::info!("start-up: still {phase} after {:.0} s{embedded}", started.elapsed().as_secs_f64());
                    logged = Instant::now();
                }
            }
            _ = sig.term.recv() => return Startup::Stopped,
            _ = sig.int.recv() => return Startup::Stopped,
        }
    }
}

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
