//! Mender with real parts (issue 26): artifacts written and read by Debian's `mender-artifact`;
//! Debian's Mender client 3.4 in standalone mode (`mender install`, `commit`, `rollback`)
//! driving the package's update modules — the shipped scripts in `mender/modules/`, pointed at
//! this build — from a mount namespace of its own (the client looks for modules only in
//! `/usr/share/mender/modules/v3`, and reads `/etc/mender/artifact_info`); a booth daemon that
//! reloads onto what they install; dpkg installing into a scratch root; the module and the
//! client killed at random points of an install; and the inventory of a booth that matched
//! visitors. Runs as root (the namespace, the privilege drop), like CI.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::booth::{booth_config, frames, Daemon};
use crate::common::*;
use crate::health::visits;
use crate::usb::{active_ids, assert_versions_tidy, ids, keys, small_gallery, store_config};
use rolemirror::fleet::{artifact, gallery::Pending, payload};
use rolemirror::usb::bundle;
use rolemirror::usb::install::{Active, Store};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rolemirror")
}

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().expect("runs");
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The tools these tests drive; a clear failure when one is missing.
fn need_tools() {
    for (tool, package) in
        [("mender-artifact", "mender-artifact"), ("mender", "mender-client"), ("unshare", "util-linux"), ("dpkg-deb", "dpkg")]
    {
        assert!(Command::new(tool).arg("--version").output().is_ok(), "{tool} is missing: apt-get install {package} (.ci/run installs it)");
    }
    assert!(Path::new("/usr/share/mender/modules/v3").is_dir() && Path::new("/etc/mender").is_dir(), "apt-get install mender-client");
    // SAFETY: geteuid has no arguments and cannot fail.
    assert_eq!(unsafe { libc::geteuid() }, 0, "the Mender tests run as root (a mount namespace for the client; CI runs as root)");
}

/// Debian's Mender client in standalone mode, in a mount namespace where the package's module
/// scripts (this build's binary, this booth's config) are `/usr/share/mender/modules/v3` and a
/// scratch folder is `/etc/mender` — the client's own paths, nothing of the host's changed.
struct Client {
    dir: PathBuf,
}

impl Client {
    /// `extra`: arguments the module scripts add (the config, timeouts, a dpkg root).
    fn new(dir: &Path, extra: &str) -> Client {
        for sub in ["modules", "etc", "data"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        for module in ["rolemirror-bundle", "rolemirror-deb"] {
            let shipped = std::fs::read_to_string(root().join("mender/modules").join(module)).expect("shipped module script");
            assert!(shipped.contains("exec /usr/bin/rolemirror mender module") && shipped.contains("\"$@\""), "{shipped}");
            let script = shipped.replace("/usr/bin/rolemirror", bin()).replace("\"$@\"", &format!("\"$@\" {extra}"));
            let path = dir.join("modules").join(module);
            std::fs::write(&path, script).expect("write");
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        }
        // What docs/fleet.md has a booth set up: the device type, a first artifact name.
        std::fs::write(dir.join("etc/artifact_info"), "artifact_name=booth-initial\n").expect("write");
        std::fs::write(dir.join("etc/mender.conf"), "{}\n").expect("write");
        std::fs::write(dir.join("data/device_type"), format!("device_type={}\n", artifact::DEFAULT_DEVICE_TYPE)).expect("write");
        Client { dir: dir.to_path_buf() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let d = self.dir.display();
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c"])
            .arg(format!(
                "mount --bind {d}/modules /usr/share/mender/modules/v3 && mount --bind {d}/etc /etc/mender && \
                 exec mender --no-syslog --log-level info --config {d}/etc/mender.conf --data {d}/data \"$@\""
            ))
            .arg("sh")
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> (i32, String) {
        run(&mut self.command(args))
    }

    fn show_artifact(&self) -> String {
        let out = self.command(&["show-artifact"]).output().expect("mender");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// sha256 over every file under `dir` (following the gallery link), with its relative path.
fn tree_hash(dir: &Path) -> String {
    fn walk(base: &Path, rel: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(base.join(rel)).expect("read").flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let r = rel.join(e.file_name());
            if e.file_type().expect("type").is_dir() {
                walk(base, &r, out);
            } else {
                out.push(format!("{} {}", r.display(), rolemirror::util::sha256_file(&base.join(&r)).expect("hash").0));
            }
        }
    }
    let base = std::fs::canonicalize(dir).expect("gallery");
    let mut lines = Vec::new();
    walk(&base, Path::new(""), &mut lines);
    rolemirror::util::sha256_bytes(lines.join("\n").as_bytes())
}

/// `bundle create --mender OUT` (optionally with --out, a config, state scripts).
fn bundle_artifact(out: &Path, gallery: Option<&Path>, config: Option<&Path>, key: &Path, serial: u64, extra: &[&str]) -> String {
    let mut cmd = Command::new(bin());
    cmd.args(["bundle", "create", "--key"]).arg(key).args(["--serial", &serial.to_string(), "--mender"]).arg(out).args(extra);
    if let Some(g) = gallery {
        cmd.arg("--gallery").arg(g);
    }
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let (code, text) = run(&mut cmd);
    assert_eq!(code, 0, "{text}");
    text
}

/// A well-formed artifact around a bundle folder as it is (tampered with after signing, or
/// signed by a stranger): what a man in the middle or a careless technician could send.
fn wrap(bundle_root: &Path, out: &Path, name: &str) {
    let dir = out.with_extension("payload");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let tar = dir.join(payload::PAYLOAD_FILE);
    payload::write(bundle_root, &tar).expect("tar");
    let types = vec![artifact::DEFAULT_DEVICE_TYPE.to_string()];
    let spec = artifact::Spec {
        payload_type: "rolemirror-bundle",
        name: name.into(),
        device_types: &types,
        files: vec![tar],
        provides: ("bundle", "0".into()),
        key: None,
        scripts: &[],
    };
    artifact::write(&spec, out).expect("mender-artifact");
}

/// The module's lines in the client's log.
fn module_lines(text: &str) -> String {
    text.lines().filter(|l| l.contains("rolemirror-bundle: ") || l.contains("rolemirror-deb: ")).collect::<Vec<_>>().join("\n")
}

/// The booth config for these tests: `booth_config` plus the trusted keys; USB polling off.
fn mender_booth(dir: &Path, frames_dir: &Path, gallery: &Path, trusted: &Path) -> PathBuf {
    let cfg = booth_config(dir, frames_dir, gallery, true);
    let mut text = std::fs::read_to_string(&cfg).expect("read");
    text += &format!("[usb]\nenabled = false\ntrusted_keys = \"{}\"\n", trusted.display());
    std::fs::write(&cfg, text).expect("write");
    cfg
}

#[test]
fn artifacts_are_accepted_by_mender_artifact_and_carry_the_sticks_bundle() {
    need_tools();
    let tmp = TempDir::new("mender-artifact");
    let demo = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    let g = small_gallery(&tmp.path().join("Open day"), &demo, &[("a1", "img1.jpg"), ("a2", "img13.jpg")]);
    let settings = tmp.path().join("settings.toml");
    std::fs::write(&settings, "[booth]\ncooldown_seconds = 2.0\n").expect("write");
    let art = tmp.path().join("gallery.mender");
    let stick = tmp.path().join("stick");
    let text = bundle_artifact(
        &art,
        Some(&g),
        Some(&settings),
        &k.private,
        42,
        &["--out", s(&stick), "--device-type", "booth-a", "--device-type", "booth-b"],
    );
    assert!(text.contains("wrote") && text.contains("artifact rolemirror-gallery-and-config-open-day-s42-"), "{text}");

    let (code, read) = run(Command::new("mender-artifact").arg("read").arg(&art));
    assert_eq!(code, 0, "{read}");
    for want in [
        "Name: rolemirror-gallery-and-config-open-day-s42-",
        "Compatible devices: '[booth-a booth-b]'",
        "Type:   rolemirror-bundle",
        "rolemirror.bundle.version: 42",
        "name:     rolemirror-bundle.tar",
    ] {
        assert!(read.contains(want), "{want:?} not in:\n{read}");
    }
    let (code, valid) = run(Command::new("mender-artifact").arg("validate").arg(&art));
    assert_eq!(code, 0, "{valid}");

    // The payload is the stick's bundle, byte for byte, manifest first: unpacked with tar.
    let x = tmp.path().join("x");
    std::fs::create_dir_all(x.join("data")).expect("mkdir");
    assert_eq!(run(Command::new("tar").arg("-xf").arg(&art).arg("-C").arg(&x)).0, 0);
    assert_eq!(run(Command::new("tar").arg("-xzf").arg(x.join("data/0000.tar.gz")).arg("-C").arg(x.join("data"))).0, 0);
    let inner = x.join("data").join(payload::PAYLOAD_FILE);
    let (code, list) = run(Command::new("tar").arg("-tf").arg(&inner));
    assert_eq!(code, 0, "{list}");
    let members: Vec<&str> = list.lines().collect();
    assert_eq!(members[..2], ["ROLEMIRROR/bundle.json", "ROLEMIRROR/bundle.sig"], "{list}");
    let manifest: bundle::BundleManifest =
        serde_json::from_slice(&std::fs::read(stick.join("ROLEMIRROR/bundle.json")).expect("manifest")).expect("json");
    assert_eq!(members.len(), 2 + manifest.files.len(), "{list}");
    let unpacked = x.join("bundle");
    std::fs::create_dir_all(&unpacked).expect("mkdir");
    assert_eq!(run(Command::new("tar").arg("-xf").arg(&inner).arg("-C").arg(&unpacked)).0, 0);
    for name in members {
        let rel = name.trim_start_matches("ROLEMIRROR/");
        assert_eq!(
            std::fs::read(unpacked.join(name)).expect("unpacked"),
            std::fs::read(stick.join("ROLEMIRROR").join(rel)).expect("stick"),
            "{name}"
        );
    }
    // And a booth would take it: `bundle verify` runs the booth's own import on it.
    let (code, verified) =
        run(Command::new(bin()).args(["--models", s(&models()), "bundle", "verify"]).arg(&unpacked).arg("--pubkey").arg(&k.public));
    assert_eq!(code, 0, "{verified}");
    assert!(verified.contains("serial 42") && verified.contains("2 role models") && verified.contains("config: valid"), "{verified}");

    // The package: a (tiny) rolemirror .deb becomes a rolemirror-deb artifact; another package is refused.
    for (package, ok) in [("rolemirror", true), ("something-else", false)] {
        let p = tmp.path().join(package);
        std::fs::create_dir_all(p.join("DEBIAN")).expect("mkdir");
        std::fs::write(
            p.join("DEBIAN/control"),
            format!("Package: {package}\nVersion: 9.9.9\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: t\n"),
        )
        .expect("write");
        let deb = tmp.path().join(format!("{package}.deb"));
        assert_eq!(run(Command::new("dpkg-deb").args(["--build", "--root-owner-group"]).arg(&p).arg(&deb)).0, 0);
        let out = tmp.path().join(format!("{package}.mender"));
        let (code, text) = run(Command::new(bin()).args(["mender", "deb-artifact"]).arg(&deb).arg("--out").arg(&out));
        assert_eq!(code == 0, ok, "{text}");
        if ok {
            let (code, read) = run(Command::new("mender-artifact").arg("read").arg(&out));
            assert_eq!(code, 0, "{read}");
            for want in [
                "Name: rolemirror-9.9.9-all",
                "Type:   rolemirror-deb",
                "rolemirror.package.version: 9.9.9",
                "Compatible devices: '[rolemirror-booth]'",
            ] {
                assert!(read.contains(want), "{want:?} not in:\n{read}");
            }
        } else {
            assert!(text.contains("would refuse it"), "{text}");
        }
    }
}

#[test]
fn the_client_installs_commits_and_rolls_back_galleries_on_a_running_booth() {
    need_tools();
    let tmp = TempDir::new("mender-booth");
    let demo = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    let stranger = keys(tmp.path(), "stranger");
    let active = tmp.path().join("booth-gallery");
    assert!(Command::new("cp").arg("-r").arg(&demo).arg(&active).status().expect("cp").success());
    let frames_dir = tmp.path().join("frames");
    frames(&frames_dir, &[tmp.path().join("visitors/img2.jpg")], 4, 4);
    let cfg = mender_booth(tmp.path(), &frames_dir, &active, &k.trusted);
    let client = Client::new(&tmp.path().join("mender"), &format!("--config {} --booth-timeout 120", cfg.display()));
    let store = Store::new(&active);
    let a = small_gallery(&tmp.path().join("ga"), &demo, &[("a1", "img1.jpg"), ("a2", "img13.jpg")]);
    let b = small_gallery(&tmp.path().join("gb"), &demo, &[("b1", "img16.jpg"), ("b2", "img18.jpg"), ("b3", "img20.jpg")]);
    let mut booth = Daemon::start(&cfg, &[]);
    booth.wait_for("event=ready role_models=12", 90);

    // 1. Install and commit: the booth reloads onto the new gallery, the commit waits for it.
    let art_a = tmp.path().join("a.mender");
    bundle_artifact(&art_a, Some(&a), None, &k.private, 10, &[]);
    let (code, text) = client.run(&["install", s(&art_a)]);
    assert_eq!(code, 0, "{text}");
    assert!(module_lines(&text).contains("installed bundle serial 10") && text.contains("Use 'commit'"), "{text}");
    booth.wait_for("event=ready role_models=2", 90);
    let (code, text) = client.run(&["commit"]);
    assert_eq!(code, 0, "{text}");
    assert!(module_lines(&text).contains("runs bundle serial 10") && text.contains("committed bundle serial 10"), "{text}");
    assert!(client.show_artifact().starts_with("rolemirror-gallery-ga-s10-"), "{}", client.show_artifact());
    let hash_a = tree_hash(&active);
    assert_eq!((active_ids(&active), store.installed_serial()), (Ok(ids(&["a1", "a2"])), 10));

    // 2. Install, then roll back: exactly the gallery before, the serial too; the booth reloads.
    let art_b = tmp.path().join("b.mender");
    bundle_artifact(&art_b, Some(&b), None, &k.private, 11, &[]);
    let (code, text) = client.run(&["install", s(&art_b)]);
    assert_eq!(code, 0, "{text}");
    booth.wait_for("event=ready role_models=3", 90);
    let (code, text) = client.run(&["rollback"]);
    assert_eq!(code, 0, "{text}");
    assert!(module_lines(&text).contains("rolled back") && module_lines(&text).contains("installed serial 10"), "{text}");
    booth.wait_for("event=ready role_models=2", 90);
    assert_eq!((tree_hash(&active), store.installed_serial()), (hash_a.clone(), 10));
    assert!(client.show_artifact().starts_with("rolemirror-gallery-ga-s10-"));

    // 3. A tampered bundle and a stranger's bundle, each in a well-formed artifact: refused by the
    //    booth's own check, whatever the artifact says; nothing changes, the booth does not reload.
    let stick = tmp.path().join("tampered");
    crate::usb::create(&stick, Some(&b), None, &k.private, 12);
    let photo = stick.join("ROLEMIRROR/gallery/img18.jpg");
    let mut bytes = std::fs::read(&photo).expect("read");
    let n = bytes.len();
    bytes[n / 2] ^= 0x55;
    std::fs::write(&photo, &bytes).expect("write");
    let foreign = tmp.path().join("foreign");
    crate::usb::create(&foreign, Some(&b), None, &stranger.private, 13);
    for (dir, why) in [(&stick, "sha256 mismatch"), (&foreign, "does not match any trusted key")] {
        let art = dir.with_extension("mender");
        wrap(&dir.join("ROLEMIRROR"), &art, "looks-fine");
        let (code, text) = client.run(&["install", s(&art)]);
        assert_ne!(code, 0, "{text}");
        let lines = module_lines(&text);
        assert!(lines.contains("REFUSED") && lines.contains(why) && lines.contains("the booth keeps its gallery"), "{text}");
        assert_eq!((tree_hash(&active), store.installed_serial()), (hash_a.clone(), 10), "{why}");
        assert!(!store.versions.join("mender.json").exists() && !store.versions.join("mender-incoming").exists());
        assert!(client.show_artifact().starts_with("rolemirror-gallery-ga-s10-"), "{why}: {}", client.show_artifact());
    }
    assert_eq!(booth.seen_within("event=config_reloaded", 3.0), None, "a refused install reloaded the booth");

    // 4. A failed commit (an ArtifactCommit_Enter state script fails): the client rolls back, the
    //    booth is back on exactly the gallery before.
    let script = tmp.path().join("ArtifactCommit_Enter_00");
    std::fs::write(&script, "#!/bin/sh\necho 'this booth may not take it today' >&2\nexit 1\n").expect("write");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let art_fail = tmp.path().join("fail.mender");
    bundle_artifact(&art_fail, Some(&b), None, &k.private, 14, &["--mender-script", s(&script)]);
    let (code, text) = client.run(&["install", s(&art_fail)]);
    assert_eq!(code, 0, "{text}");
    booth.wait_for("event=ready role_models=3", 90);
    let (code, text) = client.run(&["commit"]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("this booth may not take it today") && module_lines(&text).contains("rolled back"), "{text}");
    booth.wait_for("event=ready role_models=2", 90);
    assert_eq!((tree_hash(&active), store.installed_serial()), (hash_a.clone(), 10));
    assert!(client.show_artifact().starts_with("rolemirror-gallery-ga-s10-"), "{}", client.show_artifact());

    // 5. The artifact rolled back in 2 installs again (its serial is free again) and commits.
    let (code, text) = client.run(&["install", s(&art_b)]);
    assert_eq!(code, 0, "{text}");
    booth.wait_for("event=ready role_models=3", 90);
    let (code, text) = client.run(&["commit"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!((active_ids(&active), store.installed_serial()), (Ok(ids(&["b1", "b2", "b3"])), 11));
    booth.signal(libc::SIGTERM);
    let (status, _) = booth.finish(20);
    assert!(status.success());
}

#[test]
fn bad_payloads_are_refused_and_a_config_comes_back_on_rollback_all_as_the_booths_user() {
    need_tools();
    let tmp = TempDir::new("mender-user");
    let demo = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    // The booth's folders belong to its user (nobody here), as /var/lib/rolemirror and
    // /etc/rolemirror belong to rolemirror on a booth; the client runs the module as root.
    let var = tmp.path().join("var");
    let etc = tmp.path().join("etc");
    std::fs::create_dir_all(&var).expect("mkdir");
    std::fs::create_dir_all(&etc).expect("mkdir");
    let active = var.join("gallery");
    assert!(Command::new("cp").arg("-r").arg(&demo).arg(&active).status().expect("cp").success());
    let cfg = store_config(&etc.join("rolemirror.toml"), &active, &var.join("state"), &k.trusted);
    // The models where the booth's user can read them, as /usr/share/rolemirror/models is on a
    // booth (a checkout may sit in a folder only root can enter, like a CI's mktemp -d).
    let models_copy = tmp.path().join("models");
    assert!(Command::new("cp").arg("-r").arg(models()).arg(&models_copy).status().expect("cp").success());
    let text = std::fs::read_to_string(&cfg).expect("config").replace(&models().display().to_string(), &models_copy.display().to_string());
    std::fs::write(&cfg, text).expect("write config");
    let original_config = std::fs::read_to_string(&cfg).expect("config");
    assert!(Command::new("chown").args(["-R", "nobody:nogroup"]).arg(&var).arg(&etc).status().expect("chown").success());
    let client = Client::new(&tmp.path().join("mender"), &format!("--config {}", cfg.display()));
    let store = Store::new(&active);
    let before = store.state();
    let hash = tree_hash(&active);

    // Refused before anything is trusted: a link in the tar, another payload file, no tar at all.
    let cases = tmp.path().join("cases");
    std::fs::create_dir_all(&cases).expect("mkdir");
    let link_tar = cases.join("link").join(payload::PAYLOAD_FILE);
    std::fs::create_dir_all(link_tar.parent().expect("dir")).expect("mkdir");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&link_tar).expect("create"));
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_link_name("/etc/shadow").expect("link");
        b.append_data(&mut h, "ROLEMIRROR/bundle.json", std::io::empty()).expect("append");
        b.finish().expect("finish");
    }
    let junk = cases.join("junk").join(payload::PAYLOAD_FILE);
    std::fs::create_dir_all(junk.parent().expect("dir")).expect("mkdir");
    std::fs::write(&junk, vec![0x5a; 3000]).expect("write");
    let other = cases.join("other").join("gallery.zip");
    std::fs::create_dir_all(other.parent().expect("dir")).expect("mkdir");
    std::fs::write(&other, b"PK").expect("write");
    let types = vec![artifact::DEFAULT_DEVICE_TYPE.to_string()];
    for (file, why) in [(&link_tar, "Symlink member"), (&junk, "tar file"), (&other, "must be the one file rolemirror-bundle.tar")] {
        let art = file.parent().expect("dir").with_extension("mender");
        let spec = artifact::Spec {
            payload_type: "rolemirror-bundle",
            name: "odd".into(),
            device_types: &types,
            files: vec![file.clone()],
            provides: ("bundle", "1".into()),
            key: None,
            scripts: &[],
        };
        artifact::write(&spec, &art).expect("mender-artifact");
        let (code, text) = client.run(&["install", s(&art)]);
        assert_ne!(code, 0, "{text}");
        assert!(module_lines(&text).contains(why), "{why}: {text}");
        assert_eq!(store.state(), before, "{why}");
        assert_eq!(tree_hash(&active), hash);
        for left in ["mender.json", "mender-incoming", "mender-config.before"] {
            assert!(!store.versions.join(left).exists(), "{left} left after {why}");
        }
    }

    // A gallery with new settings: installed as the booth's user (the files are its), then rolled
    // back: the gallery and the config exactly as before.
    let a = small_gallery(&tmp.path().join("ga"), &demo, &[("a1", "img1.jpg"), ("a2", "img13.jpg")]);
    let settings = tmp.path().join("new-settings.toml");
    std::fs::write(&settings, format!("{original_config}[booth]\ncooldown_seconds = 2.5\n")).expect("write");
    let art = tmp.path().join("a.mender");
    bundle_artifact(&art, Some(&a), Some(&settings), &k.private, 20, &[]);
    let (code, text) = client.run(&["install", s(&art)]);
    assert_eq!(code, 0, "{text}");
    assert!(module_lines(&text).contains("a gallery of 2 role models and a config"), "{text}");
    assert_eq!(std::fs::read_to_string(&cfg).expect("config"), std::fs::read_to_string(&settings).expect("settings"));
    let nobody = 65534;
    for p in [store.versions.join("v20/gallery/index.json"), store.versions.join("mender.json"), store.versions.join("installed.json")] {
        assert_eq!(std::fs::metadata(&p).expect("installed file").uid(), nobody, "{} not written as the booth's user", p.display());
    }
    let (code, text) = client.run(&["rollback"]);
    assert_eq!(code, 0, "{text}");
    assert!(module_lines(&text).contains("the config as it was"), "{text}");
    assert_eq!(std::fs::read_to_string(&cfg).expect("config"), original_config);
    assert_eq!(tree_hash(&active), hash);
    assert_eq!(store.installed_serial(), 0);
    assert_eq!(
        store.state().active,
        Active::Link(PathBuf::from("gallery.versions/v0-original/gallery")),
        "the plain folder comes back as its kept copy"
    );
}

/// The pid of `parent`'s child process (the update module the client runs), if any.
fn child_of(parent: u32) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let ppid: u32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == parent).then_some(pid)
    })
}

/// The gallery a pending record would roll back to, or the active one.
fn rollback_target(store: &Store) -> PathBuf {
    let record = std::fs::read(store.versions.join("mender.json")).ok().and_then(|b| serde_json::from_slice::<Pending>(&b).ok());
    let parent = store.active.parent().expect("parent");
    match record.map(|p| p.before.active) {
        Some(Active::Link(t)) => parent.join(t),
        // The plain folder, unless an import has switched it away (then kept as v0-original).
        Some(Active::Plain) if store.state().active != Active::Plain => store.versions.join("v0-original/gallery"),
        _ => store.active.clone(),
    }
}

/// Installs killed at random points, two ways: the module alone (the client lives and rolls
/// back: exactly the gallery before), and the module with the client (a power cut: the old or
/// the new gallery, complete; the client's rollback or the next install puts the old one back).
#[test]
fn installs_killed_at_random_points_leave_the_old_or_the_new_gallery() {
    need_tools();
    let tmp = TempDir::new("mender-kill");
    let demo = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    let active = tmp.path().join("booth-gallery");
    assert!(Command::new("cp").arg("-r").arg(&demo).arg(&active).status().expect("cp").success());
    let cfg = store_config(&tmp.path().join("booth.toml"), &active, &tmp.path().join("state"), &k.trusted);
    let client = Client::new(&tmp.path().join("mender"), &format!("--config {}", cfg.display()));
    let store = Store::new(&active);
    let galleries = [
        small_gallery(&tmp.path().join("ga"), &demo, &[("a1", "img1.jpg"), ("a2", "img13.jpg")]),
        small_gallery(&tmp.path().join("gb"), &demo, &[("b1", "img16.jpg"), ("b2", "img18.jpg"), ("b3", "img20.jpg")]),
    ];
    let sets = [ids(&["a1", "a2"]), ids(&["b1", "b2", "b3"])];
    let steps = [
        "unpacking",
        "checking the signature",
        "copying",
        "checking image sizes",
        "loading the face models",
        "embedding",
        "switching",
        "done",
        "installed bundle",
    ];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut module_kills, mut power_cuts, mut finished) = (0, 0, 0);
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..16u64 {
        let serial = 100 + round;
        let which = (round % 2) as usize;
        let art = tmp.path().join(format!("r{round}.mender"));
        bundle_artifact(&art, Some(&galleries[which]), None, &k.private, serial, &[]);
        let power_cut = round % 4 >= 2;
        let visible = active_ids(&active).expect("a complete gallery before the round");
        let old_dir = rollback_target(&store);
        let (old_ids, old_hash) = (active_ids(&old_dir).expect("the gallery to go back to"), tree_hash(&old_dir));
        // (The link resolved: the version folder holds the bundle's manifest.)
        let old_version = std::fs::canonicalize(&old_dir).expect("gallery").parent().expect("version").to_path_buf();
        let old_serial = std::fs::read(old_version.join("bundle.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<bundle::BundleManifest>(&b).ok())
            .map_or(0, |m| m.serial);
        let step = steps[(next() % steps.len() as u64) as usize];
        let delay = Duration::from_micros(next() % if step == "switching" { 1_500 } else { 40_000 });
        let mut child = client.command(&["install", s(&art)]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("mender");
        let mender_pid = child.id();
        let mut log = Vec::new();
        let mut reached = false;
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            let hit = line.contains("rolemirror-bundle: ") && line.contains(step);
            log.push(line);
            if hit {
                reached = true;
                break;
            }
        }
        if reached {
            std::thread::sleep(delay);
        }
        // A power cut takes the client first (it cannot react), then the module; otherwise only
        // the module's process group (the client gives it one) dies, and the client reacts.
        // SAFETY: SIGKILL to our own child and to the process group of its child.
        unsafe {
            if power_cut {
                libc::kill(mender_pid as i32, libc::SIGKILL);
            }
            if let Some(m) = child_of(mender_pid) {
                libc::kill(-m, libc::SIGKILL);
            }
        }
        log.extend(lines.map_while(Result::ok));
        let status = child.wait().expect("wait");
        let log = log.join("\n");
        let now = active_ids(&active)
            .unwrap_or_else(|e| panic!("round {round} ({step}+{delay:?}): the active gallery does not load: {e}\n{log}"));
        let label = match (power_cut, status.success()) {
            (true, _) => format!("cut at {step}: {}", if now == sets[which] && now != old_ids { "new" } else { "old" }),
            (false, false) => format!("module killed at {step}"),
            (false, true) => "install ended before the kill".to_string(),
        };
        *outcomes.entry(label).or_default() += 1;
        if power_cut {
            power_cuts += 1;
            assert!(
                now == visible || now == old_ids || now == sets[which],
                "round {round}: cut at {step}+{delay:?}: {now:?} is none of {visible:?}, {old_ids:?}, {:?}\n{log}",
                sets[which]
            );
            // Power back: the client rolls back what it knows of (exit 2: it knows nothing, and
            // the module's record, if any, is rolled back by the next install).
            let (code, text) = client.run(&["rollback"]);
            assert!(code == 0 || code == 2, "{text}");
            if code == 0 {
                assert_eq!(tree_hash(&active), old_hash, "round {round}: the client's rollback after a cut\n{text}");
            }
        } else if !status.success() {
            module_kills += 1;
            assert_eq!(tree_hash(&active), old_hash, "round {round}: killed at {step}+{delay:?}, rolled back by the client\n{log}");
            assert_eq!(store.installed_serial(), old_serial, "round {round}: killed at {step}+{delay:?}\n{log}");
            assert!(!store.versions.join("mender.json").exists(), "round {round}: record left\n{log}");
        } else {
            finished += 1;
            let (code, text) = client.run(&["commit"]);
            assert_eq!(code, 0, "{text}");
            assert_eq!(now, sets[which], "round {round}");
        }
        assert!(power_cut || !store.versions.join("mender-incoming").exists(), "round {round}: mender-incoming left");
    }
    assert!(module_kills >= 5 && power_cuts >= 5, "{module_kills} module kills, {power_cuts} cuts: {outcomes:?}");
    // After it all: one more install and commit works and leaves no debris.
    let art = tmp.path().join("final.mender");
    bundle_artifact(&art, Some(&galleries[0]), None, &k.private, 999, &[]);
    let (code, text) = client.run(&["install", s(&art)]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = client.run(&["commit"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(active_ids(&active), Ok(sets[0].clone()));
    assert_versions_tidy(&store.versions, &["mender"]);
    eprintln!("mender kills: {module_kills} module kills, {power_cuts} power cuts, {finished} finished: {outcomes:?}");
}

#[test]
fn the_inventory_is_the_health_report_and_nothing_about_visitors() {
    let tmp = TempDir::new("mender-inventory");
    let gallery = demo_gallery(&tmp);
    let k = keys(tmp.path(), "tech");
    let frames_dir = tmp.path().join("frames");
    frames(&frames_dir, &[shared().join("data/faces-small/img2.jpg")], 20, 4);
    let cfg = mender_booth(tmp.path(), &frames_dir, &gallery, &k.trusted);
    let mut booth = Daemon::start(&cfg, &[]);
    booth.wait_for("event=ready", 90);
    let visits = visits(&mut booth, 2);
    // The shipped inventory script's command line, with this build and this booth's config.
    let script = std::fs::read_to_string(root().join("mender/inventory/mender-inventory-rolemirror")).expect("script");
    let command = script.lines().find(|l| l.starts_with("exec ")).expect("exec line").replace("/usr/bin/rolemirror", bin());
    let command = command.replace("/etc/rolemirror/rolemirror.toml", s(&cfg));
    let inventory = || {
        let out = Command::new("sh").arg("-c").arg(&command).output().expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    // The daemon's snapshot is refreshed every 10 s: wait for one with the camera in it.
    std::thread::sleep(Duration::from_millis(11_000));
    let live = inventory();
    assert!(live.contains("rolemirror_daemon=running\n") && live.contains("rolemirror_state=running\n"), "{live}");
    assert!(live.contains("rolemirror_camera=connected: replay"), "{live}");
    // The counters are saved once a minute and at shutdown: stop the booth for today's count.
    booth.signal(libc::SIGTERM);
    let (status, _) = booth.finish(20);
    assert!(status.success());
    let text = inventory();
    let attrs: Vec<(&str, &str)> = text.lines().map(|l| l.split_once('=').unwrap_or_else(|| panic!("not key=value: {l:?}"))).collect();
    let get = |k: &str| attrs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    assert_eq!(get("rolemirror_daemon"), Some("not running"), "{text}");
    assert_eq!(get("rolemirror_version"), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(get("rolemirror_gallery_role_models"), Some("12"));
    assert_eq!(get("rolemirror_gallery_serial"), Some("0"));
    assert_eq!(get("rolemirror_embedder"), Some(default_vision().embedder_id.id.as_str()));
    assert_eq!(get("rolemirror_config_sha256"), Some(rolemirror::util::sha256_bytes(&std::fs::read(&cfg).expect("config")).as_str()));
    let today = attrs.iter().rfind(|(key, _)| *key == "rolemirror_counters").expect("counters").1;
    let visitors: u64 =
        today.split_whitespace().find_map(|kv| kv.strip_prefix("visitors=")).and_then(|v| v.parse().ok()).expect("visitors");
    assert!(visitors >= 2, "{today}");
    // Nothing about a visitor: not the role models they were shown, no similarity, no embedding.
    for doc in [&live, &text] {
        for (role_model, similarity) in &visits {
            assert!(!doc.contains(role_model.as_str()), "{role_model} (a visit's match) in the inventory:\n{doc}");
            assert!(!doc.contains(similarity.as_str()), "similarity {similarity} in the inventory:\n{doc}");
        }
        assert!(!doc.contains("similarity") && !doc.contains("embedding") && !doc.contains("role_model="), "{doc}");
        for line in doc.lines() {
            assert!(line.starts_with("rolemirror_"), "{line}");
            let numbers = line.split([',', ' ', '[', ']', '=']).filter(|t| t.contains('.') && t.parse::<f32>().is_ok()).count();
            assert!(numbers <= 1, "a run of numbers in {line}");
        }
    }
}

/// A rolemirror package in `dir` with the booth's config as a conffile.
fn fake_package(dir: &Path, version: &str) -> PathBuf {
    let p = dir.join(format!("pkg-{version}"));
    std::fs::create_dir_all(p.join("DEBIAN")).expect("mkdir");
    std::fs::create_dir_all(p.join("etc/rolemirror")).expect("mkdir");
    std::fs::create_dir_all(p.join("usr/share/rolemirror")).expect("mkdir");
    std::fs::write(
        p.join("DEBIAN/control"),
        format!("Package: rolemirror\nVersion: {version}\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: t\n"),
    )
    .expect("write");
    std::fs::write(p.join("DEBIAN/conffiles"), "/etc/rolemirror/rolemirror.toml\n").expect("write");
    std::fs::write(p.join("etc/rolemirror/rolemirror.toml"), format!("# the default config of {version}\n")).expect("write");
    std::fs::write(p.join("usr/share/rolemirror/version"), version).expect("write");
    let deb = dir.join(format!("rolemirror_{version}_all.deb"));
    assert_eq!(run(Command::new("dpkg-deb").args(["--build", "--root-owner-group"]).arg(&p).arg(&deb)).0, 0);
    deb
}

/// The package through Mender keeps an edited config where a plain `dpkg -i` (what Mender's and
/// Debian's `deb` module run) stops at dpkg's question; real dpkg, into a scratch root.
#[test]
fn the_package_module_keeps_the_booths_config_where_plain_dpkg_stops() {
    need_tools();
    let tmp = TempDir::new("mender-deb");
    let old = fake_package(tmp.path(), "0.1.0");
    let new = fake_package(tmp.path(), "0.2.0");
    let root_dir = tmp.path().join("root");
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(root_dir.join(d)).expect("mkdir");
    }
    std::fs::write(root_dir.join("var/lib/dpkg/status"), "").expect("write");
    let dpkg =
        |root: &Path, args: &[&str]| run(Command::new("dpkg").arg(format!("--root={}", root.display())).args(args).stdin(Stdio::null()));
    let (code, text) = dpkg(&root_dir, &["-i", s(&old)]);
    assert_eq!(code, 0, "{text}");
    let conf = root_dir.join("etc/rolemirror/rolemirror.toml");
    std::fs::write(&conf, "# this booth's own settings\n").expect("write");
    // What the `deb` module does, on a copy: dpkg asks, reads end of file, stops half-way.
    let copy = tmp.path().join("copy");
    assert!(Command::new("cp").arg("-a").arg(&root_dir).arg(&copy).status().expect("cp").success());
    let (code, text) = dpkg(&copy, &["-i", s(&new)]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("end of file on stdin at conffile prompt"), "{text}");
    let query = |root: &Path| {
        run(Command::new("dpkg-query").arg(format!("--admindir={}", root.join("var/lib/dpkg").display())).args([
            "-W",
            "-f",
            "${Status} ${Version}",
            "rolemirror",
        ]))
        .1
    };
    assert_eq!(query(&copy), "install ok unpacked 0.2.0");

    // The booth's module, through the client: installed, configured, the config kept.
    let cfg = tmp.path().join("booth.toml");
    std::fs::write(&cfg, format!("[state]\ndir = \"{}\"\n", tmp.path().join("state").display())).expect("write");
    let client = Client::new(&tmp.path().join("mender"), &format!("--config {} --dpkg-root {}", cfg.display(), root_dir.display()));
    let art = tmp.path().join("new.mender");
    let (code, text) = run(Command::new(bin()).args(["mender", "deb-artifact"]).arg(&new).arg("--out").arg(&art));
    assert_eq!(code, 0, "{text}");
    let (code, text) = client.run(&["install", s(&art)]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("doesn't support rollback. Committing immediately") && module_lines(&text).contains("committed rolemirror 0.2.0"),
        "{text}"
    );
    assert_eq!(query(&root_dir), "install ok installed 0.2.0");
    assert_eq!(std::fs::read_to_string(&conf).expect("config"), "# this booth's own settings\n");
    assert_eq!(
        std::fs::read_to_string(root_dir.join("etc/rolemirror/rolemirror.toml.dpkg-dist")).expect("dist"),
        "# the default config of 0.2.0\n"
    );
    assert_eq!(std::fs::read_to_string(root_dir.join("usr/share/rolemirror/version")).expect("version"), "0.2.0");
    assert_eq!(client.show_artifact(), "rolemirror-0.2.0-all");

    // Another package in a well-formed rolemirror-deb artifact: refused, nothing installed.
    let stranger = tmp.path().join("other");
    std::fs::create_dir_all(stranger.join("DEBIAN")).expect("mkdir");
    std::fs::write(
        stranger.join("DEBIAN/control"),
        "Package: not-the-booth\nVersion: 1\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: t\n",
    )
    .expect("write");
    let deb = tmp.path().join("not-the-booth.deb");
    assert_eq!(run(Command::new("dpkg-deb").args(["--build", "--root-owner-group"]).arg(&stranger).arg(&deb)).0, 0);
    let types = vec![artifact::DEFAULT_DEVICE_TYPE.to_string()];
    let spec = artifact::Spec {
        payload_type: "rolemirror-deb",
        name: "x".into(),
        device_types: &types,
        files: vec![deb],
        provides: ("package", "1".into()),
        key: None,
        scripts: &[],
    };
    let art = tmp.path().join("other.mender");
    artifact::write(&spec, &art).expect("mender-artifact");
    let (code, text) = client.run(&["install", s(&art)]);
    assert_ne!(code, 0, "{text}");
    assert!(module_lines(&text).contains("refused (this module installs only the booth's own package)"), "{text}");
    let (_, status) = run(Command::new("dpkg-query")
        .arg(format!("--admindir={}", root_dir.join("var/lib/dpkg").display()))
        .args(["-W", "not-the-booth"]));
    assert!(status.contains("no packages found"), "{status}");
}
