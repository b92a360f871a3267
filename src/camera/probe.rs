//! `camera.backend = "auto"`: which camera is there, decided each time the camera is opened.
//!
//! In: the media-controller devices the kernel lists in `/sys/bus/media/devices` (each with its
//! driver) and the V4L2 video nodes with their capture formats ([`Probe::read`]). Out: a
//! [`Decision`] with the reason in words, which the booth logs ([`decide`], pure and tested).
//!
//! The rules, in order:
//!
//! 1. `camera.device` is set: V4L2 on that node.
//! 2. A Raspberry Pi CSI receiver is there, `unicam` (Pi 4 and earlier) or `rp1-cfe` (Pi 5,
//!    whose front end feeds the PiSP): a Camera Module is connected (the receiver's driver
//!    binds only when the firmware found a sensor), and only libcamera turns its raw Bayer
//!    into pictures. The Pi's ISP and codec devices (`bcm2835-isp`, `pispbe`,
//!    `bcm2835-codec`, …) are there with or without a camera, so they decide nothing.
//! 3. A capture node offering MJPEG or YUYV (a USB UVC webcam, vivid, v4l2loopback): V4L2.
//! 4. A capture node offering only formats the booth does not decode (Bayer from a bare
//!    sensor, as vimc's): libcamera.
//! 5. Nothing: no camera yet (the capture thread tries again).

use std::path::{Path, PathBuf};

/// A media-controller device (`/dev/mediaN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDevice {
    /// `media0`.
    pub name: String,
    /// The kernel driver bound to its device (`unicam`, `rp1-cfe`, `uvcvideo`, `vimc`, …).
    pub driver: String,
}

/// A V4L2 video node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoNode {
    pub path: PathBuf,
    /// VIDIOC_QUERYCAP's driver and card.
    pub driver: String,
    pub card: String,
    /// It captures video by streaming (not metadata, not a memory-to-memory codec).
    pub capture: bool,
    /// Its capture formats as FourCC text (`YUYV`, `MJPG`, `BA81`, …).
    pub formats: Vec<String>,
}

impl VideoNode {
    /// It offers a format the booth decodes.
    pub fn decodable(&self) -> bool {
        self.formats.iter().any(|f| f == "MJPG" || f == "YUYV")
    }

    fn describe(&self) -> String {
        format!("{} ({}, {})", self.path.display(), self.card, self.driver)
    }
}

/// What is there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    pub media: Vec<MediaDevice>,
    pub nodes: Vec<VideoNode>,
}

/// Where the kernel lists media-controller devices.
pub const MEDIA_DEVICES: &str = "/sys/bus/media/devices";

/// The Raspberry Pi CSI receivers: a Camera Module is connected.
const CSI_RECEIVERS: [&str; 3] = ["unicam", "bcm2835-unicam", "rp1-cfe"];
/// Pi devices whose video nodes are no camera: ISPs and codecs (memory to memory).
const ISPS_AND_CODECS: [&str; 4] = ["bcm2835-isp", "bcm2835-codec", "pispbe", "rpi-hevc-dec"];

impl Probe {
    /// Reads what the kernel lists (sysfs and the video nodes).
    pub fn read() -> Probe {
        Probe { media: media_devices(Path::new(MEDIA_DEVICES)), nodes: video_nodes() }
    }

    /// A Pi 5 (PiSP): its ISP pads frame lines differently (see `yuv::I420Layout::rpicam`).
    pub fn pisp(&self) -> bool {
        self.media.iter().any(|m| m.driver == "rp1-cfe" || m.driver == "pispbe")
    }

    /// The capture nodes that could be a webcam, in node order.
    pub fn webcams(&self) -> impl Iterator<Item = &VideoNode> {
        self.nodes.iter().filter(|n| n.capture && n.decodable() && !Probe::pi_device(n))
    }

    /// An ISP, codec or CSI receiver node of a Pi (the receivers' nodes carry raw Bayer for
    /// libcamera).
    fn pi_device(node: &VideoNode) -> bool {
        let d = node.driver.as_str();
        ISPS_AND_CODECS.contains(&d) || CSI_RECEIVERS.contains(&d)
    }
}

/// The media devices under `dir` (`/sys/bus/media/devices`), by name.
pub fn media_devices(dir: &Path) -> Vec<MediaDevice> {
    let mut out: Vec<MediaDevice> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let driver = std::fs::read_link(e.path().join("device/driver"))
                        .ok()
                        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                        .unwrap_or_default();
                    MediaDevice { name: e.file_name().to_string_lossy().into_owned(), driver }
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|m| (m.name.len(), m.name.clone()));
    out
}

#[cfg(target_os = "linux")]
fn video_nodes() -> Vec<VideoNode> {
    super::v4l::video_nodes()
}

#[cfg(not(target_os = "linux"))]
fn video_nodes() -> Vec<VideoNode> {
    Vec::new()
}

/// Which backend, and why (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    V4l2 { device: Option<PathBuf>, why: String },
    Libcamera { why: String },
    Nothing { why: String },
}

/// The auto rules (module doc) over what is there; `device` is `camera.device`.
pub fn decide(probe: &Probe, device: Option<&Path>) -> Decision {
    if let Some(d) = device {
        return Decision::V4l2 { device: Some(d.to_path_buf()), why: format!("camera.device is set to {}", d.display()) };
    }
    let webcam = probe.webcams().next();
    if let Some(csi) = probe.media.iter().find(|m| CSI_RECEIVERS.contains(&m.driver.as_str())) {
        let also = webcam.map_or(String::new(), |w| format!("; also found {}: set camera.backend = \"v4l2\" to use it", w.describe()));
        return Decision::Libcamera {
            why: format!("a Raspberry Pi Camera Module is connected ({} is driven by {}){also}", csi.name, csi.driver),
        };
    }
    if let Some(w) = webcam {
        let formats: Vec<&str> = w.formats.iter().map(String::as_str).filter(|f| *f == "MJPG" || *f == "YUYV").collect();
        return Decision::V4l2 { device: Some(w.path.clone()), why: format!("{} offers {}", w.describe(), formats.join(" and ")) };
    }
    if let Some(raw) = probe.nodes.iter().find(|n| n.capture && !n.formats.is_empty() && !n.decodable() && !Probe::pi_device(n)) {
        return Decision::Libcamera {
            why: format!("{} offers only raw formats ({}): a sensor that needs libcamera", raw.describe(), raw.formats.join(", ")),
        };
    }
    let seen =
        if probe.nodes.is_empty() { "no video nodes".to_string() } else { format!("{} video nodes, none a camera", probe.nodes.len()) };
    Decision::Nothing {
        why: format!(
            "no camera found ({seen}): plug in a USB webcam, or connect a Camera Module (camera_auto_detect=1 in \
             /boot/firmware/config.txt, then reboot)"
        ),
    }
}

/// A program on `$PATH` (the default path when unset).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str, driver: &str, formats: &[&str]) -> VideoNode {
        VideoNode {
            path: path.into(),
            driver: driver.into(),
            card: format!("{driver} card"),
            capture: true,
            formats: formats.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn media(name: &str, driver: &str) -> MediaDevice {
        MediaDevice { name: name.into(), driver: driver.into() }
    }

    /// A Pi 4 with a Camera Module: unicam's own node offers Bayer, the ISP's nodes YUYV; the
    /// Camera Module is picked, not an ISP node.
    #[test]
    fn a_camera_module_on_a_pi_is_libcamera_and_its_isp_is_no_webcam() {
        let pi4 = Probe {
            media: vec![media("media0", "unicam"), media("media1", "bcm2835-isp"), media("media2", "bcm2835-codec")],
            nodes: vec![
                node("/dev/video0", "unicam", &["pRAA", "RGGB"]),
                node("/dev/video13", "bcm2835-isp", &["YUYV", "YU12"]),
                node("/dev/video14", "bcm2835-isp", &["YUYV"]),
            ],
        };
        match decide(&pi4, None) {
            Decision::Libcamera { why } => {
                assert!(why.contains("Camera Module") && why.contains("unicam") && !why.contains("also"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!pi4.pisp());
        // The same Pi without a Camera Module (unicam does not bind): the ISP is no camera.
        let bare = Probe { media: pi4.media[1..].to_vec(), nodes: pi4.nodes[1..].to_vec() };
        assert!(matches!(decide(&bare, None), Decision::Nothing { why } if why.contains("none a camera")));
        // A Pi 5 with a Camera Module and a UVC webcam: the Camera Module, the webcam named.
        let pi5 = Probe {
            media: vec![media("media0", "pispbe"), media("media1", "rp1-cfe"), media("media3", "uvcvideo")],
            nodes: vec![node("/dev/video0", "rp1-cfe", &["pRAA"]), node("/dev/video8", "uvcvideo", &["MJPG", "YUYV"])],
        };
        match decide(&pi5, None) {
            Decision::Libcamera { why } => assert!(why.contains("rp1-cfe") && why.contains("/dev/video8") && why.contains("v4l2"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(pi5.pisp());
    }

    #[test]
    fn a_uvc_webcam_stays_v4l2_and_a_set_device_wins() {
        let pc = Probe {
            media: vec![media("media0", "uvcvideo")],
            nodes: vec![
                VideoNode { capture: false, ..node("/dev/video1", "uvcvideo", &[]) },
                node("/dev/video0", "uvcvideo", &["MJPG", "YUYV"]),
            ],
        };
        match decide(&pc, None) {
            Decision::V4l2 { device, why } => {
                assert_eq!(device, Some(PathBuf::from("/dev/video0")));
                assert!(why.contains("MJPG and YUYV"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        let pi = Probe { media: vec![media("media0", "unicam")], ..pc };
        assert!(
            matches!(decide(&pi, Some(Path::new("/dev/video4"))), Decision::V4l2 { device: Some(d), .. } if d == Path::new("/dev/video4"))
        );
    }

    /// vimc (libcamera's test pipeline): raw formats only, so libcamera; next to vivid, vivid.
    #[test]
    fn a_node_with_only_raw_formats_is_libcamera() {
        let vimc = Probe {
            media: vec![media("media0", "vimc")],
            nodes: vec![node("/dev/video0", "vimc", &["BA81", "pBAA"]), node("/dev/video2", "vimc", &["RGB3", "BGR3"])],
        };
        assert!(matches!(decide(&vimc, None), Decision::Libcamera { why } if why.contains("only raw formats (BA81, pBAA)")));
        let mut both = vimc.clone();
        both.nodes.push(node("/dev/video4", "vivid", &["YUYV"]));
        assert!(matches!(decide(&both, None), Decision::V4l2 { device: Some(d), .. } if d == Path::new("/dev/video4")));
    }

    /// A fake sysfs tree: the driver is the basename of `device/driver`.
    #[test]
    fn media_devices_are_read_from_sysfs_links() {
        let dir = std::env::temp_dir().join(format!("rm-probe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (name, driver) in [("media10", "uvcvideo"), ("media2", "rp1-cfe"), ("media3", "")] {
            std::fs::create_dir_all(dir.join(name).join("device")).expect("mkdir");
            if !driver.is_empty() {
                std::os::unix::fs::symlink(format!("../../../bus/platform/drivers/{driver}"), dir.join(name).join("device/driver"))
                    .expect("link");
            }
        }
        let found = media_devices(&dir);
        assert_eq!(found, vec![media("media2", "rp1-cfe"), media("media3", ""), media("media10", "uvcvideo")]);
        assert!(media_devices(&dir.join("missing")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn which_finds_executables_on_the_path() {
        assert!(which("sh").is_some());
        assert!(which("rolemirror-no-such-program").is_none());
    }
}
