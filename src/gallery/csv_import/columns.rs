//! The CSV's columns: the fields the importer knows ([`Field`], with their accepted headers),
//! spreadsheet column letters, and the header row read into a field per column.

use std::collections::HashMap;

use super::{Problem, Row};

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

/// Which field each column holds, with problems for unknown, repeated and missing columns.
pub(super) fn read_header(header: &Row, rows: &[Row], problems: &mut Vec<Problem>) -> Vec<Option<Field>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_letters() {
        assert_eq!(Field::from_header(" Story URL "), Some(Field::StoryUrl));
        assert_eq!(Field::from_header("Declared.Gender"), Some(Field::Gender));
        assert_eq!(Field::from_header("PHOTO"), Some(Field::Photos));
        assert_eq!(Field::from_header("colour"), None);
        assert_eq!([0, 25, 26, 27, 51, 52, 701, 702].map(column_letter), ["A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
    }
}
