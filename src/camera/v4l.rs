//! V4L2 camera (the `v4l` crate): a USB UVC webcam, or a Raspberry Pi Camera Module through
//! libcamera's V4L2 compatibility layer (`libcamerify rolemirror run …`; plain V4L2 does not
//! drive Pi Camera Modules on current Raspberry Pi OS, which routes them through libcamera).
//!
//! Opens the configured device or the first video capture device, negotiates MJPEG (preferred:
//! less USB bandwidth) or YUYV at the configured size and rate, streams through mmap buffers,
//! and decodes each frame to RGB. Only this file knows the `v4l` crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use v4l::buffer::Type;
use v4l::capability::Flags;
use v4l::io::mmap::Stream as MmapStream;
use v4l::io::traits::CaptureStream;
use v4l::video::capture::Parameters;
use v4l::video::Capture;
use v4l::{Device, FourCC};

use super::{CameraError, Frame, FrameSource};
use crate::util::image::RgbImage;
use crate::util::Size;

/// Pixel formats we decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pixels {
    Mjpeg,
    Yuyv,
}

/// An open, streaming V4L2 camera.
pub struct V4l2Camera {
    // The stream holds its own handle to the device; the device is kept for its lifetime.
    stream: MmapStream<'static>,
    _device: Device,
    path: PathBuf,
    width: u32,
    height: u32,
    /// Bytes per line as the driver reports them (YUYV lines may be padded).
    stride: u32,
    pixels: Pixels,
    seq: u64,
}

fn gone(path: &std::path::Path, what: &str, e: impl std::fmt::Display) -> CameraError {
    CameraError::Gone(format!("{}: {what}: {e}", path.display()))
}

/// The first video capture device, if any.
fn first_capture_device() -> Option<PathBuf> {
    let mut nodes = v4l::context::enum_devices();
    nodes.sort_by_key(|n| n.index());
    nodes.into_iter().map(|n| n.path().to_path_buf()).find(|p| {
        Device::with_path(p)
            .and_then(|d| d.query_caps())
            .map(|c| c.capabilities.contains(Flags::VIDEO_CAPTURE) && c.capabilities.contains(Flags::STREAMING))
            .unwrap_or(false)
    })
}

impl V4l2Camera {
    /// Opens `device` (None: the first capture device) at about `size` and `fps`, and starts
    /// streaming; a frame that takes longer than `timeout` is an error.
    pub fn open(device: Option<&Path>, size: Size, fps: u32, timeout: Duration) -> Result<V4l2Camera, CameraError> {
        let path = match device {
            Some(p) => p.to_path_buf(),
            None => first_capture_device().ok_or_else(|| CameraError::Gone("no video capture device found".into()))?,
        };
        let device = Device::with_path(&path).map_err(|e| gone(&path, "open", e))?;
        let mut format = device.format().map_err(|e| gone(&path, "get format", e))?;
        format.width = size.width;
        format.height = size.height;
        let mut chosen = None;
        for (fourcc, pixels) in [(FourCC::new(b"MJPG"), Pixels::Mjpeg), (FourCC::new(b"YUYV"), Pixels::Yuyv)] {
            format.fourcc = fourcc;
            if let Ok(actual) = device.set_format(&format) {
                if actual.fourcc == fourcc {
                    chosen = Some((actual, pixels));
                    break;
                }
            }
        }
        let (actual, pixels) = chosen.ok_or_else(|| gone(&path, "set format", "the device offers neither MJPEG nor YUYV"))?;
        if let Err(e) = device.set_params(&Parameters::with_fps(fps)) {
            log::warn!("{}: cannot set {} fps ({e}); using the device's rate", path.display(), fps);
        }
        let mut stream = MmapStream::with_buffers(&device, Type::VideoCapture, 4).map_err(|e| gone(&path, "start streaming", e))?;
        stream.set_timeout(timeout.max(Duration::from_millis(200)));
        log::info!("{}: {}x{} {:?} at up to {} fps", path.display(), actual.width, actual.height, pixels, fps);
        Ok(V4l2Camera { stream, _device: device, path, width: actual.width, height: actual.height, stride: actual.stride, pixels, seq: 0 })
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
    let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    for (row, dst) in out.chunks_exact_mut(w * 3).enumerate() {
        let src = &data[row * stride..row * stride + line];
        for (px, rgb) in src.chunks_exact(4).zip(dst.chunks_exact_mut(6)) {
            let (y0, u, y1, v) = (f32::from(px[0]), f32::from(px[1]) - 128.0, f32::from(px[2]), f32::from(px[3]) - 128.0);
            for (k, y) in [y0, y1].into_iter().enumerate() {
                let c = 1.164 * (y - 16.0);
                rgb[k * 3] = clamp(c + 1.596 * v);
                rgb[k * 3 + 1] = clamp(c - 0.392 * u - 0.813 * v);
                rgb[k * 3 + 2] = clamp(c + 2.017 * u);
            }
        }
    }
    RgbImage::from_raw(width, height, out)
}

/// An MJPEG frame to RGB. Its header may not announce more pixels than the negotiated
/// `width` x `height`: a camera (or a broken one) cannot make the booth decode a frame of up to
/// 50 megapixels in place of 0.3.
pub fn mjpeg_to_rgb(data: &[u8], width: u32, height: u32) -> Result<RgbImage, crate::util::image::ImageError> {
    crate::util::image::decode(data, u64::from(width) * u64::from(height))
}

impl FrameSource for V4l2Camera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        let (buf, meta) = match self.stream.next() {
            Ok(b) => b,
            // Unplugged: ENODEV; timed out: no frame within camera.timeout_seconds.
            Err(e) => return Err(gone(&self.path, "read frame", e)),
        };
        let used = (meta.bytesused as usize).min(buf.len());
        let data = &buf[..if used > 0 { used } else { buf.len() }];
        let image = match self.pixels {
            Pixels::Mjpeg => mjpeg_to_rgb(data, self.width, self.height).map_err(|e| CameraError::BadFrame(e.to_string()))?,
            Pixels::Yuyv => yuyv_to_rgb(data, self.width, self.height, self.stride).ok_or_else(|| {
                CameraError::BadFrame(format!(
                    "short YUYV frame: {} bytes for {}x{} (stride {})",
                    data.len(),
                    self.width,
                    self.height,
                    self.stride
                ))
            })?,
        };
        self.seq += 1;
        Ok(Frame { image: Arc::new(image), seq: self.seq, label: None })
    }

    fn describe(&self) -> String {
        format!("{} ({}x{} {:?})", self.path.display(), self.width, self.height, self.pixels)
    }
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

    /// An MJPEG frame larger than the negotiated size was decoded up to 50 megapixels.
    #[test]
    fn mjpeg_frames_larger_than_negotiated_are_refused_from_the_header() {
        let img = RgbImage::from_pixel(64, 48, image::Rgb([90, 120, 200]));
        let mut jpg = Vec::new();
        image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut jpg), image::ImageFormat::Jpeg).expect("jpeg");
        assert_eq!(mjpeg_to_rgb(&jpg, 64, 48).expect("decodes").dimensions(), (64, 48));
        assert!(mjpeg_to_rgb(&jpg, 80, 60).is_ok(), "a smaller frame is fine");
        let err = mjpeg_to_rgb(&jpg, 32, 24).expect_err("too large");
        assert!(matches!(err, crate::util::image::ImageError::TooLarge { pixels: 3072, limit: 768, .. }), "{err}");
    }
}
