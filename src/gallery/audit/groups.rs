//! Role models compared with their declared peers: the peer key of each, shares over the
//! peers' mean, the declared sets the within-group exposure is reported for, and the spread of
//! matches inside a set.

use std::collections::BTreeMap;

use super::RARE;
use crate::gallery::manifest::declared_key;
use crate::gallery::Gallery;

/// Each role model's peer key (declared "gender / group", or the one declared), as in
/// [`super::variety`].
pub(super) fn peer_keys(gallery: &Gallery) -> Vec<Option<String>> {
    gallery
        .role_models
        .iter()
        .map(|rm| {
            let d = rm.consented()?;
            let v = |x: &Option<String>| x.as_deref().map(declared_key).filter(|v| !v.is_empty());
            match (v(&d.gender), v(&d.group)) {
                (Some(a), Some(b)) => Some(format!("{a} / {b}")),
                (Some(a), None) | (None, Some(a)) => Some(a),
                (None, None) => None,
            }
        })
        .collect()
}

/// Each role model's value over the mean value of its peers (everybody for role models without
/// a peer key).
pub(super) fn over_peer_mean(values: &[f64], keys: &[Option<String>]) -> Vec<f64> {
    values
        .iter()
        .zip(keys)
        .map(|(v, key)| {
            let peers: Vec<f64> = values.iter().zip(keys).filter(|(_, k)| key.is_none() || *k == key).map(|(x, _)| *x).collect();
            let mean = peers.iter().sum::<f64>() / peers.len().max(1) as f64;
            if mean > 0.0 {
                v / mean
            } else {
                0.0
            }
        })
        .collect()
}

/// The declared values (kind, value, member indices) the groups are reported for.
pub(super) fn declared_sets(gallery: &Gallery) -> Vec<(&'static str, String, Vec<usize>)> {
    let mut sets: BTreeMap<(&'static str, String), Vec<usize>> = BTreeMap::new();
    for (i, rm) in gallery.role_models.iter().enumerate() {
        let Some(d) = rm.consented() else { continue };
        let v = |x: &Option<String>| x.as_deref().map(declared_key).filter(|v| !v.is_empty());
        let (gender, group) = (v(&d.gender), v(&d.group));
        if let Some(g) = &gender {
            sets.entry(("gender", g.clone())).or_default().push(i);
        }
        if let Some(g) = &group {
            sets.entry(("group", g.clone())).or_default().push(i);
        }
        if let (Some(a), Some(b)) = (&gender, &group) {
            sets.entry(("gender / group", format!("{a} / {b}"))).or_default().push(i);
        }
    }
    let order = |k: &str| ["gender / group", "gender", "group"].iter().position(|x| *x == k).unwrap_or(3);
    let mut out: Vec<(&'static str, String, Vec<usize>)> = sets.into_iter().map(|((k, v), m)| (k, v, m)).collect();
    out.sort_by(|a, b| order(a.0).cmp(&order(b.0)).then_with(|| a.1.cmp(&b.1)));
    out
}

/// (most-shown index, max over mean, never, rare) of `counts` restricted to `members`.
pub(super) fn spread_within(counts: &[f64], members: &[usize]) -> (usize, f64, usize, usize) {
    let total: f64 = members.iter().map(|i| counts[*i]).sum();
    let mean = total / members.len().max(1) as f64;
    let most = members.iter().copied().max_by(|a, b| counts[*a].total_cmp(&counts[*b]).then_with(|| b.cmp(a))).unwrap_or(0);
    let max = if mean > 0.0 { counts[most] / mean } else { 0.0 };
    let never = members.iter().filter(|i| counts[**i] == 0.0).count();
    let rare = members.iter().filter(|i| counts[**i] > 0.0 && counts[**i] < RARE * mean).count();
    (most, max, never, rare)
}

/// The worst max over mean among the sets reported as gender / group (or, when nobody declared
/// both, gender and group) with at least two role models.
pub(super) fn worst_of(sets: &[(&'static str, String, Vec<usize>)], counts: &[f64]) -> f64 {
    let pairs = sets.iter().any(|s| s.0 == "gender / group");
    sets.iter().filter(|s| s.2.len() >= 2 && (s.0 == "gender / group" || !pairs)).map(|s| spread_within(counts, &s.2).1).fold(0.0, f64::max)
}
