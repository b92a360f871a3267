//! Variety: a booth policy that lets every role model be seen, without costing resemblance.
//!
//! A matcher that keeps no memory shows some role models far more often than others: a few
//! photos sit close to many visitors ("hubs"), and within a declared gender and group one face
//! can stand in for everybody while others are never shown (see `docs/matching-exposure.md`).
//! [`Variety`] remembers, in memory and per booth run, only **how often each role model was
//! shown** as the main match — nothing about any visitor. When it ranks the next visitor it
//! lowers each role model's score by up to a margin, in proportion to how often it was shown
//! compared with its peers, and lets the best match give way to a look-alike who then scores
//! higher. Three rules keep it from costing resemblance:
//!
//! - **Bounded.** The penalty is `margin x min(1, shown / (2 x mean shown of its peers))`: never
//!   more than [`VarietySettings::margin`] look-alike percentage points (converted to the mode's
//!   score scale with [`matcher::score_per_point`]). A match better than every other by more
//!   than the margin is never replaced.
//! - **Identity guard.** A role model whose identity cosine to the visitor is more than
//!   [`IDENTITY_GUARD`] above a rival's is never replaced by that rival: another photo of the
//!   same person (cosine 0.45 to 0.9 on the demo) always beats strangers (0.1 to 0.3).
//! - **Appearance guard.** A replacement must have declared the same gender and group as the
//!   best match, or look at least as much like the visitor in the appearance vector (the
//!   identity cosine in modes without one). So variety rotates among the role models who
//!   declared what the best match declared, and never trades the appearance people notice.
//!
//! Peers are the role models who declared (with consent) the same gender and group; role models
//! who declared neither are compared with the whole gallery. Declared values are never compared
//! with anything about the visitor: they only say which role models share the exposure.
//!
//! The card then shows the chosen main match and the next best look-alikes by score, so the
//! best match by score stays on the card when variety replaces it.

use super::manifest::{declared_key, RoleModel};
use super::matcher::{self, Candidate, Hubs, Ranked, Settings};
use super::{Gallery, Match};
use crate::vision::embed::FaceCode;

/// A rival may replace the best match only when its identity cosine to the visitor is at most
/// this much lower than the best match's.
pub const IDENTITY_GUARD: f32 = 0.15;
/// The default margin in look-alike percentage points (measured on the UTKFace dev split, see
/// `docs/matching-exposure.md`).
pub const DEFAULT_MARGIN: f32 = 30.0;

/// The policy's settings (the booth's `gallery.variety` and `gallery.variety_margin`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VarietySettings {
    /// Off: the ranking is exactly [`matcher::rank`].
    pub enabled: bool,
    /// The largest penalty, in look-alike percentage points (0..=100).
    pub margin: f32,
}

impl Default for VarietySettings {
    fn default() -> Self {
        VarietySettings { enabled: true, margin: DEFAULT_MARGIN }
    }
}

impl VarietySettings {
    /// The policy switched off.
    pub const OFF: VarietySettings = VarietySettings { enabled: false, margin: DEFAULT_MARGIN };
}

/// The policy's memory for one gallery: how often each role model was shown (see the module
/// docs). Nothing about visitors is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Variety {
    pub settings: VarietySettings,
    /// Times each role model (index into the gallery's role models) was the main match.
    shown: Vec<u64>,
    /// Each role model's peer set (declared gender and group), None: compared with everybody.
    peers: Vec<Option<usize>>,
}

/// Each role model's peer set: the consented, declared (gender, group), when it declared either.
fn peer_sets(role_models: &[RoleModel]) -> Vec<Option<usize>> {
    let mut keys: Vec<(String, String)> = Vec::new();
    role_models
        .iter()
        .map(|rm| {
            let d = rm.consented()?;
            let value = |v: &Option<String>| v.as_deref().map(declared_key).unwrap_or_default();
            let key = (value(&d.gender), value(&d.group));
            if key.0.is_empty() && key.1.is_empty() {
                return None;
            }
            Some(keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                keys.push(key);
                keys.len() - 1
            }))
        })
        .collect()
}

impl Variety {
    /// Empty memory for these role models (in the gallery's order).
    pub fn new(role_models: &[RoleModel], settings: VarietySettings) -> Variety {
        Variety { settings, shown: vec![0; role_models.len()], peers: peer_sets(role_models) }
    }

    /// Empty memory for `gallery`'s role models.
    pub fn for_gallery(gallery: &Gallery, settings: VarietySettings) -> Variety {
        Variety::new(&gallery.role_models, settings)
    }

    /// How often each role model was the main match since this memory was made.
    pub fn shown(&self) -> &[u64] {
        &self.shown
    }

    /// Forgets everything shown (e.g. when the gallery is reloaded).
    pub fn reset(&mut self) {
        self.shown.iter_mut().for_each(|c| *c = 0);
    }

    /// Remembers that role model `index` was shown as the main match.
    pub fn record(&mut self, index: usize) {
        if let Some(c) = self.shown.get_mut(index) {
            *c = c.saturating_add(1);
        }
    }

    /// Role model `index`'s penalty as a fraction of the margin: its count over twice its peers'
    /// mean count, at most 1 (0 before anybody was shown).
    pub fn penalty(&self, index: usize) -> f32 {
        self.penalties().get(index).copied().unwrap_or(0.0)
    }

    /// Every role model's penalty (see [`Variety::penalty`]).
    pub fn penalties(&self) -> Vec<f32> {
        let sets = self.peers.iter().flatten().max().map_or(0, |m| m + 1);
        let (mut sum, mut n) = (vec![0u64; sets], vec![0u64; sets]);
        for (c, p) in self.shown.iter().zip(&self.peers) {
            if let Some(p) = p {
                sum[*p] = sum[*p].saturating_add(*c);
                n[*p] += 1;
            }
        }
        let all: u64 = self.shown.iter().fold(0u64, |s, c| s.saturating_add(*c));
        let everybody = (all, self.shown.len() as u64);
        self.shown
            .iter()
            .zip(&self.peers)
            .map(|(&count, peer)| {
                let (s, k) = peer.map_or(everybody, |p| (sum[p], n[p]));
                if s == 0 || k == 0 {
                    return 0.0;
                }
                (count as f64 / (2.0 * s as f64 / k as f64)).min(1.0) as f32
            })
            .collect()
    }

    /// Do role models `a` and `b` share a declared gender and group?
    fn same_peers(&self, a: usize, b: usize) -> bool {
        matches!((self.peers.get(a), self.peers.get(b)), (Some(Some(x)), Some(Some(y))) if x == y)
    }

    /// The `k` best candidates for `query`, the main match chosen by the policy (see the module
    /// docs), the rest by score; ties by id. Does not remember anything: see [`Variety::choose`].
    /// With the policy off, or a memory made for another number of role models, this is
    /// [`matcher::rank`].
    pub fn rank(&self, query: &FaceCode, candidates: &[Candidate], hubs: &Hubs, settings: Settings, k: usize) -> Vec<Ranked> {
        let scored = matcher::score_all(query, candidates, hubs, settings);
        let order = scored.order(candidates);
        let pick = self.pick(&scored, &order);
        std::iter::once(pick)
            .chain(order.into_iter().filter(|&i| i != pick))
            .take(k.min(candidates.len()))
            .map(|index| Ranked { index, similarity: scored.similarity[index] })
            .collect()
    }

    /// The main match for one visitor's scores (`order`: [`matcher::Scored::order`]); the best
    /// by score when the policy is off or this memory was made for another number of role
    /// models. Does not remember anything.
    pub fn pick(&self, scored: &matcher::Scored, order: &[usize]) -> usize {
        let Some(&best) = order.first() else { return 0 };
        if !self.settings.enabled || self.shown.len() != scored.score.len() || order.len() < 2 {
            return best;
        }
        let margin = self.settings.margin.clamp(0.0, 100.0) * matcher::score_per_point(scored.mode);
        let guard = scored.appearance.as_deref().unwrap_or(&scored.identity);
        let allowed = |j: usize| {
            scored.score[j].is_finite()
                && scored.identity[j] >= scored.identity[best] - IDENTITY_GUARD
                && (self.same_peers(j, best) || guard[j] >= guard[best])
        };
        let penalty = self.penalties();
        let mut pick = best;
        let mut pick_score = scored.score[best] - margin * penalty[best];
        for &j in &order[1..] {
            let adjusted = scored.score[j] - margin * penalty[j];
            if adjusted > pick_score && allowed(j) {
                pick = j;
                pick_score = adjusted;
            }
        }
        pick
    }

    /// [`Variety::rank`], remembering the main match as shown.
    pub fn choose(&mut self, query: &FaceCode, candidates: &[Candidate], hubs: &Hubs, settings: Settings, k: usize) -> Vec<Ranked> {
        let ranked = self.rank(query, candidates, hubs, settings, k);
        if self.settings.enabled {
            if let Some(first) = ranked.first() {
                self.record(first.index);
            }
        }
        ranked
    }
}

impl Gallery {
    /// [`Gallery::rank`] with the variety policy: the main match chosen by `variety`, which
    /// remembers it as shown (call once per visitor shown).
    pub fn rank_varied(&self, face: &FaceCode, k: usize, variety: &mut Variety) -> Vec<Ranked> {
        if variety.shown().len() != self.role_models.len() {
            *variety = Variety::for_gallery(self, variety.settings);
        }
        variety.choose(face, self.candidates(), self.hubs(), self.settings, k)
    }

    /// [`Gallery::top_k`] with the variety policy (see [`Gallery::rank_varied`]).
    pub fn top_k_varied(&self, face: &FaceCode, k: usize, variety: &mut Variety) -> Vec<Match<'_>> {
        self.matches(self.rank_varied(face, k, variety))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::manifest::Declared;
    use crate::gallery::matcher::Mode;
    use crate::vision::embed::normalize;

    fn unit(v: &[f32]) -> Vec<f32> {
        normalize(v.to_vec()).expect("non-zero")
    }

    fn cand(id: &str, identity: &[f32], appearance: &[f32]) -> Candidate {
        Candidate { id: id.into(), vector: unit(identity), appearance: Some(unit(appearance)), gender: None }
    }

    fn role_model(id: &str, declared: Option<(&str, &str)>) -> RoleModel {
        RoleModel {
            id: id.into(),
            name: id.into(),
            role: "r".into(),
            branch: String::new(),
            quote: String::new(),
            story_url: "https://example.org/".into(),
            photos: vec![],
            declared: declared.map(|(g, grp)| Declared { consent: true, gender: Some(g.into()), group: Some(grp.into()), tags: vec![] }),
        }
    }

    const PERCEIVED: Settings = Settings { mode: Mode::Perceived, gender_cue: 0.0 };

    /// Three near-identical look-alikes a, b, c (same declared group) and a far-away d.
    fn near_ties() -> (Vec<Candidate>, Vec<RoleModel>, Hubs, FaceCode) {
        let cands = vec![
            cand("a", &[1.0, 0.10, 0.0, 0.0], &[1.0, 0.10, 0.0]),
            cand("b", &[1.0, 0.0, 0.12, 0.0], &[1.0, 0.0, 0.12]),
            cand("c", &[1.0, -0.12, 0.0, 0.0], &[1.0, -0.12, 0.0]),
            cand("d", &[0.0, 0.0, 0.0, 1.0], &[0.0, 1.0, 0.0]),
        ];
        let rms = ["a", "b", "c", "d"].iter().map(|id| role_model(id, Some(("woman", "x")))).collect();
        let hubs = Hubs { fair: vec![0.0; 4], perceived: Some(vec![0.0; 4]) };
        let visitor = FaceCode { identity: unit(&[1.0, 0.0, 0.0, 0.0]), appearance: Some(unit(&[1.0, 0.0, 0.0])) };
        (cands, rms, hubs, visitor)
    }

    #[test]
    fn off_or_fresh_is_the_plain_ranking() {
        let (cands, rms, hubs, visitor) = near_ties();
        let plain = matcher::rank(&visitor, &cands, &hubs, PERCEIVED, 3);
        assert_eq!(Variety::new(&rms, VarietySettings::OFF).rank(&visitor, &cands, &hubs, PERCEIVED, 3), plain);
        assert_eq!(Variety::new(&rms, VarietySettings::default()).rank(&visitor, &cands, &hubs, PERCEIVED, 3), plain);
        // A memory for another gallery size falls back to the plain ranking too.
        assert_eq!(Variety::new(&rms[..2], VarietySettings::default()).rank(&visitor, &cands, &hubs, PERCEIVED, 3), plain);
    }

    #[test]
    fn look_alike_visitors_in_a_row_see_different_near_ties() {
        let (cands, rms, hubs, visitor) = near_ties();
        let mut v = Variety::new(&rms, VarietySettings::default());
        let firsts: Vec<String> = (0..6).map(|_| cands[v.choose(&visitor, &cands, &hubs, PERCEIVED, 3)[0].index].id.clone()).collect();
        assert_eq!(&firsts[..3], ["a", "b", "c"], "{firsts:?}");
        assert!(!firsts.contains(&"d".to_string()), "the far-away role model is never a near-tie: {firsts:?}");
        assert_eq!(v.shown(), &[2, 2, 2, 0]);
        // The card keeps the best match by score when it is not the main one.
        let mut fresh = Variety::new(&rms, VarietySettings::default());
        fresh.record(0);
        let card = fresh.rank(&visitor, &cands, &hubs, PERCEIVED, 3);
        assert_eq!(card.iter().map(|r| cands[r.index].id.as_str()).collect::<Vec<_>>(), ["b", "a", "c"]);
        // Without the policy every one of them sees "a".
        let mut off = Variety::new(&rms, VarietySettings::OFF);
        assert!((0..6).all(|_| cands[off.choose(&visitor, &cands, &hubs, PERCEIVED, 1)[0].index].id == "a"));
        assert_eq!(off.shown(), &[0, 0, 0, 0], "off remembers nothing");
    }

    #[test]
    fn never_replaces_a_clearly_better_match() {
        // The visitor is identical to "d" (another photo of the same person would be close to
        // this); "d" was shown a thousand times, the others never: "d" still comes first, with
        // the largest margin allowed.
        let (cands, rms, hubs, _) = near_ties();
        let visitor = FaceCode { identity: cands[3].vector.clone(), appearance: cands[3].appearance.clone() };
        for margin in [DEFAULT_MARGIN, 100.0] {
            let mut v = Variety::new(&rms, VarietySettings { enabled: true, margin });
            for _ in 0..1000 {
                v.record(3);
            }
            assert_eq!(v.penalty(3), 1.0);
            let r = v.choose(&visitor, &cands, &hubs, PERCEIVED, 3);
            assert_eq!(cands[r[0].index].id, "d", "margin {margin}: {r:?}");
        }
        // The identity guard alone: a rival ahead on score after the penalty but 0.2 lower in
        // identity cosine is not allowed to replace the best.
        let c2 = vec![cand("same", &[1.0, 0.0], &[1.0, 0.0]), cand("rival", &[0.8, 0.6], &[1.0, 0.0])];
        let rms2 = vec![role_model("same", Some(("man", "y"))), role_model("rival", Some(("man", "y")))];
        let hubs2 = Hubs { fair: vec![0.0; 2], perceived: Some(vec![0.0; 2]) };
        let q = FaceCode { identity: unit(&[1.0, 0.0]), appearance: Some(unit(&[1.0, 0.0])) };
        let mut v = Variety::new(&rms2, VarietySettings { enabled: true, margin: 100.0 });
        for _ in 0..50 {
            v.record(0);
        }
        assert_eq!(v.rank(&q, &c2, &hubs2, PERCEIVED, 2)[0].index, 0);
    }

    #[test]
    fn replacements_from_another_declared_group_must_look_as_alike() {
        // "a" is the best; "b" declared another group and looks less like the visitor in the
        // appearance vector, "c" declared the same group as "a": only "c" may replace "a".
        let (cands, mut rms, hubs, visitor) = near_ties();
        rms[1] = role_model("b", Some(("woman", "z")));
        let mut v = Variety::new(&rms, VarietySettings::default());
        for _ in 0..10 {
            v.record(0);
        }
        let r = v.rank(&visitor, &cands, &hubs, PERCEIVED, 4);
        assert_eq!(cands[r[0].index].id, "c", "{r:?}");
        // Undeclared role models share no group: the appearance guard applies between them.
        let undeclared: Vec<RoleModel> = ["a", "b", "c", "d"].iter().map(|id| role_model(id, None)).collect();
        let mut v = Variety::new(&undeclared, VarietySettings::default());
        for _ in 0..10 {
            v.record(0);
        }
        assert_eq!(cands[v.rank(&visitor, &cands, &hubs, PERCEIVED, 4)[0].index].id, "a");
    }

    #[test]
    fn penalty_is_relative_to_the_declared_peers() {
        let rms = vec![
            role_model("a", Some(("woman", "x"))),
            role_model("b", Some(("Woman ", "X"))),
            role_model("c", Some(("man", "x"))),
            role_model("d", None),
        ];
        let mut v = Variety::new(&rms, VarietySettings::default());
        assert_eq!(v.penalty(0), 0.0);
        v.record(0);
        v.record(0);
        v.record(2);
        // a: 2 shown, peers a and b (declared values compared as keys) mean 1 -> 2 / 2 = 1.
        assert_eq!(v.penalty(0), 1.0);
        assert_eq!(v.penalty(1), 0.0);
        // c is alone in its set: shown as often as its mean -> 1/2.
        assert_eq!(v.penalty(2), 0.5);
        // d declared nothing: compared with everybody (mean 3/4).
        assert_eq!(v.penalty(3), 0.0);
        v.record(3);
        assert!((v.penalty(3) - 1.0 / 2.0).abs() < 1e-6, "{}", v.penalty(3));
        v.reset();
        assert_eq!(v.shown(), &[0, 0, 0, 0]);
        v.record(99);
        assert_eq!(v.penalty(99), 0.0);
    }

    #[test]
    fn margin_is_in_look_alike_points_in_every_mode() {
        for mode in [Mode::Resemblance, Mode::Fair, Mode::Perceived] {
            assert!(matcher::score_per_point(mode) > 0.0);
        }
        // perceived: 100 points = a mean cosine of 0.8 = a blend s of 1.6 = a score of 3.2.
        assert!((matcher::score_per_point(Mode::Perceived) * 100.0 - 3.2).abs() < 1e-5);
        assert!((matcher::score_per_point(Mode::Resemblance) * 100.0 - 0.6).abs() < 1e-6);
    }
}
