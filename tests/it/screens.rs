//! Every scene, rendered at 1920x1080 and 240x320 through a file-backed framebuffer in both
//! pixel formats (RGB565 and XRGB8888 with row padding), decoded back and compared with the
//! canvas. The renders are kept as PNG files in `target/screens/` for review.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rolemirror::booth::machine::Guidance;
use rolemirror::booth::scene::Scene;
use rolemirror::config::Texts;
use rolemirror::display::canvas::Canvas;
use rolemirror::display::fbdev::{self, Fbdev, Geometry};
use rolemirror::display::render::{portrait, qr_modules, render, Assets, Card};
use rolemirror::display::text::Fonts;
use rolemirror::vision::image as vimage;

use crate::common::*;

fn fonts() -> Fonts {
    Fonts::load(
        Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    )
    .expect("DejaVu fonts (apt-get install fonts-dejavu-core)")
}

/// Cards with real photos but made-up texts full of diacritics.
fn cards() -> Vec<Card> {
    let photos = ["img1.jpg", "img29.jpg", "img26.jpg"];
    let names = ["Kpl. Zoë Kılıç-Łukasiewicz", "Lt. Ana Çelik", "Sgt. Noël Brontë"];
    photos
        .iter()
        .zip(names)
        .map(|(p, name)| {
            let img = vimage::load(&shared().join("data/faces-small").join(p), vimage::DEFAULT_MAX_PIXELS).expect("photo");
            let faces = crate::common::default_vision().faces(&img).expect("detect");
            Card {
                name: name.into(),
                role: "Helikoptermonteur / Helicopter engineer".into(),
                branch: "Koninklijke Luchtmacht".into(),
                quote: "Ik had nooit gedacht dat iemand zoals ik hier zou passen — en nu leid ik een team. Straße, façade, naïve, Ørsted, Şişli.".into(),
                photo: Some(portrait(&img, faces.first().map(|f| f.bbox))),
                qr: qr_modules(&format!("https://example.org/stories/{p}")),
            }
        })
        .collect()
}

fn scenes() -> Vec<Scene> {
    let frame = vimage::load(&shared().join("data/faces-small/img2.jpg"), vimage::DEFAULT_MAX_PIXELS).expect("frame");
    let frame = Arc::new(vimage::resize(&frame, 640, 480));
    vec![
        Scene::Attract { showcase: Some(1) },
        Scene::Live { frame: frame.clone(), face: Some([220.0, 120.0, 200.0, 240.0]), guidance: Guidance::StepCloser, progress: None },
        Scene::Live { frame, face: Some([220.0, 120.0, 200.0, 240.0]), guidance: Guidance::HoldStill, progress: Some(0.6) },
        Scene::Result { best: 0, percent: 63, others: vec![(1, 48), (2, 41)] },
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
    ]
}

fn out_dir() -> PathBuf {
    let d = root().join("target/screens");
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

#[test]
fn every_scene_through_a_file_backed_framebuffer_in_both_formats() {
    let assets = Assets { fonts: fonts(), texts: Texts::dutch(), cards: cards() };
    let tmp = TempDir::new("fb");
    for (w, h) in [(1920u32, 1080u32), (240, 320)] {
        for (i, scene) in scenes().into_iter().enumerate() {
            let mut canvas = Canvas::new(w, h);
            render(&scene, &assets, &mut canvas);
            let name = format!("{i:02}-{}-{w}x{h}", scene.name());
            // Something was drawn beyond the background.
            let bg = [11u8, 31, 58];
            let other = canvas.rgb().chunks_exact(3).filter(|p| *p != bg).count();
            assert!(other > (w * h / 400) as usize, "{name}: only {other} pixels drawn");
            for (geometry, tol) in [(Geometry::rgb565(w, h), 8i32), (Geometry::xrgb8888(w, h, w * 4 + 64), 0)] {
                let file = tmp.path().join(format!("{name}-{}.fb", geometry.bits_per_pixel));
                std::fs::write(&file, vec![0u8; (geometry.line_length * h) as usize]).expect("fb file");
                let mut fb = Fbdev::with_geometry(&file, geometry).expect("fb");
                fb.present(&canvas).expect("present");
                let back = fbdev::decode(&std::fs::read(&file).expect("read"), &geometry);
                let worst = back.as_raw().iter().zip(canvas.rgb()).map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs()).max().unwrap_or(0);
                assert!(worst <= tol, "{name} {}bpp: worst channel error {worst}", geometry.bits_per_pixel);
            }
            canvas.to_image().save(out_dir().join(format!("{name}.png"))).expect("png");
        }
    }
}
