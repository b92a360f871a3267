//! Text on the screen: TrueType fonts (DejaVu by default, which covers Latin with diacritics —
//! é ë ï ö ü ç ş ł …) rasterised with `ab_glyph`, anti-aliased against the known background, and
//! wrapped to a width.
//!
//! Memory: a face keeps its file's bytes (0.7 MB for DejaVu Sans) and reads a glyph's outline
//! from them when the glyph is first drawn; the coverage of the glyphs drawn is kept
//! ([`Face::GLYPHS_KEPT`]), so a screen drawn again rasterises nothing. (`fontdue`, used before,
//! parsed every outline of both faces when loading: 46 MB resident for DejaVu's ~6,000 glyphs.)

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ab_glyph::{Font as _, ScaleFont as _};
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;

/// One glyph at one size, rasterised: its coverage (0–255, row-major) and where it sits
/// relative to the pen on the baseline.
struct Glyph {
    left: i32,
    top: i32,
    width: usize,
    coverage: Vec<u8>,
}

/// One font face, read from a TrueType/OpenType file.
pub struct Face {
    font: ab_glyph::FontVec,
    /// ab_glyph's scale (the pixel height from descent to ascent) per pixel of em: sizes here
    /// are pixels per em, as in CSS.
    per_em: f32,
    glyphs: Mutex<HashMap<(char, u32), Arc<Glyph>>>,
}

impl Face {
    /// Glyphs kept rasterised (a few screens' worth: ~10 sizes of ~100 characters, 1–3 KB
    /// each); when full, the kept ones are dropped and drawing starts over.
    pub const GLYPHS_KEPT: usize = 2048;

    fn from_vec(bytes: Vec<u8>) -> Result<Face, String> {
        let font = ab_glyph::FontVec::try_from_vec(bytes).map_err(|e| format!("not a TrueType or OpenType font ({e})"))?;
        let em = font.units_per_em().filter(|u| *u > 0.0).ok_or("the font has no units per em")?;
        let per_em = font.height_unscaled() / em;
        if !per_em.is_finite() || per_em <= 0.0 {
            return Err("the font's ascent and descent give no height".into());
        }
        Ok(Face { font, per_em, glyphs: Mutex::new(HashMap::new()) })
    }

    fn scale(&self, px: f32) -> ab_glyph::PxScale {
        ab_glyph::PxScale::from(px * self.per_em)
    }

    /// Whether the face has a glyph for `c` (not the "missing" box).
    pub fn has_glyph(&self, c: char) -> bool {
        self.font.glyph_id(c).0 != 0
    }

    /// How far the pen moves after `c` at `px` pixels per em.
    pub fn advance(&self, c: char, px: f32) -> f32 {
        self.font.as_scaled(self.scale(px)).h_advance(self.font.glyph_id(c))
    }

    /// The distance from the baseline up to the top of the tallest glyphs.
    pub fn ascent(&self, px: f32) -> f32 {
        self.font.as_scaled(self.scale(px)).ascent()
    }

    /// `c` at `px`, rasterised the first time it is drawn at that size.
    fn glyph(&self, c: char, px: f32) -> Arc<Glyph> {
        let key = (c, px.to_bits());
        let mut kept = self.glyphs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = kept.get(&key) {
            return g.clone();
        }
        let glyph = self.font.glyph_id(c).with_scale_and_position(self.scale(px), ab_glyph::point(0.0, 0.0));
        let g = Arc::new(match self.font.outline_glyph(glyph) {
            Some(outline) => {
                let b = outline.px_bounds();
                let (width, height) = (b.width().max(0.0) as usize, b.height().max(0.0) as usize);
                let mut coverage = vec![0u8; width * height];
                outline.draw(|x, y, v| {
                    if let Some(p) = coverage.get_mut(y as usize * width + x as usize) {
                        *p = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                    }
                });
                Glyph { left: b.min.x as i32, top: b.min.y as i32, width, coverage }
            }
            // A space, or a glyph without an outline.
            None => Glyph { left: 0, top: 0, width: 0, coverage: Vec::new() },
        });
        if kept.len() >= Self::GLYPHS_KEPT {
            kept.clear();
        }
        kept.insert(key, g.clone());
        g
    }
}

impl std::fmt::Debug for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Face").field("glyphs", &self.font.glyph_count()).finish_non_exhaustive()
    }
}

/// Regular and bold faces.
pub struct Fonts {
    pub regular: Face,
    pub bold: Face,
}

/// A font that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("font {path}: {reason}")]
pub struct FontError {
    pub path: String,
    pub reason: String,
}

fn load_font(path: &Path) -> Result<Face, FontError> {
    let err = |reason: String| FontError { path: path.display().to_string(), reason };
    let bytes = std::fs::read(path).map_err(|e| err(format!("{e} (install fonts-dejavu-core, or set display.font)")))?;
    Face::from_vec(bytes).map_err(err)
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
    pub font: &'a Face,
    pub px: f32,
    pub color: Rgb888,
    /// The colour behind the text, for anti-aliasing.
    pub background: Rgb888,
}

/// Width of `text` in pixels.
pub fn width(font: &Face, px: f32, text: &str) -> f32 {
    text.chars().map(|c| font.advance(c, px)).sum()
}

/// Splits `text` into lines no wider than `max_width` (a word longer than that is cut).
pub fn wrap(font: &Face, px: f32, text: &str, max_width: f32) -> Vec<String> {
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
    // The 256 shades between background and colour, worked out once per line.
    let shades: [Rgb888; 256] = std::array::from_fn(|a| blend(style.background, style.color, a as f32 / 255.0));
    let mut pen = x as f32;
    for c in text.chars() {
        let g = style.font.glyph(c, style.px);
        let left = pen.round() as i32 + g.left;
        let top = y + g.top;
        let w = g.width.max(1);
        let pixels = g.coverage.iter().enumerate().filter(|(_, a)| **a > 8).map(|(i, a)| {
            let (gx, gy) = ((i % w) as i32, (i / w) as i32);
            Pixel(Point::new(left + gx, top + gy), shades[usize::from(*a)])
        });
        let _ = target.draw_iter(pixels);
        pen += style.font.advance(c, style.px);
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
    let ascent = style.font.ascent(style.px).round() as i32;
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

    fn font() -> Option<Face> {
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
    fn glyphs_are_rasterised_once_and_sit_on_the_baseline() {
        let Some(f) = font() else { panic!("DejaVuSans.ttf missing: apt-get install fonts-dejavu-core") };
        let (a, again) = (f.glyph('H', 40.0), f.glyph('H', 40.0));
        assert!(Arc::ptr_eq(&a, &again), "drawn again, rasterised again");
        // Sizes are pixels per em: a capital H of DejaVu Sans is 0.73 em tall, from the baseline up.
        let height = a.coverage.len() / a.width;
        assert!((28..=31).contains(&height), "H at 40 px is {height} px tall");
        assert!(a.top < 0 && a.top + height as i32 <= 1, "top {} height {height}", a.top);
        assert!((f.advance('H', 40.0) - 30.08).abs() < 0.1, "advance {}", f.advance('H', 40.0));
        assert!(f.glyph(' ', 40.0).coverage.is_empty() && f.advance(' ', 40.0) > 10.0);
        for i in 0..Face::GLYPHS_KEPT + 5 {
            f.glyph('x', 10.0 + i as f32);
        }
        assert!(f.glyphs.lock().unwrap().len() <= Face::GLYPHS_KEPT);
        let err = Face::from_vec(b"not a font".to_vec()).err().unwrap_or_default();
        assert!(err.contains("not a TrueType or OpenType font"), "{err}");
    }

    #[test]
    fn diacritics_have_glyphs() {
        let Some(f) = font() else { panic!("DejaVuSans.ttf missing: apt-get install fonts-dejavu-core") };
        for c in "éëïöüçşłŁŞ…".chars() {
            assert!(f.has_glyph(c), "no glyph for {c}");
        }
        let mut canvas = Canvas::new(120, 40);
        let style = Style { font: &f, px: 24.0, color: Rgb888::WHITE, background: Rgb888::BLACK };
        let w = draw_line(&mut canvas, &style, "Łódź", 2, 30);
        assert!(w > 30.0);
        assert!(canvas.rgb().iter().any(|v| *v > 200), "text drew nothing");
    }
}
