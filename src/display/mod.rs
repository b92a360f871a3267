//! The screen: scenes are rendered into a [`canvas::Canvas`] back buffer (an
//! `embedded_graphics` `DrawTarget`), then a backend presents it in one copy.

pub mod canvas;
pub mod fbdev;
pub mod png;
pub mod render;
pub mod text;
