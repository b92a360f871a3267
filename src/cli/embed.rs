//! `rolemirror embed` and `rolemirror match`: per image, the faces (and embeddings), or the
//! role models who look most like the largest face.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::{round4, Common, ExitCode};
use crate::gallery::Gallery;
use crate::vision::{self, Face, Vision};

fn face_json(face: &Face) -> serde_json::Value {
    json!({
        "box": face.bbox.iter().map(|v| round4(*v)).collect::<Vec<_>>(),
        "score": round4(face.score),
        "landmarks": face.landmarks.iter().map(|p| [round4(p[0]), round4(p[1])]).collect::<Vec<_>>(),
    })
}

/// The line for an image that could not be processed.
fn error_line(path: &Path, error: &str, json_out: bool) -> String {
    if json_out {
        json!({"image": path, "error": error}).to_string()
    } else {
        format!("{}: error: {error}", path.display())
    }
}

fn load_image(path: &Path) -> Result<vision::RgbImage, String> {
    crate::util::image::load(path, crate::util::image::DEFAULT_MAX_PIXELS).map_err(|e| e.to_string())
}

/// `embed [--json] IMAGE...`: one line per image.
pub fn embed(common: &Common, images: &[PathBuf], json_out: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let vision = common.vision()?;
    let mut failed = false;
    for path in images {
        let line = match embed_one(&vision, path) {
            Ok(faces) => {
                if json_out {
                    let faces: Vec<_> = faces
                        .iter()
                        .map(|(f, e)| {
                            let mut v = face_json(f);
                            v["embedding"] = json!(e.iter().map(|x| f64::from(*x)).collect::<Vec<_>>());
                            v
                        })
                        .collect();
                    json!({"image": path, "faces": faces}).to_string()
                } else {
                    let desc: Vec<String> = faces
                        .iter()
                        .map(|(f, _)| {
                            format!("{:.0}x{:.0} at ({:.0},{:.0}) score {:.2}", f.bbox[2], f.bbox[3], f.bbox[0], f.bbox[1], f.score)
                        })
                        .collect();
                    format!("{}: {} face(s) {}", path.display(), faces.len(), desc.join("; "))
                }
            }
            Err(e) => {
                failed = true;
                error_line(path, &e, json_out)
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok(if failed { ExitCode::InputFailed } else { ExitCode::Ok })
}

fn embed_one(vision: &Vision, path: &Path) -> Result<Vec<(Face, Vec<f32>)>, String> {
    let img = load_image(path)?;
    let faces = vision.faces(&img).map_err(|e| format!("{e:#}"))?;
    faces.into_iter().map(|f| vision.embed_face(&img, &f).map(|e| (f, e)).map_err(|e| format!("{e:#}"))).collect()
}

/// `match --gallery DIR [--top K] [--json] IMAGE...`: the top-K role models for the largest face
/// of each image.
pub fn match_images(
    common: &Common,
    gallery_dir: &Path,
    top: usize,
    images: &[PathBuf],
    json_out: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let vision = common.vision()?;
    let gallery = Gallery::open(gallery_dir, &vision.embedder_id)?.with_settings(common.matching);
    let mut failed = false;
    for path in images {
        let result = load_image(path).and_then(|img| {
            let faces = vision.faces(&img).map_err(|e| format!("{e:#}"))?;
            match faces.first() {
                None => Ok(None),
                Some(f) => vision.describe_face(&img, f).map(|e| Some((f.clone(), e))).map_err(|e| format!("{e:#}")),
            }
        });
        let line = match result {
            Ok(Some((face, embedding))) => {
                let matches = gallery.top_k(&embedding, top);
                if json_out {
                    let m: Vec<_> = matches
                        .iter()
                        .map(|m| {
                            json!({
                                "id": m.role_model.id, "name": m.role_model.name, "role": m.role_model.role,
                                "branch": m.role_model.branch, "similarity": round4(m.similarity), "percent": m.percent,
                            })
                        })
                        .collect();
                    json!({"image": path, "face": face_json(&face), "matches": m}).to_string()
                } else {
                    let m: Vec<String> = matches
                        .iter()
                        .map(|m| format!("{} ({}, {}%, similarity {:.3})", m.role_model.id, m.role_model.name, m.percent, m.similarity))
                        .collect();
                    format!("{}: {}", path.display(), m.join(", "))
                }
            }
            Ok(None) => {
                if json_out {
                    json!({"image": path, "face": null, "matches": []}).to_string()
                } else {
                    format!("{}: no face", path.display())
                }
            }
            Err(e) => {
                failed = true;
                error_line(path, &e, json_out)
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok(if failed { ExitCode::InputFailed } else { ExitCode::Ok })
}
