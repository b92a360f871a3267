//! `rolemirror gallery audit DIR [--reference DIR] [--png FILE] [--json]`: exposure and coverage
//! of a gallery (see [`crate::gallery::audit`]), as text, JSON and a PNG chart.

use std::io::Write;
use std::path::{Path, PathBuf};

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{Line, PrimitiveStyle, Rectangle};

use super::{Common, ExitCode};
use anyhow::{bail, Context};

use crate::config::Config;
use crate::display::canvas::Canvas;
use crate::display::text::{draw_line, width, Fonts, Style};
use crate::eval::{embed_many, FacePolicy};
use crate::gallery::audit::{self, Audit, AuditSettings, Covered, Query, DOMINANT, LIKELY_HUB, RARE};
use crate::gallery::matcher::Settings;
use crate::gallery::variety::VarietySettings;
use crate::gallery::Gallery;
use crate::vision::embed::FaceCode;

/// What `gallery audit` was asked to do.
pub struct AuditOptions {
    pub dir: PathBuf,
    /// Folder of face photos standing in for visitors (None: leave-one-out on the gallery).
    pub reference: Option<PathBuf>,
    /// Replicated border added before detection (tight crops such as UTKFace need 50).
    pub pad: u32,
    /// Take the matcher settings from this booth config instead of the command line.
    pub config: Option<PathBuf>,
    pub png: Option<PathBuf>,
    pub jobs: usize,
    pub json: bool,
    /// Do not simulate the booth's variety policy.
    pub no_variety: bool,
    /// Variety's margin (None: the config's, or the default).
    pub variety_margin: Option<f32>,
    /// Shuffled orders the reference faces are met in.
    pub seeds: usize,
}

/// What `gallery check` and `gallery build` say about hub photos: the photos alone do not tell
/// (measured: no photo measure predicts it, see `docs/matching-exposure.md`), so they point to
/// the audit with a reference folder.
pub fn exposure_note(dir: &Path) -> String {
    format!(
        "  exposure: which photos the booth would show too often (hubs) cannot be told from the photos themselves \
         (sharpness, pose, light, size and colour do not predict it); run `rolemirror gallery audit {} --reference FOLDER` \
         with faces like your visitors (5 or more per role model) to see likely hubs and what to do about them",
        dir.display()
    )
}

/// Fewer reference faces per role model than this and the shares are rough.
const FACES_PER_ROLE_MODEL: usize = 5;
/// Deepest folder level searched for reference photos.
const MAX_DEPTH: usize = 4;

/// Image files under `dir` (jpg, jpeg, png; hidden entries skipped; links followed), sorted.
pub fn image_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            // Links are followed (a folder of links to photos elsewhere); the depth limit stops loops.
            let kind = match entry.file_type()? {
                k if k.is_symlink() => match std::fs::metadata(entry.path()) {
                    Ok(m) => m.file_type(),
                    Err(_) => continue,
                },
                k => k,
            };
            let lower = name.to_ascii_lowercase();
            if kind.is_dir() && depth < MAX_DEPTH {
                walk(&entry.path(), depth + 1, out)?;
            } else if kind.is_file() && [".jpg", ".jpeg", ".png"].iter().any(|e| lower.ends_with(e)) {
                out.push(entry.path());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, 1, &mut out)?;
    out.sort();
    Ok(out)
}

/// Runs the audit, simulating the booth's variety policy over `seeds` shuffled orders (the
/// config's, with `--config`). Exit 0 when it ran (the audit informs, it does not pass or fail),
/// 3 when the gallery, reference folder, config or fonts cannot be used.
pub fn run(common: &Common, opts: &AuditOptions, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let (settings, mut variety) = match &opts.config {
        Some(path) => {
            let g = Config::load(path)?.gallery;
            (g.matching, g.variety)
        }
        None => (common.matching, VarietySettings::default()),
    };
    variety.enabled &= !opts.no_variety;
    if let Some(m) = opts.variety_margin {
        variety.margin = m;
    }
    let extra = AuditSettings { variety, seeds: opts.seeds.max(1) };
    let display = Config::default().display;
    let fonts = match &opts.png {
        Some(_) => Some(Fonts::load(&display.font, &display.font_bold).context("the fonts (needed for --png)")?),
        None => None,
    };
    let vision = common.vision()?;
    let gallery = Gallery::open(&opts.dir, &vision.embedder_id)?.with_settings(settings);
    let (embeddings, source, without_face) = match &opts.reference {
        Some(dir) => {
            let files = image_files(dir).with_context(|| dir.display().to_string())?;
            if files.is_empty() {
                bail!("{}: no .jpg, .jpeg or .png files", dir.display());
            }
            let bar = crate::util::Progress::new(files.len() as u64, "embedding", opts.json);
            let found = embed_many(&vision, &files, FacePolicy::Largest, opts.pad, opts.jobs, &bar);
            bar.finish();
            let without = found.iter().filter(|e| e.is_none()).count();
            let faces: Vec<(FaceCode, Option<usize>)> = found.into_iter().flatten().map(|e| (e, None)).collect();
            (faces, format!("{} photos in {}", files.len(), dir.display()), without)
        }
        None => {
            let faces = gallery
                .index
                .photos
                .iter()
                .filter_map(|p| {
                    let own = gallery.role_models.iter().position(|r| r.id == p.role_model)?;
                    Some((FaceCode { identity: p.embedding.clone(), appearance: p.appearance.clone() }, Some(own)))
                })
                .collect();
            (faces, "the gallery's own photos, each matched against the other role models (pass --reference DIR for a population like your visitors)".to_string(), 0)
        }
    };
    let queries: Vec<Query> = embeddings.iter().map(|(e, x)| Query { face: e, exclude: *x }).collect();
    let result = audit::audit_with(&gallery, &queries, &extra);
    if let (Some(path), Some(fonts)) = (&opts.png, &fonts) {
        let canvas = chart(&result, &opts.dir, settings, fonts);
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgb8(canvas.to_image()).write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)?;
        crate::util::write_atomic(path, &bytes).with_context(|| path.display().to_string())?;
    }
    if opts.json {
        let mut v = serde_json::to_value(&result)?;
        v["reference"] = source.into();
        v["reference_without_face"] = without_face.into();
        v["matcher"] = serde_json::to_value(settings.mode)?;
        v["gender_cue"] = settings.gender_cue.into();
        v["variety_enabled"] = extra.variety.enabled.into();
        v["variety_margin"] = extra.variety.margin.into();
        writeln!(out, "{v}")?;
        return Ok(ExitCode::Ok);
    }
    write_text(out, &result, &opts.dir, &source, without_face, settings)?;
    write_groups_and_hubs(out, &result, opts.reference.is_some())?;
    if let Some(path) = &opts.png {
        writeln!(out, "chart: {}", path.display())?;
    }
    Ok(ExitCode::Ok)
}

fn pct(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

fn write_text(out: &mut impl Write, a: &Audit, dir: &Path, source: &str, without_face: usize, s: Settings) -> std::io::Result<()> {
    writeln!(out, "gallery {}: {} role models; matcher {}, gender cue {}", dir.display(), a.role_models, s.mode.name(), s.gender_cue)?;
    writeln!(
        out,
        "reference: {source}; {} faces matched{}",
        a.faces,
        if without_face > 0 { format!(", {without_face} without a face") } else { String::new() }
    )?;
    if a.faces < FACES_PER_ROLE_MODEL * a.role_models {
        writeln!(out, "  note: fewer than {FACES_PER_ROLE_MODEL} reference faces per role model, so the shares below are rough")?;
    }
    writeln!(out, "\nexposure (each role model's share of the faces over the mean share 1/{}):", a.role_models)?;
    writeln!(out, "  most shown / mean {:.2} (goal at most {DOMINANT:.1})", a.max_share_over_mean)?;
    let never = a.exposure.iter().filter(|e| e.state == "never").count();
    writeln!(
        out,
        "  never shown {never} ({}), rarely (under {RARE} x mean) {}, dominant (over {DOMINANT} x mean) {}",
        pct(a.never_shown),
        a.rare,
        a.dominant
    )?;
    writeln!(
        out,
        "  by chance alone, a perfectly even matcher would show {:.2} and {} never shown with {} faces",
        a.chance_max_share_over_mean,
        pct(a.chance_never_shown),
        a.faces
    )?;
    for (state, title) in [("dominant", "dominant"), ("never", "never shown"), ("rare", "rarely shown")] {
        let list: Vec<String> = a
            .exposure
            .iter()
            .filter(|e| e.state == state)
            .map(|e| if state == "never" { e.id.clone() } else { format!("{} x{:.1}", e.id, e.share_over_mean) })
            .collect();
        if !list.is_empty() {
            writeln!(out, "  {title}: {}", list.join(", "))?;
        }
    }
    let c = &a.coverage;
    writeln!(out, "\ncoverage (self-declared, with consent; {} of {} role models declared):", c.declared, a.role_models)?;
    if c.declared == 0 {
        writeln!(out, "  nothing declared: add [role_model.declared] (consent = true, gender, group, tags) to gallery.toml to see whom the gallery covers")?;
    }
    for (title, map) in [("gender", &c.gender), ("group", &c.group), ("gender / group", &c.gender_group), ("tags", &c.tags)] {
        if map.is_empty() {
            continue;
        }
        writeln!(out, "  {title}: role models, share of gallery, share of matches")?;
        for (value, cv) in map {
            writeln!(out, "    {value:<32} {:>3}  {:>7}  {:>7}", cv.role_models, pct(cv.gallery_share), pct(cv.match_share))?;
        }
    }
    if c.declared > 0 {
        writeln!(out, "  not declared: {}", c.undeclared)?;
    }
    for t in &c.thin {
        writeln!(out, "  thin: {t}")?;
    }
    Ok(())
}

fn spread(s: &audit::Spread, digits: usize) -> String {
    format!("{:.*}±{:.*}", digits, s.mean, digits, s.sd)
}

/// The within-group table, the variety simulation and the likely hubs, with what to do.
fn write_groups_and_hubs(out: &mut impl Write, a: &Audit, reference: bool) -> std::io::Result<()> {
    if let Some(v) = &a.variety {
        writeln!(
            out,
            "\nwith the booth's variety policy (margin {} points; the reference faces met in {} shuffled orders, mean±sd):",
            v.margin_points, v.seeds
        )?;
        writeln!(
            out,
            "  most shown / mean {}, never shown {} %, worst declared group {}",
            spread(&v.max_share_over_mean, 2),
            spread(&audit::Spread { mean: v.never_shown.mean * 100.0, sd: v.never_shown.sd * 100.0 }, 1),
            spread(&v.worst_group_max_over_mean, 2)
        )?;
        writeln!(out, "  the main match was another look-alike than the best by score for {} of the faces ({:.1} look-alike points lower on median); the best stays on the card", pct(v.replaced), v.points_lost_median)?;
    }
    if !a.groups.is_empty() {
        writeln!(out, "\nexposure within declared groups (the group's most-shown role model over the group's mean; chance: a perfectly even matcher with that many matches):")?;
        let variety = a.variety.is_some();
        writeln!(
            out,
            "  {:<30} {:>3} {:>7} {:>6}  {:<24} {:>5} {:>4} {:>6}{}",
            "declared",
            "rm",
            "matches",
            "per rm",
            "most shown / mean",
            "never",
            "rare",
            "chance",
            if variety { "   with variety: most shown / mean, never" } else { "" }
        )?;
        for g in &a.groups {
            let label = if g.kind == "gender / group" { g.value.clone() } else { format!("{}: {}", g.kind, g.value) };
            let with =
                g.with_variety.as_ref().map(|w| format!("   {}, {}", spread(&w.max_over_mean, 2), spread(&w.never, 1))).unwrap_or_default();
            writeln!(
                out,
                "  {label:<30} {:>3} {:>7} {:>6.1}  {:<24} {:>5} {:>4} {:>6.2}{with}",
                g.role_models,
                g.matches,
                g.expected_per_role_model,
                format!("{:.2} ({})", g.max_over_mean, g.most_shown),
                g.never,
                g.rare,
                g.chance_max_over_mean
            )?;
        }
    }
    let hubs: Vec<String> = a
        .exposure
        .iter()
        .filter(|e| e.likely_hub)
        .map(|e| {
            format!("{} x{:.1}{}", e.id, e.expected_share_over_peer_mean, e.peers.as_ref().map(|p| format!(" ({p})")).unwrap_or_default())
        })
        .collect();
    writeln!(
        out,
        "\nlikely hubs (expected share at least {LIKELY_HUB} x the mean of the role models who declared the same{}):",
        if reference { "" } else { "; from the gallery's own photos this is a weak hint" }
    )?;
    if hubs.is_empty() {
        writeln!(out, "  none")?;
    } else {
        writeln!(out, "  {}", hubs.join(", "))?;
        writeln!(out, "  what to do: try another photo of the person (a hub's pull is about half the photo, half the face), rebuild, and audit again;")?;
        writeln!(out, "  no photo measure (sharpness, pose, light, size, colour) predicts it, so any good photo is worth a try (docs/matching-exposure.md).")?;
        writeln!(out, "  If a new photo is a hub too, keep the variety policy on, and add role models to that declared group.")?;
    }
    Ok(())
}

const WHITE: Rgb888 = Rgb888::new(255, 255, 255);
const INK: Rgb888 = Rgb888::new(30, 30, 30);
const GRID: Rgb888 = Rgb888::new(215, 215, 215);
const EVEN: Rgb888 = Rgb888::new(52, 101, 164);
const RARE_C: Rgb888 = Rgb888::new(230, 159, 0);
const DOM: Rgb888 = Rgb888::new(204, 51, 51);
const GALLERY_C: Rgb888 = Rgb888::new(160, 160, 160);
const VARIETY_C: Rgb888 = Rgb888::new(0, 140, 100);

/// Chart width and height in pixels.
pub const CHART_SIZE: (u32, u32) = (1200, 1320);

fn rect(c: &mut Canvas, x: i32, y: i32, w: u32, h: u32, color: Rgb888) {
    let _ = Rectangle::new(Point::new(x, y), Size::new(w, h)).into_styled(PrimitiveStyle::with_fill(color)).draw(c);
}

fn hline(c: &mut Canvas, x0: i32, x1: i32, y: i32, color: Rgb888, dashed: bool) {
    let step = if dashed { 12 } else { x1 - x0 };
    let mut x = x0;
    while x < x1 {
        let end = if dashed { (x + 7).min(x1) } else { x1 };
        let _ = Line::new(Point::new(x, y), Point::new(end, y)).into_styled(PrimitiveStyle::with_stroke(color, 2)).draw(c);
        x += step.max(1);
    }
}

/// The audit as a chart: exposure bars per role model (top), declared coverage (middle) and
/// exposure within declared groups, with and without the variety policy (bottom).
pub fn chart(a: &Audit, dir: &Path, s: Settings, fonts: &Fonts) -> Canvas {
    let (w, h) = CHART_SIZE;
    let mut c = Canvas::new(w, h);
    rect(&mut c, 0, 0, w, h, WHITE);
    groups_panel(&mut c, a, fonts, 980);
    let text = |c: &mut Canvas, bold: bool, px: f32, color: Rgb888, t: &str, x: i32, y: i32| {
        let style = Style { font: if bold { &fonts.bold } else { &fonts.regular }, px, color, background: WHITE };
        draw_line(c, &style, t, x, y)
    };
    text(&mut c, true, 26.0, INK, &format!("Gallery audit: {}", dir.display()), 40, 44);
    text(
        &mut c,
        false,
        17.0,
        INK,
        &format!("{} role models, {} reference faces; matcher {}, gender cue {}", a.role_models, a.faces, s.mode.name(), s.gender_cue),
        40,
        72,
    );

    // Exposure: one bar per role model, most shown first.
    let (left, right, top, base) = (90i32, w as i32 - 40, 130i32, 450i32);
    text(&mut c, true, 19.0, INK, "How often each role model would be shown (share / mean share), most shown first", 40, 112);
    let ymax = a.max_share_over_mean.max(DOMINANT + 0.5).ceil();
    let y_of = |v: f64| base - ((v / ymax) * f64::from(base - top)).round() as i32;
    let mut tick = 0.0;
    while tick <= ymax + 1e-9 {
        let y = y_of(tick);
        hline(&mut c, left, right, y, GRID, false);
        let label = format!("{tick:.0}x");
        text(&mut c, false, 14.0, INK, &label, left - 10 - width(&fonts.regular, 14.0, &label).round() as i32, y + 5);
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
            rect(&mut c, x0, base + 3, bw, 8, color);
        } else {
            let y = y_of(e.share_over_mean);
            rect(&mut c, x0, y, bw, (base - y).max(1) as u32, color);
        }
        // Ids under the bars when there is room (small galleries); the text output names all.
        if slot >= 40.0 {
            let mut id = e.id.clone();
            while width(&fonts.regular, 12.0, &id) > bw as f32 && id.pop().is_some() {}
            text(&mut c, false, 12.0, INK, &id, x0, base + 26);
        }
    }
    hline(&mut c, left, right, y_of(1.0), INK, false);
    hline(&mut c, left, right, y_of(DOMINANT), DOM, true);
    text(&mut c, false, 14.0, INK, "mean", right - 40, y_of(1.0) - 6);
    text(&mut c, false, 14.0, DOM, "dominant above", right - 110, y_of(DOMINANT) - 6);
    let never = a.exposure.iter().filter(|e| e.state == "never").count();
    let mut x = 40;
    for (color, label) in [
        (EVEN, "even".to_string()),
        (DOM, format!("dominant ({}), and never shown ({never}, marks under the axis)", a.dominant)),
        (RARE_C, format!("rarely shown ({})", a.rare)),
    ] {
        rect(&mut c, x, 498, 16, 16, color);
        x += 24 + text(&mut c, false, 16.0, INK, &label, x + 22, 512).round() as i32 + 24;
    }
    let summary = format!("Most shown {:.1}x the mean share; never shown {}.", a.max_share_over_mean, pct(a.never_shown));
    text(&mut c, false, 16.0, INK, &summary, 40, 542);
    let chance = format!(
        "By chance alone, a perfectly even matcher would show {:.1}x and leave {} never shown with {} faces.",
        a.chance_max_share_over_mean,
        pct(a.chance_never_shown),
        a.faces
    );
    text(&mut c, false, 16.0, INK, &chance, 40, 564);

    // Coverage from declared fields.
    let cov = &a.coverage;
    text(
        &mut c,
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
        text(&mut c, false, 17.0, INK, "Nothing declared: add [role_model.declared] with consent = true to gallery.toml.", 40, 646);
        return c;
    }
    let _ = h;
    rect(&mut c, 40, 624, 16, 12, GALLERY_C);
    let lw = text(&mut c, false, 15.0, INK, "share of the gallery", 62, 636).round() as i32;
    rect(&mut c, 62 + lw + 24, 624, 16, 12, EVEN);
    text(&mut c, false, 15.0, INK, "share of the matches", 62 + lw + 46, 636);
    let (label_w, bar_left, bar_right) = (330, 380i32, w as i32 - 110);
    let max_share = rows.iter().map(|(_, v)| v.gallery_share.max(v.match_share)).fold(0.0f64, f64::max).max(0.05);
    let fits = 11usize;
    for (i, (label, v)) in rows.iter().take(fits).enumerate() {
        let y = 652 + i as i32 * 26;
        let mut l = label.clone();
        while width(&fonts.regular, 15.0, &l) > label_w as f32 && l.pop().is_some() {}
        text(&mut c, false, 15.0, INK, &l, 40, y + 16);
        for (j, (share, color)) in [(v.gallery_share, GALLERY_C), (v.match_share, EVEN)].into_iter().enumerate() {
            let bw = ((share / max_share) * f64::from(bar_right - bar_left)).round().max(1.0) as u32;
            let by = y + 2 + j as i32 * 10;
            rect(&mut c, bar_left, by, bw, 9, color);
            text(&mut c, false, 12.0, INK, &pct(share), bar_left + bw as i32 + 6, by + 9);
        }
    }
    if rows.len() > fits {
        text(&mut c, false, 15.0, INK, &format!("... {} more in the text output", rows.len() - fits), 40, 652 + fits as i32 * 26 + 16);
    }
    c
}

/// Within-group exposure: per declared gender / group (else gender and group), the most-shown
/// role model over the group's mean, plain (blue) and with the variety policy (green), with the
/// chance level (black tick) and the dominant line.
fn groups_panel(c: &mut Canvas, a: &Audit, fonts: &Fonts, top: i32) {
    let text = |c: &mut Canvas, bold: bool, px: f32, color: Rgb888, t: &str, x: i32, y: i32| {
        let style = Style { font: if bold { &fonts.bold } else { &fonts.regular }, px, color, background: WHITE };
        draw_line(c, &style, t, x, y)
    };
    let pairs = a.groups.iter().any(|g| g.kind == "gender / group");
    let rows: Vec<&audit::GroupExposure> =
        a.groups.iter().filter(|g| g.role_models >= 2 && (g.kind == "gender / group" || !pairs)).take(10).collect();
    text(c, true, 19.0, INK, "Within each declared group: the most-shown role model over the group's mean", 40, top);
    if rows.is_empty() {
        text(c, false, 17.0, INK, "No declared group with two or more role models.", 40, top + 36);
        return;
    }
    let (label_w, left, right) = (300, 360i32, CHART_SIZE.0 as i32 - 120);
    let xmax = rows
        .iter()
        .map(|g| g.max_over_mean.max(g.with_variety.as_ref().map_or(0.0, |v| v.max_over_mean.mean)))
        .fold(DOMINANT + 1.0, f64::max)
        .ceil();
    let x_of = |v: f64| left + ((v / xmax) * f64::from(right - left)).round() as i32;
    let mut x = 40;
    for (color, label) in [(EVEN, "plain ranking"), (VARIETY_C, "with the variety policy (mean over orders)"), (INK, "| chance level")] {
        rect(c, x, top + 14, 16, 12, color);
        x += 24 + text(c, false, 15.0, INK, label, x + 22, top + 26).round() as i32 + 20;
    }
    for (i, g) in rows.iter().enumerate() {
        let y = top + 44 + i as i32 * 28;
        let mut l = format!("{} ({} rm, {} matches)", g.value, g.role_models, g.matches);
        while width(&fonts.regular, 14.0, &l) > label_w as f32 && l.pop().is_some() {}
        text(c, false, 14.0, INK, &l, 40, y + 16);
        let bars = [(Some(g.max_over_mean), EVEN), (g.with_variety.as_ref().map(|v| v.max_over_mean.mean), VARIETY_C)];
        for (j, (v, color)) in bars.into_iter().enumerate() {
            let Some(v) = v else { continue };
            let by = y + 2 + j as i32 * 11;
            rect(c, left, by, (x_of(v) - left).max(1) as u32, 10, color);
            text(c, false, 11.0, INK, &format!("{v:.2}"), x_of(v) + 5, by + 9);
        }
        let cx = x_of(g.chance_max_over_mean);
        rect(c, cx - 1, y, 3, 24, INK);
    }
    let bottom = top + 44 + rows.len() as i32 * 28;
    let dx = x_of(DOMINANT);
    let mut y = top + 36;
    while y < bottom {
        rect(c, dx - 1, y, 2, 6, DOM);
        y += 10;
    }
    text(c, false, 13.0, DOM, &format!("{DOMINANT:.0}x"), dx - 8, bottom + 14);
}
