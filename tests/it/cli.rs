//! The command-line contract of docs/design.md, driven through the real binary.

use std::process::{Command, Output};

use crate::common::*;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn embed_json_contract_and_errors_per_image() {
    let tmp = TempDir::new("embed");
    let junk = tmp.path().join("notes.jpg");
    std::fs::write(&junk, b"this is text").expect("write");
    let two = shared().join("data/face-recognition-examples/two_people.jpg");
    let one = shared().join("data/faces-small/img1.jpg");
    let out = rolemirror(&["embed", "--json", s(&one), s(&junk), s(&two)]);
    assert_eq!(out.status.code(), Some(1), "an unreadable image makes the exit status 1");
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["image"], s(&one));
    let f = &lines[0]["faces"][0];
    assert_eq!(f["box"].as_array().expect("box").len(), 4);
    assert_eq!(f["landmarks"].as_array().expect("lm").len(), 5);
    let emb = floats(&f["embedding"]);
    assert_eq!(emb.len(), 512);
    assert!((emb.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-3);
    assert!(lines[1]["error"].as_str().expect("error").contains("image"), "{}", lines[1]);
    let faces = lines[2]["faces"].as_array().expect("faces");
    assert_eq!(faces.len(), 2);
    let area = |f: &serde_json::Value| floats(&f["box"])[2] * floats(&f["box"])[3];
    assert!(area(&faces[0]) >= area(&faces[1]), "largest first");
}

#[test]
fn missing_models_and_missing_index_say_what_to_run() {
    let tmp = TempDir::new("nomodels");
    let img = shared().join("data/faces-small/img1.jpg");
    let out = Command::new(env!("CARGO_BIN_EXE_rolemirror"))
        .args(["--models", s(tmp.path()), "embed", "--json", s(&img)])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("models fetch") && err.lines().count() == 1, "{err}");

    std::fs::write(
        tmp.path().join("gallery.toml"),
        "[[role_model]]\nid = \"a\"\nname = \"A\"\nrole = \"R\"\nstory_url = \"https://example.org/a\"\nphotos = [\"a.jpg\"]\n",
    )
    .expect("write");
    std::fs::copy(&img, tmp.path().join("a.jpg")).expect("copy");
    let out = rolemirror(&["match", "--gallery", s(tmp.path()), "--json", s(&img)]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gallery build"));
}

#[test]
fn gallery_build_check_and_match_json() {
    let tmp = TempDir::new("cli-gallery");
    rolemirror::demo::data::fetch(&shared().join("data"), tmp.path()).expect("demo fetch");
    let g = tmp.path().join("gallery");
    let out = rolemirror(&["gallery", "check", s(&g)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!g.join("index.json").exists(), "check writes nothing");
    let out = rolemirror(&["gallery", "build", s(&g)]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("12 role models"), "{}", stdout(&out));
    let visitor = tmp.path().join("visitors/img30.jpg");
    let wall = tmp.path().join("wall.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([200, 200, 200])).save(&wall).expect("png");
    let out = rolemirror(&["match", "--gallery", s(&g), "--top", "3", "--json", s(&visitor), s(&wall)]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let m = lines[0]["matches"].as_array().expect("matches");
    assert_eq!(m.len(), 3);
    assert_eq!(m[0]["id"], "demo-02");
    assert!(m[0]["similarity"].as_f64() >= m[1]["similarity"].as_f64());
    assert!(m[0]["percent"].as_u64().expect("percent") <= 100);
    assert_eq!(lines[1]["matches"].as_array().expect("empty").len(), 0);
    assert!(lines[1]["face"].is_null());
}

#[test]
fn models_fetch_verifies_derives_and_is_idempotent() {
    let tmp = TempDir::new("fetch");
    let dir = tmp.path().join("models");
    let mirror = shared().join("models");
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_rolemirror")).args(args).output().expect("runs");
    let out = run(&["--models", s(&dir), "models", "fetch", "--mirror", s(&mirror)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(text.contains("CopiedFromMirror") && text.contains("Derived"), "{text}");
    let out = run(&["--models", s(&dir), "models", "fetch", "--mirror", s(&mirror)]);
    assert!(stdout(&out).lines().all(|l| l.contains("AlreadyPresent")), "{}", stdout(&out));

    // A mirror whose file does not match the manifest is refused, and nothing is installed.
    let bad_mirror = tmp.path().join("bad");
    std::fs::create_dir_all(bad_mirror.join("yunet")).expect("mkdir");
    std::fs::write(bad_mirror.join("yunet/yunet_n_320_320.onnx"), b"tampered").expect("write");
    let fresh = tmp.path().join("fresh");
    let out = run(&["--models", s(&fresh), "models", "fetch", "--mirror", s(&bad_mirror)]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
    assert!(!fresh.join("yunet/yunet_n_320_320.onnx").exists());

    // A corrupted installed model is named at load.
    std::fs::write(dir.join("yunet/yunet_n_320_320.onnx"), b"bitrot").expect("write");
    let img = shared().join("data/faces-small/img1.jpg");
    let out = run(&["--models", s(&dir), "embed", "--json", s(&img)]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sha256"));
}

#[test]
fn bench_reports_plausible_stage_times() {
    let img = shared().join("data/faces-small/img2.jpg");
    let started = std::time::Instant::now();
    let out = rolemirror(&["bench", "--json", "--runs", "3", "--image", s(&img)]);
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(v["runs"], 3);
    let stage = |name: &str| v["median_ms"][name].as_f64().unwrap_or_else(|| panic!("median_ms.{name} in {v}"));
    let stages = ["decode", "detect", "align", "embed", "match"];
    for name in stages {
        let ms = stage(name);
        assert!(ms.is_finite() && ms > 0.0, "{name}: {ms} ms");
    }
    // The networks cost more than the geometry around them.
    assert!(stage("detect") > stage("align") && stage("embed") > stage("align") && stage("embed") > stage("match"), "{v}");
    // The stages add up to the total, and 3 runs (plus 2 warm-ups) of it fit in the time the
    // command took: a stage that was not timed, or timed twice, shows here.
    let total = v["total_ms"].as_f64().expect("total_ms");
    let sum: f64 = stages.iter().map(|n| stage(n)).sum();
    assert!((total - sum).abs() < 0.01, "total {total} vs sum {sum}");
    assert!(total * 5.0 < wall_ms, "5 x {total} ms cannot fit in {wall_ms:.0} ms");
    // Each network's MACs (counted from its graph) and its rate as a share of the core's
    // measured FMA peak: a rate above the peak (with room for a loaded machine's noise) means a
    // miscount.
    for net in ["detector", "embedder"] {
        let e = &v["efficiency"][net];
        let (macs, share) = (e["macs"].as_u64().unwrap_or(0), e["share"].as_f64().unwrap_or(-1.0));
        assert!(macs > 10_000_000 && share > 0.0 && share < 1.5, "efficiency.{net}: {e} in {v}");
    }
}

#[test]
fn demo_matches_the_in_gallery_visitors_and_writes_screens() {
    let tmp = TempDir::new("demo-run");
    demo_gallery(&tmp);
    let out_dir = tmp.path().join("out");
    let out = rolemirror(&["demo", "--data", s(tmp.path()), "--out", s(&out_dir), "--size", "960x540"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    let demo = rolemirror::demo::data::DemoData::builtin().expect("demo list");
    let mut right = 0;
    for v in demo.visitors.iter().filter(|v| v.expect.is_some()) {
        let file = rolemirror::demo::data::flat_name(&v.photo);
        let want = v.expect.as_deref().unwrap_or_default();
        if text
            .lines()
            .any(|l| l.starts_with("event=match ") && l.contains(&format!("visitor={file} ")) && l.contains(&format!("role_model={want} ")))
        {
            right += 1;
        }
    }
    assert!(right >= 11, "only {right}/12 in-gallery visitors matched:\n{text}");
    assert!(text.lines().any(|l| l.starts_with("event=no_face visitor=")), "the empty room shows no face");
    let screens: Vec<String> = std::fs::read_dir(out_dir.join("screens"))
        .expect("screens")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for kind in ["attract", "matching", "result", "thanks"] {
        assert!(screens.iter().any(|n| n.ends_with(&format!("-{kind}.png"))), "no {kind} screen in {screens:?}");
    }
}

/// `demo --config --visitors --act`: a booth's own config and photos (nothing fetched), and a
/// visitor who asks for another match and then the other language — each act an event and a
/// new result screen.
#[test]
fn demo_on_a_booths_config_with_a_visitor_who_acts() {
    let tmp = TempDir::new("demo-config");
    let gallery = demo_gallery(&tmp);
    let demo = rolemirror::demo::data::DemoData::builtin().expect("demo list");
    let visitor = demo.visitors.iter().find(|v| v.expect.is_some()).expect("an in-gallery visitor");
    let file = rolemirror::demo::data::flat_name(&visitor.photo);
    let visitors = tmp.path().join("one-visitor");
    std::fs::create_dir_all(&visitors).expect("mkdir");
    std::fs::copy(tmp.path().join("visitors").join(&file), visitors.join(&file)).expect("copy visitor");
    let config = tmp.path().join("booth.toml");
    std::fs::write(&config, format!("[vision]\nmodels = {:?}\n\n[gallery]\ndir = {:?}\n", s(&models()), s(&gallery)))
        .expect("write config");
    let out_dir = tmp.path().join("out");
    let args = ["demo", "--config", s(&config), "--visitors", s(&visitors), "--out", s(&out_dir), "--size", "640x400"];
    let out = rolemirror(&[&args[..], &["--act", "next,language"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("event=")).map(|l| l.split(' ').next().unwrap_or_default()).collect();
    let from_match = &lines[lines.iter().position(|l| *l == "event=match").unwrap_or_else(|| panic!("no match:\n{text}"))..];
    assert_eq!(from_match[..3], ["event=match", "event=another_match", "event=language"], "{text}");
    assert!(text.contains("event=another_match rank=2 ") && text.contains("event=language language=nl"), "{text}");
    let mut results: Vec<_> = std::fs::read_dir(out_dir.join("screens"))
        .expect("screens")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-result.png"))
        .collect();
    results.sort();
    // The match's card, then the acted-on cards (each redrawn with the next frames), then the
    // card without the visitor's picture when they leave.
    assert!(results.len() >= 4, "{results:?}");
    let png = |p: &std::path::Path| image::open(p).expect("png").to_rgb8();
    let (first, next, language) = (png(&results[0]), png(&results[1]), png(&results[results.len() - 2]));
    assert_ne!(first, next, "another match: the same card");
    assert_ne!(next, language, "the other language: the same card");

    // A config with a mistake: the file and the key, nothing run.
    std::fs::write(&config, "[display]\nrotation = 45\n").expect("write config");
    let out = rolemirror(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains(s(&config)) && err.contains("display.rotation"), "{err}");
}
