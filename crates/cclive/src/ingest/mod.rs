//! Sources of events: the wrapped claude child (`cclive run`), tailed transcripts.

pub mod child;
pub mod discover;
pub mod follow;
pub(crate) mod hook_fallback;
pub(crate) mod hook_spool;
pub mod import;
pub mod invocation;
pub mod liveness;
pub mod own_transcript;
pub mod tail;
pub mod transcripts;
pub(crate) mod work_queue;
