//! The booth: where a role model is chosen for the visitor in front of the camera.
//!
//! - [`step`]: the one frame step — frame → analyse ([`FrameAnalyser`]) → observe ([`Booth`]) →
//!   scene — with the clock passed in; the service's `Core` is the only thing that steps a booth.
//! - [`analyze`]: per frame, the visitor's face judged (size, pose, sharpness) and embedded.
//! - [`machine`]: the state machine Attract → Tracking → Matching → Result → Cooldown (pure).

pub mod analyze;
pub mod machine;
pub mod step;

pub use step::{Booth, FrameAnalyser, FrameKind, Observation, FULL_FRAME_EVERY};
