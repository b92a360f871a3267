//! `rolemirror gallery import DIR --csv FILE [--json]` and `rolemirror gallery new DIR`.

use std::io::Write;
use std::path::Path;

use super::ExitCode;
use crate::gallery::csv_import;
use crate::gallery::manifest::MANIFEST_FILE;

fn list(out: &mut impl Write, what: &str, ids: &[String]) -> std::io::Result<()> {
    if !ids.is_empty() {
        writeln!(out, "  {what}: {}", ids.join(", "))?;
    }
    Ok(())
}

/// Imports the CSV into the gallery: exit 0 when written (or already up to date), 3 with every
/// problem listed (by row and column) and nothing written.
pub fn import(dir: &Path, csv: &Path, json: bool, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let mut progress = crate::util::progress::callback("reading rows", json);
    let (plan, written) = csv_import::import(dir, csv, &mut progress)?;
    let toml = dir.join(MANIFEST_FILE);
    let code = if plan.problems.is_empty() { ExitCode::Ok } else { ExitCode::Setup };
    if json {
        let mut v = serde_json::to_value(&plan)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("csv".into(), csv.display().to_string().into());
            o.insert("gallery".into(), toml.display().to_string().into());
            o.insert("ok".into(), plan.problems.is_empty().into());
            o.insert("written".into(), written.into());
        }
        writeln!(out, "{v}")?;
        return Ok(code);
    }
    if !plan.problems.is_empty() {
        return Ok(super::print_problems(
            out,
            &csv.display().to_string(),
            &format!(", nothing written to {}", toml.display()),
            &plan.problems,
        )?);
    }
    let blank = match plan.blank_rows {
        0 => String::new(),
        n => format!(", {n} blank row(s) skipped"),
    };
    writeln!(
        out,
        "{}: {} row(s), separator {:?}, UTF-8{}{blank}",
        csv.display(),
        plan.rows,
        plan.separator,
        if plan.bom { " with BOM" } else { "" }
    )?;
    let counts =
        format!("{} added, {} updated, {} unchanged, {} kept", plan.added.len(), plan.updated.len(), plan.unchanged.len(), plan.kept.len());
    if written {
        writeln!(out, "{}: written ({counts})", toml.display())?;
    } else {
        writeln!(out, "{}: already up to date, nothing written ({counts})", toml.display())?;
    }
    list(out, "added", &plan.added)?;
    list(out, "updated", &plan.updated)?;
    list(out, "kept (in gallery.toml, not in the CSV; delete their [[role_model]] blocks there to remove them)", &plan.kept)?;
    writeln!(out, "next: rolemirror gallery build {}", dir.display())?;
    Ok(code)
}

/// Writes the templates; refuses (exit 3, nothing written) when either file exists.
pub fn new(dir: &Path, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let files = csv_import::write_templates(dir)?;
    for f in &files {
        writeln!(out, "wrote {}", f.display())?;
    }
    writeln!(
        out,
        "next: fill in {} (one row per role model), save it as CSV, put the photos in {}, then run `rolemirror gallery import {} --csv {}`",
        csv_import::TEMPLATE_CSV_FILE,
        dir.display(),
        dir.display(),
        dir.join(csv_import::TEMPLATE_CSV_FILE).display()
    )?;
    Ok(ExitCode::Ok)
}
