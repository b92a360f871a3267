//! Charts as pictures for reports and notes, drawn with the booth's own drawing code (an
//! `embedded_graphics` [`Canvas`] and the display's fonts), so they need no plotting library.
//!
//! [`Chart`] is the drawing surface: a white canvas with bars, lines, dashed reference lines and
//! text in ink. [`audit`] is the gallery audit's chart (`gallery audit --png`, `eval relatability
//! --png`). The soak test draws its four curves with [`Chart`] too (`tests/it/soak_plot.rs`).
//! Nothing here reads or writes files but [`Chart::write_png`], at the caller's path.

pub mod audit;

use std::path::Path;

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};

use crate::display::canvas::Canvas;
use crate::display::text::{draw_line, width, Fonts, Style};

/// The background.
pub const WHITE: Rgb888 = Rgb888::new(255, 255, 255);
/// Text, axes and the chance level.
pub const INK: Rgb888 = Rgb888::new(30, 30, 30);

/// A white canvas to draw a chart on, with the fonts its text is set in.
pub struct Chart<'a> {
    canvas: Canvas,
    fonts: &'a Fonts,
}

impl<'a> Chart<'a> {
    /// A white `width` x `height` chart.
    pub fn new(width: u32, height: u32, fonts: &'a Fonts) -> Chart<'a> {
        let mut chart = Chart { canvas: Canvas::new(width, height), fonts };
        chart.rect(0, 0, width, height, WHITE);
        chart
    }

    pub fn width(&self) -> u32 {
        self.canvas.width()
    }

    pub fn height(&self) -> u32 {
        self.canvas.height()
    }

    /// A filled rectangle with its top-left at (x, y).
    pub fn rect(&mut self, x: i32, y: i32, w: u32, h: u32, color: Rgb888) {
        let _ = Rectangle::new(Point::new(x, y), Size::new(w, h)).into_styled(PrimitiveStyle::with_fill(color)).draw(&mut self.canvas);
    }

    /// A rectangle's 1-pixel outline.
    pub fn outline(&mut self, x: i32, y: i32, w: u32, h: u32, color: Rgb888) {
        let _ = Rectangle::new(Point::new(x, y), Size::new(w, h)).into_styled(PrimitiveStyle::with_stroke(color, 1)).draw(&mut self.canvas);
    }

    /// A straight line `stroke` pixels wide.
    pub fn line(&mut self, from: Point, to: Point, color: Rgb888, stroke: u32) {
        let _ = Line::new(from, to).into_styled(PrimitiveStyle::with_stroke(color, stroke)).draw(&mut self.canvas);
    }

    /// A horizontal line 2 pixels wide from `x0` to `x1`; `dashed`: 7 pixels on, 5 off.
    pub fn hline(&mut self, x0: i32, x1: i32, y: i32, color: Rgb888, dashed: bool) {
        let step = if dashed { 12 } else { x1 - x0 };
        let mut x = x0;
        while x < x1 {
            let end = if dashed { (x + 7).min(x1) } else { x1 };
            self.line(Point::new(x, y), Point::new(end, y), color, 2);
            x += step.max(1);
        }
    }

    /// One line of text, regular or `bold`, `px` high, with its baseline at `y`; its width.
    pub fn text(&mut self, bold: bool, px: f32, color: Rgb888, text: &str, x: i32, y: i32) -> f32 {
        let style = Style { font: if bold { &self.fonts.bold } else { &self.fonts.regular }, px, color, background: WHITE };
        draw_line(&mut self.canvas, &style, text, x, y)
    }

    /// The width of `text` in the regular font at `px`.
    pub fn text_width(&self, px: f32, text: &str) -> f32 {
        width(&self.fonts.regular, px, text)
    }

    /// `text` shortened from the end until it is at most `max` pixels wide in the regular font.
    pub fn fit(&self, px: f32, text: &str, max: f32) -> String {
        let mut t = text.to_string();
        while self.text_width(px, &t) > max && t.pop().is_some() {}
        t
    }

    /// The picture.
    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }

    pub fn into_canvas(self) -> Canvas {
        self.canvas
    }

    /// Writes the picture to `path` as a PNG file, atomically.
    pub fn write_png(&self, path: &Path) -> std::io::Result<()> {
        crate::util::image::write_png(path, &self.canvas.to_image())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn draws_where_it_is_told() {
        let d = Config::default().display;
        let fonts = Fonts::load(&d.font, &d.font_bold).expect("the display fonts (apt-get install fonts-dejavu-core)");
        let mut c = Chart::new(100, 60, &fonts);
        assert_eq!(c.canvas().pixel(50, 30), Some([255, 255, 255]));
        c.rect(10, 10, 5, 5, INK);
        assert_eq!(c.canvas().pixel(14, 14), Some([30, 30, 30]));
        assert_eq!(c.canvas().pixel(15, 15), Some([255, 255, 255]));
        c.outline(20, 20, 10, 10, INK);
        assert_eq!((c.canvas().pixel(20, 25), c.canvas().pixel(25, 25)), (Some([30, 30, 30]), Some([255, 255, 255])));
        c.hline(0, 100, 50, INK, true);
        let dashes: Vec<bool> = (0..24).map(|x| c.canvas().pixel(x, 50) == Some([30, 30, 30])).collect();
        assert!(dashes[..7].iter().all(|d| *d) && !dashes[9] && dashes[12], "{dashes:?}");
        let w = c.text(false, 14.0, INK, "ab", 40, 40);
        assert!(w > 5.0 && (w - c.text_width(14.0, "ab")).abs() < 1e-3, "{w}");
        assert!(c.fit(14.0, "abcdef", w + 0.5).starts_with("ab") && c.fit(14.0, "abcdef", w + 0.5).len() <= 3);
    }
}
