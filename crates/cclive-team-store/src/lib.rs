//! The team server's store: people (teams, users, roles, hashed tokens, budgets) and the history
//! agents push (sessions, per-response usage, events), in PostgreSQL.
//!
//! [`TeamStore::connect`] opens a connection pool and applies the schema migrations (append-only,
//! under an advisory lock, refusing a newer schema). Everything after that is one async method
//! per question or change; each change is one transaction. Every read takes the caller's
//! [`Principal`] and is scoped by its role: a member sees their own data, a lead their team's,
//! an admin everything.
//!
//! This crate owns the schema and every SQL statement; it never leaks SQL or driver types (apart
//! from the source of a [`TeamStoreError`]), never logs and never reads configuration. Times are
//! bound as integers (milliseconds since the epoch): the driver has no jiff support.
//!
//! Layout:
//! - `people`: users, teams, tokens ([`TeamStore::add_user`], [`TeamStore::authenticate`]),
//!   budgets.
//! - `push`: the agent protocol ([`TeamStore::cursor`], [`TeamStore::push`]).
//! - `queries`: what the dashboard and reports read.
//! - `migrations`: the schema scripts and their runner.
//! - `tls`: TLS to PostgreSQL (libpq's `sslmode` / `sslrootcert`, with rustls).

use std::str::FromStr;

use cclive_core::team::Role;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

mod error;
mod migrations;
mod people;
mod push;
mod queries;
mod tls;

pub use error::TeamStoreError;
pub use migrations::SCHEMA_VERSION;
pub use people::{Budget, BudgetTarget, NewUser, UserInfo};
pub use push::PushOutcome;
pub use queries::{LiveSession, MachineStatus, SpendRow};

/// Who is asking: the user a token names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user's id.
    pub user_id: i64,
    /// Their email.
    pub email: String,
    /// Their team's id.
    pub team_id: i64,
    /// Their team's name.
    pub team: String,
    /// Their role.
    pub role: Role,
}

impl Principal {
    /// Which rows this principal may read.
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::Member => Scope::User(self.user_id),
            Role::Lead => Scope::Team(self.team_id),
            Role::Admin => Scope::All,
        }
    }
}

/// Which rows a read covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One user's.
    User(i64),
    /// One team's.
    Team(i64),
    /// Everyone's.
    All,
}

impl Scope {
    /// `(user_id, team_id)` filters for SQL (`NULL` = any).
    fn filters(self) -> (Option<i64>, Option<i64>) {
        match self {
            Scope::User(u) => (Some(u), None),
            Scope::Team(t) => (None, Some(t)),
            Scope::All => (None, None),
        }
    }
}

/// The team server's PostgreSQL store (cheap to clone: a pool handle).
#[derive(Clone)]
pub struct TeamStore {
    pool: Pool,
}

impl std::fmt::Debug for TeamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamStore").finish_non_exhaustive()
    }
}

impl TeamStore {
    /// Connects to `url` (`postgres://…` or `host=… dbname=…`) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<TeamStore, TeamStoreError> {
        Self::connect_at(url, SCHEMA_VERSION).await
    }

    /// Like [`connect`](Self::connect) but migrates only up to `version` (tests of upgrades from
    /// an earlier schema).
    #[doc(hidden)]
    pub async fn connect_at(url: &str, version: u32) -> Result<TeamStore, TeamStoreError> {
        let split = tls::split(url)?;
        let mut config = tokio_postgres::Config::from_str(&split.url)
            .map_err(|e| TeamStoreError::BadUrl(e.to_string()))?;
        let manager_config = ManagerConfig {
            // Each connection is checked (an empty query, one round trip) before the pool hands
            // it out: after a PostgreSQL restart or a dropped network path the pool still holds
            // connections that look open, and the first requests would fail.
            recycling_method: RecyclingMethod::Verified,
        };
        let manager = match tls::client_config(&split)? {
            None => {
                // Never TLS unasked (libpq's `prefer` would try it): see `tls`.
                config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                Manager::from_config(config, tokio_postgres::NoTls, manager_config)
            }
            Some(tls) => {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
                Manager::from_config(config, tls, manager_config)
            }
        };
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(|e| TeamStoreError::Connect(e.to_string()))?;
        let store = TeamStore { pool };
        let mut client = store.pool.get().await.map_err(|e| connect_error(&e))?;
        migrations::migrate(&mut client, version).await?;
        Ok(store)
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<u32, TeamStoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one("SELECT coalesce(max(version), 0) FROM cclive_schema", &[])
            .await?;
        Ok(u32::try_from(row.get::<_, i32>(0)).unwrap_or(0))
    }

    /// Whether this store's connections to PostgreSQL are encrypted (TLS).
    pub async fn uses_tls(&self) -> Result<bool, TeamStoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), \
                 false)",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }

    /// The database's size in bytes (for the benchmark and the status page).
    pub async fn database_size(&self) -> Result<i64, TeamStoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_one("SELECT pg_database_size(current_database())", &[])
            .await?;
        Ok(row.get(0))
    }
}

/// The first connection failed: say why in full (a TLS handshake's reason included), never
/// just "database error".
fn connect_error(e: &deadpool_postgres::PoolError) -> TeamStoreError {
    let mut why = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !why.contains(&text) {
            why = format!("{why}: {text}");
        }
        source = s.source();
    }
    if why.contains("certificate") {
        why.push_str(
            " (the server's certificate is not trusted: sslrootcert must name the CA that signed \
             it, and with sslmode=verify-full the host must be a name the certificate carries)",
        );
    }
    TeamStoreError::Connect(why)
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A u64 from the wire as a BIGINT, or why not.
fn to_i64(v: u64, what: &str) -> Result<i64, String> {
    i64::try_from(v).map_err(|_| format!("{what} {v} is too large"))
}

/// A BIGINT read back as a u64 (negative values cannot be written; 0 if one appears).
fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
