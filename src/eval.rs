//! Evaluation commands: face-verification accuracy on LFW-format pair lists, and the
//! relatability protocol on UTKFace (`../shared/data/README.md`).
//!
//! Both use the same pipeline and the same matcher as the booth. Images are embedded in
//! parallel (`--jobs`), each worker sharing the loaded models.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;

use crate::gallery::audit::{self, Audit, AuditSettings, GroupExposure, Query, Spread};
use crate::gallery::index::{Index, PhotoEntry};
use crate::gallery::likeness;
use crate::gallery::manifest::Declared;
use crate::gallery::matcher::{self, Mode, Settings};
use crate::gallery::variety::VarietySettings;
use crate::gallery::{Gallery, GalleryManifest, RoleModel};
use crate::util::Progress;
use crate::vision::embed::FaceCode;
pub use crate::vision::FacePolicy;
use crate::vision::{self, choose_face, Vision};

/// Pads an image by `pad` pixels on every side, replicating the border.
pub fn pad_replicate(img: &vision::RgbImage, pad: u32) -> vision::RgbImage {
    let (w, h) = img.dimensions();
    vision::RgbImage::from_fn(w + 2 * pad, h + 2 * pad, |x, y| {
        let sx = (x as i64 - pad as i64).clamp(0, w as i64 - 1) as u32;
        let sy = (y as i64 - pad as i64).clamp(0, h as i64 - 1) as u32;
        *img.get_pixel(sx, sy)
    })
}

/// Embeds the chosen face of each image (None: unreadable or no face), in parallel; counts each
/// image done on `progress`.
pub fn embed_many(
    vision: &Vision,
    paths: &[PathBuf],
    policy: FacePolicy,
    pad: u32,
    jobs: usize,
    progress: &Progress,
) -> Vec<Option<FaceCode>> {
    let jobs = jobs.max(1);
    let mut results: Vec<Option<FaceCode>> = vec![None; paths.len()];
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(path) = paths.get(i) else { break };
                let e = embed_path(vision, path, policy, pad).ok();
                progress.inc(1);
                if let Ok(mut d) = done.lock() {
                    d.push((i, e));
                }
            });
        }
    });
    for (i, e) in done.into_inner().unwrap_or_default() {
        results[i] = e;
    }
    results
}

fn embed_path(vision: &Vision, path: &Path, policy: FacePolicy, pad: u32) -> anyhow::Result<FaceCode> {
    let img = vision::image::load(path, vision::image::DEFAULT_MAX_PIXELS)?;
    let img = if pad > 0 { pad_replicate(&img, pad) } else { img };
    let faces = vision.faces(&img)?;
    let face = choose_face(&faces, img.width(), img.height(), policy).context("no face")?;
    vision.describe_face(&img, face)
}

// ---------------------------------------------------------------------------------------------
// LFW pairs

/// One pair: two image paths and whether they show the same person.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub a: PathBuf,
    pub b: PathBuf,
    pub same: bool,
    pub fold: usize,
}

/// Parses an LFW pairs file (`N` then N same + N different lines, or `FOLDS N` then per fold
/// N same + N different). Paths are `ROOT/NAME/NAME_XXXX.jpg`.
pub fn parse_pairs(text: &str, root: &Path) -> anyhow::Result<(Vec<Pair>, usize)> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<usize> = lines
        .next()
        .context("empty pairs file")?
        .split_whitespace()
        .map(|t| t.parse::<usize>())
        .collect::<Result<_, _>>()
        .context("pairs header must be `N` or `FOLDS N`")?;
    let (folds, n) = match header.as_slice() {
        [n] => (1, *n),
        [f, n] => (*f, *n),
        _ => bail!("pairs header must be `N` or `FOLDS N`"),
    };
    let img = |name: &str, idx: &str| -> anyhow::Result<PathBuf> {
        let i: u32 = idx.parse().with_context(|| format!("bad image number {idx:?}"))?;
        Ok(root.join(name).join(format!("{name}_{i:04}.jpg")))
    };
    let mut pairs = Vec::with_capacity(folds * n * 2);
    for fold in 0..folds {
        for k in 0..2 * n {
            let line = lines.next().with_context(|| format!("pairs file ends early (fold {fold}, line {k})"))?;
            let t: Vec<&str> = line.split_whitespace().collect();
            let pair = match t.as_slice() {
                [name, i, j] => Pair { a: img(name, i)?, b: img(name, j)?, same: true, fold },
                [n1, i, n2, j] => Pair { a: img(n1, i)?, b: img(n2, j)?, same: false, fold },
                _ => bail!("bad pairs line {line:?}"),
            };
            pairs.push(pair);
        }
    }
    Ok((pairs, folds))
}

/// Threshold that maximises accuracy on (similarity, same) samples, and that accuracy.
pub fn best_threshold(samples: &[(f32, bool)]) -> (f32, f64) {
    let mut sorted: Vec<(f32, bool)> = samples.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = sorted.len().max(1) as f64;
    // Threshold below everything: all predicted same.
    let mut correct = sorted.iter().filter(|s| s.1).count() as i64;
    let (mut best_t, mut best_c) = (sorted.first().map(|s| s.0 - 1e-3).unwrap_or(0.0), correct);
    for i in 0..sorted.len() {
        // Move sample i to "different".
        correct += if sorted[i].1 { -1 } else { 1 };
        if i + 1 < sorted.len() && sorted[i + 1].0 == sorted[i].0 {
            continue;
        }
        if correct > best_c {
            best_c = correct;
            best_t = match sorted.get(i + 1) {
                Some(next) => (sorted[i].0 + next.0) / 2.0,
                None => sorted[i].0 + 1e-3,
            };
        }
    }
    (best_t, best_c as f64 / n)
}

fn accuracy(samples: &[(f32, bool)], t: f32) -> f64 {
    samples.iter().filter(|(s, same)| (*s > t) == *same).count() as f64 / samples.len().max(1) as f64
}

/// Result of `eval pairs`.
#[derive(Debug, Clone, Serialize)]
pub struct PairsReport {
    pub pairs: usize,
    pub images_without_face: usize,
    /// How the threshold was chosen: "tune-file", "10-fold" (or n-fold), or "best-on-test".
    pub protocol: String,
    pub threshold: f32,
    pub accuracy: f64,
    pub fold_accuracies: Vec<f64>,
    pub embedder: String,
}

/// Embeds each distinct image once; missing faces give similarity -1 (predicted different).
fn pair_samples(
    vision: &Vision,
    pairs: &[Pair],
    jobs: usize,
    quiet: bool,
    cache: &mut HashMap<PathBuf, Option<Vec<f32>>>,
) -> Vec<(f32, bool)> {
    let todo: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> = pairs.iter().flat_map(|p| [p.a.clone(), p.b.clone()]).filter(|p| !cache.contains_key(p)).collect();
        v.sort();
        v.dedup();
        v
    };
    let bar = Progress::new(todo.len() as u64, "embedding", quiet);
    let embedded = embed_many(vision, &todo, FacePolicy::Central, 0, jobs, &bar);
    bar.finish();
    cache.extend(todo.into_iter().zip(embedded.into_iter().map(|e| e.map(|c| c.identity))));
    pairs
        .iter()
        .map(|p| {
            let s = match (&cache[&p.a], &cache[&p.b]) {
                (Some(a), Some(b)) => vision::embed::cosine(a, b),
                _ => -1.0,
            };
            (s, p.same)
        })
        .collect()
}

/// `eval pairs`: accuracy with a threshold chosen on `tune` (if given), else by cross-validation
/// over the file's folds, else (one fold, no tune file) the best threshold on the pairs themselves.
/// `quiet`: no progress bar (`--json`).
pub fn eval_pairs(
    vision: &Vision,
    pairs_file: &Path,
    tune_file: Option<&Path>,
    root: &Path,
    jobs: usize,
    quiet: bool,
) -> anyhow::Result<PairsReport> {
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let (pairs, folds) = parse_pairs(&read(pairs_file)?, root).with_context(|| {
        format!("{}: not an LFW pairs file (`N` or `FOLDS N`, then per fold N same and N different lines)", pairs_file.display())
    })?;
    let mut cache = HashMap::new();
    let samples = pair_samples(vision, &pairs, jobs, quiet, &mut cache);
    let (protocol, threshold, accuracy, fold_accuracies) = if let Some(tune) = tune_file {
        let (tpairs, _) = parse_pairs(&read(tune)?, root).with_context(|| format!("{}: not an LFW pairs file (--tune)", tune.display()))?;
        let tsamples = pair_samples(vision, &tpairs, jobs, quiet, &mut cache);
        let (t, _) = best_threshold(&tsamples);
        ("tune-file".to_string(), t, accuracy(&samples, t), vec![])
    } else if folds > 1 {
        let mut accs = Vec::new();
        let mut ts = Vec::new();
        for f in 0..folds {
            let train: Vec<(f32, bool)> = samples.iter().zip(&pairs).filter(|(_, p)| p.fold != f).map(|(s, _)| *s).collect();
            let test: Vec<(f32, bool)> = samples.iter().zip(&pairs).filter(|(_, p)| p.fold == f).map(|(s, _)| *s).collect();
            let (t, _) = best_threshold(&train);
            ts.push(t);
            accs.push(accuracy(&test, t));
        }
        let mean = accs.iter().sum::<f64>() / accs.len() as f64;
        (format!("{folds}-fold"), ts.iter().sum::<f32>() / ts.len() as f32, mean, accs)
    } else {
        let (t, a) = best_threshold(&samples);
        ("best-on-test (optimistic: pass --tune FILE)".to_string(), t, a, vec![])
    };
    Ok(PairsReport {
        pairs: pairs.len(),
        images_without_face: cache.values().filter(|v| v.is_none()).count(),
        protocol,
        threshold,
        accuracy,
        fold_accuracies,
        embedder: vision.embedder_id.id.clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// Relatability (UTKFace)

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

/// `eval relatability --utk DIR` with the default [`RelatabilityOptions`] (variety over 10
/// orders, the large population).
pub fn eval_relatability(vision: &Vision, utk_dir: &Path, jobs: usize, settings: Settings) -> anyhow::Result<RelatabilityReport> {
    eval_relatability_with(vision, utk_dir, jobs, settings, &RelatabilityOptions::default())
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

    let population = faces.population.as_ref().map(|pop| {
        let codes: Vec<&FaceCode> = pop.iter().filter_map(|(_, _, e)| e.as_ref()).collect();
        let queries: Vec<Query> = codes.iter().map(|e| Query { face: e, exclude: None }).collect();
        let audit = audit::audit_with(&gallery, &queries, &audit_settings);
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
    });

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

    #[test]
    fn lfw_pairs_parse_both_headers() {
        let root = Path::new("/lfw");
        let (p, folds) = parse_pairs("1\nA_B\t1\t2\nC\t1\tD\t3\n", root).expect("parses");
        assert_eq!(folds, 1);
        assert_eq!(p[0].a, root.join("A_B/A_B_0001.jpg"));
        assert!(p[0].same && !p[1].same);
        assert_eq!(p[1].b, root.join("D/D_0003.jpg"));
        let (p, folds) = parse_pairs("2 1\nA 1 2\nB 1 C 1\nD 1 2\nE 1 F 1\n", root).expect("parses");
        assert_eq!((folds, p.len(), p[3].fold), (2, 4, 1));
        assert!(parse_pairs("1\nA 1\n", root).is_err());
        assert!(parse_pairs("2\nA 1 2\n", root).is_err());
    }

    #[test]
    fn threshold_search_separates_when_possible() {
        let s = [(0.9, true), (0.8, true), (0.3, false), (0.2, false), (0.75, true), (0.35, false)];
        let (t, acc) = best_threshold(&s);
        assert_eq!(acc, 1.0);
        assert!(t > 0.35 && t < 0.75, "{t}");
        let (_, acc) = best_threshold(&[(0.5, true), (0.6, false)]);
        assert_eq!(acc, 0.5);
    }

    #[test]
    fn padding_replicates_the_border() {
        let img = vision::RgbImage::from_fn(2, 1, |x, _| image::Rgb([x as u8 * 100, 0, 0]));
        let p = pad_replicate(&img, 2);
        assert_eq!(p.dimensions(), (6, 5));
        assert_eq!(p.get_pixel(0, 0).0[0], 0);
        assert_eq!(p.get_pixel(5, 4).0[0], 100);
    }
}
