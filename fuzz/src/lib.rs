//! Fixtures shared by the fuzz targets and the seed generator: a fixed signing key, a scratch
//! directory on tmpfs per process, and a small synthetic gallery whose `index.json` can be made
//! valid (so the staleness check is reached past its hash comparisons).

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rolemirror::vision::EmbedderId;

/// The key the fuzz targets sign manifests with and trust. Fixed, so seeds stay valid.
pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// A scratch directory for this process (on /dev/shm when there is one), created empty.
pub fn scratch(name: &str) -> PathBuf {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("rolemirror-fuzz-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Removes everything inside `dir` (not `dir` itself), never following a symlink.
pub fn empty_dir(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => {
                    let _ = fs::remove_dir_all(&p);
                }
                _ => {
                    let _ = fs::remove_file(&p);
                }
            }
        }
    }
}

/// The fixture gallery's manifest (two role models, three photos, one in a subfolder):
/// `fuzz/fixtures/gallery/`, where `fuzz/seed` finds it too.
pub const FIXTURE_MANIFEST: &str = include_str!("../fixtures/gallery/gallery.toml");

/// The fixture's photos (tiny synthetic images).
pub const FIXTURE_PHOTOS: [(&str, &[u8]); 3] = [
    ("img1.jpg", include_bytes!("../fixtures/gallery/img1.jpg")),
    (
        "more/img2.jpg",
        include_bytes!("../fixtures/gallery/more/img2.jpg"),
    ),
    ("img3.png", include_bytes!("../fixtures/gallery/img3.png")),
];

/// The embedder the fixture index is checked against (the default embedder's id and shape).
pub fn fixture_embedder() -> EmbedderId {
    EmbedderId {
        id: "faceplugin-mfn512-int8".into(),
        sha256: "ab".repeat(32),
        dim: 4,
        appearance: Some("503".into()),
    }
}

/// Writes the fixture gallery into `dir`.
pub fn write_fixture_gallery(dir: &Path) {
    fs::create_dir_all(dir.join("more")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    fs::write(dir.join("gallery.toml"), FIXTURE_MANIFEST).unwrap_or_else(|e| panic!("{e}"));
    for (name, bytes) in FIXTURE_PHOTOS {
        fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("{e}"));
    }
}
