//! A newcomer's first `rolemirror demo` and the progress bars of long commands.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use crate::common::{models, rolemirror, s, shared, TempDir};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `rolemirror demo` in `checkout` as a newcomer runs it: no model or mirror variables set.
fn demo_in(checkout: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rolemirror"))
        .args(["demo", "--size", "480x270"])
        .env_remove("ROLEMIRROR_SHARED")
        .env_remove("ROLEMIRROR_MODELS")
        .current_dir(checkout)
        .output()
        .expect("binary runs")
}

fn mtimes(dir: &Path, out: &mut Vec<(PathBuf, SystemTime)>) {
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            mtimes(&p, out);
        } else if let Ok(t) = e.metadata().and_then(|m| m.modified()) {
            out.push((p, t));
        }
    }
}

/// The layout of a fresh clone: a checkout with only its model manifest (models and photos are
/// gitignored) and the mirror as `../shared` beside it, here a symlink to the real one.
#[test]
fn first_demo_fetches_what_it_lacks_and_the_second_fetches_nothing() {
    let tmp = TempDir::new("firstrun");
    let checkout = tmp.path().join("checkout");
    std::fs::create_dir_all(checkout.join("models")).expect("mkdir");
    std::fs::copy(crate::common::root().join("models/manifest.toml"), checkout.join("models/manifest.toml")).expect("manifest");
    let mirror = std::fs::canonicalize(shared()).expect("the ../shared mirror exists");
    std::os::unix::fs::symlink(&mirror, tmp.path().join("shared")).expect("symlink");

    let first = demo_in(&checkout);
    let (out, err) = (text(&first.stdout), text(&first.stderr));
    assert_eq!(first.status.code(), Some(0), "{err}");
    let manifest = rolemirror::models::Manifest::builtin().expect("manifest");
    for spec in &manifest.models {
        assert!(err.contains(&format!("demo:   {}: ", spec.id)), "{} not fetched:\n{err}", spec.id);
        rolemirror::models::verified_path(&checkout.join("models"), spec).expect("model verified after the first run");
    }
    assert!(err.contains("copying from the mirror ../shared/models"), "{err}");
    assert!(err.contains("demo photos: 43 of 43 missing in demo; fetching from the mirror ../shared/data"), "{err}");
    assert!(err.contains("demo gallery: built demo/gallery/index.json"), "{err}");
    // Every in-gallery visitor matches its role model, as in the demo test on prepared data.
    let demo = rolemirror::demo::data::DemoData::builtin().expect("demo list");
    let expected: Vec<_> = demo.visitors.iter().filter(|v| v.expect.is_some()).collect();
    let right = expected
        .iter()
        .filter(|v| {
            let file = rolemirror::demo::data::flat_name(&v.photo);
            let want = v.expect.as_deref().unwrap_or_default();
            out.lines().any(|l| {
                l.starts_with("event=match ") && l.contains(&format!("visitor={file} ")) && l.contains(&format!("role_model={want} "))
            })
        })
        .count();
    assert_eq!((right, expected.len()), (12, 12), "{out}");
    assert!(checkout.join("demo-out/screens").read_dir().expect("screens").count() > 10);

    // The second run: everything is there, nothing is fetched or rebuilt (files untouched).
    let mut before = Vec::new();
    mtimes(&checkout.join("models"), &mut before);
    mtimes(&checkout.join("demo"), &mut before);
    let second = demo_in(&checkout);
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(0), "{err}");
    for want in
        ["models: all 5 present in models (checksums verified)", "demo photos: all 43 present in demo", "demo gallery: index up to date"]
    {
        assert!(err.contains(want), "no {want:?} in:\n{err}");
    }
    assert!(!err.contains("copied") && !err.contains("fetched") && !err.contains("built"), "{err}");
    let mut after = Vec::new();
    mtimes(&checkout.join("models"), &mut after);
    mtimes(&checkout.join("demo"), &mut after);
    assert_eq!(before, after, "the second run rewrote files");
}

/// A small gallery with no index, so `gallery build` embeds every photo.
fn fresh_gallery(tmp: &TempDir) -> PathBuf {
    let dir = tmp.path().join("gallery");
    rolemirror::demo::data::fetch(&shared().join("data"), tmp.path()).expect("demo fetch");
    let _ = std::fs::remove_file(dir.join("index.json"));
    dir
}

/// A bar's traces: a carriage return that is not a line end (a pseudo-terminal turns `\n` into
/// `\r\n`), an escape sequence, or the bar itself.
fn has_bar_bytes(stderr: &str) -> bool {
    stderr.replace("\r\n", "\n").contains('\r') || stderr.contains("\x1b[") || stderr.contains("embedding [")
}

#[test]
fn progress_is_quiet_in_a_pipe_and_drawn_on_a_terminal() {
    let tmp = TempDir::new("progress");
    let gallery = fresh_gallery(&tmp);
    // Piped (as in CI and scripts): not one byte of a bar.
    let piped = rolemirror(&["gallery", "build", s(&gallery)]);
    assert_eq!(piped.status.code(), Some(0), "{}", text(&piped.stderr));
    assert!(!has_bar_bytes(&text(&piped.stderr)), "{:?}", text(&piped.stderr));
    assert!(text(&piped.stdout).contains("12 photos accepted (12 embedded"), "{}", text(&piped.stdout));

    // On a terminal (a pseudo-terminal from util-linux `script`): the bar is drawn. This is
    // the other half of the check above, so it cannot pass by never drawing anything.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped the terminal half: no `script` (util-linux)");
        return;
    }
    std::fs::remove_file(gallery.join("index.json")).expect("index written");
    let cmd = format!("{} --models {} gallery build {}", env!("CARGO_BIN_EXE_rolemirror"), s(&models()), s(&gallery));
    let tty = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().expect("script runs");
    let shown = text(&tty.stdout);
    assert!(tty.status.success(), "{shown}");
    assert!(shown.contains("embedding ["), "no bar on a terminal: {shown:?}");
}

/// `eval pairs` on a terminal: a bar without `--json`, none with it (stdout stays one JSON line).
#[test]
fn eval_progress_on_a_terminal_but_not_with_json() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` (util-linux) for a pseudo-terminal");
        return;
    }
    let tmp = TempDir::new("progress-eval");
    let pairs = tmp.path().join("pairs.txt");
    std::fs::write(
        &pairs,
        "2\nAbdullah_Gul\t13\t14\nAbdullah_Gul\t13\t16\nAJ_Lamas\t1\tZach_Safrin\t1\nAaron_Guiel\t1\tReese_Witherspoon\t3\n",
    )
    .expect("pairs");
    let root = shared().join("data/lfw-dev/images");
    let on_tty = |json: bool| {
        let cmd = format!(
            "{} --models {} eval pairs --pairs {} --root {}{}",
            env!("CARGO_BIN_EXE_rolemirror"),
            s(&models()),
            s(&pairs),
            s(&root),
            if json { " --json" } else { "" }
        );
        let o = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().expect("script runs");
        assert!(o.status.success(), "{}", text(&o.stdout));
        text(&o.stdout)
    };
    let plain = on_tty(false);
    assert!(plain.contains("embedding ["), "no bar on a terminal: {plain:?}");
    let json = on_tty(true);
    assert!(!has_bar_bytes(&json), "a bar with --json: {json:?}");
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON value");
    assert_eq!(v["pairs"], 4, "{v}");
}
