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

    /// How far the byte offset moves for one step right in layout coordinates.
    #[inline]
    fn step_right(&self) -> isize {
        let row = self.width as isize * 3;
        match self.rotation {
            Rotation::R0 => 3,
            Rotation::R90 => -row,
            Rotation::R180 => -3,
            Rotation::R270 => row,
        }
    }

    /// Writes `colors` into the run of `len` layout pixels that starts at (x, y), which must lie
    /// inside the layout; stops early when `colors` ends.
    #[inline]
    fn write_run(&mut self, x: u32, y: u32, len: usize, colors: impl Iterator<Item = Rgb888>) {
        let step = self.step_right();
        let mut at = self.offset(x, y) as isize;
        for c in colors.take(len) {
            let i = at as usize;
            if let Some(px) = self.pixels.get_mut(i..i + 3) {
                px.copy_from_slice(&[c.r(), c.g(), c.b()]);
            }
            at += step;
        }
    }

    /// Whether the layout point is inside.
    #[inline]
    fn inside(&self, p: Point) -> bool {
        let (lw, lh) = self.layout_size();
        p.x >= 0 && p.y >= 0 && (p.x as u32) < lw && (p.y as u32) < lh
    }

    /// Copies an RGB image (or the part that fits) with its top-left at layout point (x, y),
    /// flipped left to right with `mirror`. Row by row: on an unturned canvas each row is one
    /// copy (the camera picture and the portraits are most of a result card's pixels).
    pub fn blit(&mut self, img: &image::RgbImage, x: i32, y: i32, mirror: bool) {
        let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
        let (lw, lh) = self.layout_size();
        // The image's columns and rows that land inside the layout.
        let (c0, c1) = ((-i64::from(x)).max(0), iw.min(i64::from(lw) - i64::from(x)));
        let (r0, r1) = ((-i64::from(y)).max(0), ih.min(i64::from(lh) - i64::from(y)));
        if c0 >= c1 || r0 >= r1 {
            return;
        }
        let (c0, c1, r0, r1) = (c0 as usize, c1 as usize, r0 as usize, r1 as usize);
        let row_bytes = img.width() as usize * 3;
        for r in r0..r1 {
            let row = &img.as_raw()[r * row_bytes..(r + 1) * row_bytes];
            // Layout x of image column c is x + c; mirrored, column c shows image column iw-1-c.
            let (lx, ly) = ((i64::from(x) + c0 as i64) as u32, (i64::from(y) + r as i64) as u32);
            let at = self.offset(lx, ly);
            let n = c1 - c0;
            if self.rotation == Rotation::R0 {
                let dst = &mut self.pixels[at..at + n * 3];
                if mirror {
                    let src = &row[(iw as usize - c1) * 3..(iw as usize - c0) * 3];
                    for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(3).rev()) {
                        d.copy_from_slice(s);
                    }
                } else {
                    dst.copy_from_slice(&row[c0 * 3..c1 * 3]);
                }
                continue;
            }
            let src = |c: usize| if mirror { iw as usize - 1 - c } else { c };
            let colors = (c0..c1).map(|c| {
                let p = &row[src(c) * 3..src(c) * 3 + 3];
                Rgb888::new(p[0], p[1], p[2])
            });
            self.write_run(lx, ly, n, colors);
        }
    }

    /// Draws the `region` of `img` scaled to `w` x `h` at layout (x, y) (with the filter of
    /// [`crate::util::image::resize`]), flipped left to right with `mirror`. On an unturned
    /// canvas with the rectangle inside it, the scaling writes straight into the canvas (a
    /// mirrored region is flipped first, at the source's size): no screen-sized copy is made per
    /// frame. Otherwise the region is scaled into a copy and blitted.
    #[allow(clippy::too_many_arguments)]
    pub fn draw_scaled(&mut self, img: &image::RgbImage, region: crate::util::image::Region, x: i32, y: i32, w: u32, h: u32, mirror: bool) {
        use crate::util::image::{resize_region, resize_region_into, Region};
        if self.rotation == Rotation::R0 && x >= 0 && y >= 0 {
            let done = if mirror {
                // The region's rows (and the rows the filter reads around them) flipped, at the
                // source's width, so the filter sees the same neighbours as unflipped.
                let (iw, ih) = (img.width(), img.height());
                let Region { x: rx, y: ry, width: rw, height: rh } = region.clamped(iw, ih);
                let margin = 2 * rh.div_ceil(h.max(1)) + 3;
                let (y0, y1) = (ry.saturating_sub(margin), (ry + rh + margin).min(ih));
                let flipped = image::RgbImage::from_fn(iw, y1 - y0, |c, r| *img.get_pixel(iw - 1 - c, y0 + r));
                let at = Region { x: iw - rx - rw, y: ry - y0, width: rw, height: rh };
                resize_region_into(&flipped, at, &mut self.pixels, self.width, x as u32, y as u32, w, h)
            } else {
                resize_region_into(img, region, &mut self.pixels, self.width, x as u32, y as u32, w, h)
            };
            if done {
                return;
            }
        }
        self.blit(&resize_region(img, region, w, h), x, y, mirror);
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

    /// Row by row (the default goes through [`DrawTarget::draw_iter`] a pixel at a time, with
    /// the bounds and rotation worked out for each: images are most of a result card's pixels).
    fn fill_contiguous<I>(&mut self, area: &Rectangle, colors: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Self::Color>,
    {
        let shown = area.intersection(&self.bounding_box());
        if shown.size.width == 0 || shown.size.height == 0 {
            return Ok(());
        }
        // The colours run over the whole area, row by row: skip the parts outside the canvas.
        let (area_w, shown_w) = (area.size.width as usize, shown.size.width as usize);
        let left = (shown.top_left.x - area.top_left.x) as usize;
        let right = area_w - left - shown_w;
        let above = (shown.top_left.y - area.top_left.y) as usize;
        let mut colors = colors.into_iter();
        let skip = |colors: &mut I::IntoIter, n: usize| {
            if n > 0 {
                colors.nth(n - 1);
            }
        };
        skip(&mut colors, above * area_w);
        for row in 0..shown.size.height as i32 {
            skip(&mut colors, left);
            self.write_run(shown.top_left.x as u32, (shown.top_left.y + row) as u32, shown_w, colors.by_ref());
            skip(&mut colors, right);
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Self::Color) -> Result<(), Self::Error> {
        let area = area.intersection(&self.bounding_box());
        if area.size.width == 0 || area.size.height == 0 {
            return Ok(());
        }
        for row in 0..area.size.height as i32 {
            let y = (area.top_left.y + row) as u32;
            self.write_run(area.top_left.x as u32, y, area.size.width as usize, std::iter::repeat(color));
        }
        Ok(())
    }

    fn clear(&mut self, color: Self::Color) -> Result<(), Self::Error> {
        // One row, then copies of it (memcpy rather than three bytes at a time).
        let row = self.width as usize * 3;
        if row == 0 || self.pixels.is_empty() {
            return Ok(());
        }
        for px in self.pixels[..row].chunks_exact_mut(3) {
            px.copy_from_slice(&[color.r(), color.g(), color.b()]);
        }
        let (first, rest) = self.pixels.split_at_mut(row);
        for r in rest.chunks_exact_mut(row) {
            r.copy_from_slice(first);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};

    #[test]
    fn scaling_straight_into_the_canvas_draws_what_a_scaled_copy_blitted_does() {
        use crate::util::image::{resize_region, Region};
        let img = image::RgbImage::from_fn(97, 61, |x, y| image::Rgb([(x * 7 + y * 3) as u8, (x * y) as u8, ((x ^ y) * 3) as u8]));
        let cases = [
            (Region::whole(97, 61), 20, 30, 300, 190),
            (Region { x: 10, y: 5, width: 40, height: 50 }, 7, 0, 120, 150),
            (Region::whole(97, 61), 240, 260, 50, 30),
            // Partly outside the canvas: scaled into a copy, clipped.
            (Region::whole(97, 61), 270, -10, 60, 40),
        ];
        for rotation in [Rotation::R0, Rotation::R90] {
            for mirror in [false, true] {
                for (region, x, y, w, h) in cases {
                    let mut direct = Canvas::rotated(400, 300, rotation);
                    direct.draw_scaled(&img, region, x, y, w, h, mirror);
                    let mut copied = Canvas::rotated(400, 300, rotation);
                    copied.blit(&resize_region(&img, region, w, h), x, y, mirror);
                    let worst = direct.rgb().iter().zip(copied.rgb()).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
                    // Flipping before or after the filter rounds differently by a level at most.
                    assert!(worst <= 1, "{rotation:?} mirror {mirror} {region:?} at ({x}, {y}) {w}x{h}: {worst} levels apart");
                    assert!(direct.rgb().iter().any(|v| *v != 0), "something was drawn");
                }
            }
        }
    }

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

    /// An image whose every pixel differs.
    fn distinct(w: u32, h: u32) -> image::RgbImage {
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8 + 1, y as u8 + 1, (x * 7 + y * 13) as u8]))
    }

    #[test]
    fn the_fast_paths_draw_what_a_pixel_at_a_time_draws() {
        // blit, fill_contiguous and fill_solid write rows at once; each must equal drawing its
        // pixels one by one (through draw_iter), on every rotation, clipped on every side.
        let img = distinct(7, 5);
        for rotation in [Rotation::R0, Rotation::R90, Rotation::R180, Rotation::R270] {
            for (x, y) in [(1, 1), (-3, -2), (4, 3), (-8, 0), (9, 9)] {
                for mirror in [false, true] {
                    let (mut fast, mut slow) = (Canvas::rotated(9, 6, rotation), Canvas::rotated(9, 6, rotation));
                    fast.blit(&img, x, y, mirror);
                    let pixels = img.enumerate_pixels().map(|(ix, iy, _)| {
                        let p = img.get_pixel(if mirror { 6 - ix } else { ix }, iy).0;
                        Pixel(Point::new(x + ix as i32, y + iy as i32), Rgb888::new(p[0], p[1], p[2]))
                    });
                    let _ = slow.draw_iter(pixels);
                    assert_eq!(fast, slow, "blit {rotation:?} at ({x}, {y}) mirror {mirror}");
                }
                let area = Rectangle::new(Point::new(x, y), Size::new(7, 5));
                let colors = || img.pixels().map(|p| Rgb888::new(p[0], p[1], p[2]));
                let (mut fast, mut slow) = (Canvas::rotated(9, 6, rotation), Canvas::rotated(9, 6, rotation));
                let _ = fast.fill_contiguous(&area, colors());
                let _ = slow.draw_iter(area.points().zip(colors()).map(|(p, c)| Pixel(p, c)));
                assert_eq!(fast, slow, "fill_contiguous {rotation:?} at ({x}, {y})");
                let (mut fast, mut slow) = (Canvas::rotated(9, 6, rotation), Canvas::rotated(9, 6, rotation));
                let _ = fast.fill_solid(&area, Rgb888::CYAN);
                let _ = slow.draw_iter(area.points().map(|p| Pixel(p, Rgb888::CYAN)));
                assert_eq!(fast, slow, "fill_solid {rotation:?} at ({x}, {y})");
            }
        }
        let mut c = Canvas::new(3, 2);
        let _ = c.clear(Rgb888::new(1, 2, 3));
        assert_eq!(c.rgb(), &[1, 2, 3].repeat(6)[..]);
    }

    #[test]
    fn blit_lands_in_layout_coordinates() {
        let img = image::RgbImage::from_fn(2, 1, |x, _| image::Rgb([x as u8 * 100 + 1, 0, 0]));
        let mut c = Canvas::rotated(3, 4, Rotation::R90); // layout 4x3
        c.blit(&img, 3, 0, false); // the second pixel falls off the layout's right edge
                                   // Layout (3, 0) is physical (0, 0) on a screen turned by 90 (its top row on the right).
        assert_eq!(c.pixel(0, 0), Some([1, 0, 0]));
        assert_eq!(c.rgb().iter().filter(|v| **v != 0).count(), 1);
    }
}
