//! The CPU cost of a presented frame: the live mirror view (the scene redrawn for every camera
//! frame) rendered and handed to each backend, timed with the thread's CPU clock. The paths run
//! interleaved, frame by frame, so load beside the run weighs on all of them alike.
//!
//! - `before`: what the booth did until the frame was mirrored while drawing: a flipped copy of
//!   the camera frame, the scene rendered, the framebuffer encoder a pixel at a time, one
//!   `pwrite` (to a file in `dir`);
//! - `fbdev`: mirrored while drawing, the XRGB8888 pass, one `pwrite`;
//! - `kms`: mirrored while drawing, the XRGB8888 pass into a shared mapping the size of a dumb
//!   buffer (what [`super::kms`] does before it queues the flip; the flip ioctl itself needs a
//!   card and is not in this number); `kms-rotated`: the same on a screen turned by 90;
//! - `png`: the PNG backend (encode and atomic write).
//!
//! `rolemirror bench` can print [`frame_costs`]; so does `cargo test --release --test it
//! screens::frame_cost -- --ignored --nocapture`.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::canvas::{Canvas, Rotation};
use super::render::{render, Assets};
use super::scene::{Guidance, Scene};
use super::{fbdev, png};
use crate::vision::RgbImage;

/// Medians over the frames of one path, in milliseconds of the thread's CPU time.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FrameCost {
    pub path: &'static str,
    pub width: u32,
    pub height: u32,
    pub frames: usize,
    /// The scene drawn into the canvas (and, for `before`, the flipped copy).
    pub render_ms: f64,
    /// The canvas handed to the screen.
    pub present_ms: f64,
    /// Per frame, both.
    pub total_ms: f64,
}

fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// An anonymous shared mapping standing in for a mapped dumb buffer.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> Option<Mapping> {
        // SAFETY: an anonymous shared read-write mapping of `len` bytes, checked for failure.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1, 0)
        };
        (p != libc::MAP_FAILED).then(|| Mapping { ptr: p.cast(), len })
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `len` mapped bytes, borrowed mutably through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `new`, once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Renders and presents the live view of `camera` on a `width` x `height` screen `frames` times
/// along each path (files in `dir`); the medians per path.
pub fn frame_costs(
    assets: &Assets,
    camera: &RgbImage,
    width: u32,
    height: u32,
    frames: usize,
    dir: &Path,
) -> std::io::Result<Vec<FrameCost>> {
    let paths = ["before", "fbdev", "kms", "kms-rotated", "png"];
    let geometry = fbdev::Geometry::xrgb8888(width, height, width * 4);
    let fb_file = std::fs::File::create(dir.join("bench-fb"))?;
    let mut map = Mapping::new(geometry.line_length as usize * height as usize).ok_or_else(std::io::Error::last_os_error)?;
    let mut png = png::PngScreen::new(dir.join("bench-screen.png"), None, width, height)?;
    let camera = Arc::new(camera.clone());
    let face =
        Some([camera.width() as f32 * 0.35, camera.height() as f32 * 0.25, camera.width() as f32 * 0.3, camera.height() as f32 * 0.5]);
    let mut canvas = Canvas::new(width, height);
    let mut turned = Canvas::rotated(height, width, Rotation::R90);
    let mut samples = vec![(Vec::new(), Vec::new()); paths.len()];
    for i in 0..frames {
        // The progress bar moves, so every frame differs (the PNG backend skips repeats).
        let progress = Some((i % 100) as f32 / 100.0);
        for (p, path) in paths.iter().enumerate() {
            let t0 = cpu_now();
            let scene = if *path == "before" {
                let flipped = Arc::new(image::imageops::flip_horizontal(camera.as_ref()));
                let flipped_face = face.map(|b| [camera.width() as f32 - b[0] - b[2], b[1], b[2], b[3]]);
                Scene::Live {
                    frame: flipped,
                    face: flipped_face,
                    mirror: false,
                    guidance: Guidance::HoldStill,
                    progress,
                    language: None,
                    likely: Vec::new(),
                }
            } else {
                Scene::Live {
                    frame: camera.clone(),
                    face,
                    mirror: true,
                    guidance: Guidance::HoldStill,
                    progress,
                    language: None,
                    likely: Vec::new(),
                }
            };
            let target = if *path == "kms-rotated" { &mut turned } else { &mut canvas };
            render(&scene, assets, target);
            let t1 = cpu_now();
            match *path {
                "before" => fb_file.write_all_at(&fbdev::encode_any(&canvas, &geometry), 0)?,
                "fbdev" => fb_file.write_all_at(&fbdev::encode(&canvas, &geometry), 0)?,
                "kms" => canvas.write_xrgb8888(map.bytes(), geometry.line_length as usize),
                "kms-rotated" => turned.write_xrgb8888(map.bytes(), turned.width() as usize * 4),
                _ => {
                    png.present(&canvas, "bench")?;
                }
            }
            let t2 = cpu_now();
            samples[p].0.push((t1 - t0).as_secs_f64() * 1e3);
            samples[p].1.push((t2 - t1).as_secs_f64() * 1e3);
        }
    }
    let _ = std::fs::remove_file(dir.join("bench-fb"));
    let _ = std::fs::remove_file(dir.join("bench-screen.png"));
    Ok(paths
        .iter()
        .zip(samples)
        .map(|(path, (mut r, mut p))| {
            let mut total: Vec<f64> = r.iter().zip(&p).map(|(a, b)| a + b).collect();
            FrameCost { path, width, height, frames, render_ms: median(&mut r), present_ms: median(&mut p), total_ms: median(&mut total) }
        })
        .collect())
}

/// The costs as a table, one path per line.
pub fn table(costs: &[FrameCost]) -> String {
    let mut out = String::from("path          size        frames  render ms  present ms  total ms\n");
    for c in costs {
        out.push_str(&format!(
            "{:<13} {:>4}x{:<6} {:>6} {:>10.2} {:>11.2} {:>9.2}\n",
            c.path, c.width, c.height, c.frames, c.render_ms, c.present_ms, c.total_ms
        ));
    }
    out
}
