//! The back buffer every scene is drawn into: 8-bit RGB, an `embedded_graphics` `DrawTarget`.
//! Backends copy it to the screen once per frame, so a half-drawn scene is never shown.
//!
//! A canvas can be turned ([`Canvas::rotated`]): scenes are laid out for the turned size (a
//! 1920x1080 monitor mounted in portrait is a 1080x1920 drawing surface) and every pixel is
//! written to its place in the screen's own (physical) layout as it is drawn, so the buffer the
//! backends copy is already turned: no second full-frame pass per frame.

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

pub use crate::config::Rotation;

/// An RGB888 frame in memory, in the screen's physical layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Canvas {
    /// Physical width and height (the screen's own rows and columns).
    width: u32,
    height: u32,
    rotation: Rotation,
    /// Row-major RGB bytes, physical layout.
    pixels: Vec<u8>,
}

impl Canvas {
    /// A black canvas, not turned.
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas::rotated(width, height, Rotation::R0)
    }

    /// A black canvas for a `width` x `height` screen turned by `rotation`: drawing happens in
    /// the turned coordinates ([`Canvas::layout_size`]), the buffer keeps the screen's layout.
    pub fn rotated(width: u32, height: u32, rotation: Rotation) -> Canvas {
        Canvas { width, height, rotation, pixels: vec![0; width as usize * height as usize * 3] }
    }

    /// Physical width (the screen's).
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Physical height (the screen's).
    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    /// The size scenes are laid out for: the physical size, swapped when turned by 90 or 270.
    pub fn layout_size(&self) -> (u32, u32) {
        self.rotation.turn(self.width, self.height)
    }

    /// Row-major RGB bytes in the screen's layout.
    pub fn rgb(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixel at physical (x, y), if inside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    /// Byte offset of the layout point (x, y), which must be inside the layout size.
    #[inline]
    fn offset(&self, x: u32, y: u32) -> usize {
        let (w, h) = (self.width as usize, self.height as usize);
        let (x, y) = (x as usize, y as usize);
        let (px, py) = match self.rotation {
            Rotation::R0 => (x, y),
            // Turned clockwise by 90: the screen's top row is on the viewer's right.
            Rotation::R90 => (y, h - 1 - x),
            Rotation::R180 => (w - 1 - x, h - 1 - y),
            // Turned by 270: the screen's top row is on the viewer's left.
            Rotation::R270 => (w - 1 - y, x),
        };
        (py * w + px) * 3
    }

    /// Whether the layout point is inside.
    #[inline]
    fn inside(&self, p: Point) -> bool {
        let (lw, lh) = self.layout_size();
        p.x >= 0 && p.y >= 0 && (p.x as u32) < lw && (p.y as u32) < lh
    }

    /// Copies an RGB image (or the part that fits) with its top-left at layout point (x, y).
    pub fn blit(&mut self, img: &image::RgbImage, x: i32, y: i32) {
        for (ix, iy, p) in img.enumerate_pixels() {
            let at = Point::new(x.saturating_add(ix as i32), y.saturating_add(iy as i32));
            if self.inside(at) {
                let i = self.offset(at.x as u32, at.y as u32);
                self.pixels[i..i + 3].copy_from_slice(&p.0);
            }
        }
    }

    /// Writes the canvas into a buffer of XRGB8888 pixels (bytes B, G, R, X: little-endian
    /// 0x00RRGGBB) with `pitch` bytes per row: KMS dumb buffers and most 32-bit framebuffers.
    /// What does not fit is left out; bytes beyond the canvas are left alone.
    pub fn write_xrgb8888(&self, dst: &mut [u8], pitch: usize) {
        let w = self.width as usize;
        if w == 0 {
            return;
        }
        for (src, row) in self.pixels.chunks_exact(w * 3).zip(dst.chunks_mut(pitch.max(1))) {
            for (d, s) in row.chunks_exact_mut(4).zip(src.chunks_exact(3)) {
                d.copy_from_slice(&[s[2], s[1], s[0], 0]);
            }
        }
    }

    /// As an `image` buffer in the screen's layout (for PNG output and tests).
    pub fn to_image(&self) -> image::RgbImage {
        image::RgbImage::from_raw(self.width, self.height, self.pixels.clone())
            .unwrap_or_else(|| image::RgbImage::new(self.width, self.height))
    }
}

impl OriginDimensions for Canvas {
    /// The layout size (turned).
    fn size(&self) -> Size {
        let (w, h) = self.layout_size();
        Size::new(w, h)
    }
}

impl DrawTarget for Canvas {
    type Color = Rgb888;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(p, c) in pixels {
            if self.inside(p) {
                let i = self.offset(p.x as u32, p.y as u32);
                self.pixels[i..i + 3].copy_from_slice(&[c.r(), c.g(), c.b()]);
            }
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Self::Color) -> Result<(), Self::Error> {
        let area = area.intersection(&self.bounding_box());
        let Some(end) = area.bottom_right() else { return Ok(()) };
        let rgb = [color.r(), color.g(), color.b()];
        for y in area.top_left.y..=end.y {
            for x in area.top_left.x..=end.x {
                let i = self.offset(x as u32, y as u32);
                self.pixels[i..i + 3].copy_from_slice(&rgb);
            }
        }
        Ok(())
    }

    fn clear(&mut self, color: Self::Color) -> Result<(), Self::Error> {
        for px in self.pixels.chunks_exact_mut(3) {
            px.copy_from_slice(&[color.r(), color.g(), color.b()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};

    /// A picture with no symmetry: a red pixel top-left, a green one top-right, a blue
    /// rectangle along the bottom-left, drawn in layout coordinates.
    fn draw(c: &mut Canvas) {
        let (w, h) = c.layout_size();
        let _ = c.clear(Rgb888::BLACK);
        let _ = Pixel(Point::new(0, 0), Rgb888::RED).draw(c);
        let _ = Pixel(Point::new(w as i32 - 1, 0), Rgb888::GREEN).draw(c);
        let _ = Rectangle::new(Point::new(0, h as i32 - 2), Size::new(3, 2)).into_styled(PrimitiveStyle::with_fill(Rgb888::BLUE)).draw(c);
        // Off the canvas: ignored, not a panic.
        let _ = Pixel(Point::new(-1, 5), Rgb888::WHITE).draw(c);
        let _ = Pixel(Point::new(w as i32, 0), Rgb888::WHITE).draw(c);
        let _ = Rectangle::new(Point::new(w as i32 - 1, h as i32 - 1), Size::new(9, 9))
            .into_styled(PrimitiveStyle::with_fill(Rgb888::WHITE))
            .draw(c);
    }

    #[test]
    fn a_turned_canvas_holds_the_picture_turned_as_the_screen_needs_it() {
        // The unturned picture on a 5x3 layout, then each rotation must equal image's own
        // rotation of it (rotate90 turns clockwise: a screen turned clockwise by 90 shows the
        // picture upright when the buffer holds the picture turned counter-clockwise).
        let mut flat = Canvas::new(5, 3);
        draw(&mut flat);
        let want = flat.to_image();
        for (rotation, turned) in [
            (Rotation::R90, image::imageops::rotate270(&want)),
            (Rotation::R180, image::imageops::rotate180(&want)),
            (Rotation::R270, image::imageops::rotate90(&want)),
        ] {
            let (w, h) = turned.dimensions();
            let mut c = Canvas::rotated(w, h, rotation);
            assert_eq!(c.layout_size(), (5, 3), "{rotation:?}");
            draw(&mut c);
            assert_eq!(c.to_image(), turned, "{rotation:?}");
        }
        assert_eq!(flat.pixel(4, 2), Some([255, 255, 255]));
        assert_eq!(flat.pixel(0, 2), Some([0, 0, 255]));
    }

    #[test]
    fn xrgb8888_rows_honour_the_pitch() {
        let mut c = Canvas::new(2, 2);
        let _ = Pixel(Point::new(1, 0), Rgb888::new(10, 20, 30)).draw(&mut c);
        let _ = Pixel(Point::new(0, 1), Rgb888::new(40, 50, 60)).draw(&mut c);
        let mut buf = vec![9u8; 12 * 2];
        c.write_xrgb8888(&mut buf, 12);
        assert_eq!(&buf[..12], &[0, 0, 0, 0, 30, 20, 10, 0, 9, 9, 9, 9]);
        assert_eq!(&buf[12..], &[60, 50, 40, 0, 0, 0, 0, 0, 9, 9, 9, 9]);
        // A smaller buffer takes what fits.
        let mut small = vec![9u8; 4];
        c.write_xrgb8888(&mut small, 4);
        assert_eq!(small, vec![0, 0, 0, 0]);
    }

    #[test]
    fn blit_lands_in_layout_coordinates() {
        let img = image::RgbImage::from_fn(2, 1, |x, _| image::Rgb([x as u8 * 100 + 1, 0, 0]));
        let mut c = Canvas::rotated(3, 4, Rotation::R90); // layout 4x3
        c.blit(&img, 3, 0); // the second pixel falls off the layout's right edge
                            // Layout (3, 0) is physical (0, 0) on a screen turned by 90 (its top row on the right).
        assert_eq!(c.pixel(0, 0), Some([1, 0, 0]));
        assert_eq!(c.rgb().iter().filter(|v| **v != 0).count(), 1);
    }
}
