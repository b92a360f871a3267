//! Gesture decoding, without I/O: a device's key and touch edges (already sorted into the roles
//! the config gives them, see [`Raw`]) become a visitor's [`Gesture`]s — a short press, a long
//! press, a tap with its place on the screen. Time is passed in (seconds), so the tests below run
//! on a fake clock; the device thread ([`super::devices`]) feeds one [`Decoder`] per device and
//! calls [`Decoder::tick`] between events, so a long press is recognised while the button is
//! still held (the visitor sees the language change without letting go).

use super::{Gesture, TouchMapping};

/// A bounce of a mechanical button (or a GPIO line) changes state again within this many
/// seconds; such edges are ignored. Linux's `gpio-keys` debounces too (5 ms by default), USB
/// encoders do not.
pub const DEBOUNCE: f64 = 0.03;
/// A touch held longer than this (seconds) is not a tap (a visitor leaning on the screen).
pub const TAP_MAX_SECONDS: f64 = 1.0;
/// A touch that moves further than this (a fraction of the screen's width or height) is a swipe
/// or a palm, not a tap.
pub const TAP_SLOP: f32 = 0.06;

/// What a key does for the visitor (from the config's key lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The push button: short press = another match, long press = language.
    Button,
    /// A key that always means "another match" (development keyboards: N).
    Next,
    /// A key that always means "language" (development keyboards: L).
    Language,
}

/// One edge from a device, sorted by role and with positions normalised (0..1 along each of the
/// device's own axes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Raw {
    /// A key went down (`true`) or up. Key repeats are not edges.
    Key { role: KeyRole, down: bool },
    /// The touch contact began (`true`) or ended.
    Touch(bool),
    /// The contact's position along the device's x axis (0..1).
    X(f32),
    /// The contact's position along the device's y axis (0..1).
    Y(f32),
    /// The end of one report: the edges since the last one happened together.
    Sync,
}

/// A contact on the touch surface.
#[derive(Debug, Clone, Copy)]
struct Contact {
    since: f64,
    start: (f32, f32),
    /// The furthest it moved from `start` (in either axis).
    moved: f32,
}

/// The decoding state of one device.
#[derive(Debug, Clone)]
pub struct Decoder {
    long_press: f64,
    mapping: TouchMapping,
    /// When the last accepted key edge came, per role (debounce).
    last_edge: [Option<f64>; 3],
    /// The button is held since then; `fired`: its long press was already given.
    button: Option<(f64, bool)>,
    /// The last reported position, in the device's axes.
    at: (Option<f32>, Option<f32>),
    /// The contact edge of the report in progress.
    touch_edge: Option<bool>,
    contact: Option<Contact>,
}

impl Decoder {
    /// A decoder for a device whose button gives the language after `long_press` seconds, and
    /// whose touches are turned onto the screen with `mapping`.
    pub fn new(long_press: f64, mapping: TouchMapping) -> Decoder {
        Decoder { long_press, mapping, last_edge: [None; 3], button: None, at: (None, None), touch_edge: None, contact: None }
    }

    /// Takes one edge at `now`; the gesture it completes, if any.
    pub fn raw(&mut self, now: f64, raw: Raw) -> Option<Gesture> {
        match raw {
            Raw::Key { role, down } => self.key(now, role, down),
            Raw::Touch(down) => {
                self.touch_edge = Some(down);
                None
            }
            Raw::X(x) => {
                self.at.0 = Some(x);
                None
            }
            Raw::Y(y) => {
                self.at.1 = Some(y);
                None
            }
            Raw::Sync => self.sync(now),
        }
    }

    /// Time passes: a button held for the long-press time gives the language now, once.
    pub fn tick(&mut self, now: f64) -> Option<Gesture> {
        match self.button {
            Some((since, false)) if now - since >= self.long_press => {
                self.button = Some((since, true));
                Some(Gesture::Language)
            }
            _ => None,
        }
    }

    /// When the next [`Decoder::tick`] can give a gesture (a held button's long press), if ever.
    pub fn due(&self) -> Option<f64> {
        match self.button {
            Some((since, false)) => Some(since + self.long_press),
            _ => None,
        }
    }

    fn key(&mut self, now: f64, role: KeyRole, down: bool) -> Option<Gesture> {
        let slot = &mut self.last_edge[role as usize];
        if slot.is_some_and(|t| now - t < DEBOUNCE) {
            return None;
        }
        *slot = Some(now);
        match (role, down) {
            (KeyRole::Next, true) => Some(Gesture::Next),
            (KeyRole::Language, true) => Some(Gesture::Language),
            (KeyRole::Next | KeyRole::Language, false) => None,
            (KeyRole::Button, true) => {
                // A second down without an up (a lost event): the press starts again.
                self.button = Some((now, false));
                None
            }
            (KeyRole::Button, false) => match self.button.take() {
                Some((since, false)) if now - since >= self.long_press => Some(Gesture::Language),
                Some((_, false)) => Some(Gesture::Next),
                // Its long press was given while held; an up without a down is nothing.
                Some((_, true)) | None => None,
            },
        }
    }

    fn sync(&mut self, now: f64) -> Option<Gesture> {
        let edge = self.touch_edge.take();
        let at = match self.at {
            (Some(x), Some(y)) => Some((x, y)),
            _ => None,
        };
        if let (Some(c), Some((x, y))) = (self.contact.as_mut(), at) {
            c.moved = c.moved.max((x - c.start.0).abs()).max((y - c.start.1).abs());
        }
        match edge {
            Some(true) => {
                // A contact without a position yet (none reported since the device was opened)
                // cannot be placed: it is ignored.
                self.contact = at.map(|start| Contact { since: now, start, moved: 0.0 });
                None
            }
            Some(false) => {
                let c = self.contact.take()?;
                (now - c.since <= TAP_MAX_SECONDS && c.moved <= TAP_SLOP).then(|| {
                    let (x, y) = self.mapping.apply(c.start.0, c.start.1);
                    Gesture::Tap { x, y }
                })
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder() -> Decoder {
        Decoder::new(1.5, TouchMapping::default())
    }

    fn button(d: &mut Decoder, now: f64, down: bool) -> Option<Gesture> {
        d.raw(now, Raw::Key { role: KeyRole::Button, down })
    }

    /// Ticks every 50 ms from `from` to `to`, collecting what they give.
    fn ticks(d: &mut Decoder, from: f64, to: f64) -> Vec<(f64, Gesture)> {
        let mut out = Vec::new();
        let mut t = from;
        while t <= to + 1e-9 {
            out.extend(d.tick(t).map(|g| (t, g)));
            t += 0.05;
        }
        out
    }

    #[test]
    fn a_short_press_is_another_match_on_release() {
        let mut d = decoder();
        assert_eq!(button(&mut d, 10.0, true), None, "nothing yet: it may become a long press");
        assert!(ticks(&mut d, 10.0, 10.4).is_empty());
        assert_eq!(button(&mut d, 10.4, false), Some(Gesture::Next));
        assert_eq!(d.due(), None);
    }

    #[test]
    fn a_long_press_is_the_language_while_still_held_and_only_once() {
        let mut d = decoder();
        button(&mut d, 10.0, true);
        assert_eq!(d.due(), Some(11.5));
        let fired = ticks(&mut d, 10.0, 14.0);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].1, Gesture::Language);
        assert!((fired[0].0 - 11.5).abs() < 0.06, "at the long-press time: {}", fired[0].0);
        assert_eq!(button(&mut d, 14.0, false), None, "the release after a long press is nothing");
        // Held past the time with no tick in between (a busy thread): the release gives it.
        button(&mut d, 20.0, true);
        assert_eq!(button(&mut d, 21.6, false), Some(Gesture::Language));
    }

    #[test]
    fn bounces_within_the_debounce_time_are_ignored() {
        let mut d = decoder();
        // A mechanical button: down, up after 5 ms, down again after 10 ms, released 300 ms later.
        assert_eq!(button(&mut d, 1.000, true), None);
        assert_eq!(button(&mut d, 1.005, false), None, "a bounce, not a press");
        assert_eq!(button(&mut d, 1.015, true), None);
        assert_eq!(button(&mut d, 1.300, false), Some(Gesture::Next));
        assert_eq!(button(&mut d, 1.310, true), None, "bounce of the release");
        assert_eq!(button(&mut d, 1.312, false), None);
        // Two real presses in a row are two matches.
        button(&mut d, 2.0, true);
        assert_eq!(button(&mut d, 2.2, false), Some(Gesture::Next));
        button(&mut d, 2.4, true);
        assert_eq!(button(&mut d, 2.6, false), Some(Gesture::Next));
    }

    #[test]
    fn development_keys_act_on_the_press() {
        let mut d = decoder();
        assert_eq!(d.raw(1.0, Raw::Key { role: KeyRole::Next, down: true }), Some(Gesture::Next));
        assert_eq!(d.raw(1.1, Raw::Key { role: KeyRole::Next, down: false }), None);
        assert_eq!(d.raw(1.2, Raw::Key { role: KeyRole::Language, down: true }), Some(Gesture::Language));
        assert_eq!(d.raw(1.3, Raw::Key { role: KeyRole::Language, down: false }), None);
        // The button and the keys do not share a debounce.
        assert_eq!(d.raw(1.31, Raw::Key { role: KeyRole::Next, down: true }), Some(Gesture::Next));
    }

    fn report(d: &mut Decoder, now: f64, raws: &[Raw]) -> Option<Gesture> {
        let mut out = None;
        for r in raws.iter().chain(std::iter::once(&Raw::Sync)) {
            out = out.or(d.raw(now, *r));
        }
        out
    }

    #[test]
    fn a_touch_is_a_tap_where_it_began() {
        let mut d = decoder();
        // The kernel's order within one report varies: the contact before or after its position.
        assert_eq!(report(&mut d, 5.0, &[Raw::Touch(true), Raw::X(0.80), Raw::Y(0.10)]), None);
        assert_eq!(report(&mut d, 5.05, &[Raw::X(0.81)]), None);
        assert_eq!(report(&mut d, 5.1, &[Raw::Touch(false)]), Some(Gesture::Tap { x: 0.80, y: 0.10 }));
        assert_eq!(report(&mut d, 6.0, &[Raw::X(0.2), Raw::Y(0.9), Raw::Touch(true)]), None);
        assert_eq!(report(&mut d, 6.2, &[Raw::Touch(false)]), Some(Gesture::Tap { x: 0.2, y: 0.9 }));
    }

    #[test]
    fn swipes_long_touches_and_unplaced_contacts_are_not_taps() {
        let mut d = decoder();
        report(&mut d, 1.0, &[Raw::Touch(true), Raw::X(0.1), Raw::Y(0.5)]);
        report(&mut d, 1.1, &[Raw::X(0.5)]);
        assert_eq!(report(&mut d, 1.2, &[Raw::Touch(false)]), None, "a swipe");
        report(&mut d, 2.0, &[Raw::Touch(true)]);
        assert_eq!(report(&mut d, 3.5, &[Raw::Touch(false)]), None, "held 1.5 s");
        let mut fresh = decoder();
        report(&mut fresh, 1.0, &[Raw::Touch(true)]);
        assert_eq!(report(&mut fresh, 1.1, &[Raw::Touch(false)]), None, "no position ever reported");
        assert_eq!(report(&mut fresh, 1.2, &[Raw::Touch(false)]), None, "an up without a down");
    }

    #[test]
    fn touches_are_turned_onto_the_screen() {
        let mapped = |m: TouchMapping| {
            let mut d = Decoder::new(1.5, m);
            report(&mut d, 1.0, &[Raw::Touch(true), Raw::X(0.25), Raw::Y(0.1)]);
            report(&mut d, 1.1, &[Raw::Touch(false)])
        };
        let tap = |x: f32, y: f32| Some(Gesture::Tap { x, y });
        assert_eq!(mapped(TouchMapping::default()), tap(0.25, 0.1));
        // The top-left corner of the panel is the top-right of a screen turned 90° clockwise.
        assert_eq!(mapped(TouchMapping { rotation: 90, ..TouchMapping::default() }), tap(0.9, 0.25));
        assert_eq!(mapped(TouchMapping { rotation: 180, ..TouchMapping::default() }), tap(0.75, 0.9));
        assert_eq!(mapped(TouchMapping { rotation: 270, ..TouchMapping::default() }), tap(0.1, 0.75));
        assert_eq!(mapped(TouchMapping { invert_x: true, ..TouchMapping::default() }), tap(0.75, 0.1));
        assert_eq!(mapped(TouchMapping { invert_y: true, ..TouchMapping::default() }), tap(0.25, 0.9));
    }
}
