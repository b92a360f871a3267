//! The gallery manifest (`gallery.toml` in a gallery directory): who the role models are.
//!
//! ```toml
//! [[role_model]]
//! id = "demo-01"                 # stable, [a-z0-9_-], unique
//! name = "Demo role model 01"    # shown on screen
//! role = "Placeholder role"
//! branch = "Placeholder branch"
//! quote = "A short personal quote."   # at most 200 characters
//! story_url = "https://example.org/stories/demo-01"   # http(s), encoded in the QR code
//! photos = ["img1.jpg"]          # relative to the gallery directory, one or more
//!
//! [role_model.declared]          # optional: only what the role model chose to declare
//! consent = true                 # required: they agreed to its use for matching and audits
//! gender = "woman"               # free text, compared case-insensitively
//! group = "Black British"        # free text (ethnicity/heritage in their words); audit only
//! tags = ["LGBTQ+"]              # free text; audit only
//! ```
//!
//! Declared fields are never shown on screen. `gender` feeds the matcher's soft gender cue
//! (see `matcher`); `group` and `tags` only feed `rolemirror gallery audit`, which tells
//! curators which groups the gallery covers.
//!
//! Parsing rejects unknown keys; [`GalleryManifest::validate`] collects every problem with its
//! key path (`role_model[3].photos[0]: ...`).

use std::collections::HashSet;
use std::path::{Component, Path};

use serde::Deserialize;

/// File name of the manifest inside a gallery directory.
pub const MANIFEST_FILE: &str = "gallery.toml";
/// Longest quote the result card lays out.
pub const MAX_QUOTE_CHARS: usize = 200;

/// One role model.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleModel {
    pub id: String,
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub quote: String,
    pub story_url: String,
    pub photos: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<Declared>,
}

/// What a role model declared about themselves, with their consent (see the module docs).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Declared {
    #[serde(default)]
    pub consent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Longest declared value.
pub const MAX_DECLARED_CHARS: usize = 40;

/// A declared value as compared and counted: trimmed, whitespace collapsed, lower-case.
pub fn declared_key(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

impl RoleModel {
    /// The declared fields, only when the role model consented.
    pub fn consented(&self) -> Option<&Declared> {
        self.declared.as_ref().filter(|d| d.consent)
    }

    /// The consented, declared gender as compared (see [`declared_key`]).
    pub fn declared_gender(&self) -> Option<String> {
        self.consented()?.gender.as_deref().map(declared_key).filter(|g| !g.is_empty())
    }
}

fn validate_declared(key: &str, d: &Declared, problems: &mut Vec<String>) {
    let values: Vec<(String, &String)> = d
        .gender
        .iter()
        .map(|v| (format!("{key}.declared.gender"), v))
        .chain(d.group.iter().map(|v| (format!("{key}.declared.group"), v)))
        .chain(d.tags.iter().enumerate().map(|(j, v)| (format!("{key}.declared.tags[{j}]"), v)))
        .collect();
    if !d.consent {
        problems.push(format!(
            "{key}.declared.consent: must be true (the role model agreed that these fields are used for matching and gallery audits); otherwise remove [role_model.declared]"
        ));
    }
    for (k, v) in values {
        let n = v.trim().chars().count();
        if n == 0 || n > MAX_DECLARED_CHARS || v.chars().any(char::is_control) {
            problems.push(format!("{k}: {v:?} must be 1 to {MAX_DECLARED_CHARS} characters of text"));
        }
    }
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct GalleryManifest {
    #[serde(rename = "role_model", default)]
    pub role_models: Vec<RoleModel>,
}

/// Is `p` a plain relative path that stays inside the gallery directory?
pub fn is_contained_relative(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

impl GalleryManifest {
    /// Reads and parses `DIR/gallery.toml`.
    pub fn load(dir: &Path) -> anyhow::Result<GalleryManifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Parses manifest text.
    pub fn parse(text: &str) -> Result<GalleryManifest, toml::de::Error> {
        toml::from_str(text)
    }

    /// Every problem, each with its key path; empty when the manifest is usable. Photos are
    /// checked to exist under `dir` (when given).
    pub fn validate(&self, dir: Option<&Path>) -> Vec<String> {
        let mut problems = Vec::new();
        if self.role_models.is_empty() {
            problems.push("role_model: the gallery has no role models".to_string());
        }
        let mut ids = HashSet::new();
        for (i, rm) in self.role_models.iter().enumerate() {
            let key = format!("role_model[{i}]");
            if rm.id.is_empty() || !rm.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
                problems.push(format!("{key}.id: {:?} must be non-empty and use only a-z, 0-9, '-' and '_'", rm.id));
            } else if !ids.insert(rm.id.as_str()) {
                problems.push(format!("{key}.id: {:?} is used twice", rm.id));
            }
            if rm.name.trim().is_empty() {
                problems.push(format!("{key}.name: must not be empty"));
            }
            if rm.role.trim().is_empty() {
                problems.push(format!("{key}.role: must not be empty"));
            }
            if rm.quote.chars().count() > MAX_QUOTE_CHARS {
                problems.push(format!("{key}.quote: {} characters, at most {MAX_QUOTE_CHARS}", rm.quote.chars().count()));
            }
            let url = rm.story_url.trim();
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < 10 || url.contains(char::is_whitespace) {
                problems.push(format!("{key}.story_url: {:?} is not an http(s) URL", rm.story_url));
            }
            if rm.photos.is_empty() {
                problems.push(format!("{key}.photos: at least one photo is needed"));
            }
            for (j, photo) in rm.photos.iter().enumerate() {
                if !is_contained_relative(photo) {
                    problems.push(format!("{key}.photos[{j}]: {photo:?} must be a relative path inside the gallery"));
                } else if photo.starts_with(&format!("{}/", super::portrait::DIR)) {
                    problems.push(format!(
                        "{key}.photos[{j}]: {photo:?} is in {}/, the folder the index keeps its prepared portraits in: move the photo to another folder",
                        super::portrait::DIR
                    ));
                } else if let Some(dir) = dir {
                    if !dir.join(photo).is_file() {
                        problems.push(format!("{key}.photos[{j}]: {photo:?} does not exist"));
                    }
                }
            }
            if let Some(d) = &rm.declared {
                validate_declared(&key, d, &mut problems);
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[role_model]]
id = "a-1"
name = "Anna"
role = "Engineer"
quote = "Hi"
story_url = "https://example.org/a"
photos = ["a.jpg"]
"#;

    #[test]
    fn parses_a_good_manifest() {
        let m = GalleryManifest::parse(GOOD).expect("parses");
        assert_eq!(m.role_models.len(), 1);
        assert!(m.validate(None).is_empty(), "{:?}", m.validate(None));
    }

    #[test]
    fn unknown_key_is_an_error() {
        let text = GOOD.replace("quote = \"Hi\"", "qoute = \"Hi\"");
        let err = GalleryManifest::parse(&text).expect_err("unknown key");
        assert!(err.to_string().contains("qoute"), "{err}");
    }

    #[test]
    fn collects_every_problem_with_key_paths() {
        let text = format!(
            "{GOOD}\n[[role_model]]\nid = \"a-1\"\nname = \" \"\nrole = \"x\"\nstory_url = \"ftp://x\"\nphotos = [\"../etc/passwd\", \"/abs.jpg\"]\nquote = \"{}\"\n",
            "q".repeat(201)
        );
        let m = GalleryManifest::parse(&text).expect("parses");
        let p = m.validate(None);
        for want in [
            "role_model[1].id",
            "role_model[1].name",
            "role_model[1].story_url",
            "role_model[1].photos[0]",
            "role_model[1].photos[1]",
            "role_model[1].quote",
        ] {
            assert!(p.iter().any(|l| l.starts_with(want)), "missing {want} in {p:?}");
        }
        assert_eq!(p.len(), 6, "{p:?}");
    }

    #[test]
    fn declared_fields_need_consent_and_sane_values() {
        let with = |declared: &str| GalleryManifest::parse(&format!("{GOOD}\n[role_model.declared]\n{declared}\n")).expect("parses");
        let m = with("consent = true\ngender = \"  Woman \"\ngroup = \"Black British\"\ntags = [\"LGBTQ+\"]");
        assert!(m.validate(None).is_empty(), "{:?}", m.validate(None));
        assert_eq!(m.role_models[0].declared_gender().as_deref(), Some("woman"));
        let m = with("gender = \"woman\"");
        assert_eq!(m.role_models[0].declared_gender(), None, "no consent, not used");
        let p = m.validate(None);
        assert!(p.len() == 1 && p[0].starts_with("role_model[0].declared.consent"), "{p:?}");
        let p = with(&format!("consent = true\ngender = \" \"\ngroup = \"{}\"", "x".repeat(41))).validate(None);
        assert!(
            p.iter().any(|l| l.starts_with("role_model[0].declared.gender"))
                && p.iter().any(|l| l.starts_with("role_model[0].declared.group")),
            "{p:?}"
        );
        let err = GalleryManifest::parse(&format!("{GOOD}\n[role_model.declared]\nconsent = true\nethnicity = \"x\"\n"))
            .expect_err("unknown key");
        assert!(err.to_string().contains("ethnicity"), "{err}");
    }

    #[test]
    fn containment() {
        assert!(is_contained_relative("a/b.jpg"));
        for bad in ["", "/a.jpg", "../a.jpg", "a/../../b.jpg", "./a.jpg"] {
            assert!(!is_contained_relative(bad), "{bad}");
        }
    }
}
