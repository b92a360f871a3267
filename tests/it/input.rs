//! The visitor's input end to end: real kernel input devices made with uinput (a push button and
//! a touch screen), read by the daemon through evdev while the replay camera shows a visitor.
//!
//! Needs `/dev/uinput` (`modprobe uinput`). A kernel without it (this project's build VM has
//! none) skips the test with a line on stderr, unless `ROLEMIRROR_REQUIRE_UINPUT=1` says it must
//! run (then its absence fails). The guest's `button` and `touch` scenarios drive QEMU's own
//! keyboard and tablet through the same code.

use std::path::{Path, PathBuf};
use std::time::Duration;

use evdev::uinput::VirtualDevice;
use evdev::{AbsInfo, AbsoluteAxisCode, AttributeSet, EventType, InputEvent, KeyCode, PropType, UinputAbsSetup};

use crate::booth::{booth_config, frames, Daemon};
use crate::common::*;

/// Whether uinput is here; without it, says so (or fails when it is required).
fn uinput_here() -> bool {
    if Path::new("/dev/uinput").exists() {
        return true;
    }
    assert!(std::env::var_os("ROLEMIRROR_REQUIRE_UINPUT").is_none(), "ROLEMIRROR_REQUIRE_UINPUT is set but there is no /dev/uinput");
    eprintln!("SKIPPED input::: no /dev/uinput in this kernel (modprobe uinput); the real devices are not tested here");
    false
}

fn button() -> VirtualDevice {
    let mut keys = AttributeSet::<KeyCode>::new();
    keys.insert(KeyCode::KEY_ENTER);
    VirtualDevice::builder().and_then(|b| b.name("rolemirror test button").with_keys(&keys)).and_then(|b| b.build()).expect("uinput button")
}

fn touch_screen() -> VirtualDevice {
    let mut keys = AttributeSet::<KeyCode>::new();
    keys.insert(KeyCode::BTN_TOUCH);
    let mut props = AttributeSet::<PropType>::new();
    props.insert(PropType::DIRECT);
    let axis = |code| UinputAbsSetup::new(code, AbsInfo::new(0, 0, 32767, 0, 0, 0));
    VirtualDevice::builder()
        .and_then(|b| b.name("rolemirror test touch").with_keys(&keys))
        .and_then(|b| b.with_properties(&props))
        .and_then(|b| b.with_absolute_axis(&axis(AbsoluteAxisCode::ABS_X)))
        .and_then(|b| b.with_absolute_axis(&axis(AbsoluteAxisCode::ABS_Y)))
        .and_then(|b| b.build())
        .expect("uinput touch screen")
}

fn key(device: &mut VirtualDevice, down: bool) {
    device.emit(&[InputEvent::new(EventType::KEY.0, KeyCode::KEY_ENTER.code(), i32::from(down))]).expect("emit");
}

/// A tap at `x`, `y` (fractions of the screen).
fn tap(device: &mut VirtualDevice, x: f32, y: f32) {
    let at = |v: f32| (v * 32767.0) as i32;
    device
        .emit(&[
            InputEvent::new(EventType::ABSOLUTE.0, AbsoluteAxisCode::ABS_X.0, at(x)),
            InputEvent::new(EventType::ABSOLUTE.0, AbsoluteAxisCode::ABS_Y.0, at(y)),
            InputEvent::new(EventType::KEY.0, KeyCode::BTN_TOUCH.code(), 1),
        ])
        .expect("emit");
    std::thread::sleep(Duration::from_millis(80));
    device.emit(&[InputEvent::new(EventType::KEY.0, KeyCode::BTN_TOUCH.code(), 0)]).expect("emit");
}

fn result_screens(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("screens"))
        .map_or(0, |d| d.flatten().filter(|e| e.file_name().to_string_lossy().ends_with("-result.png")).count())
}

#[test]
fn a_real_button_and_touch_screen_show_another_match_and_switch_the_language() {
    if !uinput_here() {
        return;
    }
    let (mut button, mut touch) = (button(), touch_screen());
    let tmp = TempDir::new("input-uinput");
    let g = demo_gallery(&tmp);
    // One visitor who stays in front of the camera (a looping replay of their photo).
    let f = tmp.path().join("frames");
    frames(&f, &[tmp.path().join("visitors").join("img30.jpg")], 4, 0);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let config: PathBuf = booth_config(&out, &f, &g, true);
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}[input]\nlong_press_seconds = 0.8\n")).expect("config");
    let mut d = Daemon::start(&config, &[]);
    d.wait_for("event=match", 120);
    // The input thread looks at /dev/input at start and every 2 s.
    std::thread::sleep(Duration::from_millis(2500));
    let before = result_screens(&out);
    // A short press: the second of the visitor's best three.
    key(&mut button, true);
    std::thread::sleep(Duration::from_millis(150));
    key(&mut button, false);
    d.wait_for("event=another_match rank=2 of=3", 10);
    // A long press: Dutch, while the button is still held.
    key(&mut button, true);
    d.wait_for("event=language language=nl", 10);
    key(&mut button, false);
    // A tap on "another match" (bottom left), then on the language (top right).
    tap(&mut touch, 0.05, 0.95);
    d.wait_for("event=another_match rank=3 of=3", 10);
    tap(&mut touch, 0.95, 0.07);
    d.wait_for("event=language language=en", 10);
    // A tap in the middle of the card does nothing; the next press is the booth's pick again.
    tap(&mut touch, 0.5, 0.5);
    key(&mut button, true);
    std::thread::sleep(Duration::from_millis(150));
    key(&mut button, false);
    let line = d.wait_for("event=another_match", 10);
    assert_eq!(line, "event=another_match rank=1 of=3", "the middle of the card was not a tap on anything");
    d.signal(libc::SIGTERM);
    let (status, lines) = d.finish(30);
    assert!(status.success(), "{lines:?}");
    // Every change was drawn: a new result screen for each (PNG screens keep each one).
    assert!(result_screens(&out) >= before + 5, "{} result screens after {before}", result_screens(&out));
    let counters: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("state/counters.json")).expect("counters")).expect("json");
    let day = counters["days"].as_object().and_then(|d| d.values().next()).expect("a day").clone();
    assert_eq!((day["another_match"].as_u64(), day["language"].as_u64()), (Some(3), Some(2)), "{day}");
}
