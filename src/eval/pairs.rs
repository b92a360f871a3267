//! `eval pairs`: face-verification accuracy on an LFW-format pair list, with the threshold
//! chosen on a tune file, by cross-validation over the file's folds, or (optimistically) on the
//! pairs themselves.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;

use super::{embed_many, FacePolicy};
use crate::util::Progress;
use crate::vision::{self, Vision};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
