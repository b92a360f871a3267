//! How alike, said kindly: a shown match's similarity as one of four words, never a raw number.
//!
//! A percentage of cosine embarrasses: a visitor whose best match in the gallery is a weak one
//! read "17 %". The words are calibrated instead on how alike the best match of a visitor who
//! is not in the gallery usually is — the distribution of the top match's similarity over the
//! held-out visitors of the UTKFace relatability protocol (`rolemirror eval relatability`, which
//! prints the quantiles again for any embedder and matcher): the lowest quarter of visitors hear
//! the first word, the middle 35 % the second, the next 30 % the third and the top tenth the
//! fourth. Even the first word is a kind one ("you share a look"); a visitor standing before
//! their own photo (the demo) hears the fourth. How it was measured: `docs/matching.md`,
//! "How alike, said kindly".

use super::matcher::Mode;

/// The four words, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Likeness {
    /// The lowest quarter of best matches: "You share a look".
    Shared,
    /// The next 35 %: "A clear likeness".
    Clear,
    /// The next 30 %: "A strong likeness".
    Strong,
    /// The top tenth (and visitors who are in the gallery): "A striking likeness".
    Striking,
}

/// The quantiles of the best-match distribution at which the next word begins.
pub const BANDS: [f64; 3] = [0.25, 0.60, 0.90];

/// The similarities at which the next word begins, per matcher mode (as shown: the perceived
/// mode's displayed blend, the other modes' identity cosine), for the default embedder
/// (faceplugin int8): the [`BANDS`] quantiles of the best match's similarity over the UTKFace
/// protocol's 431 visitors with a face against its 120 role models (`rolemirror --matcher MODE
/// eval relatability --utk ../shared/data/utk-dev --no-variety`, detector input 640x640),
/// checked on the 1,457 further adults of the folder (held out: 30 / 38-40 / 20-24 / 10 % get
/// the four words).
pub fn thresholds(mode: Mode) -> [f32; 3] {
    match mode {
        Mode::Perceived => [0.2731, 0.3240, 0.3677],
        Mode::Fair => [0.3193, 0.3864, 0.4722],
        Mode::Resemblance => [0.3299, 0.3905, 0.4722],
    }
}

impl Likeness {
    /// All four, weakest first.
    pub const ALL: [Likeness; 4] = [Likeness::Shared, Likeness::Clear, Likeness::Strong, Likeness::Striking];

    /// The word for a shown match's `similarity` under the thresholds `edges` (a NaN is the
    /// weakest word, never an error).
    pub fn with(similarity: f32, edges: [f32; 3]) -> Likeness {
        match edges.iter().filter(|e| similarity >= **e).count() {
            0 => Likeness::Shared,
            1 => Likeness::Clear,
            2 => Likeness::Strong,
            _ => Likeness::Striking,
        }
    }

    /// The word for a shown match's `similarity` in matcher `mode`.
    pub fn of(similarity: f32, mode: Mode) -> Likeness {
        Likeness::with(similarity, thresholds(mode))
    }

    /// 1 (weakest) to 4: for a scale drawn beside the words.
    pub fn level(self) -> u8 {
        self as u8 + 1
    }
}

/// The `q` quantile (0..1) of `values` (linear between the two nearest ranks; NaNs left out;
/// None when nothing is left).
pub fn quantile(values: &[f32], q: f64) -> Option<f32> {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    let at = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
    let t = (at - lo as f64) as f32;
    Some(v[lo] + (v[hi] - v[lo]) * t)
}

/// The thresholds that put [`BANDS`] of `best` (best-match similarities) below each next word.
pub fn calibrate(best: &[f32]) -> Option<[f32; 3]> {
    Some([quantile(best, BANDS[0])?, quantile(best, BANDS[1])?, quantile(best, BANDS[2])?])
}

/// Which share of `best` gets each word under `edges`.
pub fn shares(best: &[f32], edges: [f32; 3]) -> [f64; 4] {
    let mut counts = [0usize; 4];
    for s in best {
        counts[Likeness::with(*s, edges) as usize] += 1;
    }
    counts.map(|c| c as f64 / best.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_follow_the_thresholds_and_a_nan_is_the_kindest_default() {
        let edges = [0.2, 0.3, 0.4];
        let words: Vec<Likeness> = [-0.5, 0.1999, 0.2, 0.35, 0.4, 0.99, f32::NAN].iter().map(|s| Likeness::with(*s, edges)).collect();
        use Likeness::*;
        assert_eq!(words, [Shared, Shared, Clear, Strong, Striking, Striking, Shared]);
        assert_eq!(Striking.level(), 4);
        for mode in [Mode::Perceived, Mode::Fair, Mode::Resemblance] {
            let t = thresholds(mode);
            assert!(t[0] < t[1] && t[1] < t[2], "{mode:?}: {t:?}");
        }
    }

    #[test]
    fn calibration_puts_the_bands_quantiles_below_each_word() {
        // 1,000 best matches spread evenly over 0.000..0.999.
        let best: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let edges = calibrate(&best).expect("values");
        for (e, want) in edges.iter().zip([0.25, 0.60, 0.90]) {
            assert!((e - want).abs() < 0.002, "{edges:?}");
        }
        let s = shares(&best, edges);
        for (got, want) in s.iter().zip([0.25, 0.35, 0.30, 0.10]) {
            assert!((got - want).abs() < 0.002, "{s:?}");
        }
        assert_eq!(calibrate(&[]), None);
        assert_eq!(quantile(&[f32::NAN, 2.0], 0.5), Some(2.0));
    }
}
