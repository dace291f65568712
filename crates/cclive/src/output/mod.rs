//! What the user sees on the terminal: human-readable figures (`display`) and claude's own
//! output shown the way the user asked for it (`render`); the terminal's width and colour
//! (`term`).

pub(crate) mod display;
pub mod render;
pub(crate) mod term;
