//! `gallery.toml` as a booth or `gallery build` reads it (`GalleryManifest::load` and
//! `validate`), in a gallery directory with three photos. A manifest that validates must only
//! name unique, well-formed ids and photos that are files inside the gallery.
#![no_main]

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rolemirror::gallery::manifest::{is_contained_relative, GalleryManifest, MANIFEST_FILE};

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = rolemirror_fuzz::scratch("gallery-manifest");
        rolemirror_fuzz::write_fixture_gallery(&dir);
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    fs::write(dir.join(MANIFEST_FILE), data).expect("write manifest");
    let loaded = GalleryManifest::load(dir);
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = GalleryManifest::parse(text);
        assert_eq!(parsed.is_ok(), loaded.is_ok());
    } else {
        let e = loaded.as_ref().expect_err("invalid UTF-8 is refused");
        assert!(format!("{e:#}").contains(MANIFEST_FILE), "{e:#}");
    }
    let Ok(manifest) = loaded else { return };
    let problems = manifest.validate(Some(dir));
    assert!(problems.iter().all(|p| !p.is_empty()));
    let loose = manifest.validate(None);
    assert!(loose.len() <= problems.len(), "{loose:?} vs {problems:?}");
    if problems.is_empty() {
        let mut ids = HashSet::new();
        for rm in &manifest.role_models {
            assert!(ids.insert(rm.id.as_str()), "{} twice", rm.id);
            assert!(!rm.photos.is_empty());
            for p in &rm.photos {
                assert!(is_contained_relative(p) && dir.join(p).is_file(), "{p}");
            }
            let _ = rm.declared_gender();
        }
    }
});
