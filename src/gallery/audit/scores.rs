//! One reference face scored against every role model as the booth would score a visitor,
//! and its soft assignment over all of them (the expected shares of the module docs).

use super::{Query, SOFT_POINTS};
use crate::gallery::matcher::{self, Candidate};
use crate::gallery::Gallery;

/// One query's scores: every role model's score (NEG_INFINITY for the one left out), the best
/// role model, and its soft assignment (see the module docs).
pub(super) struct QueryScores {
    pub scored: matcher::Scored,
    pub order: Vec<usize>,
    pub soft: Vec<f64>,
}

pub(super) fn score_query(gallery: &Gallery, q: &Query) -> Option<QueryScores> {
    let cands = gallery.candidates();
    let mut scored = match q.exclude {
        None => matcher::score_all(q.face, cands, gallery.hubs(), gallery.settings),
        Some(skip) => {
            // Leave-one-out: rank the others as a gallery without `skip` would (its hubness too).
            let keep: Vec<usize> = (0..cands.len()).filter(|i| *i != skip).collect();
            let sub: Vec<Candidate> = keep.iter().map(|i| cands[*i].clone()).collect();
            let s = matcher::score_all(q.face, &sub, &gallery.hubs().subset(&keep), gallery.settings);
            let widen = |v: &[f32], fill: f32| {
                let mut out = vec![fill; cands.len()];
                for (k, i) in keep.iter().enumerate() {
                    out[*i] = v[k];
                }
                out
            };
            matcher::Scored {
                mode: s.mode,
                score: widen(&s.score, f32::NEG_INFINITY),
                similarity: widen(&s.similarity, f32::NAN),
                identity: widen(&s.identity, f32::NAN),
                appearance: s.appearance.as_deref().map(|a| widen(a, f32::NAN)),
            }
        }
    };
    if let Some(skip) = q.exclude {
        if let Some(v) = scored.score.get_mut(skip) {
            *v = f32::NEG_INFINITY;
        }
    }
    let order = scored.order(cands);
    let best = *order.first()?;
    if !scored.score[best].is_finite() {
        return None;
    }
    let t = f64::from(SOFT_POINTS * matcher::score_per_point(scored.mode));
    let mut soft: Vec<f64> = scored
        .score
        .iter()
        .map(|s| if s.is_finite() { ((f64::from(*s) - f64::from(scored.score[best])) / t).exp() } else { 0.0 })
        .collect();
    let sum: f64 = soft.iter().sum();
    soft.iter_mut().for_each(|v| *v /= sum);
    Some(QueryScores { scored, order, soft })
}
