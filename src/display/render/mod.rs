//! Rendering: a pure function from a [`Scene`] (and the gallery's assets) to pixels on a
//! [`Canvas`] (an `embedded_graphics` draw target; images are copied to it row by row). Layouts scale with the screen, from a
//! 240x320 portrait panel to 1920x1080; the unit `u` is 1/20 of the shorter side (54 px on
//! 1080p: body text of 0.8u = 43 px, names of 1.6u = 86 px, readable at 2 m). Tall portrait
//! screens (1080x1920, 720x1280) have layouts of their own ([`tall`]).

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};

use super::canvas::Canvas;
use super::hit::{targets, Rect, Target};
use super::scene::{Guidance, Scene, Visitor};
use super::text::{draw_line, draw_paragraph_fit, width, Align, Fit, Fonts, Style};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::config::Texts;
use crate::gallery::likeness::Likeness;
use crate::gallery::{Gallery, RoleModel};
use crate::util::image::RgbImage;

mod tall;

const BG: Rgb888 = Rgb888::new(11, 31, 58);
const PANEL: Rgb888 = Rgb888::new(22, 48, 84);
const FG: Rgb888 = Rgb888::new(255, 255, 255);
const SOFT: Rgb888 = Rgb888::new(184, 196, 214);
const ACCENT: Rgb888 = Rgb888::new(242, 177, 52);

/// What the result card and the showcase need of one role model, prepared once per gallery.
pub struct Card {
    pub name: String,
    pub role: String,
    pub branch: String,
    pub quote: String,
    /// The portrait (3:4 crop around the face, at most 600x800).
    pub photo: Photo,
    /// QR code modules of the story URL (row-major, true = dark) and the side in modules.
    pub qr: Option<(Vec<bool>, usize)>,
}

/// A card's portrait. A gallery's portraits stay on disk and are decoded when a scene shows
/// them (a few are kept, see [`Assets::PORTRAITS_KEPT`]): decoded, each is up to 1.4 MB, so
/// keeping all of a 1,000-photo gallery's would cost up to 1.4 GB.
pub enum Photo {
    None,
    /// Already decoded (a portrait drawn in memory).
    Decoded(Arc<RgbImage>),
    /// The gallery photo and its face box: its prepared portrait (in the gallery directory,
    /// [`crate::gallery::portrait`]) decoded when shown, else the photo itself, decoded and
    /// cropped by [`crate::gallery::portrait::crop`] when shown.
    File {
        path: PathBuf,
        face: Option<[f32; 4]>,
        prepared: Option<(PathBuf, crate::gallery::portrait::Prepared)>,
    },
}

/// A portrait shown: the card's index, and whether it is the small copy.
type Shown = (usize, bool);

/// Everything the renderer needs besides the scene.
pub struct Assets {
    pub fonts: Fonts,
    pub texts: Texts,
    /// Every language a visitor can switch to, by code (see [`Assets::texts_in`]).
    pub languages: Vec<(String, Texts)>,
    pub cards: Vec<Card>,
    /// Recently shown portraits decoded from their files (by card, and whether the small copy),
    /// the latest last.
    portraits: Mutex<Vec<(Shown, Option<Arc<RgbImage>>)>>,
}

/// QR code modules for a URL.
pub fn qr_modules(url: &str) -> Option<(Vec<bool>, usize)> {
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M).ok()?;
    let side = code.width();
    Some((code.to_colors().iter().map(|c| *c == qrcode::Color::Dark).collect(), side))
}

impl Card {
    /// Builds a card: the first accepted photo of the role model (decoded and cropped around its
    /// face when a scene shows it).
    pub fn build(gallery: &Gallery, rm: &RoleModel) -> Card {
        let photo = gallery.index.photos.iter().find(|p| p.role_model == rm.id).map_or(Photo::None, |p| Photo::File {
            path: gallery.dir.join(&p.file),
            face: p.face,
            prepared: p.portrait.clone().map(|prepared| (gallery.dir.clone(), prepared)),
        });
        Card {
            name: rm.name.clone(),
            role: rm.role.clone(),
            branch: rm.branch.clone(),
            quote: rm.quote.clone(),
            photo,
            qr: qr_modules(&rm.story_url),
        }
    }
}

impl Assets {
    /// Cards for every role model of the gallery (in its order).
    pub fn new(fonts: Fonts, texts: Texts, gallery: Option<&Gallery>) -> Assets {
        let cards = gallery.map(|g| g.role_models.iter().map(|rm| Card::build(g, rm)).collect()).unwrap_or_default();
        Assets::with_cards(fonts, texts, cards)
    }

    /// Assets with cards made elsewhere.
    pub fn with_cards(fonts: Fonts, texts: Texts, cards: Vec<Card>) -> Assets {
        Assets { fonts, texts, languages: Vec::new(), cards, portraits: Mutex::new(Vec::new()) }
    }

    /// The same assets with the languages a visitor can switch to (`config.languages`).
    pub fn with_languages(mut self, languages: Vec<(String, Texts)>) -> Assets {
        self.languages = languages;
        self
    }

    /// The texts of `language` (None, or one not known: the configured texts).
    pub fn texts_in(&self, language: Option<&str>) -> &Texts {
        language.and_then(|l| self.languages.iter().find(|(code, _)| code == l)).map_or(&self.texts, |(_, t)| t)
    }

    /// How many portraits decoded from files are kept: a result scene shows up to four (the best
    /// and three more look-alikes), the showcase one.
    pub const PORTRAITS_KEPT: usize = 6;

    /// Forgets the portraits kept (`rolemirror bench` times a result card as for a role model
    /// not shown lately).
    pub fn forget_portraits(&self) {
        self.portraits.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// How many decoded portraits are kept now.
    pub fn kept(&self) -> usize {
        self.portraits.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The portrait of card `i`: decoded from its file the first time a scene shows it, then
    /// kept among the last [`Self::PORTRAITS_KEPT`]. A photo that no longer decodes gives none.
    pub fn photo(&self, i: usize) -> Option<Arc<RgbImage>> {
        self.portrait(i, false)
    }

    /// The portrait of card `i` for a thumbnail: its prepared small copy
    /// ([`crate::gallery::portrait::SMALL_SIZE`]), else the portrait itself.
    pub fn thumbnail(&self, i: usize) -> Option<Arc<RgbImage>> {
        self.portrait(i, true)
    }

    /// Loads the portraits a coming result card will show — [`Scene::Live`]'s `likely`: the
    /// main match's portrait and the look-alikes' small copies — into those kept, so that the
    /// card does not wait for them when the match is decided. The display thread calls it after
    /// a scene is on screen; the portraits already kept cost a lookup.
    pub fn prefetch(&self, scene: &Scene) {
        if let Scene::Live { likely, .. } = scene {
            if let Some((best, others)) = likely.split_first() {
                self.photo(*best);
                for i in others {
                    self.thumbnail(*i);
                }
            }
        }
    }

    fn portrait(&self, i: usize, small: bool) -> Option<Arc<RgbImage>> {
        let (path, face, prepared) = match &self.cards.get(i)?.photo {
            Photo::None => return None,
            Photo::Decoded(img) => return Some(img.clone()),
            Photo::File { path, face, prepared } => (path, *face, prepared),
        };
        let mut kept = self.portraits.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = kept.iter().position(|(k, _)| *k == (i, small)) {
            let entry = kept.remove(at);
            let img = entry.1.clone();
            kept.push(entry);
            return img;
        }
        let ready = prepared.as_ref().and_then(|(dir, p)| {
            // A thumbnail without its small copy shows the portrait (scaled down when drawn).
            let loaded = if small {
                crate::gallery::portrait::load_small(dir, p).or_else(|_| crate::gallery::portrait::load(dir, p))
            } else {
                crate::gallery::portrait::load(dir, p)
            };
            match loaded {
                Ok(img) => Some(Arc::new(img)),
                Err(e) => {
                    log::warn!("{e:#}: showing {} (decoded now; the next start rebuilds the portrait)", path.display());
                    None
                }
            }
        });
        let img = ready.or_else(|| {
            let img = crate::util::image::load(path, crate::util::image::DEFAULT_MAX_PIXELS)
                .ok()
                .map(|img| Arc::new(crate::gallery::portrait::crop(&img, face)));
            // The whole photo was decoded for the crop: hand its memory back rather than let the
            // heap keep growing with each portrait shown (the soak's RSS curve).
            crate::util::memory::release_free();
            img
        });
        if kept.len() >= Self::PORTRAITS_KEPT {
            kept.remove(0);
        }
        kept.push(((i, small), img.clone()));
        img
    }
}

fn fill(t: &mut Canvas, x: i32, y: i32, w: i32, h: i32, c: Rgb888) {
    if w > 0 && h > 0 {
        let _ = Rectangle::new(Point::new(x, y), Size::new(w as u32, h as u32)).into_styled(PrimitiveStyle::with_fill(c)).draw(t);
    }
}

fn frame(t: &mut Canvas, x: i32, y: i32, w: i32, h: i32, stroke: i32, c: Rgb888) {
    fill(t, x, y, w, stroke, c);
    fill(t, x, y + h - stroke, w, stroke, c);
    fill(t, x, y, stroke, h, c);
    fill(t, x + w - stroke, y, stroke, h, c);
}

/// How an image fills its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    /// All of it, scaled to fit inside the box.
    Fit,
    /// The box filled, the image cropped around its centre (only the part shown is scaled).
    Cover,
}

/// Where an image landed: the rectangle drawn, and how the image's own coordinates map to the
/// screen (screen x = `ox` + image x * `scale`).
#[derive(Debug, Clone, Copy)]
struct Placed {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
    ox: f32,
    oy: f32,
    scale: f32,
}

impl Placed {
    /// An image box (x, y, width, height in image pixels) on the screen, clipped to the drawn
    /// rectangle.
    fn map(&self, b: [f32; 4]) -> (i32, i32, i32, i32) {
        let x0 = ((self.ox + b[0] * self.scale) as i32).max(self.x);
        let y0 = ((self.oy + b[1] * self.scale) as i32).max(self.y);
        let x1 = ((self.ox + (b[0] + b[2]) * self.scale) as i32).min(self.x + self.w);
        let y1 = ((self.oy + (b[1] + b[3]) * self.scale) as i32).min(self.y + self.h);
        (x0, y0, x1 - x0, y1 - y0)
    }
}

/// Draws `img` scaled (keeping its aspect) and centred in the box, flipped left to right with
/// `mirror` (while drawing: no flipped copy); returns where it landed.
#[allow(clippy::too_many_arguments)]
fn draw_image(t: &mut Canvas, img: &RgbImage, x: i32, y: i32, w: i32, h: i32, fill: Fill, mirror: bool) -> Placed {
    let nothing = Placed { x, y, w: 0, h: 0, ox: x as f32, oy: y as f32, scale: 1.0 };
    if w <= 0 || h <= 0 || img.width() == 0 || img.height() == 0 {
        return nothing;
    }
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    let (sx, sy) = (w as f32 / iw, h as f32 / ih);
    let s = if fill == Fill::Cover { sx.max(sy) } else { sx.min(sy) };
    // The part of the image that shows (all of it when fitted), in image pixels.
    let (rw, rh) = ((w as f32 / s).min(iw).round().max(1.0), (h as f32 / s).min(ih).round().max(1.0));
    let region =
        crate::util::image::Region { x: ((iw - rw) / 2.0) as u32, y: ((ih - rh) / 2.0) as u32, width: rw as u32, height: rh as u32 };
    let (dw, dh) = (((rw * s).round() as u32).clamp(1, w as u32), ((rh * s).round() as u32).clamp(1, h as u32));
    let (dx, dy) = (x + (w - dw as i32) / 2, y + (h - dh as i32) / 2);
    t.draw_scaled(img, region, dx, dy, dw, dh, mirror);
    Placed { x: dx, y: dy, w: dw as i32, h: dh as i32, ox: dx as f32 - region.x as f32 * s, oy: dy as f32 - region.y as f32 * s, scale: s }
}

/// Draws the visitor's picture filling the box: the part of the frame around their face (about
/// 2.2 face heights tall, the face centred, at the box's aspect; moved inside the frame near its
/// edges), mirrored as the live view shows it. Only that part is scaled.
fn draw_visitor(t: &mut Canvas, v: &Visitor, x: i32, y: i32, w: i32, h: i32) {
    let (iw, ih) = (v.frame.width() as f32, v.frame.height() as f32);
    if w <= 0 || h <= 0 || iw < 1.0 || ih < 1.0 {
        return;
    }
    let aspect = w as f32 / h as f32;
    let [fx, fy, fw, fh] = if v.face.iter().all(|f| f.is_finite()) { v.face } else { [0.0, 0.0, iw, ih] };
    let mut ch = (fh * 2.2).max(fw * 2.2 / aspect).max(8.0);
    let mut cw = ch * aspect;
    if cw > iw {
        (cw, ch) = (iw, iw / aspect);
    }
    if ch > ih {
        (cw, ch) = (ih * aspect, ih);
    }
    let x0 = (fx + fw / 2.0 - cw / 2.0).clamp(0.0, iw - cw);
    let y0 = (fy + fh / 2.0 - ch / 2.0).clamp(0.0, ih - ch);
    let region = crate::util::image::Region { x: x0 as u32, y: y0 as u32, width: (cw as u32).max(1), height: (ch as u32).max(1) };
    t.draw_scaled(&v.frame, region, x, y, w as u32, h as u32, v.mirror);
}

/// The visitor's live picture (left) and their match's portrait (right), side by side and the
/// same size (2:3, as large as the box allows, centred in it). Once the visitor has gone their
/// place stays, a plain panel, so the card does not jump. Returns the pictures' box.
#[allow(clippy::too_many_arguments)]
fn side_by_side(t: &mut Canvas, c: &Ctx, photo: Option<&RgbImage>, visitor: Option<&Visitor>, x: i32, y: i32, w: i32, h: i32) -> Rect {
    let (gap, stroke) = ((c.u * 0.6) as i32, (c.u * 0.09).max(2.0) as i32);
    let (mut sw, mut sh) = ((w - gap) / 2, (w - gap) / 2 * 3 / 2);
    if sh > h {
        (sw, sh) = (h * 2 / 3, h);
    }
    let (x0, y0) = (x + (w - 2 * sw - gap) / 2, y + (h - sh) / 2);
    if sw <= 2 * stroke || sh <= 2 * stroke {
        return Rect { x: x0, y: y0, w: 0, h: 0 };
    }
    let x1 = x0 + sw + gap;
    match visitor {
        Some(v) => {
            draw_visitor(t, v, x0, y0, sw, sh);
            frame(t, x0 - stroke, y0 - stroke, sw + 2 * stroke, sh + 2 * stroke, stroke, FG);
        }
        None => fill(t, x0, y0, sw, sh, PANEL),
    }
    if let Some(photo) = photo {
        draw_image(t, photo, x1, y0, sw, sh, Fill::Cover, false);
    }
    frame(t, x1 - stroke, y0 - stroke, sw + 2 * stroke, sh + 2 * stroke, stroke, ACCENT);
    Rect { x: x0, y: y0, w: 2 * sw + gap, h: sh }
}

/// Where the scene's buttons go (from [`targets`], the places taps are tested against): "another
/// match" and the language (only when there is another language to switch to).
#[derive(Debug, Clone, Copy, Default)]
struct Buttons {
    another: Option<Rect>,
    language: Option<Rect>,
}

impl Buttons {
    fn of(scene: &Scene, assets: &Assets, size: (u32, u32)) -> Buttons {
        let places = targets(scene, size);
        let place = |target| places.iter().find(|(t, _)| *t == target).map(|(_, r)| *r);
        Buttons { another: place(Target::AnotherMatch), language: place(Target::Language).filter(|_| assets.languages.len() > 1) }
    }

    /// Draws them: "another match", and the language to switch to, by its own name.
    fn draw(&self, t: &mut Canvas, c: &Ctx, a: &Assets, tx: &Texts, current: Option<&str>) {
        let next = a.languages.iter().position(|(code, _)| Some(code.as_str()) == current).map_or(1, |i| i + 1);
        let labels = [
            (self.another, tx.another_match.as_str()),
            (self.language, a.languages.get(next % a.languages.len().max(1)).map_or("", |(_, t)| t.language_name.as_str())),
        ];
        for (place, label) in labels {
            let Some(r) = place else { continue };
            fill(t, r.x, r.y, r.w, r.h, PANEL);
            frame(t, r.x, r.y, r.w, r.h, (c.u * 0.08).max(1.0) as i32, ACCENT);
            let s = c.style(true, 0.8, FG, PANEL);
            let pad = (c.u * 0.3) as i32;
            c.paragraph(t, &s, label, r.x + pad, r.y + (r.h - c.line(&s)) / 2, r.w - 2 * pad, Align::Center, 1);
        }
    }
}

fn draw_qr(t: &mut Canvas, qr: &(Vec<bool>, usize), x: i32, y: i32, size: i32) {
    let (modules, side) = qr;
    let quiet = 2;
    let cell = (size / (*side as i32 + 2 * quiet)).max(1);
    let total = cell * (*side as i32 + 2 * quiet);
    fill(t, x, y, total, total, FG);
    for (i, dark) in modules.iter().enumerate() {
        if *dark {
            let (mx, my) = ((i % side) as i32, (i / side) as i32);
            fill(t, x + (quiet + mx) * cell, y + (quiet + my) * cell, cell, cell, Rgb888::BLACK);
        }
    }
}

struct Ctx<'a> {
    w: i32,
    h: i32,
    u: f32,
    fonts: &'a Fonts,
    /// How each paragraph fitted its box, in drawing order (for [`render_measured`]).
    fits: std::cell::RefCell<Vec<Fit>>,
}

impl<'a> Ctx<'a> {
    fn style(&self, bold: bool, size_u: f32, color: Rgb888, background: Rgb888) -> Style<'a> {
        Style { font: if bold { &self.fonts.bold } else { &self.fonts.regular }, px: (self.u * size_u).max(9.0), color, background }
    }
    fn portrait(&self) -> bool {
        self.h > self.w
    }
    /// A portrait screen at least 3:2 tall (a monitor or Touch Display 2 in portrait, not a
    /// near-square 240x320 panel): the scenes stack their parts and give the photo the height.
    fn tall(&self) -> bool {
        self.h * 2 >= self.w * 3
    }
    /// The height [`Ctx::paragraph`] would use, without drawing.
    fn measure(&self, s: &Style, text: &str, max_width: i32, max_lines: usize) -> i32 {
        super::text::layout_paragraph(s, text, 0, 0, max_width, max_lines).1.height
    }
    /// One line's height in `s`.
    fn line(&self, s: &Style) -> i32 {
        (s.px * 1.25).round() as i32
    }
    /// [`draw_paragraph_fit`], noting how the text fitted.
    #[allow(clippy::too_many_arguments)]
    fn paragraph(&self, t: &mut Canvas, s: &Style, text: &str, x: i32, top: i32, max_width: i32, align: Align, max_lines: usize) -> i32 {
        let fit = draw_paragraph_fit(t, s, text, x, top, max_width, align, max_lines);
        let height = fit.height;
        self.fits.borrow_mut().push(fit);
        height
    }
}

/// Draws `scene` over the whole target.
pub fn render(scene: &Scene, assets: &Assets, target: &mut Canvas) {
    render_measured(scene, assets, target);
}

/// Draws `scene` as [`render`] does and returns how each paragraph fitted its box (text cut
/// with "…", a word cut across lines, a quote with no room left), in drawing order.
pub fn render_measured(scene: &Scene, assets: &Assets, target: &mut Canvas) -> Vec<Fit> {
    let size = target.bounding_box().size;
    let (w, h) = (size.width as i32, size.height as i32);
    let ctx = Ctx { w, h, u: w.min(h) as f32 / 20.0, fonts: &assets.fonts, fits: Default::default() };
    let _ = target.clear(BG);
    let t = assets.texts_in(scene.language());
    let buttons = Buttons::of(scene, assets, (size.width, size.height));
    match scene {
        Scene::Attract { showcase } => attract(target, &ctx, assets, *showcase),
        Scene::Live { frame, face, mirror, guidance, progress, .. } => live(target, &ctx, t, frame, *face, *mirror, *guidance, *progress),
        Scene::Result { best, likeness, others, visitor, .. } => {
            result(target, &ctx, assets, t, Match { best: *best, likeness: *likeness, others, visitor: visitor.as_ref() }, &buttons)
        }
        Scene::Thanks => centered(target, &ctx, &t.thanks, &t.privacy),
        Scene::CameraLost => {
            centered(target, &ctx, &t.camera_lost, &t.camera_lost_sub);
            fill(target, 0, 0, w, (ctx.u * 0.3) as i32, ACCENT);
        }
        Scene::Service { problems } => listing(target, &ctx, &t.service, problems, None),
        Scene::Update { title, lines, progress } => listing(target, &ctx, title, lines, *progress),
    }
    buttons.draw(target, &ctx, assets, t, scene.language());
    ctx.fits.into_inner()
}

fn centered(t: &mut Canvas, c: &Ctx, title: &str, sub: &str) {
    let margin = (c.u * 1.5) as i32;
    let s = c.style(true, 1.5, FG, BG);
    let used = c.paragraph(t, &s, title, margin, c.h / 2 - (c.u * 2.5) as i32, c.w - 2 * margin, Align::Center, 2);
    let s = c.style(false, 0.8, SOFT, BG);
    c.paragraph(t, &s, sub, margin, c.h / 2 - (c.u * 2.5) as i32 + used + (c.u * 0.6) as i32, c.w - 2 * margin, Align::Center, 3);
}

fn attract(t: &mut Canvas, c: &Ctx, a: &Assets, showcase: Option<usize>) {
    let tx = &a.texts;
    let margin = (c.u * 1.0) as i32;
    let title = c.style(true, 1.4, ACCENT, BG);
    let top = margin;
    let used = c.paragraph(t, &title, &tx.title, margin, top, c.w - 2 * margin, Align::Center, 2);
    let card = showcase.and_then(|i| Some((a.cards.get(i)?, a.photo(i))));
    if c.tall() {
        return tall::attract(t, c, a, top + used, card);
    }
    let (photo_box, text_box) = if c.portrait() {
        let ph = (c.h as f32 * 0.42) as i32;
        ((margin, top + used + margin / 2, c.w - 2 * margin, ph), (margin, top + used + margin + ph, c.w - 2 * margin))
    } else {
        let pw = (c.w as f32 * 0.38) as i32;
        (
            (margin * 2, top + used + margin, pw, c.h - top - used - margin * 4),
            (margin * 4 + pw, top + used + margin * 2, c.w - pw - margin * 6),
        )
    };
    if let Some((card, photo)) = card {
        let (px, py, pw, ph) = photo_box;
        let name_h = (c.u * 2.2) as i32;
        if let Some(photo) = photo {
            let Placed { x: ix, y: iy, w: iw, h: ih, .. } = draw_image(t, &photo, px, py, pw, ph - name_h, Fill::Fit, false);
            frame(t, ix - 4, iy - 4, iw + 8, ih + 8, 4, ACCENT);
            let s = c.style(true, 0.8, FG, BG);
            let used = c.paragraph(t, &s, &card.name, px, iy + ih + (c.u * 0.3) as i32, pw, Align::Center, 1);
            let s = c.style(false, 0.6, SOFT, BG);
            c.paragraph(t, &s, &card.role, px, iy + ih + (c.u * 0.3) as i32 + used, pw, Align::Center, 1);
        }
    }
    let (x, y, tw) = text_box;
    let s = c.style(true, if c.portrait() { 1.1 } else { 1.3 }, FG, BG);
    let used = c.paragraph(t, &s, &tx.invite, x, y, tw, Align::Center, 3);
    let s = c.style(false, 0.8, SOFT, BG);
    c.paragraph(t, &s, &tx.invite_sub, x, y + used + (c.u * 0.5) as i32, tw, Align::Center, 4);
    let s = c.style(false, 0.5, SOFT, BG);
    c.paragraph(t, &s, &tx.privacy, margin, c.h - (c.u * 1.0) as i32, c.w - 2 * margin, Align::Center, 1);
}

#[allow(clippy::too_many_arguments)]
fn live(
    t: &mut Canvas,
    c: &Ctx,
    tx: &Texts,
    img: &RgbImage,
    face: Option<[f32; 4]>,
    mirror: bool,
    guidance: Guidance,
    progress: Option<f32>,
) {
    // On a tall portrait screen the camera's landscape frame is shown as a 3:4 window (its
    // sides cropped), as wide as the screen: a tall mirror; the advice panel takes the rest.
    let min_banner = (c.u * 3.2) as i32;
    let (view_h, fill_mode) = if c.tall() { ((c.w * 4 / 3).min(c.h - min_banner), Fill::Cover) } else { (c.h - min_banner, Fill::Fit) };
    let banner = c.h - view_h;
    let placed = draw_image(t, img, 0, 0, c.w, view_h, fill_mode, mirror);
    if let (Some(mut b), true) = (face, placed.w > 0) {
        if mirror {
            b[0] = img.width() as f32 - b[0] - b[2];
        }
        let stroke = (c.u * 0.15).max(2.0) as i32;
        let color = if progress.is_some() { ACCENT } else { FG };
        let (bx, by, bw, bh) = placed.map(b);
        if bw > 2 * stroke && bh > 2 * stroke {
            frame(t, bx, by, bw, bh, stroke, color);
        }
    }
    fill(t, 0, c.h - banner, c.w, banner, PANEL);
    let message = match (guidance, progress) {
        (_, Some(_)) => &tx.matching,
        (Guidance::StepCloser, _) => &tx.step_closer,
        (Guidance::LookAtCamera, _) => &tx.look_at_camera,
        (Guidance::HoldStill, _) => &tx.hold_still,
    };
    let margin = (c.u * 0.8) as i32;
    // The advice centred in its panel (larger where the panel is tall), the progress bar below.
    let s = if banner > min_banner * 2 { c.style(true, 1.4, FG, PANEL) } else { c.style(true, 1.1, FG, PANEL) };
    let lines = if banner > min_banner * 2 { 2 } else { 1 };
    let text_h = c.measure(&s, message, c.w - 2 * margin, lines);
    let text_top = if lines > 1 { c.h - banner + (banner - text_h) / 2 - (c.u * 0.5) as i32 } else { c.h - banner + (c.u * 0.5) as i32 };
    c.paragraph(t, &s, message, margin, text_top, c.w - 2 * margin, Align::Center, lines);
    if let Some(p) = progress {
        let bar_w = c.w - 4 * margin;
        let by = if lines > 1 { text_top + text_h + (c.u * 0.6) as i32 } else { c.h - (c.u * 1.0) as i32 };
        fill(t, 2 * margin, by, bar_w, (c.u * 0.3) as i32, BG);
        fill(t, 2 * margin, by, (bar_w as f32 * p.clamp(0.0, 1.0)) as i32, (c.u * 0.3) as i32, ACCENT);
    }
}

/// What the result card shows: the match, how alike in kind words, the further look-alikes, and
/// the visitor's live picture while they are there.
struct Match<'a> {
    best: usize,
    likeness: Likeness,
    others: &'a [(usize, Likeness)],
    visitor: Option<&'a Visitor>,
}

/// The result card: the visitor and their match side by side, then who the match is. The buttons
/// ([`Buttons`]) are drawn over it afterwards; the layout keeps their places free.
fn result(t: &mut Canvas, c: &Ctx, a: &Assets, tx: &Texts, m: Match, buttons: &Buttons) {
    let Some(card) = a.cards.get(m.best) else {
        centered(t, c, &tx.thanks, "");
        return;
    };
    let photo = a.photo(m.best);
    let margin = (c.u * 0.8) as i32;
    let likeness = tx.likeness_words(m.likeness);
    // Below the language button (nothing is drawn under it).
    let below_language = buttons.language.map_or(0, |r| r.y + r.h);
    if c.tall() {
        return tall::result(t, c, a, tx, card, photo, likeness, &m, buttons);
    }
    if c.portrait() {
        let mut y = margin;
        let s = c.style(false, 0.8, SOFT, BG);
        let heading_w = buttons.language.map_or(c.w - margin, |r| r.x - margin / 2) - margin;
        y += c.paragraph(t, &s, &tx.result_heading, margin, y, heading_w, Align::Left, 1) + margin / 2;
        y = y.max(below_language);
        let ph = (c.h as f32 * 0.30) as i32;
        side_by_side(t, c, photo.as_deref(), m.visitor, margin, y, c.w - 2 * margin, ph);
        y += ph + margin / 2;
        let s = c.style(true, 1.1, FG, BG);
        y += c.paragraph(t, &s, &card.name, margin, y, c.w - 2 * margin, Align::Center, 2);
        let s = c.style(false, 0.75, FG, BG);
        y += c.paragraph(t, &s, &card.role, margin, y, c.w - 2 * margin, Align::Center, 1);
        let s = c.style(true, 0.85, ACCENT, BG);
        y += c.paragraph(t, &s, likeness, margin, y, c.w - 2 * margin, Align::Center, 1);
        // The QR code needs about 3 px per module to scan: as large as the rest allows; the
        // quote beside it ends above "another match".
        let qr_size = (c.h - y - margin).min((c.w as f32 * 0.45) as i32);
        let quote_bottom = buttons.another.map_or(c.h - margin, |r| r.y - margin / 3);
        if let Some(qr) = &card.qr {
            draw_qr(t, qr, c.w - margin - qr_size, y + margin / 2, qr_size);
            let s = c.style(false, 0.6, SOFT, BG);
            let quote_w = c.w - qr_size - 3 * margin;
            let lines = (((quote_bottom - y - margin / 2) as f32 / (s.px * 1.25)) as usize).min(6);
            if lines > 0 {
                c.paragraph(t, &s, &format!("“{}”", card.quote), margin, y + margin / 2, quote_w, Align::Left, lines);
            }
        }
        return;
    }
    // Landscape: the visitor and their match on the left above "another match" (as wide); the
    // texts on the right, the QR code and further look-alikes at the bottom right.
    let pw = buttons.another.map_or((c.w as f32 * 0.42) as i32, |r| r.w);
    let pictures_bottom = buttons.another.map_or(c.h - margin, |r| r.y - margin / 2);
    side_by_side(t, c, photo.as_deref(), m.visitor, margin, margin, pw, pictures_bottom - margin);
    let x = margin * 2 + pw;
    let tw = c.w - x - margin;
    let mut y = margin * 2;
    let s = c.style(false, 0.9, SOFT, BG);
    let heading_w = buttons.language.map_or(tw, |r| r.x - margin / 2 - x);
    y += c.paragraph(t, &s, &tx.result_heading, x, y, heading_w, Align::Left, 1);
    y = y.max(below_language);
    // A long name gets a smaller size rather than a second line, to leave room for the quote.
    let big = c.style(true, 1.5, FG, BG);
    let s = if super::text::wrap(big.font, big.px, &card.name, tw as f32).len() > 1 { c.style(true, 1.1, FG, BG) } else { big };
    y += c.paragraph(t, &s, &card.name, x, y, tw, Align::Left, 2);
    let s = c.style(false, 0.9, FG, BG);
    y += c.paragraph(t, &s, &card.role, x, y, tw, Align::Left, 2);
    if !card.branch.is_empty() {
        let s = c.style(false, 0.8, SOFT, BG);
        y += c.paragraph(t, &s, &card.branch, x, y, tw, Align::Left, 1);
    }
    y += (c.u * 0.5) as i32;
    let s = c.style(true, 1.0, ACCENT, BG);
    y += c.paragraph(t, &s, likeness, x, y, tw, Align::Left, 1);
    y += (c.u * 0.5) as i32;
    // 5u: 6 px a module on 1080p, 3 on 800x480 (enough to scan), and a line more for the quote.
    let qr_size = (c.u * 5.0) as i32;
    let bottom_y = c.h - margin - qr_size - (c.u * 1.0) as i32;
    // The quote takes the lines that fit above the bottom row (none if none fit).
    let s = c.style(false, 0.8, FG, BG);
    let lines = (((bottom_y - y - margin / 2) as f32 / (s.px * 1.25)).floor().max(0.0) as usize).min(5);
    if !card.quote.is_empty() && lines > 0 {
        c.paragraph(t, &s, &format!("“{}”", card.quote), x, y, tw, Align::Left, lines);
    } else if !card.quote.is_empty() {
        // No room for the quote at all: noted, not drawn.
        let (_, mut fit) = super::text::layout_paragraph(&s, &format!("“{}”", card.quote), x, y, tw, 1);
        fit.lines_drawn = 0;
        fit.height = 0;
        c.fits.borrow_mut().push(fit);
    }
    if let Some(qr) = &card.qr {
        let qx = c.w - margin - qr_size;
        draw_qr(t, qr, qx, bottom_y, qr_size);
        let s = c.style(false, 0.5, SOFT, BG);
        let label_w = width(s.font, s.px, &tx.scan_story) as i32;
        draw_line(t, &s, &tx.scan_story, qx + (qr_size - label_w) / 2, c.h - margin / 2);
    }
    // As many further look-alikes as have room (a slot of at least 5u: a thumbnail and a name).
    let avail = tw - qr_size - margin;
    let others = &m.others[..m.others.len().min((avail / (c.u * 5.0) as i32).max(1) as usize)];
    if !others.is_empty() {
        let s = c.style(false, 0.6, SOFT, BG);
        c.paragraph(t, &s, &tx.also_like, x, bottom_y, avail, Align::Left, 1);
        let slot = avail / others.len() as i32;
        let thumb_h = qr_size - (c.u * 1.0) as i32;
        let thumb_w = (thumb_h * 3 / 4).min(slot * 2 / 5);
        let ty = bottom_y + (c.u * 0.9) as i32;
        for (i, (idx, alike)) in others.iter().enumerate() {
            let Some(other) = a.cards.get(*idx) else { continue };
            let x0 = x + i as i32 * slot;
            if let Some(photo) = a.thumbnail(*idx) {
                draw_image(t, &photo, x0, ty, thumb_w, thumb_h, Fill::Fit, false);
            }
            let label_x = x0 + thumb_w + margin / 3;
            let label_w = slot - thumb_w - margin / 3 - margin / 2;
            let s = c.style(true, 0.5, FG, BG);
            let used = c.paragraph(t, &s, &other.name, label_x, ty, label_w, Align::Left, 3);
            let s = c.style(false, 0.5, ACCENT, BG);
            c.paragraph(t, &s, tx.likeness_words(*alike), label_x, ty + used + (c.u * 0.2) as i32, label_w, Align::Left, 3);
        }
    }
}

fn listing(t: &mut Canvas, c: &Ctx, title: &str, lines: &[String], progress: Option<f32>) {
    let margin = (c.u * 1.0) as i32;
    fill(t, 0, 0, c.w, (c.u * 0.3) as i32, ACCENT);
    let s = c.style(true, 1.2, FG, BG);
    let mut y = margin + c.paragraph(t, &s, title, margin, margin, c.w - 2 * margin, Align::Left, 2);
    if let Some(p) = progress {
        fill(t, margin, y, c.w - 2 * margin, (c.u * 0.4) as i32, PANEL);
        fill(t, margin, y, ((c.w - 2 * margin) as f32 * p.clamp(0.0, 1.0)) as i32, (c.u * 0.4) as i32, ACCENT);
        y += (c.u * 1.0) as i32;
    }
    let s = c.style(false, 0.6, FG, BG);
    for line in lines {
        if y > c.h - margin * 2 {
            break;
        }
        y += c.paragraph(t, &s, line, margin, y, c.w - 2 * margin, Align::Left, 3) + (c.u * 0.2) as i32;
    }
}
