//! V4L2 camera (the `v4l` crate): a USB (UVC) webcam, or any V4L2 capture node that offers
//! YUYV or MJPEG (vivid, v4l2loopback). Raspberry Pi Camera Modules are not driven by plain V4L2
//! on current Raspberry Pi OS: they go through `libcamera.rs`.
//!
//! Opens the configured device or the first webcam ([`super::probe`]), lists what it offers per
//! pixel format, size and rate, and negotiates with [`choose`]: YUYV where the webcam offers the
//! configured size at the configured rate (exact pixels, no decoding), else MJPEG (webcams offer
//! 720p and 1080p at full rate only as MJPEG); streams through mmap buffers and turns each frame
//! into RGB. MJPEG frames are made decodable as webcams send them (`mjpeg.rs`); frames that
//! cannot be used are dropped, counted, and each kind logged once. Only this file knows the
//! `v4l` crate.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use v4l::buffer::{Flags as BufferFlags, Type};
use v4l::capability::Flags;
use v4l::framesize::FrameSizeEnum;
use v4l::io::mmap::Stream as MmapStream;
use v4l::io::traits::CaptureStream;
use v4l::video::capture::Parameters;
use v4l::video::Capture;
use v4l::{Device, FourCC};

use super::probe::VideoNode;
pub use super::yuv::yuyv_to_rgb;
use super::{mjpeg, CameraError, Frame, FrameLog, FrameSource};
use crate::util::image::RgbImage;
use crate::util::Size;

/// Pixel formats we decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pixels {
    Mjpeg,
    Yuyv,
}

impl Pixels {
    fn fourcc(self) -> FourCC {
        FourCC::new(match self {
            Pixels::Mjpeg => b"MJPG",
            Pixels::Yuyv => b"YUYV",
        })
    }

    /// The way of streaming, as the capture thread's supervisor names it.
    pub fn way(self) -> &'static str {
        match self {
            Pixels::Mjpeg => "MJPEG",
            Pixels::Yuyv => "YUYV",
        }
    }
}

/// Sizes a device offers for one pixel format (VIDIOC_ENUM_FRAMESIZES), with the best rate
/// at each discrete size (VIDIOC_ENUM_FRAMEINTERVALS; `None` when the device does not say).
#[derive(Debug, Clone, PartialEq)]
pub enum Sizes {
    Discrete(Vec<(Size, Option<f32>)>),
    /// Any size from `min` to `max` in steps (vivid, v4l2loopback).
    Stepwise {
        min: Size,
        max: Size,
        step: (u32, u32),
    },
}

/// What a device offers in one pixel format.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub pixels: Pixels,
    pub sizes: Sizes,
}

/// The format, size and reason [`choose`] settled on.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub pixels: Pixels,
    pub size: Size,
    pub why: String,
}

impl Offer {
    /// Whether `want` is offered, and at which best rate.
    fn exact(&self, want: Size) -> Option<Option<f32>> {
        match &self.sizes {
            Sizes::Discrete(list) => list.iter().find(|(s, _)| *s == want).map(|(_, fps)| *fps),
            Sizes::Stepwise { min, max, step } => {
                let on_step = |v: u32, lo: u32, st: u32| (v - lo).is_multiple_of(st.max(1));
                let inside = (min.width..=max.width).contains(&want.width) && (min.height..=max.height).contains(&want.height);
                (inside && on_step(want.width, min.width, step.0) && on_step(want.height, min.height, step.1)).then_some(None)
            }
        }
    }

    /// The offered size nearest to `want` (by pixel count; larger on a tie), with its best rate.
    fn nearest(&self, want: Size) -> Option<(Size, Option<f32>)> {
        let area = |s: &Size| i64::from(s.width) * i64::from(s.height);
        let target = area(&want);
        let candidates: Vec<(Size, Option<f32>)> = match &self.sizes {
            Sizes::Discrete(list) => list.clone(),
            Sizes::Stepwise { min, max, .. } => {
                vec![(Size::new(want.width.clamp(min.width, max.width), want.height.clamp(min.height, max.height)), None)]
            }
        };
        candidates.into_iter().min_by_key(|(s, _)| ((area(s) - target).abs(), -area(s)))
    }
}

/// The pixel format and size to ask for: YUYV where it offers `want` at `fps` (or does not say
/// its rate), else MJPEG where it does, else whichever offers `want` at all (YUYV first), else
/// the size nearest to `want` (YUYV on a tie). Formats in `avoid` (given up by the capture
/// thread) are left out unless nothing else is offered. `None`: neither YUYV nor MJPEG.
pub fn choose(offers: &[Offer], want: Size, fps: u32, avoid: &[String]) -> Option<Choice> {
    let usable: Vec<&Offer> = offers.iter().filter(|o| !avoid.iter().any(|a| a == o.pixels.way())).collect();
    let usable = if usable.is_empty() { offers.iter().collect() } else { usable };
    let by = |pixels: Pixels| usable.iter().find(|o| o.pixels == pixels).copied();
    let at_rate = |o: &Offer| matches!(o.exact(want), Some(rate) if rate.is_none_or(|r| r + 0.5 >= fps as f32));
    let rate_of = |o: &Offer| o.exact(want).flatten().map_or("an unknown rate".to_string(), |r| format!("up to {r:.0} fps"));
    for pixels in [Pixels::Yuyv, Pixels::Mjpeg] {
        if let Some(o) = by(pixels).filter(|o| at_rate(o)) {
            let why = format!("offers {want} at {}", rate_of(o));
            return Some(Choice { pixels, size: want, why });
        }
    }
    for pixels in [Pixels::Yuyv, Pixels::Mjpeg] {
        if let Some(o) = by(pixels).filter(|o| o.exact(want).is_some()) {
            let why = format!("offers {want} only at {}, below {fps} fps", rate_of(o));
            return Some(Choice { pixels, size: want, why });
        }
    }
    // The nearest size; of equally near ones, one offered at the rate; YUYV before MJPEG.
    let area = |s: Size| (i64::from(s.width) * i64::from(s.height) - i64::from(want.width) * i64::from(want.height)).abs();
    [Pixels::Yuyv, Pixels::Mjpeg]
        .into_iter()
        .filter_map(|p| by(p).and_then(|o| o.nearest(want)).map(|(s, rate)| (p, s, rate.is_some_and(|r| r + 0.5 < fps as f32))))
        .min_by_key(|(_, s, slow)| (area(*s), *slow))
        .map(|(pixels, size, _)| Choice { pixels, size, why: format!("does not offer {want}; {size} is the nearest size") })
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
    log: FrameLog,
}

fn gone(path: &Path, what: &str, e: impl std::fmt::Display) -> CameraError {
    CameraError::Gone(format!("{}: {what}: {e}", path.display()))
}

/// NUL-terminated bytes from the kernel as text (lossy: a device's names are input).
fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// VIDIOC_QUERYCAP and the capture formats of an open node. Asked directly, not through the
/// `v4l` crate's helpers, which panic on names that are not UTF-8.
fn describe_node(path: &Path, device: &Device) -> std::io::Result<VideoNode> {
    use v4l::v4l_sys::{v4l2_capability, v4l2_fmtdesc};
    let fd = device.handle().fd();
    // SAFETY: plain-old-data structs the kernel fills, passed with the ioctl numbers they belong to.
    let caps = unsafe {
        let mut caps: v4l2_capability = std::mem::zeroed();
        v4l::v4l2::ioctl(fd, v4l::v4l2::vidioc::VIDIOC_QUERYCAP, &mut caps as *mut _ as *mut std::os::raw::c_void)?;
        caps
    };
    let flags = Flags::from(if caps.device_caps != 0 { caps.device_caps } else { caps.capabilities });
    let capture = flags.contains(Flags::VIDEO_CAPTURE) && flags.contains(Flags::STREAMING);
    let mut formats = Vec::new();
    for index in 0..64 {
        // SAFETY: as above.
        let desc = unsafe {
            let mut desc: v4l2_fmtdesc = std::mem::zeroed();
            desc.index = index;
            desc.type_ = Type::VideoCapture as u32;
            match v4l::v4l2::ioctl(fd, v4l::v4l2::vidioc::VIDIOC_ENUM_FMT, &mut desc as *mut _ as *mut std::os::raw::c_void) {
                Ok(()) => desc,
                Err(_) => break,
            }
        };
        formats.push(text(&desc.pixelformat.to_le_bytes()).trim().to_string());
    }
    Ok(VideoNode { path: path.to_path_buf(), driver: text(&caps.driver), card: text(&caps.card), capture, formats })
}

/// The video nodes the kernel lists (`/sys/class/video4linux/videoN`, in number order), with
/// their drivers and capture formats; nodes that do not open are left out.
pub fn video_nodes() -> Vec<VideoNode> {
    let mut numbers: Vec<u32> = std::fs::read_dir("/sys/class/video4linux")
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.strip_prefix("video")?.parse().ok()).collect())
        .unwrap_or_default();
    numbers.sort_unstable();
    numbers
        .into_iter()
        .filter_map(|n| {
            let path = PathBuf::from(format!("/dev/video{n}"));
            let device = Device::with_path(&path).ok()?;
            describe_node(&path, &device).ok()
        })
        .collect()
}

/// What `device` offers in YUYV and MJPEG.
fn offers(device: &Device) -> Vec<Offer> {
    [Pixels::Yuyv, Pixels::Mjpeg]
        .into_iter()
        .filter_map(|pixels| {
            let sizes = device.enum_framesizes(pixels.fourcc()).ok()?;
            let mut discrete = Vec::new();
            for s in sizes {
                match s.size {
                    FrameSizeEnum::Stepwise(st) => {
                        return Some(Offer {
                            pixels,
                            sizes: Sizes::Stepwise {
                                min: Size::new(st.min_width, st.min_height),
                                max: Size::new(st.max_width, st.max_height),
                                step: (st.step_width, st.step_height),
                            },
                        })
                    }
                    FrameSizeEnum::Discrete(d) => {
                        let rate = device.enum_frameintervals(pixels.fourcc(), d.width, d.height).ok().and_then(|intervals| {
                            intervals
                                .iter()
                                .map(|i| match &i.interval {
                                    v4l::frameinterval::FrameIntervalEnum::Discrete(f) => f,
                                    v4l::frameinterval::FrameIntervalEnum::Stepwise(s) => &s.min,
                                })
                                .filter(|f| f.numerator > 0)
                                .map(|f| f.denominator as f32 / f.numerator as f32)
                                .max_by(f32::total_cmp)
                        });
                        discrete.push((Size::new(d.width, d.height), rate));
                    }
                }
            }
            (!discrete.is_empty()).then_some(Offer { pixels, sizes: Sizes::Discrete(discrete) })
        })
        .collect()
}

impl V4l2Camera {
    /// Opens `device` (None: the first webcam) at about `size` and `fps` in the format
    /// [`choose`] picks (leaving out the formats in `avoid`), and starts streaming; a frame that
    /// takes longer than `timeout` is an error.
    pub fn open(device: Option<&Path>, size: Size, fps: u32, timeout: Duration, avoid: &[String]) -> Result<V4l2Camera, CameraError> {
        let path = match device {
            Some(p) => p.to_path_buf(),
            None => {
                let probe = super::probe::Probe { media: Vec::new(), nodes: video_nodes() };
                let first = probe.webcams().next().map(|n| n.path.clone());
                first.ok_or_else(|| CameraError::Gone("no video capture device found".into()))?
            }
        };
        let device = Device::with_path(&path).map_err(|e| gone(&path, "open", e))?;
        let offered = offers(&device);
        let choice = choose(&offered, size, fps, avoid).ok_or_else(|| {
            let node = describe_node(&path, &device).map(|n| n.formats.join(", ")).unwrap_or_default();
            gone(
                &path,
                "formats",
                format!("offers neither YUYV nor MJPEG (it offers: {node}); a Camera Module needs camera.backend = \"libcamera\""),
            )
        })?;
        let mut format = device.format().map_err(|e| gone(&path, "get format", e))?;
        (format.width, format.height, format.fourcc) = (choice.size.width, choice.size.height, choice.pixels.fourcc());
        let actual = device.set_format(&format).map_err(|e| gone(&path, "set format", e))?;
        if actual.fourcc != choice.pixels.fourcc() {
            return Err(gone(&path, "set format", format!("asked for {}, the driver gave {}", choice.pixels.way(), actual.fourcc)));
        }
        if let Err(e) = device.set_params(&Parameters::with_fps(fps)) {
            log::warn!("{}: cannot set {} fps ({e}); using the device's rate", path.display(), fps);
        }
        let mut stream = MmapStream::with_buffers(&device, Type::VideoCapture, 4).map_err(|e| gone(&path, "start streaming", e))?;
        stream.set_timeout(timeout.max(Duration::from_millis(200)));
        log::info!(
            "{}: {}x{} {} at up to {fps} fps (the camera {})",
            path.display(),
            actual.width,
            actual.height,
            choice.pixels.way(),
            choice.why
        );
        let log = FrameLog::new(path.display().to_string());
        Ok(V4l2Camera {
            stream,
            _device: device,
            path,
            width: actual.width,
            height: actual.height,
            stride: actual.stride,
            pixels: choice.pixels,
            seq: 0,
            log,
        })
    }
}

/// An MJPEG frame to RGB, as webcams send it (see `mjpeg.rs`). Its header may not announce more
/// pixels than the negotiated `width` x `height`.
pub fn mjpeg_to_rgb(data: &[u8], width: u32, height: u32) -> Result<RgbImage, mjpeg::Fault> {
    mjpeg::decode(data, width, height).map(|(image, _)| image)
}

impl FrameSource for V4l2Camera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        let (buf, meta) = match self.stream.next() {
            Ok(b) => b,
            // Unplugged: ENODEV; timed out: no frame within camera.timeout_seconds.
            Err(e) => return Err(gone(&self.path, "read frame", e)),
        };
        if meta.flags.contains(BufferFlags::ERROR) {
            self.log.dropped("marked broken by the driver", || format!("{} bytes, the driver's error flag set", meta.bytesused));
            return Err(CameraError::BadFrame("a frame the driver marked broken".into()));
        }
        let used = (meta.bytesused as usize).min(buf.len());
        let data = &buf[..if used > 0 { used } else { buf.len() }];
        let image = match self.pixels {
            Pixels::Mjpeg => match mjpeg::decode(data, self.width, self.height) {
                Ok((image, notes)) => {
                    if notes.standard_tables {
                        self.log.repaired("MJPEG without Huffman tables", "the standard tables of JPEG Annex K inserted");
                    }
                    if notes.trailing > 0 {
                        self.log.repaired("MJPEG with bytes after the end-of-image marker", "cut at the marker");
                    }
                    if let Some(s) = notes.sampling.filter(|s| *s != mjpeg::Sampling::S420) {
                        self.log.repaired(&format!("MJPEG with {s} sampling"), "decoded");
                    }
                    image
                }
                Err(fault) => {
                    let why = fault.to_string();
                    self.log.dropped(fault.kind(), || why.clone());
                    return Err(CameraError::BadFrame(why));
                }
            },
            Pixels::Yuyv => match yuyv_to_rgb(data, self.width, self.height, self.stride) {
                Some(image) => image,
                None => {
                    let why = format!("short YUYV frame: {} bytes for {}x{} (stride {})", data.len(), self.width, self.height, self.stride);
                    self.log.dropped("short YUYV", || why.clone());
                    return Err(CameraError::BadFrame(why));
                }
            },
        };
        self.seq += 1;
        Ok(Frame { image: Arc::new(image), seq: self.seq, label: None })
    }

    fn describe(&self) -> String {
        format!("{} ({}x{} {:?})", self.path.display(), self.width, self.height, self.pixels)
    }

    fn way(&self) -> Option<String> {
        Some(self.pixels.way().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sz(w: u32, h: u32) -> Size {
        Size::new(w, h)
    }

    /// A typical UVC webcam (a Logitech C920's list, abridged): YUYV up to 1080p but 720p only
    /// at 10 fps and 1080p at 5; MJPEG everything at 30.
    fn c920() -> Vec<Offer> {
        vec![
            Offer {
                pixels: Pixels::Yuyv,
                sizes: Sizes::Discrete(vec![
                    (sz(640, 480), Some(30.0)),
                    (sz(800, 600), Some(24.0)),
                    (sz(1280, 720), Some(10.0)),
                    (sz(1920, 1080), Some(5.0)),
                ]),
            },
            Offer {
                pixels: Pixels::Mjpeg,
                sizes: Sizes::Discrete(vec![(sz(640, 480), Some(30.0)), (sz(1280, 720), Some(30.0)), (sz(1920, 1080), Some(30.0))]),
            },
        ]
    }

    #[test]
    fn yuyv_where_offered_at_the_rate_else_mjpeg() {
        let c = choose(&c920(), sz(640, 480), 15, &[]).expect("a choice");
        assert_eq!((c.pixels, c.size), (Pixels::Yuyv, sz(640, 480)));
        assert!(c.why.contains("up to 30 fps"), "{}", c.why);
        let c = choose(&c920(), sz(1280, 720), 15, &[]).expect("a choice");
        assert_eq!((c.pixels, c.size), (Pixels::Mjpeg, sz(1280, 720)), "YUYV 720p only at 10 fps");
        assert_eq!(choose(&c920(), sz(1280, 720), 10, &[]).map(|c| c.pixels), Some(Pixels::Yuyv));
        assert_eq!(
            choose(&c920(), sz(800, 600), 30, &[]).map(|c| (c.pixels, c.size)),
            Some((Pixels::Yuyv, sz(800, 600))),
            "only YUYV has it"
        );
    }

    #[test]
    fn a_format_given_up_is_left_out_unless_it_is_all_there_is() {
        let c = choose(&c920(), sz(1280, 720), 15, &["MJPEG".into()]).expect("a choice");
        assert_eq!((c.pixels, c.size), (Pixels::Yuyv, sz(1280, 720)));
        assert!(c.why.contains("below 15 fps"), "{}", c.why);
        let mjpeg_only = vec![c920().remove(1)];
        assert_eq!(choose(&mjpeg_only, sz(640, 480), 15, &["MJPEG".into()]).map(|c| c.pixels), Some(Pixels::Mjpeg));
        assert_eq!(choose(&[], sz(640, 480), 15, &[]), None);
    }

    /// A size the camera does not offer: the nearest one; a stepwise device (v4l2loopback,
    /// vivid) takes the size as asked when it is inside its range and on its steps.
    #[test]
    fn sizes_not_offered_and_stepwise_devices() {
        let c = choose(&c920(), sz(1024, 768), 15, &[]).expect("a choice");
        assert_eq!((c.pixels, c.size), (Pixels::Mjpeg, sz(1280, 720)), "nearest in pixels, at the rate: {}", c.why);
        assert_eq!(choose(&c920(), sz(320, 240), 15, &[]).map(|c| c.size), Some(sz(640, 480)));
        let loopback = vec![Offer { pixels: Pixels::Mjpeg, sizes: Sizes::Stepwise { min: sz(2, 2), max: sz(8192, 8192), step: (1, 1) } }];
        assert_eq!(choose(&loopback, sz(640, 480), 15, &[]).map(|c| (c.pixels, c.size)), Some((Pixels::Mjpeg, sz(640, 480))));
        let even = vec![Offer { pixels: Pixels::Yuyv, sizes: Sizes::Stepwise { min: sz(16, 16), max: sz(1920, 1080), step: (2, 2) } }];
        assert_eq!(choose(&even, sz(4000, 3000), 15, &[]).map(|c| c.size), Some(sz(1920, 1080)));
        assert_eq!(choose(&even, sz(641, 480), 15, &[]).map(|c| c.why.contains("nearest")), Some(true));
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
        assert!(matches!(&err, mjpeg::Fault::Undecodable(why) if why.contains("3072 pixels, over the limit of 768")), "{err}");
    }
}
