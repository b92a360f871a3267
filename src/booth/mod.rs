//! The booth: the state machine (pure, tested with a fake clock) and the scenes it shows.

pub mod analyze;
pub mod demo;
pub mod machine;
pub mod scene;
