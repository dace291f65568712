//! What a store's failure means to whoever answers for it, whatever the backend: the local
//! history (SQLite, `cclive-store`) and the team server's (PostgreSQL, `cclive-team-store`)
//! classify their own errors into one [`StoreFailure`], and the HTTP layer maps only that to a
//! status. So no handler depends on a backend's error type, and a new backend maps into the same
//! few consequences.
//!
//! It owns the classification's shape only: no backend, no status codes, no logging.

/// What a failed store call means for the caller's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreFailure<'a> {
    /// No, a malformed, unknown or revoked credential.
    Unauthorized,
    /// The caller may not do this (the message says why).
    Forbidden(&'a str),
    /// The request conflicts with stored data (the message says with what).
    Conflict(&'a str),
    /// Something named does not exist.
    NotFound(&'a str),
    /// A caller's value is refused.
    Invalid(&'a str),
    /// The database cannot be reached right now (down, restarting, out of connections): worth
    /// retrying later.
    Unavailable,
    /// Anything else: a fault on the server's side, details for its log only.
    Internal,
}

/// An error a store returns, classified for whoever answers for it.
pub trait StoreFault: std::error::Error {
    /// What the failure means to the caller.
    fn failure(&self) -> StoreFailure<'_>;
}
