//! The booth config (`config::Config::load`, `config::check`, `raw::Config::parse`,
//! `Config::from_raw`): the file a USB bundle or an installer brings. `check` must agree with
//! parse + from_raw and with `load`, every problem must say something, and a config it passes
//! must give usable settings (limits, texts, matcher and variety settings) without panicking.
#![no_main]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rolemirror::config::{self, raw, Config};
use rolemirror::usb::bundle::Limits;

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| rolemirror_fuzz::scratch("config").join("rolemirror.toml"))
}

fuzz_target!(|data: &[u8]| {
    let path = file();
    fs::write(path, data).expect("write config");
    let loaded = Config::load(path);
    if let Err(e) = &loaded {
        assert!(!e.problems.is_empty() && e.problems.iter().all(|p| !p.to_string().is_empty()), "{e:?}");
        assert_eq!(&e.path, path);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(loaded.is_err(), "invalid UTF-8 accepted");
        return;
    };
    let problems = config::check(text);
    assert_eq!(problems.is_empty(), loaded.is_ok(), "check {problems:?} vs load {loaded:?}");
    match raw::Config::parse(text) {
        Ok(raw) => {
            let typed = Config::from_raw(&raw);
            assert_eq!(typed.is_ok(), problems.is_empty(), "from_raw {typed:?} vs check {problems:?}");
            if let Ok(c) = typed {
                assert_eq!(Some(&c), loaded.as_ref().ok());
                let limits = Limits::from(&c.usb);
                assert!(limits.max_files >= 1 && limits.max_file_bytes <= limits.max_total_bytes);
                assert!((0.0..=100.0).contains(&c.gallery.variety.margin));
                let _ = (&c.texts, c.gallery.matching);
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(!problems.is_empty());
        }
    }
});
