//! The KMS backend's decisions, without I/O: which output and mode to show on, when to look at
//! the outputs again, what a change or a lost output means, and the page-flip counts. The
//! device code ([`super`]) reads the card, hands what it read to these functions with the time,
//! and carries out what they return; the tests drive them on a fake clock, as
//! `service::core` is tested.
//!
//! Hot-plug is followed by polling, not by uevents: the daemon may open no netlink socket (its
//! unit allows AF_UNIX only). While an output shows, its state is read from the kernel's cache
//! every [`Watch::QUICK_EVERY`] (cheap: the kernel keeps it current from the hot-plug interrupt
//! or its own output polling; no EDID read, no flicker); while the screen is dark, every
//! [`Watch::FULL_EVERY`] a full probe asks the outputs themselves (a monitor plugged in late).

use std::fmt;

/// One mode of an output, as the card lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeInfo {
    pub width: u32,
    pub height: u32,
    /// Refresh rate in Hz.
    pub refresh: u32,
    /// The mode the display itself prefers (its native resolution).
    pub preferred: bool,
}

/// Whether something is plugged into an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connected,
    Disconnected,
    /// The driver cannot tell (some composite and virtual outputs).
    Unknown,
}

/// One output (a DRM connector) as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputInfo {
    /// The kernel's name: `HDMI-A-1`, `DSI-1`, `Virtual-1`.
    pub name: String,
    pub link: Link,
    pub modes: Vec<ModeInfo>,
    /// Whether a CRTC (a scan-out engine) can drive it.
    pub has_crtc: bool,
}

/// What the configuration asks for (`display.connector`, `display.mode`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wish {
    pub connector: Option<String>,
    pub mode: Option<(u32, u32)>,
}

/// An output and a mode to show on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Index into the outputs read.
    pub output: usize,
    pub name: String,
    /// Index into that output's modes.
    pub mode: usize,
    pub width: u32,
    pub height: u32,
    pub refresh: u32,
    /// Why the wish could not be followed exactly (for the log).
    pub note: Option<String>,
}

impl Choice {
    /// `HDMI-A-1 1920x1080@60`.
    pub fn describe(&self) -> String {
        format!("{} {}x{}@{}", self.name, self.width, self.height, self.refresh)
    }

    fn same_picture(&self, other: &Choice) -> bool {
        (self.name.as_str(), self.width, self.height, self.refresh) == (other.name.as_str(), other.width, other.height, other.refresh)
    }
}

/// Why no output can be shown on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoOutput {
    /// The card has no output at all (a render-only card such as the Pi's v3d).
    NoOutputs,
    /// Nothing is connected; the outputs by name.
    NoneConnected { outputs: Vec<String> },
    /// `display.connector` names an output that is not connected (or does not exist).
    NamedNotConnected { name: String, outputs: Vec<String>, connected: Vec<String> },
}

impl fmt::Display for NoOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoOutput::NoOutputs => write!(f, "the card has no display outputs (a render-only card)"),
            NoOutput::NoneConnected { outputs } => write!(f, "no display connected (outputs: {})", outputs.join(", ")),
            NoOutput::NamedNotConnected { name, outputs, connected } if !outputs.contains(name) => {
                write!(f, "display.connector = {name:?}: the card has no such output (it has {})", outputs.join(", "))
            }
            NoOutput::NamedNotConnected { name, connected, .. } if connected.is_empty() => {
                write!(f, "display.connector = {name:?}: nothing is connected to it (nor to any other output)")
            }
            NoOutput::NamedNotConnected { name, connected, .. } => write!(
                f,
                "display.connector = {name:?}: nothing is connected to it (connected: {}; empty display.connector takes the first)",
                connected.join(", ")
            ),
        }
    }
}

fn usable(o: &OutputInfo) -> bool {
    o.has_crtc && !o.modes.is_empty() && o.link != Link::Disconnected
}

/// The output and mode to show on: the named output, or the first connected one (one whose
/// state is unknown only when none says connected, as the kernel's own console does); the
/// wished mode size (its preferred variant, else the highest refresh), or the output's
/// preferred mode — also when the wished size is not offered, with a note saying so.
pub fn choose(outputs: &[OutputInfo], wish: &Wish) -> Result<Choice, NoOutput> {
    if outputs.is_empty() {
        return Err(NoOutput::NoOutputs);
    }
    let names = || outputs.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
    let connected = || outputs.iter().filter(|o| o.link == Link::Connected && usable(o)).map(|o| o.name.clone()).collect::<Vec<_>>();
    let index = match &wish.connector {
        Some(name) => outputs.iter().position(|o| o.name.eq_ignore_ascii_case(name) && usable(o)),
        None => outputs.iter().position(|o| o.link == Link::Connected && usable(o)).or_else(|| outputs.iter().position(usable)),
    };
    let Some(index) = index else {
        return Err(match &wish.connector {
            Some(name) => NoOutput::NamedNotConnected { name: name.clone(), outputs: names(), connected: connected() },
            None => NoOutput::NoneConnected { outputs: names() },
        });
    };
    let output = &outputs[index];
    let preferred = output.modes.iter().position(|m| m.preferred).unwrap_or(0);
    let (mode, note) = match wish.mode {
        None => (preferred, None),
        Some((w, h)) => {
            let fits = |m: &&ModeInfo| (m.width, m.height) == (w, h);
            let best =
                output.modes.iter().enumerate().filter(|(_, m)| fits(m)).max_by_key(|(_, m)| (m.preferred, m.refresh)).map(|(i, _)| i);
            match best {
                Some(i) => (i, None),
                None => {
                    let mut sizes: Vec<String> = output.modes.iter().map(|m| format!("{}x{}", m.width, m.height)).collect();
                    sizes.dedup();
                    let p = &output.modes[preferred];
                    let note = format!(
                        "display.mode = \"{w}x{h}\": {} does not offer it (it offers {}); showing its preferred {}x{}",
                        output.name,
                        sizes.join(", "),
                        p.width,
                        p.height
                    );
                    (preferred, Some(note))
                }
            }
        }
    };
    let m = &output.modes[mode];
    Ok(Choice { output: index, name: output.name.clone(), mode, width: m.width, height: m.height, refresh: m.refresh, note })
}

/// How the outputs are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The kernel's cached state (cheap, no flicker).
    Quick,
    /// A forced probe of every output (EDID read: slow, may flicker; only while dark).
    Full,
}

/// What the device code does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Set this output and mode (a first picture, one plugged in again, or another one).
    Show(Choice),
    /// The output is gone: stop flipping, keep the card, look for an output with full checks.
    Dark(String),
}

/// Where the screen is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Nothing shown; `why` as last logged.
    Dark {
        why: String,
    },
    Showing(Choice),
}

/// The hot-plug policy: when to read the outputs, what a change means.
#[derive(Debug, Clone)]
pub struct Watch {
    state: State,
    /// When the next check is due (seconds on the caller's clock).
    next: f64,
    /// When the flip counts are logged next.
    next_log: f64,
}

impl Watch {
    /// Seconds between cached-state reads while an output shows.
    pub const QUICK_EVERY: f64 = 1.0;
    /// Seconds between full probes while dark.
    pub const FULL_EVERY: f64 = 2.0;
    /// Seconds between two logs of the flip counts while showing.
    pub const LOG_EVERY: f64 = 600.0;

    /// Dark, a full check due at `now`.
    pub fn new(now: f64) -> Watch {
        Watch { state: State::Dark { why: "starting".into() }, next: now, next_log: now + Self::LOG_EVERY }
    }

    /// The output shown, if any.
    pub fn showing(&self) -> Option<&Choice> {
        match &self.state {
            State::Showing(c) => Some(c),
            State::Dark { .. } => None,
        }
    }

    /// The check due at `now`, if one is.
    pub fn due(&self, now: f64) -> Option<Check> {
        if now < self.next {
            return None;
        }
        Some(match self.state {
            State::Showing(_) => Check::Quick,
            State::Dark { .. } => Check::Full,
        })
    }

    /// Takes the outputs read at `now` with `check`: what to do (None: nothing changed).
    pub fn seen(&mut self, now: f64, check: Check, outputs: &[OutputInfo], wish: &Wish) -> Option<Action> {
        match &self.state {
            State::Showing(shown) => {
                self.next = now + Self::QUICK_EVERY;
                let still = outputs.iter().find(|o| o.name == shown.name);
                match still {
                    Some(o) if o.link != Link::Disconnected => {
                        // A full read (after a failure) may find the wish better met or the
                        // monitor changed; a quick one only says it is still there.
                        if check == Check::Full {
                            if let Ok(choice) = choose(outputs, wish) {
                                if !choice.same_picture(shown) {
                                    return Some(Action::Show(choice));
                                }
                            }
                        }
                        None
                    }
                    _ => {
                        let why = format!("{} disconnected", shown.name);
                        // A full probe right away: it may be back, or another one there.
                        Some(self.dark(now, why))
                    }
                }
            }
            State::Dark { why } => {
                if check == Check::Quick {
                    // Dark screens are looked at with full probes only.
                    self.next = now;
                    return None;
                }
                match choose(outputs, wish) {
                    Ok(choice) => {
                        self.next = now + Self::FULL_EVERY;
                        Some(Action::Show(choice))
                    }
                    Err(e) => {
                        let e = e.to_string();
                        // Said once per reason, not every two seconds.
                        let action = (e != *why).then(|| self.dark(now, e));
                        self.next = now + Self::FULL_EVERY;
                        action
                    }
                }
            }
        }
    }

    /// The device code set `choice` at `now`.
    pub fn shown(&mut self, now: f64, choice: Choice) {
        self.state = State::Showing(choice);
        self.next = now + Self::QUICK_EVERY;
    }

    /// Setting a mode or flipping failed at `now` (a flip that never completes, an output the
    /// driver took away): dark, and a full probe right away.
    pub fn failed(&mut self, now: f64, why: String) -> Action {
        self.dark(now, why)
    }

    fn dark(&mut self, now: f64, why: String) -> Action {
        self.state = State::Dark { why: why.clone() };
        self.next = now;
        Action::Dark(why)
    }

    /// Whether the flip counts are due to be logged at `now` (then not again for a while).
    pub fn log_due(&mut self, now: f64) -> bool {
        if now >= self.next_log {
            self.next_log = now + Self::LOG_EVERY;
            return true;
        }
        false
    }
}

/// What the screen did with the frames it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Frames drawn into a buffer and queued for a flip.
    pub presented: u64,
    /// Page flips the kernel reported done (on vblank).
    pub flipped: u64,
    /// Frames not shown: no output.
    pub dark: u64,
    /// Flips the kernel refused or never completed (shown by a mode set instead, or lost).
    pub failed: u64,
    /// Outputs set (the first one, one plugged in again, another mode).
    pub modesets: u64,
}

impl Counts {
    /// The log line the guest scenario reads: `frames=N flips=N flips_per_frame=R dark=N failed=N modesets=N`.
    pub fn line(&self) -> String {
        let per = if self.presented == 0 { 0.0 } else { self.flipped as f64 / self.presented as f64 };
        format!(
            "frames={} flips={} flips_per_frame={per:.3} dark={} failed={} modesets={}",
            self.presented, self.flipped, self.dark, self.failed, self.modesets
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(width: u32, height: u32, refresh: u32, preferred: bool) -> ModeInfo {
        ModeInfo { width, height, refresh, preferred }
    }

    fn hdmi(n: u32, link: Link) -> OutputInfo {
        OutputInfo {
            name: format!("HDMI-A-{n}"),
            link,
            // As a monitor lists them: not the preferred one first.
            modes: vec![mode(1280, 720, 60, false), mode(1920, 1080, 50, false), mode(1920, 1080, 60, true), mode(1920, 1080, 75, false)],
            has_crtc: true,
        }
    }

    fn dsi() -> OutputInfo {
        OutputInfo { name: "DSI-1".into(), link: Link::Connected, modes: vec![mode(720, 1280, 60, true)], has_crtc: true }
    }

    fn wish(connector: Option<&str>, mode: Option<(u32, u32)>) -> Wish {
        Wish { connector: connector.map(str::to_string), mode }
    }

    #[test]
    fn the_first_connected_output_in_its_preferred_mode() {
        let outputs = [hdmi(1, Link::Disconnected), hdmi(2, Link::Connected), dsi()];
        let c = choose(&outputs, &Wish::default()).expect("chosen");
        assert_eq!((c.output, c.describe(), c.note), (1, "HDMI-A-2 1920x1080@60".to_string(), None));
        // A monitor with no preferred flag: its first mode.
        let mut plain = hdmi(1, Link::Connected);
        plain.modes.iter_mut().for_each(|m| m.preferred = false);
        assert_eq!(choose(&[plain], &Wish::default()).map(|c| (c.width, c.height)), Ok((1280, 720)));
    }

    #[test]
    fn a_named_output_and_a_wished_mode() {
        let outputs = [hdmi(1, Link::Connected), dsi()];
        let c = choose(&outputs, &wish(Some("dsi-1"), None)).expect("named (any case)");
        assert_eq!(c.describe(), "DSI-1 720x1280@60");
        // 1920x1080 is offered at 50, 60 (preferred) and 75 Hz: the preferred one.
        assert_eq!(choose(&outputs, &wish(None, Some((1920, 1080)))).map(|c| c.refresh), Ok(60));
        let c = choose(&outputs, &wish(Some("HDMI-A-1"), Some((1280, 720)))).expect("offered");
        assert_eq!((c.mode, c.note), (0, None));
        // Not offered: the preferred mode, and the log says why.
        let c = choose(&outputs, &wish(None, Some((800, 480)))).expect("falls back");
        assert_eq!((c.width, c.height), (1920, 1080));
        let note = c.note.expect("a note");
        assert!(
            note.contains("display.mode = \"800x480\"") && note.contains("1280x720, 1920x1080") && note.contains("preferred"),
            "{note}"
        );
    }

    #[test]
    fn why_nothing_can_be_shown_names_the_outputs() {
        assert_eq!(choose(&[], &Wish::default()), Err(NoOutput::NoOutputs));
        let off = [hdmi(1, Link::Disconnected), hdmi(2, Link::Disconnected)];
        let e = choose(&off, &Wish::default()).expect_err("none");
        assert_eq!(e.to_string(), "no display connected (outputs: HDMI-A-1, HDMI-A-2)");
        let e = choose(&[hdmi(1, Link::Connected), hdmi(2, Link::Disconnected)], &wish(Some("HDMI-A-2"), None)).expect_err("named off");
        assert!(e.to_string().contains("\"HDMI-A-2\": nothing is connected to it (connected: HDMI-A-1"), "{e}");
        let e = choose(&off, &wish(Some("DP-1"), None)).expect_err("no such");
        assert!(e.to_string().contains("no such output (it has HDMI-A-1, HDMI-A-2)"), "{e}");
        // An output with no CRTC that can drive it, or no modes, is not usable.
        let mut stuck = hdmi(1, Link::Connected);
        stuck.has_crtc = false;
        let mut empty = hdmi(2, Link::Connected);
        empty.modes.clear();
        assert!(matches!(choose(&[stuck, empty], &Wish::default()), Err(NoOutput::NoneConnected { .. })));
    }

    #[test]
    fn an_unknown_link_is_used_only_when_nothing_says_connected() {
        let mut composite = hdmi(1, Link::Unknown);
        composite.name = "Composite-1".into();
        let outputs = [composite.clone(), dsi()];
        assert_eq!(choose(&outputs, &Wish::default()).map(|c| c.name), Ok("DSI-1".to_string()));
        assert_eq!(choose(&[composite], &Wish::default()).map(|c| c.name), Ok("Composite-1".to_string()));
    }

    /// A monitor plugged in late, pulled out, and plugged in again, on a fake clock: the checks
    /// come when due (quick while showing, full while dark), each change gives one action, and a
    /// screen that stays dark is not reported again every two seconds.
    #[test]
    fn hot_plug_on_a_fake_clock() {
        let w = Wish::default();
        let mut watch = Watch::new(10.0);
        assert_eq!(watch.due(9.0), None);
        assert_eq!(watch.due(10.0), Some(Check::Full));
        // Nothing plugged in at start: dark, said once.
        let none = [hdmi(1, Link::Disconnected)];
        assert!(matches!(watch.seen(10.0, Check::Full, &none, &w), Some(Action::Dark(why)) if why.contains("no display connected")));
        assert_eq!(watch.due(11.0), None);
        assert_eq!(watch.due(12.0), Some(Check::Full));
        assert_eq!(watch.seen(12.0, Check::Full, &none, &w), None, "the same reason is not logged again");
        // Plugged in: shown.
        let on = [hdmi(1, Link::Connected)];
        let Some(Action::Show(choice)) = watch.seen(14.0, Check::Full, &on, &w) else { panic!("shown") };
        assert_eq!(choice.describe(), "HDMI-A-1 1920x1080@60");
        watch.shown(14.1, choice.clone());
        assert_eq!(watch.showing(), Some(&choice));
        // While showing: quick checks every second, nothing to do while it stays.
        assert_eq!(watch.due(15.0), None);
        assert_eq!(watch.due(15.1), Some(Check::Quick));
        assert_eq!(watch.seen(15.1, Check::Quick, &on, &w), None);
        // Pulled out: dark, and a full probe right away.
        assert_eq!(watch.seen(16.1, Check::Quick, &none, &w), Some(Action::Dark("HDMI-A-1 disconnected".into())));
        assert_eq!(watch.showing(), None);
        assert_eq!(watch.due(16.1), Some(Check::Full));
        assert!(matches!(watch.seen(16.1, Check::Full, &none, &w), Some(Action::Dark(_))));
        assert_eq!(watch.due(17.0), None);
        // Back, with another monitor (a portrait DSI panel named by nobody): shown at its size.
        let Some(Action::Show(again)) = watch.seen(18.1, Check::Full, &[hdmi(1, Link::Disconnected), dsi()], &w) else { panic!("back") };
        assert_eq!((again.width, again.height), (720, 1280));
    }

    #[test]
    fn a_failed_flip_means_dark_and_a_full_probe_that_sets_the_output_again() {
        let w = Wish::default();
        let on = [hdmi(1, Link::Connected)];
        let mut watch = Watch::new(0.0);
        let Some(Action::Show(c)) = watch.seen(0.0, Check::Full, &on, &w) else { panic!("shown") };
        watch.shown(0.0, c.clone());
        assert_eq!(
            watch.failed(5.0, "page flip not completed within 1 s".into()),
            Action::Dark("page flip not completed within 1 s".into())
        );
        assert_eq!(watch.due(5.0), Some(Check::Full));
        assert_eq!(watch.seen(5.0, Check::Full, &on, &w), Some(Action::Show(c.clone())), "the same output, set again");
        // A full read while showing the same picture changes nothing; another mode does.
        watch.shown(5.1, c.clone());
        assert_eq!(watch.seen(6.1, Check::Full, &on, &w), None);
        let mut other = hdmi(1, Link::Connected);
        other.modes = vec![mode(3840, 2160, 30, true)];
        assert!(matches!(watch.seen(7.1, Check::Full, &[other], &w), Some(Action::Show(c)) if c.width == 3840));
    }

    #[test]
    fn flip_counts_and_their_log_line() {
        let mut watch = Watch::new(0.0);
        assert!(!watch.log_due(1.0));
        assert!(watch.log_due(Watch::LOG_EVERY));
        assert!(!watch.log_due(Watch::LOG_EVERY + 1.0));
        let c = Counts { presented: 200, flipped: 200, dark: 3, failed: 0, modesets: 2 };
        assert_eq!(c.line(), "frames=200 flips=200 flips_per_frame=1.000 dark=3 failed=0 modesets=2");
        assert_eq!(Counts::default().line(), "frames=0 flips=0 flips_per_frame=0.000 dark=0 failed=0 modesets=0");
    }
}
