//! The role-model gallery: manifest, embedding index and matching.
//!
//! A gallery is a directory with `gallery.toml` (see [`manifest`]), the photos, and after
//! `rolemirror gallery build` an `index.json` (see [`index`]). [`Gallery::open`] loads both,
//! refuses a stale index, and gives the role models ready for [`matcher`].

pub mod audit;
pub mod csv_import;
pub mod index;
pub mod likeness;
pub mod manifest;
pub mod matcher;
pub mod portrait;
pub mod variety;

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::vision::embed::FaceCode;
pub use index::Index;
pub use manifest::{Declared, GalleryManifest, RoleModel};
use matcher::{Candidate, Hubs, Ranked, Settings};

use crate::vision::EmbedderId;

/// A role model made from vectors (no photo): id, identity vector, appearance vector,
/// declaration.
type VectorEntry = (String, Vec<f32>, Option<Vec<f32>>, Option<Declared>);

/// `DIR/gallery.toml`, refused with every problem listed when it is not usable.
fn valid_manifest(dir: &Path) -> anyhow::Result<GalleryManifest> {
    let manifest = GalleryManifest::load(dir)?;
    let problems = manifest.validate(Some(dir));
    if !problems.is_empty() {
        bail!("{}: {} problem(s):\n  {}", dir.join(manifest::MANIFEST_FILE).display(), problems.len(), problems.join("\n  "));
    }
    Ok(manifest)
}

/// A gallery ready to match against.
#[derive(Debug, Clone)]
pub struct Gallery {
    pub dir: PathBuf,
    /// Role models with at least one accepted photo, in manifest order.
    pub role_models: Vec<RoleModel>,
    candidates: Vec<Candidate>,
    /// Each candidate's hubness (see [`matcher::Hubs`]).
    hubs: Hubs,
    /// How role models are ranked.
    pub settings: Settings,
    pub index: Index,
}

/// One match for display or JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Match<'a> {
    pub role_model: &'a RoleModel,
    pub similarity: f32,
    pub percent: u8,
}

impl Gallery {
    /// Loads the manifest and index of `dir` for use with `embedder`; a missing, corrupt or
    /// stale index is an error that says to run `gallery build`.
    pub fn open(dir: &Path, embedder: &EmbedderId) -> anyhow::Result<Gallery> {
        let manifest = valid_manifest(dir)?;
        let Some(index) = Index::read(dir)? else {
            bail!("{} has no index: run `rolemirror gallery build {}`", dir.display(), dir.display());
        };
        if let Some(why) = index.staleness(dir, embedder) {
            bail!("the index of {} is stale ({why}): run `rolemirror gallery build {}`", dir.display(), dir.display());
        }
        Ok(Self::from_parts(dir, manifest, index))
    }

    /// Opens `dir` as [`Gallery::open`] does; when only its index is missing or stale (a new
    /// model or software version, an edited manifest or photo), builds and writes the index
    /// first, reusing cached embeddings, calling `progress` per photo. Problems with the
    /// manifest or photos stay errors; an index that cannot be written (a full disk) is a
    /// warning. Returns why it rebuilt (None: the index was fresh).
    pub fn open_or_build(
        dir: &Path,
        vision: &crate::vision::Vision,
        mut progress: impl FnMut(&RoleModel, &str),
    ) -> anyhow::Result<(Gallery, Option<String>)> {
        let manifest = valid_manifest(dir)?;
        // A corrupt index is rebuilt like a stale one (and none of its embeddings is reused).
        let (previous, why) = match Index::read(dir) {
            Ok(Some(index)) => match index.staleness(dir, &vision.embedder_id) {
                None => return Ok((Self::from_parts(dir, manifest, index), None)),
                Some(why) => (Some(index), format!("{} is stale: {why}", dir.join(index::INDEX_FILE).display())),
            },
            Ok(None) => (None, format!("{} is missing", dir.join(index::INDEX_FILE).display())),
            Err(e) => (None, format!("{e:#}")),
        };
        let (index, _) = index::build(
            dir,
            &manifest,
            vision,
            &index::PhotoRules::default(),
            previous.as_ref(),
            index::Portraits::Prepare,
            |rm, photo| progress(rm, photo),
        )?;
        // The index is a cache: on a full or read-only disk the booth runs on the one in memory
        // (and rebuilds it again at the next start) rather than not at all.
        if let Err(e) = index.write(dir) {
            log::warn!("{e:#}: the booth runs on the index in memory and rebuilds it at the next start");
        }
        Ok((Self::from_parts(dir, manifest, index), Some(why)))
    }

    /// Combines a manifest and a (fresh) index.
    pub fn from_parts(dir: &Path, manifest: GalleryManifest, index: Index) -> Gallery {
        let mut role_models = Vec::new();
        let mut candidates = Vec::new();
        let mut genders: Vec<String> = Vec::new();
        for rm in manifest.role_models {
            let embeddings: Vec<&[f32]> = index.photos.iter().filter(|p| p.role_model == rm.id).map(|p| p.embedding.as_slice()).collect();
            let appearances: Vec<&[f32]> =
                index.photos.iter().filter(|p| p.role_model == rm.id).filter_map(|p| p.appearance.as_deref()).collect();
            // A role model's appearance is the mean over all its photos, or none if one lacks it.
            let appearance = if appearances.len() == embeddings.len() { matcher::centroid(&appearances) } else { None };
            if let Some(vector) = matcher::centroid(&embeddings) {
                let gender = rm.declared_gender().map(|g| match genders.iter().position(|x| *x == g) {
                    Some(i) => i as u16,
                    None => {
                        genders.push(g);
                        (genders.len() - 1) as u16
                    }
                });
                candidates.push(Candidate { id: rm.id.clone(), vector, appearance, gender });
                role_models.push(rm);
            }
        }
        let hubs = Hubs::new(&candidates);
        Gallery { dir: dir.to_path_buf(), role_models, candidates, hubs, settings: Settings::default(), index }
    }

    /// The gallery as the booth keeps it: the photos' own vectors dropped (the role models'
    /// vectors, already made from them, are what it matches against; the photos are kept for
    /// their files, faces and portraits). With 1,000 photos of the 512-dimension embedder that is
    /// ~2.5 MB the daemon held twice.
    pub fn for_booth(mut self) -> Gallery {
        for photo in &mut self.index.photos {
            photo.embedding = Vec::new();
            photo.appearance = None;
        }
        self
    }

    /// Each role model's reference vector, in the order of `role_models`.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Each role model's hubness (see [`matcher::Hubs`]), in the order of `role_models`.
    pub fn hubs(&self) -> &Hubs {
        &self.hubs
    }

    /// Sets how role models are ranked.
    pub fn with_settings(mut self, settings: Settings) -> Gallery {
        self.settings = settings;
        self
    }

    /// The `k` best role models for a visitor's face under [`Gallery::settings`], by index into
    /// [`Gallery::role_models`], best first.
    pub fn rank(&self, face: &FaceCode, k: usize) -> Vec<Ranked> {
        matcher::rank(face, &self.candidates, &self.hubs, self.settings, k)
    }

    /// The `k` best role models for a visitor's face under [`Gallery::settings`].
    pub fn top_k(&self, face: &FaceCode, k: usize) -> Vec<Match<'_>> {
        self.matches(self.rank(face, k))
    }

    /// Ranked role models as matches (the role model, its similarity and the percent shown).
    pub(crate) fn matches(&self, ranked: Vec<Ranked>) -> Vec<Match<'_>> {
        ranked
            .into_iter()
            .map(|Ranked { index, similarity }| Match {
                role_model: &self.role_models[index],
                similarity,
                percent: matcher::display_percent(similarity),
            })
            .collect()
    }

    /// A gallery of role models `id` with these identity vectors (no photos on disk), ranked by
    /// plain cosine: for tests of the code above the gallery.
    #[cfg(test)]
    pub(crate) fn synthetic(vectors: &[(&str, Vec<f32>)]) -> Gallery {
        let entries = vectors.iter().map(|(id, v)| (id.to_string(), v.clone(), None, None)).collect();
        Gallery::from_vectors(entries).with_settings(Settings { mode: matcher::Mode::Resemblance, gender_cue: 0.0 })
    }

    /// A gallery of `n` role models with random unit identity vectors of length `dim` (and
    /// appearance vectors of length `appearance`, when the embedder has them) and two declared
    /// genders, no photos on disk: for benchmarks, where ranking it costs what ranking a real
    /// gallery of that size costs. The same every time.
    pub fn random(n: usize, dim: usize, appearance: Option<usize>) -> Gallery {
        let mut state = 0x9e3779b97f4a7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f32 / (1u64 << 53) as f32 - 0.5
        };
        let entries = (0..n)
            .map(|i| {
                let v: Vec<f32> = (0..dim).map(|_| next()).collect();
                let appearance = appearance.map(|n| (0..n).map(|_| next()).collect());
                let declared = Declared { consent: true, gender: Some(["f", "m"][i % 2].into()), ..Declared::default() };
                (format!("synthetic-{i:04}"), v, appearance, Some(declared))
            })
            .collect();
        Gallery::from_vectors(entries)
    }

    /// A gallery of (id, identity vector, appearance vector, declaration) entries, one photo each.
    fn from_vectors(entries: Vec<VectorEntry>) -> Gallery {
        let mut role_models = Vec::new();
        let mut photos = Vec::new();
        let dim = entries.first().map_or(0, |e| e.1.len());
        for (id, v, appearance, declared) in entries {
            role_models.push(RoleModel {
                id: id.clone(),
                name: id.to_uppercase(),
                role: "Role".into(),
                branch: String::new(),
                quote: String::new(),
                story_url: format!("https://example.org/{id}"),
                photos: vec![format!("{id}.jpg")],
                declared,
            });
            photos.push(index::PhotoEntry {
                role_model: id.clone(),
                file: format!("{id}.jpg"),
                sha256: String::new(),
                eye_distance: 40.0,
                face: None,
                embedding: crate::vision::embed::normalize(v).unwrap_or_default(),
                appearance: appearance.and_then(crate::vision::embed::normalize),
                portrait: None,
            });
        }
        let embedder = EmbedderId { id: "synthetic".into(), sha256: String::new(), dim, appearance: None };
        let index = Index { format: index::FORMAT, embedder, manifest_sha256: String::new(), photos, rejected: vec![] };
        Gallery::from_parts(Path::new("."), GalleryManifest { role_models }, index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::embed::FaceCode;

    #[test]
    fn the_booth_keeps_no_photo_vectors_and_ranks_as_before() {
        let full = Gallery::random(60, 512, Some(64));
        let kept = full.clone().for_booth();
        assert!(full.index.photos.iter().all(|p| p.embedding.len() == 512 && p.appearance.is_some()));
        assert!(kept.index.photos.iter().all(|p| p.embedding.is_empty() && p.appearance.is_none()));
        assert_eq!(
            kept.index.photos.iter().map(|p| &p.file).collect::<Vec<_>>(),
            full.index.photos.iter().map(|p| &p.file).collect::<Vec<_>>()
        );
        // Visitors near three of the role models, and one near none: the same ranking and scores.
        for (i, seed) in [(3usize, 0.9f32), (17, 0.6), (42, 0.3), (0, 0.0)] {
            let near = |v: &[f32]| {
                v.iter().enumerate().map(|(j, x)| seed * x + (1.0 - seed) * ((j * 7 + i) % 11) as f32 / 11.0).collect::<Vec<f32>>()
            };
            let face =
                FaceCode { identity: near(&full.candidates()[i].vector), appearance: full.candidates()[i].appearance.as_deref().map(near) };
            assert_eq!(kept.rank(&face, 5), full.rank(&face, 5), "visitor near role model {i}");
        }
    }
}
