//! The layouts of tall portrait screens (a monitor turned into portrait, Touch Display 2): the
//! scenes whose landscape layout would leave half the height empty stack their parts instead and
//! give the photo the height the texts leave.

use std::sync::Arc;

use super::{draw_image, draw_qr, frame, side_by_side, Assets, Buttons, Card, Ctx, Fill, Match, ACCENT, BG, FG, SOFT};
use crate::config::Texts;
use crate::display::canvas::Canvas;
use crate::display::text::{draw_line, width, Align};
use crate::vision::RgbImage;

/// The attract screen on a tall portrait screen, below the title (which ends at `top`): the
/// showcased role model's photo takes the height the texts leave, name and role under it, the
/// invitation below, the privacy line at the bottom.
pub(super) fn attract(t: &mut Canvas, c: &Ctx, a: &Assets, top: i32, card: Option<(&Card, Option<Arc<RgbImage>>)>) {
    let tx = &a.texts;
    let margin = (c.u * 1.0) as i32;
    let tw = c.w - 2 * margin;
    let (invite, sub, privacy) = (c.style(true, 1.4, FG, BG), c.style(false, 0.9, SOFT, BG), c.style(false, 0.55, SOFT, BG));
    let (name, role) = (c.style(true, 1.0, FG, BG), c.style(false, 0.7, SOFT, BG));
    let texts_h = c.measure(&invite, &tx.invite, tw, 3) + margin / 2 + c.measure(&sub, &tx.invite_sub, tw, 4);
    let bottom = c.h - margin - c.line(&privacy);
    c.paragraph(t, &privacy, &tx.privacy, margin, bottom, tw, Align::Center, 1);
    // The invitation sits above the privacy line; the photo fills what is between.
    let texts_top = bottom - margin - texts_h;
    let used = c.paragraph(t, &invite, &tx.invite, margin, texts_top, tw, Align::Center, 3);
    c.paragraph(t, &sub, &tx.invite_sub, margin, texts_top + used + margin / 2, tw, Align::Center, 4);
    let Some((card, Some(photo))) = card else { return };
    let labels = c.line(&name) + c.line(&role) + margin / 3;
    let (py, ph) = (top + margin, texts_top - top - 3 * margin - labels);
    let p = draw_image(t, &photo, margin, py, tw, ph, Fill::Fit, false);
    frame(t, p.x - 5, p.y - 5, p.w + 10, p.h + 10, 5, ACCENT);
    let y = p.y + p.h + margin / 2;
    let used = c.paragraph(t, &name, &card.name, margin, y, tw, Align::Center, 1);
    c.paragraph(t, &role, &card.role, margin, y + used, tw, Align::Center, 1);
}

/// The result card on a tall portrait screen, top to bottom: the heading (beside the language
/// button), the visitor and their match side by side (the height the rest leaves, up to 40 % of
/// the screen), name, role, branch, likeness, the quote over the full width, and a bottom row with
/// the further look-alikes above "another match" on the left and the QR code on the right.
#[allow(clippy::too_many_arguments)]
pub(super) fn result(
    t: &mut Canvas,
    c: &Ctx,
    a: &Assets,
    tx: &Texts,
    card: &Card,
    photo: Option<Arc<RgbImage>>,
    likeness: &str,
    m: &Match,
    buttons: &Buttons,
) {
    let others = m.others;
    let margin = (c.u * 0.9) as i32;
    let tw = c.w - 2 * margin;
    let heading = c.style(false, 0.9, SOFT, BG);
    let name = c.style(true, 1.4, FG, BG);
    let role = c.style(false, 0.85, FG, BG);
    let branch = c.style(false, 0.75, SOFT, BG);
    let like = c.style(true, 1.1, ACCENT, BG);
    let quote_style = c.style(false, 0.8, FG, BG);
    let quote = format!("“{}”", card.quote);
    let qr_size = (c.w as f32 * 0.40) as i32;
    let label = c.style(false, 0.55, SOFT, BG);
    let bottom_h = qr_size + c.line(&label);
    let has_branch = !card.branch.is_empty();
    let has_quote = !card.quote.is_empty();
    let texts_h = c.measure(&heading, &tx.result_heading, tw, 1)
        + c.measure(&name, &card.name, tw, 2)
        + c.measure(&role, &card.role, tw, 2)
        + if has_branch { c.measure(&branch, &card.branch, tw, 1) } else { 0 }
        + c.measure(&like, likeness, tw, 1)
        + if has_quote { c.measure(&quote_style, &quote, tw, 4) + margin } else { 0 };
    // Margins: top, around the photo (2), before the likeness and the bottom row, bottom.
    // What the language button takes below the heading.
    let heading_h = c.measure(&heading, &tx.result_heading, tw, 1);
    let below_language = buttons.language.map_or(0, |r| r.y + r.h - margin / 2);
    let free = c.h - texts_h - bottom_h - 6 * margin - (below_language - margin - heading_h).max(0);
    let photo_h = free.min((c.h as f32 * 0.40) as i32).max(0);
    // What the photo does not take is spread above and below the middle block.
    let spare = (free - photo_h) / 2;
    let mut y = margin + spare / 2;
    let heading_w = buttons.language.map_or(tw, |r| r.x - margin / 2 - margin);
    y += c.paragraph(t, &heading, &tx.result_heading, margin, y, heading_w, Align::Left, 1);
    y = y.max(below_language);
    side_by_side(t, c, photo.as_deref(), m.visitor, margin, y + margin, tw, photo_h);
    y += photo_h + 2 * margin;
    y += c.paragraph(t, &name, &card.name, margin, y, tw, Align::Center, 2);
    y += c.paragraph(t, &role, &card.role, margin, y, tw, Align::Center, 2);
    if has_branch {
        y += c.paragraph(t, &branch, &card.branch, margin, y, tw, Align::Center, 1);
    }
    y += margin / 2;
    y += c.paragraph(t, &like, likeness, margin, y, tw, Align::Center, 1);
    if has_quote {
        y += margin;
        c.paragraph(t, &quote_style, &quote, margin, y, tw, Align::Center, 4);
    }
    let bottom_y = c.h - margin - bottom_h;
    if let Some(qr) = &card.qr {
        let qx = c.w - margin - qr_size;
        draw_qr(t, qr, qx, bottom_y, qr_size);
        let label_w = width(label.font, label.px, &tx.scan_story) as i32;
        draw_line(t, &label, &tx.scan_story, qx + (qr_size - label_w) / 2, c.h - margin);
    }
    if others.is_empty() {
        return;
    }
    let avail = tw - qr_size - margin;
    let small = c.style(false, 0.6, SOFT, BG);
    let top = bottom_y + c.paragraph(t, &small, &tx.also_like, margin, bottom_y, avail, Align::Left, 1) + margin / 3;
    let slot = avail / others.len() as i32;
    let names = c.style(true, 0.55, FG, BG);
    // Under each: its name (two lines) and its kind words (two lines).
    let thumb_h = buttons.another.map_or(c.h - margin, |r| r.y - margin / 2) - top - 4 * c.line(&names);
    let thumb_w = (thumb_h * 3 / 4).min(slot - margin / 2);
    for (i, (idx, alike)) in others.iter().enumerate() {
        let Some(other) = a.cards.get(*idx) else { continue };
        let x0 = margin + i as i32 * slot;
        if let Some(photo) = a.thumbnail(*idx) {
            draw_image(t, &photo, x0, top, thumb_w, thumb_h, Fill::Fit, false);
        }
        let y = top + thumb_h + margin / 4;
        let used = c.paragraph(t, &names, &other.name, x0, y, slot - margin / 2, Align::Left, 2);
        let s = c.style(false, 0.55, ACCENT, BG);
        c.paragraph(t, &s, tx.likeness_words(*alike), x0, y + used, slot - margin / 2, Align::Left, 2);
    }
}
