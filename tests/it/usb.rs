//! USB updates with real parts: keys and bundles from the CLI, FAT images made with
//! mkfs.vfat + mtools and mounted with fusefat (FUSE) under the booth's mount root, the daemon
//! importing from them, and the process killed at many points of an import.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::booth::{booth_config, frames, Daemon};
use crate::common::*;
use rolemirror::gallery::Gallery;
use rolemirror::usb::bundle;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rolemirror"))
}

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().expect("runs");
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

pub(crate) struct Keys {
    pub(crate) private: PathBuf,
    pub(crate) public: PathBuf,
    /// A directory holding only `public` (the booth's usb.trusted_keys).
    pub(crate) trusted: PathBuf,
}

pub(crate) fn keys(dir: &Path, name: &str) -> Keys {
    let (code, text) = run(bin().args(["keygen", "--out"]).arg(dir).args(["--name", name]));
    assert_eq!(code, 0, "{text}");
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let mode = std::fs::metadata(&private).expect("private key").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "private key mode {mode:o}");
    let trusted = dir.join(format!("{name}-trusted"));
    std::fs::create_dir_all(&trusted).expect("mkdir");
    std::fs::copy(&public, trusted.join(format!("{name}.pub"))).expect("copy");
    Keys { private, public, trusted }
}

/// A gallery of `(id, photo)` from the demo gallery's photos.
pub(crate) fn small_gallery(dir: &Path, demo: &Path, entries: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut toml = String::new();
    for (id, photo) in entries {
        std::fs::copy(demo.join(photo), dir.join(photo)).expect("copy photo");
        toml += &format!("[[role_model]]\nid = \"{id}\"\nname = \"Name {id}\"\nrole = \"Role\"\nstory_url = \"https://example.org/{id}\"\nphotos = [\"{photo}\"]\n\n");
    }
    std::fs::write(dir.join("gallery.toml"), toml).expect("write");
    dir.to_path_buf()
}

/// `bundle create` into `out` (a folder standing for the stick's content).
pub(crate) fn create(out: &Path, gallery: Option<&Path>, config: Option<&Path>, key: &Path, serial: u64) -> PathBuf {
    let mut cmd = bin();
    cmd.args(["bundle", "create", "--key"]).arg(key).args(["--serial", &serial.to_string(), "--out"]).arg(out);
    if let Some(g) = gallery {
        cmd.arg("--gallery").arg(g);
    }
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let (code, text) = run(&mut cmd);
    assert_eq!(code, 0, "{text}");
    out.join(bundle::BUNDLE_DIR)
}

/// Edits a bundle's manifest and signs it again with `key` (a signer's own mistakes).
fn resign(root: &Path, key: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(root.join(bundle::MANIFEST_FILE)).expect("read")).expect("json");
    edit(&mut m);
    let bytes = serde_json::to_vec_pretty(&m).expect("json");
    std::fs::write(root.join(bundle::MANIFEST_FILE), &bytes).expect("write");
    let k = bundle::read_signing_key(key).expect("key");
    std::fs::write(root.join(bundle::SIGNATURE_FILE), bundle::signature_text(&bytes, &k)).expect("write");
}

/// Adds a file to a bundle's manifest (and the stick), signed.
fn add_signed(root: &Path, key: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, bytes).expect("write");
    let entry = serde_json::json!({"path": rel, "sha256": rolemirror::util::sha256_bytes(bytes), "size": bytes.len()});
    resign(root, key, |m| m["files"].as_array_mut().expect("files").push(entry));
}

/// Replaces a file of a bundle (and its manifest entry), signed.
fn replace_signed(root: &Path, key: &Path, rel: &str, bytes: &[u8]) {
    std::fs::write(root.join(rel), bytes).expect("write");
    resign(root, key, |m| {
        for f in m["files"].as_array_mut().expect("files") {
            if f["path"] == rel {
                f["sha256"] = rolemirror::util::sha256_bytes(bytes).into();
                f["size"] = bytes.len().into();
            }
        }
    });
}

fn fuse_works() -> bool {
    Path::new("/dev/fuse").exists() && Command::new("fusefat").arg("-h").output().is_ok()
}

/// A real FAT filesystem image holding a stick's content, "plugged in" at `MEDIA/NAME`: mounted
/// with fusefat where FUSE works, else its content read out with mtools into that folder.
pub(crate) struct FatStick {
    image: PathBuf,
    mount: PathBuf,
    fuse: Option<Child>,
}

impl FatStick {
    /// `content` holds ROLEMIRROR/; `patch` may edit the raw image bytes (FAT-level cases).
    pub(crate) fn new(content: &Path, image: &Path, mount: &Path, patch: impl FnOnce(&mut Vec<u8>)) -> FatStick {
        let _ = std::fs::remove_file(image);
        let (code, text) = run(Command::new("mkfs.vfat").args(["-C", "-n", "STICK"]).arg(image).arg("65536"));
        assert_eq!(code, 0, "mkfs.vfat (apt-get install dosfstools): {text}");
        let (code, text) = run(Command::new("mcopy").args(["-s", "-i"]).arg(image).arg(content.join(bundle::BUNDLE_DIR)).arg("::/"));
        assert_eq!(code, 0, "mcopy (apt-get install mtools): {text}");
        let mut bytes = std::fs::read(image).expect("image");
        patch(&mut bytes);
        std::fs::write(image, &bytes).expect("image");
        let mut stick = FatStick { image: image.to_path_buf(), mount: mount.to_path_buf(), fuse: None };
        stick.plug();
        stick
    }

    fn plug(&mut self) {
        // Mount in a hidden folder first and move it into place: the booth sees a complete stick.
        std::fs::create_dir_all(&self.mount).expect("mkdir");
        if fuse_works() {
            let child = Command::new("fusefat")
                .args(["-f", "-o", "rw+"])
                .arg(&self.image)
                .arg(&self.mount)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("fusefat runs (apt-get install fusefat)");
            self.fuse = Some(child);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !self.mount.join(bundle::BUNDLE_DIR).exists() {
                assert!(Instant::now() < deadline, "fusefat did not mount {}", self.image.display());
                std::thread::sleep(Duration::from_millis(20));
            }
        } else {
            eprintln!("FUSE unavailable: reading the FAT image with mtools into {}", self.mount.display());
            let (code, text) = run(Command::new("mcopy").args(["-s", "-n", "-i"]).arg(&self.image).arg("::/ROLEMIRROR").arg(&self.mount));
            assert_eq!(code, 0, "{text}");
        }
    }

    /// Pulled out: the filesystem's process dies, every access fails.
    fn pull(&mut self) {
        if let Some(mut c) = self.fuse.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub(crate) fn unplug(&mut self) {
        if let Some(mut c) = self.fuse.take() {
            // A scan by the booth may hold the mount for a moment: retry, then detach lazily.
            for attempt in 0..20 {
                let quiet = |c: &mut Command| c.stderr(Stdio::null()).status().is_ok_and(|s| s.success());
                if quiet(Command::new("fusermount").arg("-u").arg(&self.mount)) {
                    break;
                }
                if attempt == 19 {
                    quiet(Command::new("fusermount").args(["-u", "-z"]).arg(&self.mount));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.wait();
        } else {
            let _ = Command::new("fusermount").args(["-u", "-z"]).arg(&self.mount).status();
        }
        if std::fs::remove_dir(&self.mount).is_err() {
            let _ = std::fs::remove_dir_all(&self.mount);
        }
    }

    /// Reports written onto the stick (read from the image with mtools after unplugging).
    pub(crate) fn reports(&self) -> Vec<String> {
        // fusefat writes a FAT that fsck.fat accepts but mtools' media-byte check does not.
        let out = Command::new("mdir")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-b", "-i"])
            .arg(&self.image)
            .arg("::/ROLEMIRROR/reports")
            .output()
            .expect("mdir");
        let names = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.ends_with(".txt")).map(str::to_string).collect::<Vec<_>>();
        names
            .iter()
            .map(|n| {
                String::from_utf8_lossy(
                    &Command::new("mtype").env("MTOOLS_SKIP_CHECK", "1").arg("-i").arg(&self.image).arg(n).output().expect("mtype").stdout,
                )
                .into_owned()
            })
            .collect()
    }
}

impl Drop for FatStick {
    fn drop(&mut self) {
        if self.fuse.is_some() {
            self.unplug();
        }
    }
}

/// The active gallery's role-model ids (opening it as the booth does: manifest, fresh index).
pub(crate) fn active_ids(dir: &Path) -> Result<BTreeSet<String>, String> {
    let g = Gallery::open(dir, &default_vision().embedder_id).map_err(|e| format!("{e:#}"))?;
    Ok(g.role_models.iter().map(|r| r.id.clone()).collect())
}

pub(crate) fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// After a finished install the versions folder is tidy: no staging (nor any of `debris`) left,
/// at most the active and the previous version. Returns what it holds, for messages.
pub(crate) fn assert_versions_tidy(versions: &Path, debris: &[&str]) -> Vec<String> {
    let left: Vec<String> =
        std::fs::read_dir(versions).expect("versions").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(
        !left.iter().any(|n| n.starts_with("staging") || debris.iter().any(|d| n.starts_with(d)))
            && left.iter().filter(|n| n.starts_with('v')).count() <= 2,
        "{left:?}"
    );
    left
}

#[test]
fn tooling_creates_verifies_and_refuses_foreign_keys_and_tampering() {
    let tmp = TempDir::new("usb-tool");
    let demo = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    let other = keys(tmp.path(), "stranger");
    let g = small_gallery(&tmp.path().join("g1"), &demo, &[("a", "img1.jpg"), ("b", "img13.jpg")]);
    let stick = tmp.path().join("stick");
    let root = create(&stick, Some(&g), None, &k.private, 7);
    // keygen refuses to overwrite.
    let (code, text) = run(bin().args(["keygen", "--out"]).arg(tmp.path()).args(["--name", "tech"]));
    assert_ne!(code, 0, "{text}");
    let verify = |pubkey: &Path| {
        run(bin()
            .args(["--models", models().to_str().expect("utf-8"), "bundle", "verify"])
            .arg(&stick)
            .arg("--pubkey")
            .arg(pubkey)
            .arg("--against")
            .arg(&demo))
    };
    let (code, text) = verify(&k.public);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("serial 7") && text.contains("2 role models") && text.contains("added (2): a, b") && text.contains("removed (12)"),
        "{text}"
    );
    let (code, text) = verify(&other.public);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("does not match any trusted key"), "{text}");
    // A photo changed after signing (same size, one byte different).
    let photo = root.join("gallery/img13.jpg");
    let mut bytes = std::fs::read(&photo).expect("read");
    let n = bytes.len();
    bytes[n / 2] ^= 0x55;
    std::fs::write(&photo, &bytes).expect("write");
    let (code, text) = verify(&k.public);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("gallery/img13.jpg") && text.contains("sha256 mismatch"), "{text}");
    // No trusted key on the booth: refused with that message.
    let cfg = tmp.path().join("booth.toml");
    let empty = tmp.path().join("no-keys");
    std::fs::create_dir_all(&empty).expect("mkdir");
    std::fs::write(
        &cfg,
        format!(
            "[vision]\nmodels = \"{}\"\n[gallery]\ndir = \"{}\"\n[usb]\ntrusted_keys = \"{}\"\n",
            models().display(),
            tmp.path().join("active").display(),
            empty.display()
        ),
    )
    .expect("write");
    let fresh = tmp.path().join("stick2");
    create(&fresh, Some(&g), None, &k.private, 8);
    let (code, text) = run(bin().args(["bundle", "install"]).arg(&fresh).arg("--config").arg(&cfg));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("no trusted public keys"), "{text}");
    assert!(!tmp.path().join("active").exists(), "nothing installed");
}

/// A booth config `path` for installs from a shell: the models, the gallery, the state folder,
/// the trusted keys (no camera or screen is opened); returns the path.
pub(crate) fn store_config(path: &Path, gallery: &Path, state: &Path, trusted: &Path) -> PathBuf {
    let text = format!(
        "[vision]\nmodels = \"{}\"\n[gallery]\ndir = \"{}\"\n[state]\ndir = \"{}\"\n[usb]\ntrusted_keys = \"{}\"\n",
        models().display(),
        gallery.display(),
        state.display(),
        trusted.display()
    );
    std::fs::write(path, text).expect("write config");
    path.to_path_buf()
}

/// The booth config for USB tests: replay camera, PNG screen, the test's mount root and keys.
pub(crate) fn usb_booth(tmp: &Path, visitors: &[PathBuf], gallery_dir: &Path, trusted: &Path, media: &Path) -> PathBuf {
    let frames_dir = tmp.join("frames");
    frames(&frames_dir, visitors, 20, 4);
    let cfg = booth_config(tmp, &frames_dir, gallery_dir, true);
    let mut text = std::fs::read_to_string(&cfg).expect("read");
    text += &format!(
        "[usb]\nmount_roots = [\"{}\"]\ntrusted_keys = \"{}\"\npoll_seconds = 0.2\nsettle_seconds = 1.0\nresult_seconds = 0.5\nmax_file_mb = 5\nmax_megapixels = 40.0\nreport_spool = \"{}\"\n",
        media.display(),
        trusted.display(),
        tmp.join("spool").display()
    );
    std::fs::write(&cfg, text).expect("write");
    cfg
}

/// A 10000x10000 PNG (100 megapixels, ~300 KB compressed): a decompression bomb.
fn bomb_png() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 10_000, 10_000);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        let mut w = enc.write_header().expect("header");
        let mut stream = w.stream_writer().expect("stream");
        let row = vec![0u8; 10_000];
        for _ in 0..10_000 {
            std::io::Write::write_all(&mut stream, &row).expect("row");
        }
        stream.finish().expect("finish");
    }
    out
}

#[test]
fn booth_installs_from_a_fat_stick_then_refuses_every_bad_stick_and_keeps_its_gallery() {
    let tmp = TempDir::new("usb-booth");
    let demo = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    let stranger = keys(tmp.path(), "stranger");
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).expect("mkdir");
    // The booth starts on a copy of the demo gallery (a plain directory, as a fresh install has).
    let active = tmp.path().join("state-gallery");
    Command::new("cp").arg("-r").arg(&demo).arg(&active).status().expect("cp");
    let visitor = shared().join("data/faces-small/img2.jpg"); // the person of img1.jpg
    let cfg = usb_booth(tmp.path(), &[visitor], &active, &k.trusted, &media);
    let mut booth = Daemon::start(&cfg, &[]);
    booth.wait_for("event=ready", 60);
    booth.wait_for("role_model=demo-01", 60);

    // 1. The happy path: a new gallery and a changed config, signed, on a FAT stick.
    let g1 = small_gallery(&tmp.path().join("g1"), &demo, &[("new-a", "img1.jpg"), ("new-b", "img13.jpg")]);
    let new_cfg = tmp.path().join("new.toml");
    let text = std::fs::read_to_string(&cfg).expect("read").replace("[booth]\n", "[booth]\nshowcase_seconds = 4.5\n");
    std::fs::write(&new_cfg, &text).expect("write");
    let content = tmp.path().join("good");
    create(&content, Some(&g1), Some(&new_cfg), &k.private, 100);
    let mut stick = FatStick::new(&content, &tmp.path().join("good.img"), &media.join("good"), |_| {});
    booth.wait_for("event=usb_detected", 20);
    let line = booth.wait_for("event=gallery_installed", 60);
    assert!(line.contains("role_models=2") && line.contains("serial=100"), "{line}");
    booth.wait_for("event=config_reloaded", 20);
    let line = booth.wait_for("event=ready", 60);
    assert!(line.contains("role_models=2"), "{line}");
    booth.wait_for("role_model=new-a", 60);
    assert_eq!(active_ids(&active), Ok(ids(&["new-a", "new-b"])));
    assert!(std::fs::read_to_string(&cfg).expect("config").contains("showcase_seconds = 4.5"), "config replaced");
    assert!(cfg.with_file_name("booth.toml.previous").exists(), "previous config kept");
    stick.unplug();
    let reports = stick.reports();
    assert!(reports.iter().any(|r| r.contains("result: INSTALLED") && r.contains("2 role models")), "{reports:?}");
    drop(stick);

    // 2. Bad sticks, each a real FAT image where FAT can hold the case; symlinks and FIFOs
    //    cannot exist on FAT (a stick with another filesystem could carry them): a folder.
    let g2 = small_gallery(&tmp.path().join("g2"), &demo, &[("evil", "img16.jpg")]);
    let mut serial = 200;
    let mut make = |name: &str, tweak: &dyn Fn(&Path)| {
        serial += 1;
        let content = tmp.path().join(name);
        let root = create(&content, Some(&g2), None, &k.private, serial);
        tweak(&root);
        content
    };
    let truncated = std::fs::read(demo.join("img18.jpg")).expect("read");
    let mut cases: Vec<(&str, PathBuf, &str)> = vec![
        (
            "tampered",
            make("tampered", &|r| {
                let p = r.join("gallery/img16.jpg");
                let mut b = std::fs::read(&p).expect("read");
                let n = b.len();
                b[n / 3] ^= 0x01;
                std::fs::write(&p, b).expect("write");
            }),
            "sha256 mismatch",
        ),
        (
            "foreign",
            {
                let content = tmp.path().join("foreign");
                create(&content, Some(&g2), None, &stranger.private, 300);
                content
            },
            "does not match any trusted key",
        ),
        ("unsigned", make("unsigned", &|r| std::fs::remove_file(r.join(bundle::SIGNATURE_FILE)).expect("rm")), "no signature"),
        (
            "escape",
            make("escape", &|r| {
                resign(r, &k.private, |m| {
                    m["files"]
                        .as_array_mut()
                        .expect("files")
                        .push(serde_json::json!({"path": "gallery/../../etc/evil", "sha256": "0".repeat(64), "size": 1}))
                });
            }),
            "escapes the bundle",
        ),
        (
            "bomb",
            make("bomb", &|r| {
                add_signed(r, &k.private, "gallery/bomb.png", &bomb_png());
                let toml = std::fs::read_to_string(r.join("gallery/gallery.toml"))
                    .expect("read")
                    .replace("[\"img16.jpg\"]", "[\"img16.jpg\", \"bomb.png\"]");
                replace_signed(r, &k.private, "gallery/gallery.toml", toml.as_bytes());
            }),
            "over the limit of 40000000",
        ),
        (
            "truncated",
            make("truncated", &|r| {
                add_signed(r, &k.private, "gallery/img18.jpg", &truncated[..truncated.len() / 3]);
                let toml = std::fs::read_to_string(r.join("gallery/gallery.toml")).expect("read") + "[[role_model]]\nid = \"cut\"\nname = \"Cut\"\nrole = \"R\"\nstory_url = \"https://example.org/c\"\nphotos = [\"img18.jpg\"]\n";
                replace_signed(r, &k.private, "gallery/gallery.toml", toml.as_bytes());
            }),
            "gallery/img18.jpg (cut)",
        ),
        (
            "stray",
            make("stray", &|r| std::fs::write(r.join("gallery/extra.jpg"), b"not signed").expect("write")),
            "not in the signed manifest",
        ),
        (
            "oversized",
            make("oversized", &|r| add_signed(r, &k.private, "gallery/big.bin", &vec![7u8; 6 << 20])),
            "over the limit of 5242880 per file",
        ),
        (
            "replay",
            {
                let content = tmp.path().join("replay");
                create(&content, Some(&g2), None, &k.private, 50);
                content
            },
            "older than the installed bundle's 100",
        ),
        (
            "badtoml",
            {
                let content = tmp.path().join("badtoml");
                let valid = tmp.path().join("valid.toml");
                std::fs::write(&valid, "[booth]\nshowcase_seconds = 4.5\n").expect("write");
                let root = create(&content, None, Some(&valid), &k.private, 400);
                replace_signed(&root, &k.private, "config/rolemirror.toml", b"[booth\nshowcase_seconds = = 3\n");
                content
            },
            "config/rolemirror.toml: [booth] (line 1)",
        ),
    ];
    // Non-UTF-8 file name: a FAT short name with byte 0xFF (no long name), made in the image.
    let nonutf8 = make("nonutf8", &|r| std::fs::write(r.join("gallery/BADNAME.JPG"), b"x").expect("write"));
    cases.push(("nonutf8", nonutf8, "not valid UTF-8"));

    let mut tried = 0;
    for (name, content, reason) in &cases {
        let patch = |img: &mut Vec<u8>| {
            if *name == "nonutf8" {
                let i = img.windows(11).position(|w| w == b"BADNAME JPG").expect("short name in image");
                img[i + 3] = 0xFF;
                if img[i - 32 + 11] == 0x0F {
                    img[i - 32] = 0xE5; // drop the long-name entry, if mtools wrote one
                }
            }
        };
        let mut stick = FatStick::new(content, &tmp.path().join(format!("{name}.img")), &media.join(name), patch);
        booth.wait_for("event=usb_detected", 20);
        let line = booth.wait_for("event=usb_rejected", 60);
        assert!(line.contains(reason), "{name}: expected {reason:?} in {line}");
        stick.unplug();
        let reports = stick.reports();
        assert!(reports.iter().any(|r| r.contains("result: REFUSED") && r.contains(reason)), "{name}: report {reports:?}");
        assert_eq!(active_ids(&active), Ok(ids(&["new-a", "new-b"])), "{name}");
        tried += 1;
    }

    // Folder "sticks" for what FAT cannot hold: a symlink and a FIFO.
    for (name, reason) in [("symlink", "symbolic link"), ("fifo", "FIFO or socket")] {
        let content = make(name, &|r| {
            let p = r.join("gallery/trap.jpg");
            if name == "symlink" {
                std::os::unix::fs::symlink("/etc/shadow", &p).expect("symlink");
            } else {
                let c = std::ffi::CString::new(p.to_str().expect("utf-8")).expect("cstring");
                // SAFETY: mkfifo on a valid path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
            }
        });
        let mount = media.join(name);
        std::fs::rename(&content, &mount).expect("plug folder");
        booth.wait_for("event=usb_detected", 20);
        let line = booth.wait_for("event=usb_rejected", 60);
        assert!(line.contains(reason), "{name}: {line}");
        assert!(
            std::fs::read_dir(mount.join("ROLEMIRROR/reports"))
                .expect("report")
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("report-"))
                .count()
                == 1,
            "{name}: report written to a writable folder"
        );
        std::fs::remove_dir_all(&mount).expect("unplug");
        tried += 1;
    }

    // The stick pulled while the booth waits to read it (settle_seconds): every read fails.
    let content = make("pulled", &|_| {});
    let mut stick = FatStick::new(&content, &tmp.path().join("pulled.img"), &media.join("pulled"), |_| {});
    booth.wait_for("event=usb_detected", 20);
    stick.pull();
    let line = booth.wait_for("event=usb_rejected", 60);
    assert!(line.contains("not connected") || line.contains("removed") || line.contains("cannot"), "pulled: {line}");
    stick.unplug();
    tried += 1;
    assert_eq!(active_ids(&active), Ok(ids(&["new-a", "new-b"])));

    // The booth kept working on its gallery throughout.
    booth.wait_for("role_model=new-a", 60);
    eprintln!("usb: {tried} malformed or interrupted sticks refused; the booth kept its gallery");
    booth.signal(libc::SIGTERM);
    let (status, _) = booth.finish(10);
    assert!(status.success());
}

/// Kills `bundle install` at many points of an import (after chosen progress steps, with
/// random delays): after each kill the active gallery must be the old one or the new one,
/// complete and loadable, and the next import must work.
#[test]
fn killed_imports_leave_the_old_or_the_new_gallery_never_a_mix() {
    let tmp = TempDir::new("usb-kill");
    let demo = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    let active = tmp.path().join("booth-gallery");
    Command::new("cp").arg("-r").arg(&demo).arg(&active).status().expect("cp");
    let cfg = store_config(&tmp.path().join("booth.toml"), &active, &tmp.path().join("state"), &k.trusted);
    let a = small_gallery(&tmp.path().join("ga"), &demo, &[("a1", "img1.jpg"), ("a2", "img13.jpg")]);
    let b = small_gallery(&tmp.path().join("gb"), &demo, &[("b1", "img16.jpg"), ("b2", "img18.jpg"), ("b3", "img20.jpg")]);
    let sets = [ids(&["a1", "a2"]), ids(&["b1", "b2", "b3"])];
    let original: BTreeSet<String> = active_ids(&active).expect("demo gallery");

    let steps = ["checking the signature", "copying", "checking image sizes", "loading the face models", "embedding", "switching", "done"];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut killed, mut completed, mut serial) = (0, 0, 0u64);
    let mut current = original.clone();
    let mut attempt = 0;
    let mut where_killed = std::collections::BTreeMap::<&str, usize>::new();
    while killed < 55 && attempt < 120 {
        attempt += 1;
        serial += 1;
        let which = (serial % 2) as usize;
        let content = tmp.path().join(format!("stick-{serial}"));
        create(&content, Some(if which == 0 { &a } else { &b }), None, &k.private, serial);
        let step = steps[(next() % steps.len() as u64) as usize];
        // The switch takes well under a millisecond: kill within it, elsewhere within 40 ms.
        let delay = Duration::from_micros(next() % if step == "switching" { 1_500 } else { 40_000 });
        let mut child = bin()
            .args(["bundle", "install"])
            .arg(&content)
            .arg("--config")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let mut reached = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(step) {
                reached = true;
                break;
            }
        }
        if reached {
            std::thread::sleep(delay);
        }
        // SAFETY: SIGKILL to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let status = child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        if status.signal() == Some(libc::SIGKILL) {
            killed += 1;
            *where_killed.entry(if reached { step } else { "before the step" }).or_default() += 1;
        } else {
            assert!(status.success(), "install failed: {status:?}");
            completed += 1;
        }
        let now =
            active_ids(&active).unwrap_or_else(|e| panic!("after a kill at {step:?}+{delay:?} the active gallery does not load: {e}"));
        let new = &sets[which];
        assert!(
            now == current || &now == new,
            "after a kill at {step:?}+{delay:?}: {now:?} is neither the old {current:?} nor the new {new:?}"
        );
        current = now;
        let _ = std::fs::remove_dir_all(&content);
    }
    assert!(killed >= 50, "only {killed} imports were killed mid-way ({completed} completed)");
    // The next import tidies up and works; what is left is the active and the previous version.
    let before_final = current.clone();
    serial += 1;
    let content = tmp.path().join("final");
    create(&content, Some(&a), None, &k.private, serial);
    let (code, text) = run(bin().args(["bundle", "install"]).arg(&content).arg("--config").arg(&cfg));
    assert_eq!(code, 0, "{text}");
    assert_eq!(active_ids(&active), Ok(sets[0].clone()));
    assert_versions_tidy(&tmp.path().join("booth-gallery.versions"), &[]);
    // Rollback goes to the previous complete gallery.
    let (code, text) = run(bin().args(["gallery", "rollback", "--config"]).arg(&cfg));
    assert_eq!(code, 0, "{text}");
    assert_eq!(active_ids(&active), Ok(before_final), "rollback returns to the gallery active before the last import");
    eprintln!("usb: {killed} imports killed mid-way ({where_killed:?}), {completed} completed; every time a complete gallery was active");
}

/// The daemon itself killed while importing from a stick (after `usb_detected`, at spread-out
/// delays across the settle time and the import): each restart finds a complete gallery, the
/// old one or the new one, and starts the booth on it.
#[test]
fn killed_booth_restarts_on_a_complete_gallery() {
    let tmp = TempDir::new("usb-kill-booth");
    let demo = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    let media = tmp.path().join("media");
    std::fs::create_dir_all(&media).expect("mkdir");
    let active = tmp.path().join("booth-gallery");
    Command::new("cp").arg("-r").arg(&demo).arg(&active).status().expect("cp");
    let visitor = shared().join("data/faces-small/img2.jpg");
    let cfg = usb_booth(tmp.path(), &[visitor], &active, &k.trusted, &media);
    let a = small_gallery(&tmp.path().join("ga"), &demo, &[("a1", "img1.jpg"), ("a2", "img13.jpg")]);
    let b = small_gallery(&tmp.path().join("gb"), &demo, &[("b1", "img16.jpg"), ("b2", "img18.jpg"), ("b3", "img20.jpg")]);
    let mut current = active_ids(&active).expect("demo gallery");
    let mut outcomes = Vec::new();
    for i in 0..8u64 {
        let (set, dir) = if i % 2 == 0 { (ids(&["a1", "a2"]), &a) } else { (ids(&["b1", "b2", "b3"]), &b) };
        let content = tmp.path().join(format!("content-{i}"));
        create(&content, Some(dir), None, &k.private, 10 + i);
        let mut booth = Daemon::start(&cfg, &[]);
        booth.wait_for("event=ready", 60);
        let mount = media.join(format!("stick-{i}"));
        std::fs::rename(&content, &mount).expect("plug");
        booth.wait_for("event=usb_detected", 20);
        // settle_seconds is 1.0; the import itself takes a few hundred ms after it.
        std::thread::sleep(Duration::from_millis(950 + 40 * i));
        booth.signal(libc::SIGKILL);
        let (_, seen) = booth.finish(10);
        let installed = seen.iter().any(|l| l.contains("event=gallery_installed"));
        std::fs::remove_dir_all(&mount).expect("unplug");
        let now = active_ids(&active).unwrap_or_else(|e| panic!("kill {i}: the active gallery does not load: {e}"));
        assert!(now == current || now == set, "kill {i}: {now:?} is neither {current:?} nor {set:?}");
        outcomes.push(if now == set { "new" } else { "old" });
        if installed {
            assert_eq!(now, set, "kill {i}: installed was announced, so the new gallery must be active");
        }
        current = now;
    }
    // And the booth starts on whatever is active.
    let mut booth = Daemon::start(&cfg, &[]);
    let line = booth.wait_for("event=ready", 60);
    assert!(line.contains(&format!("role_models={}", current.len())), "{line}");
    booth.signal(libc::SIGTERM);
    let _ = booth.finish(10);
    eprintln!("usb: booth killed 8 times during imports: {outcomes:?}");
}
