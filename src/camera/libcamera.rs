//! libcamera camera: a Raspberry Pi Camera Module (or any camera only libcamera drives),
//! streamed by a supervised child process that writes raw I420 frames on a pipe.
//!
//! **Why a child process, not a binding to libcamera.** libcamera has no stable ABI: Debian 13
//! ships 0.4, Raspberry Pi OS its own 0.5 fork, and a `.deb` linked against one does not load
//! against the other; the arm64 and armhf cross builds would need each OS's library to link
//! against, and the booth one package per OS. The programs that come with each OS's libcamera
//! are built against it and speak a stable interface, a command line and a byte stream:
//!
//! - `rpicam-vid -t 0 -n --codec yuv420 --width W --height H --framerate F --flush -o -`
//!   (package rpicam-apps or rpicam-apps-lite, installed on Raspberry Pi OS): the Pi's ISP
//!   scales and converts, the frames are written as the ISP's buffers — I420, full range
//!   (`--codec yuv420` selects the JPEG colour space), lines padded as the ISP needs
//!   ([`I420Layout::rpicam`]: a Pi 5 pads differently from a Pi 4; widths that are multiples of
//!   128 are padded on neither);
//! - elsewhere GStreamer: `gst-launch-1.0 -q libcamerasrc ! videoconvert ! videoscale !
//!   video/x-raw,format=I420,width=W,height=H ! fdsink fd=1` (packages gstreamer1.0-tools,
//!   gstreamer1.0-plugins-base, gstreamer1.0-libcamera): GStreamer's own I420 layout
//!   ([`I420Layout::gstreamer`]), limited range.
//!
//! Either way the frames arrive at the configured size, are turned into RGB here
//! (`yuv::i420_to_rgb`) and go the booth's usual way; nothing of a frame is written anywhere but
//! the pipe. A program that dies, hangs or stops inside a frame is `Gone`: the capture thread
//! stops it (its whole process group) and starts it again with backoff (`supervise.rs`); one that
//! starts but never gives a frame is given up for the other program when both are installed.
//! A program gets [`STARTUP_GRACE`] beyond `camera.timeout_seconds` for its first frame (a
//! camera's first start, and GStreamer's first scan of its plugins, take seconds on a Pi).
//!
//! **Test hook.** `ROLEMIRROR_GST_SOURCE`, when set, replaces `libcamerasrc` in the GStreamer
//! pipeline (e.g. `videotestsrc is-live=true pattern=smpte`): the tests run the real child
//! process, pipe, layout and conversion on a machine without a camera. The booth warns in its
//! log while the hook is set.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::child::{ChildSpec, ChildStream};
use super::probe::which;
use super::yuv::{i420_to_rgb, I420Layout, Range};
use super::{CameraError, Frame, FrameSource};
use crate::config::{LibcameraProgram, LiveCamera};
use crate::util::Size;

/// Extra time for a program's first frame.
pub const STARTUP_GRACE: Duration = Duration::from_secs(15);
/// The test hook: a GStreamer source description used in place of `libcamerasrc`.
pub const GST_SOURCE_ENV: &str = "ROLEMIRROR_GST_SOURCE";

/// The streaming programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    RpicamVid,
    Gstreamer,
}

impl Program {
    /// The executable, and the way of streaming as the capture thread's supervisor names it.
    pub fn executable(self) -> &'static str {
        match self {
            Program::RpicamVid => "rpicam-vid",
            Program::Gstreamer => "gst-launch-1.0",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Program::RpicamVid => "sudo apt install rpicam-apps-lite, or set camera.libcamera_program = \"gstreamer\"",
            Program::Gstreamer => "sudo apt install gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-libcamera",
        }
    }
}

/// The programs `choice` allows, installed ones only, those in `avoid` left out unless none
/// would remain: each with its path. Empty: why, and what to install.
pub fn programs(choice: LibcameraProgram, avoid: &[String]) -> Result<Vec<(Program, PathBuf)>, String> {
    let wanted: &[Program] = match choice {
        LibcameraProgram::Auto => &[Program::RpicamVid, Program::Gstreamer],
        LibcameraProgram::RpicamVid => &[Program::RpicamVid],
        LibcameraProgram::Gstreamer => &[Program::Gstreamer],
    };
    let installed: Vec<(Program, PathBuf)> = wanted.iter().filter_map(|p| which(p.executable()).map(|path| (*p, path))).collect();
    if installed.is_empty() {
        return Err(match wanted {
            [one] => format!("{} is not installed: {}", one.executable(), one.install_hint()),
            _ => "neither rpicam-vid nor gst-launch-1.0 is installed: sudo apt install rpicam-apps-lite (Raspberry Pi OS), or \
                  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-libcamera"
                .to_string(),
        });
    }
    let kept: Vec<(Program, PathBuf)> = installed.iter().filter(|(p, _)| !avoid.iter().any(|a| a == p.executable())).cloned().collect();
    Ok(if kept.is_empty() { installed } else { kept })
}

/// The command line, frame layout and value range of `program` for frames of `size` at `fps`;
/// `pisp`: a Pi 5's ISP; `gst_source`: the GStreamer source (`libcamerasrc`, or the test hook's).
pub fn command(program: Program, path: PathBuf, size: Size, fps: u32, pisp: bool, gst_source: &str) -> (ChildSpec, I420Layout, Range) {
    let (w, h) = (size.width, size.height);
    let (args, layout, range): (Vec<String>, _, _) = match program {
        Program::RpicamVid => (
            [
                "-t",
                "0",
                "-n",
                "--codec",
                "yuv420",
                "--width",
                &w.to_string(),
                "--height",
                &h.to_string(),
                "--framerate",
                &fps.to_string(),
                "--flush",
                "-o",
                "-",
            ]
            .map(String::from)
            .to_vec(),
            I420Layout::rpicam(w, h, pisp),
            Range::Full,
        ),
        Program::Gstreamer => {
            let mut args = vec!["-q".to_string()];
            args.extend(gst_source.split_whitespace().map(String::from));
            let caps = format!("video/x-raw,format=I420,width={w},height={h}");
            args.extend(["!", "videoconvert", "!", "videoscale", "!", &caps, "!", "fdsink", "fd=1", "sync=false"].map(String::from));
            (args, I420Layout::gstreamer(w, h), Range::Limited)
        }
    };
    let spec =
        ChildSpec { name: program.executable().to_string(), program: path, args, env: Vec::new(), frame_bytes: layout.frame_bytes() };
    (spec, layout, range)
}

/// A hint for what a program said before it ended.
fn hint(reason: String) -> String {
    let add = if reason.contains("no element \"libcamerasrc\"") {
        " (install gstreamer1.0-libcamera)"
    } else if reason.contains("no cameras available") {
        " (is the Camera Module connected? `rpicam-hello --list-cameras` lists what libcamera sees)"
    } else {
        ""
    };
    reason + add
}

/// A libcamera camera streaming through a child process.
pub struct LibcameraCamera {
    stream: ChildStream,
    program: Program,
    layout: I420Layout,
    range: Range,
    timeout: Duration,
    seq: u64,
    describe: String,
}

impl LibcameraCamera {
    /// Starts the first program `live.program` allows that is installed and not in `avoid`.
    /// `pisp`: the camera hangs off a Pi 5's ISP (see [`I420Layout::rpicam`]).
    pub fn open(live: &LiveCamera, timeout: Duration, avoid: &[String], pisp: bool) -> Result<LibcameraCamera, CameraError> {
        let (program, path) = programs(live.program, avoid).map_err(CameraError::Gone)?.remove(0);
        // YUV 4:2:0 needs even sizes (the config check says so for camera.backend = "libcamera").
        let size = Size::new(live.size.width & !1, live.size.height & !1);
        let source = match std::env::var(GST_SOURCE_ENV) {
            Ok(hook) if !hook.trim().is_empty() && program == Program::Gstreamer => {
                log::warn!("camera: test hook {GST_SOURCE_ENV} is set: GStreamer source {hook:?} in place of libcamerasrc");
                hook
            }
            _ => "libcamerasrc".to_string(),
        };
        let (spec, layout, range) = command(program, path, size, live.fps, pisp, &source);
        LibcameraCamera::start(&spec, program, layout, range, timeout)
    }

    /// Starts the program `spec` describes, whose frames lie in `layout` (what [`command`] gives;
    /// the tests also run stand-ins that die, hang or stop inside a frame).
    pub fn start(
        spec: &ChildSpec,
        program: Program,
        layout: I420Layout,
        range: Range,
        timeout: Duration,
    ) -> Result<LibcameraCamera, CameraError> {
        let stream = ChildStream::spawn(spec)?;
        let size = Size::new(layout.width, layout.height);
        let padded =
            if layout.y_stride != size.width as usize { format!(", lines padded to {} bytes", layout.y_stride) } else { String::new() };
        let describe = format!("libcamera via {} ({size} I420{padded}, pid {})", program.executable(), stream.pid());
        Ok(LibcameraCamera { stream, program, layout, range, timeout: timeout + STARTUP_GRACE, seq: 0, describe })
    }
}

impl FrameSource for LibcameraCamera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        let data = self.stream.read_frame(self.timeout).map_err(|e| match e {
            CameraError::Gone(why) => CameraError::Gone(hint(why)),
            other => other,
        })?;
        let image = i420_to_rgb(data, &self.layout, self.range)
            .ok_or_else(|| CameraError::BadFrame(format!("an I420 frame of {} bytes does not fit {:?}", data.len(), self.layout)))?;
        if self.seq == 0 {
            // After the first frame, the usual timeout.
            self.timeout = self.timeout.saturating_sub(STARTUP_GRACE).max(Duration::from_millis(200));
        }
        self.seq += 1;
        Ok(Frame { image: Arc::new(image), seq: self.seq, label: None })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn way(&self) -> Option<String> {
        Some(self.program.executable().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_and_layouts() {
        let size = Size::new(640, 480);
        let (spec, layout, range) = command(Program::RpicamVid, "/usr/bin/rpicam-vid".into(), size, 15, false, "libcamerasrc");
        assert_eq!(
            spec.args.join(" "),
            "-t 0 -n --codec yuv420 --width 640 --height 480 --framerate 15 --flush -o -",
            "rpicam-vid's documented raw output to stdout"
        );
        assert_eq!((spec.frame_bytes, layout.y_stride, range), (460_800, 640, Range::Full));
        let (spec, layout, range) =
            command(Program::Gstreamer, "/usr/bin/gst-launch-1.0".into(), Size::new(720, 480), 15, true, "libcamerasrc");
        assert_eq!(
            spec.args.join(" "),
            "-q libcamerasrc ! videoconvert ! videoscale ! video/x-raw,format=I420,width=720,height=480 ! fdsink fd=1 sync=false"
        );
        assert_eq!((spec.frame_bytes, range), (720 * 480 * 3 / 2, Range::Limited));
        assert_eq!(layout, I420Layout::gstreamer(720, 480));
        let (spec, _, _) = command(Program::Gstreamer, "gst".into(), size, 15, false, "videotestsrc is-live=true pattern=ball");
        assert!(spec.args.join(" ").starts_with("-q videotestsrc is-live=true pattern=ball ! videoconvert"));
    }

    #[test]
    fn reasons_get_a_hint() {
        assert!(hint("gst-launch-1.0 exited (exit status: 1): WARNING: erroneous pipeline: no element \"libcamerasrc\"".into())
            .ends_with("(install gstreamer1.0-libcamera)"));
        assert!(hint("rpicam-vid exited (exit status: 255): ERROR: *** no cameras available ***".into())
            .contains("rpicam-hello --list-cameras"));
        assert_eq!(hint("x".into()), "x");
    }
}
