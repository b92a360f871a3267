//! The back buffer every scene is drawn into: 8-bit RGB, an `embedded_graphics` `DrawTarget`.
//! Backends copy it to the screen once per frame, so a half-drawn scene is never shown.

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;

/// An RGB888 frame in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Canvas {
    width: u32,
    height: u32,
    /// Row-major RGB bytes.
    pixels: Vec<u8>,
}

impl Canvas {
    /// A black canvas.
    pub fn new(width: u32, height: u32) -> Canvas {
        Canvas { width, height, pixels: vec![0; width as usize * height as usize * 3] }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Row-major RGB bytes.
    pub fn rgb(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixel at (x, y), if inside.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    /// Copies an RGB image (or the part that fits) with its top-left at (x, y).
    pub fn blit(&mut self, img: &image::RgbImage, x: i32, y: i32) {
        let (w, h) = (self.width as i64, self.height as i64);
        for (ix, iy, p) in img.enumerate_pixels() {
            let (px, py) = (x as i64 + ix as i64, y as i64 + iy as i64);
            if px >= 0 && py >= 0 && px < w && py < h {
                let i = (py as usize * self.width as usize + px as usize) * 3;
                self.pixels[i..i + 3].copy_from_slice(&p.0);
            }
        }
    }

    /// As an `image` buffer (for PNG output and tests).
    pub fn to_image(&self) -> image::RgbImage {
        image::RgbImage::from_raw(self.width, self.height, self.pixels.clone())
            .unwrap_or_else(|| image::RgbImage::new(self.width, self.height))
    }
}

impl OriginDimensions for Canvas {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
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
            if p.x >= 0 && p.y >= 0 && (p.x as u32) < self.width && (p.y as u32) < self.height {
                let i = (p.y as usize * self.width as usize + p.x as usize) * 3;
                self.pixels[i] = c.r();
                self.pixels[i + 1] = c.g();
                self.pixels[i + 2] = c.b();
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
