//! YUV frames to RGB: YUYV (packed 4:2:2, what V4L2 webcams send uncompressed) and I420
//! (planar 4:2:0, what the libcamera programs write on their pipe), BT.601.
//!
//! Every function checks the buffer against the frame's numbers first and returns `None` for a
//! frame that does not fit them, so a driver's or a program's bad numbers can make it neither
//! allocate nor index past the data.

use crate::util::image::RgbImage;

/// The value range of the Y, U and V samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Y 16..=235, U and V 16..=240 (video: V4L2 YUYV, GStreamer's I420).
    Limited,
    /// 0..=255 (JPEG's sYCC: what rpicam-vid writes for `--codec yuv420`).
    Full,
}

impl Range {
    /// R, G, B of one sample, BT.601.
    #[inline]
    fn rgb(self, y: u8, u: u8, v: u8) -> [u8; 3] {
        let (y, u, v) = (f32::from(y), f32::from(u) - 128.0, f32::from(v) - 128.0);
        let clamp = |x: f32| x.round().clamp(0.0, 255.0) as u8;
        match self {
            Range::Limited => {
                let c = 1.164 * (y - 16.0);
                [clamp(c + 1.596 * v), clamp(c - 0.392 * u - 0.813 * v), clamp(c + 2.017 * u)]
            }
            Range::Full => [clamp(y + 1.402 * v), clamp(y - 0.344 * u - 0.714 * v), clamp(y + 1.772 * u)],
        }
    }
}

/// YUYV (YUV 4:2:2, Y0 U Y1 V) to RGB, BT.601 limited range. `stride` is the driver's bytes per
/// line (`bytesperline`; lines may be padded); 0 or less than `2 * width` means tightly packed.
/// `None` for an empty or odd-width frame, or a buffer too short for its size (sizes that
/// overflow included), so a driver's bad numbers cannot make it allocate or index past the data.
pub fn yuyv_to_rgb(data: &[u8], width: u32, height: u32, stride: u32) -> Option<RgbImage> {
    let (w, h) = (usize::try_from(width).ok()?, usize::try_from(height).ok()?);
    if w == 0 || h == 0 || w % 2 != 0 {
        return None;
    }
    let line = w.checked_mul(2)?;
    let stride = usize::try_from(stride).ok()?.max(line);
    // The last line needs its pixels only, not its padding.
    if data.len() < stride.checked_mul(h - 1)?.checked_add(line)? {
        return None;
    }
    let mut out = vec![0u8; w.checked_mul(h)?.checked_mul(3)?];
    for (row, dst) in out.chunks_exact_mut(w * 3).enumerate() {
        let src = &data[row * stride..row * stride + line];
        for (px, rgb) in src.chunks_exact(4).zip(dst.chunks_exact_mut(6)) {
            rgb[..3].copy_from_slice(&Range::Limited.rgb(px[0], px[1], px[3]));
            rgb[3..].copy_from_slice(&Range::Limited.rgb(px[2], px[1], px[3]));
        }
    }
    RgbImage::from_raw(width, height, out)
}

/// Where the planes of an I420 frame lie in its buffer: the Y plane (`y_stride` bytes per line,
/// `y_rows` lines), then U and V (`uv_stride` bytes per line, `uv_rows` lines each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I420Layout {
    pub width: u32,
    pub height: u32,
    pub y_stride: usize,
    pub y_rows: usize,
    pub uv_stride: usize,
    pub uv_rows: usize,
}

fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

impl I420Layout {
    /// Bytes per frame.
    pub fn frame_bytes(&self) -> usize {
        self.y_stride * self.y_rows + 2 * self.uv_stride * self.uv_rows
    }

    /// GStreamer's default I420 layout (`gst_video_info_set_format`): lines rounded up to 4
    /// bytes, an odd height rounded up to even. What `fdsink` writes after `videoconvert`.
    pub fn gstreamer(width: u32, height: u32) -> I420Layout {
        let (w, h) = (width as usize, height as usize);
        I420Layout {
            width,
            height,
            y_stride: round_up(w, 4),
            y_rows: round_up(h, 2),
            uv_stride: round_up(round_up(w, 2) / 2, 4),
            uv_rows: round_up(h, 2) / 2,
        }
    }

    /// What `rpicam-vid --codec yuv420 -o -` writes per frame: the ISP's whole buffer, lines
    /// padded as the ISP needs, U and V lines half the Y line. `pisp`: a Pi 5 (the PiSP back end
    /// pads the U and V lines to 64 bytes and the Y line to twice that: libpisp's
    /// `compute_optimal_stride`, called by libcamera's pisp pipeline handler); else the Pi 4 and
    /// earlier (the bcm2835-isp driver pads Y lines to 64 bytes: `bytesperline_align`). Widths
    /// that are a multiple of 128 are not padded on either.
    pub fn rpicam(width: u32, height: u32, pisp: bool) -> I420Layout {
        let (w, h) = (width as usize, height as usize);
        let y_stride = if pisp { 2 * round_up(w.div_ceil(2), 64) } else { round_up(w, 64) };
        I420Layout { width, height, y_stride, y_rows: h, uv_stride: y_stride / 2, uv_rows: h.div_ceil(2) }
    }
}

/// An I420 frame (whole, in `layout`) to RGB. `None` when the buffer is not the layout's size or
/// the layout cannot hold its picture (odd or zero sizes, lines shorter than the width).
pub fn i420_to_rgb(data: &[u8], layout: &I420Layout, range: Range) -> Option<RgbImage> {
    let (w, h) = (usize::try_from(layout.width).ok()?, usize::try_from(layout.height).ok()?);
    let l = layout;
    let fits = w > 0 && h > 0 && l.y_stride >= w && l.y_rows >= h && l.uv_stride >= w.div_ceil(2) && l.uv_rows >= h.div_ceil(2);
    let y_size = l.y_stride.checked_mul(l.y_rows)?;
    let uv_size = l.uv_stride.checked_mul(l.uv_rows)?;
    if !fits || data.len() != y_size.checked_add(uv_size.checked_mul(2)?)? {
        return None;
    }
    let (y_plane, chroma) = data.split_at(y_size);
    let (u_plane, v_plane) = chroma.split_at(uv_size);
    let mut out = vec![0u8; w.checked_mul(h)?.checked_mul(3)?];
    for (row, dst) in out.chunks_exact_mut(w * 3).enumerate() {
        let y_line = &y_plane[row * l.y_stride..][..w];
        let u_line = &u_plane[row / 2 * l.uv_stride..][..w.div_ceil(2)];
        let v_line = &v_plane[row / 2 * l.uv_stride..][..w.div_ceil(2)];
        for (x, rgb) in dst.chunks_exact_mut(3).enumerate() {
            rgb.copy_from_slice(&range.rgb(y_line[x], u_line[x / 2], v_line[x / 2]));
        }
    }
    RgbImage::from_raw(layout.width, layout.height, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_grey_white_black_and_short_frames() {
        // Two pixels per 4 bytes: (Y=16 black, Y=235 white), neutral chroma.
        let img = yuyv_to_rgb(&[16, 128, 235, 128], 2, 1, 0).expect("converts");
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(1, 0).0, [255, 255, 255]);
        // Pure red in BT.601: Y=81, U=90, V=240.
        let red = yuyv_to_rgb(&[81, 90, 81, 240], 2, 1, 0).expect("converts");
        let p = red.get_pixel(0, 0).0;
        assert!(p[0] > 245 && p[1] < 10 && p[2] < 10, "{p:?}");
        assert!(yuyv_to_rgb(&[0; 7], 2, 2, 0).is_none());
        assert!(yuyv_to_rgb(&[0; 12], 3, 1, 0).is_none());
    }

    /// A driver's size that overflows `width * height * 2` panicked (with overflow checks, as in
    /// the fuzz build; on a 32-bit Pi even u32 sizes wrap); an empty frame was accepted as a
    /// 0x0 image.
    #[test]
    fn yuyv_sizes_that_overflow_or_are_empty_are_refused() {
        assert!(yuyv_to_rgb(&[0; 64], u32::MAX - 1, u32::MAX, 0).is_none());
        assert!(yuyv_to_rgb(&[0; 64], 0x8000_0000, 2, u32::MAX).is_none());
        assert!(yuyv_to_rgb(&[], 0, 0, 0).is_none());
        assert!(yuyv_to_rgb(&[0; 8], 2, 0, 0).is_none());
    }

    /// Lines padded to the driver's stride: the padding is skipped, not read as pixels.
    #[test]
    fn yuyv_lines_padded_to_the_stride() {
        // 2x2 frame, 8 bytes per line: 4 bytes of pixels, 4 of padding (0xFF would show as colour).
        let data = [16, 128, 16, 128, 255, 255, 255, 255, 235, 128, 235, 128, 255, 255, 255, 255];
        let img = yuyv_to_rgb(&data, 2, 2, 8).expect("converts");
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(1, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(0, 1).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(1, 1).0, [255, 255, 255]);
        // The last line may end without its padding; one byte less is short.
        assert!(yuyv_to_rgb(&data[..12], 2, 2, 8).is_some());
        assert!(yuyv_to_rgb(&data[..11], 2, 2, 8).is_none());
    }

    /// The layouts the two libcamera programs write, by the numbers their sources give: the
    /// forum's measured rpicam-vid frame of 480x640 on a Pi 4 (Y lines of 512, 491,520 bytes).
    #[test]
    fn i420_layouts_of_gstreamer_and_rpicam_vid() {
        let g = I420Layout::gstreamer(640, 480);
        assert_eq!((g.y_stride, g.uv_stride, g.frame_bytes()), (640, 320, 460_800));
        let g = I420Layout::gstreamer(642, 481);
        assert_eq!((g.y_stride, g.y_rows, g.uv_stride, g.uv_rows), (644, 482, 324, 241));
        let pi4 = I420Layout::rpicam(480, 640, false);
        assert_eq!((pi4.y_stride, pi4.uv_stride, pi4.frame_bytes()), (512, 256, 491_520));
        for pisp in [false, true] {
            for w in [384, 640, 1280, 1920] {
                let l = I420Layout::rpicam(w, 480, pisp);
                assert_eq!(l.frame_bytes(), w as usize * 480 * 3 / 2, "{w} pisp={pisp}: a multiple of 128 is not padded");
            }
        }
        // 704 = 11 * 64: not padded on a Pi 4; a Pi 5 pads its U and V lines to 384.
        assert_eq!((I420Layout::rpicam(704, 480, false).y_stride, I420Layout::rpicam(704, 480, true).y_stride), (704, 768));
    }

    /// Colours through I420, in both ranges, with padded lines whose padding must not show; a
    /// buffer of the wrong size is refused.
    #[test]
    fn i420_colours_padding_and_wrong_sizes() {
        // 2x2 frame, Y lines of 4 bytes (2 of padding), U/V lines of 2 (1 of padding).
        let layout = I420Layout { width: 2, height: 2, y_stride: 4, y_rows: 2, uv_stride: 2, uv_rows: 1 };
        assert_eq!(layout.frame_bytes(), 12);
        let limited_red = [81, 81, 0xEE, 0xEE, 81, 81, 0xEE, 0xEE, 90, 0xEE, 240, 0xEE];
        let img = i420_to_rgb(&limited_red, &layout, Range::Limited).expect("converts");
        for p in img.pixels() {
            assert!(p.0[0] > 245 && p.0[1] < 10 && p.0[2] < 10, "{:?}", p.0);
        }
        // Full range: Y 0 is black and 255 white (limited range would clip 0..16 and 235..255).
        let full = [0, 255, 0, 0, 128, 64, 0, 0, 128, 0, 128, 0];
        let img = i420_to_rgb(&full, &layout, Range::Full).expect("converts");
        assert_eq!((img.get_pixel(0, 0).0, img.get_pixel(1, 0).0, img.get_pixel(0, 1).0), ([0, 0, 0], [255, 255, 255], [128, 128, 128]));
        assert!(i420_to_rgb(&full[..11], &layout, Range::Full).is_none());
        assert!(i420_to_rgb(&[full.as_slice(), &[0]].concat(), &layout, Range::Full).is_none());
        let narrow = I420Layout { y_stride: 1, ..layout };
        assert!(i420_to_rgb(&[0; 10], &narrow, Range::Full).is_none(), "lines shorter than the width");
        let huge = I420Layout { width: u32::MAX, height: u32::MAX, y_stride: usize::MAX, y_rows: usize::MAX, uv_stride: 1, uv_rows: 1 };
        assert!(i420_to_rgb(&[0; 64], &huge, Range::Full).is_none());
    }
}
