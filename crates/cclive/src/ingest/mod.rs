//! Sources of events. For now: the wrapped claude child (`cclive run`).

pub mod child;
pub mod invocation;
