//! `rolemirror gallery audit DIR [--reference DIR] [--png FILE] [--json]`: exposure and coverage
//! of a gallery (see [`crate::gallery::audit`]), as text, JSON and a PNG chart
//! ([`crate::chart::audit`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Common, ExitCode};
use anyhow::{bail, Context};

use crate::config::Config;
use crate::display::text::Fonts;
use crate::eval::{embed_many, FacePolicy};
use crate::gallery::audit::{self, Audit, AuditSettings, Query, DOMINANT, LIKELY_HUB, RARE};
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
        let canvas = crate::chart::audit::draw(&result, &opts.dir, settings, fonts);
        crate::util::image::write_png(path, &canvas.to_image()).with_context(|| path.display().to_string())?;
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
