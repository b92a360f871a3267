//! The service screen: the booth cannot run as configured (a config that does not validate,
//! models or a gallery that cannot be loaded, a screen that does not open). The problems go on
//! screen (when the screen works) and into the log; the process stays up, tells systemd it is
//! ready but needs service, still accepts a signed USB stick (how a first gallery reaches a fresh
//! install), and waits for SIGHUP — no crash loop.

use std::sync::Arc;
use std::time::Duration;

use super::{notify, Exit, Outcome, Signals};
use crate::config::{DisplaySettings, Texts};
use crate::display::render::Assets;
use crate::display::scene::Scene;
use crate::display::text::Fonts;
use crate::display::{self, DisplayThread};
use crate::events::emit;
use crate::usb::{Tick as UsbTick, Updater};

/// How often a screen that did not open is tried again.
const DISPLAY_RETRY: Duration = Duration::from_secs(2);

/// Shows `problems` until SIGHUP (reload), SIGTERM, or a USB update that installed something.
/// A screen that does not open is tried again every [`DISPLAY_RETRY`]: at boot the framebuffer
/// can appear after the booth starts (its DRM driver loads late on a busy system — found by the
/// system test's power-cut reboots). When the screen was the only problem (`display_only`), its
/// arrival restarts the booth ([`Outcome::Retry`]); otherwise it shows the problems.
pub(super) async fn service(
    display_settings: &DisplaySettings,
    problems: &[String],
    display_only: bool,
    mut usb: Updater,
    sig: &mut Signals,
) -> anyhow::Result<Outcome> {
    for p in problems {
        log::error!("{p}");
    }
    let first = problems.first().cloned().unwrap_or_default();
    emit("service_needed", &[("problems", problems.len().to_string()), ("first", first.clone())]);
    let assets = match Fonts::load(&display_settings.font, &display_settings.font_bold) {
        Ok(fonts) => Some(Arc::new(Assets::new(fonts, Texts::english(), None))),
        Err(e) => {
            log::error!("display.font: {e}");
            None
        }
    };
    let mut screen: Option<DisplayThread> = None;
    let mut display_error: Option<String> = None;
    if assets.is_some() {
        match display::start(display_settings, Duration::from_secs(5)) {
            Ok(d) if display_only => {
                // It opens now: the booth can run after all.
                log::info!("display: the screen opens now; starting the booth");
                d.stop();
                return Ok(Outcome::Retry);
            }
            Ok(d) => screen = Some(d),
            Err(e) => {
                log::error!("display: {e} (trying again every {} s)", DISPLAY_RETRY.as_secs());
                display_error = Some(e.to_string());
            }
        }
    }
    let show = |screen: &Option<DisplayThread>, scene: Scene| {
        if let (Some(d), Some(assets)) = (screen, &assets) {
            d.show(scene, assets);
        }
    };
    show(&screen, Scene::Service { problems: problems.to_vec() });
    // Up, but not healthy: systemd shows the status; no restart loop.
    notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(&format!("service needed: {first}"))]);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut retry = tokio::time::interval(DISPLAY_RETRY);
    retry.tick().await;
    let outcome = loop {
        tokio::select! {
            _ = sig.term.recv() => break Outcome::Exit(Exit::Stopped),
            _ = sig.int.recv() => break Outcome::Exit(Exit::Stopped),
            _ = sig.hup.recv() => break Outcome::Reload,
            _ = sig.usr1.recv() => {
                if let Some(scene) = usb.poll(&mut sig.seen, true) {
                    show(&screen, scene);
                }
            }
            Some(scene) = usb.next(), if usb.importing() => show(&screen, scene),
            _ = retry.tick(), if display_error.is_some() && !usb.importing() => {
                match display::start(display_settings, Duration::from_secs(1)) {
                    Ok(d) => {
                        log::info!("display: the screen opens now (it did not: {})", display_error.take().unwrap_or_default());
                        if display_only {
                            d.stop();
                            break Outcome::Retry;
                        }
                        screen = Some(d);
                        show(&screen, Scene::Service { problems: problems.to_vec() });
                    }
                    Err(e) => {
                        let e = e.to_string();
                        if display_error.as_deref() != Some(e.as_str()) {
                            log::warn!("display: {e}");
                            display_error = Some(e);
                        }
                    }
                }
            }
            _ = tick.tick() => {
                notify(&[sd_notify::NotifyState::Watchdog]);
                match usb.tick() {
                    UsbTick::Finished { reload: true } => break Outcome::Reload,
                    UsbTick::Finished { reload: false } => show(&screen, Scene::Service { problems: problems.to_vec() }),
                    UsbTick::Busy => {}
                    UsbTick::Idle => {
                        if let Some(scene) = usb.poll(&mut sig.seen, false) {
                            show(&screen, scene);
                        }
                    }
                }
            }
        }
    };
    if let Some(d) = screen {
        d.stop();
    }
    if matches!(outcome, Outcome::Exit(_)) {
        emit("shutdown", &[("reason", "stopped".into())]);
    }
    Ok(outcome)
}
