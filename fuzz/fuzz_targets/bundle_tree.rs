//! The stick-tree check (`usb::bundle::check_stick`): a signed manifest listing files, and a
//! directory tree on the stick (files of given sizes, folders, symlinks, FIFOs) built on tmpfs
//! for each input. Accepted bundles must map every listed file to a regular file inside the
//! bundle whose size is the signed one, and never to anything else.
#![no_main]

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rolemirror::usb::bundle::{self, BundleManifest, FileEntry, Limits};

#[derive(Debug, Arbitrary)]
enum Kind {
    File(u8),
    Dir,
    Symlink(bool),
    Fifo,
}

#[derive(Debug, Arbitrary)]
struct Listed {
    path: String,
    size: u64,
    /// Use a well-formed hash (else: the fuzzer's text).
    good_hash: bool,
    hash: String,
}

#[derive(Debug, Arbitrary)]
struct Input {
    format: u32,
    serial: u64,
    listed: Vec<Listed>,
    tree: Vec<(String, Kind)>,
    max_files: u8,
}

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| rolemirror_fuzz::scratch("bundle-tree"))
}

/// `rel` below `base` when it is a plain relative path (the fuzzer must not write elsewhere).
fn inside(base: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    (!rel.is_empty()
        && !rel.contains('\0')
        && rel.len() < 200
        && p.components().all(|c| matches!(c, Component::Normal(_))))
    .then(|| base.join(p))
}

fuzz_target!(|input: Input| {
    let scratch = root();
    rolemirror_fuzz::empty_dir(scratch);
    let root = scratch.join(bundle::BUNDLE_DIR);
    fs::create_dir_all(&root).expect("scratch");
    let manifest = BundleManifest {
        format: input.format % 3,
        created: "2026-11-01T00:00:00Z".into(),
        serial: input.serial,
        signer: "fuzz".into(),
        files: input
            .listed
            .iter()
            .take(32)
            .map(|l| FileEntry {
                path: l.path.clone(),
                sha256: if l.good_hash {
                    "0".repeat(64)
                } else {
                    l.hash.clone()
                },
                size: l.size,
            })
            .collect(),
    };
    let bytes = serde_json::to_vec_pretty(&manifest).expect("serialises");
    let key = rolemirror_fuzz::signing_key();
    fs::write(root.join(bundle::MANIFEST_FILE), &bytes).expect("write manifest");
    fs::write(
        root.join(bundle::SIGNATURE_FILE),
        bundle::signature_text(&bytes, &key),
    )
    .expect("write signature");
    // The tree after the manifest and signature, which no entry can replace (a FIFO in their
    // place would block the harness's own write).
    for (rel, kind) in input.tree.iter().take(32) {
        let Some(p) = inside(&root, rel) else {
            continue;
        };
        if let Some(parent) = p.parent() {
            if fs::create_dir_all(parent).is_err() {
                continue;
            }
        }
        // Nothing is opened through an existing entry: files are created new (O_EXCL does not
        // follow a symlink, nor open a FIFO made by an earlier entry), and the link that leaves
        // the bundle points nowhere, so no input can make the harness write outside it.
        let _ = match kind {
            Kind::File(n) => fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
                .and_then(|mut f| f.write_all(&vec![b'x'; usize::from(*n)])),
            Kind::Dir => fs::create_dir(&p),
            // A link to a file inside the bundle, or out of it (dangling).
            Kind::Symlink(out) => symlink(
                if *out {
                    Path::new("/nonexistent-rolemirror-fuzz/target")
                } else {
                    Path::new("gallery.toml")
                },
                &p,
            ),
            Kind::Fifo => {
                let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("no NUL");
                // SAFETY: a valid C string path; mkfifo only creates a node.
                match unsafe { libc::mkfifo(c.as_ptr(), 0o600) } {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            }
        };
    }
    let limits = Limits {
        max_files: usize::from(input.max_files % 40) + 1,
        max_file_bytes: 200,
        max_total_bytes: 1000,
        max_pixels: 1 << 20,
    };
    match bundle::check_stick(&root, &[key.verifying_key()], &limits) {
        Ok(checked) => {
            assert_eq!(checked.manifest, manifest);
            assert!(
                !checked.manifest.files.is_empty()
                    && checked.manifest.files.len() <= limits.max_files
            );
            assert_eq!(checked.on_stick.len(), checked.manifest.files.len());
            for f in &checked.manifest.files {
                let src = checked.source(&f.path);
                let meta =
                    fs::symlink_metadata(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
                assert!(
                    meta.file_type().is_file(),
                    "{} is not a regular file",
                    src.display()
                );
                assert_eq!(meta.len(), f.size, "{}", f.path);
                let canon = fs::canonicalize(&src).expect("canonical");
                assert!(
                    canon.starts_with(fs::canonicalize(&root).expect("root")),
                    "{} escapes",
                    src.display()
                );
                assert!(
                    f.path.starts_with("gallery/") || f.path == bundle::CONFIG_FILE,
                    "{}",
                    f.path
                );
            }
            assert!(checked.manifest.total_size() <= limits.max_total_bytes);
        }
        Err(refusal) => assert!(
            !refusal.0.is_empty() && refusal.0.iter().all(|r| !r.is_empty()),
            "{refusal:?}"
        ),
    }
});
