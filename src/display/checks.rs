//! A gallery's result cards checked as the booth would show them ([`check_gallery`]), for
//! `gallery preview` (which also writes the cards and contact sheets) and `bundle create`
//! (which refuses on errors): the config's screen sizes, the gallery opened as the booth opens
//! it, every card drawn and checked by [`super::preview`]. Writes nothing.

use std::path::Path;

use anyhow::Context;

use super::preview::{self, CardImage, Problem, Severity};
use super::render::Assets;
use super::text::Fonts;
use crate::config::{Backend, Config, KmsSettings};
use crate::gallery::index::{self, Index, PhotoRules};
use crate::gallery::{Gallery, GalleryManifest};
use crate::util::Size;
use crate::vision::{Vision, VisionOptions};

/// The screen sizes a config's display has, as scenes are laid out (turned by
/// `display.rotation`): the PNG backend's size, an SPI panel's, a KMS mode set in the config, or
/// for a screen whose size comes from the device at run time 1920x1080, said in `note`.
pub fn display_sizes(config: &Config) -> (Vec<Size>, Option<String>) {
    let turned = |w: u32, h: u32| Size::from(config.display.rotation.turn(w, h));
    let at_run_time = |what: String| {
        let size = turned(1920, 1080);
        (vec![size], Some(format!("display.backend is {what}: its size comes from the screen at run time; checked at {size}")))
    };
    match &config.display.backend {
        Backend::Png { size, .. } => (vec![turned(size.width, size.height)], None),
        Backend::Spi(spi) => (vec![Size::from(spi.rotation.turn(u32::from(spi.width), u32::from(spi.height)))], None),
        Backend::Kms(KmsSettings { mode: Some(mode), .. }) => (vec![turned(mode.width, mode.height)], None),
        Backend::Kms(_) => at_run_time("kms".into()),
        Backend::Auto { .. } => at_run_time("auto".into()),
        Backend::Fbdev { device } => at_run_time(format!("fbdev ({})", device.display())),
    }
}

/// What the checks found.
pub struct Checked {
    pub problems: Vec<Problem>,
    pub sizes: Vec<Size>,
    pub cards: usize,
    pub note: Option<String>,
}

impl Checked {
    pub fn errors(&self) -> usize {
        self.problems.iter().filter(|p| p.severity == Severity::Error).count()
    }
    pub fn warnings(&self) -> usize {
        self.problems.iter().filter(|p| p.severity == Severity::Warning).count()
    }
}

/// A gallery as the booth would open it, without writing anything into `dir`: its index when
/// fresh, else one built in memory (the booth builds the same at its first start).
fn open_gallery(dir: &Path, manifest: &GalleryManifest, vision: &Vision) -> anyhow::Result<Gallery> {
    let previous = Index::read(dir).unwrap_or(None);
    let index = match previous {
        Some(i) if i.staleness(dir, &vision.embedder_id).is_none() => i,
        previous => index::build(dir, manifest, vision, &PhotoRules::default(), previous.as_ref(), index::Portraits::Keep, |_, _| {})?.0,
    };
    Ok(Gallery::from_parts(dir, manifest.clone(), index))
}

/// Renders and checks every card of the gallery in `dir` at `sizes` (empty: the config's display
/// sizes; `config` None: the default config), with the vision stack `vision` names (loaded after
/// the config and fonts, so their errors come first). `each` receives every card image;
/// `progress` (done, total) is called after each card. The manifest must be valid (checked by
/// the caller).
pub fn check_gallery(
    vision: &VisionOptions,
    dir: &Path,
    config: Option<&Path>,
    sizes: &[Size],
    each: &mut dyn FnMut(&Gallery, &Fonts, CardImage) -> anyhow::Result<()>,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Checked> {
    let config = match config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let (sizes, note) = if sizes.is_empty() { display_sizes(&config) } else { (sizes.to_vec(), None) };
    let fonts = Fonts::load(&config.display.font, &config.display.font_bold).context("the display fonts (display.font)")?;
    let manifest = GalleryManifest::load(dir)?;
    let vision = Vision::open(vision)?;
    let gallery = open_gallery(dir, &manifest, &vision)?;
    let assets = Assets::with_cards(fonts, config.texts.clone(), preview::cards_for(&gallery));
    let mut problems = preview::missing_photos(&manifest, &gallery);
    problems.extend(preview::left_out_photos(&gallery));
    let found = preview::check_cards(
        &assets,
        &gallery.role_models,
        Some(&vision),
        &sizes,
        &mut |card| each(&gallery, &assets.fonts, card),
        progress,
    )?;
    problems.extend(found);
    let key = |p: &Problem| (std::cmp::Reverse(p.severity), p.role_model.clone(), p.size.map(|s| (s.width, s.height)));
    problems.sort_by_key(key);
    Ok(Checked { problems, sizes, cards: gallery.role_models.len(), note })
}
