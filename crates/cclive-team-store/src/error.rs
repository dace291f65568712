//! What can go wrong in the team store, one variant per consequence a caller may act on.
//!
//! Callers see it through `cclive_core::store_failure` (as the local history's errors): the
//! HTTP layer maps the classification, never this type, to a status. Messages never include SQL,
//! tokens or row contents; the driver's error is kept as the source.

/// An error from the [`TeamStore`](crate::TeamStore).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TeamStoreError {
    /// The database URL could not be read.
    #[error("the database URL is not valid: {0}")]
    BadUrl(String),

    /// The database could not be reached or a connection could not be taken from the pool.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),

    /// A schema migration failed; it was rolled back.
    #[error("cannot upgrade the team database to schema version {version} ({name})")]
    Migrate {
        /// The version the migration would have reached.
        version: u32,
        /// Its name.
        name: &'static str,
        /// Why.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The database was migrated by a newer cclive; this build leaves it untouched.
    #[error(
        "the team database has schema version {found}, but this cclive only knows versions up to \
         {supported}; upgrade cclive on this server"
    )]
    NewerSchema {
        /// The database's version.
        found: u32,
        /// The newest this build knows.
        supported: u32,
    },

    /// No token, a malformed or unknown token, or a revoked token or user.
    #[error(
        "the token is missing, unknown or revoked; ask an admin for a token (`cclive team user add`)"
    )]
    Unauthorized,

    /// The caller's role does not allow this.
    #[error("{0}")]
    Forbidden(String),

    /// The request conflicts with stored data (a machine bound to another user, an existing user).
    #[error("{0}")]
    Conflict(String),

    /// Something named does not exist (a user, a team).
    #[error("{0}")]
    NotFound(String),

    /// A caller's value is out of range.
    #[error("{0}")]
    Invalid(String),

    /// A stored row cannot be read back.
    #[error("the stored {what} cannot be decoded: {detail}")]
    Corrupt {
        /// Which row.
        what: String,
        /// What was wrong.
        detail: String,
    },

    /// Any other database failure.
    #[error("database error")]
    Postgres(#[from] tokio_postgres::Error),
}

impl From<deadpool_postgres::PoolError> for TeamStoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => TeamStoreError::Postgres(e),
            other => TeamStoreError::Connect(other.to_string()),
        }
    }
}

impl cclive_core::store_failure::StoreFault for TeamStoreError {
    fn failure(&self) -> cclive_core::store_failure::StoreFailure<'_> {
        use cclive_core::store_failure::StoreFailure;
        match self {
            TeamStoreError::Unauthorized => StoreFailure::Unauthorized,
            TeamStoreError::Forbidden(m) => StoreFailure::Forbidden(m),
            TeamStoreError::Conflict(m) => StoreFailure::Conflict(m),
            TeamStoreError::NotFound(m) => StoreFailure::NotFound(m),
            TeamStoreError::Invalid(m) => StoreFailure::Invalid(m),
            TeamStoreError::Connect(_) => StoreFailure::Unavailable,
            // The connection went away (a restart, a failover, the network).
            TeamStoreError::Postgres(e)
                if e.is_closed()
                    || std::error::Error::source(e)
                        .is_some_and(<dyn std::error::Error>::is::<std::io::Error>) =>
            {
                StoreFailure::Unavailable
            }
            _ => StoreFailure::Internal,
        }
    }
}
