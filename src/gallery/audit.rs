//! `rolemirror gallery audit`: how evenly a gallery would be shown, and whom it covers.
//!
//! Exposure: every face of a reference population is matched against the gallery exactly as
//! the booth matches a visitor ([`super::matcher::rank`], same settings); each role model's
//! share of those faces is compared with the mean share `1 / role models`. A role model the
//! booth would never (or rarely, below [`RARE`] × the mean) show, or one who takes more than
//! [`DOMINANT`] × the mean, is named. Without a reference folder the gallery is its own
//! population: each role model's photos are matched against everybody else (leave-one-out),
//! a rougher estimate.
//!
//! Coverage: only from the fields role models declared themselves, with consent
//! (`[role_model.declared]` in `gallery.toml`): how many role models declared each gender,
//! group and tag, which share of the reference faces each of those sets receives, and which
//! groups have only one or two role models, so that a visitor who resembles them has little
//! choice. Nothing is inferred about anybody: an undeclared role model is counted as such.

use std::collections::BTreeMap;

use serde::Serialize;

use super::manifest::declared_key;
use super::matcher::{self, Candidate};
use super::Gallery;
use crate::vision::embed::FaceCode;

/// Below this fraction of the mean share a role model counts as rarely shown.
pub const RARE: f64 = 0.25;
/// Above this multiple of the mean share a role model counts as dominant (the booth's goal).
pub const DOMINANT: f64 = 2.0;
/// A declared group with fewer role models than this is called thin.
pub const THIN_BELOW: usize = 3;

/// One face of the reference population: its embedding and, for leave-one-out, the role model
/// (index into `Gallery::role_models`) it must not be matched with.
pub struct Query<'a> {
    pub face: &'a FaceCode,
    pub exclude: Option<usize>,
}

/// How often one role model would be shown.
#[derive(Debug, Clone, Serialize)]
pub struct Exposure {
    pub id: String,
    pub name: String,
    /// Reference faces for which this role model is the top match.
    pub count: usize,
    /// Its share of the faces over the mean share.
    pub share_over_mean: f64,
    /// "never", "rare", "even" or "dominant".
    pub state: &'static str,
}

/// Coverage of one declared value.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Covered {
    pub role_models: usize,
    /// Share of the role models in the gallery.
    pub gallery_share: f64,
    /// Share of the reference faces whose top match declared this value.
    pub match_share: f64,
}

/// Coverage from consented, self-declared fields.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    pub declared: usize,
    pub undeclared: usize,
    pub gender: BTreeMap<String, Covered>,
    pub group: BTreeMap<String, Covered>,
    /// "gender / group" for role models who declared both.
    pub gender_group: BTreeMap<String, Covered>,
    pub tags: BTreeMap<String, Covered>,
    /// Human-readable notes on declared values held by fewer than [`THIN_BELOW`] role models.
    pub thin: Vec<String>,
}

/// The whole audit.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub role_models: usize,
    /// Reference faces matched.
    pub faces: usize,
    pub max_share_over_mean: f64,
    /// Fraction of role models never shown.
    pub never_shown: f64,
    pub rare: usize,
    pub dominant: usize,
    /// What a perfectly even matcher (each face to a uniformly random role model) would show
    /// with this many faces: the median most-shown share over the mean, and the expected
    /// fraction never shown. Small populations look uneven by chance alone.
    pub chance_max_share_over_mean: f64,
    pub chance_never_shown: f64,
    /// Every role model, most shown first (ties by id).
    pub exposure: Vec<Exposure>,
    pub coverage: Coverage,
}

/// The top role model for `q` under the gallery's settings, leaving out `q.exclude`.
fn top_for(gallery: &Gallery, q: &Query) -> Option<usize> {
    let Some(skip) = q.exclude else {
        return matcher::rank(q.face, gallery.candidates(), gallery.hubs(), gallery.settings, 1).first().map(|r| r.index);
    };
    let keep: Vec<usize> = (0..gallery.candidates().len()).filter(|i| *i != skip).collect();
    let cands: Vec<Candidate> = keep.iter().map(|i| gallery.candidates()[*i].clone()).collect();
    matcher::rank(q.face, &cands, &gallery.hubs().subset(&keep), gallery.settings, 1).first().map(|r| keep[r.index])
}

/// Audits `gallery` against `queries` (see the module docs).
pub fn audit(gallery: &Gallery, queries: &[Query]) -> Audit {
    let n = gallery.role_models.len();
    let mut counts = vec![0usize; n];
    for q in queries {
        if let Some(i) = top_for(gallery, q) {
            counts[i] += 1;
        }
    }
    let faces: usize = counts.iter().sum();
    let ratio = |c: usize| if faces == 0 { 0.0 } else { c as f64 / faces as f64 * n as f64 };
    let mut exposure: Vec<Exposure> = gallery
        .role_models
        .iter()
        .zip(&counts)
        .map(|(rm, &count)| {
            let r = ratio(count);
            let state = if count == 0 {
                "never"
            } else if r < RARE {
                "rare"
            } else if r > DOMINANT {
                "dominant"
            } else {
                "even"
            };
            Exposure { id: rm.id.clone(), name: rm.name.clone(), count, share_over_mean: r, state }
        })
        .collect();
    exposure.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
    let coverage = coverage(gallery, &counts, faces);
    let (chance_max_share_over_mean, chance_never_shown) = chance(n, faces);
    Audit {
        chance_max_share_over_mean,
        chance_never_shown,
        role_models: n,
        faces,
        max_share_over_mean: exposure.first().map_or(0.0, |e| e.share_over_mean),
        never_shown: if n == 0 { 0.0 } else { exposure.iter().filter(|e| e.state == "never").count() as f64 / n as f64 },
        rare: exposure.iter().filter(|e| e.state == "rare").count(),
        dominant: exposure.iter().filter(|e| e.state == "dominant").count(),
        exposure,
        coverage,
    }
}

/// Trials of the even matcher in [`chance`].
const CHANCE_TRIALS: usize = 401;

/// (median max share over mean, expected never-shown fraction) when `faces` faces go to `n`
/// role models uniformly at random; a fixed-seed simulation, so the audit is repeatable.
pub fn chance(n: usize, faces: usize) -> (f64, f64) {
    if n == 0 || faces == 0 {
        return (0.0, 0.0);
    }
    let never = (1.0 - 1.0 / n as f64).powi(faces.min(i32::MAX as usize) as i32);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut maxima: Vec<usize> = (0..CHANCE_TRIALS)
        .map(|_| {
            let mut counts = vec![0usize; n];
            for _ in 0..faces {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                counts[(state % n as u64) as usize] += 1;
            }
            counts.into_iter().max().unwrap_or(0)
        })
        .collect();
    maxima.sort_unstable();
    (maxima[CHANCE_TRIALS / 2] as f64 / faces as f64 * n as f64, never)
}

fn coverage(gallery: &Gallery, counts: &[usize], faces: usize) -> Coverage {
    let n = gallery.role_models.len().max(1);
    let mut cov = Coverage::default();
    let add = |map: &mut BTreeMap<String, Covered>, key: String, count: usize| {
        let c = map.entry(key).or_default();
        c.role_models += 1;
        c.gallery_share += 1.0 / n as f64;
        c.match_share += if faces == 0 { 0.0 } else { count as f64 / faces as f64 };
    };
    // Values are counted as compared (trimmed, lower-case), so "Woman" and "woman " are one.
    for (rm, &count) in gallery.role_models.iter().zip(counts) {
        let Some(d) = rm.consented() else {
            cov.undeclared += 1;
            continue;
        };
        cov.declared += 1;
        let gender = d.gender.as_deref().map(declared_key).filter(|v| !v.is_empty());
        let group = d.group.as_deref().map(declared_key).filter(|v| !v.is_empty());
        if let Some(g) = &gender {
            add(&mut cov.gender, g.clone(), count);
        }
        if let Some(g) = &group {
            add(&mut cov.group, g.clone(), count);
        }
        if let (Some(a), Some(b)) = (&gender, &group) {
            add(&mut cov.gender_group, format!("{a} / {b}"), count);
        }
        let mut tags: Vec<String> = d.tags.iter().map(|t| declared_key(t)).filter(|t| !t.is_empty()).collect();
        tags.sort();
        tags.dedup();
        for t in tags {
            add(&mut cov.tags, t, count);
        }
    }
    for (what, map) in [("gender", &cov.gender), ("group", &cov.group), ("gender / group", &cov.gender_group), ("tag", &cov.tags)] {
        for (value, c) in map {
            if c.role_models < THIN_BELOW {
                cov.thin.push(format!(
                    "{what} \"{value}\": {} role model{} (visitors who resemble them have little choice)",
                    c.role_models,
                    if c.role_models == 1 { "" } else { "s" }
                ));
            }
        }
    }
    cov
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::index::{Index, PhotoEntry};
    use crate::gallery::manifest::Declared;
    use crate::gallery::matcher::{Mode, Settings};
    use crate::gallery::{GalleryManifest, RoleModel};
    use crate::vision::embed::normalize;

    fn gallery(vectors: &[(&str, [f32; 3], Option<Declared>)]) -> Gallery {
        let mut role_models = Vec::new();
        let mut photos = Vec::new();
        for (id, v, declared) in vectors {
            role_models.push(RoleModel {
                id: id.to_string(),
                name: id.to_uppercase(),
                role: "r".into(),
                branch: String::new(),
                quote: String::new(),
                story_url: "https://example.org/x".into(),
                photos: vec![format!("{id}.jpg")],
                declared: declared.clone(),
            });
            photos.push(PhotoEntry {
                role_model: id.to_string(),
                file: format!("{id}.jpg"),
                sha256: String::new(),
                eye_distance: 0.0,
                face: None,
                embedding: normalize(v.to_vec()).expect("unit"),
                appearance: None,
            });
        }
        let embedder = crate::vision::EmbedderId { id: "t".into(), sha256: String::new(), dim: 3, appearance: None };
        let index = Index { format: crate::gallery::index::FORMAT, embedder, manifest_sha256: String::new(), photos, rejected: vec![] };
        Gallery::from_parts(std::path::Path::new("."), GalleryManifest { role_models }, index)
            .with_settings(Settings { mode: Mode::Resemblance, gender_cue: 0.0 })
    }

    fn code(v: &[f32]) -> FaceCode {
        FaceCode { identity: normalize(v.to_vec()).expect("unit"), appearance: None }
    }

    fn declared(gender: &str, group: Option<&str>, tags: &[&str]) -> Option<Declared> {
        Some(Declared {
            consent: true,
            gender: Some(gender.into()),
            group: group.map(str::to_string),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        })
    }

    #[test]
    fn names_dominant_and_never_shown_role_models() {
        let g = gallery(&[
            ("a", [1.0, 0.0, 0.0], None),
            ("b", [0.0, 1.0, 0.0], None),
            ("c", [0.0, 0.0, 1.0], None),
            ("d", [-1.0, 0.0, 0.0], None),
        ]);
        // Twenty faces near a, one near b, none near c or d.
        let near_a = code(&[1.0, 0.1, 0.1]);
        let near_b = code(&[0.1, 1.0, 0.0]);
        let mut qs: Vec<Query> = (0..20).map(|_| Query { face: &near_a, exclude: None }).collect();
        qs.push(Query { face: &near_b, exclude: None });
        let a = audit(&g, &qs);
        assert_eq!(a.faces, 21);
        assert_eq!((a.exposure[0].id.as_str(), a.exposure[0].count, a.exposure[0].state), ("a", 20, "dominant"));
        assert!((a.max_share_over_mean - 80.0 / 21.0).abs() < 1e-9, "{}", a.max_share_over_mean);
        assert_eq!((a.exposure[1].id.as_str(), a.exposure[1].state), ("b", "rare"));
        assert_eq!(a.never_shown, 0.5);
        assert_eq!((a.dominant, a.rare), (1, 1));
    }

    #[test]
    fn chance_level_matches_the_multinomial() {
        // 431 faces over 120 role models (the dev split): about 2.5x and 2.7 % by chance alone.
        let (max, never) = chance(120, 431);
        assert!((2.2..=2.8).contains(&max), "{max}");
        assert!((never - 0.0272).abs() < 0.001, "{never}");
        assert_eq!(chance(0, 10), (0.0, 0.0));
        // Many faces per role model: close to even.
        assert!(chance(10, 100_000).0 < 1.05);
    }

    #[test]
    fn leave_one_out_never_matches_the_role_model_itself() {
        let g = gallery(&[("a", [1.0, 0.0, 0.0], None), ("b", [0.9, 0.1, 0.0], None), ("c", [0.0, 1.0, 0.0], None)]);
        let own = code(&g.index.photos[0].embedding);
        let a = audit(&g, &[Query { face: &own, exclude: Some(0) }]);
        let b = a.exposure.iter().find(|e| e.id == "b").expect("b");
        assert_eq!(b.count, 1, "{:?}", a.exposure);
    }

    #[test]
    fn coverage_counts_only_consented_declarations() {
        let mut no_consent = declared("man", Some("x"), &[]);
        if let Some(d) = no_consent.as_mut() {
            d.consent = false;
        }
        let g = gallery(&[
            ("a", [1.0, 0.0, 0.0], declared("Woman", Some("Black British"), &["LGBTQ+"])),
            ("b", [0.0, 1.0, 0.0], declared("woman ", Some("black  british"), &[])),
            ("c", [0.0, 0.0, 1.0], declared("man", None, &[])),
            ("d", [-1.0, 0.0, 0.0], no_consent),
            ("e", [0.0, -1.0, 0.0], None),
        ]);
        let q = code(&[1.0, 0.1, 0.0]);
        let a = audit(&g, &[Query { face: &q, exclude: None }]);
        let c = &a.coverage;
        assert_eq!((c.declared, c.undeclared), (3, 2));
        assert_eq!(c.gender["woman"].role_models, 2);
        assert!((c.gender["woman"].gallery_share - 0.4).abs() < 1e-9);
        assert_eq!(c.gender["woman"].match_share, 1.0);
        assert_eq!(c.gender["man"].match_share, 0.0);
        assert_eq!(c.group["black british"].role_models, 2);
        assert_eq!(c.gender_group["woman / black british"].role_models, 2);
        assert_eq!(c.tags["lgbtq+"].role_models, 1);
        assert!(!c.gender.contains_key("man") || c.gender["man"].role_models == 1, "the unconsented 'man' is not counted");
        assert!(c.thin.iter().any(|t| t.starts_with("gender \"man\": 1 role model")), "{:?}", c.thin);
        assert!(c.thin.iter().any(|t| t.starts_with("tag \"lgbtq+\"")), "{:?}", c.thin);
        assert!(c.thin.iter().any(|t| t.starts_with("gender \"woman\": 2 role models")), "{:?}", c.thin);
        assert_eq!(c.thin.len(), 5, "{:?}", c.thin);
    }
}
