//! Gallery build, cache, staleness and matching on real photos.

use std::collections::HashMap;

use rolemirror::demo::data::{flat_name, DemoData};
use rolemirror::gallery::index::{self, Index, PhotoRules};
use rolemirror::gallery::{Gallery, GalleryManifest};
use rolemirror::util::image;

use crate::common::*;

/// Person label of each faces-small photo, and how many faces the reference found in it.
fn identities() -> HashMap<String, (String, u32)> {
    let text = std::fs::read_to_string(shared().join("data/faces-small/identities.csv")).expect("identities.csv");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?.to_string(), (f.next()?.to_string(), f.next()?.parse().ok()?)))
        })
        .collect()
}

/// Writes the demo gallery (one photo per person) into a temp dir and builds it.
fn fresh_demo_gallery(tmp: &TempDir) -> (DemoData, GalleryManifest) {
    let demo = DemoData::builtin().expect("demo list");
    rolemirror::demo::data::fetch(&shared().join("data"), tmp.path()).expect("demo fetch from ../shared/data");
    let dir = tmp.path().join("gallery");
    let manifest = GalleryManifest::load(&dir).expect("manifest");
    let (index, stats) =
        index::build(&dir, &manifest, default_vision(), &PhotoRules::default(), None, index::Portraits::Prepare, |_, _| {}).expect("build");
    assert_eq!((stats.embedded, stats.rejected), (12, 0), "{:?}", index.rejected);
    index.write(&dir).expect("write index");
    (demo, manifest)
}

#[test]
fn every_other_photo_of_a_gallery_person_matches_that_person() {
    let tmp = TempDir::new("demo");
    let (demo, _) = fresh_demo_gallery(&tmp);
    let v = default_vision();
    let gallery = Gallery::open(&tmp.path().join("gallery"), &v.embedder_id).expect("open");
    let ids = identities();
    let person_to_rm: HashMap<String, String> =
        demo.role_models.iter().map(|rm| (ids[&flat_name(&rm.photo)].0.clone(), rm.id.clone())).collect();
    let gallery_files: Vec<String> = demo.role_models.iter().map(|rm| flat_name(&rm.photo)).collect();
    let (mut right, mut total) = (0, 0);
    let mut wrong = Vec::new();
    for (file, (person, faces)) in &ids {
        let Some(want) = person_to_rm.get(person) else { continue };
        if *faces != 1 || gallery_files.contains(file) {
            continue;
        }
        let img = image::load(&shared().join("data/faces-small").join(file), image::DEFAULT_MAX_PIXELS).expect("photo");
        let faces = v.faces(&img).expect("detect");
        let e = v.describe_face(&img, &faces[0]).expect("embed");
        let top = gallery.top_k(&e, 2);
        total += 1;
        if &top[0].role_model.id == want {
            right += 1;
        } else {
            wrong.push(format!("{file} ({person}): got {} {:.3}, want {want}", top[0].role_model.id, top[0].similarity));
        }
    }
    eprintln!("{right}/{total} photos matched their person");
    assert!(total >= 40, "only {total} photos checked");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn rebuild_uses_the_cache_and_changes_are_detected() {
    let tmp = TempDir::new("cache");
    fresh_demo_gallery(&tmp);
    let dir = tmp.path().join("gallery");
    let v = default_vision();
    let manifest = GalleryManifest::load(&dir).expect("manifest");
    let previous = Index::read(&dir).expect("read").expect("exists");
    assert!(previous.staleness(&dir, &v.embedder_id).is_none());
    let (again, stats) =
        index::build(&dir, &manifest, v, &PhotoRules::default(), Some(&previous), index::Portraits::Prepare, |_, _| {}).expect("build");
    assert_eq!((stats.embedded, stats.reused), (0, 12));
    assert_eq!(again.photos, previous.photos);

    // Another model: the cache does not apply, the index is stale.
    let mut other = v.embedder_id.clone();
    other.sha256 = "0".repeat(64);
    assert!(previous.staleness(&dir, &other).expect("stale").contains("built with model"));

    // A photo replaced by another person's photo: stale, and only that photo is embedded again.
    let swapped = &manifest.role_models[0].photos[0];
    std::fs::copy(shared().join("data/faces-small/img2.jpg"), dir.join(swapped)).expect("copy");
    assert!(previous.staleness(&dir, &v.embedder_id).expect("stale").contains(swapped.as_str()));
    let (_, stats) =
        index::build(&dir, &manifest, v, &PhotoRules::default(), Some(&previous), index::Portraits::Prepare, |_, _| {}).expect("build");
    assert_eq!((stats.embedded, stats.reused), (1, 11));

    // A corrupt index is an error that says what to run.
    std::fs::write(dir.join(index::INDEX_FILE), b"{not json").expect("write");
    let err = Gallery::open(&dir, &v.embedder_id).expect_err("corrupt");
    assert!(format!("{err:#}").contains("gallery build"), "{err:#}");
}

/// Each card's portrait is prepared at build beside the index (the 3:4 crop the card would have
/// made from the photo, as a JPEG checked by its sha256) and is what the card shows; a changed
/// or missing portrait, or an index from before them, is stale and rebuilt without embedding a
/// photo again; a changed portrait is never shown (the card decodes the photo instead).
#[test]
fn cards_show_portraits_prepared_at_build() {
    use rolemirror::display::render::Assets;
    use rolemirror::display::scene::{Guidance, Scene};
    use rolemirror::display::text::Fonts;
    use rolemirror::gallery::portrait;
    let tmp = TempDir::new("portraits");
    fresh_demo_gallery(&tmp);
    let dir = tmp.path().join("gallery");
    let v = default_vision();
    let idx = Index::read(&dir).expect("read").expect("exists");
    let firsts: Vec<&index::PhotoEntry> =
        idx.photos.iter().filter(|p| idx.photos.iter().find(|q| q.role_model == p.role_model) == Some(*p)).collect();
    assert_eq!(firsts.len(), 12);
    for p in &firsts {
        let prepared = p.portrait.as_ref().unwrap_or_else(|| panic!("{}: no portrait", p.file));
        assert_eq!(portrait::problem(&dir, prepared), None);
        // The crop the card made from the photo before, within JPEG's loss.
        let want = portrait::crop(&image::load(&dir.join(&p.file), image::DEFAULT_MAX_PIXELS).expect("photo"), p.face);
        let got = portrait::load(&dir, prepared).expect("portrait");
        assert_eq!(got.dimensions(), want.dimensions(), "{}", p.file);
        let mean = got.as_raw().iter().zip(want.as_raw()).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / got.as_raw().len() as f64;
        assert!(mean < 3.0, "{}: portrait {mean:.2} levels from the photo's crop on average", p.file);
    }
    // Each with its small copy, for the look-alikes' thumbnails.
    assert_eq!(std::fs::read_dir(dir.join(portrait::DIR)).expect("portraits").count(), 24);
    // The card shows the prepared portrait.
    let gallery = Gallery::open(&dir, &v.embedder_id).expect("opens");
    let fonts = Fonts::load(
        std::path::Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        std::path::Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    )
    .expect("fonts");
    let assets = Assets::new(fonts, Default::default(), Some(&gallery));
    let first = gallery.index.photos.iter().find(|p| p.role_model == gallery.role_models[0].id).expect("first");
    let prepared = first.portrait.clone().expect("portrait");
    assert_eq!(*assets.photo(0).expect("shown"), portrait::load(&dir, &prepared).expect("portrait"));
    // A thumbnail shows its small copy.
    assert_eq!(*assets.thumbnail(0).expect("thumbnail"), portrait::load_small(&dir, &prepared).expect("small copy"));
    // Without its small copy, the portrait (not the photo).
    let small_file = dir.join(&prepared.small.as_ref().expect("small copy").file);
    let small_bytes = std::fs::read(&small_file).expect("read");
    std::fs::remove_file(&small_file).expect("rm");
    assets.forget_portraits();
    assert_eq!(*assets.thumbnail(0).expect("thumbnail"), portrait::load(&dir, &prepared).expect("portrait"));
    std::fs::write(&small_file, small_bytes).expect("write");
    // Loaded while the visitor holds still (the live scene's likely match, then a look-alike):
    // the result card draws them without a file read — here with the portraits' folder away.
    let second = gallery.index.photos.iter().find(|p| p.role_model == gallery.role_models[1].id).expect("second");
    let (want_best, want_thumb) = (
        portrait::load(&dir, &prepared).expect("portrait"),
        portrait::load_small(&dir, second.portrait.as_ref().expect("portrait")).expect("small"),
    );
    assets.forget_portraits();
    let live = |likely: Vec<usize>| Scene::Live {
        frame: std::sync::Arc::new(::image::RgbImage::new(4, 4)),
        face: None,
        mirror: true,
        guidance: Guidance::HoldStill,
        progress: Some(0.5),
        language: None,
        likely,
    };
    assets.prefetch(&live(vec![0, 1]));
    let away = tmp.path().join("portraits-away");
    std::fs::rename(dir.join(portrait::DIR), &away).expect("move");
    assert_eq!(*assets.photo(0).expect("shown"), want_best);
    assert_eq!(*assets.thumbnail(1).expect("thumbnail"), want_thumb);
    // Not prefetched: the photo's own crop (the folder is really away).
    let third = gallery.index.photos.iter().find(|p| p.role_model == gallery.role_models[2].id).expect("third");
    let crop = portrait::crop(&image::load(&dir.join(&third.file), image::DEFAULT_MAX_PIXELS).expect("photo"), third.face);
    assert_eq!(*assets.thumbnail(2).expect("thumbnail"), crop);
    std::fs::rename(&away, dir.join(portrait::DIR)).expect("move back");
    // A scene without a likely match loads nothing.
    assets.forget_portraits();
    assets.prefetch(&live(Vec::new()));
    assets.prefetch(&Scene::Attract { showcase: Some(3) });
    assert_eq!(assets.kept(), 0);
    // A changed portrait: not shown (the photo's own crop is), and the index is stale.
    let tampered = portrait::load(&dir, &prepared).expect("portrait");
    let mut bad = Vec::new();
    ::image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bad, 50).encode_image(&tampered).expect("encode");
    std::fs::write(dir.join(&prepared.file), &bad).expect("tamper");
    assets.forget_portraits();
    let shown = assets.photo(0).expect("shown");
    assert_eq!(*shown, portrait::crop(&image::load(&dir.join(&first.file), image::DEFAULT_MAX_PIXELS).expect("photo"), first.face));
    let why = gallery.index.staleness(&dir, &v.embedder_id).expect("stale");
    assert!(why.contains(&prepared.file) && why.contains("changed"), "{why}");
    // Rebuilt from the previous index: nothing embedded again, the portrait made again.
    let manifest = GalleryManifest::load(&dir).expect("manifest");
    let (again, stats) =
        index::build(&dir, &manifest, v, &PhotoRules::default(), Some(&gallery.index), index::Portraits::Prepare, |_, _| {})
            .expect("build");
    assert_eq!((stats.embedded, stats.reused), (0, 12));
    assert_eq!(again.staleness(&dir, &v.embedder_id), None);
    // An index from before small copies: stale, and the rebuild adds them.
    let mut older = again.clone();
    older.photos.iter_mut().filter_map(|p| p.portrait.as_mut()).for_each(|p| p.small = None);
    assert!(older.staleness(&dir, &v.embedder_id).expect("stale").contains("has no small copy"));
    let (again, stats) =
        index::build(&dir, &manifest, v, &PhotoRules::default(), Some(&older), index::Portraits::Prepare, |_, _| {}).expect("build");
    assert_eq!((stats.embedded, again.staleness(&dir, &v.embedder_id)), (0, None));
    // An index from before prepared portraits: stale, and the booth's open rebuilds it.
    let mut old = again.clone();
    old.photos.iter_mut().for_each(|p| p.portrait = None);
    old.write(&dir).expect("write");
    std::fs::remove_dir_all(dir.join(portrait::DIR)).expect("rm");
    assert!(old.staleness(&dir, &v.embedder_id).expect("stale").contains("no prepared portrait"));
    let (g, rebuilt) = Gallery::open_or_build(&dir, v, |_, _| {}).expect("rebuilt");
    assert!(rebuilt.expect("why").contains("no prepared portrait"));
    assert!(g.index.photos.iter().filter(|p| p.portrait.is_some()).count() == 12);
    assert_eq!(Index::read(&dir).expect("read").expect("exists").staleness(&dir, &v.embedder_id), None);
    // A check (`gallery build --check`, `gallery preview`) writes nothing.
    std::fs::remove_dir_all(dir.join(portrait::DIR)).expect("rm");
    let (checked, _) = index::build(&dir, &manifest, v, &PhotoRules::default(), None, index::Portraits::Keep, |_, _| {}).expect("check");
    assert!(checked.photos.iter().all(|p| p.portrait.is_none()));
    assert!(!dir.join(portrait::DIR).exists());
}

#[test]
fn untrustworthy_photos_are_reported_not_guessed() {
    let tmp = TempDir::new("reject");
    let dir = tmp.path();
    let data = shared().join("data");
    std::fs::copy(data.join("faces-small/couple.jpg"), dir.join("couple.jpg")).expect("copy");
    std::fs::copy(data.join("faces-small/img1.jpg"), dir.join("good.jpg")).expect("copy");
    std::fs::copy(data.join("face-recognition-examples/obama_small.jpg"), dir.join("small.jpg")).expect("copy");
    image::RgbImage::from_pixel(320, 240, ::image::Rgb([90, 120, 150])).save(dir.join("wall.png")).expect("png");
    std::fs::write(dir.join("broken.jpg"), b"\xff\xd8\xff\xe0 truncated").expect("write");
    let toml = ["couple.jpg", "good.jpg", "small.jpg", "wall.png", "broken.jpg"]
        .iter()
        .enumerate()
        .map(|(i, p)| format!("[[role_model]]\nid = \"rm-{i}\"\nname = \"RM {i}\"\nrole = \"Tester\"\nstory_url = \"https://example.org/{i}\"\nphotos = [\"{p}\"]\n"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("gallery.toml"), toml).expect("write");
    let manifest = GalleryManifest::load(dir).expect("manifest");
    let rules = PhotoRules { min_eye_distance: 24.0, ..Default::default() };
    let (index, _) = index::build(dir, &manifest, default_vision(), &rules, None, index::Portraits::Keep, |_, _| {}).expect("build");
    let reasons: HashMap<&str, &str> = index.rejected.iter().map(|r| (r.file.as_str(), r.reason.as_str())).collect();
    eprintln!("{reasons:#?}");
    assert!(reasons["couple.jpg"].contains("comparable"), "{reasons:?}");
    assert!(reasons["wall.png"].contains("no face"), "{reasons:?}");
    assert!(reasons["broken.jpg"].contains("truncated JPEG"), "{reasons:?}");
    assert!(!reasons.contains_key("good.jpg"));
    assert_eq!(index.photos.iter().map(|p| p.file.as_str()).collect::<Vec<_>>().first(), Some(&"good.jpg"));
    // obama_small.jpg: reported as too small, or accepted with eyes at least 24 px apart.
    match reasons.get("small.jpg") {
        Some(r) => assert!(r.contains("too small"), "{r}"),
        None => assert!(index.photos.iter().any(|p| p.file == "small.jpg" && p.eye_distance >= 24.0)),
    }
}

#[test]
fn obama_photos_match_each_other_rather_than_biden() {
    let v = default_vision();
    let dir = shared().join("data/face-recognition-examples");
    let embed = |f: &str| {
        let img = image::load(&dir.join(f), image::DEFAULT_MAX_PIXELS).expect("photo");
        let faces = v.faces(&img).expect("detect");
        v.embed_face(&img, &faces[0]).expect("embed")
    };
    let obama: Vec<Vec<f32>> =
        ["obama.jpg", "obama2.jpg", "obama3.jpg", "test_obama1.jpg", "obama_small.jpg"].iter().map(|f| embed(f)).collect();
    let biden: Vec<Vec<f32>> = ["biden.jpg", "train_biden_biden2.jpg"].iter().map(|f| embed(f)).collect();
    for (i, o) in obama.iter().enumerate() {
        let best_obama = obama.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, x)| cosine(o, x)).fold(f32::MIN, f32::max);
        let best_biden = biden.iter().map(|b| cosine(o, b)).fold(f32::MIN, f32::max);
        assert!(best_obama > best_biden + 0.1, "obama #{i}: {best_obama} vs biden {best_biden}");
    }
}

/// The truncation check must never refuse a real, complete photo: every JPEG in the shared
/// data (faces-small, face-recognition-examples, and the first 2000 of LFW and UTKFace).
#[test]
fn no_real_photo_counts_as_truncated() {
    fn jpegs(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>, limit: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if out.len() >= limit {
                return;
            }
            if p.is_dir() {
                jpegs(&p, out, limit);
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg")) {
                out.push(p);
            }
        }
    }
    let data = shared().join("data");
    let mut checked = 0;
    for (sub, limit) in [("faces-small", 10_000), ("face-recognition-examples", 10_000), ("lfw-dev", 2000), ("utk-dev", 2000)] {
        let mut files = Vec::new();
        jpegs(&data.join(sub), &mut files, limit);
        for f in &files {
            let bytes = std::fs::read(f).expect("read");
            if !bytes.starts_with(&[0xFF, 0xD8]) {
                continue; // named .jpg, but another format (faces-small has a WebP)
            }
            assert_eq!(rolemirror::util::image::jpeg_truncated(&bytes), None, "{}", f.display());
            let cut = &bytes[..bytes.len() * 2 / 3];
            assert!(rolemirror::util::image::jpeg_truncated(cut).is_some(), "{} cut to 2/3", f.display());
        }
        checked += files.len();
    }
    assert!(checked > 1000, "only {checked} photos found under {}", data.display());
    eprintln!("{checked} real JPEGs complete, and each cut to 2/3 caught");
}
