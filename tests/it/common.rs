//! Shared fixtures: the fetched models, the read-only `../shared` material, temp dirs.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rolemirror::models::{model_dir, Manifest};
use rolemirror::vision::{Vision, VisionOptions};

/// Runs the built `rolemirror` binary with the fetched models, from the repository root.
pub fn rolemirror(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rolemirror"))
        .args(args)
        .env("ROLEMIRROR_MODELS", models())
        .current_dir(root())
        .output()
        .expect("binary runs")
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the checkout (or $ROLEMIRROR_SHARED).
pub fn shared() -> PathBuf {
    std::env::var_os("ROLEMIRROR_SHARED").map(PathBuf::from).unwrap_or_else(|| root().join("../shared"))
}

/// The model directory the tests use: $ROLEMIRROR_MODELS or the checkout's `models/`.
pub fn models() -> PathBuf {
    let explicit = std::env::var_os("ROLEMIRROR_MODELS").map(PathBuf::from);
    model_dir(Some(&explicit.unwrap_or_else(|| root().join("models"))))
}

/// Loads a pipeline with this embedder (None: default). Panics with the fix if models are missing.
pub fn vision(embedder: Option<&str>) -> Vision {
    let manifest = Manifest::builtin().expect("manifest");
    let opts = VisionOptions { embedder: embedder.map(str::to_string), ..Default::default() };
    Vision::load(&models(), &manifest, &opts)
        .unwrap_or_else(|e| panic!("{e:#}\n(run `cargo run --release -- models fetch --mirror ../shared/models` first)"))
}

/// The default pipeline, loaded once per test binary.
pub fn default_vision() -> &'static Vision {
    static V: OnceLock<Vision> = OnceLock::new();
    V.get_or_init(|| vision(None))
}

/// The golden file.
pub fn goldens() -> serde_json::Value {
    let path = shared().join("reference/goldens.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("goldens parse")
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("rolemirror-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    rolemirror::vision::embed::cosine(a, b)
}

/// A JSON array of numbers as f32s.
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
}

/// The demo data (`gallery/` with its index built, and `visitors/`), assembled once per test run
/// under `target/it-fixtures/demo` from `../shared/data` (later runs reuse the cached embeddings).
pub fn demo_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = root().join("target/it-fixtures/demo");
        let gallery = rolemirror::demo::data::fetch(&shared().join("data"), &dir).expect("demo fetch from ../shared/data");
        let (g, _) = rolemirror::gallery::Gallery::open_or_build(&gallery, default_vision(), |_, _| {}).expect("demo gallery builds");
        assert_eq!(g.role_models.len(), 12, "every demo role model has a usable photo");
        dir
    })
}

/// A copy of the demo data in `tmp` (`tmp/gallery` with its index, `tmp/visitors`), for a test
/// that may change it; returns the gallery folder.
pub fn demo_gallery(tmp: &TempDir) -> PathBuf {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read fixture").flatten() {
            if e.file_type().expect("file type").is_dir() {
                copy_dir(&e.path(), &to.join(e.file_name())); // the index's prepared portraits
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).expect("copy fixture");
            }
        }
    }
    for part in ["gallery", "visitors"] {
        copy_dir(&demo_dir().join(part), &tmp.path().join(part));
    }
    tmp.path().join("gallery")
}
