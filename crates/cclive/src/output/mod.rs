//! What the user sees on the terminal: human-readable figures (`display`) and claude's own
//! output shown the way the user asked for it (`render`); text tables
//! that fit the terminal (`table`); the terminal's width and colour (`term`).

pub(crate) mod display;
pub mod render;
pub(crate) mod table;
pub(crate) mod term;
