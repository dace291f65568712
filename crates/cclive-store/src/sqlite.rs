//! [`SqliteStore`]: the embedded store, one `SQLite` file shared by every cclive process.
//!
//! It owns connection setup (WAL, `synchronous=NORMAL`, a 5 s busy timeout, foreign keys), every
//! statement, and the mapping between rows and domain values. It must never hand out its
//! connection or SQL, log, or decide what goes into a batch (the binary's writer does that).
//!
//! Concurrency: each `SqliteStore` holds one connection behind a mutex; processes coordinate
//! through `SQLite`'s own locks. In WAL mode readers never wait for the writer and see only
//! committed batches; writers take the write lock when the transaction begins (`BEGIN
//! IMMEDIATE`) and wait up to the busy timeout for another process's batch to commit.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cclive_core::{Event, SessionId, SessionState};
use rusqlite::types::Value as SqlValue;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Statement, TransactionBehavior, params,
    params_from_iter,
};
use serde_json::Value as Json;

use crate::migrations::{self, MIGRATIONS};
use crate::{SessionQuery, Store, StoreError};

/// How long a writer waits for another connection's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The `SQLite` [`Store`]: one database file (or an in-memory database for tests).
///
/// Open one per process and share it (`Arc<SqliteStore>`); several processes may open the
/// same file at once.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl SqliteStore {
    /// Opens the database at `path`, creating the file (but not its parent directories) if
    /// needed, and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        // No SQLITE_OPEN_URI: a path is a path, even one that starts with `file:`.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::set_up(conn, Some(path.to_owned()))
    }

    /// A private database that lives as long as the returned store.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Self::set_up(conn, None)
    }

    /// The database file; `None` for an in-memory database.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn set_up(mut conn: Connection, path: Option<PathBuf>) -> Result<SqliteStore, StoreError> {
        configure(&conn).map_err(|source| StoreError::Open {
            path: path.clone().unwrap_or_else(|| PathBuf::from(":memory:")),
            source,
        })?;
        migrations::migrate(&mut conn, MIGRATIONS)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The connection. A panic elsewhere while it was held cannot leave a transaction half
    /// applied (an unfinished transaction rolls back when dropped), so poisoning is ignored.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Per-connection settings. `journal_mode` is stored in the file, so this is where a new file
/// becomes WAL (an in-memory database stays `memory`); the others last for the connection.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
}

const UPSERT_SESSION: &str = "
    INSERT INTO sessions (
        session_id, status, mode, source, started_at_ms, updated_at_ms, ended_at_ms,
        project_path, cwd, model, total_cost_usd, cost_source, duration_ms, duration_api_ms,
        num_turns, tokens_input, tokens_output, tokens_cache_read, tokens_cache_creation,
        state_json
    ) VALUES (
        ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20
    )
    ON CONFLICT (session_id) DO UPDATE SET
        status = excluded.status,
        mode = excluded.mode,
        source = excluded.source,
        started_at_ms = excluded.started_at_ms,
        updated_at_ms = excluded.updated_at_ms,
        ended_at_ms = excluded.ended_at_ms,
        project_path = excluded.project_path,
        cwd = excluded.cwd,
        model = excluded.model,
        total_cost_usd = excluded.total_cost_usd,
        cost_source = excluded.cost_source,
        duration_ms = excluded.duration_ms,
        duration_api_ms = excluded.duration_api_ms,
        num_turns = excluded.num_turns,
        tokens_input = excluded.tokens_input,
        tokens_output = excluded.tokens_output,
        tokens_cache_read = excluded.tokens_cache_read,
        tokens_cache_creation = excluded.tokens_cache_creation,
        state_json = excluded.state_json";

const INSERT_EVENT: &str =
    "INSERT INTO events (session_id, at_ms, type, payload_json) VALUES (?1, ?2, ?3, ?4)";

const SELECT_SESSION: &str = "SELECT state_json FROM sessions WHERE session_id = ?1";

const SELECT_EVENTS: &str = "SELECT id, payload_json FROM events WHERE session_id = ?1 ORDER BY id";

impl Store for SqliteStore {
    fn write_batch(&self, sessions: &[SessionState], events: &[Event]) -> Result<(), StoreError> {
        if sessions.is_empty() && events.is_empty() {
            return Ok(());
        }
        // Serialize before taking the lock and the database's write lock.
        let sessions = sessions
            .iter()
            .map(SessionRow::encode)
            .collect::<Result<Vec<_>, _>>()?;
        let events = events
            .iter()
            .map(EventRow::encode)
            .collect::<Result<Vec<_>, _>>()?;

        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut upsert = tx.prepare_cached(UPSERT_SESSION)?;
            for row in &sessions {
                row.write(&mut upsert)?;
            }
            let mut insert = tx.prepare_cached(INSERT_EVENT)?;
            for row in &events {
                row.write(&mut insert)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn session(&self, id: &SessionId) -> Result<Option<SessionState>, StoreError> {
        let json: Option<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(SELECT_SESSION)?;
            stmt.query_row([id.as_str()], |row| row.get(0)).optional()?
        };
        json.map(|json| decode_state(id.as_str(), &json))
            .transpose()
    }

    fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionState>, StoreError> {
        let (sql, args) = listing(query);
        let rows: Vec<(String, String)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows =
                stmt.query_map(params_from_iter(args), |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        rows.iter()
            .map(|(id, json)| decode_state(id, json))
            .collect()
    }

    fn events(&self, id: &SessionId) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<(i64, String)> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(SELECT_EVENTS)?;
            let rows = stmt.query_map([id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        rows.iter()
            .map(|(row_id, json)| {
                serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
                    what: format!("event {row_id} of session {id}"),
                    detail: e.to_string(),
                })
            })
            .collect()
    }
}

/// One `sessions` row, serialized.
struct SessionRow<'a> {
    state: &'a SessionState,
    mode: String,
    cost_source: String,
    json: String,
}

impl<'a> SessionRow<'a> {
    fn encode(state: &'a SessionState) -> Result<Self, StoreError> {
        let value = serde_json::to_value(state).map_err(|source| StoreError::Encode {
            what: format!("state of session {}", state.session_id),
            source,
        })?;
        // The columns hold the same names the JSON (and the API) uses.
        Ok(SessionRow {
            state,
            mode: text(&value, "mode"),
            cost_source: text(&value, "cost_source"),
            json: value.to_string(),
        })
    }

    fn write(&self, upsert: &mut Statement<'_>) -> rusqlite::Result<()> {
        let s = self.state;
        upsert.execute(params![
            s.session_id.as_str(),
            s.status.as_str(),
            self.mode,
            s.source,
            s.started_at.as_millisecond(),
            s.updated_at.as_millisecond(),
            s.ended_at.map(jiff::Timestamp::as_millisecond),
            s.project_path,
            s.cwd,
            s.model,
            s.total_cost_usd,
            self.cost_source,
            int(s.duration_ms),
            int(s.duration_api_ms),
            int(s.num_turns),
            int(s.tokens.input),
            int(s.tokens.output),
            int(s.tokens.cache_read),
            int(s.tokens.cache_creation),
            self.json,
        ])?;
        Ok(())
    }
}

/// One `events` row, serialized.
struct EventRow<'a> {
    event: &'a Event,
    kind: String,
    json: String,
}

impl<'a> EventRow<'a> {
    fn encode(event: &'a Event) -> Result<Self, StoreError> {
        let value = serde_json::to_value(event).map_err(|source| StoreError::Encode {
            what: format!("event of session {}", event.session_id),
            source,
        })?;
        Ok(EventRow {
            event,
            kind: text(&value, "type"),
            json: value.to_string(),
        })
    }

    fn write(&self, insert: &mut Statement<'_>) -> Result<(), StoreError> {
        let e = self.event;
        let result = insert.execute(params![
            e.session_id.as_str(),
            e.at.as_millisecond(),
            self.kind,
            self.json
        ]);
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_foreign_key_violation(&err) => Err(StoreError::UnknownSession {
                session_id: e.session_id.clone(),
            }),
            Err(err) => Err(err.into()),
        }
    }
}

/// The `SELECT` for a listing and its arguments. Only the filters asked for are in the `WHERE`,
/// so `SQLite` can use the matching index.
fn listing(query: &SessionQuery) -> (String, Vec<SqlValue>) {
    let mut conditions = Vec::new();
    let mut args = Vec::new();
    if let Some(status) = query.status {
        conditions.push("status = ?");
        args.push(SqlValue::Text(status.as_str().to_owned()));
    }
    if let Some(project) = &query.project {
        conditions.push("project_path = ?");
        args.push(SqlValue::Text(project.clone()));
    }
    if let Some(since) = query.since {
        conditions.push("started_at_ms >= ?");
        args.push(SqlValue::Integer(since.as_millisecond()));
    }
    if let Some(until) = query.until {
        conditions.push("started_at_ms < ?");
        args.push(SqlValue::Integer(until.as_millisecond()));
    }
    let mut sql = String::from("SELECT session_id, state_json FROM sessions");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY started_at_ms DESC, session_id ASC LIMIT ? OFFSET ?");
    // A negative LIMIT means no limit.
    args.push(SqlValue::Integer(query.limit.map_or(-1, int)));
    args.push(SqlValue::Integer(int(query.offset)));
    (sql, args)
}

fn decode_state(session_id: &str, json: &str) -> Result<SessionState, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: format!("state of session {session_id}"),
        detail: e.to_string(),
    })
}

/// A unit enum's serialized name, read from the serialized parent.
fn text(value: &Json, key: &str) -> String {
    value
        .get(key)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A count as an `SQLite` integer; counts beyond `i64::MAX` (never seen) are clamped.
fn int<T: TryInto<i64>>(n: T) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn is_foreign_key_violation(err: &rusqlite::Error) -> bool {
    err.sqlite_error()
        .is_some_and(|e| e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

#[cfg(test)]
mod tests;
