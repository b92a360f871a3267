//! `gallery preview` and the checks `bundle create` shares with it, on the real demo gallery:
//! cards drawn by the booth's renderer, faces found by the real detector, QR codes read back by
//! rqrr from the rendered pixels.

use std::path::Path;

use crate::common::*;
use rolemirror::config::Config;
use rolemirror::display::preview::{self, Severity};
use rolemirror::display::render::Assets;
use rolemirror::display::text::Fonts;
use rolemirror::gallery::portrait::crop as portrait;
use rolemirror::gallery::Gallery;
use rolemirror::util::Size;

const BIG: Size = Size::new(1920, 1080);
const SMALL: Size = Size::new(240, 320);

fn demo_assets() -> (Gallery, Assets) {
    let gallery = Gallery::open(&demo_dir().join("gallery"), &default_vision().embedder_id).expect("demo gallery");
    let c = Config::default();
    let fonts = Fonts::load(&c.display.font, &c.display.font_bold).expect("fonts");
    let cards = preview::cards_for(&gallery);
    (gallery, Assets::with_cards(fonts, c.texts, cards))
}

fn preview_json(dir: &Path, out: &Path, sizes: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["gallery", "preview", s(dir), "--out", s(out), "--json"];
    for size in sizes {
        args.extend(["--size", size]);
    }
    let o = rolemirror(&args);
    let text = String::from_utf8_lossy(&o.stdout);
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}{}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code().unwrap_or(-1), v)
}

fn problems_of<'a>(v: &'a serde_json::Value, id: &str, kind: &str) -> Vec<&'a serde_json::Value> {
    v["problems"].as_array().expect("problems").iter().filter(|p| p["role_model"] == id && p["kind"] == kind).collect()
}

/// Sets `key = value` of role model `id` in DIR/gallery.toml (a line the demo writes).
fn set_field(dir: &Path, id: &str, key: &str, value: &str) {
    let path = dir.join("gallery.toml");
    let text = std::fs::read_to_string(&path).expect("gallery.toml");
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("id = ") {
            inside = line == format!("id = \"{id}\"");
        }
        if inside && line.starts_with(&format!("{key} = ")) {
            out += &format!("{key} = {value:?}\n");
        } else {
            out += line;
            out.push('\n');
        }
    }
    assert_ne!(text, out, "{key} of {id} not found");
    std::fs::write(&path, out).expect("write gallery.toml");
}

#[test]
fn preview_renders_every_demo_card_at_1080p_and_240x320() {
    let tmp = TempDir::new("preview");
    let gallery = demo_gallery(&tmp);
    let out = tmp.path().join("out");
    let (code, v) = preview_json(&gallery, &out, &["1920x1080", "240x320"]);
    assert_eq!(v["errors"], 0, "{v:#}");
    assert_eq!(code, 0, "{v:#}");
    let cards = v["cards"].as_array().expect("cards");
    assert_eq!(cards.len(), 24, "{v:#}");
    for card in cards {
        let img = image::open(card["file"].as_str().expect("file")).expect("card png").to_rgb8();
        let want = if card["size"] == "1920x1080" { BIG } else { SMALL };
        assert_eq!((img.width(), img.height()), want.pair(), "{card}");
        // The check is real: the written card's QR reads back as the role model's story_url.
        let id = card["role_model"].as_str().expect("id");
        let (texts, _) = preview::decode_qr(&img);
        assert_eq!(texts, vec![format!("https://example.org/rolemirror/stories/{id}")], "{card}");
    }
    for size in ["1920x1080", "240x320"] {
        let sheet = out.join(format!("contact-sheet-{size}.png"));
        let img = image::open(&sheet).unwrap_or_else(|e| panic!("{}: {e}", sheet.display())).to_rgb8();
        assert!(img.width() > 4 * 200 && img.height() > 3 * 200, "{size}: {}x{}", img.width(), img.height());
    }
    // At 1080p the demo cards are clean; at 240x320 the QR modules are 2 px (a warning, read back).
    let at = |size: &str| v["problems"].as_array().unwrap().iter().filter(|p| p["size"] == size).count();
    assert_eq!(at("1920x1080"), 0, "{v:#}");
    let small_qr = problems_of(&v, "demo-01", "qr");
    assert!(small_qr.iter().all(|p| p["severity"] == "warning" && p["size"] == "240x320"), "{v:#}");
}

#[test]
fn an_overlong_quote_and_a_cut_name_are_flagged() {
    let tmp = TempDir::new("preview-quote");
    let gallery = demo_gallery(&tmp);
    let quote = "I joined as a radio operator, retrained as a cyber-security specialist, led teams across three continents and now teach the next generation what service, courage and curiosity mean.";
    assert!(quote.chars().count() <= 200, "within the manifest's limit: only the preview can catch it");
    set_field(&gallery, "demo-03", "quote", quote);
    set_field(&gallery, "demo-05", "name", "Alexandra Wilhelmina Catharina-Johanna van der Heijden-Vanderbijl Oosterhuis-Baron");
    let (code, v) = preview_json(&gallery, &tmp.path().join("out"), &["1920x1080", "240x320"]);
    assert_eq!(code, 1, "a cut name is an error: {v:#}");
    let quote_problems = problems_of(&v, "demo-03", "text");
    assert!(
        quote_problems
            .iter()
            .any(|p| p["size"] == "240x320" && p["severity"] == "warning" && p["message"].as_str().unwrap().starts_with("quote")),
        "{v:#}"
    );
    let name = problems_of(&v, "demo-05", "text");
    assert!(name.iter().any(|p| p["severity"] == "error" && p["message"].as_str().unwrap().starts_with("name")), "{v:#}");
    // Untouched role models stay clean at 1080p.
    assert!(problems_of(&v, "demo-07", "text").is_empty(), "{v:#}");
}

#[test]
fn a_qr_code_pointing_elsewhere_is_an_error() {
    let (gallery, mut assets) = demo_assets();
    let rm = &gallery.role_models[0];
    // The card as built reads back.
    let (img, _) = preview::render_card(&assets, 0, BIG);
    assert!(preview::check_qr(&img, &assets.cards[0], &rm.id, &rm.story_url, BIG).is_empty());
    // The same check on a card whose code was made from another URL.
    assets.cards[0].qr = preview::qr_for("https://elsewhere.example/recruit");
    for size in [BIG, SMALL] {
        let (img, _) = preview::render_card(&assets, 0, size);
        let p = preview::check_qr(&img, &assets.cards[0], &rm.id, &rm.story_url, size);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].severity, Severity::Error);
        assert!(p[0].message.contains("reads \"https://elsewhere.example/recruit\""), "{}", p[0]);
    }
}

#[test]
fn a_long_story_url_reads_at_1080p_but_not_on_a_240x320_panel() {
    let (gallery, mut assets) = demo_assets();
    let rm = &gallery.role_models[1];
    let url = format!("https://careers.example.org/stories/{}?utm_source=booth&utm_medium=qr&utm_campaign=spring", "x".repeat(150));
    assets.cards[1].qr = preview::qr_for(&url);
    let (img, _) = preview::render_card(&assets, 1, BIG);
    let p = preview::check_qr(&img, &assets.cards[1], &rm.id, &url, BIG);
    assert!(p.iter().all(|p| p.severity == Severity::Warning), "{p:?}");
    let (img, _) = preview::render_card(&assets, 1, SMALL);
    let p = preview::check_qr(&img, &assets.cards[1], &rm.id, &url, SMALL);
    // rqrr reads it from the exact pixels, but each of its 61x61 modules is one screen pixel.
    assert!(p.len() == 1 && p[0].severity == Severity::Error && p[0].message.contains("one screen pixel"), "{p:?}");
}

#[test]
fn a_face_off_centre_in_the_crop_is_flagged() {
    let (gallery, assets) = demo_assets();
    let vision = default_vision();
    let entry = gallery.index.photos.iter().find(|p| p.role_model == gallery.role_models[6].id).expect("photo");
    let face = entry.face.expect("face box");
    // As the card crops it: no warning.
    assert!(preview::check_photo(vision, assets.photo(6).as_deref(), "demo-07").is_empty());
    // A crop aimed a face-width to the right of the face: what a photo's edge does to a crop.
    let img = rolemirror::util::image::load(&gallery.dir.join(&entry.file), rolemirror::util::image::DEFAULT_MAX_PIXELS).expect("photo");
    let off = portrait(&img, Some([face[0] + face[2] * 0.9, face[1], face[2], face[3]]));
    let p = preview::check_photo(vision, Some(&off), "demo-07");
    assert!(p.len() == 1 && p[0].severity == Severity::Warning && p[0].message.contains("off-centre"), "{p:?}");
    // No photo at all is an error.
    let p = preview::check_photo(vision, None, "demo-07");
    assert!(p.len() == 1 && p[0].severity == Severity::Error, "{p:?}");
}

fn bundle(gallery: &Path, key: &Path, out: &Path, force: bool) -> (i32, String) {
    let mut args = vec!["bundle", "create", "--gallery", s(gallery), "--key", s(key), "--serial", "5", "--out", s(out)];
    if force {
        args.push("--force");
    }
    let o = rolemirror(&args);
    (o.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn bundle_create_refuses_errors_and_needs_force_for_warnings() {
    let tmp = TempDir::new("preview-bundle");
    let gallery = demo_gallery(&tmp);
    let k = crate::usb::keys(tmp.path(), "tech");
    let out = tmp.path().join("stick");
    // Clean at the default display (1920x1080): bundled.
    let (code, text) = bundle(&gallery, &k.private, &out, false);
    assert_eq!(code, 0, "{text}");
    std::fs::remove_dir_all(&out).expect("rm");
    // A warning (the quote cut at 1080p would need a longer one: a role cut to its box).
    set_field(&gallery, "demo-02", "role", &"Signals and cyber-operations specialist, ".repeat(4));
    let (code, text) = bundle(&gallery, &k.private, &out, false);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("warning: demo-02 at 1920x1080: text: role") && text.contains("--force"), "{text}");
    assert!(!out.join(rolemirror::usb::bundle::BUNDLE_DIR).exists(), "refused, yet written: {text}");
    let (code, text) = bundle(&gallery, &k.private, &out, true);
    assert_eq!(code, 0, "{text}");
    // With --force: bundled, the warning said again (the result's layout leaves the quote its
    // lines beside the visitor's picture: the role's is the only one).
    assert!(text.contains("text: role") && text.contains("--force: bundling despite 1 warning(s)"), "{text}");
    std::fs::remove_dir_all(&out).expect("rm");
    // An error (a name cut) refuses even with --force.
    set_field(&gallery, "demo-04", "name", &"Very Long Double-Barrelled Name ".repeat(5));
    let (code, text) = bundle(&gallery, &k.private, &out, true);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("error: demo-04 at 1920x1080: text: name"), "{text}");
    assert!(!out.join(rolemirror::usb::bundle::BUNDLE_DIR).exists(), "refused, yet written: {text}");
}
