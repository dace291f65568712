//! What can go wrong in the store, one variant per consequence a caller may act on.
//!
//! Callers match the variants they handle (a newer schema means "upgrade cclive"; a corrupt row
//! names the session to look at) and give the rest context at the top. Messages never include
//! SQL or row contents; the underlying `rusqlite` error is kept as the source.

use std::path::PathBuf;

use cclive_core::SessionId;

/// An error from a [`Store`](crate::Store).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened or configured (missing directory, not a database,
    /// permissions).
    #[error("cannot open the cclive database at {}", path.display())]
    Open {
        /// The file that was opened (`:memory:` for an in-memory database).
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },

    /// A schema migration failed. It was rolled back, so the database stays at the previous
    /// version.
    #[error("cannot upgrade the cclive database to schema version {version} ({name})")]
    Migrate {
        /// The schema version the migration would have reached.
        version: u32,
        /// The migration's name, as in `src/migrations/NNNN_name.sql`.
        name: &'static str,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },

    /// The database was written by a newer cclive; this build does not know its schema and
    /// leaves it untouched.
    #[error(
        "the cclive database has schema version {found}, but this cclive only knows versions up \
         to {supported}; upgrade cclive to use this database"
    )]
    NewerSchema {
        /// The database's schema version.
        found: u32,
        /// The newest schema version this build knows.
        supported: u32,
    },

    /// A stored row could not be decoded into a domain value.
    #[error("the stored {what} cannot be decoded: {detail}")]
    Corrupt {
        /// Which row, naming its session (e.g. `state of session 3f2a…`).
        what: String,
        /// What was wrong with it.
        detail: String,
    },

    /// A batch held an event for a session that is neither stored nor in the same batch.
    /// Nothing of the batch was written.
    #[error("an event names session {session_id}, which is not stored and not in the batch")]
    UnknownSession {
        /// The session the event names.
        session_id: SessionId,
    },

    /// A value could not be serialized for storage. Nothing of the batch was written.
    #[error("cannot serialize the {what} for storage")]
    Encode {
        /// Which value (e.g. `state of session 3f2a…`).
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },

    /// A checkpoint's path is not valid UTF-8, so it cannot be stored. Nothing of the batch was
    /// written.
    #[error("cannot store a checkpoint for {}: the path is not valid UTF-8", path.display())]
    NonUtf8Path {
        /// The path.
        path: PathBuf,
    },

    /// The backend does not implement this operation.
    #[error("this store does not support {what}")]
    Unsupported {
        /// What was asked for (e.g. `budget alerts`).
        what: &'static str,
    },

    /// Any other database failure (disk full, I/O error, the database stayed locked longer
    /// than the busy timeout).
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// Whether this says the database file is damaged (`SQLite` found it corrupt or not a
    /// database, or a stored row does not decode): `cclive db check` and `cclive db recover`
    /// are the way forward, not a retry.
    pub fn is_damage(&self) -> bool {
        match self {
            StoreError::Open { source, .. }
            | StoreError::Migrate { source, .. }
            | StoreError::Sqlite(source) => crate::check::is_damage(source),
            StoreError::Corrupt { .. } => true,
            _ => false,
        }
    }
}

impl cclive_core::store_failure::StoreFault for StoreError {
    /// The local history has no users or permissions, and a caller's bad value never reaches
    /// it: every failure is the server's own (logged, answered 500).
    fn failure(&self) -> cclive_core::store_failure::StoreFailure<'_> {
        cclive_core::store_failure::StoreFailure::Internal
    }
}
