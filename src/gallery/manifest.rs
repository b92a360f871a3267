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
//! ```
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
            if rm.id.is_empty()
                || !rm.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            {
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
                } else if let Some(dir) = dir {
                    if !dir.join(photo).is_file() {
                        problems.push(format!("{key}.photos[{j}]: {photo:?} does not exist"));
                    }
                }
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
    fn containment() {
        assert!(is_contained_relative("a/b.jpg"));
        for bad in ["", "/a.jpg", "../a.jpg", "a/../../b.jpg", "./a.jpg"] {
            assert!(!is_contained_relative(bad), "{bad}");
        }
    }
}
