//! The booth config (`config::Config::load`, `check`, `parse`, `validate`): the file a USB
//! bundle or an installer brings. `check` must agree with `parse` + `validate`, and a config it
//! passes must be usable (limits, texts, matcher settings) without panicking.
#![no_main]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rolemirror::config::Config;

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| rolemirror_fuzz::scratch("config").join("rolemirror.toml"))
}

fuzz_target!(|data: &[u8]| {
    let path = file();
    fs::write(path, data).expect("write config");
    let loaded = Config::load(path);
    if let Err(e) = &loaded {
        assert!(
            !e.problems.is_empty() && e.problems.iter().all(|p| !p.is_empty()),
            "{e:?}"
        );
        assert_eq!(&e.path, path);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        assert!(loaded.is_err(), "invalid UTF-8 accepted");
        return;
    };
    let problems = Config::check(text);
    assert_eq!(
        problems.is_empty(),
        loaded.is_ok(),
        "check {problems:?} vs load {loaded:?}"
    );
    match Config::parse(text) {
        Ok(config) => {
            let v = config.validate();
            assert_eq!(
                v.is_empty(),
                problems.is_empty(),
                "validate {v:?} vs check {problems:?}"
            );
            if v.is_empty() {
                assert_eq!(Some(&config), loaded.as_ref().ok());
                let limits = config.usb.limits();
                assert!(limits.max_files >= 1 && limits.max_file_bytes <= limits.max_total_bytes);
                let _ = (config.texts(), config.gallery.matching());
            }
        }
        Err(e) => {
            assert!(!e.is_empty());
            assert!(!problems.is_empty());
        }
    }
});
