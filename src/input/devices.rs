//! The input thread: evdev devices found by what they can do, read without blocking the booth,
//! decoded into gestures ([`super::gesture`]). Devices come and go (a USB button encoder plugged
//! in at an open day, a touch screen's controller reset): the folder is looked at again every
//! [`RESCAN_SECONDS`], a device whose reads fail is closed, and nothing of it is an error. The
//! only module that knows evdev.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use evdev::{AbsoluteAxisCode, Device, EventSummary, KeyCode, SynchronizationCode};

use super::gesture::{Decoder, KeyRole, Raw};
use super::{Gesture, InputSettings};

/// How often the folder of event devices is looked at for new ones (seconds).
pub const RESCAN_SECONDS: f64 = 2.0;
/// The longest the thread sleeps between looks at its stop flag and held buttons (seconds).
const WAKE_SECONDS: f64 = 0.2;

/// A touch axis: the raw range the device reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Axis {
    pub min: i32,
    pub max: i32,
}

impl Axis {
    /// A raw value as a fraction of the range (0..1).
    pub fn fraction(&self, value: i32) -> f32 {
        ((value - self.min) as f32 / (self.max - self.min).max(1) as f32).clamp(0.0, 1.0)
    }
}

/// Which touch reports a device gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Single-touch axes (`ABS_X`, `ABS_Y`) with `BTN_TOUCH` (touch screens, whose drivers also
    /// emulate these for multi-touch) or `BTN_LEFT` (tablets, QEMU's among them).
    Single { x: Axis, y: Axis },
    /// Only multi-touch slots (`ABS_MT_POSITION_*`, `ABS_MT_TRACKING_ID`): slot 0 is followed.
    Multi { x: Axis, y: Axis },
}

/// What the booth uses of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// Key codes with their roles.
    pub keys: Vec<(u16, KeyRole)>,
    pub touch: Option<Touch>,
}

impl Use {
    /// How the device is named in the log ("button", "touch", "button, keys").
    pub fn describe(&self) -> String {
        let mut what: Vec<&str> = Vec::new();
        for (role, name) in [(KeyRole::Button, "button"), (KeyRole::Next, "next key"), (KeyRole::Language, "language key")] {
            if self.keys.iter().any(|(_, r)| *r == role) {
                what.push(name);
            }
        }
        if self.touch.is_some() {
            what.push("touch");
        }
        what.join(", ")
    }
}

/// What the booth can use of a device that has the keys `has_key` says and the absolute axes
/// `axis` gives the range of (`None`: not a device for the booth: a mouse, a power button, a
/// keyboard without the configured keys, a joystick).
pub fn classify(settings: &InputSettings, has_key: &dyn Fn(u16) -> bool, axis: &dyn Fn(AbsoluteAxisCode) -> Option<Axis>) -> Option<Use> {
    let mut keys = Vec::new();
    for (codes, role) in
        [(&settings.button_keys, KeyRole::Button), (&settings.next_keys, KeyRole::Next), (&settings.language_keys, KeyRole::Language)]
    {
        keys.extend(codes.iter().filter(|c| has_key(**c)).map(|c| (*c, role)));
    }
    let usable = |a: Option<Axis>| a.filter(|a| a.max > a.min);
    let touch = settings.touch.then(|| {
        let contact = has_key(KeyCode::BTN_TOUCH.code()) || has_key(KeyCode::BTN_LEFT.code());
        match (usable(axis(AbsoluteAxisCode::ABS_X)), usable(axis(AbsoluteAxisCode::ABS_Y))) {
            (Some(x), Some(y)) if contact => Some(Touch::Single { x, y }),
            _ => match (usable(axis(AbsoluteAxisCode::ABS_MT_POSITION_X)), usable(axis(AbsoluteAxisCode::ABS_MT_POSITION_Y))) {
                (Some(x), Some(y)) if axis(AbsoluteAxisCode::ABS_MT_TRACKING_ID).is_some() => Some(Touch::Multi { x, y }),
                _ => None,
            },
        }
    });
    let touch = touch.flatten();
    (!keys.is_empty() || touch.is_some()).then_some(Use { keys, touch })
}

/// One event of a device as the decoder's edge (`None`: nothing the booth uses). `slot` is the
/// multi-touch slot the device last reported.
fn raw(event: EventSummary, using: &Use, slot: &mut i32) -> Option<Raw> {
    match (event, using.touch) {
        (EventSummary::Synchronization(_, SynchronizationCode::SYN_REPORT, _), _) => Some(Raw::Sync),
        // Key repeats (2) are not edges.
        (EventSummary::Key(_, _, 2), _) => None,
        (EventSummary::Key(_, code, value), touch) => {
            let down = value == 1;
            match using.keys.iter().find(|(c, _)| *c == code.code()) {
                Some((_, role)) => Some(Raw::Key { role: *role, down }),
                None if matches!(touch, Some(Touch::Single { .. })) && (code == KeyCode::BTN_TOUCH || code == KeyCode::BTN_LEFT) => {
                    Some(Raw::Touch(down))
                }
                None => None,
            }
        }
        (EventSummary::AbsoluteAxis(_, code, value), Some(Touch::Single { x, y })) => match code {
            AbsoluteAxisCode::ABS_X => Some(Raw::X(x.fraction(value))),
            AbsoluteAxisCode::ABS_Y => Some(Raw::Y(y.fraction(value))),
            _ => None,
        },
        (EventSummary::AbsoluteAxis(_, code, value), Some(Touch::Multi { x, y })) => match code {
            AbsoluteAxisCode::ABS_MT_SLOT => {
                *slot = value;
                None
            }
            _ if *slot != 0 => None,
            AbsoluteAxisCode::ABS_MT_POSITION_X => Some(Raw::X(x.fraction(value))),
            AbsoluteAxisCode::ABS_MT_POSITION_Y => Some(Raw::Y(y.fraction(value))),
            AbsoluteAxisCode::ABS_MT_TRACKING_ID => Some(Raw::Touch(value >= 0)),
            _ => None,
        },
        _ => None,
    }
}

/// An open device.
struct Open {
    device: Device,
    using: Use,
    decoder: Decoder,
    slot: i32,
}

/// Opens `path` and decides what of it the booth uses: `Ok(None)` for a device of no use.
fn open(path: &Path, settings: &InputSettings) -> std::io::Result<Option<Open>> {
    // Read only (the unit allows no more): evdev's own open tries read-write first.
    let file = std::fs::OpenOptions::new().read(true).open(path)?;
    let device = Device::from_fd(file.into())?;
    let keys = device.supported_keys();
    let has_key = |c: u16| keys.is_some_and(|k| k.contains(KeyCode::new(c)));
    let ranges: BTreeMap<u16, Axis> = match device.get_absinfo() {
        Ok(infos) => infos.map(|(code, info)| (code.0, Axis { min: info.minimum(), max: info.maximum() })).collect(),
        Err(_) => BTreeMap::new(),
    };
    let axis = |code: AbsoluteAxisCode| ranges.get(&code.0).copied();
    let Some(using) = classify(settings, &has_key, &axis) else { return Ok(None) };
    device.set_nonblocking(true)?;
    Ok(Some(Open { device, using, decoder: Decoder::new(settings.long_press, settings.mapping), slot: 0 }))
}

/// The running input thread.
pub struct InputThread {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

impl InputThread {
    /// Ends the thread (within [`WAKE_SECONDS`]), closing its devices.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
    }
}

/// Starts the input thread: every gesture goes to `deliver`.
pub fn start(settings: &InputSettings, deliver: Box<dyn FnMut(Gesture) + Send>) -> std::io::Result<InputThread> {
    let stop = Arc::new(AtomicBool::new(false));
    let (settings, flag) = (settings.clone(), stop.clone());
    let handle = std::thread::Builder::new().name("input".into()).spawn(move || run(&settings, &flag, deliver))?;
    Ok(InputThread { stop, handle })
}

/// The event devices in `dir` (`event*`), sorted.
fn event_nodes(dir: &Path) -> BTreeSet<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return BTreeSet::new() };
    entries.flatten().map(|e| e.path()).filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("event"))).collect()
}

/// When an event happened, on the thread's clock: the kernel stamps events with the wall clock,
/// which may step, so only its distance to now is used, within the last second.
fn event_time(now: f64, stamp: SystemTime) -> f64 {
    let age = SystemTime::now().duration_since(stamp).map_or(0.0, |d| d.as_secs_f64());
    now - age.clamp(0.0, 1.0)
}

fn run(settings: &InputSettings, stop: &AtomicBool, mut deliver: Box<dyn FnMut(Gesture) + Send>) {
    let clock = Instant::now();
    let mut open: BTreeMap<PathBuf, Open> = BTreeMap::new();
    // Devices looked at and not used (or not openable), with why: not looked at again until
    // their node goes away.
    let mut passed: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut scanned = f64::NEG_INFINITY;
    let mut warned_dir = false;
    while !stop.load(Ordering::Relaxed) {
        let now = clock.elapsed().as_secs_f64();
        if now - scanned >= RESCAN_SECONDS {
            scanned = now;
            if !settings.dir.is_dir() && !warned_dir {
                log::info!(
                    "input: {} does not exist (no input devices yet); looking again every {RESCAN_SECONDS} s",
                    settings.dir.display()
                );
                warned_dir = true;
            }
            let nodes = event_nodes(&settings.dir);
            passed.retain(|p, _| nodes.contains(p));

            let fresh: Vec<PathBuf> = nodes.into_iter().filter(|p| !open.contains_key(p) && !passed.contains_key(p)).collect();
            for path in &fresh {
                match open_one(path, settings) {
                    Ok(device) => {
                        open.insert(path.clone(), device);
                    }
                    Err(why) => {
                        passed.insert(path.clone(), why);
                    }
                }
            }
        }
        // Wait for events (or the next held button's long press, or the next look around).
        let due = open.values().filter_map(|d| d.decoder.due()).fold(now + WAKE_SECONDS, f64::min);
        let timeout_ms = ((due - now).clamp(0.0, WAKE_SECONDS) * 1000.0).ceil() as i32;
        let paths: Vec<PathBuf> = open.keys().cloned().collect();
        let mut fds: Vec<libc::pollfd> =
            paths.iter().map(|p| libc::pollfd { fd: open[p].device.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
        if fds.is_empty() {
            std::thread::sleep(Duration::from_millis(timeout_ms.max(1) as u64));
        } else {
            // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the whole call.
            unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        }
        let now = clock.elapsed().as_secs_f64();
        for (path, fd) in paths.iter().zip(&fds) {
            let Some(dev) = open.get_mut(path) else { continue };
            let mut gone = fd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0;
            if fd.revents & libc::POLLIN != 0 {
                match dev.device.fetch_events() {
                    Ok(events) => {
                        let mut edges = Vec::new();
                        for event in events {
                            let at = event_time(now, event.timestamp());
                            if let Some(r) = raw(event.destructure(), &dev.using, &mut dev.slot) {
                                edges.push((at, r));
                            }
                        }
                        for (at, r) in edges {
                            if let Some(g) = dev.decoder.raw(at, r) {
                                deliver(g);
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        log::info!("input: {} went away ({e})", path.display());
                        gone = true;
                    }
                }
            }
            if gone {
                open.remove(path);
            }
        }
        for dev in open.values_mut() {
            if let Some(g) = dev.decoder.tick(now) {
                deliver(g);
            }
        }
    }
}

/// Opens one device node: the device, or why it is passed over (logged once: at `info` when the
/// booth may not open it, at `debug` when it is of no use).
fn open_one(path: &Path, settings: &InputSettings) -> Result<Open, String> {
    match open(path, settings) {
        Ok(Some(device)) => {
            log::info!("input: {} ({}): {}", path.display(), device.device.name().unwrap_or("unnamed"), device.using.describe());
            Ok(device)
        }
        Ok(None) => {
            log::debug!("input: {}: nothing the booth uses", path.display());
            Err("nothing the booth uses".into())
        }
        Err(e) => {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                " (the booth's user needs the input group and the unit DeviceAllow=char-input r)"
            } else {
                ""
            };
            log::info!("input: {}: {e}{hint}", path.display());
            Err(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::key_code;

    fn settings() -> InputSettings {
        let codes = |names: &[&str]| names.iter().filter_map(|n| key_code(n)).collect();
        InputSettings {
            enabled: true,
            button_keys: codes(&["KEY_ENTER", "KEY_SPACE"]),
            next_keys: codes(&["KEY_N"]),
            language_keys: codes(&["KEY_L"]),
            touch: true,
            ..InputSettings::default()
        }
    }

    fn device(keys: &[KeyCode], axes: &[AbsoluteAxisCode]) -> Option<Use> {
        let keys: Vec<u16> = keys.iter().map(|k| k.code()).collect();
        let axes: Vec<AbsoluteAxisCode> = axes.to_vec();
        classify(&settings(), &|c| keys.contains(&c), &|a| axes.contains(&a).then_some(Axis { min: 0, max: 4095 }))
    }

    #[test]
    fn devices_are_used_for_what_they_can_do() {
        use AbsoluteAxisCode as A;
        // A gpio-key button (keycode 28) and a USB encoder sending Enter.
        assert_eq!(device(&[KeyCode::KEY_ENTER], &[]).map(|u| u.describe()), Some("button".into()));
        // A keyboard: the button, and the development keys.
        assert_eq!(
            device(&[KeyCode::KEY_ENTER, KeyCode::KEY_SPACE, KeyCode::KEY_N, KeyCode::KEY_L, KeyCode::KEY_A], &[]).map(|u| u.describe()),
            Some("button, next key, language key".into())
        );
        // A touch screen with single-touch emulation, a multi-touch-only one, and QEMU's tablet.
        assert!(matches!(device(&[KeyCode::BTN_TOUCH], &[A::ABS_X, A::ABS_Y]).and_then(|u| u.touch), Some(Touch::Single { .. })));
        let mt = [A::ABS_MT_POSITION_X, A::ABS_MT_POSITION_Y, A::ABS_MT_TRACKING_ID, A::ABS_MT_SLOT];
        assert!(matches!(device(&[], &mt).and_then(|u| u.touch), Some(Touch::Multi { .. })));
        assert!(device(&[KeyCode::BTN_LEFT, KeyCode::BTN_RIGHT], &[A::ABS_X, A::ABS_Y]).is_some_and(|u| u.touch.is_some()));
        // Not for the booth: a power button, a mouse, a keyboard without the keys, a joystick's
        // axes without a contact button.
        assert_eq!(device(&[KeyCode::KEY_POWER], &[]), None);
        assert_eq!(device(&[KeyCode::BTN_LEFT, KeyCode::BTN_RIGHT], &[]), None);
        assert_eq!(device(&[KeyCode::KEY_A, KeyCode::KEY_B], &[]), None);
        assert_eq!(device(&[KeyCode::BTN_TRIGGER], &[A::ABS_X, A::ABS_Y]), None);
        // Touch switched off in the config: the touch screen is passed over.
        let off = InputSettings { touch: false, ..settings() };
        let keys = [KeyCode::BTN_TOUCH.code()];
        assert_eq!(classify(&off, &|c| keys.contains(&c), &|_| Some(Axis { min: 0, max: 100 })), None);
        // An axis with an empty range cannot place a touch.
        let flat = classify(&settings(), &|c| keys.contains(&c), &|_| Some(Axis { min: 5, max: 5 }));
        assert_eq!(flat, None);
    }

    #[test]
    fn events_become_edges_for_the_decoder() {
        use evdev::{EventType, InputEvent};
        let ev = |t: EventType, code: u16, value: i32| InputEvent::new(t.0, code, value).destructure();
        let axis = Axis { min: 0, max: 1000 };
        let single = Use { keys: vec![(KeyCode::KEY_ENTER.code(), KeyRole::Button)], touch: Some(Touch::Single { x: axis, y: axis }) };
        let mut slot = 0;
        assert_eq!(raw(ev(EventType::KEY, 28, 1), &single, &mut slot), Some(Raw::Key { role: KeyRole::Button, down: true }));
        assert_eq!(raw(ev(EventType::KEY, 28, 2), &single, &mut slot), None, "a key repeat");
        assert_eq!(raw(ev(EventType::KEY, 0x14a, 0), &single, &mut slot), Some(Raw::Touch(false)));
        assert_eq!(raw(ev(EventType::ABSOLUTE, 0, 250), &single, &mut slot), Some(Raw::X(0.25)));
        assert_eq!(raw(ev(EventType::ABSOLUTE, 1, 2000), &single, &mut slot), Some(Raw::Y(1.0)), "clamped");
        assert_eq!(raw(ev(EventType::SYNCHRONIZATION, 0, 0), &single, &mut slot), Some(Raw::Sync));
        let multi = Use { keys: vec![], touch: Some(Touch::Multi { x: axis, y: axis }) };
        assert_eq!(raw(ev(EventType::ABSOLUTE, 0x39, 7), &multi, &mut slot), Some(Raw::Touch(true)));
        assert_eq!(raw(ev(EventType::ABSOLUTE, 0x35, 500), &multi, &mut slot), Some(Raw::X(0.5)));
        // A second finger (slot 1) is not followed.
        assert_eq!(raw(ev(EventType::ABSOLUTE, 0x2f, 1), &multi, &mut slot), None);
        assert_eq!(raw(ev(EventType::ABSOLUTE, 0x35, 900), &multi, &mut slot), None);
        assert_eq!(raw(ev(EventType::ABSOLUTE, 0x39, -1), &multi, &mut slot), None);
        raw(ev(EventType::ABSOLUTE, 0x2f, 0), &multi, &mut slot);
        assert_eq!(raw(ev(EventType::ABSOLUTE, 0x39, -1), &multi, &mut slot), Some(Raw::Touch(false)));
        assert_eq!(raw(ev(EventType::KEY, 28, 1), &multi, &mut slot), None, "not one of its keys");
    }
}
