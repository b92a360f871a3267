//! `rolemirror eval pairs` and `rolemirror eval relatability`.

use std::io::Write;
use std::path::Path;

use super::{Common, ExitCode};
use crate::eval;

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
    let r = eval::eval_pairs(&vision, pairs, tune, root, jobs)?;
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

/// `eval relatability --utk DIR [--json]`.
pub fn relatability(common: &Common, utk: &Path, jobs: usize, json: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let vision = common.vision()?;
    let r = eval::eval_relatability(&vision, utk, jobs, common.matching)?;
    if json {
        writeln!(out, "{}", serde_json::to_string(&r)?)?;
        return Ok(ExitCode::Ok);
    }
    let pct = |v: f64| format!("{:.1} %", v * 100.0);
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
    writeln!(out, "  top role model has the visitor's perceived gender  {}", pct(r.gender))?;
    writeln!(out, "  ... the visitor's ethnicity group                  {}", pct(r.group))?;
    writeln!(out, "  ... both                                           {}", pct(r.both))?;
    writeln!(out, "  both, somewhere in the top 3                       {}", pct(r.top3_both))?;
    writeln!(out, "  worst group, both                                  {} ({})", pct(r.worst_group_both), r.worst_group)?;
    writeln!(out, "  most-shown role model's share / mean share         {:.2}", r.max_share_over_mean)?;
    writeln!(out, "  role models never shown                            {}", pct(r.never_shown))?;
    writeln!(
        out,
        "  (a perfectly even matcher, by chance alone: share {:.2}, never shown {})",
        r.chance_max_share_over_mean,
        pct(r.chance_never_shown)
    )?;
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
    Ok(ExitCode::Ok)
}
