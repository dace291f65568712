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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Duration;

use cclive_core::budget::BudgetAlert;
use cclive_core::fast_hash::{FastMap, FastState};
use cclive_core::{Event, SessionId, SessionState, Status, Tokens};
use jiff::Timestamp;
use rusqlite::types::Value as SqlValue;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Statement, TransactionBehavior, params,
    params_from_iter,
};
use serde_json::Value as Json;

use crate::migrations::{self, MIGRATIONS};
use crate::{
    Batch, Checkpoint, SessionOrder, SessionQuery, SessionSummary, SortKey, Store, StoreError,
    StoreVersion, UsageBucket, UsageRow, UsageSum,
};
use first_usage::BoundUsage;
use ledger_journal::{Journal, LedgerWrite};

mod first_usage;
mod ledger_journal;
mod outbox;
mod reports;
mod stage;
mod stamp;
mod usage_buckets;

/// How long a writer waits for another connection's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The `SQLite` [`Store`]: one database file (or an in-memory database for tests).
///
/// Open one per process and share it (`Arc<SqliteStore>`); several processes may open the
/// same file at once.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
    /// The ledgers this store last wrote, so a write stores what changed of them.
    journal: Journal,
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

    /// How long a write waits for another writer before it fails as busy (5 s by default). A
    /// caller that must not wait (a hook) sets a short one and keeps what it could not write.
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        self.conn().busy_timeout(timeout)?;
        Ok(())
    }

    /// A private database that lives as long as the returned store.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Self::set_up(conn, None)
    }

    /// Copies what the WAL holds into the database file and empties the WAL: the file alone
    /// then holds every commit (until the next one), as a copy of it for a backup needs.
    /// Closing leaves a small WAL otherwise (see `WAL_KEPT_ON_CLOSE`).
    pub fn checkpoint_wal(&self) -> Result<(), StoreError> {
        self.conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
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
            journal: Journal::new(store_name(path.as_deref())),
            path,
        })
    }

    /// The connection. A panic elsewhere while it was held cannot leave a transaction half
    /// applied (an unfinished transaction rolls back when dropped), so poisoning is ignored.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A store's name in the origins of the sessions it reads (`sqlite/ledger_journal.rs`): its
/// file's, which every store on that file shares; a private in-memory database's own.
fn store_name(path: Option<&Path>) -> u64 {
    use std::hash::{Hash, Hasher};
    static IN_MEMORY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    // Keyed alike in every store of the process: stores of one file share the name.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    if let Some(path) = path {
        path.hash(&mut hasher);
    } else {
        std::process::id().hash(&mut hasher);
        IN_MEMORY
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .hash(&mut hasher);
    }
    hasher.finish()
}

/// `db` with `suffix` appended to its last component, as `SQLite` names its side files
/// (`x.db` + `-wal` = `x.db-wal`).
pub(crate) fn side_file(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// A write-ahead log up to this size stays when the last connection closes, for the next one to
/// go on with; a bigger one (a cold import's) is checkpointed into the database then.
///
/// Closing checkpoints by default: the log's pages are copied into the database and both files
/// are synced, ~25 ms of an incremental import whose transaction took 13 (most of it the
/// database file's `fsync`). The log left behind is what the next connection reads on opening
/// (a few MB at most: past `wal_autocheckpoint`'s 1,000 pages, a commit checkpoints), and is as
/// durable as any commit under `synchronous = NORMAL`.
const WAL_KEPT_ON_CLOSE: u64 = 4 << 20;

impl Drop for SqliteStore {
    fn drop(&mut self) {
        let Some(path) = &self.path else { return };
        // Beside the real file, through a symlink (as `SQLite` puts it).
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        let small =
            std::fs::metadata(side_file(&real, "-wal")).is_ok_and(|m| m.len() <= WAL_KEPT_ON_CLOSE);
        if small {
            // Only the last connection to close would checkpoint; failing to skip it costs time.
            let _ = self.conn().set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            );
        }
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
/// `temp_store = MEMORY` keeps statement journals off the disk: each upsert of a session row
/// (its ledger can be hundreds of KB) copied the pages it replaced to a temporary file first,
/// a fifth of an incremental import's time. A page cache of 8 MB (the default is 2 MB, and
/// it is only taken as used) holds an incremental import's transaction (ten big sessions'
/// ledgers) until the commit: smaller, it spilled pages to the WAL midway. A cold import's
/// transaction still spills; a cache big enough for it would raise the peak memory by as much.
/// Reads go through a memory map of up to 256 MB (`mmap_size`): a report walks megabytes of
/// index, and reading it page by page into the cache (a `pread` and a copy each) was a third of
/// `report daily`'s time. `SQLite` still writes through the file, and maps only what it reads.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
         PRAGMA cache_size = -8192; PRAGMA mmap_size = 268435456;",
    )
}

/// Prepared statements a connection keeps. The store prepares about 40 distinct statements
/// (`prepare_cached`); with rusqlite's default of 16, a live write's dozen evicted each other and
/// were compiled again at every transaction.
const STATEMENT_CACHE: usize = 64;

const UPSERT_SESSION: &str = "
    INSERT INTO sessions (
        session_id, status, mode, source, started_at_ms, updated_at_ms, ended_at_ms,
        project_path, cwd, model, total_cost_usd, cost_source, duration_ms, duration_api_ms,
        num_turns, tokens_input, tokens_output, tokens_cache_read, tokens_cache_creation,
        state_json, ledger_seq
    ) VALUES (
        ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
        ?21
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
        state_json = excluded.state_json,
        ledger_seq = ledger_seq + ?21
    RETURNING ledger_seq";

/// A start or a tool call another writer already kept is not kept again (`0007_once`).
const INSERT_EVENT: &str = "INSERT INTO events (session_id, at_ms, type, payload_json) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";

/// How a report of a stored response merges into its row, the usage upserts' conflict clause.
/// One response counts once: see [`UsageRow`] for the rule. In an `UPDATE`, every right-hand side
/// reads the row as it was before the update, so the order of the assignments does not matter.
macro_rules! usage_merge {
    () => {
        "
    ON CONFLICT (key) DO UPDATE SET
        input = max(input, excluded.input),
        cache_creation_1h = max(cache_creation_1h, excluded.cache_creation_1h),
        web_search_requests = max(web_search_requests, excluded.web_search_requests),
        fast = max(fast, excluded.fast),
        us_only = max(us_only, excluded.us_only),
        output = max(output, excluded.output),
        cache_read = max(cache_read, excluded.cache_read),
        cache_creation = max(cache_creation, excluded.cache_creation),
        model = coalesce(model, excluded.model),
        sidechain = sidechain AND excluded.sidechain,
        session_id = CASE WHEN excluded.at_ms < at_ms THEN excluded.session_id ELSE session_id END,
        at_ms = min(at_ms, excluded.at_ms)"
    };
}

/// Stores one report of a response (merged into its row as `usage_merge!` says).
const UPSERT_USAGE: &str = concat!(
    "INSERT INTO usage (
        key, session_id, at_ms, model, input, output, cache_read, cache_creation, sidechain,
        cache_creation_1h, web_search_requests, fast, us_only
    ) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    usage_merge!()
);

/// [`UPSERT_USAGE`] of the rows staged in `temp.usage_staged`, one after the other in their
/// order (`WHERE true`: without it, `ON CONFLICT` would read as part of the `SELECT`).
const UPSERT_STAGED_USAGE: &str = concat!(
    "INSERT INTO usage (
        key, session_id, at_ms, model, input, output, cache_read, cache_creation, sidechain,
        cache_creation_1h, web_search_requests, fast, us_only
    ) SELECT * FROM temp.usage_staged WHERE true ORDER BY rowid",
    usage_merge!()
);

const UPSERT_CHECKPOINT: &str = r#"
    INSERT INTO checkpoints (path, dev, inode, "offset", updated_at_ms, fingerprint, length)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
    ON CONFLICT (path) DO UPDATE SET
        dev = excluded.dev,
        inode = excluded.inode,
        "offset" = excluded."offset",
        fingerprint = excluded.fingerprint,
        length = excluded.length,
        updated_at_ms = excluded.updated_at_ms"#;

/// Moves ledgers a file from before `0012_ledger_journal` keeps in the sessions' rows to
/// `ledgers`, as the migration did (for `cclive recover`, which copies such a file's rows).
pub(crate) const LEDGERS_OUT_OF_SESSIONS: &str = "
    INSERT OR IGNORE INTO ledgers (session_id, whole_json)
        SELECT session_id, ledger_json FROM sessions WHERE ledger_json IS NOT NULL;
    UPDATE sessions SET ledger_json = NULL WHERE ledger_json IS NOT NULL;";

const SELECT_SESSION: &str = "SELECT state_json, whole_json, ledger_seq \
     FROM sessions LEFT JOIN ledgers USING (session_id) WHERE session_id = ?1";

/// A session to show: its state without the ledger.
const SELECT_SESSION_STATE: &str = "SELECT state_json FROM sessions WHERE session_id = ?1";

const SELECT_USAGE_TOTALS: &str = "
    SELECT count(*), coalesce(sum(input), 0), coalesce(sum(output), 0),
        coalesce(sum(cache_read), 0), coalesce(sum(cache_creation), 0)
    FROM usage WHERE session_id = ?1";

/// Usage rows in `[?1, ?2)`, in milliseconds.
const SELECT_USAGE_ROWS: &str = "
    SELECT key, session_id, at_ms, model, input, output, cache_read, cache_creation, sidechain,
        cache_creation_1h, web_search_requests, fast, us_only
    FROM usage WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms, key";

/// The owner of one stored response.
const SELECT_USAGE_OWNER: &str = "SELECT session_id FROM usage WHERE key = ?1";

/// Drops one response's row (its usage lives on under another key).
const DELETE_USAGE: &str = "DELETE FROM usage WHERE key = ?1";

/// Usage times in `[?1, ?2)`, in milliseconds: answered from the time index alone.
const SELECT_USAGE_TIMES: &str =
    "SELECT at_ms FROM usage WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms";

const SELECT_CHECKPOINTS: &str =
    r#"SELECT path, dev, inode, "offset", fingerprint, length FROM checkpoints ORDER BY path"#;

const SELECT_CHECKPOINT: &str =
    r#"SELECT path, dev, inode, "offset", fingerprint, length FROM checkpoints WHERE path = ?1"#;

const SELECT_EVENTS: &str = "SELECT id, payload_json FROM events WHERE session_id = ?1 ORDER BY id";

impl Store for SqliteStore {
    fn write(&self, batch: &Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        // A copy of a session's figures holds no ledger: written, the session's would be lost.
        debug_assert!(
            batch.sessions.iter().all(|s| !s.is_figures_only()),
            "a session's figures were handed to the store"
        );
        // A big batch's sessions are encoded on other threads while this one writes its usage
        // rows (`SessionsEncoding`); a small one's, here, before the locks are taken.
        std::thread::scope(|scope| {
            let sessions = SessionsEncoding::start(scope, &batch.sessions, &self.journal)?;
            // Serialized and checked before taking the lock and the database's write lock.
            let events = batch
                .events
                .iter()
                .map(EventRow::encode)
                .collect::<Result<Vec<_>, _>>()?;
            let checkpoints = batch
                .checkpoints
                .iter()
                .map(CheckpointRow::encode)
                .collect::<Result<Vec<_>, _>>()?;
            let now = Timestamp::now().as_millisecond();

            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let usage: Vec<BoundUsage<'_>> = usage_in_time_order(&batch.usage)
                    .into_iter()
                    .map(bound_usage)
                    .collect();
                // Into an empty table (a first import), in one statement
                // (`sqlite/first_usage.rs`).
                if !first_usage::write_first(&tx, &usage)? {
                    upsert_usage(&tx, &usage)?;
                }
                let mut delete = tx.prepare_cached(DELETE_USAGE)?;
                for key in &batch.retired_usage {
                    delete.execute([key])?;
                }
            }
            let sessions = sessions.finish()?;
            let mut ledgers = Vec::with_capacity(sessions.len());
            {
                let mut upsert = tx.prepare_cached(UPSERT_SESSION)?;
                for mut row in sessions {
                    Journal::confirm(&tx, row.state, &mut row.ledger)?;
                    let seq = row.write(&mut upsert)?;
                    Journal::store(&tx, &row.state.session_id, &row.ledger, seq)?;
                    ledgers.push((row.state, row.ledger, seq));
                }
                let mut upsert = tx.prepare_cached(UPSERT_CHECKPOINT)?;
                for row in &checkpoints {
                    row.write(&mut upsert, now)?;
                }
                // Last: an event of an unknown session fails the batch, and the rollback takes
                // the usage and checkpoints above with it.
                EventRow::insert_all(&tx, &events)?;
            }
            tx.commit()?;
            self.journal.written(&ledgers);
            Ok(())
        })
    }

    fn session(&self, id: &SessionId) -> Result<Option<SessionState>, StoreError> {
        let (row, deltas) = {
            let mut conn = self.conn();
            // One read transaction: the row and its deltas as one writer left them.
            let tx = conn.transaction()?;
            let row: Option<(String, Option<String>, i64)> = tx
                .prepare_cached(SELECT_SESSION)?
                .query_row([id.as_str()], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            // Only a session written since `0012` can have deltas (its `ledger_seq` is above 1).
            let deltas = match &row {
                Some((_, _, seq)) if *seq > 1 => ledger_journal::read_deltas(&tx, id)?,
                _ => Vec::new(),
            };
            tx.commit()?;
            (row, deltas)
        };
        // Decoded with the connection free: a catch-up's readers restore sessions in parallel.
        let Some((state_json, ledger_json, seq)) = row else {
            return Ok(None);
        };
        let mut state = decode_state(id.as_str(), &state_json)?;
        if let Some(ledger_json) = &ledger_json {
            state
                .restore_ledger_text(ledger_json)
                .map_err(|e| StoreError::Corrupt {
                    what: format!("ledger of session {id}"),
                    detail: e.to_string(),
                })?;
        }
        ledger_journal::apply_deltas(&mut state, seq, &deltas)?;
        // Its next write is what changes from here (`sqlite/ledger_journal.rs`).
        let whole_bytes = ledger_json.as_ref().map_or(0, String::len);
        state.track_ledger_changes(self.journal.origin(seq, whole_bytes, &deltas));
        Ok(Some(state))
    }

    fn session_to_show(&self, id: &SessionId) -> Result<Option<SessionState>, StoreError> {
        let state_json: Option<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(SELECT_SESSION_STATE)?;
            stmt.query_row([id.as_str()], |row| row.get(0)).optional()?
        };
        state_json
            .map(|json| decode_state(id.as_str(), &json))
            .transpose()
    }

    fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionState>, StoreError> {
        self.sessions_sorted(query, SessionOrder::default())
    }

    fn sessions_sorted(
        &self,
        query: &SessionQuery,
        order: SessionOrder,
    ) -> Result<Vec<SessionState>, StoreError> {
        let (sql, args) = listing(query, order);
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

    fn count_sessions(&self, query: &SessionQuery) -> Result<u64, StoreError> {
        let (conditions, args) = filters(query);
        let sql = format!("SELECT COUNT(*) FROM sessions{conditions}");
        let count: i64 = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_row(params_from_iter(args), |row| row.get(0))?
        };
        u64::try_from(count).map_err(|_| negative("the session count".into()))
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

    fn delete_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM events WHERE session_id = ?1", [id.as_str()])?;
        let removed = tx.execute("DELETE FROM sessions WHERE session_id = ?1", [id.as_str()])?;
        tx.commit()?;
        self.journal.forget(id);
        Ok(removed > 0)
    }

    fn usage_totals(&self, session_id: &SessionId) -> Result<(Tokens, u64), StoreError> {
        let sums: [i64; 5] = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(SELECT_USAGE_TOTALS)?;
            stmt.query_row([session_id.as_str()], |row| {
                Ok([
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ])
            })?
        };
        let what = || format!("usage of session {session_id}");
        let [responses, input, output, cache_read, cache_creation] = sums.map(u64::try_from);
        let count = |n: Result<u64, _>| n.map_err(|_| negative(what()));
        Ok((
            Tokens {
                input: count(input)?,
                output: count(output)?,
                cache_read: count(cache_read)?,
                cache_creation: count(cache_creation)?,
                ..Tokens::default()
            },
            count(responses)?,
        ))
    }

    fn claim_notice(&self, session_id: &SessionId, notice: &str) -> Result<bool, StoreError> {
        let conn = self.conn();
        let claimed = conn.execute(
            "INSERT INTO notices (session_id, notice, at_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
            rusqlite::params![
                session_id.as_str(),
                notice,
                Timestamp::now().as_millisecond()
            ],
        )?;
        Ok(claimed == 1)
    }

    fn usage_owner(&self, key: &str) -> Result<Option<SessionId>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(SELECT_USAGE_OWNER)?;
        let owner: Option<String> = stmt.query_row([key], |row| row.get(0)).optional()?;
        Ok(owner.map(SessionId::new))
    }

    fn usage_owners(&self, keys: &[&str]) -> Result<Vec<Option<SessionId>>, StoreError> {
        // A catch-up's readers ask for every batch, also one that reports no response.
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn();
        // One read transaction: a statement outside one takes and drops WAL read locks each time.
        let tx = conn.transaction()?;
        let owners = {
            let mut stmt = tx.prepare_cached(SELECT_USAGE_OWNER)?;
            keys.iter()
                .map(|key| {
                    let owner: Option<String> =
                        stmt.query_row([key], |row| row.get(0)).optional()?;
                    Ok(owner.map(SessionId::new))
                })
                .collect::<Result<Vec<_>, StoreError>>()?
        };
        tx.commit()?;
        Ok(owners)
    }

    fn usage_rows(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let since = since.map_or(i64::MIN, Timestamp::as_millisecond);
        let until = until.map_or(i64::MAX, Timestamp::as_millisecond);
        let rows: Vec<RawUsage> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(SELECT_USAGE_ROWS)?;
            let rows = stmt.query_map([since, until], |row| {
                Ok(RawUsage {
                    key: row.get(0)?,
                    session_id: row.get(1)?,
                    at_ms: row.get(2)?,
                    model: row.get(3)?,
                    tokens: [
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                        row.get(9)?,
                        row.get(10)?,
                        row.get(11)?,
                        row.get(12)?,
                    ],
                    sidechain: row.get(8)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        rows.into_iter().map(RawUsage::decode).collect()
    }

    fn usage_times(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Vec<Timestamp>, StoreError> {
        let since = since.map_or(i64::MIN, Timestamp::as_millisecond);
        let until = until.map_or(i64::MAX, Timestamp::as_millisecond);
        let times: Vec<i64> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(SELECT_USAGE_TIMES)?;
            let rows = stmt.query_map([since, until], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        times
            .into_iter()
            .map(|ms| {
                Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt {
                    what: "a usage row's time".to_owned(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let rows: Vec<RawCheckpoint> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(SELECT_CHECKPOINTS)?;
            let rows = stmt.query_map([], RawCheckpoint::read)?;
            rows.collect::<Result<_, _>>()?
        };
        rows.into_iter().map(RawCheckpoint::decode).collect()
    }

    fn checkpoint(&self, path: &Path) -> Result<Option<Checkpoint>, StoreError> {
        // A path that is not UTF-8 cannot have been stored.
        let Some(path) = path.to_str() else {
            return Ok(None);
        };
        let row: Option<RawCheckpoint> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(SELECT_CHECKPOINT)?;
            stmt.query_row([path], RawCheckpoint::read).optional()?
        };
        row.map(RawCheckpoint::decode).transpose()
    }

    fn session_summaries(&self) -> Result<Vec<SessionSummary>, StoreError> {
        reports::session_summaries(&self.conn())
    }

    fn usage_sums(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        prompt_thresholds: &[u64],
    ) -> Result<Vec<UsageSum>, StoreError> {
        reports::usage_sums(&self.conn(), since, until, prompt_thresholds)
    }

    fn usage_buckets(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        bucket_ms: i64,
        prompt_thresholds: &[u64],
    ) -> Result<Vec<UsageBucket>, StoreError> {
        usage_buckets::usage_buckets(&self.conn(), since, until, bucket_ms, prompt_thresholds)
    }

    fn version(&self) -> Result<Option<StoreVersion>, StoreError> {
        let conn = self.conn();
        // `total_changes` counts this connection's rows written (triggers' too, a rolled-back
        // write's too: a change that maybe happened); `data_version` moves with every commit of
        // another connection, in this process or another.
        let others: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok(Some(StoreVersion::new(
            conn.total_changes(),
            others.cast_unsigned(),
        )))
    }

    fn record_alert(&self, alert: &BudgetAlert) -> Result<bool, StoreError> {
        reports::record_alert(&self.conn(), alert)
    }

    fn alerts(&self, since: Option<Timestamp>) -> Result<Vec<BudgetAlert>, StoreError> {
        reports::alerts(&self.conn(), since)
    }
}

/// One `sessions` row, serialized.
struct SessionRow<'a> {
    state: &'a SessionState,
    mode: String,
    cost_source: String,
    json: String,
    /// How its ledger is written (`sqlite/ledger_journal.rs`); a whole ledger the state could
    /// not give is stored as SQL `NULL` (no ledger).
    ledger: LedgerWrite,
}

impl<'a> SessionRow<'a> {
    fn encode(state: &'a SessionState, journal: &Journal) -> Result<Self, StoreError> {
        let encode_error = |source| StoreError::Encode {
            what: format!("state of session {}", state.session_id),
            source,
        };
        // Straight to text (key order and numbers as a `Value` would give them: serde_json
        // keeps insertion order); only the two names go through a `Value`.
        let json = serde_json::to_string(state).map_err(encode_error)?;
        let name = |value: Result<Json, serde_json::Error>| {
            value
                .map_err(encode_error)
                .map(|v| v.as_str().unwrap_or_default().to_owned())
        };
        // The columns hold the same names the JSON (and the API) uses.
        Ok(SessionRow {
            state,
            mode: name(serde_json::to_value(state.mode))?,
            cost_source: name(serde_json::to_value(state.cost_source))?,
            json,
            ledger: journal.plan(state),
        })
    }

    /// Upserts the row, its ledger written as planned; returns its `ledger_seq` now.
    fn write(&self, upsert: &mut Statement<'_>) -> rusqlite::Result<i64> {
        let (s, ledger) = (self.state, &self.ledger);
        upsert.query_row(
            params![
                s.session_id.as_str(),
                s.status.as_str(),
                self.mode,
                s.source.as_str(),
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
                ledger.seq_step(),
            ],
            |row| row.get(0),
        )
    }
}

/// One `events` row, serialized.
struct EventRow<'a> {
    event: &'a Event,
    kind: String,
    json: String,
}

/// The tag an event's JSON carries: what the `type` column stores.
#[derive(serde::Deserialize)]
struct EventTag {
    #[serde(rename = "type")]
    kind: String,
}

/// Copies the staged events into `events`, in their order, each once as `INSERT_EVENT` keeps it
/// (`WHERE true`: without it, `ON CONFLICT` would read as part of the `SELECT`).
const INSERT_STAGED_EVENTS: &str = "INSERT INTO events (session_id, at_ms, type, payload_json) \
     SELECT session_id, at_ms, type, payload_json FROM temp.events_staged WHERE true \
     ORDER BY rowid ON CONFLICT DO NOTHING";

impl<'a> EventRow<'a> {
    /// Inserts `rows` in their order: many through a stage (`sqlite/stage.rs`), few one by
    /// one. An event of a session never written fails with [`StoreError::UnknownSession`]
    /// naming it.
    fn insert_all(tx: &rusqlite::Transaction<'_>, rows: &[EventRow<'_>]) -> Result<(), StoreError> {
        if rows.len() >= stage::FROM_ROWS {
            let append = |row: &EventRow<'_>, statement: &mut Statement<'_>| {
                statement.execute(row.params()).map(drop)
            };
            match stage::EVENTS.copy(tx, rows, append, INSERT_STAGED_EVENTS) {
                Ok(_) => return Ok(()),
                // The failed statement changed nothing; one by one, the culprit is named.
                Err(err) if is_foreign_key_violation(&err) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let mut insert = tx.prepare_cached(INSERT_EVENT)?;
        for row in rows {
            row.write(&mut insert)?;
        }
        Ok(())
    }

    /// The row's columns, in `INSERT_EVENT`'s order.
    fn params(&self) -> (&str, i64, &str, &str) {
        (
            self.event.session_id.as_str(),
            self.event.at.as_millisecond(),
            &self.kind,
            &self.json,
        )
    }

    fn encode(event: &'a Event) -> Result<Self, StoreError> {
        let encode_error = |source| StoreError::Encode {
            what: format!("event of session {}", event.session_id),
            source,
        };
        // Written straight to text (not through a `serde_json::Value`: a tree of allocations
        // per event), and the tag read back from it, so the column holds exactly what the
        // derive wrote.
        let json = serde_json::to_string(event).map_err(encode_error)?;
        let tag: EventTag = serde_json::from_str(&json).map_err(encode_error)?;
        Ok(EventRow {
            event,
            kind: tag.kind,
            json,
        })
    }

    fn write(&self, insert: &mut Statement<'_>) -> Result<(), StoreError> {
        match insert.execute(self.params()) {
            Ok(_) => Ok(()),
            Err(err) if is_foreign_key_violation(&err) => Err(StoreError::UnknownSession {
                session_id: self.event.session_id.clone(),
            }),
            Err(err) => Err(err.into()),
        }
    }
}

/// Sessions of a batch at least this big are encoded on other threads.
const PARALLEL_ENCODE_FROM: usize = 64;
/// So are a few sessions that have counted this many responses in all: each response is an
/// entry of a ledger, and a catch-up that touches ten long sessions encodes megabytes.
const PARALLEL_ENCODE_FROM_RESPONSES: u64 = 2_000;

/// A batch's session rows, encoded here or being encoded on other threads.
///
/// A first import stores thousands of sessions at once, some with a ledger of hundreds of
/// kilobytes: encoding them was a fifth of its write, on one core while the others idled. A
/// big batch's sessions are encoded on the other cores while the writer's thread writes the
/// usage rows (the write's longest part), and taken when it comes to them.
enum SessionsEncoding<'scope, 'a> {
    /// Encoded here: a small batch, or a machine of one core.
    Done(Vec<SessionRow<'a>>),
    /// Being encoded on other threads.
    Running(ScopedJoinHandle<'scope, Result<Vec<SessionRow<'a>>, StoreError>>),
}

impl<'scope, 'a: 'scope> SessionsEncoding<'scope, 'a> {
    fn start(
        scope: &'scope Scope<'scope, '_>,
        sessions: &'a [SessionState],
        journal: &'a Journal,
    ) -> Result<Self, StoreError> {
        let responses = sessions
            .iter()
            .fold(0u64, |sum, s| sum.saturating_add(s.api_requests));
        let small = sessions.len() < 2
            || (sessions.len() < PARALLEL_ENCODE_FROM
                && responses < PARALLEL_ENCODE_FROM_RESPONSES);
        // Asked only for a big batch: each answer reads the cgroup's CPU quota (three files in
        // `/proc` and `/sys`), and the live writer's every transaction of one or two sessions
        // asked it.
        let cores = if small {
            1
        } else {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        };
        if cores < 2 {
            return Ok(Self::Done(encode_sessions(sessions, journal, 1)?));
        }
        // Every core but the writer's.
        Ok(Self::Running(scope.spawn(move || {
            encode_sessions(sessions, journal, cores - 1)
        })))
    }

    /// The rows, in the batch's order.
    fn finish(self) -> Result<Vec<SessionRow<'a>>, StoreError> {
        match self {
            Self::Done(rows) => Ok(rows),
            // A panic while encoding is a bug: passed on as it would be on one thread.
            Self::Running(encoding) => encoding
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e)),
        }
    }
}

/// The session rows of `sessions`, in their order, encoded on `threads` threads.
fn encode_sessions<'a>(
    sessions: &'a [SessionState],
    journal: &Journal,
    threads: usize,
) -> Result<Vec<SessionRow<'a>>, StoreError> {
    if threads < 2 || sessions.len() < 2 {
        return sessions
            .iter()
            .map(|s| SessionRow::encode(s, journal))
            .collect();
    }
    // Each thread takes the next session: one long session does not hold back a fixed share.
    let next = AtomicUsize::new(0);
    let encoded = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(sessions.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut rows = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(session) = sessions.get(i) else {
                            return rows;
                        };
                        rows.push((i, SessionRow::encode(session, journal)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            // A panic while encoding is a bug: passed on as it would be on one thread.
            .map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect::<Vec<_>>()
    });
    in_batch_order(encoded).into_iter().collect()
}

/// What the threads encoded, back in the batch's order: each thread's part is in order, but
/// the parts interleave.
fn in_batch_order<T>(parts: Vec<Vec<(usize, T)>>) -> Vec<T> {
    let mut all: Vec<(usize, T)> = parts.into_iter().flatten().collect();
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, row)| row).collect()
}

/// The rows by time, so the time-ordered indexes and the quarter-hour sums (`0010`) grow at
/// their end instead of at random places. The reports of one response keep their order (the
/// upsert's rule depends on it: the first model named wins): they move together, at the time
/// of the first.
fn usage_in_time_order(rows: &[UsageRow]) -> Vec<&UsageRow> {
    if rows.len() < 2 {
        // The live writer's usual batch: nothing to order.
        return rows.iter().collect();
    }
    let mut first_at: FastMap<&str, Timestamp> =
        FastMap::with_capacity_and_hasher(rows.len(), FastState::default());
    for row in rows {
        first_at.entry(row.key.as_str()).or_insert(row.at);
    }
    let mut sorted: Vec<&UsageRow> = rows.iter().collect();
    // Stable: rows of one time (so every report of one response) keep their order. Each key
    // looked up once, not at every comparison (that was a tenth of a first import's write).
    sorted.sort_by_cached_key(|row| first_at.get(row.key.as_str()).copied());
    sorted
}

/// A row as the table stores it: what is bound, and what [`first_usage`] sums.
fn bound_usage(row: &UsageRow) -> BoundUsage<'_> {
    let t = &row.tokens;
    BoundUsage {
        key: &row.key,
        session_id: row.session_id.as_str(),
        at_ms: row.at.as_millisecond(),
        model: row.model.as_deref(),
        input: int(t.input),
        output: int(t.output),
        cache_read: int(t.cache_read),
        cache_creation: int(t.cache_creation),
        sidechain: row.sidechain,
        cache_creation_1h: int(t.cache_creation_1h),
        web_search_requests: int(t.web_search_requests),
        fast: int(t.fast_responses.min(1)),
        us_only: int(t.us_only_responses.min(1)),
    }
}

/// Upserts `rows` in their order: many through a stage (`sqlite/stage.rs`), few one by one. The
/// same upsert either way, row after row, with its triggers.
fn upsert_usage(tx: &rusqlite::Transaction<'_>, rows: &[BoundUsage<'_>]) -> rusqlite::Result<()> {
    if rows.len() < stage::FROM_ROWS {
        upsert_usage_one_by_one(tx, rows)
    } else {
        upsert_usage_staged(tx, rows)
    }
}

fn upsert_usage_one_by_one(
    tx: &rusqlite::Transaction<'_>,
    rows: &[BoundUsage<'_>],
) -> rusqlite::Result<()> {
    let mut upsert = tx.prepare_cached(UPSERT_USAGE)?;
    for row in rows {
        write_usage(row, &mut upsert)?;
    }
    Ok(())
}

fn upsert_usage_staged(
    tx: &rusqlite::Transaction<'_>,
    rows: &[BoundUsage<'_>],
) -> rusqlite::Result<()> {
    stage::USAGE
        .copy(tx, rows, write_usage, UPSERT_STAGED_USAGE)
        .map(drop)
}

fn write_usage(row: &BoundUsage<'_>, upsert: &mut Statement<'_>) -> rusqlite::Result<()> {
    upsert.execute(params![
        row.key,
        row.session_id,
        row.at_ms,
        row.model,
        row.input,
        row.output,
        row.cache_read,
        row.cache_creation,
        row.sidechain,
        row.cache_creation_1h,
        row.web_search_requests,
        row.fast,
        row.us_only,
    ])?;
    Ok(())
}

/// A `usage` row as read, before checking it.
struct RawUsage {
    key: String,
    session_id: String,
    at_ms: i64,
    model: Option<String>,
    tokens: [i64; 8],
    sidechain: bool,
}

impl RawUsage {
    fn decode(self) -> Result<UsageRow, StoreError> {
        let what = || {
            format!(
                "usage of response {} (session {})",
                self.key, self.session_id
            )
        };
        let at = Timestamp::from_millisecond(self.at_ms).map_err(|e| StoreError::Corrupt {
            what: what(),
            detail: e.to_string(),
        })?;
        Ok(UsageRow {
            tokens: tokens_of(self.tokens, &what)?,
            session_id: SessionId::new(self.session_id),
            key: self.key,
            at,
            model: self.model,
            sidechain: self.sidechain,
        })
    }
}

/// One `checkpoints` row, checked.
struct CheckpointRow<'a> {
    checkpoint: &'a Checkpoint,
    path: &'a str,
}

impl<'a> CheckpointRow<'a> {
    fn encode(checkpoint: &'a Checkpoint) -> Result<Self, StoreError> {
        let path = checkpoint
            .path
            .to_str()
            .ok_or_else(|| StoreError::NonUtf8Path {
                path: checkpoint.path.clone(),
            })?;
        Ok(CheckpointRow { checkpoint, path })
    }

    fn write(&self, upsert: &mut Statement<'_>, now_ms: i64) -> rusqlite::Result<()> {
        let c = self.checkpoint;
        // dev and inode keep their bits (see 0002), the offset is a count.
        upsert.execute(params![
            self.path,
            c.dev.cast_signed(),
            c.inode.cast_signed(),
            int(c.offset),
            now_ms,
            c.fingerprint.map(u64::cast_signed),
            c.length.map(int),
        ])?;
        Ok(())
    }
}

/// A `checkpoints` row as read, before checking it.
struct RawCheckpoint {
    path: String,
    dev: i64,
    inode: i64,
    offset: i64,
    fingerprint: Option<i64>,
    length: Option<i64>,
}

impl RawCheckpoint {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawCheckpoint {
            path: row.get(0)?,
            dev: row.get(1)?,
            inode: row.get(2)?,
            offset: row.get(3)?,
            fingerprint: row.get(4)?,
            length: row.get(5)?,
        })
    }

    fn decode(self) -> Result<Checkpoint, StoreError> {
        let offset = u64::try_from(self.offset)
            .map_err(|_| negative(format!("checkpoint of {}", self.path)))?;
        Ok(Checkpoint {
            path: PathBuf::from(self.path),
            dev: self.dev.cast_unsigned(),
            inode: self.inode.cast_unsigned(),
            offset,
            fingerprint: self.fingerprint.map(i64::cast_unsigned),
            // A negative length (a corrupt row) is unknown: the offset stands in.
            length: self.length.and_then(|l| u64::try_from(l).ok()),
        })
    }
}

/// The [`Tokens`] of a `usage` row or sum: the four kinds, then the 1-hour writes, web
/// searches, fast and US-only (the `0006_usage_pricing` columns), checked non-negative.
pub(super) fn tokens_of(counts: [i64; 8], what: &dyn Fn() -> String) -> Result<Tokens, StoreError> {
    let [
        input,
        output,
        cache_read,
        cache_creation,
        one_hour,
        searches,
        fast,
        us_only,
    ] = counts.map(u64::try_from);
    let count = |n: Result<u64, _>| n.map_err(|_| negative(what()));
    Ok(Tokens {
        input: count(input)?,
        output: count(output)?,
        cache_read: count(cache_read)?,
        cache_creation: count(cache_creation)?,
        cache_creation_1h: count(one_hour)?,
        web_search_requests: count(searches)?,
        fast_responses: count(fast)?,
        us_only_responses: count(us_only)?,
    })
}

fn negative(what: String) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: "a count is negative".into(),
    }
}

/// The `WHERE` clause (with a leading space, or empty) of a listing's filters and its arguments.
/// Only the filters asked for are in it, so `SQLite` can use the matching index.
fn filters(query: &SessionQuery) -> (String, Vec<SqlValue>) {
    let mut conditions = Vec::new();
    let mut args = Vec::new();
    if let Some(status) = query.status {
        conditions.push("status = ?");
        args.push(SqlValue::Text(status.as_str().to_owned()));
    }
    if query.live_only {
        conditions.push("status IN (?, ?)");
        args.push(SqlValue::Text(Status::Active.as_str().to_owned()));
        args.push(SqlValue::Text(Status::Idle.as_str().to_owned()));
    }
    if let Some(project) = &query.project {
        // `report::project_matches` in SQL, on `report::project_of`: the same path, or a path
        // ending in `/<name>` (trailing slashes ignored).
        conditions.push(
            "(rtrim(COALESCE(NULLIF(project_path, ''), cwd), '/') = ? \
             OR substr(rtrim(COALESCE(NULLIF(project_path, ''), cwd), '/'), -(length(?) + 1)) \
                = '/' || ?)",
        );
        let project = project.trim_end_matches('/');
        for _ in 0..3 {
            args.push(SqlValue::Text(project.to_owned()));
        }
    }
    if let Some(model) = &query.model {
        conditions
            .push("(model = ? OR session_id IN (SELECT session_id FROM usage WHERE model = ?))");
        args.push(SqlValue::Text(model.clone()));
        args.push(SqlValue::Text(model.clone()));
    }
    if let Some(since) = query.since {
        conditions.push("started_at_ms >= ?");
        args.push(SqlValue::Integer(since.as_millisecond()));
    }
    if let Some(until) = query.until {
        conditions.push("started_at_ms < ?");
        args.push(SqlValue::Integer(until.as_millisecond()));
    }
    if conditions.is_empty() {
        (String::new(), args)
    } else {
        (format!(" WHERE {}", conditions.join(" AND ")), args)
    }
}

/// The `SELECT` for a listing in `order` and its arguments.
fn listing(query: &SessionQuery, order: SessionOrder) -> (String, Vec<SqlValue>) {
    let (conditions, mut args) = filters(query);
    let mut sql = format!("SELECT session_id, state_json FROM sessions{conditions} ORDER BY ");
    let column = match order.key {
        SortKey::StartedAt => None,
        SortKey::Cost => Some("total_cost_usd"),
        SortKey::Duration => Some("duration_ms"),
        SortKey::Turns => Some("num_turns"),
        SortKey::Tokens => {
            Some("(tokens_input + tokens_output + tokens_cache_read + tokens_cache_creation)")
        }
        SortKey::Project => Some("project_path"),
        SortKey::Model => Some("model"),
        SortKey::Status => Some("status"),
    };
    let direction = if order.descending { "DESC" } else { "ASC" };
    match column {
        Some(column) => {
            sql.push_str(column);
            sql.push(' ');
            sql.push_str(direction);
            sql.push_str(" NULLS LAST, ");
        }
        None if !order.descending => sql.push_str("started_at_ms ASC, "),
        None => {}
    }
    sql.push_str("started_at_ms DESC, session_id ASC LIMIT ? OFFSET ?");
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

/// A count as an `SQLite` integer; counts beyond `i64::MAX` (never seen) are clamped.
fn int<T: TryInto<i64>>(n: T) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

pub(crate) fn is_foreign_key_violation(err: &rusqlite::Error) -> bool {
    err.sqlite_error()
        .is_some_and(|e| e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

#[cfg(test)]
mod tests;
