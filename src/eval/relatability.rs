//! `eval relatability`: how often the booth's top role model shares the visitor's perceived
//! gender and ethnicity group on the UTKFace protocol ([`super::utk`]), with the booth's variety
//! policy simulated over shuffled visitor orders, and the exposure of the large population.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::utk::{embed_utk, group_name, utk_gallery, UtkFaces, UtkLabel};
use crate::gallery::audit::{self, Audit, AuditSettings, GroupExposure, Query, Spread};
use crate::gallery::likeness;
use crate::gallery::matcher::{self, Mode, Settings};
use crate::gallery::variety::VarietySettings;
use crate::gallery::Gallery;
use crate::vision::embed::FaceCode;
use crate::vision::{self, Vision};

/// Per-group relatability numbers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupStats {
    pub visitors: usize,
    pub gender: f64,
    pub group: f64,
    pub both: f64,
    pub top3_both: f64,
}

/// What `eval relatability` measures besides the protocol's plain numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelatabilityOptions {
    /// The booth's variety policy, simulated over visitors in `seeds` shuffled orders (off: not
    /// simulated).
    pub variety: VarietySettings,
    pub seeds: usize,
    /// Also match the large population: every adult face (18-60, race 0-3) of the folder that
    /// is not in the gallery (about 1,900 on the dev half; the protocol's visitors among them).
    pub population: bool,
    /// No progress bar (`--json`, and by default: a library call draws nothing).
    pub quiet: bool,
}

impl Default for RelatabilityOptions {
    fn default() -> Self {
        RelatabilityOptions { variety: VarietySettings::default(), seeds: 10, population: true, quiet: true }
    }
}

/// The protocol's numbers with the variety policy: mean and spread over the shuffled orders.
#[derive(Debug, Clone, Serialize)]
pub struct VarietyRelatability {
    pub margin_points: f32,
    pub seeds: usize,
    pub gender: Spread,
    pub group: Spread,
    pub both: Spread,
    /// "Both" anywhere on the card: the main match and the next two by score.
    pub top3_both: Spread,
    pub worst_group_both: Spread,
    pub max_share_over_mean: Spread,
    pub never_shown: Spread,
}

/// Exposure on the large population (see [`RelatabilityOptions::population`]).
#[derive(Debug, Clone, Serialize)]
pub struct PopulationExposure {
    pub faces_without_face: usize,
    /// The audit of the gallery against the population (faces, exposure, within-group
    /// exposure, likely hubs, the variety simulation).
    pub audit: Audit,
    /// Role models never shown in declared gender / groups with at least 5 matches per role
    /// model (plain ranking; with variety: mean over the orders).
    pub never_in_groups_with_5_expected: usize,
    pub never_in_groups_with_5_expected_with_variety: Option<f64>,
}

/// Result of `eval relatability`.
#[derive(Debug, Clone, Serialize)]
pub struct RelatabilityReport {
    pub role_models: usize,
    pub visitors: usize,
    pub visitors_without_face: usize,
    pub gender: f64,
    pub group: f64,
    pub both: f64,
    pub top3_both: f64,
    pub worst_group_both: f64,
    pub worst_group: String,
    pub max_share_over_mean: f64,
    pub never_shown: f64,
    /// The same two numbers for a perfectly even matcher (uniformly random role model) with
    /// this many visitors: the floor that chance alone sets (see `gallery::audit::chance`).
    pub chance_max_share_over_mean: f64,
    pub chance_never_shown: f64,
    pub per_group: BTreeMap<String, GroupStats>,
    /// Exposure within each declared gender, group and gender / group for the protocol's
    /// visitors (see `gallery::audit::GroupExposure`), and its worst gender / group.
    pub within_group: Vec<GroupExposure>,
    pub worst_within_group_max_over_mean: f64,
    /// The booth's variety policy over shuffled visitor orders (None: not simulated).
    pub variety: Option<VarietyRelatability>,
    /// The large population (None: not asked for).
    pub population: Option<PopulationExposure>,
    pub embedder: String,
    /// The matcher mode and gender-cue weight used.
    pub matcher: Mode,
    pub gender_cue: f32,
    /// The kind words' calibration (see `gallery::likeness`).
    pub likeness: LikenessCalibration,
}

/// How alike the best match of a visitor who is not in the gallery is: the calibration of the
/// kind words (`gallery::likeness`) on the protocol's visitors, checked on the held-out rest.
#[derive(Debug, Clone, Serialize)]
pub struct LikenessCalibration {
    /// The protocol's visitors with a face: the calibration set.
    pub visitors: usize,
    /// Quantiles (q, similarity) of their best match's shown similarity.
    pub quantiles: Vec<(f64, f32)>,
    /// The thresholds these visitors give (at `gallery::likeness::BANDS`).
    pub calibrated: [f32; 3],
    /// The thresholds the booth uses for this matcher mode.
    pub built_in: [f32; 3],
    /// The population's adults that are neither role models nor protocol visitors (held out);
    /// 0 without the population.
    pub held_out: usize,
    /// The share of the held-out visitors that gets each word (weakest first) with the calibrated
    /// and with the built-in thresholds.
    pub held_out_shares: [f64; 4],
    pub held_out_shares_built_in: [f64; 4],
}

/// The best match's shown similarity for each face, against `gallery`.
fn best_similarities<'a>(gallery: &Gallery, faces: impl Iterator<Item = &'a FaceCode>, settings: Settings) -> Vec<f32> {
    faces
        .filter_map(|e| {
            let s = matcher::score_all(e, gallery.candidates(), gallery.hubs(), settings);
            s.order(gallery.candidates()).first().map(|i| s.similarity[*i])
        })
        .collect()
}

/// The kind words' calibration from the protocol's visitors, checked on the held-out population.
fn likeness_calibration(faces: &UtkFaces, gallery: &Gallery, settings: Settings) -> LikenessCalibration {
    let best = best_similarities(gallery, faces.visitors.iter().filter_map(|(_, _, e)| e.as_ref()), settings);
    let calibrated = likeness::calibrate(&best).unwrap_or([f32::NAN; 3]);
    let built_in = likeness::thresholds(settings.mode);
    let protocol: std::collections::HashSet<&str> = faces.visitors.iter().map(|(n, _, _)| n.as_str()).collect();
    let held: Vec<f32> = faces
        .population
        .as_ref()
        .map(|pop| {
            let rest = pop.iter().filter(|(n, _, _)| !protocol.contains(n.as_str())).filter_map(|(_, _, e)| e.as_ref());
            best_similarities(gallery, rest, settings)
        })
        .unwrap_or_default();
    LikenessCalibration {
        visitors: best.len(),
        quantiles: [0.05, 0.1, 0.25, 0.5, 0.6, 0.75, 0.9, 0.95]
            .iter()
            .map(|q| (*q, likeness::quantile(&best, *q).unwrap_or(f32::NAN)))
            .collect(),
        calibrated,
        built_in,
        held_out: held.len(),
        held_out_shares: likeness::shares(&held, calibrated),
        held_out_shares_built_in: likeness::shares(&held, built_in),
    }
}

/// `eval relatability --utk DIR` with the default [`RelatabilityOptions`] (variety over 10
/// orders, the large population).
pub fn eval_relatability(vision: &Vision, utk_dir: &Path, jobs: usize, settings: Settings) -> anyhow::Result<RelatabilityReport> {
    eval_relatability_with(vision, utk_dir, jobs, settings, &RelatabilityOptions::default())
}

/// `eval relatability --utk DIR`: the protocol of `../shared/data/README.md`, matched with the
/// booth's matcher. Each role model declares the gender and group of its UTKFace label (as if
/// all 120 had filled in `[role_model.declared]` with consent): the gender cue reads the
/// gender, the variety policy and the within-group exposure read both (which role models share
/// the exposure); the visitors' labels are only used for scoring.
pub fn eval_relatability_with(
    vision: &Vision,
    utk_dir: &Path,
    jobs: usize,
    settings: Settings,
    opts: &RelatabilityOptions,
) -> anyhow::Result<RelatabilityReport> {
    let faces = embed_utk(vision, utk_dir, jobs, opts.population, opts.quiet)?;
    Ok(relatability_from(&faces, &vision.embedder_id, settings, opts))
}

/// Per-visitor outcome: (visitor label, top role model's label, "both" in the card).
fn outcome(l: UtkLabel, top: UtkLabel, card_both: bool) -> [usize; 5] {
    [
        1,
        usize::from(top.gender == l.gender),
        usize::from(top.race == l.race),
        usize::from(top.gender == l.gender && top.race == l.race),
        usize::from(card_both),
    ]
}

/// (gender, group, both, top-3 both, worst group's both and its name, per group) from per-visitor
/// outcomes keyed by the visitor's (gender, race).
fn summarize(per: &BTreeMap<(u8, u8), [usize; 5]>) -> ([f64; 4], f64, String, BTreeMap<String, GroupStats>) {
    let total: [usize; 5] = per.values().fold([0; 5], |mut a, c| {
        for i in 0..5 {
            a[i] += c[i];
        }
        a
    });
    let frac = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_group: BTreeMap<String, GroupStats> = per
        .iter()
        .map(|((g, r), c)| {
            (
                group_name(*g, *r),
                GroupStats {
                    visitors: c[0],
                    gender: frac(c[1], c[0]),
                    group: frac(c[2], c[0]),
                    both: frac(c[3], c[0]),
                    top3_both: frac(c[4], c[0]),
                },
            )
        })
        .collect();
    let (worst_group, worst) = per_group.iter().map(|(k, s)| (k.clone(), s.both)).min_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or_default();
    (
        [frac(total[1], total[0]), frac(total[2], total[0]), frac(total[3], total[0]), frac(total[4], total[0])],
        worst,
        worst_group,
        per_group,
    )
}

/// The report from embedded faces (see [`eval_relatability_with`]).
pub fn relatability_from(
    faces: &UtkFaces,
    embedder: &vision::EmbedderId,
    settings: Settings,
    opts: &RelatabilityOptions,
) -> RelatabilityReport {
    let (gallery, labels) = utk_gallery(faces, embedder);
    let gallery = gallery.with_settings(settings);
    let label_of = |index: usize| labels[&gallery.role_models[index].id];
    let visitors: Vec<(UtkLabel, &FaceCode)> = faces.visitors.iter().filter_map(|(_, l, e)| Some((*l, e.as_ref()?))).collect();
    let without = faces.visitors.len() - visitors.len();
    let scored: Vec<(matcher::Scored, Vec<usize>)> = visitors
        .iter()
        .map(|(_, e)| {
            let s = matcher::score_all(e, gallery.candidates(), gallery.hubs(), settings);
            let o = s.order(gallery.candidates());
            (s, o)
        })
        .collect();
    // The card: the main match and the next best by score, three in all.
    let card_both = |l: UtkLabel, main: usize, order: &[usize]| {
        std::iter::once(main).chain(order.iter().copied().filter(|i| *i != main)).take(3).any(|i| {
            let t = label_of(i);
            t.gender == l.gender && t.race == l.race
        })
    };
    let mut per: BTreeMap<(u8, u8), [usize; 5]> = BTreeMap::new();
    for ((l, _), (_, order)) in visitors.iter().zip(&scored) {
        let o = outcome(*l, label_of(order[0]), card_both(*l, order[0], order));
        let c = per.entry((l.gender, l.race)).or_default();
        for i in 0..5 {
            c[i] += o[i];
        }
    }
    let ([gender, group, both, top3_both], worst, worst_group, per_group) = summarize(&per);

    let audit_settings = AuditSettings { variety: opts.variety, seeds: opts.seeds };
    let queries: Vec<Query> = visitors.iter().map(|(_, e)| Query { face: e, exclude: None }).collect();
    let protocol = audit::audit_with(&gallery, &queries, &audit_settings);

    let variety = (opts.variety.enabled && opts.seeds > 0 && !scored.is_empty()).then(|| {
        let pairs: Vec<(&matcher::Scored, &[usize])> = scored.iter().map(|(s, o)| (s, o.as_slice())).collect();
        let mut rows: Vec<[f64; 7]> = Vec::new();
        for seed in 0..opts.seeds {
            let run = audit::simulate_variety(&gallery, opts.variety, &pairs, &audit::visitor_order(pairs.len(), seed as u64));
            let mut per: BTreeMap<(u8, u8), [usize; 5]> = BTreeMap::new();
            let mut counts = vec![0usize; gallery.role_models.len()];
            for (((l, _), (_, order)), (pick, _, _)) in visitors.iter().zip(&scored).zip(&run) {
                counts[*pick] += 1;
                let o = outcome(*l, label_of(*pick), card_both(*l, *pick, order));
                let c = per.entry((l.gender, l.race)).or_default();
                for i in 0..5 {
                    c[i] += o[i];
                }
            }
            let ([g, gr, b, t3], w, _, _) = summarize(&per);
            let n = counts.len().max(1) as f64;
            let max = counts.iter().copied().max().unwrap_or(0) as f64 / run.len().max(1) as f64 * n;
            let never = counts.iter().filter(|c| **c == 0).count() as f64 / n;
            rows.push([g, gr, b, t3, w, max, never]);
        }
        let col = |i: usize| Spread::of(&rows.iter().map(|r| r[i]).collect::<Vec<_>>());
        VarietyRelatability {
            margin_points: opts.variety.margin,
            seeds: opts.seeds,
            gender: col(0),
            group: col(1),
            both: col(2),
            top3_both: col(3),
            worst_group_both: col(4),
            max_share_over_mean: col(5),
            never_shown: col(6),
        }
    });

    let population = faces.population.as_ref().map(|pop| population_exposure(&gallery, pop, &audit_settings));

    let n_rm = gallery.role_models.len().max(1);
    let matched = visitors.len().max(1);
    let counts: Vec<usize> = (0..gallery.role_models.len()).map(|i| scored.iter().filter(|(_, o)| o[0] == i).count()).collect();
    let max_count = counts.iter().copied().max().unwrap_or(0);
    let (chance_max_share_over_mean, chance_never_shown) = crate::gallery::audit::chance(gallery.role_models.len(), visitors.len());
    RelatabilityReport {
        role_models: gallery.role_models.len(),
        visitors: visitors.len(),
        visitors_without_face: without,
        gender,
        group,
        both,
        top3_both,
        worst_group_both: worst,
        worst_group,
        max_share_over_mean: (max_count as f64 / matched as f64) / (1.0 / n_rm as f64),
        never_shown: counts.iter().filter(|c| **c == 0).count() as f64 / n_rm as f64,
        chance_max_share_over_mean,
        chance_never_shown,
        per_group,
        worst_within_group_max_over_mean: protocol.worst_group_max_over_mean,
        within_group: protocol.groups,
        variety,
        population,
        embedder: embedder.id.clone(),
        matcher: settings.mode,
        gender_cue: settings.gender_cue,
        likeness: likeness_calibration(faces, &gallery, settings),
    }
}

/// The audit of `gallery` against the large population `pop` (see
/// [`RelatabilityOptions::population`]).
fn population_exposure(
    gallery: &Gallery,
    pop: &[(String, UtkLabel, Option<FaceCode>)],
    audit_settings: &AuditSettings,
) -> PopulationExposure {
    let codes: Vec<&FaceCode> = pop.iter().filter_map(|(_, _, e)| e.as_ref()).collect();
    let queries: Vec<Query> = codes.iter().map(|e| Query { face: e, exclude: None }).collect();
    let audit = audit::audit_with(gallery, &queries, audit_settings);
    let pairs = |g: &&GroupExposure| g.kind == "gender / group" && g.expected_per_role_model >= 5.0;
    let never_in_groups_with_5_expected = audit.groups.iter().filter(pairs).map(|g| g.never).sum();
    let never_in_groups_with_5_expected_with_variety = audit.variety.as_ref().map(|_| {
        // Groups with >= 5 expected matches per role model with variety (mean over orders).
        audit
            .groups
            .iter()
            .filter(|g| g.kind == "gender / group")
            .filter_map(|g| g.with_variety.as_ref().filter(|v| v.matches.mean / g.role_models.max(1) as f64 >= 5.0))
            .map(|v| v.never.mean)
            .sum()
    });
    PopulationExposure {
        faces_without_face: pop.len() - codes.len(),
        audit,
        never_in_groups_with_5_expected,
        never_in_groups_with_5_expected_with_variety,
    }
}
