//! Repeatable simulations: the booth's variety policy meeting the reference faces in shuffled
//! orders ([`simulate_variety`], [`visitor_order`]), and what a perfectly even matcher would show
//! by chance alone ([`chance`]). Fixed seeds, so an audit gives the same numbers every run.

use super::scores::QueryScores;
use super::AuditSettings;
use crate::gallery::matcher;
use crate::gallery::variety::{Variety, VarietySettings};
use crate::gallery::Gallery;

/// A fixed-seed xorshift generator (repeatable simulations without a dependency).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0xbf58_476d_1ce4_e5b9) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A uniformly shuffled 0..n.
    fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
        v
    }
}

/// The order in which seed `seed` meets `n` visitors (a fixed shuffle; seed 0 is shuffled too).
pub fn visitor_order(n: usize, seed: u64) -> Vec<usize> {
    XorShift::new(seed).permutation(n)
}

/// The main match each visitor gets from a booth with a fresh [`Variety`] memory when the
/// visitors come in `order`, with (replaced, look-alike points lost) per visitor. `scores[v]`
/// is visitor v's scores and order.
pub fn simulate_variety(
    gallery: &Gallery,
    settings: VarietySettings,
    scores: &[(&matcher::Scored, &[usize])],
    order: &[usize],
) -> Vec<(usize, bool, f64)> {
    let mut variety = Variety::for_gallery(gallery, settings);
    let mut out = vec![(0, false, 0.0); scores.len()];
    for &v in order {
        let (scored, ranked) = scores[v];
        let pick = variety.pick(scored, ranked);
        variety.record(pick);
        let best = ranked[0];
        let lost = f64::from((scored.score[best] - scored.score[pick]) / matcher::score_per_point(scored.mode));
        out[v] = (pick, pick != best, lost);
    }
    out
}

/// The variety policy over the shuffled orders of an audit.
#[derive(Default)]
pub(super) struct VarietyRuns {
    /// Per order, how often each role model was the main match.
    pub counts: Vec<Vec<f64>>,
    /// Faces (over all orders) whose main match was not their best by score.
    pub replaced: usize,
    /// For those: the look-alike points between the best match and the one shown.
    pub lost: Vec<f64>,
}

/// The scored faces met by a booth with the variety policy in `settings.seeds` shuffled orders.
pub(super) fn variety_runs(gallery: &Gallery, settings: &AuditSettings, scores: &[QueryScores]) -> VarietyRuns {
    let mut runs = VarietyRuns::default();
    let pairs: Vec<(&matcher::Scored, &[usize])> = scores.iter().map(|s| (&s.scored, s.order.as_slice())).collect();
    for seed in 0..settings.seeds {
        let run = simulate_variety(gallery, settings.variety, &pairs, &visitor_order(pairs.len(), seed as u64));
        let mut c = vec![0f64; gallery.role_models.len()];
        for (pick, rep, l) in run {
            c[pick] += 1.0;
            if rep {
                runs.replaced += 1;
                runs.lost.push(l);
            }
        }
        runs.counts.push(c);
    }
    runs
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
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut maxima: Vec<usize> = (0..CHANCE_TRIALS)
        .map(|_| {
            let mut counts = vec![0usize; n];
            for _ in 0..faces {
                counts[(rng.next() % n as u64) as usize] += 1;
            }
            counts.into_iter().max().unwrap_or(0)
        })
        .collect();
    maxima.sort_unstable();
    (maxima[CHANCE_TRIALS / 2] as f64 / faces as f64 * n as f64, never)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_orders_are_fixed_shuffles() {
        let a = visitor_order(50, 1);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, visitor_order(50, 1));
        assert_ne!(a, visitor_order(50, 2));
        assert_ne!(visitor_order(50, 0), (0..50).collect::<Vec<_>>());
        assert!(visitor_order(0, 3).is_empty());
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
}
