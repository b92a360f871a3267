//! Matching a visitor's embedding against the gallery: cosine top-k.
//!
//! Each role model is represented by the normalised mean of its photos' embeddings (with one
//! photo, that photo's embedding), so several photos of one person average out pose and light
//! rather than letting the luckiest photo win. The similarity is the cosine between the visitor
//! and that mean. Ties are broken by role-model id, so results are deterministic.
//!
//! The display percentage maps cosine linearly onto 0..100 between two anchors and clamps:
//! `percent = 100 * clamp((cos - LOW) / (HIGH - LOW), 0, 1)` with LOW = -0.1 and HIGH = 0.5.
//! With the default embedder, two unrelated faces score about 0.0 to 0.1 (15 to 35 %); a
//! visitor's best look-alike in a gallery of strangers typically 0.15 to 0.3 (40 to 65 %);
//! another photo of the same person 0.5 or more (100 %). It is a look-alike score for people
//! to read, not a probability of anything.

//!
//! Two modes rank the role models ([`Mode`]):
//! - `resemblance`: plain cosine, the role model who looks most like the visitor.
//! - `fair` (default): cosine corrected for hubness, CSLS-style with the gallery itself as the
//!   reference population: `score = 2 cos(v, g) - r_g`, where `r_g` is the mean cosine of role
//!   model `g` to its 3 nearest other role models. A role model who resembles many others (a
//!   "hub", close to the middle of face space) would otherwise be everybody's look-alike; this
//!   lowers hubs and raises role models in sparse corners, so every role model gets a fairer
//!   share of visitors. Only the ranking changes: the similarity and percentage shown are still
//!   the plain cosine. Nothing about the visitor is kept, and no label is involved.

use crate::vision::embed::{cosine, normalize};

/// How role models are ranked (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Resemblance,
    #[default]
    Fair,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "resemblance" => Ok(Mode::Resemblance),
            "fair" => Ok(Mode::Fair),
            other => Err(format!("{other:?} is not a matcher mode (resemblance or fair)")),
        }
    }
}

/// Neighbours used for each role model's hubness.
pub const HUB_NEIGHBOURS: usize = 3;

/// Each candidate's hubness `r_g`: the mean cosine to its `k` nearest other candidates (0 for a
/// gallery of one).
pub fn hubness(candidates: &[Candidate], k: usize) -> Vec<f32> {
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut sims: Vec<f32> =
                candidates.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, o)| cosine(&c.vector, &o.vector)).filter(|v| v.is_finite()).collect();
            sims.sort_by(|a, b| b.total_cmp(a));
            sims.truncate(k);
            if sims.is_empty() {
                0.0
            } else {
                sims.iter().sum::<f32>() / sims.len() as f32
            }
        })
        .collect()
}

/// The `k` best candidates for `query` under `mode` (`hub` from [`hubness`]), best first, ties
/// by id; `similarity` is the plain cosine in both modes.
pub fn rank(query: &[f32], candidates: &[Candidate], hub: &[f32], mode: Mode, k: usize) -> Vec<Ranked> {
    let mut scored: Vec<(f32, Ranked)> = candidates
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let similarity = cosine(query, &c.vector);
            let score = match mode {
                Mode::Resemblance => similarity,
                Mode::Fair => 2.0 * similarity - hub.get(index).copied().unwrap_or(0.0),
            };
            (score, Ranked { index, similarity })
        })
        .collect();
    scored.sort_by(|(sa, a), (sb, b)| sb.total_cmp(sa).then_with(|| candidates[a.index].id.cmp(&candidates[b.index].id)));
    scored.truncate(k);
    scored.into_iter().map(|(_, r)| r).collect()
}

/// Cosine at which the display percentage is 0.
pub const PERCENT_LOW: f32 = -0.1;
/// Cosine at which the display percentage reaches 100.
pub const PERCENT_HIGH: f32 = 0.5;

/// Display percentage for a cosine similarity (see the module docs).
pub fn display_percent(similarity: f32) -> u8 {
    if !similarity.is_finite() {
        return 0;
    }
    let t = ((similarity - PERCENT_LOW) / (PERCENT_HIGH - PERCENT_LOW)).clamp(0.0, 1.0);
    (t * 100.0).round() as u8
}

/// One role model's reference vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: String,
    pub vector: Vec<f32>,
}

/// A ranked result.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub index: usize,
    pub similarity: f32,
}

/// The normalised mean of several unit embeddings; `None` when there are none.
pub fn centroid(embeddings: &[&[f32]]) -> Option<Vec<f32>> {
    let first = embeddings.first()?;
    let mut sum = vec![0f32; first.len()];
    for e in embeddings {
        if e.len() != sum.len() {
            return None;
        }
        for (s, v) in sum.iter_mut().zip(e.iter()) {
            *s += v;
        }
    }
    normalize(sum)
}

/// The `k` candidates most similar to `query`, best first; ties by id.
pub fn top_k(query: &[f32], candidates: &[Candidate], k: usize) -> Vec<Ranked> {
    let mut scored: Vec<Ranked> =
        candidates.iter().enumerate().map(|(index, c)| Ranked { index, similarity: cosine(query, &c.vector) }).collect();
    scored.sort_by(|a, b| {
        b.similarity.total_cmp(&a.similarity).then_with(|| candidates[a.index].id.cmp(&candidates[b.index].id))
    });
    scored.truncate(k);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fair_mode_lowers_a_hub_and_keeps_the_cosine() {
        // "hub" sits between a and b (close to both); the visitor is slightly nearer the hub.
        let n = |v: [f32; 3]| normalize(v.to_vec()).expect("unit");
        let cands = vec![cand("a", &n([1.0, 0.0, 0.0])), cand("b", &n([0.0, 1.0, 0.0])), cand("hub", &n([1.0, 1.0, 0.3])), cand("c", &n([0.0, 0.0, 1.0]))];
        let hub = hubness(&cands, 3);
        assert!(hub[2] > hub[0] && hub[2] > hub[3], "{hub:?}");
        let visitor = n([1.0, 0.55, 0.1]);
        let plain = rank(&visitor, &cands, &hub, Mode::Resemblance, 4);
        let fair = rank(&visitor, &cands, &hub, Mode::Fair, 4);
        assert_eq!(cands[plain[0].index].id, "hub");
        assert_eq!(cands[fair[0].index].id, "a");
        let cos_a = cosine(&visitor, &cands[0].vector);
        assert_eq!(fair[0].similarity, cos_a, "the similarity stays the plain cosine");
        assert_eq!(hubness(&cands[..1], 3), vec![0.0]);
    }

    fn cand(id: &str, v: &[f32]) -> Candidate {
        Candidate { id: id.into(), vector: normalize(v.to_vec()).expect("non-zero") }
    }

    #[test]
    fn ranks_by_cosine_and_breaks_ties_by_id() {
        let cands = vec![cand("b", &[1.0, 0.0]), cand("a", &[1.0, 0.0]), cand("c", &[0.0, 1.0]), cand("d", &[1.0, 1.0])];
        let r = top_k(&[1.0, 0.1], &cands, 3);
        let ids: Vec<&str> = r.iter().map(|x| cands[x.index].id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "d"]);
        assert!(r[0].similarity >= r[2].similarity);
        assert_eq!(top_k(&[1.0, 0.0], &cands, 10).len(), 4);
    }

    #[test]
    fn nan_query_does_not_panic() {
        let cands = vec![cand("a", &[1.0, 0.0])];
        assert_eq!(top_k(&[f32::NAN, 0.0], &cands, 1).len(), 1);
    }

    #[test]
    fn centroid_is_unit_mean() {
        let c = centroid(&[&[1.0, 0.0], &[0.0, 1.0]]).expect("defined");
        assert!((c[0] - c[1]).abs() < 1e-6 && (c[0] * c[0] + c[1] * c[1] - 1.0).abs() < 1e-5);
        assert!(centroid(&[]).is_none());
        assert!(centroid(&[&[1.0, 0.0], &[-1.0, 0.0]]).is_none());
    }

    #[test]
    fn percent_mapping() {
        assert_eq!(display_percent(-0.3), 0);
        assert_eq!(display_percent(-0.1), 0);
        assert_eq!(display_percent(0.2), 50);
        assert_eq!(display_percent(0.5), 100);
        assert_eq!(display_percent(0.95), 100);
        assert_eq!(display_percent(f32::NAN), 0);
    }
}
