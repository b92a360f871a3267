//! rolemirror: a recruitment-booth "mirror" that shows the role model from a curated gallery
//! who looks most like the visitor.
//!
//! - [`vision`]: detect, align and embed faces (YuNet + MobileFaceNet on tract).
//! - [`models`]: the model manifest, fetching, verification and int8 quantization.
//! - [`gallery`]: the role-model gallery, its embedding index and matching.
//! - [`demo`]: the demo gallery and visitors, from a local data mirror.
//! - [`eval`]: LFW pair accuracy and the UTKFace relatability protocol.
//! - [`booth`], [`display`], [`config`]: the booth's state machine, screens and settings.
//! - [`usb`]: signed USB bundles of galleries and configs, installed atomically.
//! - [`cli`]: the commands behind the `rolemirror` binary.

pub mod booth;
pub mod camera;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod display;
pub mod eval;
pub mod events;
pub mod gallery;
pub mod models;
pub mod usb;
pub mod util;
pub mod vision;
