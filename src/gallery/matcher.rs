//! Matching a visitor's face against the gallery: top-k by the configured mode.
//!
//! Each role model is represented by the normalised mean of its photos' embeddings (with one
//! photo, that photo's embedding), and likewise of their appearance vectors, so several photos
//! of one person average out pose and light rather than letting the luckiest photo win. Ties
//! are broken by role-model id, so results are deterministic.
//!
//! The display percentage maps the similarity (the identity cosine, or in `perceived` mode the
//! blend mapped onto the same scale) linearly onto 0..100 between two anchors and clamps:
//! `percent = 100 * clamp((cos - LOW) / (HIGH - LOW), 0, 1)` with LOW = -0.1 and HIGH = 0.5.
//! With the default embedder, two unrelated faces score about 0.0 to 0.1 (15 to 35 %); a
//! visitor's best look-alike in a gallery of strangers typically 0.15 to 0.3 (40 to 65 %);
//! another photo of the same person 0.5 or more (100 %). It is a look-alike score for people
//! to read, not a probability of anything.

//!
//! Three modes rank the role models ([`Mode`]):
//! - `resemblance`: plain identity cosine, the face most like the visitor's as a face
//!   recogniser sees it. Nothing else.
//! - `fair`: identity cosine corrected for hubness, CSLS-style with the gallery itself as the
//!   reference population: `score = 2 cos(v, g) - r_g`, where `r_g` is the mean cosine of role
//!   model `g` to its 3 nearest other role models. A role model who resembles many others (a
//!   "hub", close to the middle of face space) would otherwise be everybody's look-alike; this
//!   lowers hubs and raises role models in sparse corners, so every role model gets a fairer
//!   share of visitors. The similarity and percentage shown are still the plain cosine.
//! - `perceived` (default): resemblance as people perceive it. The identity embedding is
//!   trained to recognise a person across light, make-up and years, so it deliberately ignores
//!   much of what people see first — skin tone, hair, the overall shape and colouring of a face.
//!   The embedder's appearance vector (`vision::embed`) keeps those. The similarity is
//!   `s = cos_a(v, g) + cos(v, g)` (appearance cosine plus identity cosine), corrected for
//!   hubness as in `fair` but more gently (`2 s - 0.5 r_g`, `r_g` the mean `s` of `g` to its 3
//!   nearest other role models). The similarity reported and shown is the mean of the two
//!   cosines, `s / 2`, mapped onto the identity-cosine scale of the percentage anchors
//!   (`-0.1 + s / 2 / 0.8 * 0.6`: a mean cosine of 0.8 shows as 100 %, 0 as 0 %), so the
//!   numbers on screen follow the order shown.
//!   When the visitor or a role model has no appearance vector (an embedder without one), the
//!   gallery is ranked as in `fair`.
//!
//! Nothing about the visitor is kept, and no label is involved in any of them: no group or
//! gender is inferred, only resemblance is scored.
//!
//! In `fair` and `perceived` mode an optional, soft **gender cue** ([`Settings::gender_cue`],
//! 0 switches it off) uses the genders that role models declared themselves, with consent, in
//! `gallery.toml` (`declared.gender`): the visitor's [`GENDER_NEIGHBOURS`] most similar
//! declaring role models (by the mode's similarity) vote, weighted by `exp(10 (sim - best))`,
//! and each role model gets `gender_cue * share of the vote for its own declared gender` added
//! to its score (a role model who declared nothing gets the expected agreement `sum of squared
//! shares`, so declaring is neither rewarded nor punished). It only works when the gallery holds
//! at least two declared genders. It is a score term, never a filter: a role model of any gender
//! can still be shown, and the vote is not a label: it is computed inside [`rank`], used for
//! that ranking and dropped; nothing about the visitor is kept, logged or shown. Declared
//! ethnicity (`group`) is never used for matching: that would infer a visitor's ethnicity from
//! their neighbours, which the booth does not do; it serves only the gallery audit.

pub use crate::vision::embed::centroid;
use crate::vision::embed::{cosine, FaceCode};

/// How role models are ranked (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Resemblance,
    Fair,
    #[default]
    Perceived,
}

impl Mode {
    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Resemblance => "resemblance",
            Mode::Fair => "fair",
            Mode::Perceived => "perceived",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "resemblance" => Ok(Mode::Resemblance),
            "fair" => Ok(Mode::Fair),
            "perceived" => Ok(Mode::Perceived),
            other => Err(format!("{other:?} is not a matcher mode (perceived, fair or resemblance)")),
        }
    }
}

/// Neighbours used for each role model's hubness in `fair` mode.
pub const HUB_NEIGHBOURS: usize = 3;
/// `perceived` mode: weight of the identity cosine next to the appearance cosine.
pub const PERCEIVED_IDENTITY_WEIGHT: f32 = 1.0;
/// `perceived` mode: neighbours and weight of the hubness correction.
pub const PERCEIVED_HUB_NEIGHBOURS: usize = 3;
pub const PERCEIVED_HUB_WEIGHT: f32 = 0.5;
/// `perceived` mode: the blended similarity (divided by 1 + identity weight) shown as 100 %.
const PERCEIVED_FULL: f32 = 0.8;
/// Declaring role models that vote in the gender cue.
pub const GENDER_NEIGHBOURS: usize = 10;
/// Sharpness of the vote weights `exp(GENDER_SHARPNESS (cos - best))`.
const GENDER_SHARPNESS: f32 = 10.0;
/// The gender cue's default weight (tuned on the UTKFace dev split, see the README).
pub const DEFAULT_GENDER_CUE: f32 = 0.2;

/// How role models are ranked: the mode and, in `perceived` and `fair` mode, the gender cue's
/// weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub mode: Mode,
    /// Weight of the declared-gender agreement term (0: off; ignored in `resemblance` mode).
    pub gender_cue: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { mode: Mode::Perceived, gender_cue: DEFAULT_GENDER_CUE }
    }
}

/// Each role model's hubness in both corrected modes, computed once per gallery.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hubs {
    /// `fair`: mean identity cosine to the [`HUB_NEIGHBOURS`] nearest other role models.
    pub fair: Vec<f32>,
    /// `perceived`: mean blended similarity to the [`PERCEIVED_HUB_NEIGHBOURS`] nearest (None
    /// when some role model has no appearance vector).
    pub perceived: Option<Vec<f32>>,
}

impl Hubs {
    /// Both tables for `candidates`.
    pub fn new(candidates: &[Candidate]) -> Hubs {
        let fair = hubness(candidates, HUB_NEIGHBOURS);
        let perceived = candidates.iter().all(|c| c.appearance.is_some()).then(|| {
            mean_of_nearest(candidates, PERCEIVED_HUB_NEIGHBOURS, |a, b| blended(&a.vector, a.appearance.as_deref(), b).unwrap_or(f32::NAN))
        });
        Hubs { fair, perceived }
    }

    /// The tables restricted to the candidates at `keep` (in that order), e.g. to leave one out.
    pub fn subset(&self, keep: &[usize]) -> Hubs {
        let pick = |v: &Vec<f32>| keep.iter().map(|i| v.get(*i).copied().unwrap_or(0.0)).collect();
        Hubs { fair: pick(&self.fair), perceived: self.perceived.as_ref().map(pick) }
    }
}

/// `cos_a + w cos` of a face (identity, appearance) and a candidate; None without appearance.
fn blended(identity: &[f32], appearance: Option<&[f32]>, c: &Candidate) -> Option<f32> {
    Some(cosine(appearance?, c.appearance.as_deref()?) + PERCEIVED_IDENTITY_WEIGHT * cosine(identity, &c.vector))
}

/// A blended similarity on the identity-cosine scale of the percentage (see the module docs).
fn perceived_display(blend: f32) -> f32 {
    PERCENT_LOW + blend / (1.0 + PERCEIVED_IDENTITY_WEIGHT) / PERCEIVED_FULL * (PERCENT_HIGH - PERCENT_LOW)
}

/// Each candidate's hubness `r_g`: the mean cosine to its `k` nearest other candidates (0 for a
/// gallery of one).
pub fn hubness(candidates: &[Candidate], k: usize) -> Vec<f32> {
    mean_of_nearest(candidates, k, |a, b| cosine(&a.vector, &b.vector))
}

/// Each candidate's mean `sim` to its `k` most similar other candidates (0 for a gallery of one).
fn mean_of_nearest(candidates: &[Candidate], k: usize, sim: impl Fn(&Candidate, &Candidate) -> f32) -> Vec<f32> {
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut sims: Vec<f32> =
                candidates.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, o)| sim(c, o)).filter(|v| v.is_finite()).collect();
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

/// Each candidate's agreement with the vote of the declaring candidates most similar to the
/// query (see the module docs); `None` when fewer than two genders are declared.
fn gender_agreement(sims: &[f32], candidates: &[Candidate]) -> Option<Vec<f32>> {
    let classes = candidates.iter().filter_map(|c| c.gender).max()? as usize + 1;
    let mut declaring: Vec<(f32, u16)> =
        sims.iter().zip(candidates).filter_map(|(s, c)| Some((*s, c.gender?))).filter(|(s, _)| s.is_finite()).collect();
    declaring.sort_by(|a, b| b.0.total_cmp(&a.0));
    declaring.truncate(GENDER_NEIGHBOURS);
    let best = declaring.first()?.0;
    let mut share = vec![0f32; classes];
    for (s, g) in &declaring {
        share[*g as usize] += (GENDER_SHARPNESS * (s - best)).exp();
    }
    let sum: f32 = share.iter().sum();
    if classes < 2 || sum <= 0.0 || !sum.is_finite() {
        return None;
    }
    share.iter_mut().for_each(|v| *v /= sum);
    let expected: f32 = share.iter().map(|v| v * v).sum();
    Some(candidates.iter().map(|c| c.gender.map_or(expected, |g| share[g as usize])).collect())
}

/// The mode `rank` really uses: `perceived` needs appearance vectors on both sides.
pub fn effective_mode(query: &FaceCode, candidates: &[Candidate], hubs: &Hubs, mode: Mode) -> Mode {
    match mode {
        Mode::Perceived if query.appearance.is_none() || hubs.perceived.is_none() || candidates.iter().any(|c| c.appearance.is_none()) => {
            Mode::Fair
        }
        m => m,
    }
}

/// Every candidate's ranking score and the similarities behind it, for one query (see
/// [`score_all`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The mode really used (see [`effective_mode`]).
    pub mode: Mode,
    /// The ranking score (higher first; NaN scores are `-inf`).
    pub score: Vec<f32>,
    /// The similarity reported and shown (see the module docs).
    pub similarity: Vec<f32>,
    /// The identity cosine.
    pub identity: Vec<f32>,
    /// The appearance cosine (`perceived` mode only).
    pub appearance: Option<Vec<f32>>,
}

impl Scored {
    /// Candidate indices best first, ties by id.
    pub fn order(&self, candidates: &[Candidate]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.score.len()).collect();
        order.sort_by(|&a, &b| self.score[b].total_cmp(&self.score[a]).then_with(|| candidates[a].id.cmp(&candidates[b].id)));
        order
    }
}

/// How much one point of the look-alike percentage is worth in `mode`'s ranking score (the score
/// grows by this when the similarity shown grows by one percentage point, other terms equal).
pub fn score_per_point(mode: Mode) -> f32 {
    let per_cosine = (PERCENT_HIGH - PERCENT_LOW) / 100.0;
    match mode {
        Mode::Resemblance => per_cosine,
        Mode::Fair => 2.0 * per_cosine,
        // score = 2 s, s = (1 + w) x mean cosine, mean cosine = PERCEIVED_FULL x percent / 100
        Mode::Perceived => 2.0 * (1.0 + PERCEIVED_IDENTITY_WEIGHT) * PERCEIVED_FULL / 100.0,
    }
}

/// Scores every candidate for `query` under `settings` (`hubs` from [`Hubs::new`]).
pub fn score_all(query: &FaceCode, candidates: &[Candidate], hubs: &Hubs, settings: Settings) -> Scored {
    let mode = effective_mode(query, candidates, hubs, settings.mode);
    let identity: Vec<f32> = candidates.iter().map(|c| cosine(&query.identity, &c.vector)).collect();
    let appearance: Option<Vec<f32>> = match (mode, query.appearance.as_deref()) {
        (Mode::Perceived, Some(qa)) => {
            Some(candidates.iter().map(|c| c.appearance.as_deref().map_or(f32::NAN, |ca| cosine(qa, ca))).collect())
        }
        _ => None,
    };
    let sims: Vec<f32> = match &appearance {
        Some(a) => a.iter().zip(&identity).map(|(a, i)| a + PERCEIVED_IDENTITY_WEIGHT * i).collect(),
        None => identity.clone(),
    };
    let agreement = match mode {
        Mode::Fair | Mode::Perceived if settings.gender_cue > 0.0 => gender_agreement(&sims, candidates),
        _ => None,
    };
    let cue = |index: usize| agreement.as_ref().map_or(0.0, |a| settings.gender_cue * a[index]);
    let (score, similarity): (Vec<f32>, Vec<f32>) = sims
        .iter()
        .enumerate()
        .map(|(index, &sim)| match mode {
            Mode::Resemblance => (sim, sim),
            Mode::Fair => (2.0 * sim - hubs.fair.get(index).copied().unwrap_or(0.0) + cue(index), sim),
            Mode::Perceived => {
                let hub = hubs.perceived.as_ref().and_then(|h| h.get(index)).copied().unwrap_or(0.0);
                (2.0 * sim - PERCEIVED_HUB_WEIGHT * hub + cue(index), perceived_display(sim))
            }
        })
        .map(|(score, shown)| (if score.is_nan() { f32::NEG_INFINITY } else { score }, shown))
        .unzip();
    Scored { mode, score, similarity, identity, appearance }
}

/// The `k` best candidates for `query` under `settings` (`hubs` from [`Hubs::new`]), best
/// first, ties by id. `similarity` is the identity cosine in `resemblance` and `fair` mode, the
/// displayed blend in `perceived` mode (see the module docs).
pub fn rank(query: &FaceCode, candidates: &[Candidate], hubs: &Hubs, settings: Settings, k: usize) -> Vec<Ranked> {
    let scored = score_all(query, candidates, hubs, settings);
    let mut order = scored.order(candidates);
    order.truncate(k);
    order.into_iter().map(|index| Ranked { index, similarity: scored.similarity[index] }).collect()
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
    /// The normalised mean of the role model's appearance vectors (None: not available).
    pub appearance: Option<Vec<f32>>,
    /// The role model's self-declared gender as a class number within its gallery (only with
    /// consent; see `gallery::manifest::Declared`).
    pub gender: Option<u16>,
}

/// A ranked result.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub index: usize,
    pub similarity: f32,
}

/// The `k` candidates most similar to `query`, best first; ties by id.
pub fn top_k(query: &[f32], candidates: &[Candidate], k: usize) -> Vec<Ranked> {
    let mut scored: Vec<Ranked> =
        candidates.iter().enumerate().map(|(index, c)| Ranked { index, similarity: cosine(query, &c.vector) }).collect();
    scored.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then_with(|| candidates[a.index].id.cmp(&candidates[b.index].id)));
    scored.truncate(k);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::embed::normalize;

    const FAIR: Settings = Settings { mode: Mode::Fair, gender_cue: DEFAULT_GENDER_CUE };

    fn q(v: &[f32]) -> FaceCode {
        FaceCode { identity: v.to_vec(), appearance: None }
    }

    fn fair_hubs(fair: Vec<f32>) -> Hubs {
        Hubs { fair, perceived: None }
    }

    #[test]
    fn fair_mode_lowers_a_hub_and_keeps_the_cosine() {
        // "hub" sits between a and b (close to both); the visitor is slightly nearer the hub.
        let n = |v: [f32; 3]| normalize(v.to_vec()).expect("unit");
        let cands = vec![
            cand("a", &n([1.0, 0.0, 0.0])),
            cand("b", &n([0.0, 1.0, 0.0])),
            cand("hub", &n([1.0, 1.0, 0.3])),
            cand("c", &n([0.0, 0.0, 1.0])),
        ];
        let hubs = Hubs::new(&cands);
        let hub = &hubs.fair;
        assert!(hub[2] > hub[0] && hub[2] > hub[3], "{hub:?}");
        assert!(hubs.perceived.is_none(), "no appearance vectors, no perceived table");
        let visitor = q(&n([1.0, 0.55, 0.1]));
        let plain = rank(&visitor, &cands, &hubs, Settings { mode: Mode::Resemblance, gender_cue: 0.0 }, 4);
        let fair = rank(&visitor, &cands, &hubs, FAIR, 4);
        assert_eq!(cands[plain[0].index].id, "hub");
        assert_eq!(cands[fair[0].index].id, "a");
        let cos_a = cosine(&visitor.identity, &cands[0].vector);
        assert_eq!(fair[0].similarity, cos_a, "the similarity stays the plain cosine");
        // Without appearance vectors the default (perceived) ranks as fair.
        assert_eq!(rank(&visitor, &cands, &hubs, Settings::default(), 4), fair);
        assert_eq!(hubness(&cands[..1], 3), vec![0.0]);
    }

    fn cand(id: &str, v: &[f32]) -> Candidate {
        Candidate { id: id.into(), vector: normalize(v.to_vec()).expect("non-zero"), appearance: None, gender: None }
    }

    #[test]
    fn perceived_mode_weighs_appearance_and_shows_its_own_similarity() {
        // a and b have the same identity distance to the visitor; b's appearance is the
        // visitor's, a's is not. Resemblance and fair cannot tell them apart (tie: a by id);
        // perceived prefers b.
        let n = |v: [f32; 2]| normalize(v.to_vec()).expect("unit");
        let with = |id: &str, i: [f32; 2], a: [f32; 2]| Candidate { appearance: Some(n(a)), ..cand(id, &n(i)) };
        let cands = vec![with("a", [1.0, 0.3], [0.0, 1.0]), with("b", [1.0, -0.3], [1.0, 0.1]), with("c", [-1.0, 0.0], [-1.0, 0.0])];
        let hubs = Hubs::new(&cands);
        assert!(hubs.perceived.is_some());
        let visitor = FaceCode { identity: n([1.0, 0.0]), appearance: Some(n([1.0, 0.0])) };
        let first = |s: Settings| cands[rank(&visitor, &cands, &hubs, s, 3)[0].index].id.clone();
        assert_eq!(first(Settings { mode: Mode::Resemblance, gender_cue: 0.0 }), "a");
        assert_eq!(first(Settings { mode: Mode::Perceived, gender_cue: 0.0 }), "b");
        // The similarity shown is the mean of the two cosines on the percentage scale.
        let r = rank(&visitor, &cands, &hubs, Settings::default(), 3);
        let mean = (cosine(&visitor.identity, &cands[1].vector) + cosine(&n([1.0, 0.0]), &n([1.0, 0.1]))) / 2.0;
        assert!((r[0].similarity - (PERCENT_LOW + mean / 0.8 * (PERCENT_HIGH - PERCENT_LOW))).abs() < 1e-5, "{r:?}");
        assert!(r.windows(2).all(|w| w[0].similarity >= w[1].similarity - 0.2), "{r:?}");
        // A visitor without an appearance vector is ranked as in fair mode.
        let bare = q(&visitor.identity);
        assert_eq!(effective_mode(&bare, &cands, &hubs, Mode::Perceived), Mode::Fair);
        assert_eq!(rank(&bare, &cands, &hubs, Settings::default(), 3), rank(&bare, &cands, &hubs, FAIR, 3));
    }

    #[test]
    fn gender_cue_is_soft_and_switchable() {
        // w1 is the visitor's nearest look-alike by a hair; m1..m3 (declared gender 1) come right
        // behind, w1 alone declared gender 0. The vote favours gender 1, so with the cue m1
        // overtakes w1, without it (weight 0, or resemblance mode) w1 stays first.
        let n = |v: [f32; 3]| normalize(v.to_vec()).expect("unit");
        let mut cands = vec![
            cand("w1", &n([1.0, 0.20, 0.0])),
            cand("m1", &n([1.0, 0.0, 0.21])),
            cand("m2", &n([1.0, 0.0, 0.3])),
            cand("m3", &n([1.0, 0.0, -0.3])),
        ];
        for (c, g) in cands.iter_mut().zip([0, 1, 1, 1]) {
            c.gender = Some(g);
        }
        let hubs = fair_hubs(vec![0.0; 4]);
        let visitor = q(&n([1.0, 0.0, 0.0]));
        let first_for = |cands: &[Candidate], s: Settings| cands[rank(&visitor, cands, &hubs, s, 4)[0].index].id.clone();
        let first = |s: Settings| first_for(&cands, s);
        assert_eq!(first(Settings { mode: Mode::Fair, gender_cue: 0.0 }), "w1");
        assert_eq!(first(Settings { mode: Mode::Resemblance, gender_cue: 1.0 }), "w1");
        assert_eq!(first(FAIR), "m1");
        // Soft, not a filter: a visitor who looks exactly like w1 still gets w1 against the vote.
        let close = q(&n([1.0, 0.20, 0.0]));
        assert_eq!(cands[rank(&close, &cands, &hubs, FAIR, 1)[0].index].id, "w1");
        // Every candidate is still ranked, with its plain cosine.
        let all = rank(&visitor, &cands, &hubs, FAIR, 10);
        assert_eq!(all.len(), 4);
        assert!(all.iter().all(|r| r.similarity == cosine(&visitor.identity, &cands[r.index].vector)));
        // One declared gender only: no vote, the same order as without the cue.
        for c in cands.iter_mut() {
            c.gender = Some(0);
        }
        assert_eq!(first_for(&cands, FAIR), "w1");
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
