//! rolemirror: a recruitment-booth "mirror" that shows the role model from a curated gallery
//! who looks most like the visitor. `ARCHITECTURE.md` has the map; in short, from the bottom up
//! (each layer imports only from the ones above it in this list):
//!
//! - [`util`], [`events`]: file helpers, sizes, the one-value slot; event lines.
//! - [`models`]: the model manifest, fetching and verification.
//! - [`vision`]: detect, choose, align and embed faces (YuNet + MobileFaceNet on tract), and the
//!   int8 quantization of model files.
//! - [`gallery`]: the role-model gallery, its embedding index, matching and the audit.
//! - [`eval`]: LFW pair accuracy and the UTKFace relatability protocol.
//! - [`input`]: what a visitor presses or taps (evdev), decoded into gestures.
//! - [`config`]: the booth's config file, checked into typed settings.
//! - [`display`]: scenes as data, the renderer, and the screens (fbdev, SPI, PNG).
//! - [`chart`]: charts for reports (the gallery audit's), drawn with the display's code.
//! - [`camera`]: where frames come from (V4L2, replay) and the capture thread.
//! - [`usb`]: signed USB bundles of galleries and configs, installed atomically.
//! - [`booth`]: where a role model is chosen: the per-frame step and the state machine.
//! - [`demo`]: the demo data and the booth over it on a simulated clock.
//! - [`service`]: `rolemirror run`, the booth as a systemd service.
//! - [`fleet`]: Mender beside the booth: update modules for bundles and the package, inventory.
//! - [`cli`]: the commands behind the `rolemirror` binary.

// NaN-safe checks are written `!(x > limit)` on purpose: a NaN fails them (docs/style.md).
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod booth;
pub mod camera;
pub mod chart;
pub mod cli;
pub mod config;
pub mod demo;
pub mod display;
pub mod eval;
pub mod events;
pub mod fleet;
pub mod gallery;
pub mod input;
pub mod models;
pub mod service;
pub mod usb;
pub mod util;
pub mod vision;
