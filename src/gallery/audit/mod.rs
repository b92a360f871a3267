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
//! Within declared groups: the same shares compared inside each declared gender, group and
//! gender / group (a population with more White visitors should see more White role models, so
//! the spread inside a group is what matters), with the level chance alone gives for that many
//! matches over that many role models.
//!
//! Likely hubs: each role model's *expected* share, from the booth's scores softened over all
//! role models (`exp((score - best) / T)`, T = [`SOFT_POINTS`] look-alike points) instead of
//! counting only the top match. On the UTKFace dev split this predicts which photos a large
//! population would over-show much better than the counts of a small reference folder do
//! (within-group Spearman 0.57 vs 0.31 with 100 reference faces, 0.68 vs 0.55 with 431), so a
//! role model whose expected share is at least [`LIKELY_HUB`] x its declared group's mean is
//! named as a likely hub. Photo measures (sharpness, pose, light, size) do not predict it
//! (`docs/matching-exposure.md`).
//!
//! Variety: with [`AuditSettings::variety`] on, the reference faces also meet the booth's
//! variety policy ([`super::variety`]) in several shuffled orders, as a booth would meet them,
//! and the exposure numbers are given again, as mean and spread over the orders.
//!
//! Coverage: only from the fields role models declared themselves, with consent
//! (`[role_model.declared]` in `gallery.toml`): how many role models declared each gender,
//! group and tag, which share of the reference faces each of those sets receives, and which
//! groups have only one or two role models, so that a visitor who resembles them has little
//! choice. Nothing is inferred about anybody: an undeclared role model is counted as such.

mod coverage;
mod groups;
mod scores;
mod simulate;

use std::collections::BTreeMap;

use serde::Serialize;

use super::variety::VarietySettings;
use super::Gallery;
use crate::vision::embed::FaceCode;
use groups::{declared_sets, over_peer_mean, peer_keys, spread_within, worst_of};
use scores::{score_query, QueryScores};
pub use simulate::{chance, simulate_variety, visitor_order};

/// Below this fraction of the mean share a role model counts as rarely shown.
pub const RARE: f64 = 0.25;
/// Above this multiple of the mean share a role model counts as dominant (the booth's goal).
pub const DOMINANT: f64 = 2.0;
/// A declared group with fewer role models than this is called thin.
pub const THIN_BELOW: usize = 3;
/// Softness of the expected shares, in look-alike percentage points (chosen on the dev split:
/// 5 to 15 points predict alike, 3 and 30 worse).
pub const SOFT_POINTS: f32 = 8.0;
/// An expected share at least this many times the declared group's mean names a likely hub.
pub const LIKELY_HUB: f64 = 1.5;

/// What the audit simulates besides the plain ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuditSettings {
    /// The booth's variety policy (off: not simulated).
    pub variety: VarietySettings,
    /// Shuffled orders the reference faces are met in (each order's seed is its number).
    pub seeds: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings { variety: VarietySettings::default(), seeds: 10 }
    }
}

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
    /// The declared "gender / group" (or the one declared) whose role models it is compared
    /// with; None when it declared neither (compared with the whole gallery).
    pub peers: Option<String>,
    /// Its count over the mean count of its peers.
    pub share_over_peer_mean: f64,
    /// Its expected share (see the module docs) over the mean.
    pub expected_share_over_mean: f64,
    /// Its expected share over its peers' mean expected share.
    pub expected_share_over_peer_mean: f64,
    /// Expected share at least [`LIKELY_HUB`] x its peers' mean.
    pub likely_hub: bool,
    /// Mean count over the shuffled orders with the variety policy (None: not simulated).
    pub count_with_variety: Option<f64>,
}

/// Mean and standard deviation over the shuffled orders.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Spread {
    pub mean: f64,
    pub sd: f64,
}

impl Spread {
    /// Mean and population standard deviation of `values` (0, 0 when empty).
    pub fn of(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        Spread { mean, sd: (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt() }
    }
}

/// How evenly the role models of one declared value are shown, compared with each other.
#[derive(Debug, Clone, Serialize)]
pub struct GroupExposure {
    /// "gender", "group" or "gender / group".
    pub kind: &'static str,
    pub value: String,
    pub role_models: usize,
    /// Reference faces whose top match declared this value.
    pub matches: usize,
    /// matches / role models.
    pub expected_per_role_model: f64,
    /// The most-shown role model of the group and its count over the group's mean count.
    pub most_shown: String,
    pub max_over_mean: f64,
    pub never: usize,
    /// Shown, but less than [`RARE`] x the group's mean.
    pub rare: usize,
    /// The median most-shown over the mean for a perfectly even matcher with this many matches
    /// over this many role models.
    pub chance_max_over_mean: f64,
    /// The same with the variety policy, over the shuffled orders (None: not simulated).
    pub with_variety: Option<GroupVariety>,
}

/// A group's exposure with the variety policy.
#[derive(Debug, Clone, Serialize)]
pub struct GroupVariety {
    pub matches: Spread,
    pub max_over_mean: Spread,
    pub never: Spread,
}

/// The exposure numbers with the variety policy, over the shuffled orders.
#[derive(Debug, Clone, Serialize)]
pub struct VarietyAudit {
    pub margin_points: f32,
    pub seeds: usize,
    pub max_share_over_mean: Spread,
    pub never_shown: Spread,
    /// The highest most-shown over mean among the declared gender / group values (gender or
    /// group alone when nobody declared both) with at least two role models.
    pub worst_group_max_over_mean: Spread,
    /// Fraction of faces whose main match was not their best match by score.
    pub replaced: f64,
    /// For those: median look-alike points between the best match and the one shown.
    pub points_lost_median: f64,
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
    /// Exposure within each declared gender, group and gender / group.
    pub groups: Vec<GroupExposure>,
    /// The worst of `groups` (gender / group when declared, with at least two role models).
    pub worst_group_max_over_mean: f64,
    /// The same numbers with the booth's variety policy (None: not simulated, e.g. without a
    /// reference folder).
    pub variety: Option<VarietyAudit>,
    pub coverage: Coverage,
}

/// Audits `gallery` against `queries` with the plain ranking only (see the module docs).
pub fn audit(gallery: &Gallery, queries: &[Query]) -> Audit {
    audit_with(gallery, queries, &AuditSettings { variety: VarietySettings::OFF, seeds: 0 })
}

/// Audits `gallery` against `queries` (see the module docs). The variety policy is simulated
/// only when it is on, `seeds` > 0, and no query leaves a role model out.
pub fn audit_with(gallery: &Gallery, queries: &[Query], settings: &AuditSettings) -> Audit {
    let n = gallery.role_models.len();
    let scores: Vec<QueryScores> = queries.iter().filter_map(|q| score_query(gallery, q)).collect();
    let mut counts = vec![0usize; n];
    let mut expected = vec![0f64; n];
    for s in &scores {
        counts[s.order[0]] += 1;
        for (e, p) in expected.iter_mut().zip(&s.soft) {
            *e += p;
        }
    }
    let faces: usize = counts.iter().sum();
    let ratio = |c: f64| if faces == 0 { 0.0 } else { c / faces as f64 * n as f64 };
    let keys = peer_keys(gallery);
    let countf: Vec<f64> = counts.iter().map(|c| *c as f64).collect();
    let peer_share = over_peer_mean(&countf, &keys);
    let peer_expected = over_peer_mean(&expected, &keys);

    let sets = declared_sets(gallery);
    let simulate = settings.variety.enabled && settings.seeds > 0 && queries.iter().all(|q| q.exclude.is_none()) && !scores.is_empty();
    let runs = if simulate { simulate::variety_runs(gallery, settings, &scores) } else { simulate::VarietyRuns::default() };
    let (variety_counts, replaced, lost) = (runs.counts, runs.replaced, runs.lost);
    let per_seed = |f: &dyn Fn(&[f64]) -> f64| Spread::of(&variety_counts.iter().map(|c| f(c)).collect::<Vec<_>>());

    let mut exposure: Vec<Exposure> = gallery
        .role_models
        .iter()
        .enumerate()
        .map(|(i, rm)| {
            let count = counts[i];
            let r = ratio(count as f64);
            let state = if count == 0 {
                "never"
            } else if r < RARE {
                "rare"
            } else if r > DOMINANT {
                "dominant"
            } else {
                "even"
            };
            Exposure {
                id: rm.id.clone(),
                name: rm.name.clone(),
                count,
                share_over_mean: r,
                state,
                peers: keys[i].clone(),
                share_over_peer_mean: peer_share[i],
                expected_share_over_mean: ratio(expected[i]),
                expected_share_over_peer_mean: peer_expected[i],
                likely_hub: faces > 0 && peer_expected[i] >= LIKELY_HUB,
                count_with_variety: simulate.then(|| variety_counts.iter().map(|c| c[i]).sum::<f64>() / variety_counts.len() as f64),
            }
        })
        .collect();
    exposure.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));

    let groups: Vec<GroupExposure> = sets
        .iter()
        .map(|(kind, value, members)| {
            let matches: usize = members.iter().map(|i| counts[*i]).sum();
            let (most, max, never, rare) = spread_within(&countf, members);
            let with_variety = simulate.then(|| GroupVariety {
                matches: per_seed(&|c: &[f64]| members.iter().map(|i| c[*i]).sum()),
                max_over_mean: per_seed(&|c: &[f64]| spread_within(c, members).1),
                never: per_seed(&|c: &[f64]| spread_within(c, members).2 as f64),
            });
            GroupExposure {
                kind,
                value: value.clone(),
                role_models: members.len(),
                matches,
                expected_per_role_model: matches as f64 / members.len().max(1) as f64,
                most_shown: gallery.role_models[most].id.clone(),
                max_over_mean: max,
                never,
                rare,
                chance_max_over_mean: chance(members.len(), matches).0,
                with_variety,
            }
        })
        .collect();

    let variety = simulate.then(|| {
        let mut lost = lost.clone();
        lost.sort_by(f64::total_cmp);
        VarietyAudit {
            margin_points: settings.variety.margin,
            seeds: settings.seeds,
            max_share_over_mean: per_seed(&|c: &[f64]| ratio(c.iter().copied().fold(0.0, f64::max))),
            never_shown: per_seed(&|c: &[f64]| c.iter().filter(|v| **v == 0.0).count() as f64 / n.max(1) as f64),
            worst_group_max_over_mean: per_seed(&|c: &[f64]| worst_of(&sets, c)),
            replaced: replaced as f64 / (faces * settings.seeds).max(1) as f64,
            points_lost_median: lost.get(lost.len() / 2).copied().unwrap_or(0.0),
        }
    });

    let coverage = coverage::coverage(gallery, &counts, faces);
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
        worst_group_max_over_mean: worst_of(&sets, &countf),
        groups,
        variety,
        coverage,
    }
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
                portrait: None,
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
    fn within_group_exposure_expected_shares_and_variety() {
        // Two declared groups of two: a and b (woman / x) are near-identical, the visitors all
        // look most like a (a hair closer than b); c and d (man / y) are far away.
        let wx = || declared("woman", Some("x"), &[]);
        let my = || declared("man", Some("y"), &[]);
        let g = gallery(&[
            ("a", [1.0, 0.02, 0.0], wx()),
            ("b", [1.0, -0.02, 0.05], wx()),
            ("c", [0.0, 1.0, 0.0], my()),
            ("d", [0.0, 0.0, 1.0], my()),
        ]);
        let near_a = code(&[1.0, 0.02, 0.0]);
        let qs: Vec<Query> = (0..20).map(|_| Query { face: &near_a, exclude: None }).collect();
        let plain = audit(&g, &qs);
        assert!(plain.variety.is_none());
        let wx_group = plain.groups.iter().find(|x| x.kind == "gender / group" && x.value == "woman / x").expect("woman / x");
        assert_eq!((wx_group.role_models, wx_group.matches, wx_group.most_shown.as_str(), wx_group.never), (2, 20, "a", 1));
        assert!((wx_group.max_over_mean - 2.0).abs() < 1e-9, "{wx_group:?}");
        assert!(wx_group.chance_max_over_mean >= 1.0);
        let my_group = plain.groups.iter().find(|x| x.value == "man / y").expect("man / y");
        assert_eq!((my_group.matches, my_group.max_over_mean), (0, 0.0));
        assert_eq!(plain.groups.iter().filter(|x| x.kind == "gender").count(), 2);
        assert!((plain.worst_group_max_over_mean - 2.0).abs() < 1e-9);
        // Expected shares: a and b nearly tie, so both expect about half; the sum is the faces.
        let a = plain.exposure.iter().find(|e| e.id == "a").expect("a");
        let b = plain.exposure.iter().find(|e| e.id == "b").expect("b");
        let total: f64 = plain.exposure.iter().map(|e| e.expected_share_over_mean).sum();
        assert!((total - 4.0).abs() < 1e-6, "{total}");
        assert!(a.expected_share_over_mean > 1.0 && b.expected_share_over_mean > 1.0, "{a:?} {b:?}");
        assert_eq!((a.peers.as_deref(), a.share_over_peer_mean), (Some("woman / x"), 2.0));
        // Resemblance mode with near-ties: the variety policy shares the 20 faces between a and b
        // in every order, never with the far-away c or d.
        let settings = AuditSettings { variety: VarietySettings::default(), seeds: 3 };
        let v = audit_with(&g, &qs, &settings);
        let va = v.variety.as_ref().expect("simulated");
        assert_eq!(va.seeds, 3);
        let with = |id: &str| v.exposure.iter().find(|e| e.id == id).and_then(|e| e.count_with_variety).expect("count");
        assert!((with("a") + with("b") - 20.0).abs() < 1e-9 && with("c") == 0.0 && with("d") == 0.0);
        assert!((with("a") - 10.0).abs() <= 1.0, "{}", with("a"));
        assert!(va.replaced > 0.3 && va.replaced < 0.7, "{va:?}");
        let wxv = v.groups.iter().find(|x| x.value == "woman / x").and_then(|x| x.with_variety.as_ref()).expect("variety");
        assert!(wxv.max_over_mean.mean <= 1.1 && wxv.never.mean == 0.0, "{wxv:?}");
        // The plain numbers are the same with or without the simulation.
        assert_eq!(v.exposure.iter().map(|e| e.count).sum::<usize>(), 20);
        assert_eq!(v.max_share_over_mean, plain.max_share_over_mean);
        // Leave-one-out queries are not simulated.
        let own = code(&g.index.photos[0].embedding);
        assert!(audit_with(&g, &[Query { face: &own, exclude: Some(0) }], &settings).variety.is_none());
    }

    #[test]
    fn spread_is_the_mean_and_population_sd() {
        let s = Spread::of(&[1.0, 3.0]);
        assert_eq!((s.mean, s.sd), (2.0, 1.0));
        assert_eq!((Spread::of(&[]).mean, Spread::of(&[]).sd), (0.0, 0.0));
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
