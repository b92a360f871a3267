//! Face alignment: five landmarks to the ArcFace 112x112 template.
//!
//! In: an RGB image and five landmarks (eyes, nose tip, mouth corners). Out: a 112x112 RGB crop
//! in which those points land as close as possible (least squares) to the template, by a
//! similarity transform (rotation, uniform scale, translation; no reflection, no shear) and
//! bilinear sampling; pixels from outside the image are black.

use crate::util::image::RgbImage;

/// The ArcFace five-point template for a 112x112 crop.
pub const ARCFACE_112: [[f32; 2]; 5] = [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// Side of the aligned crop.
pub const CROP: u32 = 112;

/// A 2x3 affine matrix `[[a, b, tx], [c, d, ty]]` mapping (x, y) to (a x + b y + tx, c x + d y + ty).
pub type Affine = [[f64; 3]; 2];

/// Least-squares similarity transform from `src` to `dst` (Umeyama 1991, reflection excluded).
///
/// In 2D this has a closed form: with centred points p (src) and q (dst),
/// `s R = [[α, -β], [β, α]]`, α = Σ p·q / Σ|p|², β = Σ p×q / Σ|p|², t = mean(q) - s R mean(p).
/// Returns `None` when the source points coincide (no scale can be found).
pub fn similarity(src: &[[f32; 2]], dst: &[[f32; 2]]) -> Option<Affine> {
    let n = src.len().min(dst.len());
    if n < 2 {
        return None;
    }
    let mean = |pts: &[[f32; 2]]| {
        let (sx, sy) = pts[..n].iter().fold((0.0, 0.0), |(x, y), p| (x + f64::from(p[0]), y + f64::from(p[1])));
        (sx / n as f64, sy / n as f64)
    };
    let (mpx, mpy) = mean(src);
    let (mqx, mqy) = mean(dst);
    let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
    for (p, q) in src[..n].iter().zip(&dst[..n]) {
        let (px, py) = (f64::from(p[0]) - mpx, f64::from(p[1]) - mpy);
        let (qx, qy) = (f64::from(q[0]) - mqx, f64::from(q[1]) - mqy);
        dot += px * qx + py * qy;
        cross += px * qy - py * qx;
        norm += px * px + py * py;
    }
    if !(norm > 1e-12) || !dot.is_finite() || !cross.is_finite() {
        return None;
    }
    let (a, b) = (dot / norm, cross / norm);
    let tx = mqx - (a * mpx - b * mpy);
    let ty = mqy - (b * mpx + a * mpy);
    Some([[a, -b, tx], [b, a, ty]])
}

/// Applies an affine matrix to a point.
pub fn apply(m: &Affine, p: [f32; 2]) -> [f32; 2] {
    let (x, y) = (f64::from(p[0]), f64::from(p[1]));
    [(m[0][0] * x + m[0][1] * y + m[0][2]) as f32, (m[1][0] * x + m[1][1] * y + m[1][2]) as f32]
}

/// Inverse of an affine matrix, `None` when it is singular.
pub fn invert(m: &Affine) -> Option<Affine> {
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    if !(det.abs() > 1e-12) {
        return None;
    }
    let (a, b, c, d) = (m[1][1] / det, -m[0][1] / det, -m[1][0] / det, m[0][0] / det);
    Some([[a, b, -(a * m[0][2] + b * m[1][2])], [c, d, -(c * m[0][2] + d * m[1][2])]])
}

/// Warps `img` by `m` (image → output coordinates) into a `size` x `size` image, sampling
/// bilinearly at pixel centres as OpenCV's `warpAffine` does, with black outside the image.
pub fn warp(img: &RgbImage, m: &Affine, size: u32) -> RgbImage {
    let mut out = RgbImage::new(size, size);
    let Some(inv) = invert(m) else { return out };
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let raw = img.as_raw();
    let stride = w as usize * 3;
    let dst = &mut *out;
    let n = size as usize;
    // Per row: the source positions of all its pixels first (a loop the compiler vectorises),
    // then the samples; a pixel whose four neighbours are all inside (nearly every pixel of a
    // face crop) is sampled without bounds checks.
    let (mut xs, mut ys) = (vec![0f64; n], vec![0f64; n]);
    for v in 0..n {
        let vf = v as f64;
        for (u, (sx, sy)) in xs.iter_mut().zip(ys.iter_mut()).enumerate() {
            let uf = u as f64;
            *sx = inv[0][0] * uf + inv[0][1] * vf + inv[0][2];
            *sy = inv[1][0] * uf + inv[1][1] * vf + inv[1][2];
        }
        let row = &mut dst[v * n * 3..][..n * 3];
        for ((px, &sx), &sy) in row.chunks_exact_mut(3).zip(&xs).zip(&ys) {
            if !(sx > -1.0 && sy > -1.0 && sx < w as f64 && sy < h as f64) {
                continue; // entirely outside: stays black (also catches NaN)
            }
            // floor() and round() without libm calls (the x86-64 baseline has no SSE4.1
            // rounding instruction): the same values, ~10x faster.
            let (x0, y0) = (floor_i64(sx), floor_i64(sy));
            let (fx, fy) = ((sx - x0 as f64) as f32, (sy - y0 as f64) as f32);
            let weights = [(1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy];
            let mut acc = [0f32; 3];
            if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
                let p = y0 as usize * stride + x0 as usize * 3;
                let (top, bottom) = (&raw[p..p + 6], &raw[p + stride..p + stride + 6]);
                for c in 0..3 {
                    // The same order of additions as the checked path below.
                    let mut a = 0f32;
                    a += weights[0] * f32::from(top[c]);
                    a += weights[1] * f32::from(top[3 + c]);
                    a += weights[2] * f32::from(bottom[c]);
                    a += weights[3] * f32::from(bottom[3 + c]);
                    acc[c] = a;
                }
            } else {
                for (k, (dx, dy)) in [(0, 0), (1, 0), (0, 1), (1, 1)].into_iter().enumerate() {
                    let (x, y) = (x0 + dx, y0 + dy);
                    if x < 0 || y < 0 || x >= w || y >= h {
                        continue; // outside the image: black
                    }
                    let p = y as usize * stride + x as usize * 3;
                    for c in 0..3 {
                        acc[c] += weights[k] * f32::from(raw[p + c]);
                    }
                }
            }
            for c in 0..3 {
                px[c] = round_u8(acc[c]);
            }
        }
    }
    out
}

/// `v.floor()` for a finite `v` > -2^62, without a libm call.
fn floor_i64(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v {
        t - 1
    } else {
        t
    }
}

/// `v.round().clamp(0.0, 255.0) as u8` (half away from zero), without a libm call: in f64 the
/// sum `v + 0.5` is exact for every f32 `v`, so truncating it rounds exactly as `round` does.
fn round_u8(v: f32) -> u8 {
    if v >= 0.0 {
        (f64::from(v) + 0.5) as u8
    } else {
        0
    }
}

/// Aligns the face with these landmarks to the ArcFace template: a 112x112 crop.
/// `None` when the landmarks are degenerate (all in one point).
pub fn align(img: &RgbImage, landmarks: &[[f32; 2]; 5]) -> Option<RgbImage> {
    let m = similarity(landmarks, &ARCFACE_112)?;
    Some(warp(img, &m, CROP))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transform(p: [f32; 2], s: f64, angle: f64, t: (f64, f64)) -> [f32; 2] {
        let (c, si) = (angle.cos() * s, angle.sin() * s);
        let (x, y) = (f64::from(p[0]), f64::from(p[1]));
        [(c * x - si * y + t.0) as f32, (si * x + c * y + t.1) as f32]
    }

    #[test]
    fn fast_floor_and_round_agree_with_std() {
        for v in [-1.5f64, -1.0, -0.5, -1e-12, 0.0, 0.3, 1.0, 2.5, 639.999, 1e9] {
            assert_eq!(floor_i64(v), v.floor() as i64, "{v}");
        }
        let mut v = -3.0f32;
        while v < 260.0 {
            for x in [v, f32::from_bits(v.to_bits() + 1), f32::from_bits(v.to_bits().saturating_sub(1))] {
                assert_eq!(round_u8(x), x.round().clamp(0.0, 255.0) as u8, "{x}");
            }
            v += 0.25;
        }
        for x in [0.49999997f32, 0.5, 254.5, 255.49998, f32::NAN] {
            assert_eq!(round_u8(x), x.round().clamp(0.0, 255.0) as u8, "{x}");
        }
    }

    #[test]
    fn recovers_a_known_similarity() {
        let (s, angle, t) = (2.5, 0.3, (-40.0, 17.0));
        let src = ARCFACE_112;
        let dst: Vec<[f32; 2]> = src.iter().map(|p| transform(*p, s, angle, t)).collect();
        let m = similarity(&src, &dst).expect("well-posed");
        assert!((m[0][0] - s * angle.cos()).abs() < 1e-4, "{m:?}");
        assert!((m[1][0] - s * angle.sin()).abs() < 1e-4, "{m:?}");
        assert!((m[0][2] - t.0).abs() < 1e-3 && (m[1][2] - t.1).abs() < 1e-3, "{m:?}");
        for (p, q) in src.iter().zip(&dst) {
            let r = apply(&m, *p);
            assert!((r[0] - q[0]).abs() < 1e-3 && (r[1] - q[1]).abs() < 1e-3);
        }
    }

    #[test]
    fn least_squares_with_noise_is_the_average_fit() {
        // Two points moved symmetrically: the fit is the identity.
        let src = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]];
        let dst = [[0.0, 1.0], [10.0, -1.0], [0.0, 10.0], [10.0, 10.0]];
        let m = similarity(&src, &dst).expect("well-posed");
        let id = apply(&m, [5.0, 5.0]);
        assert!((id[0] - 5.0).abs() < 0.2 && (id[1] - 5.0).abs() < 0.6, "{id:?}");
    }

    #[test]
    fn degenerate_landmarks_give_none() {
        assert!(similarity(&[[3.0, 3.0]; 5], &ARCFACE_112).is_none());
        let img = RgbImage::new(10, 10);
        assert!(align(&img, &[[1.0, 1.0]; 5]).is_none());
        assert!(similarity(&[[f32::NAN, 0.0]; 5], &ARCFACE_112).is_none());
    }

    #[test]
    fn invert_round_trips() {
        let m = [[1.5, -0.2, 3.0], [0.2, 1.5, -7.0]];
        let inv = invert(&m).expect("invertible");
        let p = apply(&inv, apply(&m, [12.0, -4.0]));
        assert!((p[0] - 12.0).abs() < 1e-4 && (p[1] + 4.0).abs() < 1e-4);
    }

    #[test]
    fn warp_by_translation_moves_pixels_and_fills_black() {
        let img = RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 10, y as u8 * 10, 5]));
        // Shift by (+2, +1): output (u, v) samples input (u - 2, v - 1).
        let out = warp(&img, &[[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]], 8);
        assert_eq!(out.get_pixel(5, 4).0, [30, 30, 5]);
        assert_eq!(out.get_pixel(0, 0).0, [0, 0, 0]);
        // Half-pixel shift interpolates.
        let out = warp(&img, &[[1.0, 0.0, -0.5], [0.0, 1.0, 0.0]], 8);
        assert_eq!(out.get_pixel(2, 0).0[0], 25);
    }
}
