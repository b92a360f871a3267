//! Linux framebuffer backend (`/dev/fbN`, e.g. HDMI on a Raspberry Pi).
//!
//! Geometry and pixel format come from the FBIOGET_VSCREENINFO / FBIOGET_FSCREENINFO ioctls;
//! 16 bpp (RGB565) and 32 bpp (XRGB8888, any channel order the bitfields describe) are
//! supported, honouring the line length (padding at the end of each row). A frame is encoded
//! from the canvas into one buffer and written to the device with a single `pwrite`, so a
//! half-drawn scene never shows. Tests run the same encoder against a file with the same byte
//! layout (see [`Fbdev::with_geometry`]).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::canvas::Canvas;

/// One colour channel's place in a pixel (as `fb_bitfield`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Bitfield {
    pub offset: u32,
    pub length: u32,
    pub msb_right: u32,
}

/// What the encoder needs to know about the framebuffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub width: u32,
    pub height: u32,
    pub bits_per_pixel: u32,
    /// Bytes per row, at least width * bytes per pixel.
    pub line_length: u32,
    pub red: Bitfield,
    pub green: Bitfield,
    pub blue: Bitfield,
}

impl Geometry {
    /// RGB565 with this size and no row padding.
    pub fn rgb565(width: u32, height: u32) -> Geometry {
        Geometry {
            width,
            height,
            bits_per_pixel: 16,
            line_length: width * 2,
            red: Bitfield { offset: 11, length: 5, msb_right: 0 },
            green: Bitfield { offset: 5, length: 6, msb_right: 0 },
            blue: Bitfield { offset: 0, length: 5, msb_right: 0 },
        }
    }

    /// XRGB8888 with this size and `line_length` bytes per row.
    pub fn xrgb8888(width: u32, height: u32, line_length: u32) -> Geometry {
        Geometry {
            width,
            height,
            bits_per_pixel: 32,
            line_length,
            red: Bitfield { offset: 16, length: 8, msb_right: 0 },
            green: Bitfield { offset: 8, length: 8, msb_right: 0 },
            blue: Bitfield { offset: 0, length: 8, msb_right: 0 },
        }
    }

    fn check(&self) -> Result<(), String> {
        let bpp = self.bits_per_pixel;
        if bpp != 16 && bpp != 32 {
            return Err(format!("{bpp} bits per pixel: only 16 (RGB565) and 32 (XRGB8888) are supported"));
        }
        if self.width == 0 || self.height == 0 || self.line_length < self.width * bpp / 8 {
            return Err(format!("inconsistent geometry {self:?}"));
        }
        for f in [self.red, self.green, self.blue] {
            if f.length == 0 || f.length > 8 || f.offset + f.length > bpp {
                return Err(format!("unsupported colour bitfield {f:?}"));
            }
        }
        Ok(())
    }
}

/// Encodes the canvas (cropped or padded with black to the framebuffer's size) into the
/// framebuffer's byte layout.
pub fn encode(canvas: &Canvas, g: &Geometry) -> Vec<u8> {
    if *g == Geometry::xrgb8888(g.width, g.height, g.line_length) && (canvas.width(), canvas.height()) == (g.width, g.height) {
        // The common layout (KMS's fbdev emulation, bochs): one straight pass.
        let mut out = vec![0u8; g.line_length as usize * g.height as usize];
        canvas.write_xrgb8888(&mut out, g.line_length as usize);
        return out;
    }
    encode_any(canvas, g)
}

/// [`encode`] for any bitfield layout, a pixel at a time (the only encoder before the XRGB8888
/// pass; kept for other layouts and as the "before" of the display bench).
pub fn encode_any(canvas: &Canvas, g: &Geometry) -> Vec<u8> {
    let bytes_pp = (g.bits_per_pixel / 8) as usize;
    let mut out = vec![0u8; g.line_length as usize * g.height as usize];
    let pack = |v: u8, f: Bitfield| -> u32 { (u32::from(v) >> (8 - f.length)) << f.offset };
    for y in 0..g.height.min(canvas.height()) {
        let row = y as usize * g.line_length as usize;
        for x in 0..g.width.min(canvas.width()) {
            let [r, gr, b] = canvas.pixel(x, y).unwrap_or([0, 0, 0]);
            let px = pack(r, g.red) | pack(gr, g.green) | pack(b, g.blue);
            let o = row + x as usize * bytes_pp;
            out[o..o + bytes_pp].copy_from_slice(&px.to_le_bytes()[..bytes_pp]);
        }
    }
    out
}

/// Decodes framebuffer bytes back to RGB (for tests and screenshots of a running booth).
pub fn decode(bytes: &[u8], g: &Geometry) -> image::RgbImage {
    let bytes_pp = (g.bits_per_pixel / 8) as usize;
    let unpack = |px: u32, f: Bitfield| -> u8 {
        let v = (px >> f.offset) & ((1 << f.length) - 1);
        // Scale back to 8 bits, replicating the high bits into the low ones.
        ((v << (8 - f.length)) | (v >> (2 * f.length).saturating_sub(8).min(f.length))) as u8
    };
    image::RgbImage::from_fn(g.width, g.height, |x, y| {
        let o = y as usize * g.line_length as usize + x as usize * bytes_pp;
        let mut word = [0u8; 4];
        if let Some(src) = bytes.get(o..o + bytes_pp) {
            word[..bytes_pp].copy_from_slice(src);
        }
        let px = u32::from_le_bytes(word);
        image::Rgb([unpack(px, g.red), unpack(px, g.green), unpack(px, g.blue)])
    })
}

/// `struct fb_var_screeninfo` from <linux/fb.h>.
#[repr(C)]
#[derive(Default)]
struct VarScreenInfo {
    xres: u32,
    yres: u32,
    xres_virtual: u32,
    yres_virtual: u32,
    xoffset: u32,
    yoffset: u32,
    bits_per_pixel: u32,
    grayscale: u32,
    red: Bitfield,
    green: Bitfield,
    blue: Bitfield,
    transp: Bitfield,
    nonstd: u32,
    activate: u32,
    height: u32,
    width: u32,
    accel_flags: u32,
    pixclock: u32,
    left_margin: u32,
    right_margin: u32,
    upper_margin: u32,
    lower_margin: u32,
    hsync_len: u32,
    vsync_len: u32,
    sync: u32,
    vmode: u32,
    rotate: u32,
    colorspace: u32,
    reserved: [u32; 4],
}

/// `struct fb_fix_screeninfo` from <linux/fb.h>.
#[repr(C)]
struct FixScreenInfo {
    id: [u8; 16],
    smem_start: libc::c_ulong,
    smem_len: u32,
    type_: u32,
    type_aux: u32,
    visual: u32,
    xpanstep: u16,
    ypanstep: u16,
    ywrapstep: u16,
    line_length: u32,
    mmio_start: libc::c_ulong,
    mmio_len: u32,
    accel: u32,
    capabilities: u16,
    reserved: [u16; 2],
}

const FBIOGET_VSCREENINFO: libc::c_ulong = 0x4600;
const FBIOGET_FSCREENINFO: libc::c_ulong = 0x4602;
const FBIOBLANK: libc::c_ulong = 0x4611;
const FB_BLANK_UNBLANK: libc::c_ulong = 0;
/// How often `present` makes sure the screen is switched on.
const UNBLANK_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Why the framebuffer cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("framebuffer {path}: {reason}")]
pub struct FbError {
    pub path: PathBuf,
    pub reason: String,
}

/// An open framebuffer.
pub struct Fbdev {
    file: File,
    path: PathBuf,
    geometry: Geometry,
    /// Byte offset of the visible area (yoffset * line_length).
    offset: u64,
    /// When the screen was last switched on (`None`: a plain file, nothing to switch).
    unblanked: Option<std::time::Instant>,
}

impl Fbdev {
    /// Opens a framebuffer device and reads its geometry with the ioctls.
    pub fn open(path: &Path) -> Result<Fbdev, FbError> {
        let err = |reason: String| FbError { path: path.to_path_buf(), reason };
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| err(e.to_string()))?;
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        let mut var = VarScreenInfo::default();
        // SAFETY: FBIOGET_VSCREENINFO fills a struct fb_var_screeninfo, which VarScreenInfo
        // mirrors field for field (repr(C)); the pointer is valid for the call.
        if unsafe { libc::ioctl(fd, FBIOGET_VSCREENINFO as _, &mut var as *mut VarScreenInfo) } != 0 {
            return Err(err(format!("FBIOGET_VSCREENINFO: {} (not a framebuffer?)", std::io::Error::last_os_error())));
        }
        // SAFETY: all-zero is a valid FixScreenInfo (integers and arrays only).
        let mut fix: FixScreenInfo = unsafe { std::mem::zeroed() };
        // SAFETY: as above, for struct fb_fix_screeninfo.
        if unsafe { libc::ioctl(fd, FBIOGET_FSCREENINFO as _, &mut fix as *mut FixScreenInfo) } != 0 {
            return Err(err(format!("FBIOGET_FSCREENINFO: {}", std::io::Error::last_os_error())));
        }
        let geometry = Geometry {
            width: var.xres,
            height: var.yres,
            bits_per_pixel: var.bits_per_pixel,
            line_length: fix.line_length,
            red: var.red,
            green: var.green,
            blue: var.blue,
        };
        geometry.check().map_err(err)?;
        let offset = u64::from(var.yoffset) * u64::from(fix.line_length);
        let _ = (fix.id, fix.smem_start, fix.smem_len, fix.mmio_start);
        let mut fb = Fbdev { file, path: path.to_path_buf(), geometry, offset, unblanked: None };
        fb.unblank();
        Ok(fb)
    }

    /// Uses a plain file with the given layout as the framebuffer (tests; screenshots).
    pub fn with_geometry(path: &Path, geometry: Geometry) -> Result<Fbdev, FbError> {
        let err = |reason: String| FbError { path: path.to_path_buf(), reason };
        geometry.check().map_err(err)?;
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(|e| err(e.to_string()))?;
        Ok(Fbdev { file, path: path.to_path_buf(), geometry, offset: 0, unblanked: None })
    }

    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Writes the canvas in one go.
    pub fn present(&mut self, canvas: &Canvas) -> Result<(), FbError> {
        if self.unblanked.is_some_and(|t| t.elapsed() >= UNBLANK_EVERY) {
            self.unblank();
        }
        let bytes = encode(canvas, &self.geometry);
        self.file.write_all_at(&bytes, self.offset).map_err(|e| FbError { path: self.path.clone(), reason: e.to_string() })
    }

    /// Switches the display on (FBIOBLANK, FB_BLANK_UNBLANK). Writing pixels does not: a screen
    /// blanked by the console's power saving, or whose output was switched off while another
    /// process held it (seen in the system test: after the watchdog killed the booth, the new
    /// one drew into a framebuffer QEMU showed as the black VGA text mode), stays dark. Done at
    /// open and every [`UNBLANK_EVERY`] while drawing; errors are ignored (not every driver has
    /// it).
    fn unblank(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: FBIOBLANK takes its argument by value; no memory is passed.
        let _ = unsafe { libc::ioctl(self.file.as_raw_fd(), FBIOBLANK as _, FB_BLANK_UNBLANK) };
        self.unblanked = Some(std::time::Instant::now());
    }

    /// Black screen (on shutdown).
    pub fn blank(&mut self) -> Result<(), FbError> {
        self.present(&Canvas::new(self.geometry.width, self.geometry.height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::Rgb888;
    use embedded_graphics::prelude::*;

    #[test]
    fn struct_sizes_match_the_kernel_abi() {
        assert_eq!(std::mem::size_of::<VarScreenInfo>(), 160);
        let fix = if cfg!(target_pointer_width = "64") { 80 } else { 68 };
        assert_eq!(std::mem::size_of::<FixScreenInfo>(), fix);
    }

    fn canvas() -> Canvas {
        let mut c = Canvas::new(5, 3);
        let _ = c.clear(Rgb888::new(255, 0, 0));
        let _ = Pixel(Point::new(1, 1), Rgb888::new(0, 255, 0)).draw(&mut c);
        let _ = Pixel(Point::new(4, 2), Rgb888::new(0, 0, 255)).draw(&mut c);
        let _ = Pixel(Point::new(0, 2), Rgb888::new(200, 100, 50)).draw(&mut c);
        c
    }

    #[test]
    fn rgb565_round_trip() {
        let g = Geometry::rgb565(5, 3);
        let bytes = encode(&canvas(), &g);
        assert_eq!(bytes.len(), 30);
        assert_eq!(&bytes[..2], &0xF800u16.to_le_bytes());
        let back = decode(&bytes, &g);
        assert_eq!(back.get_pixel(0, 0).0, [255, 0, 0]);
        assert_eq!(back.get_pixel(1, 1).0, [0, 255, 0]);
        assert_eq!(back.get_pixel(4, 2).0, [0, 0, 255]);
        let p = back.get_pixel(0, 2).0;
        assert!((i32::from(p[0]) - 200).abs() <= 8 && (i32::from(p[1]) - 100).abs() <= 4 && (i32::from(p[2]) - 50).abs() <= 8, "{p:?}");
    }

    #[test]
    fn xrgb8888_honours_line_length_and_bitfields() {
        let g = Geometry::xrgb8888(5, 3, 32); // 12 bytes of padding per row
        let bytes = encode(&canvas(), &g);
        assert_eq!(bytes.len(), 96);
        assert_eq!(&bytes[0..4], &[0, 0, 255, 0]); // B G R X little-endian: red
        assert!(bytes[20..32].iter().all(|b| *b == 0), "padding untouched");
        let back = decode(&bytes, &g);
        assert_eq!(back.get_pixel(0, 2).0, [200, 100, 50]);
        // BGR order (red at offset 0) is described by the bitfields, not assumed.
        let mut bgr = g;
        bgr.red.offset = 0;
        bgr.blue.offset = 16;
        let bytes = encode(&canvas(), &bgr);
        assert_eq!(&bytes[0..4], &[255, 0, 0, 0]);
        assert_eq!(decode(&bytes, &bgr).get_pixel(4, 2).0, [0, 0, 255]);
    }

    #[test]
    fn rejects_unsupported_formats() {
        let mut g = Geometry::rgb565(5, 3);
        g.bits_per_pixel = 24;
        assert!(g.check().is_err());
        assert!(Geometry::xrgb8888(5, 3, 8).check().is_err());
    }

    #[test]
    fn a_regular_file_is_not_a_framebuffer_device() {
        let p = std::env::temp_dir().join(format!("rm-notfb-{}", std::process::id()));
        std::fs::write(&p, b"x").expect("write");
        let e = Fbdev::open(&p).err().expect("refused");
        assert!(e.to_string().contains("FBIOGET_VSCREENINFO"), "{e}");
        let _ = std::fs::remove_file(&p);
    }
}
