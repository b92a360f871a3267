//! The speed work changes no result: the fused lowerings (PReLU, 2x2 max-pool) against tract's
//! own on the golden photos, and the f16 networks against f32 where the CPU has fp16 arithmetic.

use rolemirror::models::Manifest;
use rolemirror::util::image;
use rolemirror::vision::detect::iou;
use rolemirror::vision::{align, DetectorOptions, Face, Precision, Vision, VisionOptions};

use crate::common::*;

fn load(embedder: Option<&str>, fused_ops: bool, precision: Precision) -> Vision {
    let manifest = Manifest::builtin().expect("manifest");
    let opts = VisionOptions { embedder: embedder.map(str::to_string), fused_ops, precision, ..Default::default() };
    Vision::load(&models(), &manifest, &opts).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Every golden photo: the same faces (count, landmarks within 0.01 px) from the fused and the
/// unfused detector, and the same embedding of the largest face (cosine >= 0.99999) from the
/// fused and unfused default embedder; the fp32 faceplugin embedder likewise on the reference
/// crops.
#[test]
fn fused_ops_change_no_detection_and_no_embedding() {
    let g = goldens();
    let images = g["images"].as_object().expect("images");
    let (fused, plain) = (load(None, true, Precision::F32), load(None, false, Precision::F32));
    let (fused32, plain32) =
        (load(Some("faceplugin-mfn512"), true, Precision::F32), load(Some("faceplugin-mfn512"), false, Precision::F32));
    let (mut min_cos, mut min_cos32, mut worst_px, mut faces_seen) = (1f32, 1f32, 0f32, 0usize);
    for (rel, want) in images {
        let img = image::load(&shared().join(rel), image::DEFAULT_MAX_PIXELS).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let (a, b) = (fused.faces(&img).expect("detect"), plain.faces(&img).expect("detect"));
        assert_eq!(a.len(), b.len(), "{rel}: {} faces fused, {} unfused", a.len(), b.len());
        for (fa, fb) in a.iter().zip(&b) {
            for (p, q) in fa.landmarks.iter().zip(&fb.landmarks) {
                worst_px = worst_px.max((p[0] - q[0]).hypot(p[1] - q[1]));
            }
        }
        faces_seen += a.len();
        if let Some(face) = a.first() {
            let crop = align::align(&img, &face.landmarks).expect("aligns");
            let (ea, eb) = (fused.embedder.describe(&crop).expect("embed"), plain.embedder.describe(&crop).expect("embed"));
            min_cos = min_cos.min(cosine(&ea.identity, &eb.identity));
            min_cos = min_cos.min(cosine(ea.appearance.as_deref().unwrap_or(&[]), eb.appearance.as_deref().unwrap_or(&[])));
        }
        let crop_path = shared().join("reference").join(want["largest_face_crop"].as_str().expect("crop"));
        let crop = image::load(&crop_path, image::DEFAULT_MAX_PIXELS).expect("crop loads");
        min_cos32 = min_cos32.min(cosine(&fused32.embedder.embed(&crop).expect("embed"), &plain32.embedder.embed(&crop).expect("embed")));
    }
    eprintln!("fused vs tract's lowering on {} photos ({faces_seen} faces): landmarks within {worst_px:.5} px; min cosine int8 {min_cos:.7}, fp32 {min_cos32:.7}", images.len());
    assert!(faces_seen > images.len() / 2, "the detector found only {faces_seen} faces");
    assert!(worst_px <= 0.01, "landmarks differ by {worst_px} px");
    assert!(min_cos >= 0.99999, "default embedder: min cosine {min_cos}");
    assert!(min_cos32 >= 0.99999, "fp32 embedder: min cosine {min_cos32}");
}

/// The golden photos as a 640x480 camera would see them (scaled to fit, never enlarged).
fn camera_frames() -> Vec<(String, image::RgbImage)> {
    let g = goldens();
    g["images"]
        .as_object()
        .expect("images")
        .keys()
        .map(|rel| {
            let img = image::load(&shared().join(rel), image::DEFAULT_MAX_PIXELS).expect("loads");
            let s = (640.0 / img.width() as f32).min(480.0 / img.height() as f32).min(1.0);
            let (w, h) = (((img.width() as f32 * s).round() as u32).max(1), ((img.height() as f32 * s).round() as u32).max(1));
            (rel.clone(), image::resize(&img, w, h))
        })
        .collect()
}

fn best_match<'a>(faces: &'a [Face], target: &Face) -> Option<&'a Face> {
    faces
        .iter()
        .max_by(|a, b| iou(&a.bbox, &target.bbox).total_cmp(&iou(&b.bbox, &target.bbox)))
        .filter(|f| iou(&f.bbox, &target.bbox) > 0.5)
}

fn landmark_error(a: &Face, b: &Face) -> f32 {
    a.landmarks.iter().zip(&b.landmarks).map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1])).fold(0f32, f32::max) / a.eye_distance().max(1.0)
}

fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// On the golden photos as 640x480 camera frames: a face found by the full-frame detector
/// (640x480) is found again by the tracker in the region around it, in frame coordinates, with
/// landmarks and embeddings as close to the full-frame ones as the full-frame detector's own at
/// another input size (512x384); faces outside the region are not reported.
#[test]
fn tracking_in_a_region_finds_the_face_in_frame_coordinates() {
    let manifest = Manifest::builtin().expect("manifest");
    let at = |input| VisionOptions { detect: DetectorOptions { input, ..Default::default() }, ..Default::default() };
    let v = Vision::load(&models(), &manifest, &at((640, 480))).expect("load");
    let other = Vision::load(&models(), &manifest, &at((512, 384))).expect("load");
    let (mut frames, mut found, mut outside_checked) = (0, 0, 0);
    let (mut err_track, mut err_other, mut cos_track, mut cos_other) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (rel, frame) in camera_frames() {
        let faces = v.faces(&frame).expect("detect");
        let Some(face) = faces.first() else { continue };
        frames += 1;
        let near = v.faces_near(&frame, face).expect("track");
        let region = Vision::track_region(face, frame.width(), frame.height()).expect("region");
        for f in &near {
            let (cx, cy) = (f.bbox[0] + f.bbox[2] / 2.0, f.bbox[1] + f.bbox[3] / 2.0);
            let inside = |v: f32, lo: u32, len: u32| v >= lo as f32 - 1.0 && v <= (lo + len) as f32 + 1.0;
            assert!(
                inside(cx, region.x, region.width) && inside(cy, region.y, region.height),
                "{rel}: tracked face {:?} outside {region:?}",
                f.bbox
            );
        }
        for far in faces.iter().skip(1) {
            let (cx, cy) = (far.bbox[0] + far.bbox[2] / 2.0, far.bbox[1] + far.bbox[3] / 2.0);
            let r = region;
            if cx < r.x as f32 - far.bbox[2]
                || cx > (r.x + r.width) as f32 + far.bbox[2]
                || cy < r.y as f32 - far.bbox[3]
                || cy > (r.y + r.height) as f32 + far.bbox[3]
            {
                outside_checked += 1;
                assert!(best_match(&near, far).is_none(), "{rel}: a face outside the region was reported");
            }
        }
        let Some(tracked) = best_match(&near, face) else {
            continue;
        };
        found += 1;
        let embedding = v.embed_face(&frame, face).expect("embed");
        err_track.push(landmark_error(face, tracked));
        cos_track.push(cosine(&embedding, &v.embed_face(&frame, tracked).expect("embed")));
        if let Some(o) = best_match(&other.faces(&frame).expect("detect"), face) {
            err_other.push(landmark_error(face, o));
            cos_other.push(cosine(&embedding, &v.embed_face(&frame, o).expect("embed")));
        }
    }
    let (et, eo, ct, co) = (median(err_track), median(err_other), median(cos_track), median(cos_other));
    eprintln!(
        "tracker {:?}: found {found}/{frames}; landmark error / eye distance median {et:.3} (full frame at 512x384: {eo:.3}); embedding cosine to the full-frame one median {ct:.4} (512x384: {co:.4}); {outside_checked} faces outside regions not reported",
        rolemirror::vision::TRACK_INPUT
    );
    assert!(frames >= 80, "only {frames} frames with a face");
    assert!(found as f32 >= 0.95 * frames as f32, "tracker found {found}/{frames}");
    assert!(et <= eo * 1.25 + 0.01, "tracked landmarks off by {et} eye distances, the full-frame detector's own spread {eo}");
    assert!(ct >= co - 0.005, "tracked embeddings cosine {ct}, full-frame spread {co}");
}

/// f16 only where the CPU has fp16 arithmetic, and only when asked: `auto` is f32 everywhere.
/// Without it (x86, a Pi 4): `f16` is refused with the reason. With it (a Pi 5; here
/// qemu-aarch64 with `QEMU_CPU=cortex-a76`): the f16 embedder gives the f32 embeddings of the golden crops (cosine >= 0.999), and the f16
/// detector finds the same largest face on the golden photos as 640x480 frames, whose f16
/// embedding end to end stays within cosine 0.99 of the f32 one (median >= 0.999).
#[test]
fn f16_only_where_the_cpu_has_it_and_then_as_f32() {
    let manifest = Manifest::builtin().expect("manifest");
    let opts =
        |precision| VisionOptions { precision, detect: DetectorOptions { input: (640, 480), ..Default::default() }, ..Default::default() };
    assert_eq!(Precision::Auto.resolve(), Ok(false));
    if !rolemirror::vision::fp16_supported() {
        let err = Vision::load(&models(), &manifest, &opts(Precision::F16)).err().expect("f16 refused without fp16");
        assert!(format!("{err:#}").contains("no fp16 arithmetic"), "{err:#}");
        eprintln!("this CPU has no fp16 arithmetic: f16 refused, auto = f32 (the f16 numerics run under qemu-aarch64 -cpu cortex-a76)");
        return;
    }
    let v16 = Vision::load(&models(), &manifest, &opts(Precision::F16)).expect("f16 loads");
    let v32 = Vision::load(&models(), &manifest, &opts(Precision::F32)).expect("f32 loads");
    assert_eq!((v16.precision(), v32.precision()), ("f16", "f32"));
    let g = goldens();
    let mut min_crop = 1f32;
    for want in g["images"].as_object().expect("images").values() {
        let crop_path = shared().join("reference").join(want["largest_face_crop"].as_str().expect("crop"));
        let crop = image::load(&crop_path, image::DEFAULT_MAX_PIXELS).expect("crop loads");
        let (a, b) = (v16.embedder.describe(&crop).expect("f16"), v32.embedder.describe(&crop).expect("f32"));
        min_crop = min_crop.min(cosine(&a.identity, &b.identity));
        min_crop = min_crop.min(cosine(a.appearance.as_deref().unwrap_or(&[]), b.appearance.as_deref().unwrap_or(&[])));
    }
    let (mut same, mut frames, mut e2e, mut worst_px) = (0, 0, Vec::new(), 0f32);
    for (rel, frame) in camera_frames() {
        let (f16s, f32s) = (v16.faces(&frame).expect("f16 detect"), v32.faces(&frame).expect("f32 detect"));
        let Some(face) = f32s.first() else { continue };
        frames += 1;
        let Some(f) = best_match(&f16s, face) else {
            eprintln!("  {rel}: the f16 detector missed the f32 largest face");
            continue;
        };
        same += 1;
        worst_px = worst_px.max(landmark_error(face, f));
        e2e.push(cosine(&v16.embed_face(&frame, f).expect("f16"), &v32.embed_face(&frame, face).expect("f32")));
    }
    let e2e_min = e2e.iter().copied().fold(1f32, f32::min);
    let e2e_median = median(e2e);
    eprintln!(
        "f16 vs f32: reference crops min cosine {min_crop:.5}; largest face found {same}/{frames}, landmarks within {worst_px:.3} eye distances; end-to-end cosine median {e2e_median:.5}, min {e2e_min:.5}"
    );
    assert!(min_crop >= 0.999, "f16 embedder: min cosine {min_crop}");
    assert!(same as f32 >= 0.98 * frames as f32, "f16 detector found {same}/{frames}");
    assert!(e2e_median >= 0.999 && e2e_min >= 0.99, "end to end: median {e2e_median}, min {e2e_min}");
}

/// LFW View 1 and f16, by hand (minutes natively, long under qemu):
///
/// - natively, without fp16 (x86): the f32 accuracy on DevTest with the threshold chosen on
///   DevTrain (detector input 256x256, as the README's table), and how many DevTest pairs have a
///   cosine within 0.002 … 0.02 of that threshold — the only pairs whose verdict an f16 run
///   whose cosines move by less than that could change;
/// - under `QEMU_CPU=cortex-a76` (fp16): every `ROLEMIRROR_EVERY`-th DevTest pair (default 10:
///   100 pairs) in f16 and f32: the largest change of a pair's cosine, and verdicts that flip at
///   `ROLEMIRROR_THRESHOLD` (the native run's threshold).
#[test]
#[ignore = "minutes natively, long under qemu: run by hand (see docs/performance.md)"]
fn lfw_dev_f16_against_f32() {
    let manifest = Manifest::builtin().expect("manifest");
    let at =
        |precision| VisionOptions { precision, detect: DetectorOptions { input: (256, 256), ..Default::default() }, ..Default::default() };
    let lfw = shared().join("data/lfw-dev");
    let env = |k: &str, d: f32| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let jobs = env("JOBS", 2.0) as usize;
    let text = std::fs::read_to_string(lfw.join("pairsDevTest.txt")).expect("pairs");
    let (pairs, _) = rolemirror::eval::parse_pairs(&text, &lfw.join("images")).expect("parse");
    if !rolemirror::vision::fp16_supported() {
        let v = Vision::load(&models(), &manifest, &at(Precision::F32)).expect("loads");
        let r = rolemirror::eval::eval_pairs(
            &v,
            &lfw.join("pairsDevTest.txt"),
            Some(&lfw.join("pairsDevTrain.txt")),
            &lfw.join("images"),
            jobs,
            true,
        )
        .expect("eval");
        let cos = pair_cosines(&v, &pairs, jobs);
        let near: Vec<String> = [0.002f32, 0.005, 0.01, 0.02]
            .iter()
            .map(|d| format!("{} within {d}", cos.iter().filter(|c| (**c - r.threshold).abs() < *d).count()))
            .collect();
        eprintln!(
            "LFW DevTest f32: {} pairs, accuracy {:.2} % at threshold {:.4} (tuned on DevTrain); pairs near it: {}",
            r.pairs,
            r.accuracy * 100.0,
            r.threshold,
            near.join(", ")
        );
        return;
    }
    let every = env("ROLEMIRROR_EVERY", 10.0) as usize;
    let threshold = env("ROLEMIRROR_THRESHOLD", 0.2);
    let sample: Vec<_> = pairs.iter().step_by(every.max(1)).cloned().collect();
    let v16 = Vision::load(&models(), &manifest, &at(Precision::F16)).expect("f16");
    let v32 = Vision::load(&models(), &manifest, &at(Precision::F32)).expect("f32");
    let (c16, c32) = (pair_cosines(&v16, &sample, jobs), pair_cosines(&v32, &sample, jobs));
    let max_delta = c16.iter().zip(&c32).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let flips = c16.iter().zip(&c32).filter(|(a, b)| (**a > threshold) != (**b > threshold)).count();
    let right = |c: &[f32]| c.iter().zip(&sample).filter(|(c, p)| (**c > threshold) == p.same).count();
    eprintln!(
        "LFW DevTest sample ({} pairs, every {every}th): largest cosine change f16 vs f32 {max_delta:.5}; verdicts flipped at threshold {threshold}: {flips}; right f16 {} / f32 {}",
        sample.len(),
        right(&c16),
        right(&c32)
    );
}

/// The cosine of each pair's embeddings (-1 where an image has no face), as `eval pairs`.
fn pair_cosines(v: &Vision, pairs: &[rolemirror::eval::Pair], jobs: usize) -> Vec<f32> {
    let mut paths: Vec<std::path::PathBuf> = pairs.iter().flat_map(|p| [p.a.clone(), p.b.clone()]).collect();
    paths.sort();
    paths.dedup();
    let codes = rolemirror::eval::embed_many(
        v,
        &paths,
        rolemirror::eval::FacePolicy::Central,
        0,
        jobs,
        &rolemirror::util::Progress::new(paths.len() as u64, "embedding", true),
    );
    let find = |p: &std::path::Path| paths.binary_search_by(|q| q.as_path().cmp(p)).ok().and_then(|i| codes[i].as_ref());
    pairs
        .iter()
        .map(|p| match (find(&p.a), find(&p.b)) {
            (Some(a), Some(b)) => cosine(&a.identity, &b.identity),
            _ => -1.0,
        })
        .collect()
}

/// `detector_input = "auto"`: with room to spare the largest candidate is taken after timing it
/// alone; with no budget at all the largest is timed until its median is decided (3 of 5 runs
/// over), the sizes between are estimated from it and skipped (far over the budget), and the
/// smallest is timed and used (and says it does not fit). The loaded detector is the chosen one
/// and finds the face.
#[test]
fn auto_detector_input_takes_the_largest_within_the_budget() {
    let manifest = Manifest::builtin().expect("manifest");
    let opts = VisionOptions::default();
    let (v, auto) = Vision::load_auto(&models(), &manifest, &opts, (640, 480), 1e9).expect("loads");
    assert_eq!((auto.input, auto.fits, auto.timings.len()), ((640, 480), true, 1), "{auto:?}");
    assert_eq!(v.detector_input(), (640, 480));
    let (v, auto) = Vision::load_auto(&models(), &manifest, &opts, (640, 480), 0.0).expect("loads");
    let timed: Vec<((u32, u32), usize)> = auto.timings.iter().map(|t| (t.input, t.runs)).collect();
    assert_eq!(timed, vec![((640, 480), 3), ((512, 384), 0), ((384, 288), 0), ((256, 192), 3)]);
    assert!(auto.timings.iter().all(|t| t.ms > 0.0));
    let (big, mid) = (auto.timings[0].ms, auto.timings[1].ms);
    assert!((mid - big * 0.64).abs() < 1e-9, "512x384 estimated by pixels from 640x480: {auto:?}");
    assert_eq!((auto.input, auto.fits), ((256, 192), false));
    assert_eq!(v.detector_input(), (256, 192));
    let frame = camera_frames().into_iter().find(|(rel, _)| rel.ends_with("img2.jpg")).map(|(_, f)| f).expect("img2");
    assert_eq!(v.faces(&frame).expect("detect").len(), 1);
}

/// Where f16 moves the end-to-end embedding (by hand, under `QEMU_CPU=cortex-a76`; prints,
/// asserts nothing beyond running): per golden photo as a 640x480 frame, the f16 detector's
/// landmark error (with the fused ops and with tract's own f16 lowerings) and score against the
/// f32 detector's, and the end-to-end cosine to f32 three ways: f16 detector + f16 embedder,
/// f32 detector + f16 embedder, f16 detector + f32 embedder. Then, for the worst photo, the
/// relative error of each backbone stage and head output of the f16 network (tract's own
/// lowerings) against f32: where the error grows.
#[test]
#[ignore = "diagnosis of f16 under qemu (cortex-a76): run by hand, see docs/performance.md"]
fn f16_where_the_error_comes_from() {
    if !rolemirror::vision::fp16_supported() {
        eprintln!("this CPU has no fp16 arithmetic: nothing to diagnose");
        return;
    }
    let manifest = Manifest::builtin().expect("manifest");
    let opts = |precision, fused_ops| VisionOptions {
        precision,
        fused_ops,
        detect: DetectorOptions { input: (640, 480), ..Default::default() },
        ..Default::default()
    };
    let load = |o: VisionOptions| Vision::load(&models(), &manifest, &o).expect("loads");
    let (v16, v32, v16u) = (load(opts(Precision::F16, true)), load(opts(Precision::F32, true)), load(opts(Precision::F16, false)));
    let mut rows = Vec::new();
    for (rel, frame) in camera_frames() {
        let f32s = v32.faces(&frame).expect("f32 detect");
        let Some(face) = f32s.first() else { continue };
        let e32 = v32.embed_face(&frame, face).expect("f32");
        let crop32 = align::align(&frame, &face.landmarks).expect("aligns");
        let det32_emb16 = cosine(&v16.embedder.embed(&crop32).expect("f16"), &e32);
        let (mut err16, mut err16u, mut all16, mut det16_emb32, mut score16) = (f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN);
        if let Some(f) = best_match(&v16.faces(&frame).expect("f16 detect"), face) {
            err16 = landmark_error(face, f);
            score16 = f.score;
            all16 = cosine(&v16.embed_face(&frame, f).expect("f16"), &e32);
            det16_emb32 = cosine(&v32.embed_face(&frame, f).expect("f32"), &e32);
        }
        if let Some(f) = best_match(&v16u.faces(&frame).expect("f16 detect"), face) {
            err16u = landmark_error(face, f);
        }
        let row = [err16, err16u, face.score, score16, all16, det32_emb16, det16_emb32];
        // Each photo as it is done: the run takes over an hour under qemu, and a stopped run
        // keeps what it printed.
        eprintln!(
            "{rel} | {:.4} {:.4} | {:.4} {:.4} | {:.5} | {:.5} | {:.5} (photo {})",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            rows.len() + 1
        );
        rows.push((rel, frame, face.clone(), row));
    }
    rows.sort_by(|a, b| a.3[4].total_cmp(&b.3[4]));
    eprintln!("photo | landmark err/eye f16 fused, f16 tract | score f32, f16 | cos e2e f16 | f32 det + f16 emb | f16 det + f32 emb");
    for (rel, _, _, r) in &rows {
        eprintln!("{rel} | {:.4} {:.4} | {:.4} {:.4} | {:.5} | {:.5} | {:.5}", r[0], r[1], r[2], r[3], r[4], r[5], r[6]);
    }
    let min = |k: usize| rows.iter().map(|r| r.3[k]).fold(1f32, f32::min);
    eprintln!(
        "min cosine over {} photos: all f16 {:.5}; f32 detector + f16 embedder {:.5}; f16 detector + f32 embedder {:.5}",
        rows.len(),
        min(4),
        min(5),
        min(6)
    );
    // The worst photo, stage by stage (tract's own lowerings, so no fused op hides a tensor).
    let Some((worst_rel, frame, f, _)) = rows.first() else { return };
    let stages: Vec<String> =
        ["215", "232", "241", "250", "263", "273", "283", "287", "291", "295"].iter().map(|s| s.to_string()).collect();
    let spec = manifest.get_kind(&manifest.default_detector, rolemirror::models::Kind::Detector).expect("detector");
    let (path, _) = rolemirror::models::verified_path(&models(), spec).expect("model");
    let plan = |f16| {
        let tuning = rolemirror::vision::onnx::Tuning { threads: 1, fused_ops: false, f16 };
        rolemirror::vision::onnx::Plan::load_with_outputs(&path, [1, 3, 480, 640], tuning, true, &stages).expect("plan")
    };
    let (p16, p32) = (plan(true), plan(false));
    let input = rolemirror::vision::onnx::nchw_tensor(480, 640, |c, x, y| {
        if x < frame.width() as usize && y < frame.height() as usize {
            f32::from(frame.get_pixel(x as u32, y as u32)[2 - c])
        } else {
            0.0
        }
    })
    .expect("input");
    let (o16, o32) = (p16.run(input.clone()).expect("f16 run"), p32.run(input).expect("f32 run"));
    eprintln!("{worst_rel}: relative error of the f16 network's tensors (|f16 - f32| / |f32|, L2; max abs diff):");
    for ((name, a), (_, b)) in o16.iter().zip(&o32) {
        let diff: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>().sqrt();
        let norm: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum::<f64>().sqrt();
        let max = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        eprintln!("  {name:<8} {:>10.6} {max:>10.5}", diff / norm.max(1e-30));
    }
    let (cx, cy) = (f.bbox[0] + f.bbox[2] / 2.0, f.bbox[1] + f.bbox[3] / 2.0);
    for stride in [8usize, 16, 32] {
        let cols = 640 / stride;
        let cell = (cy as usize / stride).min(480 / stride - 1) * cols + (cx as usize / stride).min(cols - 1);
        let get = |o: &[(String, Vec<f32>)], head: &str| o.iter().find(|(n, _)| *n == format!("{head}_{stride}")).map(|(_, v)| v.clone());
        let (Some(c16), Some(c32), Some(k16), Some(k32)) = (get(&o16, "cls"), get(&o32, "cls"), get(&o16, "kps"), get(&o32, "kps")) else {
            continue;
        };
        let kd = (0..10).map(|i| (k16[cell * 10 + i] - k32[cell * 10 + i]).abs()).fold(0f32, f32::max);
        eprintln!(
            "  stride {stride}, the face's cell: cls f16 {:.4} f32 {:.4}; kps max diff {kd:.4} cells = {:.2} px",
            c16[cell],
            c32[cell],
            kd * stride as f32
        );
    }
}
