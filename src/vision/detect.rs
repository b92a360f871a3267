//! Face detection with YuNet (fixed 320x320 input) run by tract.
//!
//! YuNet is fully convolutional: the file is exported for 320x320, but its reshapes use -1 and
//! its upsampling uses scales, so tract runs it at any input of multiples of 32 once the stored
//! 320-pixel shapes are ignored. The input size is a setting ([`DetectorOptions::input`]): 640x640
//! for photos (as the reference pipeline, which scales photos to at most 640 pixels), 640x480 or
//! 384x288 for a 4:3 camera (no wasted letterbox area).
//!
//! In: an RGB image of any size and aspect. The image is scaled to fit the model input (never
//! enlarged), placed at its top-left on black (a letterbox keeps the aspect ratio of any frame),
//! converted to BGR 0..255, and run. Out: faces in image coordinates, each a
//! box, a score and five landmarks (eyes, nose tip, mouth corners as seen in the image), sorted
//! by box area, largest first.
//!
//! Decoding follows YuNet's anchor-free head: per stride s in {8, 16, 32} and grid cell (c, r),
//! score = sqrt(clamp(cls) * clamp(obj)); centre = ((c, r) + bbox[0..2]) * s; size =
//! exp(bbox[2..4]) * s; landmark k = ((c, r) + kps[2k..2k+2]) * s. Then greedy NMS keeps the
//! highest-scoring box of each overlapping group.

use std::path::Path;

use std::time::Duration;

use super::onnx::{ModelError, Plan, Tuning};
use crate::util::image::{resize_region, Region, RgbImage};
use tract_onnx::prelude::Tensor;

/// A detected face, in the coordinates of the image that was passed to [`Detector::detect`].
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// x, y (top-left), width, height.
    pub bbox: [f32; 4],
    /// sqrt(class score x objectness), 0..1.
    pub score: f32,
    /// Left eye, right eye (as seen in the image), nose tip, left and right mouth corner.
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    /// Box area in square pixels.
    pub fn area(&self) -> f32 {
        self.bbox[2].max(0.0) * self.bbox[3].max(0.0)
    }

    /// Distance between the eye landmarks, a robust measure of the face's size in pixels.
    pub fn eye_distance(&self) -> f32 {
        let [l, r] = [self.landmarks[0], self.landmarks[1]];
        ((l[0] - r[0]).powi(2) + (l[1] - r[1]).powi(2)).sqrt()
    }

    fn scaled(&self, factor: f32, dx: f32, dy: f32) -> Face {
        let mut f = self.clone();
        f.bbox = [self.bbox[0] * factor + dx, self.bbox[1] * factor + dy, self.bbox[2] * factor, self.bbox[3] * factor];
        for (dst, src) in f.landmarks.iter_mut().zip(self.landmarks.iter()) {
            *dst = [src[0] * factor + dx, src[1] * factor + dy];
        }
        f
    }
}

/// Detector settings (the config's `[vision.detector]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorOptions {
    /// Minimum score for a face (0..1). Default 0.6, as OpenCV's YuNet sample.
    pub score_threshold: f32,
    /// Boxes overlapping a better one by more than this IoU are dropped. Default 0.3.
    pub nms_iou: f32,
    /// At most this many faces per image. Default 50.
    pub top_k: usize,
    /// Model input width and height in pixels, multiples of 32. Default 640x640.
    pub input: (u32, u32),
}

impl Default for DetectorOptions {
    fn default() -> Self {
        DetectorOptions { score_threshold: 0.6, nms_iou: 0.3, top_k: 50, input: (640, 640) }
    }
}

/// How an image was placed into the model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Model pixels per image pixel.
    pub scale: f32,
    /// Size of the scaled image inside the input.
    pub width: u32,
    pub height: u32,
}

/// Fits a `w` x `h` image into an `in_w` x `in_h` input, keeping its aspect ratio (never
/// upscaling by more than `max_upscale`).
pub fn letterbox(w: u32, h: u32, in_w: u32, in_h: u32, max_upscale: f32) -> Letterbox {
    let scale = (in_w as f32 / w.max(1) as f32).min(in_h as f32 / h.max(1) as f32).min(max_upscale);
    let fit = |v: u32, limit: u32| ((v as f32 * scale).round() as u32).clamp(1, limit);
    Letterbox { scale, width: fit(w, in_w), height: fit(h, in_h) }
}

/// Decodes one stride's raw outputs (`cls`, `obj`: one per cell; `bbox`: 4; `kps`: 10) on a
/// `cols` x `rows` grid into faces in model-input coordinates, keeping scores >= `threshold`.
pub fn decode_stride(
    cls: &[f32],
    obj: &[f32],
    bbox: &[f32],
    kps: &[f32],
    stride: usize,
    cols: usize,
    rows: usize,
    threshold: f32,
) -> Vec<Face> {
    let cells = cols * rows;
    if cls.len() < cells || obj.len() < cells || bbox.len() < cells * 4 || kps.len() < cells * 10 {
        return Vec::new();
    }
    let s = stride as f32;
    let mut faces = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let i = r * cols + c;
            let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
            if !(score >= threshold) {
                continue;
            }
            let b = &bbox[i * 4..i * 4 + 4];
            let (cx, cy) = ((c as f32 + b[0]) * s, (r as f32 + b[1]) * s);
            let (w, h) = (b[2].exp() * s, b[3].exp() * s);
            let k = &kps[i * 10..i * 10 + 10];
            let landmarks = std::array::from_fn(|n| [(k[2 * n] + c as f32) * s, (k[2 * n + 1] + r as f32) * s]);
            let face = Face { bbox: [cx - w / 2.0, cy - h / 2.0, w, h], score, landmarks };
            if face.bbox.iter().all(|v| v.is_finite()) && face.landmarks.iter().flatten().all(|v| v.is_finite()) {
                faces.push(face);
            }
        }
    }
    faces
}

/// Intersection over union of two x, y, w, h boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let ix = (a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0]);
    let iy = (a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1]);
    if ix <= 0.0 || iy <= 0.0 {
        return 0.0;
    }
    let inter = ix * iy;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Greedy non-maximum suppression: highest score first, dropping every box that overlaps a kept
/// one by more than `max_iou`. Ties keep input order. At most `top_k` faces.
pub fn nms(mut faces: Vec<Face>, max_iou: f32, top_k: usize) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::new();
    for face in faces {
        if kept.len() >= top_k {
            break;
        }
        if kept.iter().all(|k| iou(&k.bbox, &face.bbox) <= max_iou) {
            kept.push(face);
        }
    }
    kept
}

/// Sorts faces by box area, largest first (ties: higher score first).
pub fn sort_by_area(faces: &mut [Face]) {
    faces.sort_by(|a, b| b.area().total_cmp(&a.area()).then(b.score.total_cmp(&a.score)));
}

const STRIDES: [usize; 3] = [8, 16, 32];

/// YuNet on tract. Load once, call [`Detector::detect`] per image.
pub struct Detector {
    plan: Plan,
    options: DetectorOptions,
}

impl Detector {
    /// Loads the YuNet model at `path` for the input size in `options`.
    pub fn load(path: &Path, options: DetectorOptions, tuning: Tuning) -> Result<Self, ModelError> {
        let (w, h) = options.input;
        if w < 32 || h < 32 || w % 32 != 0 || h % 32 != 0 || w > 4096 || h > 4096 {
            return Err(ModelError {
                path: path.to_path_buf(),
                reason: format!("detector input {w}x{h}: width and height must be multiples of 32 from 32 to 4096"),
            });
        }
        let plan = Plan::load(path, [1, 3, h as usize, w as usize], tuning, true)?;
        for stride in STRIDES {
            for head in ["cls", "obj", "bbox", "kps"] {
                if !plan.output_names().iter().any(|n| *n == format!("{head}_{stride}")) {
                    return Err(ModelError {
                        path: path.to_path_buf(),
                        reason: format!("not a YuNet model: output {head}_{stride} is missing"),
                    });
                }
            }
        }
        Ok(Detector { plan, options })
    }

    /// The options this detector was loaded with.
    pub fn options(&self) -> &DetectorOptions {
        &self.options
    }

    /// The letterboxed model input for the `region` of `img` (YuNet: planar BGR, 0..255, black
    /// border), and how the region was placed in it.
    fn input(&self, img: &RgbImage, region: Region) -> anyhow::Result<(Tensor, Letterbox)> {
        let (in_w, in_h) = self.options.input;
        let lb = letterbox(region.width, region.height, in_w, in_h, 1.0);
        let whole = region == Region::whole(img.width(), img.height());
        let scaled;
        let pixels = if whole && (lb.width, lb.height) == img.dimensions() {
            img
        } else {
            scaled = resize_region(img, region, lb.width, lb.height);
            &scaled
        };
        Ok((bgr_planes(pixels, in_w as usize, in_h as usize)?, lb))
    }

    /// Per-node times of the detector network on this image (see [`super::profile`]).
    pub fn profile(&self, img: &RgbImage, runs: usize) -> anyhow::Result<Vec<super::profile::NodeTime>> {
        self.plan.profile(&self.input(img, Region::whole(img.width(), img.height()))?.0, runs)
    }

    /// Finds faces in `img`, in image coordinates, largest first.
    pub fn detect(&self, img: &RgbImage) -> anyhow::Result<Vec<Face>> {
        Ok(self.detect_timed(img, Region::whole(img.width(), img.height()))?.0)
    }

    /// Finds faces in the `region` of `img` (scaled to fit this detector's input, never
    /// enlarged), in the coordinates of the whole image, largest first. A face cut by the
    /// region's edge is found cut, or not at all: give the region a margin (see
    /// [`region_around`]).
    pub fn detect_region(&self, img: &RgbImage, region: Region) -> anyhow::Result<Vec<Face>> {
        Ok(self.detect_timed(img, region)?.0)
    }

    /// As [`Detector::detect_region`], with the time each step took.
    pub fn detect_timed(&self, img: &RgbImage, region: Region) -> anyhow::Result<(Vec<Face>, DetectTimes)> {
        let t = super::profile::Stopwatch::start();
        let (in_w, in_h) = self.options.input;
        let (input, lb) = self.input(img, region)?;
        let prepare = t.elapsed();
        let t = super::profile::Stopwatch::start();
        let outputs = self.plan.run(input)?;
        let network = t.elapsed();
        let t = super::profile::Stopwatch::start();
        let get = |name: String| -> anyhow::Result<&[f32]> {
            outputs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_slice())
                .ok_or_else(|| anyhow::anyhow!("detector output {name} missing"))
        };
        let mut faces = Vec::new();
        for stride in STRIDES {
            let (cols, rows) = (in_w as usize / stride, in_h as usize / stride);
            faces.extend(decode_stride(
                get(format!("cls_{stride}"))?,
                get(format!("obj_{stride}"))?,
                get(format!("bbox_{stride}"))?,
                get(format!("kps_{stride}"))?,
                stride,
                cols,
                rows,
                self.options.score_threshold,
            ));
        }
        let inv = 1.0 / lb.scale;
        let (dx, dy) = (region.x as f32, region.y as f32);
        let mut faces: Vec<Face> = nms(faces, self.options.nms_iou, self.options.top_k).iter().map(|f| f.scaled(inv, dx, dy)).collect();
        sort_by_area(&mut faces);
        Ok((faces, DetectTimes { prepare, network, decode: t.elapsed() }))
    }
}

/// Where one detection's time went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DetectTimes {
    /// Resizing and letterboxing into the model input.
    pub prepare: Duration,
    /// The network.
    pub network: Duration,
    /// Decoding the heads, NMS, mapping back to image coordinates.
    pub decode: Duration,
}

/// Planar BGR f32 (0..255) of `pixels` at the top-left of an `in_w` x `in_h` black input.
fn bgr_planes(pixels: &RgbImage, in_w: usize, in_h: usize) -> anyhow::Result<Tensor> {
    let (w, h) = (pixels.width() as usize, pixels.height() as usize);
    anyhow::ensure!(w <= in_w && h <= in_h, "{w}x{h} does not fit the {in_w}x{in_h} input");
    // Zeroed only where the letterbox leaves a border (a full-size frame is written whole).
    let mut t = if (w, h) == (in_w, in_h) {
        // SAFETY: every element is written below (w x h covers each plane).
        unsafe { Tensor::uninitialized::<f32>(&[1, 3, in_h, in_w])? }
    } else {
        Tensor::zero::<f32>(&[1, 3, in_h, in_w])?
    };
    {
        let mut view = t.try_as_plain_ram_mut()?;
        let data = view.as_slice_mut::<f32>()?;
        let plane = in_w * in_h;
        let (b, rest) = data.split_at_mut(plane);
        let (g, r) = rest.split_at_mut(plane);
        for (y, row) in pixels.as_raw().chunks_exact(w * 3).enumerate() {
            let o = y * in_w;
            let (r, g, b) = (&mut r[o..o + w], &mut g[o..o + w], &mut b[o..o + w]);
            for (((px, r), g), b) in row.chunks_exact(3).zip(r).zip(g).zip(b) {
                *r = f32::from(px[0]);
                *g = f32::from(px[1]);
                *b = f32::from(px[2]);
            }
        }
    }
    Ok(t)
}

/// The region to look for a known face in on the next frame: a square `scale` times the face
/// box's larger side around its centre, cut to the image. None for an empty or non-finite box.
pub fn region_around(bbox: [f32; 4], width: u32, height: u32, scale: f32) -> Option<Region> {
    let [x, y, w, h] = bbox;
    let side = w.max(h) * scale;
    if !(side.is_finite() && side >= 1.0 && x.is_finite() && y.is_finite()) {
        return None;
    }
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let x0 = (cx - side / 2.0).floor().clamp(0.0, width as f32) as u32;
    let y0 = (cy - side / 2.0).floor().clamp(0.0, height as f32) as u32;
    let x1 = (cx + side / 2.0).ceil().clamp(0.0, width as f32) as u32;
    let y1 = (cy + side / 2.0).ceil().clamp(0.0, height as f32) as u32;
    (x1 > x0 && y1 > y0).then_some(Region { x: x0, y: y0, width: x1 - x0, height: y1 - y0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, w: f32, h: f32, score: f32) -> Face {
        Face { bbox: [x, y, w, h], score, landmarks: [[0.0; 2]; 5] }
    }

    #[test]
    fn letterbox_keeps_aspect_and_fits() {
        let lb = letterbox(640, 480, 320, 320, 1.0);
        assert_eq!((lb.width, lb.height), (320, 240));
        assert!((lb.scale - 0.5).abs() < 1e-6);
        let lb = letterbox(1080, 1920, 320, 320, 1.0);
        assert_eq!((lb.width, lb.height), (180, 320));
        // A 4:3 frame fills a 4:3 input exactly; a 16:9 one is letterboxed.
        let lb = letterbox(1280, 960, 640, 480, 1.0);
        assert_eq!((lb.width, lb.height), (640, 480));
        let lb = letterbox(1920, 1080, 640, 480, 1.0);
        assert_eq!((lb.width, lb.height), (640, 360));
        // Small images are not upscaled unless allowed.
        let lb = letterbox(200, 100, 320, 320, 1.0);
        assert_eq!((lb.width, lb.height, lb.scale), (200, 100, 1.0));
        let lb = letterbox(160, 120, 320, 320, 4.0);
        assert_eq!((lb.width, lb.height), (320, 240));
    }

    #[test]
    fn decodes_one_cell_with_offsets_and_exp_sizes() {
        // A 2x2 grid at stride 16; only cell (c=1, r=0) has a face.
        let cls = [0.0, 0.81, 0.0, 0.0];
        let obj = [0.0, 1.0, 0.0, 0.0];
        let mut bbox = [0.0f32; 16];
        bbox[4..8].copy_from_slice(&[0.5, 0.25, 0.0, (2.0f32).ln()]);
        let mut kps = [0.0f32; 40];
        for n in 0..5 {
            kps[10 + 2 * n] = n as f32 * 0.1;
            kps[10 + 2 * n + 1] = 0.5;
        }
        let faces = decode_stride(&cls, &obj, &bbox, &kps, 16, 2, 2, 0.6);
        assert_eq!(faces.len(), 1);
        let f = &faces[0];
        assert!((f.score - 0.9).abs() < 1e-6);
        // centre = ((1 + 0.5) * 16, (0 + 0.25) * 16) = (24, 4); size = (16, 32)
        let want = [24.0 - 8.0, 4.0 - 16.0, 16.0, 32.0];
        for (a, b) in f.bbox.iter().zip(want) {
            assert!((a - b).abs() < 1e-4, "{:?}", f.bbox);
        }
        for n in 0..5 {
            assert!((f.landmarks[n][0] - (1.0 + n as f32 * 0.1) * 16.0).abs() < 1e-4);
            assert!((f.landmarks[n][1] - 8.0).abs() < 1e-4);
        }
    }

    #[test]
    fn decode_clamps_scores_and_skips_below_threshold_and_nan() {
        let cls = [1.7, 0.3, f32::NAN];
        let obj = [1.0, 0.3, 1.0];
        let faces = decode_stride(&cls, &obj, &[0.0; 12], &[0.0; 30], 8, 3, 1, 0.5);
        assert_eq!(faces.len(), 1);
        assert_eq!(faces[0].score, 1.0);
        // Short buffers give nothing rather than a panic.
        assert!(decode_stride(&cls, &obj, &[0.0; 3], &[0.0; 30], 8, 3, 1, 0.5).is_empty());
    }

    #[test]
    fn nms_keeps_the_highest_score_of_an_overlapping_group() {
        let faces = vec![
            face(0.0, 0.0, 10.0, 10.0, 0.7),
            face(1.0, 1.0, 10.0, 10.0, 0.9),
            face(0.5, 0.5, 10.0, 10.0, 0.8),
            face(50.0, 50.0, 10.0, 10.0, 0.65),
        ];
        let kept = nms(faces, 0.3, 50);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].score, 0.65);
        assert_eq!(nms(kept, 0.3, 1).len(), 1);
    }

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 0.0, 10.0, 10.0]), 0.0);
        assert!((iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 10.0, 10.0]) - 50.0 / 150.0).abs() < 1e-6);
        assert!((iou(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0, 10.0, 10.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn mapping_back_to_image_coordinates() {
        // A face found at (10, 20) in a 0.25-scale letterbox is at (40, 80) in the image.
        let f = face(10.0, 20.0, 5.0, 6.0, 0.9);
        let mut f = f;
        f.landmarks[2] = [12.0, 22.0];
        let back = f.scaled(4.0, 0.0, 0.0);
        assert_eq!(back.bbox, [40.0, 80.0, 20.0, 24.0]);
        assert_eq!(back.landmarks[2], [48.0, 88.0]);
        let moved = f.scaled(1.0, 100.0, 7.0);
        assert_eq!(moved.bbox[..2], [110.0, 27.0]);
    }

    #[test]
    fn region_around_a_face_is_a_square_cut_to_the_image() {
        let r = region_around([100.0, 100.0, 50.0, 60.0], 640, 480, 2.0).expect("region");
        assert_eq!((r.x, r.y, r.width, r.height), (65, 70, 120, 120));
        // Near the corner: cut, not shifted.
        let r = region_around([0.0, 0.0, 40.0, 40.0], 640, 480, 2.0).expect("region");
        assert_eq!((r.x, r.y, r.width, r.height), (0, 0, 60, 60));
        assert!(region_around([0.0, 0.0, 0.0, 0.0], 640, 480, 2.0).is_none());
        assert!(region_around([f32::NAN, 0.0, 10.0, 10.0], 640, 480, 2.0).is_none());
        assert!(region_around([700.0, 500.0, 10.0, 10.0], 640, 480, 2.0).is_none(), "outside the image");
    }

    #[test]
    fn bgr_planes_puts_blue_first_and_black_around() {
        let px = RgbImage::from_fn(2, 1, |x, _| image::Rgb([10 + x as u8, 20, 30]));
        let t = bgr_planes(&px, 3, 2).expect("fits");
        let v: Vec<f32> = t.to_plain_array_view::<f32>().expect("f32").iter().copied().collect();
        assert_eq!(&v[0..6], &[30.0, 30.0, 0.0, 0.0, 0.0, 0.0], "blue plane");
        assert_eq!(&v[6..9], &[20.0, 20.0, 0.0], "green plane");
        assert_eq!(&v[12..15], &[10.0, 11.0, 0.0], "red plane");
        assert!(bgr_planes(&px, 1, 1).is_err());
        // The input's own size: every value written, nothing left over.
        let t = bgr_planes(&px, 2, 1).expect("fits");
        let v: Vec<f32> = t.to_plain_array_view::<f32>().expect("f32").iter().copied().collect();
        assert_eq!(v, [30.0, 30.0, 20.0, 20.0, 10.0, 11.0]);
    }

    #[test]
    fn sorts_largest_first() {
        let mut faces = vec![face(0.0, 0.0, 5.0, 5.0, 0.9), face(0.0, 0.0, 9.0, 9.0, 0.7)];
        sort_by_area(&mut faces);
        assert_eq!(faces[0].bbox[2], 9.0);
    }
}
