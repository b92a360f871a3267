//! The role-model gallery: manifest, embedding index and matching.
//!
//! A gallery is a directory with `gallery.toml` (see [`manifest`]), the photos, and after
//! `rolemirror gallery build` an `index.json` (see [`index`]). [`Gallery::open`] loads both,
//! refuses a stale index, and gives the role models ready for [`matcher`].

pub mod index;
pub mod manifest;
pub mod matcher;

use std::path::{Path, PathBuf};

use anyhow::bail;

pub use index::Index;
pub use manifest::{GalleryManifest, RoleModel};
use matcher::{Candidate, Mode, Ranked};

use crate::vision::EmbedderId;

/// A gallery ready to match against.
#[derive(Debug, Clone)]
pub struct Gallery {
    pub dir: PathBuf,
    /// Role models with at least one accepted photo, in manifest order.
    pub role_models: Vec<RoleModel>,
    candidates: Vec<Candidate>,
    /// Each candidate's hubness (see [`matcher::hubness`]).
    hub: Vec<f32>,
    /// How role models are ranked.
    pub mode: Mode,
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
        let manifest = GalleryManifest::load(dir)?;
        let problems = manifest.validate(Some(dir));
        if !problems.is_empty() {
            bail!("{}: {} problem(s):\n  {}", dir.join(manifest::MANIFEST_FILE).display(), problems.len(), problems.join("\n  "));
        }
        let Some(index) = Index::read(dir)? else {
            bail!("{} has no index: run `rolemirror gallery build {}`", dir.display(), dir.display());
        };
        if let Some(why) = index.staleness(dir, embedder) {
            bail!("the index of {} is stale ({why}): run `rolemirror gallery build {}`", dir.display(), dir.display());
        }
        Ok(Self::from_parts(dir, manifest, index))
    }

    /// Combines a manifest and a (fresh) index.
    pub fn from_parts(dir: &Path, manifest: GalleryManifest, index: Index) -> Gallery {
        let mut role_models = Vec::new();
        let mut candidates = Vec::new();
        for rm in manifest.role_models {
            let embeddings: Vec<&[f32]> =
                index.photos.iter().filter(|p| p.role_model == rm.id).map(|p| p.embedding.as_slice()).collect();
            if let Some(vector) = matcher::centroid(&embeddings) {
                candidates.push(Candidate { id: rm.id.clone(), vector });
                role_models.push(rm);
            }
        }
        let hub = matcher::hubness(&candidates, matcher::HUB_NEIGHBOURS);
        Gallery { dir: dir.to_path_buf(), role_models, candidates, hub, mode: Mode::default(), index }
    }

    /// Each role model's reference vector, in the order of `role_models`.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Sets how role models are ranked.
    pub fn with_mode(mut self, mode: Mode) -> Gallery {
        self.mode = mode;
        self
    }

    /// The `k` best role models for a visitor embedding under [`Gallery::mode`].
    pub fn top_k(&self, embedding: &[f32], k: usize) -> Vec<Match<'_>> {
        matcher::rank(embedding, &self.candidates, &self.hub, self.mode, k)
            .into_iter()
            .map(|Ranked { index, similarity }| Match {
                role_model: &self.role_models[index],
                similarity,
                percent: matcher::display_percent(similarity),
            })
            .collect()
    }
}
