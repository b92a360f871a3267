//! Whom a gallery covers, from what role models declared themselves with consent
//! (`[role_model.declared]`): per declared gender, group, gender / group and tag, the role
//! models and their share of the gallery and of the matches; thin groups named.

use std::collections::BTreeMap;

use super::{Coverage, Covered, THIN_BELOW};
use crate::gallery::manifest::declared_key;
use crate::gallery::Gallery;

/// The coverage of `gallery` when role model i was the top match for `counts[i]` of `faces`.
pub(super) fn coverage(gallery: &Gallery, counts: &[usize], faces: usize) -> Coverage {
    let n = gallery.role_models.len().max(1);
    let mut cov = Coverage::default();
    let add = |map: &mut BTreeMap<String, Covered>, key: String, count: usize| {
        let c = map.entry(key).or_default();
        c.role_models += 1;
        c.gallery_share += 1.0 / n as f64;
        c.match_share += if faces == 0 { 0.0 } else { count as f64 / faces as f64 };
    };
    // Values are counted as compared (trimmed, lower-case), so "Woman" and "woman " are one.
    for (rm, &count) in gallery.role_models.iter().zip(counts) {
        let Some(d) = rm.consented() else {
            cov.undeclared += 1;
            continue;
        };
        cov.declared += 1;
        let gender = d.gender.as_deref().map(declared_key).filter(|v| !v.is_empty());
        let group = d.group.as_deref().map(declared_key).filter(|v| !v.is_empty());
        if let Some(g) = &gender {
            add(&mut cov.gender, g.clone(), count);
        }
        if let Some(g) = &group {
            add(&mut cov.group, g.clone(), count);
        }
        if let (Some(a), Some(b)) = (&gender, &group) {
            add(&mut cov.gender_group, format!("{a} / {b}"), count);
        }
        let mut tags: Vec<String> = d.tags.iter().map(|t| declared_key(t)).filter(|t| !t.is_empty()).collect();
        tags.sort();
        tags.dedup();
        for t in tags {
            add(&mut cov.tags, t, count);
        }
    }
    for (what, map) in [("gender", &cov.gender), ("group", &cov.group), ("gender / group", &cov.gender_group), ("tag", &cov.tags)] {
        for (value, c) in map {
            if c.role_models < THIN_BELOW {
                cov.thin.push(format!(
                    "{what} \"{value}\": {} role model{} (visitors who resemble them have little choice)",
                    c.role_models,
                    if c.role_models == 1 { "" } else { "s" }
                ));
            }
        }
    }
    cov
}
