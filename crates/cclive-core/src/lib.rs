//! The pure domain of cclive.
//!
//! Everything that decides what a Claude Code session *is* lives here: typed records of Claude
//! Code's formats (with an `Unknown` arm, because new record types appear often), the sans-I/O line
//! framer, the domain [`Event`]s those records become, [`SessionState`] and its `apply`, the
//! [`Monitor`] that folds events for many sessions into [`Update`]s, usage and the price table, and
//! the state-file snapshot.
//!
//! This crate must never do I/O: no tokio, no database, no HTTP, no reading env or files, no
//! printing. Callers hand it bytes and clock readings; it hands back values. That keeps every rule
//! here testable with plain unit tests.
//!
//! Layout:
//! - [`framer`]: bytes → complete lines with offsets (partial lines carried over).
//! - [`stream_json`]: one line of `claude -p --output-format stream-json` → [`StreamRecord`].
//! - [`event`]: the domain events every source produces; [`stream_json::to_events`] maps records.
//! - [`session`]: [`SessionState`] and how one event changes it.
//! - [`monitor`]: many sessions, updates, the state-file [`Snapshot`].
//! - [`usage`], [`pricing`]: token counts and what they cost; [`usage_merge`]: the one rule
//!   for merging reports of one response.
//! - [`otel`]: Claude Code's own telemetry (OTLP logs and metrics) → events.
//! - [`ics`]: sessions as an iCalendar calendar; [`calendar`]: which sessions make which
//!   calendar block (the CalDAV sink's rules).
//! - [`report`], [`blocks`], [`budget`]: usage reports, 5-hour blocks, budgets and their alerts.
//! - [`team`]: team mode's wire protocol (agent ↔ `cclive server`), as serde types.
//! - [`store_failure`]: what a store's error means to a caller, whatever the backend.
//! - [`fast_hash`]: the hasher of every table keyed by ids from the user's transcripts.
//! - [`turns`], [`analytics`]: a session's turns, and where its time and money went (the
//!   session page's timeline and performance section, `cclive top`'s turn list, `report tools`).

#![cfg_attr(test, allow(clippy::float_cmp))]

pub mod analytics;
pub mod blocks;
pub mod budget;
pub mod calendar;
pub mod event;
pub mod fast_hash;
pub mod framer;
#[cfg(test)]
mod fuzz_tests;
pub mod hook;
pub mod ics;
pub mod ids;
pub mod lossy;
pub mod monitor;
pub mod otel;
pub mod plans;
pub mod pricing;
mod prompts;
pub mod registry;
pub mod report;
pub mod session;
pub mod statusline;
pub mod store_failure;
pub mod stream_json;
pub mod team;
pub mod transcript;
pub mod turns;
pub mod usage;
pub mod usage_merge;

pub use event::{Activity, Event, EventKind, Mode, Source};
pub use framer::{Line, LineFramer, LineRef};
pub use ids::SessionId;
pub use monitor::{Applied, Monitor, Snapshot, Update, UpdateKind};
pub use pricing::PriceTable;
pub use session::{
    CostSource, CountedUsage, Efficiency, LedgerMark, LedgerOrigin, SessionState, Status,
};
pub use stream_json::StreamRecord;
pub use usage::Tokens;
