//! `exposure-dump UTK_IMAGES OUT_DIR [WxH]`: for every UTKFace file aged 18-60 with race 0-3,
//! pads 50 px (as the relatability protocol does), detects at WxH (default 320x320), takes the
//! largest face, and appends to OUT_DIR: `names.txt` (file, ok), `meta.f32` (box 4, score,
//! landmarks 10), `identity.f32` (512), `appearance.f32` (128), `crops.u8` (the aligned 112x112
//! RGB crop). Research data from the dev split, kept in /tmp, never in the repository.
//!
//! `exposure-dump --any DIR OUT_DIR [WxH]`: every .jpg under DIR (two levels, e.g. LFW's
//! NAME/NAME_0001.jpg; names relative to DIR), no padding, the face nearest the centre.

use std::io::Write;
use std::path::PathBuf;

use rolemirror::eval::{pad_replicate, parse_utk, pick_face, FacePolicy};
use rolemirror::models::Manifest;
use rolemirror::vision::{align, Vision, VisionOptions};

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().collect();
    let any = args.get(1).is_some_and(|a| a == "--any");
    if any {
        args.remove(1);
    }
    let dir = PathBuf::from(&args[1]);
    let out = PathBuf::from(&args[2]);
    let input = args.get(3).map(|s| rolemirror::cli::parse_size(s).expect("WxH")).unwrap_or((320, 320));
    std::fs::create_dir_all(&out)?;
    let mut names: Vec<String> = Vec::new();
    for e in std::fs::read_dir(&dir)?.flatten() {
        let Some(n) = e.file_name().to_str().map(str::to_string) else { continue };
        if any && e.path().is_dir() {
            for f in std::fs::read_dir(e.path())?.flatten() {
                if let Some(m) = f.file_name().to_str().filter(|m| m.ends_with(".jpg")) {
                    names.push(format!("{n}/{m}"));
                }
            }
        } else {
            names.push(n);
        }
    }
    if !any {
        names.retain(|n| parse_utk(n).is_some_and(|l| (18..=60).contains(&l.age) && l.race <= 3));
    }
    names.sort();
    let mut opts = VisionOptions::default();
    opts.detect.input = input;
    let models = rolemirror::models::model_dir(Some(std::path::Path::new("models")));
    let vision = Vision::load(&models, &Manifest::builtin()?, &opts)?;
    let jobs = 2;
    let next = std::sync::atomic::AtomicUsize::new(0);
    type Row = (usize, Option<(Vec<f32>, Vec<f32>, Vec<f32>, Vec<u8>)>);
    let rows = std::sync::Mutex::new(Vec::<Row>::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(n) = names.get(i) else { break };
                let r = (|| -> Option<_> {
                    let img = rolemirror::vision::image::load(&dir.join(n), 50_000_000).ok()?;
                    let img = if any { img } else { pad_replicate(&img, 50) };
                    let faces = vision.faces(&img).ok()?;
                    let policy = if any { FacePolicy::Central } else { FacePolicy::Largest };
                    let f = pick_face(&faces, img.width(), img.height(), policy)?;
                    let crop = align::align(&img, &f.landmarks)?;
                    let code = vision.embedder.describe(&crop).ok()?;
                    let mut meta = f.bbox.to_vec();
                    meta.push(f.score);
                    meta.extend(f.landmarks.iter().flatten());
                    Some((meta, code.identity, code.appearance?, crop.into_raw()))
                })();
                if i % 200 == 0 {
                    eprintln!("{i}/{}", names.len());
                }
                rows.lock().unwrap().push((i, r));
            });
        }
    });
    let mut rows = rows.into_inner()?;
    rows.sort_by_key(|r| r.0);
    let mut files: Vec<std::io::BufWriter<std::fs::File>> = ["names.txt", "meta.f32", "identity.f32", "appearance.f32", "crops.u8"]
        .iter()
        .map(|f| std::fs::File::create(out.join(f)).map(std::io::BufWriter::new))
        .collect::<Result<_, _>>()?;
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    for (i, r) in rows {
        writeln!(files[0], "{}\t{}", names[i], u8::from(r.is_some()))?;
        let (meta, id, app, crop) = r.unwrap_or((vec![0.0; 15], vec![0.0; 512], vec![0.0; 128], vec![0; 112 * 112 * 3]));
        files[1].write_all(&f32s(&meta))?;
        files[2].write_all(&f32s(&id))?;
        files[3].write_all(&f32s(&app))?;
        files[4].write_all(&crop)?;
    }
    for mut f in files {
        f.flush()?;
    }
    Ok(())
}
