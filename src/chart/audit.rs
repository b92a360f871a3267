//! The gallery audit as a chart ([`draw`]): how often each role model would be shown (top),
//! whom the gallery covers by what role models declared (middle), and the exposure within each
//! declared group, with and without the variety policy (bottom). In: a [`gallery::audit::Audit`]
//! (`gallery audit`, or the large population's in `eval relatability`); out: a [`Canvas`] of
//! [`SIZE`].
//!
//! [`gallery::audit::Audit`]: crate::gallery::audit::Audit

use std::path::Path;

use embedded_graphics::pixelcolor::Rgb888;

use super::{Chart, INK};
use crate::display::canvas::Canvas;
use crate::display::text::Fonts;
use crate::gallery::audit::{Audit, Covered, GroupExposure, DOMINANT};
use crate::gallery::matcher::Settings;

const EVEN: Rgb888 = Rgb888::new(52, 101, 164);
const RARE_C: Rgb888 = Rgb888::new(230, 159, 0);
const DOM: Rgb888 = Rgb888::new(204, 51, 51);
const GALLERY_C: Rgb888 = Rgb888::new(160, 160, 160);
const VARIETY_C: Rgb888 = Rgb888::new(0, 140, 100);
const GRID: Rgb888 = Rgb888::new(215, 215, 215);

/// Chart width and height in pixels.
pub const SIZE: (u32, u32) = (1200, 1320);

fn pct(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

/// The audit of the gallery in `dir` (named in the title) ranked with `s`, as a chart.
pub fn draw(a: &Audit, dir: &Path, s: Settings, fonts: &Fonts) -> Canvas {
    let mut c = Chart::new(SIZE.0, SIZE.1, fonts);
    groups_panel(&mut c, a, 980);
    c.text(true, 26.0, INK, &format!("Gallery audit: {}", dir.display()), 40, 44);
    c.text(
        false,
        17.0,
        INK,
        &format!("{} role models, {} reference faces; matcher {}, gender cue {}", a.role_models, a.faces, s.mode.name(), s.gender_cue),
        40,
        72,
    );
    exposure_panel(&mut c, a);
    coverage_panel(&mut c, a);
    c.into_canvas()
}

/// Exposure: one bar per role model, most shown first, with the mean and the dominant line.
fn exposure_panel(c: &mut Chart, a: &Audit) {
    let (left, right, top, base) = (90i32, SIZE.0 as i32 - 40, 130i32, 450i32);
    c.text(true, 19.0, INK, "How often each role model would be shown (share / mean share), most shown first", 40, 112);
    let ymax = a.max_share_over_mean.max(DOMINANT + 0.5).ceil();
    let y_of = |v: f64| base - ((v / ymax) * f64::from(base - top)).round() as i32;
    let mut tick = 0.0;
    while tick <= ymax + 1e-9 {
        let y = y_of(tick);
        c.hline(left, right, y, GRID, false);
        let label = format!("{tick:.0}x");
        let x = left - 10 - c.text_width(14.0, &label).round() as i32;
        c.text(false, 14.0, INK, &label, x, y + 5);
        tick += if ymax > 8.0 { 2.0 } else { 1.0 };
    }
    let n = a.exposure.len().max(1) as i32;
    let slot = f64::from(right - left) / f64::from(n);
    for (i, e) in a.exposure.iter().enumerate() {
        let x0 = left + (i as f64 * slot).round() as i32;
        let bw = ((slot * 0.8).round() as u32).max(1);
        let color = match e.state {
            "dominant" => DOM,
            "rare" => RARE_C,
            "never" => DOM,
            _ => EVEN,
        };
        if e.state == "never" {
            c.rect(x0, base + 3, bw, 8, color);
        } else {
            let y = y_of(e.share_over_mean);
            c.rect(x0, y, bw, (base - y).max(1) as u32, color);
        }
        // Ids under the bars when there is room (small galleries); the text output names all.
        if slot >= 40.0 {
            let id = c.fit(12.0, &e.id, bw as f32);
            c.text(false, 12.0, INK, &id, x0, base + 26);
        }
    }
    c.hline(left, right, y_of(1.0), INK, false);
    c.hline(left, right, y_of(DOMINANT), DOM, true);
    c.text(false, 14.0, INK, "mean", right - 40, y_of(1.0) - 6);
    c.text(false, 14.0, DOM, "dominant above", right - 110, y_of(DOMINANT) - 6);
    let never = a.exposure.iter().filter(|e| e.state == "never").count();
    let mut x = 40;
    for (color, label) in [
        (EVEN, "even".to_string()),
        (DOM, format!("dominant ({}), and never shown ({never}, marks under the axis)", a.dominant)),
        (RARE_C, format!("rarely shown ({})", a.rare)),
    ] {
        c.rect(x, 498, 16, 16, color);
        x += 24 + c.text(false, 16.0, INK, &label, x + 22, 512).round() as i32 + 24;
    }
    let summary = format!("Most shown {:.1}x the mean share; never shown {}.", a.max_share_over_mean, pct(a.never_shown));
    c.text(false, 16.0, INK, &summary, 40, 542);
    let chance = format!(
        "By chance alone, a perfectly even matcher would show {:.1}x and leave {} never shown with {} faces.",
        a.chance_max_share_over_mean,
        pct(a.chance_never_shown),
        a.faces
    );
    c.text(false, 16.0, INK, &chance, 40, 564);
}

/// Coverage from declared fields: per declared gender / group (else gender and group) and tag,
/// the share of the gallery and the share of the matches.
fn coverage_panel(c: &mut Chart, a: &Audit) {
    let cov = &a.coverage;
    c.text(
        true,
        19.0,
        INK,
        &format!("Whom the gallery covers (self-declared with consent: {} of {} role models)", cov.declared, a.role_models),
        40,
        610,
    );
    let mut rows: Vec<(String, &Covered)> = Vec::new();
    let by_pair = !cov.gender_group.is_empty();
    for (k, v) in if by_pair { &cov.gender_group } else { &cov.gender } {
        rows.push((k.clone(), v));
    }
    if !by_pair {
        rows.extend(cov.group.iter().map(|(k, v)| (k.clone(), v)));
    }
    rows.extend(cov.tags.iter().map(|(k, v)| (format!("tag: {k}"), v)));
    if rows.is_empty() {
        c.text(false, 17.0, INK, "Nothing declared: add [role_model.declared] with consent = true to gallery.toml.", 40, 646);
        return;
    }
    c.rect(40, 624, 16, 12, GALLERY_C);
    let lw = c.text(false, 15.0, INK, "share of the gallery", 62, 636).round() as i32;
    c.rect(62 + lw + 24, 624, 16, 12, EVEN);
    c.text(false, 15.0, INK, "share of the matches", 62 + lw + 46, 636);
    let (label_w, bar_left, bar_right) = (330, 380i32, SIZE.0 as i32 - 110);
    let max_share = rows.iter().map(|(_, v)| v.gallery_share.max(v.match_share)).fold(0.0f64, f64::max).max(0.05);
    let fits = 11usize;
    for (i, (label, v)) in rows.iter().take(fits).enumerate() {
        let y = 652 + i as i32 * 26;
        let l = c.fit(15.0, label, label_w as f32);
        c.text(false, 15.0, INK, &l, 40, y + 16);
        for (j, (share, color)) in [(v.gallery_share, GALLERY_C), (v.match_share, EVEN)].into_iter().enumerate() {
            let bw = ((share / max_share) * f64::from(bar_right - bar_left)).round().max(1.0) as u32;
            let by = y + 2 + j as i32 * 10;
            c.rect(bar_left, by, bw, 9, color);
            c.text(false, 12.0, INK, &pct(share), bar_left + bw as i32 + 6, by + 9);
        }
    }
    if rows.len() > fits {
        c.text(false, 15.0, INK, &format!("... {} more in the text output", rows.len() - fits), 40, 652 + fits as i32 * 26 + 16);
    }
}

/// Within-group exposure: per declared gender / group (else gender and group), the most-shown
/// role model over the group's mean, plain (blue) and with the variety policy (green), with the
/// chance level (black tick) and the dominant line.
fn groups_panel(c: &mut Chart, a: &Audit, top: i32) {
    let pairs = a.groups.iter().any(|g| g.kind == "gender / group");
    let rows: Vec<&GroupExposure> =
        a.groups.iter().filter(|g| g.role_models >= 2 && (g.kind == "gender / group" || !pairs)).take(10).collect();
    c.text(true, 19.0, INK, "Within each declared group: the most-shown role model over the group's mean", 40, top);
    if rows.is_empty() {
        c.text(false, 17.0, INK, "No declared group with two or more role models.", 40, top + 36);
        return;
    }
    let (label_w, left, right) = (300, 360i32, SIZE.0 as i32 - 120);
    let xmax = rows
        .iter()
        .map(|g| g.max_over_mean.max(g.with_variety.as_ref().map_or(0.0, |v| v.max_over_mean.mean)))
        .fold(DOMINANT + 1.0, f64::max)
        .ceil();
    let x_of = |v: f64| left + ((v / xmax) * f64::from(right - left)).round() as i32;
    let mut x = 40;
    for (color, label) in [(EVEN, "plain ranking"), (VARIETY_C, "with the variety policy (mean over orders)"), (INK, "| chance level")] {
        c.rect(x, top + 14, 16, 12, color);
        x += 24 + c.text(false, 15.0, INK, label, x + 22, top + 26).round() as i32 + 20;
    }
    for (i, g) in rows.iter().enumerate() {
        let y = top + 44 + i as i32 * 28;
        let l = c.fit(14.0, &format!("{} ({} rm, {} matches)", g.value, g.role_models, g.matches), label_w as f32);
        c.text(false, 14.0, INK, &l, 40, y + 16);
        let bars = [(Some(g.max_over_mean), EVEN), (g.with_variety.as_ref().map(|v| v.max_over_mean.mean), VARIETY_C)];
        for (j, (v, color)) in bars.into_iter().enumerate() {
            let Some(v) = v else { continue };
            let by = y + 2 + j as i32 * 11;
            c.rect(left, by, (x_of(v) - left).max(1) as u32, 10, color);
            c.text(false, 11.0, INK, &format!("{v:.2}"), x_of(v) + 5, by + 9);
        }
        let cx = x_of(g.chance_max_over_mean);
        c.rect(cx - 1, y, 3, 24, INK);
    }
    let bottom = top + 44 + rows.len() as i32 * 28;
    let dx = x_of(DOMINANT);
    let mut y = top + 36;
    while y < bottom {
        c.rect(dx - 1, y, 2, 6, DOM);
        y += 10;
    }
    c.text(false, 13.0, DOM, &format!("{DOMINANT:.0}x"), dx - 8, bottom + 14);
}
