//! `rolemirror gallery import DIR --csv FILE`: role models from a spreadsheet's CSV export into
//! `DIR/gallery.toml`, and the templates of `rolemirror gallery new DIR`.
//!
//! The CSV has a header row naming its columns (any order, matched case-insensitively; spaces,
//! `-`, `_` and `.` are the same): `id`, `name`, `role`, `story_url` and `photos` are required;
//! `branch`, `quote` and the consented declarations `consent`, `gender`, `group` and `tags` are
//! optional. Several photos (or tags) share one cell, separated by `;`. A column whose header
//! starts with `#` is ignored (notes). The separator (`,`, `;` or tab) is taken from the header
//! row; UTF-8 with or without a BOM; quoted cells may hold separators, newlines and doubled quotes.
//!
//! Every problem is collected with its row and column before anything is written: what the CSV
//! format itself gets wrong (encoding, cells, columns, a repeated id) is checked here; what makes
//! a role model unusable is [`GalleryManifest::validate`]'s (the rules of `gallery check`), run
//! on the gallery as it would be written and mapped back to the row and column it came from.
//!
//! Updating: a row whose id is in `gallery.toml` replaces that role model (in place; optional
//! columns the CSV does not have keep their old values); new ids are appended; role models in
//! `gallery.toml` but not in the CSV are kept and listed, never silently deleted.

mod columns;
mod read;
mod role_model;
mod templates;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::manifest::{GalleryManifest, RoleModel, MANIFEST_FILE};
use columns::read_header;
pub use columns::{column_letter, normalize_header, Field};
use role_model::{manifest_problem, role_model};
pub use templates::{write_templates, TEMPLATE_CSV, TEMPLATE_CSV_FILE, TEMPLATE_TOML};

/// Largest CSV accepted (a gallery of a thousand role models is ~0.5 MB).
pub const MAX_CSV_BYTES: usize = 4 << 20;

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    /// Spreadsheet row (the header is row 1), when the problem is in a row.
    pub row: Option<usize>,
    /// Line of the file where that row starts, when it differs from the row (blank lines, cells
    /// with newlines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Spreadsheet column letter.
    pub column: Option<String>,
    /// That column's header as written in the file.
    pub header: Option<String>,
    pub message: String,
}

impl Problem {
    fn file(message: String) -> Problem {
        Problem { row: None, line: None, column: None, header: None, message }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = Vec::new();
        if let Some(row) = self.row {
            place.push(match self.line {
                Some(line) => format!("row {row} (line {line})"),
                None => format!("row {row}"),
            });
        }
        if let Some(col) = &self.column {
            place.push(match &self.header {
                Some(h) if !h.trim().is_empty() => format!("column {col} ({})", h.trim()),
                _ => format!("column {col}"),
            });
        }
        if place.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", place.join(", "), self.message)
        }
    }
}

/// What an import would do (or did).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Plan {
    /// The separator found in the header row.
    pub separator: String,
    /// The file started with a UTF-8 byte-order mark.
    pub bom: bool,
    /// Data rows read (blank rows not counted).
    pub rows: usize,
    /// Rows with every cell empty, skipped.
    pub blank_rows: usize,
    /// Ids added to gallery.toml, in order.
    pub added: Vec<String>,
    /// Ids whose role model the CSV changed.
    pub updated: Vec<String>,
    /// Ids in the CSV identical to gallery.toml already.
    pub unchanged: Vec<String>,
    /// Ids in gallery.toml but not in the CSV: kept as they are.
    pub kept: Vec<String>,
    /// Every problem; nothing is written unless empty.
    pub problems: Vec<Problem>,
    /// The gallery.toml to write (empty when there are problems).
    #[serde(skip)]
    pub text: String,
    /// The written gallery differs from the one on disk (or there was none).
    pub changed: bool,
}

/// Where a role model of the merged gallery came from.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Row { row: usize, record: usize },
    Kept,
}

/// One data row, as strings.
struct Row {
    row: usize,
    line: Option<u64>,
    cells: Vec<String>,
}

/// A role model and where it came from.
type Placed = (RoleModel, Origin);

/// The CSV as read: its header row, every record (the header first) and the field of each column.
struct Sheet<'a> {
    header: &'a Row,
    records: &'a [Row],
    fields: &'a [Option<Field>],
}

impl Sheet<'_> {
    /// A problem on `row`, in the column with index `column` when there is one.
    fn at(&self, row: &Row, column: Option<usize>, message: String) -> Problem {
        Problem {
            row: Some(row.row),
            line: row.line,
            column: column.map(column_letter),
            header: column.and_then(|c| self.header.cells.get(c).cloned()),
            message,
        }
    }

    /// The data `rows` merged into the role models of `gallery.toml` (`old`): a row whose id is
    /// there replaces that role model in place, a new id is appended. Counts rows, blank rows,
    /// added, updated and unchanged ids into `plan`, with the rows' problems. Returns the merged
    /// role models and the rows with a repeated id (checked on their own).
    fn merge(
        &self,
        rows: &[Row],
        old: Vec<RoleModel>,
        plan: &mut Plan,
        progress: &mut dyn FnMut(usize, usize),
    ) -> (Vec<Placed>, Vec<Placed>) {
        let mut merged: Vec<Placed> = old.into_iter().map(|rm| (rm, Origin::Kept)).collect();
        let mut first_row: HashMap<String, usize> = HashMap::new();
        let mut duplicates: Vec<Placed> = Vec::new();
        let problems = &mut plan.problems;
        let total = rows.len();
        for (done, row) in rows.iter().enumerate() {
            progress(done, total);
            if row.cells.iter().all(|c| c.trim().is_empty()) {
                plan.blank_rows += 1;
                continue;
            }
            plan.rows += 1;
            let (n, want) = (row.cells.len(), self.header.cells.len());
            let extra_filled = row.cells.iter().skip(want).any(|c| !c.trim().is_empty());
            if n < want || extra_filled {
                problems.push(self.at(
                    row,
                    None,
                    format!(
                        "{n} cells, the header has {want}: a cell holding the separator {:?} must be in quotes (spreadsheets quote it when they export); the row's other cells are not checked",
                        plan.separator
                    ),
                ));
                continue;
            }
            let id_col = self.fields.iter().position(|f| *f == Some(Field::Id));
            let id = id_col.and_then(|c| row.cells.get(c)).map(|c| c.trim().to_string()).unwrap_or_default();
            let origin = Origin::Row { row: row.row, record: row.row - 1 };
            if !id.is_empty() {
                if let Some(first) = first_row.get(&id) {
                    problems.push(self.at(row, id_col, format!("the id {id:?} is also on row {first}: each role model needs its own id")));
                    // Its other cells are still checked (below, on their own): every problem at once.
                    duplicates.push((role_model(row, self.fields, None, problems), origin));
                    continue;
                }
                first_row.insert(id.clone(), row.row);
            }
            let position = (!id.is_empty()).then(|| merged.iter().position(|(rm, o)| matches!(o, Origin::Kept) && rm.id == id)).flatten();
            let base = position.map(|i| merged[i].0.clone());
            let rm = role_model(row, self.fields, base.as_ref(), problems);
            match (position, base) {
                (Some(i), Some(old_rm)) => {
                    if old_rm == rm {
                        plan.unchanged.push(rm.id.clone());
                    } else {
                        plan.updated.push(rm.id.clone());
                    }
                    merged[i] = (rm, origin);
                }
                _ => {
                    plan.added.push(rm.id.clone());
                    merged.push((rm, origin));
                }
            }
        }
        progress(total, total);
        (merged, duplicates)
    }

    /// A problem of [`GalleryManifest::validate`] on `manifest` (whose role model i came from
    /// `origins[i]`), placed at the row and column it came from.
    fn place(&self, p: String, manifest: &GalleryManifest, origins: &[Origin], problems: &mut Vec<Problem>) {
        let Some((index, field, message)) = manifest_problem(&p) else {
            problems.push(Problem::file(if p.starts_with("role_model: ") {
                "no role models: the CSV has no rows (and gallery.toml none)".into()
            } else {
                p
            }));
            return;
        };
        match origins.get(index) {
            Some(Origin::Row { row, record }) => {
                let col = field.and_then(|f| self.fields.iter().position(|x| *x == Some(f)));
                let message = if field == Some(Field::Consent) && message.starts_with("must be true") {
                    "must be yes when gender, group or tags are filled in (the role model agreed that they are used for matching and gallery audits); otherwise empty those cells".to_string()
                } else if col.is_none() {
                    format!("{message} (role_model[{index}] of {MANIFEST_FILE}, kept because the CSV has no such column)")
                } else {
                    message.to_string()
                };
                let line = self.records.get(*record).and_then(|r| r.line);
                problems.push(Problem {
                    row: Some(*row),
                    line,
                    column: col.map(column_letter),
                    header: col.and_then(|c| self.header.cells.get(c).cloned()),
                    message,
                });
            }
            _ => {
                let id = manifest.role_models.get(index).map(|rm| rm.id.as_str()).unwrap_or_default();
                problems.push(Problem::file(format!("{MANIFEST_FILE}: {p} (the role model {id:?} is not in the CSV and is kept)")));
            }
        }
    }

    /// Names the columns of problems placed before the header was known.
    fn name_columns(&self, problems: &mut [Problem]) {
        for p in problems.iter_mut().filter(|p| p.header.is_none() && p.row > Some(1)) {
            let col = p.column.as_deref().and_then(|c| (0..self.header.cells.len()).find(|&i| column_letter(i) == c));
            p.header = col.and_then(|i| self.header.cells.get(i)).cloned();
        }
    }
}

/// The gallery.toml in `dir`, if there is one (None, with a problem, when it does not load).
fn existing_manifest(dir: &Path, problems: &mut Vec<Problem>) -> Option<GalleryManifest> {
    if !dir.join(MANIFEST_FILE).exists() {
        return None;
    }
    match GalleryManifest::load(dir) {
        Ok(m) => Some(m),
        Err(e) => {
            problems.push(Problem::file(format!("{e:#}: fix it or move it away, then import again")));
            None
        }
    }
}

/// The gallery.toml text for a manifest (a generated-file comment, then the role models).
pub fn manifest_text(manifest: &GalleryManifest, csv_name: &str) -> Result<String, toml::ser::Error> {
    Ok(format!(
        "# The role models of this gallery, written by `rolemirror gallery import` from {csv_name}.\n\
         # Edit the spreadsheet and import again (role models not in the spreadsheet are kept);\n\
         # comments in this file are not kept by the next import. Format: docs/authoring.md.\n\n{}",
        toml::to_string(manifest)?
    ))
}

/// What importing `csv` (the file's bytes; `csv_name` for the generated comment) into the
/// gallery at `dir` would do: every problem, or the new gallery.toml. Reads `DIR/gallery.toml`
/// and checks the photos; writes nothing. `progress(done, total)` is called per row.
pub fn plan(dir: &Path, csv_name: &str, bytes: &[u8], progress: &mut dyn FnMut(usize, usize)) -> Plan {
    let mut plan = Plan::default();
    let Some(records) = read::records(bytes, &mut plan) else { return plan };
    let Some((header, rows)) = records.split_first() else {
        plan.problems
            .push(Problem::file("the file is empty: the first row names the columns (id, name, role, story_url, photos, ...)".into()));
        return plan;
    };
    let fields = read_header(header, rows, &mut plan.problems);
    let sheet = Sheet { header, records: &records, fields: &fields };
    let existing = existing_manifest(dir, &mut plan.problems);
    let old = existing.clone().map(|m| m.role_models).unwrap_or_default();
    let (merged, duplicates) = sheet.merge(rows, old, &mut plan, progress);
    plan.kept = merged.iter().filter(|(_, o)| matches!(o, Origin::Kept)).map(|(rm, _)| rm.id.clone()).collect();
    let (role_models, origins): (Vec<RoleModel>, Vec<Origin>) = merged.into_iter().unzip();
    let manifest = GalleryManifest { role_models };
    for p in manifest.validate(Some(dir)) {
        sheet.place(p, &manifest, &origins, &mut plan.problems);
    }
    for (rm, origin) in duplicates {
        let alone = GalleryManifest { role_models: vec![rm] };
        for p in alone.validate(Some(dir)) {
            sheet.place(p, &alone, std::slice::from_ref(&origin), &mut plan.problems);
        }
    }
    sheet.name_columns(&mut plan.problems);
    plan.problems.sort_by_key(|p| p.row.unwrap_or(usize::MAX));
    if plan.problems.is_empty() {
        match manifest_text(&manifest, csv_name) {
            // Written only if it reads back as the same gallery.
            Ok(text) if GalleryManifest::parse(&text).ok().as_ref() == Some(&manifest) => {
                plan.changed = existing.as_ref() != Some(&manifest);
                plan.text = text;
            }
            Ok(_) => plan
                .problems
                .push(Problem::file(format!("internal: the new {MANIFEST_FILE} does not read back as written; nothing written"))),
            Err(e) => plan.problems.push(Problem::file(format!("internal: {MANIFEST_FILE} cannot be written: {e}"))),
        }
    }
    plan
}

/// Imports the CSV file `csv` into `dir`: [`plan`], then, when there is no problem and the
/// gallery changed, writes `DIR/gallery.toml` atomically. Errors only for files that cannot be
/// read or written (problems with the contents are in the plan).
pub fn import(dir: &Path, csv: &Path, progress: &mut dyn FnMut(usize, usize)) -> anyhow::Result<(Plan, bool)> {
    if !dir.is_dir() {
        anyhow::bail!(
            "{} is not a folder: make it (or run `rolemirror gallery new {}`) and put the photos in it",
            dir.display(),
            dir.display()
        );
    }
    let meta = std::fs::metadata(csv).map_err(|e| anyhow::anyhow!("{}: {e}", csv.display()))?;
    if meta.len() > MAX_CSV_BYTES as u64 {
        anyhow::bail!("{}: {} bytes, at most {MAX_CSV_BYTES}: is this the right file?", csv.display(), meta.len());
    }
    let bytes = std::fs::read(csv).map_err(|e| anyhow::anyhow!("{}: {e}", csv.display()))?;
    let name = csv.file_name().map_or_else(|| csv.display().to_string(), |n| n.to_string_lossy().into_owned());
    let plan = plan(dir, &name, &bytes, progress);
    let write = plan.problems.is_empty() && plan.changed;
    if write {
        let path = dir.join(MANIFEST_FILE);
        crate::util::write_atomic(&path, plan.text.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok((plan, write))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rm-csv-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        for f in ["a.jpg", "b.jpg", "c.jpg"] {
            std::fs::write(dir.join(f), b"not checked here").expect("photo");
        }
        dir
    }

    fn run(dir: &Path, csv: &str) -> Plan {
        plan(dir, "t.csv", csv.as_bytes(), &mut |_, _| {})
    }

    const GOOD: &str = "id,name,role,story_url,photos\na-1,Anna,Engineer,https://example.org/a,a.jpg; b.jpg\n";

    #[test]
    fn a_good_csv_in_every_dialect_gives_the_same_gallery() {
        let dir = temp("dialects");
        let want = run(&dir, GOOD);
        assert!(want.problems.is_empty(), "{:?}", want.problems);
        assert_eq!(want.added, ["a-1"]);
        let m = GalleryManifest::parse(&want.text).expect("parses");
        assert_eq!(m.role_models[0].photos, ["a.jpg", "b.jpg"]);
        let semicolon = "\u{feff}ID ; Name;Role;Story URL;Photos\r\na-1;Anna;Engineer;https://example.org/a;\"a.jpg; b.jpg\"\r\n;;;;\r\n";
        let p = run(&dir, semicolon);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert!(p.bom && p.separator == ";" && p.blank_rows == 1);
        assert_eq!(GalleryManifest::parse(&p.text).expect("parses"), m);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn quoted_cells_keep_separators_newlines_and_quotes() {
        let dir = temp("quoted");
        let csv = "id,name,role,quote,story_url,photos\na-1,\"Smith, Anna\",Engineer,\"He said \"\"go\"\"\nand I went.\",https://example.org/a,a.jpg\n\
                   b-1,Bob,Pilot,,https://example.org/b,b.jpg\n";
        let p = run(&dir, csv);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let m = GalleryManifest::parse(&p.text).expect("parses");
        assert_eq!(m.role_models[0].name, "Smith, Anna");
        assert_eq!(m.role_models[0].quote, "He said \"go\"\nand I went.");
        // Row 3 starts on line 4: the quote had a newline.
        let bad = csv.replace("b-1,Bob", "b-1,");
        let p = run(&dir, &bad);
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        assert_eq!(p.problems[0].to_string(), "row 3 (line 4), column B (name): must not be empty");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_duplicate_rows_other_cells_are_still_checked() {
        let dir = temp("dup");
        let csv = "id,name,role,story_url,photos\n\
                   a-1,Anna,Engineer,https://example.org/a,a.jpg\n\
                   a-1,Ann,,www.example.org,missing.jpg\n";
        let p = run(&dir, csv);
        let lines: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
        for want in [
            "row 3, column A (id): the id \"a-1\" is also on row 2",
            "row 3, column C (role): must not be empty",
            "row 3, column D (story_url):",
            "row 3, column E (photos): \"missing.jpg\" does not exist",
        ] {
            assert!(lines.iter().any(|l| l.starts_with(want)), "{want:?} not in {lines:#?}");
        }
        assert_eq!(lines.len(), 4, "{lines:#?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn every_problem_is_placed_by_row_and_column() {
        let dir = temp("problems");
        let csv = format!(
            "id,name,role,quote,story_url,photos,colour,consent,gender\n\
             a-1,Anna,Engineer,,https://example.org/a,a.jpg,,,\n\
             a-1,Ann,Engineer,,https://example.org/a2,b.jpg,,,\n\
             B 2,Bob,,{},ftp://x,missing.jpg,,maybe,man\n\
             c-3,Cy,Pilot,,https://example.org/c\n\
             d-4,Di,Medic,,https://example.org/d,../x.jpg,,,woman\n",
            "q".repeat(201)
        );
        let p = run(&dir, &csv);
        let lines: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
        for want in [
            "row 1, column G (colour): unknown column",
            "row 3, column A (id): the id \"a-1\" is also on row 2",
            "row 4, column H (consent): \"maybe\" is not yes or no",
            "row 5: 5 cells, the header has 9",
            "row 4, column A (id): \"B 2\" must be non-empty",
            "row 4, column C (role): must not be empty",
            "row 4, column D (quote): 201 characters, at most 200",
            "row 4, column E (story_url): \"ftp://x\" is not an http(s) URL",
            "row 4, column F (photos): \"missing.jpg\" does not exist",
            "row 4, column H (consent): must be yes when gender",
            "row 6, column F (photos): \"../x.jpg\" must be a relative path inside the gallery",
            "row 6, column H (consent): must be yes",
        ] {
            assert!(lines.iter().any(|l| l.starts_with(want)), "missing {want:?} in {lines:#?}");
        }
        assert_eq!(lines.len(), 12, "{lines:#?}");
        assert!(p.text.is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn windows_1252_is_refused_by_row_column_and_byte() {
        let dir = temp("cp1252");
        let mut bytes = b"id,name,role,story_url,photos\na-1,Ren".to_vec();
        bytes.push(0xe9);
        bytes.extend_from_slice(b"e,Engineer,https://example.org/a,a.jpg\n");
        let p = plan(&dir, "t.csv", &bytes, &mut |_, _| {});
        let lines: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
        assert!(
            lines[0].starts_with("row 2, column B (name): byte 0xE9 ('é' in Windows-1252) at byte 37 of the file is not UTF-8"),
            "{lines:#?}"
        );
        assert!(lines.iter().any(|l| l.contains("export it again as UTF-8")), "{lines:#?}");
        assert_eq!(bytes[37], 0xe9);
        let utf16 = plan(&dir, "t.csv", b"\xff\xfei\x00d\x00", &mut |_, _| {});
        assert!(utf16.problems[0].message.contains("UTF-16"), "{:?}", utf16.problems);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn update_keeps_what_the_csv_does_not_have() {
        let dir = temp("update");
        let toml = "[[role_model]]\nid = \"old\"\nname = \"Old\"\nrole = \"R\"\nstory_url = \"https://example.org/o\"\nphotos = [\"c.jpg\"]\n\n\
                    [[role_model]]\nid = \"a-1\"\nname = \"Anna\"\nrole = \"Engineer\"\nquote = \"Kept\"\nstory_url = \"https://example.org/a\"\nphotos = [\"a.jpg\", \"b.jpg\"]\n\n\
                    [role_model.declared]\nconsent = true\ngender = \"woman\"\n";
        std::fs::write(dir.join(MANIFEST_FILE), toml).expect("write");
        let p = run(&dir, GOOD);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!((p.unchanged.as_slice(), p.kept.as_slice(), p.changed), (&["a-1".to_string()][..], &["old".to_string()][..], false));
        let p = run(&dir, &GOOD.replace("Anna", "Anna B").replace("b.jpg", "b.jpg\nn-1,Nico,Pilot,https://example.org/n,c.jpg"));
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!((p.updated.as_slice(), p.added.as_slice()), (&["a-1".to_string()][..], &["n-1".to_string()][..]));
        let m = GalleryManifest::parse(&p.text).expect("parses");
        let ids: Vec<&str> = m.role_models.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["old", "a-1", "n-1"]);
        assert_eq!((m.role_models[1].name.as_str(), m.role_models[1].quote.as_str()), ("Anna B", "Kept"));
        assert_eq!(m.role_models[1].declared_gender().as_deref(), Some("woman"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn no_panic_on_odd_input() {
        let dir = temp("odd");
        for input in [
            &b""[..],
            b"\xef\xbb\xbf",
            b"\"",
            b"id,name\n\"unterminated",
            b",,,\n,,,\n",
            b"\xff",
            b"id;id;id\n1;2;3;4;5\n",
            b"\r\n\r\n",
            b"#notes\nx\n",
        ] {
            let p = plan(&dir, "t.csv", input, &mut |_, _| {});
            assert!(!p.problems.is_empty(), "{input:?} accepted");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_template_imports_once_its_photo_is_there() {
        let dir = temp("template").join("g");
        write_templates(&dir).expect("templates");
        assert!(write_templates(&dir).is_err(), "refuses to overwrite");
        let csv = std::fs::read(dir.join(TEMPLATE_CSV_FILE)).expect("csv");
        let p = plan(&dir, TEMPLATE_CSV_FILE, &csv, &mut |_, _| {});
        let lines: Vec<String> = p.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(lines, ["row 2, column G (photos): \"example-01.jpg\" does not exist"]);
        std::fs::write(dir.join("example-01.jpg"), b"x").expect("photo");
        let p = plan(&dir, TEMPLATE_CSV_FILE, &csv, &mut |_, _| {});
        assert!(p.problems.is_empty() && p.added == ["example-01"], "{:?}", p.problems);
        let _ = std::fs::remove_dir_all(dir.parent().expect("parent"));
    }
}
