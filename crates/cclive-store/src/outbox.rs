//! The outbox a team agent forwards from: what changed locally since the team server last
//! acknowledged it, as values.
//!
//! The rows are written by the schema itself (triggers of `0004_team_outbox`) in the same
//! transaction as the sessions, usage rows and events they point at, whichever process writes
//! them, and only while team mode is on ([`SqliteStore::enable_team_outbox`]). Each entity is
//! pending at most once; its [`OutboxEntry::seq`] only grows, so "the server has everything up to
//! seq N" is a safe cursor. This module owns the values; `sqlite/outbox.rs` owns the SQL. It
//! never decides what is sent (prompt text is the uploader's call) nor talks to a server.
//!
//! [`SqliteStore::enable_team_outbox`]: crate::SqliteStore::enable_team_outbox

use cclive_core::{Event, SessionState};
use jiff::Timestamp;

use crate::UsageRow;

/// One pending change, with the data it points at as stored when it was read.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    /// Its place in the outbox: strictly growing, never reused. A session's latest `seq` is also
    /// its revision (a later state always has a higher one).
    pub seq: u64,
    /// What changed.
    pub item: OutboxItem,
}

/// What an [`OutboxEntry`] carries.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum OutboxItem {
    /// A session's latest state (without its ledger).
    Session(Box<SessionState>),
    /// A response's merged usage.
    Usage(UsageRow),
    /// A usage key that is no longer stored: its response counts under another key.
    RetiredUsage(String),
    /// An event, with its row id in this database (stable: events are append-only).
    Event {
        /// The local row id.
        id: i64,
        /// The event.
        event: Box<Event>,
    },
    /// A session or event that was deleted after it was queued: nothing to send. The uploader
    /// drops these with [`SqliteStore::forget_outbox`](crate::SqliteStore::forget_outbox).
    Gone,
}

/// The team agent's state in this database, for `cclive team status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamAgentState {
    /// This database's machine id (a UUID), created the first time team mode was enabled.
    pub machine_id: String,
    /// True while the outbox is being filled.
    pub enabled: bool,
    /// The highest seq the server acknowledged.
    pub acked_seq: u64,
    /// The highest seq ever queued (0 when none).
    pub last_seq: u64,
    /// Entries still to send.
    pub pending: u64,
    /// When the server last answered a push or a cursor request.
    pub last_contact_at: Option<Timestamp>,
    /// The last failure to reach or satisfy the server, cleared by the next success.
    pub last_error: Option<String>,
    /// When that failure happened.
    pub last_error_at: Option<Timestamp>,
}
