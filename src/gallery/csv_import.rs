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

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::manifest::{GalleryManifest, RoleModel, MANIFEST_FILE};

/// File name of the CSV template `gallery new` writes.
pub const TEMPLATE_CSV_FILE: &str = "role-models.csv";
/// Largest CSV accepted (a gallery of a thousand role models is ~0.5 MB).
pub const MAX_CSV_BYTES: usize = 4 << 20;

/// A column the importer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    Name,
    Role,
    Branch,
    Quote,
    StoryUrl,
    Photos,
    Consent,
    Gender,
    Group,
    Tags,
}

impl Field {
    pub const ALL: [Field; 11] = [
        Field::Id,
        Field::Name,
        Field::Role,
        Field::Branch,
        Field::Quote,
        Field::StoryUrl,
        Field::Photos,
        Field::Consent,
        Field::Gender,
        Field::Group,
        Field::Tags,
    ];

    /// The column's header as documented.
    pub fn header(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Name => "name",
            Field::Role => "role",
            Field::Branch => "branch",
            Field::Quote => "quote",
            Field::StoryUrl => "story_url",
            Field::Photos => "photos",
            Field::Consent => "consent",
            Field::Gender => "gender",
            Field::Group => "group",
            Field::Tags => "tags",
        }
    }

    /// Other headers accepted for it (after [`normalize_header`]).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::StoryUrl => &["story", "url", "story_link"],
            Field::Photos => &["photo"],
            Field::Consent => &["declared_consent"],
            Field::Gender => &["declared_gender"],
            Field::Group => &["declared_group"],
            Field::Tags => &["declared_tags", "tag"],
            _ => &[],
        }
    }

    pub fn required(self) -> bool {
        matches!(self, Field::Id | Field::Name | Field::Role | Field::StoryUrl | Field::Photos)
    }

    /// The field of a header, if it names one.
    pub fn from_header(header: &str) -> Option<Field> {
        let h = normalize_header(header);
        Field::ALL.into_iter().find(|f| f.header() == h || f.aliases().contains(&h.as_str()))
    }
}

/// A header as compared: trimmed, lower-case, runs of spaces, `-`, `_` and `.` as one `_`.
pub fn normalize_header(h: &str) -> String {
    let mut out = String::new();
    for c in h.trim().chars().flat_map(char::to_lowercase) {
        if c.is_whitespace() || matches!(c, '-' | '_' | '.') {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out.trim_end_matches('_').to_string()
}

/// Spreadsheet letter of a 0-based column: A, B, ..., Z, AA, ...
pub fn column_letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

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

fn yes_no(cell: &str) -> Option<Option<bool>> {
    match cell.trim().to_lowercase().as_str() {
        "" => Some(None),
        "yes" | "y" | "true" | "1" | "x" | "ja" | "j" | "✓" | "✔" => Some(Some(true)),
        "no" | "n" | "false" | "0" | "nee" => Some(Some(false)),
        _ => None,
    }
}

fn split_list(cell: &str) -> Vec<String> {
    cell.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Windows-1252's character for a byte (the usual legacy encoding of a spreadsheet export).
fn windows_1252(b: u8) -> Option<char> {
    const HIGH: [char; 32] = [
        '€', '\0', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\0', 'Ž', '\0', '\0', '‘', '’', '“', '”', '•', '–', '—', '˜',
        '™', 'š', '›', 'œ', '\0', 'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => Some(HIGH[(b - 0x80) as usize]).filter(|c| *c != '\0'),
        0xa0..=0xff => Some(char::from(b)),
        _ => None,
    }
}

/// The separator of the header row: the most frequent of `,` `;` and tab outside quotes in the
/// first line (`,` when none).
fn detect_separator(bytes: &[u8]) -> u8 {
    let (mut quoted, mut counts) = (false, [0usize; 3]);
    for &b in bytes {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let seps = [b',', b';', b'\t'];
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        seps[best]
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The CSV's records as strings, each with its spreadsheet row and line; problems for bytes that
/// are not UTF-8 (named by row, column and byte offset).
fn read_records(bytes: &[u8], base: usize, separator: u8, problems: &mut Vec<Problem>) -> Vec<Row> {
    let body = &bytes[base..];
    let mut reader = csv::ReaderBuilder::new().delimiter(separator).has_headers(false).flexible(true).from_reader(body);
    let mut rows = Vec::new();
    let mut not_utf8 = 0usize;
    let mut record = csv::ByteRecord::new();
    // Lines counted here: the csv crate's count lags after a CRLF row end.
    let (mut counted_to, mut newlines) = (0usize, 0u64);
    loop {
        let row = rows.len() + 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problems.push(Problem { row: Some(row), ..Problem::file(format!("the CSV cannot be read further: {e}")) });
                break;
            }
        }
        let mut start = record.position().map_or(counted_to, |p| p.byte() as usize).clamp(counted_to, body.len());
        while start < body.len() && matches!(body[start], b'\r' | b'\n') {
            start += 1;
        }
        newlines += body[counted_to..start].iter().filter(|&&b| b == b'\n').count() as u64;
        counted_to = start;
        let line = newlines + 1;
        let mut cells = Vec::with_capacity(record.len());
        for (col, field) in record.iter().enumerate() {
            match std::str::from_utf8(field) {
                Ok(s) => cells.push(s.to_string()),
                Err(e) => {
                    not_utf8 += 1;
                    let bad = e.valid_up_to();
                    let byte = field[bad];
                    let from = bad.saturating_sub(8);
                    let at = find(&body[start..], &field[from..=bad]).map(|p| base + start + p + (bad - from));
                    let guess = windows_1252(byte).map(|c| format!(" ('{c}' in Windows-1252)")).unwrap_or_default();
                    let at = at.map(|a| format!(" at byte {a} of the file")).unwrap_or_default();
                    problems.push(Problem {
                        row: Some(row),
                        line: (line != row as u64).then_some(line),
                        column: Some(column_letter(col)),
                        header: None,
                        message: format!("byte 0x{byte:02X}{guess}{at} is not UTF-8"),
                    });
                    cells.push(String::from_utf8_lossy(field).into_owned());
                }
            }
        }
        rows.push(Row { row, line: (line != row as u64).then_some(line), cells });
    }
    if not_utf8 > 0 {
        problems.push(Problem::file(format!(
            "the file is not UTF-8 ({not_utf8} cell(s) above; a Windows-1252 or other legacy export?): export it again as UTF-8 \
             (LibreOffice: File > Save As > Text CSV, Character set \"Unicode (UTF-8)\"; Excel: Save As > \"CSV UTF-8 (Comma delimited)\")"
        )));
    }
    rows
}

/// Which field each column holds, with problems for unknown, repeated and missing columns.
fn read_header(header: &Row, rows: &[Row], problems: &mut Vec<Problem>) -> Vec<Option<Field>> {
    let mut fields = Vec::with_capacity(header.cells.len());
    let mut seen: HashMap<Field, usize> = HashMap::new();
    for (col, h) in header.cells.iter().enumerate() {
        let at = |message: String| Problem {
            row: Some(header.row),
            line: header.line,
            column: Some(column_letter(col)),
            header: Some(h.clone()),
            message,
        };
        if h.trim().starts_with('#') {
            fields.push(None);
            continue;
        }
        if h.trim().is_empty() {
            if rows.iter().any(|r| r.cells.get(col).is_some_and(|c| !c.trim().is_empty())) {
                problems.push(at(
                    "this column has values but no header: name it (see the columns below) or start its header with # to have it ignored"
                        .into(),
                ));
            }
            fields.push(None);
            continue;
        }
        match Field::from_header(h) {
            Some(f) => {
                if let Some(first) = seen.get(&f) {
                    problems.push(at(format!("the column {:?} is also column {}: keep one", f.header(), column_letter(*first))));
                    fields.push(None);
                } else {
                    seen.insert(f, col);
                    fields.push(Some(f));
                }
            }
            None => {
                let known: Vec<&str> = Field::ALL.iter().map(|f| f.header()).collect();
                problems.push(at(format!(
                    "unknown column {:?}: the columns are {} (start a header with # for a notes column)",
                    h.trim(),
                    known.join(", ")
                )));
                fields.push(None);
            }
        }
    }
    for f in Field::ALL.into_iter().filter(|f| f.required() && !seen.contains_key(f)) {
        problems.push(Problem {
            row: Some(header.row),
            line: header.line,
            column: None,
            header: None,
            message: format!("no column {:?} (required: id, name, role, story_url, photos)", f.header()),
        });
    }
    fields
}

/// A role model from a row: `base` (the one in gallery.toml with that id, if any) with the CSV's
/// columns written over it.
fn role_model(row: &Row, fields: &[Option<Field>], base: Option<&RoleModel>, problems: &mut Vec<Problem>) -> RoleModel {
    let mut rm = base.cloned().unwrap_or(RoleModel {
        id: String::new(),
        name: String::new(),
        role: String::new(),
        branch: String::new(),
        quote: String::new(),
        story_url: String::new(),
        photos: Vec::new(),
        declared: None,
    });
    let mut declared = rm.declared.clone().unwrap_or_default();
    for (col, field) in fields.iter().enumerate() {
        let Some(field) = field else { continue };
        let cell = row.cells.get(col).map(String::as_str).unwrap_or("");
        let text = cell.trim().to_string();
        match field {
            Field::Id => rm.id = text,
            Field::Name => rm.name = text,
            Field::Role => rm.role = text,
            Field::Branch => rm.branch = text,
            Field::Quote => rm.quote = text,
            Field::StoryUrl => rm.story_url = text,
            Field::Photos => rm.photos = split_list(cell),
            Field::Consent => match yes_no(cell) {
                Some(v) => declared.consent = v.unwrap_or(false),
                None => problems.push(Problem {
                    row: Some(row.row),
                    line: row.line,
                    column: Some(column_letter(col)),
                    header: None,
                    message: format!("{text:?} is not yes or no (empty: no consent given)"),
                }),
            },
            Field::Gender => declared.gender = Some(text).filter(|t| !t.is_empty()),
            Field::Group => declared.group = Some(text).filter(|t| !t.is_empty()),
            Field::Tags => declared.tags = split_list(cell),
        }
    }
    let nothing_declared = declared.gender.is_none() && declared.group.is_none() && declared.tags.is_empty();
    rm.declared = if nothing_declared { None } else { Some(declared) };
    rm
}

/// Maps a problem of [`GalleryManifest::validate`] (`role_model[I].KEY: message`) to its role
/// model's index and field.
fn manifest_problem(p: &str) -> Option<(usize, Option<Field>, &str)> {
    let rest = p.strip_prefix("role_model[")?;
    let close = rest.find(']')?;
    let index = rest[..close].parse().ok()?;
    let rest = rest[close + 1..].strip_prefix('.')?;
    let (key, message) = rest.split_once(": ")?;
    let head = key.split(['.', '[']).next()?;
    let field = match head {
        "declared" => key.split('.').nth(1).and_then(|k| Field::from_header(k.split('[').next().unwrap_or(k))),
        _ => Field::from_header(head),
    };
    Some((index, field, message))
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
    let problems = &mut plan.problems;
    if bytes.len() > MAX_CSV_BYTES {
        problems.push(Problem::file(format!("{} bytes, at most {MAX_CSV_BYTES}: is this the right file?", bytes.len())));
        return plan;
    }
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        problems.push(Problem::file(
            "the file is UTF-16 (Excel's \"Unicode Text\"): export it as CSV UTF-8 (Excel: Save As > \"CSV UTF-8 (Comma delimited)\")"
                .into(),
        ));
        return plan;
    }
    plan.bom = bytes.starts_with(b"\xef\xbb\xbf");
    let base = if plan.bom { 3 } else { 0 };
    let separator = detect_separator(&bytes[base..]);
    plan.separator = match separator {
        b'\t' => "tab".into(),
        s => char::from(s).to_string(),
    };
    let records = read_records(bytes, base, separator, problems);
    let Some((header, rows)) = records.split_first() else {
        problems.push(Problem::file("the file is empty: the first row names the columns (id, name, role, story_url, photos, ...)".into()));
        return plan;
    };
    let fields = read_header(header, rows, problems);
    let path = dir.join(MANIFEST_FILE);
    let existing = if path.exists() {
        match GalleryManifest::load(dir) {
            Ok(m) => Some(m),
            Err(e) => {
                problems.push(Problem::file(format!("{e:#}: fix it or move it away, then import again")));
                None
            }
        }
    } else {
        None
    };
    let old = existing.clone().map(|m| m.role_models).unwrap_or_default();
    let mut merged: Vec<(RoleModel, Origin)> = old.iter().cloned().map(|rm| (rm, Origin::Kept)).collect();
    let mut first_row: HashMap<String, usize> = HashMap::new();
    let mut duplicates: Vec<(RoleModel, Origin)> = Vec::new();
    let total = rows.len();
    for (done, row) in rows.iter().enumerate() {
        progress(done, total);
        if row.cells.iter().all(|c| c.trim().is_empty()) {
            plan.blank_rows += 1;
            continue;
        }
        plan.rows += 1;
        let at = |column: Option<usize>, message: String| Problem {
            row: Some(row.row),
            line: row.line,
            column: column.map(column_letter),
            header: column.and_then(|c| header.cells.get(c).cloned()),
            message,
        };
        let (n, want) = (row.cells.len(), header.cells.len());
        let extra_filled = row.cells.iter().skip(want).any(|c| !c.trim().is_empty());
        if n < want || extra_filled {
            problems.push(at(
                None,
                format!(
                    "{n} cells, the header has {want}: a cell holding the separator {:?} must be in quotes (spreadsheets quote it when they export); the row's other cells are not checked",
                    plan.separator
                ),
            ));
            continue;
        }
        let id_col = fields.iter().position(|f| *f == Some(Field::Id));
        let id = id_col.and_then(|c| row.cells.get(c)).map(|c| c.trim().to_string()).unwrap_or_default();
        if !id.is_empty() {
            if let Some(first) = first_row.get(&id) {
                problems.push(at(id_col, format!("the id {id:?} is also on row {first}: each role model needs its own id")));
                // Its other cells are still checked (below, on their own): every problem at once.
                let rm = role_model(row, &fields, None, problems);
                duplicates.push((rm, Origin::Row { row: row.row, record: row.row - 1 }));
                continue;
            }
            first_row.insert(id.clone(), row.row);
        }
        let position = (!id.is_empty()).then(|| merged.iter().position(|(rm, o)| matches!(o, Origin::Kept) && rm.id == id)).flatten();
        let base = position.map(|i| merged[i].0.clone());
        let rm = role_model(row, &fields, base.as_ref(), problems);
        let origin = Origin::Row { row: row.row, record: row.row - 1 };
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
    plan.kept = merged.iter().filter(|(_, o)| matches!(o, Origin::Kept)).map(|(rm, _)| rm.id.clone()).collect();
    let (role_models, origins): (Vec<RoleModel>, Vec<Origin>) = merged.into_iter().unzip();
    let manifest = GalleryManifest { role_models };
    let place = |p: String, manifest: &GalleryManifest, origins: &[Origin], problems: &mut Vec<Problem>| {
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
                let col = field.and_then(|f| fields.iter().position(|x| *x == Some(f)));
                let message = if field == Some(Field::Consent) && message.starts_with("must be true") {
                    "must be yes when gender, group or tags are filled in (the role model agreed that they are used for matching and gallery audits); otherwise empty those cells".to_string()
                } else if col.is_none() {
                    format!("{message} (role_model[{index}] of {MANIFEST_FILE}, kept because the CSV has no such column)")
                } else {
                    message.to_string()
                };
                let line = records.get(*record).and_then(|r| r.line);
                problems.push(Problem {
                    row: Some(*row),
                    line,
                    column: col.map(column_letter),
                    header: col.and_then(|c| header.cells.get(c).cloned()),
                    message,
                });
            }
            _ => {
                let id = manifest.role_models.get(index).map(|rm| rm.id.as_str()).unwrap_or_default();
                problems.push(Problem::file(format!("{MANIFEST_FILE}: {p} (the role model {id:?} is not in the CSV and is kept)")));
            }
        }
    };
    for p in manifest.validate(Some(dir)) {
        place(p, &manifest, &origins, problems);
    }
    for (rm, origin) in duplicates {
        let alone = GalleryManifest { role_models: vec![rm] };
        for p in alone.validate(Some(dir)) {
            place(p, &alone, std::slice::from_ref(&origin), problems);
        }
    }
    // Name the columns of problems placed before the header was known.
    for p in problems.iter_mut().filter(|p| p.header.is_none() && p.row > Some(1)) {
        let col = p.column.as_deref().and_then(|c| (0..records.first().map_or(0, |h| h.cells.len())).find(|&i| column_letter(i) == c));
        p.header = col.and_then(|i| records.first().and_then(|h| h.cells.get(i)).cloned());
    }
    problems.sort_by_key(|p| p.row.unwrap_or(usize::MAX));
    if problems.is_empty() {
        match manifest_text(&manifest, csv_name) {
            // Written only if it reads back as the same gallery.
            Ok(text) if GalleryManifest::parse(&text).ok().as_ref() == Some(&manifest) => {
                plan.changed = existing.as_ref() != Some(&manifest);
                plan.text = text;
            }
            Ok(_) => {
                problems.push(Problem::file(format!("internal: the new {MANIFEST_FILE} does not read back as written; nothing written")))
            }
            Err(e) => problems.push(Problem::file(format!("internal: {MANIFEST_FILE} cannot be written: {e}"))),
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

/// The commented gallery.toml template of `gallery new`.
pub const TEMPLATE_TOML: &str = r#"# gallery.toml: the role models of this gallery, read by `rolemirror gallery build` and the booth.
#
# Two ways to fill it:
#  - From a spreadsheet: open role-models.csv (one row per role model, the first row names the
#    columns), fill it in, save it as CSV (UTF-8; `,` or `;`), put the photos in this folder, then
#        rolemirror gallery import THIS-FOLDER --csv role-models.csv
#    The import checks every row and writes this file; it replaces these comments.
#    See docs/authoring.md.
#  - By hand: one [[role_model]] block per role model, like the example below (remove the #s).
# Then check and build:  rolemirror gallery check THIS-FOLDER && rolemirror gallery build THIS-FOLDER
#
# [[role_model]]
# id = "example-01"              # stable, only a-z 0-9 - _, unique in the gallery
# name = "Example Person"        # shown on screen
# role = "Example role"          # shown on screen
# branch = "Example branch"      # optional, shown on screen
# quote = "The role model's own words."   # optional, at most 200 characters
# story_url = "https://example.org/stories/example-01"   # http(s), shown as a QR code
# photos = ["example-01.jpg"]    # files in this folder; several: ["a.jpg", "b.jpg"]
#
# [role_model.declared]          # optional, only what the role model chose to declare
# consent = true                 # required with any of the fields below
# gender = "woman"               # free text; a soft cue for matching
# group = "..."                  # free text, in their words; gallery audits only
# tags = ["..."]                 # free text; gallery audits only
"#;

/// The role-models.csv template of `gallery new`: the header and one example row.
pub const TEMPLATE_CSV: &str = "id,name,role,branch,quote,story_url,photos,consent,gender,group,tags\r\n\
example-01,Example Person,Example role,Example branch,\"The role model's own words, at most 200 characters.\",https://example.org/stories/example-01,example-01.jpg,,,,\r\n";

/// `gallery new DIR`: writes the two templates, refusing (and writing nothing) when either
/// file exists. Returns the files written.
pub fn write_templates(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let files = [(dir.join(MANIFEST_FILE), TEMPLATE_TOML), (dir.join(TEMPLATE_CSV_FILE), TEMPLATE_CSV)];
    let there: Vec<String> = files.iter().filter(|(p, _)| p.exists()).map(|(p, _)| p.display().to_string()).collect();
    if !there.is_empty() {
        anyhow::bail!("{} already exist(s): nothing written (edit it, or choose a new folder)", there.join(" and "));
    }
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    for (path, text) in &files {
        crate::util::write_atomic(path, text.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn headers_letters_and_separators() {
        assert_eq!(Field::from_header(" Story URL "), Some(Field::StoryUrl));
        assert_eq!(Field::from_header("Declared.Gender"), Some(Field::Gender));
        assert_eq!(Field::from_header("PHOTO"), Some(Field::Photos));
        assert_eq!(Field::from_header("colour"), None);
        assert_eq!([0, 25, 26, 27, 51, 52, 701, 702].map(column_letter), ["A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
        assert_eq!(detect_separator(b"id;name;\"a,b,c\"\nx,y,z,w"), b';');
        assert_eq!(detect_separator(b"id,name;x,role\n"), b',');
        assert_eq!(detect_separator(b"id\n"), b',');
        assert_eq!(detect_separator(b"id\tname\n"), b'\t');
    }

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
    fn every_manifest_problem_maps_to_a_column() {
        // If validate's key paths change, this fails before users see unplaced problems.
        let text = "[[role_model]]\nid = \"A\"\nname = \"\"\nrole = \"\"\nquote = \"".to_string()
            + &"q".repeat(201)
            + "\"\nstory_url = \"x\"\nphotos = [\"/a\"]\n[role_model.declared]\ngender = \"\"\ngroup = \"\"\ntags = [\"\"]\n";
        let m = GalleryManifest::parse(&text).expect("parses");
        let problems = m.validate(None);
        assert!(problems.len() >= 9, "{problems:#?}");
        for p in &problems {
            let (i, field, _) = manifest_problem(p).unwrap_or_else(|| panic!("unplaced: {p}"));
            assert!(i == 0 && field.is_some(), "{p}");
        }
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
