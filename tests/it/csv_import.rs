//! `gallery import --csv` and `gallery new` on real files: LibreOffice's own CSV exports
//! (tests/fixtures/csv/README.md says how each was made), the demo's real face photos, and the
//! built binary.

use std::path::{Path, PathBuf};
use std::process::Output;

use rolemirror::gallery::GalleryManifest;

use crate::common::*;

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/csv").join(name)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array().expect("array").iter().map(|x| x.as_str().expect("id").to_string()).collect()
}

/// A gallery folder in `tmp` with the real face photos the fixtures name: three demo photos and a
/// second photo of demo-01's person (faces-small img10.jpg).
fn photo_folder(tmp: &TempDir) -> PathBuf {
    let dir = tmp.path().join("gallery");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for p in ["img1.jpg", "img29.jpg", "img26.jpg", "img47.jpg", "img3.jpg"] {
        std::fs::copy(demo_dir().join("gallery").join(p), dir.join(p)).expect("demo photo");
    }
    std::fs::copy(shared().join("data/faces-small/img10.jpg"), dir.join("img10.jpg")).expect("faces-small photo");
    dir
}

fn manifest(dir: &Path) -> GalleryManifest {
    GalleryManifest::load(dir).expect("gallery.toml")
}

#[test]
fn libreoffice_exports_import_and_the_gallery_builds() {
    let mut first: Option<GalleryManifest> = None;
    for name in [
        "libreoffice-comma-quoted.csv",
        "libreoffice-semicolon-quoted.csv",
        "libreoffice-comma.csv",
        "libreoffice-semicolon-quoted-bom.csv",
    ] {
        let tmp = TempDir::new("csv-lo");
        let dir = photo_folder(&tmp);
        let out = rolemirror(&["gallery", "import", s(&dir), "--csv", s(&fixture(name)), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out));
        let v = json(&out);
        assert_eq!(ids(&v["added"]), ["lo-01", "lo-02", "lo-03"], "{name}: {v}");
        assert_eq!((v["written"].as_bool(), v["problems"].as_array().map(Vec::len)), (Some(true), Some(0)), "{name}: {v}");
        assert_eq!(v["separator"], if name.contains("semicolon") { ";" } else { "," }, "{name}");
        assert_eq!(v["bom"], name.contains("bom"), "{name}");
        let m = manifest(&dir);
        let rm = &m.role_models;
        assert_eq!(rm[0].name, "Zoë Janssen-de Vries");
        assert_eq!(rm[0].quote, "Ik zei: \"doe het\", en ik deed het; nooit spijt.");
        assert_eq!(rm[0].photos, ["img1.jpg", "img10.jpg"]);
        let d = rm[0].declared.as_ref().expect("declared");
        assert!(d.consent && d.gender.as_deref() == Some("woman") && d.tags == ["first generation", "STEM"], "{d:?}");
        assert_eq!(rm[1].name, "Seán O’Brien");
        assert_eq!(rm[1].quote, "First line of the quote.\nSecond line, after a line break.");
        assert_eq!((rm[1].declared.as_ref(), rm[2].declared.as_ref(), rm[2].quote.as_str()), (None, None, ""));
        let check = rolemirror(&["gallery", "check", s(&dir)]);
        assert_eq!(check.status.code(), Some(0), "{name}: {}", text(&check));
        match &first {
            None => {
                let build = rolemirror(&["gallery", "build", s(&dir)]);
                assert_eq!(build.status.code(), Some(0), "{}", text(&build));
                assert!(text(&build).contains("3 role models, 4 photos accepted"), "{}", text(&build));
                first = Some(m);
            }
            Some(f) => assert_eq!(&m, f, "{name} differs from the first export"),
        }
    }
}

#[test]
fn libreoffice_default_export_is_windows_1252_and_refused_by_row_column_and_byte() {
    let tmp = TempDir::new("csv-1252");
    let dir = photo_folder(&tmp);
    let out = rolemirror(&["gallery", "import", s(&dir), "--csv", s(&fixture("libreoffice-default-windows-1252.csv"))]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    for want in [
        "row 2, column B (Name): byte 0xEB ('ë' in Windows-1252) at byte 77 of the file is not UTF-8",
        "row 3, column B (Name): byte 0xE1 ('á' in Windows-1252)",
        "export it again as UTF-8",
        "nothing written",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
    let bytes = std::fs::read(fixture("libreoffice-default-windows-1252.csv")).expect("fixture");
    assert_eq!(bytes[77], 0xeb);
    assert!(!dir.join("gallery.toml").exists());
}

#[test]
fn five_mistakes_are_all_reported_by_row_and_column_and_nothing_is_written() {
    let tmp = TempDir::new("csv-five");
    let dir = photo_folder(&tmp);
    let out = rolemirror(&["gallery", "import", s(&dir), "--csv", s(&fixture("five-mistakes.csv"))]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    let lines: Vec<&str> = t.lines().filter(|l| l.starts_with("  ")).map(str::trim).collect();
    let want = [
        "row 2, column G (photos): \"img99.jpg\" does not exist",
        "row 3, column A (id): the id \"nl-01\" is also on row 2",
        "row 4, column E (quote): 251 characters, at most 200",
        "row 5, column F (story_url): \"www.example.org/stories/nl-04\" is not an http(s) URL",
        "row 6, column C (role): must not be empty",
    ];
    assert_eq!(lines.len(), 5, "{t}");
    for w in want {
        assert!(lines.iter().any(|l| l.starts_with(w)), "missing {w:?} in\n{t}");
    }
    assert!(t.contains("5 problem(s), nothing written"), "{t}");
    assert!(!dir.join("gallery.toml").exists(), "written despite problems");
    // The same over an existing gallery: its gallery.toml is left as it was, no temp file behind.
    let g = demo_gallery(&tmp);
    let before = std::fs::read(g.join("gallery.toml")).expect("toml");
    let listing = |d: &Path| {
        let mut v: Vec<_> = std::fs::read_dir(d).expect("ls").flatten().map(|e| e.file_name()).collect();
        v.sort();
        v
    };
    let files = listing(&g);
    let out = rolemirror(&["gallery", "import", s(&g), "--csv", s(&fixture("five-mistakes.csv")), "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let v = json(&out);
    assert_eq!((v["ok"].as_bool(), v["written"].as_bool()), (Some(false), Some(false)));
    let p = v["problems"].as_array().expect("problems");
    let placed: Vec<(u64, &str)> = p.iter().map(|x| (x["row"].as_u64().expect("row"), x["column"].as_str().expect("column"))).collect();
    assert_eq!(placed.len(), 5, "{v}");
    for want in [(2, "G"), (3, "A"), (4, "E"), (5, "F"), (6, "C")] {
        assert!(placed.contains(&want), "{want:?} missing in {placed:?}");
    }
    assert_eq!(std::fs::read(g.join("gallery.toml")).expect("toml"), before);
    assert_eq!(listing(&g), files);
}

#[test]
fn import_updates_an_existing_gallery_and_keeps_role_models_not_in_the_csv() {
    let tmp = TempDir::new("csv-update");
    let g = demo_gallery(&tmp);
    std::fs::copy(shared().join("data/faces-small/img10.jpg"), g.join("img10.jpg")).expect("photo");
    std::fs::copy(shared().join("data/face-recognition-examples/biden.jpg"), g.join("new-01.jpg")).expect("photo");
    let csv = tmp.path().join("update.csv");
    std::fs::write(
        &csv,
        "id;name;role;branch;quote;story_url;photos\r\n\
         demo-01;Renamed Person;Engineer;Navy;\"New words; new role.\";https://example.org/rolemirror/stories/demo-01;\"img1.jpg; img10.jpg\"\r\n\
         new-01;New Person;Pilot;Air Force;;https://example.org/stories/new-01;new-01.jpg\r\n\
         demo-02;Demo role model 02;Placeholder role;Placeholder branch;Placeholder quote: a real gallery shows the role model's own words here.;https://example.org/rolemirror/stories/demo-02;img29.jpg\r\n",
    )
    .expect("csv");
    let before = manifest(&g);
    let out = rolemirror(&["gallery", "import", s(&g), "--csv", s(&csv), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json(&out);
    assert_eq!(
        (ids(&v["updated"]), ids(&v["added"]), ids(&v["unchanged"])),
        (vec!["demo-01".into()], vec!["new-01".into()], vec!["demo-02".into()])
    );
    let kept: Vec<String> = before.role_models[2..].iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids(&v["kept"]), kept);
    let after = manifest(&g);
    assert_eq!(after.role_models.len(), 13);
    assert_eq!(after.role_models[0].name, "Renamed Person");
    assert_eq!(after.role_models[0].photos, ["img1.jpg", "img10.jpg"]);
    assert_eq!(after.role_models[12].id, "new-01");
    assert_eq!(after.role_models[1..12], before.role_models[1..12], "the others are untouched, in place");
    // The same CSV again: nothing to do, nothing written.
    let toml = std::fs::read(g.join("gallery.toml")).expect("toml");
    let out = rolemirror(&["gallery", "import", s(&g), "--csv", s(&csv)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("already up to date, nothing written (0 added, 0 updated, 3 unchanged, 10 kept)"), "{}", text(&out));
    assert_eq!(std::fs::read(g.join("gallery.toml")).expect("toml"), toml);
    let build = rolemirror(&["gallery", "build", s(&g)]);
    assert_eq!(build.status.code(), Some(0), "{}", text(&build));
    assert!(text(&build).contains("13 role models, 14 photos accepted"), "{}", text(&build));
}

#[test]
fn gallery_new_then_import_of_the_template() {
    let tmp = TempDir::new("csv-new");
    let g = tmp.path().join("new-gallery");
    let out = rolemirror(&["gallery", "new", s(&g)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (toml, csv) = (g.join("gallery.toml"), g.join("role-models.csv"));
    let written = (std::fs::read(&toml).expect("toml"), std::fs::read(&csv).expect("csv"));
    assert!(GalleryManifest::load(&g).expect("the template parses").role_models.is_empty());
    let again = rolemirror(&["gallery", "new", s(&g)]);
    assert_eq!(again.status.code(), Some(3), "{}", text(&again));
    assert!(text(&again).contains("already exist"), "{}", text(&again));
    assert_eq!((std::fs::read(&toml).expect("toml"), std::fs::read(&csv).expect("csv")), written, "overwritten");
    let out = rolemirror(&["gallery", "import", s(&g), "--csv", s(&csv)]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = text(&out);
    let lines: Vec<&str> = t.lines().filter(|l| l.starts_with("  ")).map(str::trim).collect();
    assert_eq!(lines, ["row 2, column G (photos): \"example-01.jpg\" does not exist"], "{t}");
    std::fs::copy(demo_dir().join("gallery/img1.jpg"), g.join("example-01.jpg")).expect("photo");
    let out = rolemirror(&["gallery", "import", s(&g), "--csv", s(&csv)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("written (1 added, 0 updated, 0 unchanged, 0 kept)"), "{}", text(&out));
    let check = rolemirror(&["gallery", "check", s(&g)]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
}
