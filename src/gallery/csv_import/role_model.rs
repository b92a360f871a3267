//! A row as a role model (the CSV's cells written over the one already in `gallery.toml`), and
//! the problems of [`GalleryManifest::validate`] mapped back to the role model and field they
//! came from, so they can be named by row and column.
//!
//! [`GalleryManifest::validate`]: crate::gallery::GalleryManifest::validate

use super::columns::{column_letter, Field};
use super::{Problem, Row};
use crate::gallery::manifest::RoleModel;

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

/// A role model from a row: `base` (the one in gallery.toml with that id, if any) with the CSV's
/// columns written over it.
pub(super) fn role_model(row: &Row, fields: &[Option<Field>], base: Option<&RoleModel>, problems: &mut Vec<Problem>) -> RoleModel {
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
pub(super) fn manifest_problem(p: &str) -> Option<(usize, Option<Field>, &str)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::GalleryManifest;

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
}
