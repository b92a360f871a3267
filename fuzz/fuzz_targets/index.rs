//! `index.json` as a booth reads it at start (`Index::read`, `Index::staleness`) in a gallery
//! directory whose fresh index the seeds hold; a fresh index then feeds `Gallery::from_parts`
//! and a match. A fresh index must only point at files inside the gallery with well-formed
//! vectors; a corrupt one must be an error, never a panic or a hang.
#![no_main]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rolemirror::gallery::index::{Index, INDEX_FILE};
use rolemirror::gallery::manifest::is_contained_relative;
use rolemirror::gallery::{Gallery, GalleryManifest};
use rolemirror::vision::embed::FaceCode;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = rolemirror_fuzz::scratch("index");
        rolemirror_fuzz::write_fixture_gallery(&dir);
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = dir();
    fs::write(dir.join(INDEX_FILE), data).expect("write index");
    let index = match Index::read(dir) {
        Ok(Some(index)) => index,
        Ok(None) => panic!("index.json is there"),
        Err(e) => {
            assert!(format!("{e:#}").contains(INDEX_FILE), "{e:#}");
            return;
        }
    };
    let embedder = rolemirror_fuzz::fixture_embedder();
    if let Some(why) = index.staleness(dir, &embedder) {
        // `fuzz/seed` checks that its fresh seed is fresh for this fixture.
        assert!(
            std::env::var_os("ROLEMIRROR_FUZZ_EXPECT_FRESH").is_none(),
            "stale: {why}"
        );
        assert!(!why.is_empty());
        return;
    }
    for p in &index.photos {
        assert!(is_contained_relative(&p.file), "{}", p.file);
        assert_eq!(p.embedding.len(), embedder.dim);
        assert!(p.embedding.iter().all(|v| v.is_finite()));
    }
    let manifest =
        GalleryManifest::parse(rolemirror_fuzz::FIXTURE_MANIFEST).expect("fixture parses");
    let gallery = Gallery::from_parts(dir, manifest, index);
    let face = FaceCode {
        identity: vec![0.5; embedder.dim],
        appearance: Some(vec![0.5; 3]),
    };
    for m in gallery.top_k(&face, 3) {
        assert!(m.percent <= 100, "{}", m.percent);
    }
});
