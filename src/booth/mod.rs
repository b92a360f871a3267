//! The booth: where a role model is chosen for the visitor in front of the camera.
//!
//! - [`step`]: the one frame step — frame → analyse → observe → scene — that the daemon, the
//!   demo and the tests share, with the clock passed in.
//! - [`analyze`]: per frame, the visitor's face judged (size, pose, sharpness) and embedded.
//! - [`machine`]: the state machine Attract → Tracking → Matching → Result → Cooldown (pure).

pub mod analyze;
pub mod machine;
pub mod step;

pub use step::{analyse_frame, Booth, FrameAnalyser, FrameKind, Observation, FULL_FRAME_EVERY};
