//! `rolemirror eval pairs` and `rolemirror eval relatability`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::{Common, ExitCode};
use crate::display::text::Fonts;
use crate::eval;
use crate::gallery::audit::{GroupExposure, Spread};

/// `eval pairs --pairs FILE [--tune FILE] --root DIR [--json]`.
pub fn pairs(
    common: &Common,
    pairs: &Path,
    tune: Option<&Path>,
    root: &Path,
    jobs: usize,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let vision = common.vision()?;
    let r = eval::eval_pairs(&vision, pairs, tune, root, jobs, json)?;
    if json {
        writeln!(out, "{}", serde_json::to_string(&r)?)?;
    } else {
        writeln!(
            out,
            "{}: {} pairs, accuracy {:.2} % at cosine threshold {:.3} ({}); {} images without a face; embedder {}",
            pairs.display(),
            r.pairs,
            r.accuracy * 100.0,
            r.threshold,
            r.protocol,
            r.images_without_face,
            r.embedder
        )?;
    }
    Ok(ExitCode::Ok)
}

/// `eval relatability --utk DIR [--json] [--png FILE] …`: the protocol, the variety policy over
/// shuffled visitor orders and the large population (`opts`), and optionally the large
/// population's audit chart (or the visitors', without the population) as a PNG file.
pub fn relatability(
    common: &Common,
    utk: &Path,
    jobs: usize,
    json: bool,
    png: Option<&Path>,
    opts: &eval::RelatabilityOptions,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let fonts = match png {
        Some(_) => {
            let d = crate::config::Config::default().display;
            Some(Fonts::load(&d.font, &d.font_bold).context("the fonts (needed for the chart)")?)
        }
        None => None,
    };
    let vision = common.vision()?;
    let r = eval::eval_relatability_with(&vision, utk, jobs, common.matching, opts)?;
    if let (Some(path), Some(fonts)) = (png, &fonts) {
        write_chart(&r, utk, common, fonts, path).with_context(|| path.display().to_string())?;
    }
    if json {
        writeln!(out, "{}", serde_json::to_string(&r)?)?;
        return Ok(ExitCode::Ok);
    }
    write_text(out, &r, utk)?;
    if let Some(path) = png {
        writeln!(out, "chart: {}", path.display())?;
    }
    Ok(ExitCode::Ok)
}

/// The population's audit chart (the protocol visitors' when there is no population).
fn write_chart(r: &eval::RelatabilityReport, utk: &Path, common: &Common, fonts: &Fonts, path: &Path) -> anyhow::Result<()> {
    let Some(pop) = &r.population else {
        anyhow::bail!("the chart draws the large population's exposure: run with the population");
    };
    let canvas = crate::chart::audit::draw(&pop.audit, utk, common.matching, fonts);
    crate::util::image::write_png(path, &canvas.to_image())?;
    Ok(())
}

fn write_text(out: &mut impl Write, r: &eval::RelatabilityReport, utk: &Path) -> std::io::Result<()> {
    let pct = |v: f64| format!("{:.1} %", v * 100.0);
    let spct = |s: &Spread| format!("{:.1}±{:.1} %", s.mean * 100.0, s.sd * 100.0);
    writeln!(
        out,
        "relatability on {} ({} role models, {} visitors, {} without a face), embedder {}, matcher {}, gender cue {}",
        utk.display(),
        r.role_models,
        r.visitors,
        r.visitors_without_face,
        r.embedder,
        r.matcher.name(),
        r.gender_cue
    )?;
    let v = r.variety.as_ref();
    let col = |f: &dyn Fn(&eval::VarietyRelatability) -> String| v.map(|v| format!("   with variety {}", f(v))).unwrap_or_default();
    writeln!(out, "  top role model has the visitor's perceived gender  {}{}", pct(r.gender), col(&|v| spct(&v.gender)))?;
    writeln!(out, "  ... the visitor's ethnicity group                  {}{}", pct(r.group), col(&|v| spct(&v.group)))?;
    writeln!(out, "  ... both                                           {}{}", pct(r.both), col(&|v| spct(&v.both)))?;
    writeln!(out, "  both, somewhere in the top 3                       {}{}", pct(r.top3_both), col(&|v| spct(&v.top3_both)))?;
    writeln!(
        out,
        "  worst group, both                                  {} ({}){}",
        pct(r.worst_group_both),
        r.worst_group,
        col(&|v| spct(&v.worst_group_both))
    )?;
    writeln!(
        out,
        "  most-shown role model's share / mean share         {:.2}{}",
        r.max_share_over_mean,
        col(&|v| format!("{:.2}±{:.2}", v.max_share_over_mean.mean, v.max_share_over_mean.sd))
    )?;
    writeln!(out, "  role models never shown                            {}{}", pct(r.never_shown), col(&|v| spct(&v.never_shown)))?;
    writeln!(
        out,
        "  (a perfectly even matcher, by chance alone: share {:.2}, never shown {})",
        r.chance_max_share_over_mean,
        pct(r.chance_never_shown)
    )?;
    if let Some(v) = v {
        writeln!(
            out,
            "  (variety: the booth's policy, margin {} points, visitors met in {} shuffled orders, mean±sd)",
            v.margin_points, v.seeds
        )?;
    }
    let l = &r.likeness;
    let sims = |t: &[f32]| t.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>().join(" / ");
    let shares = |s: &[f64; 4]| s.iter().map(|v| pct(*v)).collect::<Vec<_>>().join(" / ");
    writeln!(
        out,
        "  best-match similarity of the {} visitors (kind words' calibration): {}",
        l.visitors,
        l.quantiles.iter().map(|(q, v)| format!("q{:.0} {v:.4}", q * 100.0)).collect::<Vec<_>>().join(", ")
    )?;
    writeln!(out, "    word thresholds calibrated {}, built in {}", sims(&l.calibrated), sims(&l.built_in))?;
    if l.held_out > 0 {
        writeln!(
            out,
            "    held out ({} more adults): words weakest first {} (calibrated), {} (built in)",
            l.held_out,
            shares(&l.held_out_shares),
            shares(&l.held_out_shares_built_in)
        )?;
    }
    writeln!(out, "  per group: visitors, gender, group, both, top-3 both")?;
    for (g, s) in &r.per_group {
        writeln!(
            out,
            "    {g:<14} {:>3}  {:>7} {:>7} {:>7} {:>7}",
            s.visitors,
            pct(s.gender),
            pct(s.group),
            pct(s.both),
            pct(s.top3_both)
        )?;
    }
    writeln!(
        out,
        "  within declared groups ({} visitors): the group's most-shown role model over its mean, worst {:.2}",
        r.visitors, r.worst_within_group_max_over_mean
    )?;
    write_groups(out, &r.within_group)?;
    if let Some(p) = &r.population {
        let a = &p.audit;
        writeln!(
            out,
            "large population: every adult face (18-60, race 0-3) not in the gallery, {} matched ({} without a face)",
            a.faces, p.faces_without_face
        )?;
        let with = a.variety.as_ref().map(|v| {
            format!(
                "; with variety {:.2}±{:.2}, never {:.1}±{:.1} %, worst group {:.2}±{:.2}",
                v.max_share_over_mean.mean,
                v.max_share_over_mean.sd,
                v.never_shown.mean * 100.0,
                v.never_shown.sd * 100.0,
                v.worst_group_max_over_mean.mean,
                v.worst_group_max_over_mean.sd
            )
        });
        writeln!(
            out,
            "  most shown / mean {:.2} (chance {:.2}), never shown {}, worst group {:.2}{}",
            a.max_share_over_mean,
            a.chance_max_share_over_mean,
            pct(a.never_shown),
            a.worst_group_max_over_mean,
            with.unwrap_or_default()
        )?;
        writeln!(
            out,
            "  never shown in gender / groups with 5 or more matches per role model: {}{}",
            p.never_in_groups_with_5_expected,
            p.never_in_groups_with_5_expected_with_variety.map(|v| format!("; with variety {v:.1}")).unwrap_or_default()
        )?;
        write_groups(out, &a.groups)?;
    }
    Ok(())
}

fn write_groups(out: &mut impl Write, groups: &[GroupExposure]) -> std::io::Result<()> {
    writeln!(
        out,
        "    {:<16} {:>7} {:>6}  {:<20} {:>5} {:>6}   with variety",
        "gender / group", "matches", "per rm", "most shown / mean", "never", "chance"
    )?;
    for g in groups.iter().filter(|g| g.kind == "gender / group") {
        let with = g
            .with_variety
            .as_ref()
            .map(|w| format!("   {:.2}±{:.2}, never {:.1}", w.max_over_mean.mean, w.max_over_mean.sd, w.never.mean))
            .unwrap_or_default();
        writeln!(
            out,
            "    {:<16} {:>7} {:>6.1}  {:<20} {:>5} {:>6.2}{with}",
            g.value,
            g.matches,
            g.expected_per_role_model,
            format!("{:.2} ({})", g.max_over_mean, g.most_shown),
            g.never,
            g.chance_max_over_mean
        )?;
    }
    Ok(())
}
