//! cclive's persistence: session history behind one [`Store`] trait.
//!
//! The binary's writer task hands finished batches of [`SessionState`]s and [`Event`]s to
//! [`Store::write_batch`]; `cclive sessions`, reports and the server read them back through the
//! other methods. [`SqliteStore`] is the embedded default (one file, WAL, safe to share between a
//! wrapper that writes and a command that reads).
//!
//! This crate owns the schema, its append-only migrations and every SQL statement. It must never
//! leak SQL (or `rusqlite` types, apart from the source of a [`StoreError`]) out of the crate, and
//! it never logs, prints or reads configuration: callers choose the path and handle the errors.
//!
//! Layout:
//! - [`Store`], [`SessionQuery`]: what callers use.
//! - `sqlite`: [`SqliteStore`], rows to and from domain values.
//! - `migrations`: the schema scripts (`src/migrations/NNNN_name.sql`) and the runner.
//! - [`StoreError`]: what can go wrong, by consequence.

use cclive_core::{Event, SessionId, SessionState, Status};
use jiff::Timestamp;

mod error;
mod migrations;
mod sqlite;

pub use error::StoreError;
pub use sqlite::SqliteStore;

/// Where sessions and their events are kept.
///
/// Implementations are shared between tasks (`Send + Sync`) and must let several processes use
/// the same storage at once. Every method is a short blocking call; async callers run it on a
/// blocking thread.
pub trait Store: Send + Sync {
    /// Writes sessions (insert or replace, by `session_id`) and appends events, in ONE transaction.
    ///
    /// Either everything in the batch is stored or nothing is. When a session appears twice in
    /// `sessions`, the later entry wins. Every event must belong to a session that is already
    /// stored or is in `sessions`; otherwise the batch fails with
    /// [`StoreError::UnknownSession`].
    fn write_batch(&self, sessions: &[SessionState], events: &[Event]) -> Result<(), StoreError>;

    /// One session, as last written; `None` when it was never stored.
    ///
    /// The state comes back as serialized: `SessionState`'s private working memory (the
    /// dedupe ledger) is not stored, so to keep folding events into a session, replay its
    /// [`events`](Store::events) into a fresh state instead.
    fn session(&self, id: &SessionId) -> Result<Option<SessionState>, StoreError>;

    /// Newest first (by `started_at` desc, then `session_id`).
    ///
    /// Ties on the start time are broken by ascending session id, so pages are stable.
    fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionState>, StoreError>;

    /// A session's events in the order they were appended.
    fn events(&self, id: &SessionId) -> Result<Vec<Event>, StoreError>;
}

/// Which sessions [`Store::sessions`] returns. The default returns all of them.
///
/// Filters combine with AND. Times are compared at millisecond precision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionQuery {
    /// At most this many sessions; `None` for no limit.
    pub limit: Option<usize>,
    /// Skip this many sessions first (for paging, with `limit`).
    pub offset: usize,
    /// Only sessions with this status.
    pub status: Option<Status>,
    /// Only sessions filed under exactly this project path.
    pub project: Option<String>,
    /// Only sessions that started at or after this time.
    pub since: Option<Timestamp>,
    /// Only sessions that started strictly before this time.
    pub until: Option<Timestamp>,
}

#[cfg(test)]
mod tests;
