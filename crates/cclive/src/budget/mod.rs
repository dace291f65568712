//! What the budget commands and the status line read, as a library the commands call: the
//! spend from the store (`spend`, with the status line's carried figures), the hard limit's
//! prompt gate (`gate`), the official subscription limits (`official`) and the status line's
//! cache (`cache`). The budget rules are `cclive_core::budget`'s; budget alerts while a monitor
//! runs are `sinks::budget_watch`'s. Nothing here prints or parses arguments.

pub(crate) mod cache;
pub(crate) mod gate;
pub(crate) mod official;
pub(crate) mod spend;
