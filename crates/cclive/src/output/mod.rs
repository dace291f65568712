//! What the user sees on the terminal: human-readable figures (`display`), text tables that fit
//! the terminal (`table`, used by `cclive report` and `cclive budget`), the terminal's width and
//! colour (`term`) and claude's own output shown the way the user asked for it (`render`).

pub(crate) mod display;
pub mod render;
pub(crate) mod table;
pub(crate) mod term;
