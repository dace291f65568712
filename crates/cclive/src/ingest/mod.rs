//! Sources of events: the wrapped claude child (`cclive run`), tailed transcripts.

pub mod child;
pub mod invocation;
pub mod tail;
