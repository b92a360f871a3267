//! `bundle.json` and `bundle.sig` as a booth reads them from a stick (`usb::bundle::check_stick`).
//!
//! First byte even: the rest is the manifest, signed here with the trusted fixture key, so the
//! fuzzer reaches the JSON parser and every manifest check behind the signature. Odd: the rest
//! is `bundle.sig` text up to the first NUL, then the manifest (the signature parser and the
//! refusal of unsigned bytes). The stick holds only these two files plus one photo.
#![no_main]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rolemirror::usb::bundle::{self, Limits};

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = rolemirror_fuzz::scratch("bundle-manifest").join(bundle::BUNDLE_DIR);
        fs::create_dir_all(root.join("gallery")).expect("scratch");
        fs::write(root.join("gallery/gallery.toml"), b"x").expect("scratch");
        root
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = rolemirror_fuzz::signing_key();
    let (manifest, sig) = if mode & 1 == 0 {
        (rest, bundle::signature_text(rest, &key).into_bytes())
    } else {
        let cut = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        (
            rest.get(cut + 1..).unwrap_or_default(),
            rest[..cut].to_vec(),
        )
    };
    let root = root();
    fs::write(root.join(bundle::MANIFEST_FILE), manifest).expect("write manifest");
    fs::write(root.join(bundle::SIGNATURE_FILE), &sig).expect("write signature");
    let limits = Limits {
        max_files: 16,
        max_file_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_pixels: 1 << 20,
    };
    match bundle::check_stick(root, &[key.verifying_key()], &limits) {
        Ok(checked) => {
            // Accepted: every listed file is a file on the stick, inside the bundle.
            for f in &checked.manifest.files {
                let src = checked.source(&f.path);
                assert!(
                    src.starts_with(root) && src.is_file(),
                    "{} -> {}",
                    f.path,
                    src.display()
                );
            }
            assert!(checked.manifest.total_size() <= limits.max_total_bytes);
        }
        Err(refusal) => {
            assert!(
                !refusal.0.is_empty() && refusal.0.iter().all(|r| !r.is_empty()),
                "{refusal:?}"
            );
        }
    }
});
