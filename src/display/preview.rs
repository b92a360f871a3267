//! The preview before shipping (`rolemirror gallery preview`, and the checks `bundle create`
//! runs): each role model's result card drawn by the booth's own renderer ([`super::render`])
//! at the screen sizes asked, and what is wrong with it:
//!
//! - **text** the layout had to cut: a name, role, branch or quote that ends in "…", a word cut
//!   across lines, a quote with no room at all, text that runs off the bottom of the screen;
//! - **photo**: no usable photo, or the face the detector finds in the card's crop (the
//!   [`crate::gallery::portrait::crop`] crop the card shows) is small, too large or off-centre;
//! - **QR**: the code is decoded back from the rendered card's pixels with `rqrr` (an
//!   independent decoder) and must read the role model's `story_url` exactly.
//!
//! Errors: a name cut, a missing photo, no QR, a QR that does not read back or reads something
//! else, or QR modules of 1 px. Warnings: a role, branch or quote cut, a small, large or
//! off-centre face, QR modules of 2 px (a phone must come close). `bundle create` refuses on errors and needs `--force`
//! for warnings. Nothing here writes files: the caller decides what to keep.

use crate::gallery::likeness::Likeness;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;

use super::canvas::Canvas;
use super::render::{qr_modules, render_measured, Assets, Card};
use super::scene::Scene;
use super::text::{draw_line, Fit, Fonts, Style};
use crate::gallery::{Gallery, GalleryManifest, RoleModel};
use crate::util::image::RgbImage;
use crate::util::Size;
use crate::vision::Vision;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One thing wrong with a role model's card.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub severity: Severity,
    /// The role model's id in gallery.toml.
    pub role_model: String,
    /// The screen size (None: the same at every size, such as the photo's crop).
    #[serde(serialize_with = "size_text")]
    pub size: Option<Size>,
    /// `text`, `photo` or `qr`.
    pub kind: &'static str,
    pub message: String,
}

fn size_text<S: serde::Serializer>(size: &Option<Size>, s: S) -> Result<S::Ok, S::Error> {
    match size {
        Some(z) => s.serialize_str(&z.to_string()),
        None => s.serialize_none(),
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.size {
            Some(s) => write!(f, "{sev}: {} at {s}: {}: {}", self.role_model, self.kind, self.message),
            None => write!(f, "{sev}: {}: {}: {}", self.role_model, self.kind, self.message),
        }
    }
}

/// The kind words the preview shows: the longest of the built-in ones (Dutch "Jullie hebben iets
/// van elkaar").
pub const PREVIEW_LIKENESS: Likeness = Likeness::Shared;

/// The result scene a visitor matched to role model `best` would see: with the next two role
/// models of the gallery as further look-alikes (the busiest card the booth draws).
pub fn preview_scene(best: usize, count: usize) -> Scene {
    let others: Vec<(usize, Likeness)> = (1..=2.min(count.saturating_sub(1))).map(|k| ((best + k) % count, PREVIEW_LIKENESS)).collect();
    let choices = others.len() + 1;
    Scene::Result { best, likeness: PREVIEW_LIKENESS, others, rank: 0, choices, language: None, visitor: None }
}

/// Renders role model `index`'s result card at `size` with the booth's renderer.
pub fn render_card(assets: &Assets, index: usize, size: Size) -> (RgbImage, Vec<Fit>) {
    let mut canvas = Canvas::new(size.width, size.height);
    let fits = render_measured(&preview_scene(index, assets.cards.len()), assets, &mut canvas);
    (canvas.to_image(), fits)
}

fn problem(severity: Severity, id: &str, size: Option<Size>, kind: &'static str, message: String) -> Problem {
    Problem { severity, role_model: id.to_string(), size, kind, message }
}

/// Text the layout cut on role model `index`'s card (`fits` from [`render_card`]). A cut name is
/// an error (the card names someone else); a cut role, branch or quote a warning. A name cut in
/// the "also like" row is reported for that other role model. Fixed texts (the config's) that do
/// not fit are reported for the card they were seen on.
pub fn check_text(assets: &Assets, role_models: &[RoleModel], index: usize, size: Size, fits: &[Fit]) -> Vec<Problem> {
    let card = &assets.cards[index];
    let mut out = Vec::new();
    for fit in fits {
        let off_screen = fit.top + fit.height > size.height as i32;
        if !fit.truncated() && !fit.word_cut && !off_screen {
            continue;
        }
        let quote = format!("“{}”", card.quote);
        let (who, field, severity) = if fit.text == card.name {
            (index, "name", Severity::Error)
        } else if fit.text == card.role {
            (index, "role", Severity::Warning)
        } else if fit.text == card.branch {
            (index, "branch", Severity::Warning)
        } else if fit.text == quote {
            (index, "quote", Severity::Warning)
        } else if let Some(other) = assets.cards.iter().position(|c| c.name == fit.text) {
            (other, "name in another card's \"also like\" row", Severity::Warning)
        } else {
            (index, "screen text (config [texts])", Severity::Warning)
        };
        let mut what = Vec::new();
        if fit.lines_drawn == 0 {
            what.push("no room: not shown at all".to_string());
        } else if fit.truncated() {
            let noun = if fit.lines_drawn == 1 { "line" } else { "lines" };
            what.push(format!("cut with \"…\" after {} {noun} of the {} it needs", fit.lines_drawn, fit.lines_needed));
        }
        if fit.word_cut {
            what.push("a word is wider than the box and is split across lines".into());
        }
        if off_screen {
            what.push(format!("runs off the bottom of the screen ({} px past it)", fit.top + fit.height - size.height as i32));
        }
        let shown: String = fit.text.chars().take(60).collect();
        let ellipsis = if fit.text.chars().count() > 60 { "…" } else { "" };
        out.push(problem(severity, &role_models[who].id, Some(size), "text", format!("{field} {shown:?}{ellipsis}: {}", what.join("; "))));
    }
    out
}

/// The rendered card's QR code decoded back with `rqrr` from its pixels: every code found in the
/// image, as text (codes that do not decode are left out).
pub fn decode_qr(image: &RgbImage) -> (Vec<String>, Vec<f32>) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let p = image.get_pixel(x as u32, y as u32).0;
        ((u16::from(p[0]) * 3 + u16::from(p[1]) * 6 + u16::from(p[2])) / 10) as u8
    });
    let mut texts = Vec::new();
    let mut module_px = Vec::new();
    for grid in prepared.detect_grids() {
        let b = grid.bounds;
        let side = ((b[1].x - b[0].x) as f32).hypot((b[1].y - b[0].y) as f32);
        module_px.push(side / rqrr::BitGrid::size(&grid.grid) as f32);
        if let Ok((_, text)) = grid.decode() {
            texts.push(text);
        }
    }
    (texts, module_px)
}

/// Modules measured (by rqrr, from the code's corners) under this many pixels are 2 px or less:
/// a phone must come close (a warning; the card's layout aims at 3 px, see `render::result`).
pub const MIN_MODULE_PX: f32 = 2.5;
/// ... under this, 1 px: each module is a single screen pixel (an error).
pub const ONE_PIXEL_MODULES: f32 = 1.5;

/// The QR code on a rendered card must read back as `story_url`.
pub fn check_qr(image: &RgbImage, card: &Card, id: &str, story_url: &str, size: Size) -> Vec<Problem> {
    let Some((_, side)) = &card.qr else {
        return vec![problem(
            Severity::Error,
            id,
            Some(size),
            "qr",
            format!("story_url {story_url:?} cannot be encoded as a QR code (too long?): the card has none"),
        )];
    };
    let (texts, module_px) = decode_qr(image);
    if texts.iter().any(|t| t == story_url) {
        let px = module_px.iter().cloned().fold(f32::INFINITY, f32::min);
        if px < ONE_PIXEL_MODULES {
            return vec![problem(
                Severity::Error,
                id,
                Some(size),
                "qr",
                format!(
                    "reads back from the exact pixels, but each module is one screen pixel ({px:.1} px, {side}x{side} modules): a phone camera sees the panel's pixel grid, not the code; use a shorter story_url or a bigger screen"
                ),
            )];
        }
        if px < MIN_MODULE_PX {
            return vec![problem(
                Severity::Warning,
                id,
                Some(size),
                "qr",
                format!(
                    "reads back, but its modules are {px:.1} px ({side}x{side} modules): a phone must come close; a shorter story_url gives bigger modules"
                ),
            )];
        }
        return Vec::new();
    }
    let message = match texts.first() {
        Some(other) => format!("reads {other:?}, not story_url {story_url:?}"),
        None => format!(
            "a QR decoder cannot read it back from the card's pixels ({side}x{side} modules{}): a phone will not either; use a shorter story_url or a bigger screen",
            module_px.first().map(|p| format!(", {p:.1} px each")).unwrap_or_default()
        ),
    };
    vec![problem(Severity::Error, id, Some(size), "qr", message)]
}

/// Where the detector finds the face in a card's photo crop, as fractions of the crop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FacePlacement {
    /// Face box width / crop width (the crop is made for about 0.45).
    pub width: f32,
    /// Face centre minus the crop's intended face centre (0.5 across, 0.45 down), in crop widths
    /// and heights.
    pub dx: f32,
    pub dy: f32,
}

/// The face in a card's crop: smaller than this share of its width is "small".
pub const SMALL_FACE: f32 = 0.25;
/// ... larger than this share is "fills the crop" (chin or hair cut).
pub const LARGE_FACE: f32 = 0.8;
/// ... centre further than this from where the crop means it to be is "off-centre".
pub const OFF_CENTRE: f32 = 0.15;

/// Runs the real detector on the card's photo crop (the pixels the card shows).
pub fn face_placement(vision: &Vision, photo: &RgbImage) -> anyhow::Result<Option<FacePlacement>> {
    let faces = vision.faces(photo)?;
    let Some(face) = faces.first() else { return Ok(None) };
    let (w, h) = (photo.width() as f32, photo.height() as f32);
    let [x, y, fw, fh] = face.bbox;
    Ok(Some(FacePlacement { width: fw / w, dx: (x + fw / 2.0) / w - 0.5, dy: (y + fh / 2.0) / h - 0.45 }))
}

/// The photo of a card: missing (error), or a face small, large or off-centre in its crop.
pub fn check_photo(vision: &Vision, photo: Option<&RgbImage>, id: &str) -> Vec<Problem> {
    let Some(photo) = photo else {
        return vec![problem(Severity::Error, id, None, "photo", "no usable photo: the card shows none".into())];
    };
    let warn = |m: String| vec![problem(Severity::Warning, id, None, "photo", m)];
    match face_placement(vision, photo) {
        Err(e) => warn(format!("the detector failed on the card's crop: {e:#}")),
        Ok(None) => warn(format!("no face found in the card's {}x{} crop of the photo", photo.width(), photo.height())),
        Ok(Some(f)) => {
            let mut what = Vec::new();
            if f.width < SMALL_FACE {
                what.push(format!("the face is small: {:.0} % of the crop's width (aim for 35-60 %)", f.width * 100.0));
            }
            if f.width > LARGE_FACE {
                what.push(format!("the face fills {:.0} % of the crop's width: chin or hair are cut", f.width * 100.0));
            }
            if f.dx.abs() > OFF_CENTRE || f.dy.abs() > OFF_CENTRE {
                let horiz = if f.dx < 0.0 { "left" } else { "right" };
                let vert = if f.dy < 0.0 { "up" } else { "down" };
                what.push(format!(
                    "the face is off-centre: {:.0} % {horiz}, {:.0} % {vert} of where the crop puts it (the photo's edge stops the crop; use a photo with more room around the face)",
                    f.dx.abs() * 100.0,
                    f.dy.abs() * 100.0
                ));
            }
            if what.is_empty() {
                Vec::new()
            } else {
                warn(what.join("; "))
            }
        }
    }
}

/// One rendered card.
pub struct CardImage<'a> {
    pub index: usize,
    pub size: Size,
    pub image: &'a RgbImage,
    /// The worst problem visible on this card at this size (photo problems included).
    pub worst: Option<Severity>,
    /// How many problems are visible on this card at this size (photo problems included).
    pub problems: usize,
}

/// Renders and checks every card of `assets` (one per role model of `role_models`, in the same order) at
/// every size, handing each image to `each` as it is made (so a caller keeps what it wants and
/// memory does not grow with the gallery) and calling `progress(done, total)` after each.
/// `vision` (None: photo checks skipped) checks the faces. Problems come sorted, worst first.
pub fn check_cards(
    assets: &Assets,
    role_models: &[RoleModel],
    vision: Option<&Vision>,
    sizes: &[Size],
    each: &mut dyn FnMut(CardImage) -> anyhow::Result<()>,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Vec<Problem>> {
    let total = assets.cards.len() * sizes.len();
    let mut done = 0;
    let mut all: Vec<Problem> = Vec::new();
    let add = |found: Vec<Problem>, all: &mut Vec<Problem>| {
        for p in found {
            if !all.contains(&p) {
                all.push(p);
            }
        }
    };
    for (i, card) in assets.cards.iter().enumerate() {
        let photo = vision.map(|v| check_photo(v, assets.photo(i).as_deref(), &role_models[i].id)).unwrap_or_default();
        add(photo.clone(), &mut all);
        for &size in sizes {
            let (image, fits) = render_card(assets, i, size);
            let mut found = check_text(assets, role_models, i, size, &fits);
            found.extend(check_qr(&image, card, &role_models[i].id, &role_models[i].story_url, size));
            // Everything visible on this card (a name cut in its "also like" row too, though that
            // problem is reported for the other role model).
            let own: Vec<&Problem> = found.iter().chain(&photo).collect();
            let worst = own.iter().map(|p| p.severity).max();
            each(CardImage { index: i, size, image: &image, worst, problems: own.len() })?;
            add(found, &mut all);
            done += 1;
            progress(done, total);
        }
    }
    let key = |p: &Problem| (std::cmp::Reverse(p.severity), p.role_model.clone(), p.size.map(|s| (s.width, s.height)));
    all.sort_by_key(key);
    Ok(all)
}

/// Cards for the preview: as the booth builds them, from the gallery (role models without a usable
/// photo are not in a gallery's `role_models`; see [`missing_photos`]).
pub fn cards_for(gallery: &Gallery) -> Vec<Card> {
    gallery.role_models.iter().map(|rm| Card::build(gallery, rm)).collect()
}

/// Role models of the manifest that the booth will not show because none of their photos was
/// accepted (an error each, with the reasons the photos were left out).
pub fn missing_photos(manifest: &GalleryManifest, gallery: &Gallery) -> Vec<Problem> {
    manifest
        .role_models
        .iter()
        .filter(|rm| !gallery.role_models.iter().any(|g| g.id == rm.id))
        .map(|rm| {
            let reasons: Vec<String> =
                gallery.index.rejected.iter().filter(|r| r.role_model == rm.id).map(|r| format!("{}: {}", r.file, r.reason)).collect();
            problem(
                Severity::Error,
                &rm.id,
                None,
                "photo",
                format!(
                    "no usable photo, so the booth never shows this role model ({})",
                    if reasons.is_empty() { "none listed".into() } else { reasons.join("; ") }
                ),
            )
        })
        .collect()
}

/// Photos left out by the index (a warning each, when the role model still has another).
pub fn left_out_photos(gallery: &Gallery) -> Vec<Problem> {
    gallery
        .index
        .rejected
        .iter()
        .filter(|r| gallery.role_models.iter().any(|g| g.id == r.role_model))
        .map(|r| problem(Severity::Warning, &r.role_model, None, "photo", format!("{} left out: {}", r.file, r.reason)))
        .collect()
}

/// A QR code for a URL, as the card draws it (for tests that build a card by hand).
pub fn qr_for(url: &str) -> Option<(Vec<bool>, usize)> {
    qr_modules(url)
}

/// Contact sheet: thumbnails of cards of one size in a grid, each labelled with the role model's
/// id and framed red (error), amber (warning) or not at all.
pub struct ContactSheet {
    canvas: Canvas,
    thumb: (u32, u32),
    cols: u32,
    label_h: u32,
    pad: u32,
}

const SHEET_BG: Rgb888 = Rgb888::new(40, 40, 40);

impl ContactSheet {
    /// A sheet for `count` cards of `size`: thumbnails at most 480x400, four across.
    pub fn new(count: usize, size: Size) -> ContactSheet {
        let scale = (480.0 / size.width as f32).min(400.0 / size.height as f32).min(1.0);
        let thumb = (((size.width as f32 * scale) as u32).max(1), ((size.height as f32 * scale) as u32).max(1));
        let cols = (count as u32).clamp(1, 4);
        let rows = (count as u32).div_ceil(cols).max(1);
        let (pad, label_h) = (12, 26);
        let w = cols * (thumb.0 + pad) + pad;
        let h = rows * (thumb.1 + label_h + pad) + pad;
        let mut canvas = Canvas::new(w, h);
        let _ = canvas.clear(SHEET_BG);
        ContactSheet { canvas, thumb, cols, label_h, pad }
    }

    /// Places card number `slot` with its label (and, when it has `problems`, their count).
    pub fn add(&mut self, fonts: &Fonts, slot: usize, image: &RgbImage, label: &str, worst: Option<Severity>, problems: usize) {
        let (col, row) = (slot as u32 % self.cols, slot as u32 / self.cols);
        let x = (self.pad + col * (self.thumb.0 + self.pad)) as i32;
        let y = (self.pad + row * (self.thumb.1 + self.label_h + self.pad)) as i32;
        let small = crate::util::image::resize(image, self.thumb.0, self.thumb.1);
        if let Some(sev) = worst {
            let c = match sev {
                Severity::Error => Rgb888::new(220, 40, 40),
                Severity::Warning => Rgb888::new(242, 177, 52),
            };
            let _ = embedded_graphics::primitives::Rectangle::new(
                Point::new(x - 4, y - 4),
                embedded_graphics::prelude::Size::new(self.thumb.0 + 8, self.thumb.1 + 8),
            )
            .into_styled(embedded_graphics::primitives::PrimitiveStyle::with_fill(c))
            .draw(&mut self.canvas);
        }
        self.canvas.blit(&small, x, y, false);
        let plural = if problems == 1 { "" } else { "s" };
        let marker = match worst {
            Some(Severity::Error) => format!("  ✗ {problems} problem{plural}, error"),
            Some(Severity::Warning) => format!("  ! {problems} warning{plural}"),
            None => "  ✓".into(),
        };
        let style = Style { font: &fonts.regular, px: 17.0, color: Rgb888::WHITE, background: SHEET_BG };
        draw_line(&mut self.canvas, &style, &format!("{label}{marker}"), x, y + self.thumb.1 as i32 + self.label_h as i32 - 5);
    }

    pub fn image(&self) -> RgbImage {
        self.canvas.to_image()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_scene_has_up_to_two_others_and_never_itself() {
        assert_eq!(
            preview_scene(0, 1),
            Scene::Result { best: 0, likeness: PREVIEW_LIKENESS, others: vec![], rank: 0, choices: 1, language: None, visitor: None }
        );
        let Scene::Result { others, .. } = preview_scene(2, 3) else { panic!() };
        assert_eq!(others.iter().map(|o| o.0).collect::<Vec<_>>(), vec![0, 1]);
    }
}
