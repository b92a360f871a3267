//! The pipeline against the independent reference (OpenCV YuNet + Umeyama + ONNX Runtime).

use rolemirror::util::image;
use rolemirror::vision::align;

use crate::common::*;

/// Largest-face landmarks agree within max(3 px, 0.5 % of the longer side) on at least 95 % of
/// the golden images, single-face images give exactly one face, and end-to-end embeddings agree
/// with the reference (median cosine >= 0.98, the quantized default model included).
#[test]
fn detection_and_embedding_agree_with_reference() {
    let g = goldens();
    let v = default_vision();
    let model = if v.embedder_id.id.starts_with("faceplugin") { "faceplugin-mfn512" } else { "foamliu-mfn128" };
    let images = g["images"].as_object().expect("images");
    let (mut agree, mut single, mut single_one, mut total) = (0, 0, 0, 0);
    let mut cosines = Vec::new();
    let mut failures = Vec::new();
    for (rel, want) in images {
        let path = shared().join(rel);
        let img = image::load(&path, image::DEFAULT_MAX_PIXELS).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(
            (img.width() as u64, img.height() as u64),
            (want["width"].as_u64().expect("w"), want["height"].as_u64().expect("h")),
            "{rel}: decoded size differs (EXIF orientation?)"
        );
        let faces = v.faces(&img).expect("detect");
        let want_faces = want["faces"].as_array().expect("faces");
        total += 1;
        if want_faces.len() == 1 {
            single += 1;
            if faces.len() == 1 {
                single_one += 1;
            } else {
                failures.push(format!("{rel}: {} faces, reference 1", faces.len()));
            }
        }
        let tol = (0.005 * img.width().max(img.height()) as f32).max(3.0);
        let want_lm: Vec<Vec<f32>> = want_faces[0]["landmarks"].as_array().expect("lm").iter().map(floats).collect();
        let Some(face) = faces.first() else {
            failures.push(format!("{rel}: no face"));
            continue;
        };
        let worst =
            face.landmarks.iter().zip(&want_lm).map(|(a, b)| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()).fold(0f32, f32::max);
        if worst <= tol {
            agree += 1;
            let e = v.embed_face(&img, face).expect("embed");
            cosines.push(cosine(&e, &floats(&want["embeddings"][model])));
        } else {
            failures.push(format!("{rel}: landmark off by {worst:.1} px (tolerance {tol:.1})"));
        }
    }
    cosines.sort_by(f32::total_cmp);
    let median = cosines[cosines.len() / 2];
    eprintln!("landmarks agree {agree}/{total}; single-face {single_one}/{single}; median cosine {median:.4}; min {:.4}", cosines[0]);
    for f in &failures {
        eprintln!("  {f}");
    }
    assert!(agree as f32 >= 0.95 * total as f32, "landmarks agree on only {agree}/{total}");
    assert!(single_one as f32 >= 0.95 * single as f32, "single-face images: {single_one}/{single} give one face");
    assert!(median >= 0.98, "median end-to-end cosine {median}");
}

/// Our alignment of the reference landmarks reproduces the reference crop, and each embedder
/// gives the reference embedding for the reference crop (fp32 >= 0.999, int8 >= 0.99).
#[test]
fn crops_and_embedders_agree_with_reference() {
    let g = goldens();
    let images = g["images"].as_object().expect("images");
    for (model, quantized, floor) in
        [("faceplugin-mfn512", "faceplugin-mfn512-int8", 0.99f32), ("foamliu-mfn128", "foamliu-mfn128-int8", 0.99f32)]
    {
        let fp32 = vision(Some(model));
        let int8 = vision(Some(quantized));
        let (mut min32, mut min8) = (1f32, 1f32);
        for want in images.values() {
            let crop_path = shared().join("reference").join(want["largest_face_crop"].as_str().expect("crop"));
            let crop = image::load(&crop_path, image::DEFAULT_MAX_PIXELS).expect("crop loads");
            let reference = floats(&want["embeddings"][model]);
            min32 = min32.min(cosine(&fp32.embedder.embed(&crop).expect("embed"), &reference));
            min8 = min8.min(cosine(&int8.embedder.embed(&crop).expect("embed"), &reference));
        }
        eprintln!("{model}: min cosine to reference fp32 {min32:.5}, int8 {min8:.5}");
        assert!(min32 >= 0.999, "{model} fp32: min cosine {min32}");
        assert!(min8 >= floor, "{quantized}: min cosine {min8}");
    }
}

/// Warping an image with the reference landmarks gives the reference crop up to interpolation
/// rounding and JPEG decoder differences.
#[test]
fn alignment_matches_reference_crops() {
    let g = goldens();
    let images = g["images"].as_object().expect("images");
    let mut diffs = Vec::new();
    for (rel, want) in images {
        let img = image::load(&shared().join(rel), image::DEFAULT_MAX_PIXELS).expect("loads");
        let lm: Vec<Vec<f32>> = want["faces"][0]["landmarks"].as_array().expect("lm").iter().map(floats).collect();
        let lm: [[f32; 2]; 5] = std::array::from_fn(|i| [lm[i][0], lm[i][1]]);
        let ours = align::align(&img, &lm).expect("aligns");
        let crop_path = shared().join("reference").join(want["largest_face_crop"].as_str().expect("crop"));
        let theirs = image::load(&crop_path, image::DEFAULT_MAX_PIXELS).expect("crop");
        let mad: f64 = ours.as_raw().iter().zip(theirs.as_raw()).map(|(a, b)| (f64::from(*a) - f64::from(*b)).abs()).sum::<f64>()
            / ours.as_raw().len() as f64;
        diffs.push((mad, rel.clone()));
    }
    diffs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (median, worst) = (diffs[diffs.len() / 2].0, diffs[diffs.len() - 1].clone());
    eprintln!("crop mean abs difference: median {median:.2}, worst {:.2} ({})", worst.0, worst.1);
    assert!(median < 1.5, "median crop difference {median}");
    assert!(worst.0 < 4.0, "worst crop difference {worst:?}");
}
