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

/// Shows `problems` until SIGHUP (reload), SIGTERM, or a USB update that installed something.
pub(super) async fn service(
    display_settings: &DisplaySettings,
    problems: &[String],
    mut usb: Updater,
    sig: &mut Signals,
) -> anyhow::Result<Outcome> {
    for p in problems {
        log::error!("{p}");
    }
    let first = problems.first().cloned().unwrap_or_default();
    emit("service_needed", &[("problems", problems.len().to_string()), ("first", first.clone())]);
    let screen: Option<(DisplayThread, Arc<Assets>)> = match Fonts::load(&display_settings.font, &display_settings.font_bold) {
        Ok(fonts) => match display::start(display_settings, Duration::from_secs(5)) {
            Ok(d) => Some((d, Arc::new(Assets::new(fonts, Texts::english(), None)))),
            Err(e) => {
                log::error!("display: {e}");
                None
            }
        },
        Err(e) => {
            log::error!("display.font: {e}");
            None
        }
    };
    let show = |scene: Scene| {
        if let Some((d, assets)) = &screen {
            d.show(scene, assets);
        }
    };
    show(Scene::Service { problems: problems.to_vec() });
    // Up, but not healthy: systemd shows the status; no restart loop.
    notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status(&format!("service needed: {first}"))]);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let outcome = loop {
        tokio::select! {
            _ = sig.term.recv() => break Outcome::Exit(Exit::Stopped),
            _ = sig.int.recv() => break Outcome::Exit(Exit::Stopped),
            _ = sig.hup.recv() => break Outcome::Reload,
            _ = sig.usr1.recv() => {
                if let Some(scene) = usb.poll(&mut sig.seen, true) {
                    show(scene);
                }
            }
            Some(scene) = usb.next(), if usb.importing() => show(scene),
            _ = tick.tick() => {
                notify(&[sd_notify::NotifyState::Watchdog]);
                match usb.tick() {
                    UsbTick::Finished { reload: true } => break Outcome::Reload,
                    UsbTick::Finished { reload: false } => show(Scene::Service { problems: problems.to_vec() }),
                    UsbTick::Busy => {}
                    UsbTick::Idle => {
                        if let Some(scene) = usb.poll(&mut sig.seen, false) {
                            show(scene);
                        }
                    }
                }
            }
        }
    };
    if let Some((d, _)) = screen {
        d.stop();
    }
    if matches!(outcome, Outcome::Exit(_)) {
        emit("shutdown", &[("reason", "stopped".into())]);
    }
    Ok(outcome)
}
