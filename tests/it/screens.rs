//! Golden screens: every scene rendered at the five sizes booths use — 1920x1080 (HDMI
//! landscape), 1080x1920 (HDMI portrait), 720x1280 (Touch Display 2), 800x480 (Touch Display 1)
//! and 240x320 (SPI panel) — and compared with the committed PNG in `tests/screens/`, so a broken
//! layout fails here, not on a booth. Each render also goes through a file-backed framebuffer in
//! both pixel formats (RGB565, and XRGB8888 with row padding) and is decoded back. A screen
//! turned by `display.rotation` must hold exactly the upright render turned, and a mirrored live
//! view the frame flipped. The renders are kept in `target/screens/` for review, with a `diff-`
//! image for every screen that differs.
//!
//! After an intended change of the layout, look at the new renders, then re-bless:
//! `ROLEMIRROR_BLESS=1 cargo test --release --test it screens::` (and commit tests/screens/).
//!
//! The pictures in the scenes are drawn here (no photo of a real person is committed).

use rolemirror::gallery::likeness::Likeness;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, Rgb, RgbImage};
use rolemirror::config::Texts;
use rolemirror::display::canvas::{Canvas, Rotation};
use rolemirror::display::fbdev::{self, Fbdev, Geometry};
use rolemirror::display::hit::targets;
use rolemirror::display::render::{qr_modules, render, Assets, Card, Photo};
use rolemirror::display::scene::{Guidance, Scene, Visitor};
use rolemirror::display::text::Fonts;

use crate::common::*;

/// A pixel differs when a channel is off by more than this (anti-aliasing of another build of
/// the same font may move edges by a few levels).
const CHANNEL_TOLERANCE: u8 = 24;
/// At most this share of a screen's pixels may differ (a broken layout moves thousands).
const MAX_DIFFERING: f64 = 0.0005;

fn fonts() -> Fonts {
    Fonts::load(
        Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    )
    .expect("DejaVu fonts (apt-get install fonts-dejavu-core)")
}

/// A drawn stand-in for a portrait: a face-like oval with eyes on a soft background.
fn portrait(w: u32, h: u32, tone: [u8; 3]) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32 - 0.5, y as f32 / h as f32 - 0.45);
        let face = (fx / 0.28).powi(2) + (fy / 0.36).powi(2) < 1.0;
        let eye = |cx: f32| ((fx - cx) / 0.05).powi(2) + ((fy + 0.08) / 0.03).powi(2) < 1.0;
        if eye(-0.1) || eye(0.1) {
            Rgb([30, 30, 40])
        } else if face {
            Rgb(tone)
        } else {
            Rgb([60 + (y * 120 / h) as u8, 90, 130 + (x * 80 / w) as u8])
        }
    })
}

/// Cards with drawn portraits and made-up texts full of diacritics.
fn cards() -> Vec<Card> {
    let people = [("Kpl. Zoë Kılıç-Łukasiewicz", [224, 172, 140]), ("Lt. Ana Çelik", [150, 100, 70]), ("Sgt. Noël Brontë", [95, 62, 45])];
    people
        .iter()
        .enumerate()
        .map(|(i, (name, tone))| Card {
            name: name.to_string(),
            role: "Helikoptermonteur / Helicopter engineer".into(),
            branch: "Koninklijke Luchtmacht".into(),
            quote:
                "Ik had nooit gedacht dat iemand zoals ik hier zou passen — en nu leid ik een team. Straße, façade, naïve, Ørsted, Şişli."
                    .into(),
            photo: Photo::Decoded(Arc::new(portrait(300, 400, *tone))),
            qr: qr_modules(&format!("https://example.org/stories/{i}")),
        })
        .collect()
}

/// The sizes booths use: HDMI landscape and portrait, Touch Display 2 and 1, a small SPI panel.
const SIZES: [(u32, u32); 5] = [(1920, 1080), (1080, 1920), (720, 1280), (800, 480), (240, 320)];

/// The visitor's face in the camera frame (x, y, width, height), left of centre: a mirror shows
/// it right of centre.
const FACE: [f32; 4] = [150.0, 120.0, 200.0, 240.0];

/// A 640x480 camera frame with a face left of centre and a marker on the left edge, so a frame
/// drawn unmirrored looks wrong.
fn camera_frame() -> RgbImage {
    let face = portrait(300, 400, [200, 150, 120]);
    let mut frame = RgbImage::from_fn(640, 480, |x, y| Rgb([70 + (y * 60 / 480) as u8, 80 + (x * 40 / 640) as u8, 96]));
    image::imageops::overlay(&mut frame, &image::imageops::resize(&face, 300, 400, image::imageops::FilterType::Triangle), 100, 40);
    for y in 200..280 {
        for x in 0..24 {
            frame.put_pixel(x, y, Rgb([242, 177, 52]));
        }
    }
    frame
}

fn scenes() -> Vec<Scene> {
    let frame = Arc::new(camera_frame());
    let result = |visitor| Scene::Result {
        best: 0,
        likeness: Likeness::Strong,
        others: vec![(1, Likeness::Clear), (2, Likeness::Clear)],
        rank: 0,
        choices: 3,
        language: None,
        visitor,
    };
    let face = Some(FACE);
    vec![
        Scene::Attract { showcase: Some(1) },
        Scene::Live {
            frame: frame.clone(),
            face,
            mirror: true,
            guidance: Guidance::StepCloser,
            progress: None,
            language: None,
            likely: Vec::new(),
        },
        Scene::Live {
            frame: frame.clone(),
            face,
            mirror: true,
            guidance: Guidance::HoldStill,
            progress: Some(0.6),
            language: None,
            likely: Vec::new(),
        },
        // The visitor beside their match, mirrored, framed around their face.
        result(Some(Visitor { frame, face: FACE, mirror: true })),
        Scene::Thanks,
        Scene::CameraLost,
        Scene::Service {
            problems: vec!["camera.fps: 0 is not in 1..=120".into(), "gallery.dir: /var/lib/rolemirror/gallery has no index".into()],
        },
        Scene::Update {
            title: "Updating from USB".into(),
            lines: vec!["Checking signature… ok".into(), "Embedding 14 photos".into()],
            progress: Some(0.4),
        },
        Scene::Update {
            title: "Update refused".into(),
            lines: vec![
                "gallery/img16.jpg: content differs from the signed manifest (sha256 mismatch: changed after signing)".into(),
                "gallery/bomb.png: 10000x10000 = 100000000 pixels, over the limit of 40000000 (refused before decoding)".into(),
            ],
            progress: None,
        },
        // The visitor has just left: their place empty, the card as it was.
        result(None),
    ]
}

fn out_dir() -> PathBuf {
    let d = root().join("target/screens");
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

fn save_png(img: &RgbImage, path: &Path) {
    let mut bytes = Vec::new();
    PngEncoder::new_with_quality(&mut bytes, CompressionType::Best, FilterType::Adaptive)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .expect("encode png");
    std::fs::write(path, bytes).expect("write png");
}

/// Pixels of `a` and `b` that differ by more than the tolerance, and an image marking them.
fn difference(a: &RgbImage, b: &RgbImage) -> (usize, RgbImage) {
    let mut marked = a.clone();
    let mut n = 0;
    for (x, y, p) in marked.enumerate_pixels_mut() {
        let q = b.get_pixel(x, y);
        if p.0.iter().zip(q.0).any(|(u, v)| u.abs_diff(v) > CHANNEL_TOLERANCE) {
            n += 1;
            *p = Rgb([255, 0, 255]);
        } else {
            *p = Rgb([p[0] / 3, p[1] / 3, p[2] / 3]);
        }
    }
    (n, marked)
}

/// Compares a render with its golden (or writes the golden when blessing); the problem, if any.
fn check_golden(name: &str, img: &RgbImage) -> Option<String> {
    let golden = root().join("tests/screens").join(format!("{name}.png"));
    if std::env::var_os("ROLEMIRROR_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().expect("dir")).expect("mkdir");
        save_png(img, &golden);
        return None;
    }
    let want = match image::open(&golden) {
        Ok(g) => g.to_rgb8(),
        Err(e) => return Some(format!("{name}: no golden {} ({e}); bless with ROLEMIRROR_BLESS=1", golden.display())),
    };
    if want.dimensions() != img.dimensions() {
        return Some(format!("{name}: {:?} but the golden is {:?}", img.dimensions(), want.dimensions()));
    }
    let (n, marked) = difference(img, &want);
    let share = n as f64 / f64::from(img.width() * img.height());
    if share > MAX_DIFFERING {
        let diff = out_dir().join(format!("diff-{name}.png"));
        save_png(&marked, &diff);
        return Some(format!("{name}: {n} pixels ({:.3} %) differ from the golden; see {}", share * 100.0, diff.display()));
    }
    None
}

#[test]
fn every_scene_matches_its_golden_and_survives_the_framebuffer_formats() {
    // Dutch configured, English to switch to (the language button offers it).
    let languages = vec![("nl".to_string(), Texts::dutch()), ("en".to_string(), Texts::english())];
    let assets = Assets::with_cards(fonts(), Texts::dutch(), cards()).with_languages(languages);
    let tmp = TempDir::new("fb");
    let mut problems = Vec::new();
    for (w, h) in SIZES {
        for (i, scene) in scenes().into_iter().enumerate() {
            let mut canvas = Canvas::new(w, h);
            render(&scene, &assets, &mut canvas);
            let name = format!("{i:02}-{}-{w}x{h}", scene.name());
            let img = canvas.to_image();
            save_png(&img, &out_dir().join(format!("{name}.png")));
            problems.extend(check_golden(&name, &img));
            for (geometry, tol) in [(Geometry::rgb565(w, h), 8i32), (Geometry::xrgb8888(w, h, w * 4 + 64), 0)] {
                let file = tmp.path().join(format!("{name}-{}.fb", geometry.bits_per_pixel));
                std::fs::write(&file, vec![0u8; (geometry.line_length * h) as usize]).expect("fb file");
                let mut fb = Fbdev::with_geometry(&file, geometry).expect("fb");
                fb.present(&canvas).expect("present");
                let back = fbdev::decode(&std::fs::read(&file).expect("read"), &geometry);
                let worst = back.as_raw().iter().zip(canvas.rgb()).map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs()).max().unwrap_or(0);
                assert!(worst <= tol, "{name} {}bpp: worst channel error {worst}", geometry.bits_per_pixel);
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n(after an intended change: ROLEMIRROR_BLESS=1 cargo test --release --test it screens::)",
        problems.join("\n")
    );
}

/// The buttons are drawn where taps are tested ([`targets`]): each place's edge in the accent
/// colour, its inside the panel's, at every size, on the result and the mirror view.
#[test]
fn the_buttons_are_drawn_where_taps_land() {
    let languages = vec![("en".to_string(), Texts::english()), ("nl".to_string(), Texts::dutch())];
    let assets = Assets::with_cards(fonts(), Texts::english(), cards()).with_languages(languages);
    for (w, h) in SIZES {
        for scene in [&scenes()[1], &scenes()[3], &scenes()[9]] {
            let places = targets(scene, (w, h));
            assert!(!places.is_empty(), "{} {w}x{h}: no buttons", scene.name());
            let mut canvas = Canvas::new(w, h);
            render(scene, &assets, &mut canvas);
            let img = canvas.to_image();
            for (target, r) in places {
                let at = |x: i32, y: i32| img.get_pixel(x as u32, y as u32).0;
                assert_eq!(at(r.x, r.y + r.h / 2), [242, 177, 52], "{} {w}x{h} {target:?} {r:?}: the left edge", scene.name());
                assert_eq!(at(r.x + r.w - 1, r.y + 1), [242, 177, 52], "{} {w}x{h} {target:?} {r:?}: the top right", scene.name());
                assert_eq!(at(r.x + 3.max(r.w / 40), r.y + r.h / 2), [22, 48, 84], "{} {w}x{h} {target:?} {r:?}: inside", scene.name());
            }
        }
    }
}

/// `display.rotation`: a screen turned by 90, 180 or 270 gets the upright render (laid out at
/// the turned size) turned, pixel for pixel, in the buffer the backends copy.
#[test]
fn a_turned_screen_holds_the_upright_render_turned() {
    let assets = Assets::with_cards(fonts(), Texts::english(), cards());
    for scene in [&scenes()[2], &scenes()[3]] {
        let mut upright = Canvas::new(1080, 1920);
        render(scene, &assets, &mut upright);
        let upright = upright.to_image();
        for (rotation, want) in
            [(Rotation::R90, image::imageops::rotate270(&upright)), (Rotation::R270, image::imageops::rotate90(&upright))]
        {
            let mut turned = Canvas::rotated(1920, 1080, rotation);
            render(scene, &assets, &mut turned);
            assert!(turned.to_image() == want, "{} on a 1920x1080 screen turned by {rotation:?}", scene.name());
        }
        let mut upright = Canvas::new(800, 480);
        render(scene, &assets, &mut upright);
        let mut turned = Canvas::rotated(800, 480, Rotation::R180);
        render(scene, &assets, &mut turned);
        assert!(turned.to_image() == image::imageops::rotate180(&upright.to_image()), "{} turned by 180", scene.name());
    }
}

/// `mirror: true` draws the camera frame flipped left to right, and the face box with it, as
/// the same scene with a flipped frame and a flipped box would (the booth used to flip a copy).
#[test]
fn the_mirrored_live_view_is_the_frame_flipped() {
    let assets = Assets::with_cards(fonts(), Texts::english(), cards());
    let frame = camera_frame();
    let flipped_box = [frame.width() as f32 - FACE[0] - FACE[2], FACE[1], FACE[2], FACE[3]];
    let live = |frame: &RgbImage, face: [f32; 4], mirror: bool| Scene::Live {
        frame: Arc::new(frame.clone()),
        face: Some(face),
        mirror,
        guidance: Guidance::HoldStill,
        progress: Some(0.5),
        language: None,
        likely: Vec::new(),
    };
    for (w, h) in [(1920, 1080), (720, 1280)] {
        let draw = |scene: &Scene| {
            let mut c = Canvas::new(w, h);
            render(scene, &assets, &mut c);
            c.to_image()
        };
        let mirrored = draw(&live(&frame, FACE, true));
        let copied = draw(&live(&image::imageops::flip_horizontal(&frame), flipped_box, false));
        let (n, _) = difference(&mirrored, &copied);
        assert!((n as f64) < f64::from(w * h) * MAX_DIFFERING, "{w}x{h}: {n} pixels differ");
        let (n, _) = difference(&mirrored, &draw(&live(&frame, FACE, false)));
        assert!(n > 10_000, "{w}x{h}: mirroring changed only {n} pixels");
    }
}

#[test]
fn the_golden_comparison_catches_a_shifted_text_block() {
    // The check itself: a render moved by 6 px (what a layout slip does) must not pass.
    let assets = Assets::with_cards(fonts(), Texts::english(), cards());
    let mut canvas = Canvas::new(960, 540);
    render(
        &Scene::Result {
            best: 0,
            likeness: Likeness::Strong,
            others: vec![(1, Likeness::Clear)],
            rank: 0,
            choices: 2,
            language: None,
            visitor: None,
        },
        &assets,
        &mut canvas,
    );
    let img = canvas.to_image();
    let shifted = RgbImage::from_fn(960, 540, |x, y| *img.get_pixel(x.saturating_sub(6), y));
    let (n, _) = difference(&img, &shifted);
    assert!(n as f64 / (960.0 * 540.0) > MAX_DIFFERING * 10.0, "only {n} pixels differ");
    assert_eq!(difference(&img, &img).0, 0);
}

/// A gallery's portraits are decoded when shown, a few kept: the same one twice is one decode,
/// the oldest is let go after `PORTRAITS_KEPT` others, and a photo gone from disk gives none.
#[test]
fn portraits_from_files_are_decoded_when_shown_and_only_a_few_kept() {
    let tmp = TempDir::new("portraits");
    let n = Assets::PORTRAITS_KEPT + 2;
    let cards: Vec<Card> = (0..n)
        .map(|i| {
            let path = tmp.path().join(format!("p{i}.png"));
            if i != n - 1 {
                save_png(&portrait(300, 400, [200, 150, 120]), &path);
            }
            Card {
                name: format!("rm {i}"),
                role: String::new(),
                branch: String::new(),
                quote: String::new(),
                photo: Photo::File { path, face: Some([60.0, 80.0, 180.0, 240.0]), prepared: None },
                qr: None,
            }
        })
        .collect();
    let assets = Assets::with_cards(fonts(), Texts::english(), cards);
    let first = assets.photo(0).expect("the first portrait decodes");
    assert!(first.width() <= 600 && first.height() <= 800);
    assert!(Arc::ptr_eq(&first, &assets.photo(0).expect("kept")), "shown again: the kept one, not a second decode");
    for i in 1..=Assets::PORTRAITS_KEPT {
        assert!(assets.photo(i).is_some());
    }
    let again = assets.photo(0).expect("decoded again");
    assert!(!Arc::ptr_eq(&first, &again), "let go after {} others", Assets::PORTRAITS_KEPT);
    assert!(assets.photo(n - 1).is_none(), "a missing file gives no portrait");
    assert!(assets.photo(n + 5).is_none(), "no such card");
    // A result scene with a missing portrait still renders.
    let mut canvas = Canvas::new(640, 360);
    render(
        &Scene::Result {
            best: n - 1,
            likeness: Likeness::Clear,
            others: vec![(0, Likeness::Shared)],
            rank: 0,
            choices: 2,
            language: None,
            visitor: None,
        },
        &assets,
        &mut canvas,
    );
}

/// The CPU cost of a presented live frame at 1920x1080, per backend path (before: a flipped copy
/// and the pixel-at-a-time framebuffer encoder), with the thread's CPU clock. Run by hand:
/// `cargo test --release --test it screens::frame_cost -- --ignored --nocapture`
/// (`FRAMES=N` for more than 60 frames per path).
#[test]
#[ignore]
fn frame_cost() {
    let assets = Assets::with_cards(fonts(), Texts::english(), cards());
    let frames = std::env::var("FRAMES").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let dir = TempDir::new("frame-cost");
    for (w, h) in [(1920, 1080), (1080, 1920)] {
        let costs = rolemirror::display::bench::frame_costs(&assets, &camera_frame(), w, h, frames, dir.path()).expect("bench");
        print!("{}", rolemirror::display::bench::table(&costs));
        assert_eq!(costs.len(), 5);
        // The result with the visitor's picture is drawn with every frame of them too (the
        // canvas only: no backend).
        let (mut canvas, result) = (Canvas::new(w, h), &scenes()[3]);
        let started = std::time::Instant::now();
        for _ in 0..frames {
            render(result, &assets, &mut canvas);
        }
        println!("{w}x{h} result with the visitor: {:.1} ms a frame (wall clock)", started.elapsed().as_secs_f64() * 1e3 / frames as f64);
    }
}
