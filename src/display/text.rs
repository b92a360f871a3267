//! Text on the screen: TrueType fonts (DejaVu by default, which covers Latin with diacritics —
//! é ë ï ö ü ç ş ł …) rasterised with `fontdue`, anti-aliased against the known background, and
//! wrapped to a width.

use std::path::Path;

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;

/// Regular and bold faces.
pub struct Fonts {
    pub regular: fontdue::Font,
    pub bold: fontdue::Font,
}

/// A font that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("font {path}: {reason}")]
pub struct FontError {
    pub path: String,
    pub reason: String,
}

fn load_font(path: &Path) -> Result<fontdue::Font, FontError> {
    let err = |reason: String| FontError { path: path.display().to_string(), reason };
    let bytes = std::fs::read(path).map_err(|e| err(format!("{e} (install fonts-dejavu-core, or set display.font)")))?;
    fontdue::Font::from_bytes(bytes, fontdue::FontSettings::default()).map_err(|e| err(e.to_string()))
}

impl Fonts {
    /// Loads both faces.
    pub fn load(regular: &Path, bold: &Path) -> Result<Fonts, FontError> {
        Ok(Fonts { regular: load_font(regular)?, bold: load_font(bold)? })
    }
}

/// How to draw a piece of text.
#[derive(Debug, Clone, Copy)]
pub struct Style<'a> {
    pub font: &'a fontdue::Font,
    pub px: f32,
    pub color: Rgb888,
    /// The colour behind the text, for anti-aliasing.
    pub background: Rgb888,
}

/// Width of `text` in pixels.
pub fn width(font: &fontdue::Font, px: f32, text: &str) -> f32 {
    text.chars().map(|c| font.metrics(c, px).advance_width).sum()
}

/// Splits `text` into lines no wider than `max_width` (a word longer than that is cut).
pub fn wrap(font: &fontdue::Font, px: f32, text: &str, max_width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        if width(font, px, &candidate) <= max_width || line.is_empty() {
            line = candidate;
        } else {
            lines.push(std::mem::take(&mut line));
            line = word.to_string();
        }
        while width(font, px, &line) > max_width && line.chars().count() > 1 {
            // A single word wider than the line: cut it.
            let mut cut = String::new();
            for c in line.chars() {
                if width(font, px, &format!("{cut}{c}")) > max_width && !cut.is_empty() {
                    break;
                }
                cut.push(c);
            }
            let rest: String = line.chars().skip(cut.chars().count()).collect();
            lines.push(cut);
            line = rest;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn blend(a: Rgb888, b: Rgb888, t: f32) -> Rgb888 {
    let mix = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * t).round().clamp(0.0, 255.0) as u8;
    Rgb888::new(mix(a.r(), b.r()), mix(a.g(), b.g()), mix(a.b(), b.b()))
}

/// Draws one line with its baseline at `y`, starting at `x`. Returns the width drawn.
pub fn draw_line<D: DrawTarget<Color = Rgb888>>(target: &mut D, style: &Style, text: &str, x: i32, y: i32) -> f32 {
    let mut pen = x as f32;
    for c in text.chars() {
        let (m, coverage) = style.font.rasterize(c, style.px);
        let left = (pen + m.xmin as f32).round() as i32;
        let top = y - m.height as i32 - m.ymin;
        let pixels = coverage.iter().enumerate().filter(|(_, a)| **a > 8).map(|(i, a)| {
            let (gx, gy) = ((i % m.width.max(1)) as i32, (i / m.width.max(1)) as i32);
            Pixel(Point::new(left + gx, top + gy), blend(style.background, style.color, f32::from(*a) / 255.0))
        });
        let _ = target.draw_iter(pixels);
        pen += m.advance_width;
    }
    pen - x as f32
}

/// Horizontal placement of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
}

/// How a paragraph fitted its box. The layout reports it; the drawing does not depend on it
/// (`gallery preview` and `bundle create` read it to name text that was cut).
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub text: String,
    /// Lines the whole text needs at the box's width.
    pub lines_needed: usize,
    /// Lines drawn (the last one ends with "…" when fewer than needed).
    pub lines_drawn: usize,
    /// A word wider than the box was cut across lines.
    pub word_cut: bool,
    /// The box: left, top, width, and the height drawn.
    pub x: i32,
    pub top: i32,
    pub width: i32,
    pub height: i32,
}

impl Fit {
    /// Fewer lines drawn than the text needs: its end was replaced by "…" (or not drawn).
    pub fn truncated(&self) -> bool {
        self.lines_drawn < self.lines_needed
    }
}

/// The lines [`draw_paragraph_fit`] draws for `text`, and how they fit.
pub fn layout_paragraph(style: &Style, text: &str, x: i32, top: i32, max_width: i32, max_lines: usize) -> (Vec<String>, Fit) {
    let mut lines = wrap(style.font, style.px, text, max_width as f32);
    let lines_needed = lines.len();
    // wrap() only breaks at spaces unless it cuts a word: then the lines rejoined differ.
    let word_cut = lines.join(" ") != text.split_whitespace().collect::<Vec<_>>().join(" ");
    if lines.len() > max_lines && max_lines > 0 {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            while width(style.font, style.px, &format!("{last}…")) > max_width as f32 && last.pop().is_some() {}
            last.push('…');
        }
    }
    let line_height = (style.px * 1.25).round() as i32;
    let fit = Fit {
        text: text.to_string(),
        lines_needed,
        lines_drawn: lines.len(),
        word_cut,
        x,
        top,
        width: max_width,
        height: lines.len() as i32 * line_height,
    };
    (lines, fit)
}

/// Draws wrapped text in a box of `max_width` starting at (x, top); returns how it fitted.
/// At most `max_lines` lines (the last one ends with "…" if text remains).
pub fn draw_paragraph_fit<D: DrawTarget<Color = Rgb888>>(
    target: &mut D,
    style: &Style,
    text: &str,
    x: i32,
    top: i32,
    max_width: i32,
    align: Align,
    max_lines: usize,
) -> Fit {
    let (lines, fit) = layout_paragraph(style, text, x, top, max_width, max_lines);
    let line_height = (style.px * 1.25).round() as i32;
    let ascent = style.font.horizontal_line_metrics(style.px).map(|m| m.ascent).unwrap_or(style.px * 0.8).round() as i32;
    for (i, line) in lines.iter().enumerate() {
        let lx = match align {
            Align::Left => x,
            Align::Center => x + ((max_width as f32 - width(style.font, style.px, line)) / 2.0).round() as i32,
        };
        draw_line(target, style, line, lx, top + ascent + i as i32 * line_height);
    }
    fit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::canvas::Canvas;

    fn font() -> Option<fontdue::Font> {
        load_font(Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")).ok()
    }

    #[test]
    fn wraps_to_width_and_cuts_long_words() {
        let Some(f) = font() else { panic!("DejaVuSans.ttf missing: apt-get install fonts-dejavu-core") };
        let lines = wrap(&f, 20.0, "one two three four five six seven", 80.0);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(lines.iter().all(|l| width(&f, 20.0, l) <= 80.0));
        let lines = wrap(&f, 20.0, "Supercalifragilisticexpialidocious", 80.0);
        assert!(lines.len() > 1 && lines.iter().all(|l| width(&f, 20.0, l) <= 80.0), "{lines:?}");
    }

    #[test]
    fn layout_reports_truncation_and_cut_words() {
        let Some(f) = font() else { panic!("DejaVuSans.ttf missing: apt-get install fonts-dejavu-core") };
        let style = Style { font: &f, px: 20.0, color: Rgb888::WHITE, background: Rgb888::BLACK };
        let (_, fit) = layout_paragraph(&style, "one two", 0, 0, 400, 2);
        assert!(!fit.truncated() && !fit.word_cut, "{fit:?}");
        let (lines, fit) = layout_paragraph(&style, "one two three four five six seven", 0, 0, 80, 2);
        assert!(fit.truncated() && fit.lines_drawn == 2 && fit.lines_needed > 2, "{fit:?}");
        assert!(lines[1].ends_with('…'), "{lines:?}");
        let (_, fit) = layout_paragraph(&style, "Supercalifragilisticexpialidocious", 0, 0, 80, 5);
        assert!(fit.word_cut, "{fit:?}");
    }

    #[test]
    fn diacritics_have_glyphs() {
        let Some(f) = font() else { panic!("DejaVuSans.ttf missing: apt-get install fonts-dejavu-core") };
        for c in "éëïöüçşłŁŞ…".chars() {
            assert!(f.lookup_glyph_index(c) != 0, "no glyph for {c}");
        }
        let mut canvas = Canvas::new(120, 40);
        let style = Style { font: &f, px: 24.0, color: Rgb888::WHITE, background: Rgb888::BLACK };
        let w = draw_line(&mut canvas, &style, "Łódź", 2, 30);
        assert!(w > 30.0);
        assert!(canvas.rgb().iter().any(|v| *v > 200), "text drew nothing");
    }
}
