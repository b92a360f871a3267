//! The UTKFace side of the relatability protocol (`../shared/data/README.md`): file names and
//! their labels, the split into role models and visitors, the faces embedded, and the protocol's
//! gallery built from them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::{embed_many, FacePolicy};
use crate::gallery::index::{Index, PhotoEntry};
use crate::gallery::manifest::Declared;
use crate::gallery::{Gallery, GalleryManifest, RoleModel};
use crate::util::Progress;
use crate::vision::embed::FaceCode;
use crate::vision::{self, Vision};

/// A UTKFace file's labels: `AGE_GENDER_RACE_DATE.jpg.chip.jpg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtkLabel {
    pub age: u32,
    pub gender: u8,
    pub race: u8,
}

/// Parses a UTKFace file name.
pub fn parse_utk(name: &str) -> Option<UtkLabel> {
    let mut f = name.split('_');
    let age = f.next()?.parse().ok()?;
    let gender = f.next()?.parse().ok()?;
    let race = f.next()?.parse().ok()?;
    (gender <= 1 && race <= 4).then_some(UtkLabel { age, gender, race })
}

/// Group names for reports (gender x race, as labelled in UTKFace).
pub fn group_name(gender: u8, race: u8) -> String {
    let g = if gender == 0 { "men" } else { "women" };
    let r = ["White", "Black", "Asian", "Indian", "Other"].get(race as usize).copied().unwrap_or("?");
    format!("{g}, {r}")
}

/// File names with their labels.
pub type Labelled = Vec<(String, UtkLabel)>;

/// The protocol's split: per (gender, race) group, files sorted by md5 of the name; the first 15
/// are role models, the next 60 visitors. Adults 18-60, races 0-3.
pub fn utk_split(names: &[String]) -> (Labelled, Labelled) {
    // Per group: (md5 of the name, name, label).
    type Keyed = Vec<(String, String, UtkLabel)>;
    let mut groups: BTreeMap<(u8, u8), Keyed> = BTreeMap::new();
    for n in names {
        if let Some(l) = parse_utk(n) {
            if (18..=60).contains(&l.age) && l.race <= 3 {
                groups.entry((l.gender, l.race)).or_default().push((md5_hex(n.as_bytes()), n.clone(), l));
            }
        }
    }
    let (mut gallery, mut visitors) = (Vec::new(), Vec::new());
    for (_, mut files) in groups {
        files.sort();
        for (i, (_, n, l)) in files.into_iter().enumerate() {
            if i < 15 {
                gallery.push((n, l));
            } else if i < 75 {
                visitors.push((n, l));
            }
        }
    }
    (gallery, visitors)
}

/// The UTKFace files of `dir` (or of `dir/images`, the layout of ../shared/data/utk-dev), sorted,
/// and the folder that holds them.
fn utk_files(utk_dir: &Path) -> anyhow::Result<(Vec<String>, PathBuf)> {
    let list = |dir: &Path| -> anyhow::Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    };
    let names = list(utk_dir)?;
    let nested = utk_dir.join("images");
    if names.iter().all(|n| parse_utk(n).is_none()) && nested.is_dir() {
        return Ok((list(&nested)?, nested));
    }
    Ok((names, utk_dir.to_path_buf()))
}

/// The embedded faces of the protocol: role models, visitors and (optionally) the population.
pub struct UtkFaces {
    pub gallery: Vec<(String, UtkLabel, Option<FaceCode>)>,
    pub visitors: Vec<(String, UtkLabel, Option<FaceCode>)>,
    /// Every adult face (18-60, race 0-3) not in the gallery, visitors included.
    pub population: Option<Vec<(String, UtkLabel, Option<FaceCode>)>>,
}

/// Embeds the protocol's faces of `utk_dir` (padded by 50 px, largest face).
/// `quiet`: no progress bar (`--json`).
pub fn embed_utk(vision: &Vision, utk_dir: &Path, jobs: usize, population: bool, quiet: bool) -> anyhow::Result<UtkFaces> {
    let (names, utk_dir) = utk_files(utk_dir)?;
    let (gal, vis) = utk_split(&names);
    if gal.is_empty() || vis.is_empty() {
        bail!("{}: no UTKFace files (AGE_GENDER_RACE_DATE.jpg.chip.jpg) for the protocol", utk_dir.display());
    }
    let paths = |v: &[(String, UtkLabel)]| v.iter().map(|(n, _)| utk_dir.join(n)).collect::<Vec<_>>();
    let attach =
        |v: &[(String, UtkLabel)], e: Vec<Option<FaceCode>>| v.iter().cloned().zip(e).map(|((n, l), e)| (n, l, e)).collect::<Vec<_>>();
    let embed = |what: &str, files: Vec<PathBuf>| {
        let bar = Progress::new(files.len() as u64, what, quiet);
        let codes = embed_many(vision, &files, FacePolicy::Largest, 50, jobs, &bar);
        bar.finish();
        codes
    };
    let gallery = attach(&gal, embed("gallery", paths(&gal)));
    let visitors = attach(&vis, embed("visitors", paths(&vis)));
    let population = if population {
        let in_gallery: std::collections::HashSet<&str> = gal.iter().map(|(n, _)| n.as_str()).collect();
        let known: HashMap<&str, &Option<FaceCode>> = visitors.iter().map(|(n, _, e)| (n.as_str(), e)).collect();
        let rest: Vec<(String, UtkLabel)> = names
            .iter()
            .filter_map(|n| parse_utk(n).map(|l| (n.clone(), l)))
            .filter(|(n, l)| (18..=60).contains(&l.age) && l.race <= 3 && !in_gallery.contains(n.as_str()))
            .collect();
        let todo: Vec<(String, UtkLabel)> = rest.iter().filter(|(n, _)| !known.contains_key(n.as_str())).cloned().collect();
        let mut fresh: HashMap<String, Option<FaceCode>> =
            todo.iter().map(|(n, _)| n.clone()).zip(embed("population", paths(&todo))).collect();
        Some(
            rest.into_iter()
                .map(|(n, l)| {
                    let e = known.get(n.as_str()).map(|e| (*e).clone()).or_else(|| fresh.remove(&n)).flatten();
                    (n, l, e)
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(UtkFaces { gallery, visitors, population })
}

/// The protocol's gallery from embedded role models (their labels declared, with consent).
pub fn utk_gallery(faces: &UtkFaces, embedder: &vision::EmbedderId) -> (Gallery, HashMap<String, UtkLabel>) {
    let mut role_models = Vec::new();
    let mut photos = Vec::new();
    let mut labels: HashMap<String, UtkLabel> = HashMap::new();
    for (name, label, emb) in &faces.gallery {
        let Some(embedding) = emb else { continue };
        let id = format!("utk-{}", role_models.len());
        labels.insert(id.clone(), *label);
        photos.push(PhotoEntry {
            role_model: id.clone(),
            file: name.clone(),
            sha256: String::new(),
            eye_distance: 0.0,
            face: None,
            embedding: embedding.identity.clone(),
            appearance: embedding.appearance.clone(),
            portrait: None,
        });
        let group = ["white", "black", "asian", "indian", "other"].get(label.race as usize).copied().unwrap_or("other");
        role_models.push(RoleModel {
            id,
            name: name.clone(),
            role: "-".into(),
            branch: String::new(),
            quote: String::new(),
            story_url: "https://example.org/".into(),
            photos: vec![name.clone()],
            declared: Some(Declared {
                consent: true,
                gender: Some(if label.gender == 0 { "man" } else { "woman" }.into()),
                group: Some(group.into()),
                ..Default::default()
            }),
        });
    }
    let index = Index {
        format: crate::gallery::index::FORMAT,
        embedder: embedder.clone(),
        manifest_sha256: String::new(),
        photos,
        rejected: vec![],
    };
    (Gallery::from_parts(Path::new("."), GalleryManifest { role_models }, index), labels)
}

/// MD5 as lower-case hex: the protocol sorts files by it (not used for security).
pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    crate::util::hex(&Md5::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_known_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5_hex(&[b'a'; 100]), "36a92cc94a9e0fa21f625f8bfb007adf");
    }

    #[test]
    fn utk_names_and_split() {
        assert_eq!(parse_utk("26_1_2_20170116.jpg.chip.jpg"), Some(UtkLabel { age: 26, gender: 1, race: 2 }));
        assert_eq!(parse_utk("junk.jpg"), None);
        let mut names: Vec<String> = (0..100).map(|i| format!("{}_{}_{}_2017{i:04}.jpg.chip.jpg", 30 + i % 3, i % 2, i % 5)).collect();
        names.push("61_0_0_x.jpg.chip.jpg".into());
        names.push("17_1_1_x.jpg.chip.jpg".into());
        let (g, v) = utk_split(&names);
        assert!(g.iter().chain(&v).all(|(_, l)| l.race <= 3 && (18..=60).contains(&l.age)));
        // 100 names over 10 (gender, race) cells, 8 of them used: 10 per cell, all role models.
        assert_eq!(g.len(), 80);
        assert!(v.is_empty());
    }
}
