//! Rescue of a damaged database: move it aside (never delete it), start a fresh one, and copy
//! over every row that can still be read.
//!
//! `SQLite`'s `.recover` extension is not part of the bundled library, so each table is read in
//! `rowid` order in chunks; when a read fails (a damaged page, an unreadable overflow chain), the
//! next readable `rowid` is found by probing further ahead (doubling, then bisecting back), the
//! rows in between are counted as lost, and the scan goes on. A row that reads but does not
//! decode (a session state or an event that is not valid JSON any more) or breaks a constraint is
//! lost too. What the rows could not keep is for the caller to rebuild: the tailer checkpoints
//! are deliberately NOT copied, so the next import reads every transcript still on disk from the
//! start and the usage merge (idempotent) and the sessions' ledgers (no response counted twice)
//! restore whatever was lost; [`SqliteStore::drop_repeated_events`] then removes the events that
//! re-reading stored a second time. Events whose session row was lost are handed back
//! ([`RecoverReport::orphans`]) for the caller to rebuild those sessions from.
//!
//! This file decides nothing about monitors (the caller makes sure none runs) and never prints.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cclive_core::{Event, SessionId, SessionState};
use jiff::Timestamp;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode, Statement, params, params_from_iter};
use serde::Serialize;

use crate::check::{is_damage, open_read_only};
use crate::sqlite::{is_foreign_key_violation, side_file};
use crate::{SqliteStore, StoreError};

/// The tables copied, parents before children (`events` refer to `sessions`), and `team_agent`
/// last so the team outbox triggers stay quiet while rows are copied (the outbox itself is
/// copied as it was). `checkpoints` is left out on purpose: see the module comment;
/// `usage_quarters` too: the triggers of `usage` (`0010`) sum the copied rows again; and
/// `usage_quarters_deferred` (`0011`), empty outside a writer's transaction.
const COPIED: &[&str] = &[
    "sessions",
    // A session's ledger (`0012`): its whole text, and what changed since (without the deltas
    // a session reads as damaged: its ledger would stop short of its `ledger_seq`).
    "ledgers",
    "ledger_deltas",
    "events",
    "usage",
    "budget_alerts",
    "outbox",
    // Which integrations' notices went out: a recovered history does not announce them again.
    "notices",
    "team_agent",
];

/// Rows read per statement.
const CHUNK: i64 = 512;

/// What was rescued of one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TableRescue {
    /// The table.
    pub table: String,
    /// Rows copied into the fresh database (on a dry run: rows that would be).
    pub rescued: u64,
    /// Rows that could not be read or used: exact when the table's row count could still be
    /// read (often from an intact index), else an estimate from the `rowid`s skipped.
    pub lost: u64,
}

/// The outcome of [`recover`] or [`survey`].
#[derive(Clone, Debug, Serialize)]
pub struct RecoverReport {
    /// The database (fresh after [`recover`]).
    pub path: PathBuf,
    /// Where the damaged file now is (`None` on a dry run, which moves nothing).
    pub moved_to: Option<PathBuf>,
    /// Whether the damaged file could be read at all (when not, nothing was rescued from it).
    pub readable: bool,
    /// Per table, in the order copied.
    pub tables: Vec<TableRescue>,
    /// Events that read fine but whose session row was lost: not copied (an event needs its
    /// session), handed to the caller in [`RecoverReport::orphans`] to rebuild the session from.
    pub orphaned_events: u64,
    /// Those events, in the order they were stored.
    #[serde(skip)]
    pub orphans: Vec<Event>,
}

impl RecoverReport {
    /// Rows rescued and lost, over every table.
    pub fn totals(&self) -> (u64, u64) {
        self.tables
            .iter()
            .fold((0, 0), |(r, l), t| (r + t.rescued, l + t.lost))
    }
}

/// What can go wrong while recovering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverError {
    /// There is no database file to recover.
    #[error("there is no cclive database at {}", path.display())]
    Missing {
        /// The path looked at.
        path: PathBuf,
    },
    /// The damaged file (or its `-wal`/`-shm`) could not be moved aside; nothing was changed
    /// beyond the files already moved, which are named.
    #[error("cannot move {} aside to {}", from.display(), to.display())]
    MoveAside {
        /// The file.
        from: PathBuf,
        /// Where it was to go.
        to: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The fresh database could not be created. The damaged file is kept at `moved_to`.
    #[error(
        "cannot create a fresh database (the damaged one is kept at {})",
        moved_to.display()
    )]
    Create {
        /// Where the damaged file is.
        moved_to: PathBuf,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// Writing the rescued rows failed (a full disk, an I/O error): the fresh database holds
    /// none of them. The damaged file is kept at `moved_to`.
    #[error(
        "cannot write the rescued rows into the fresh database (the damaged one is kept at {})",
        moved_to.display()
    )]
    Write {
        /// Where the damaged file is.
        moved_to: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
}

/// What [`recover`] would rescue, read in place: nothing is moved or written.
pub fn survey(db: &Path) -> Result<RecoverReport, RecoverError> {
    if !db.exists() {
        return Err(RecoverError::Missing {
            path: db.to_owned(),
        });
    }
    let mut report = RecoverReport {
        path: db.to_owned(),
        moved_to: None,
        readable: false,
        tables: Vec::new(),
        orphaned_events: 0,
        orphans: Vec::new(),
    };
    let Some(source) = open_source(db) else {
        report.tables = unread_tables();
        return Ok(report);
    };
    report.readable = true;
    let mut seen = Seen::default();
    for table in COPIED {
        let (rescue, _) = copy_table(&source, table, None, &mut seen);
        report.tables.push(rescue);
    }
    report.orphaned_events = seen.orphans.len() as u64;
    Ok(report)
}

/// Moves the damaged database at `db` (with its `-wal` and `-shm`) aside as
/// `<db>.corrupt-<now>`, creates a fresh database at `db` and copies into it every row it can
/// still read. Returns the fresh store, to go on rebuilding (an import of the transcripts, then
/// [`SqliteStore::drop_repeated_events`]).
///
/// The caller makes sure no other process uses the database.
pub fn recover(db: &Path, now: Timestamp) -> Result<(SqliteStore, RecoverReport), RecoverError> {
    if !db.exists() {
        return Err(RecoverError::Missing {
            path: db.to_owned(),
        });
    }
    let aside = move_aside(db, now)?;
    let store = SqliteStore::open(db).map_err(|source| RecoverError::Create {
        moved_to: aside.clone(),
        source,
    })?;
    let mut report = RecoverReport {
        path: db.to_owned(),
        moved_to: Some(aside.clone()),
        readable: false,
        tables: Vec::new(),
        orphaned_events: 0,
        orphans: Vec::new(),
    };
    let Some(source) = open_source(&aside) else {
        report.tables = unread_tables();
        return Ok((store, report));
    };
    report.readable = true;
    let failed = |source| RecoverError::Write {
        moved_to: aside.clone(),
        source,
    };
    {
        let mut conn = store.conn();
        let tx = conn.transaction().map_err(failed)?;
        let mut seen = Seen::default();
        for table in COPIED {
            let (rescue, error) = copy_table(&source, table, Some(&tx), &mut seen);
            if let Some(e) = error {
                return Err(failed(e));
            }
            report.tables.push(rescue);
        }
        // A file from before `0012` kept each ledger in its session's row.
        tx.execute_batch(crate::sqlite::LEDGERS_OUT_OF_SESSIONS)
            .map_err(failed)?;
        report.orphaned_events = seen.orphans.len() as u64;
        report.orphans = seen.orphans;
        tx.commit().map_err(failed)?;
    }
    Ok((store, report))
}

impl SqliteStore {
    /// The highest event id stored (0 with none): events stored after it are new.
    pub fn last_event_id(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT coalesce(max(id), 0) FROM events", [], |row| {
                row.get(0)
            })?)
    }

    /// Deletes the events stored after event `after_id` that repeat one stored up to it (same
    /// session, time, type and payload), with their team outbox entries: after a [`recover`],
    /// re-reading a transcript stores again the events the rescued log already holds. Returns
    /// how many were deleted.
    pub fn drop_repeated_events(&self, after_id: i64) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let deleted = tx.execute(
            "DELETE FROM events WHERE id > ?1 AND EXISTS (
                SELECT 1 FROM events AS kept
                WHERE kept.session_id = events.session_id AND kept.id <= ?1
                    AND kept.at_ms = events.at_ms AND kept.type = events.type
                    AND kept.payload_json = events.payload_json)",
            params![after_id],
        )?;
        if deleted > 0 {
            tx.execute(
                "DELETE FROM outbox WHERE kind = 'event' AND CAST(key AS INTEGER) > ?1
                    AND NOT EXISTS (SELECT 1 FROM events WHERE id = CAST(outbox.key AS INTEGER))",
                params![after_id],
            )?;
        }
        tx.commit()?;
        Ok(deleted as u64)
    }
}

/// `<db>.corrupt-20261206T051500Z` (`-2`, `-3`, … if taken).
fn aside_path(db: &Path, now: Timestamp) -> PathBuf {
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut n = 1;
    loop {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".corrupt-{stamp}"));
        if n > 1 {
            name.push(format!("-{n}"));
        }
        let candidate = db.with_file_name(name);
        if !candidate.exists() && !side_file(&candidate, "-wal").exists() {
            return candidate;
        }
        n += 1;
    }
}

/// Moves the database and its sidecars aside, keeping their names paired (`SQLite` finds a
/// database's WAL by name). The WAL goes first: a fresh database must never find the old WAL
/// beside it.
fn move_aside(db: &Path, now: Timestamp) -> Result<PathBuf, RecoverError> {
    let aside = aside_path(db, now);
    for suffix in ["-wal", "-shm", ""] {
        let from = side_file(db, suffix);
        if suffix.is_empty() || from.exists() {
            let to = side_file(&aside, suffix);
            std::fs::rename(&from, &to).map_err(|source| RecoverError::MoveAside {
                from,
                to,
                source,
            })?;
        }
    }
    Ok(aside)
}

/// The damaged file opened for reading, if it can be read at all (a file whose header or schema
/// is destroyed cannot).
fn open_source(path: &Path) -> Option<Connection> {
    let conn = open_read_only(path).ok()?;
    conn.busy_timeout(Duration::from_secs(2)).ok()?;
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
        row.get::<_, i64>(0)
    })
    .ok()?;
    Some(conn)
}

fn unread_tables() -> Vec<TableRescue> {
    COPIED
        .iter()
        .map(|t| TableRescue {
            table: (*t).to_owned(),
            rescued: 0,
            lost: 0,
        })
        .collect()
}

/// What the copy learns along the way.
#[derive(Default)]
struct Seen {
    /// The sessions rescued (so a dry run knows which events would lose their session).
    sessions: HashSet<String>,
    /// Events whose session was not rescued.
    orphans: Vec<Event>,
}

/// Copies what can be read of `table` into `dest` (or only counts it, with none). The error is
/// one writing into `dest` that is not about the row itself: the copy must stop.
fn copy_table(
    source: &Connection,
    table: &str,
    dest: Option<&Connection>,
    seen: &mut Seen,
) -> (TableRescue, Option<rusqlite::Error>) {
    let mut rescue = TableRescue {
        table: table.to_owned(),
        rescued: 0,
        lost: 0,
    };
    let columns = match (columns(source, table), dest.map(|d| columns(d, table))) {
        (Ok(ours), None) => ours,
        // Only the columns both schemas have (an older file lacks newer columns: defaults).
        (Ok(theirs), Some(Ok(ours))) => ours.into_iter().filter(|c| theirs.contains(c)).collect(),
        (Err(_), _) => {
            // The table itself cannot be found or read: all of it is lost, how much unknown.
            rescue.lost = count_rows(source, table).unwrap_or(0);
            return (rescue, None);
        }
        (_, Some(Err(e))) => return (rescue, Some(e)),
    };
    if columns.is_empty() {
        return (rescue, None);
    }
    let mut insert = match dest.map(|d| d.prepare(&insert_sql(table, &columns))) {
        Some(Ok(stmt)) => Some(stmt),
        Some(Err(e)) => return (rescue, Some(e)),
        None => None,
    };
    let mut read = 0u64;
    let mut rejected = 0u64;
    let mut skipped = 0u64;
    let scanned = scan(source, table, &columns, &mut skipped, |values| {
        read += 1;
        if !usable(table, &columns, values) {
            rejected += 1;
            return Ok(());
        }
        let session = value_of(&columns, values, "session_id").and_then(|v| match v {
            SqlValue::Text(id) => Some(id.clone()),
            _ => None,
        });
        let orphan = |seen: &mut Seen| {
            if let Some(SqlValue::Text(payload)) = value_of(&columns, values, "payload_json")
                && let Ok(event) = serde_json::from_str::<Event>(payload)
            {
                seen.orphans.push(event);
            }
        };
        let Some(insert) = insert.as_mut() else {
            // As the insert would: an event and a ledger need their session (a foreign key).
            let sessionless = || {
                !session
                    .as_ref()
                    .is_some_and(|id| seen.sessions.contains(id))
            };
            if table == "events" && sessionless() {
                orphan(seen);
            } else if matches!(table, "ledgers" | "ledger_deltas") && sessionless() {
                rejected += 1;
            } else {
                rescue.rescued += 1;
                if table == "sessions" {
                    seen.sessions.extend(session);
                }
            }
            return Ok(());
        };
        match insert.execute(params_from_iter(values)) {
            // 0: a duplicate the `0007_once` indexes ignore (a file from before them).
            Ok(n) => rescue.rescued += n as u64,
            Err(e) if table == "events" && is_foreign_key_violation(&e) => orphan(seen),
            Err(e) if is_row_fault(&e) => rejected += 1,
            Err(e) => return Err(e),
        }
        Ok(())
    });
    if let Err(e) = scanned {
        return (rescue, Some(e));
    }
    // The exact count when one can still be read (SQLite counts the smallest b-tree, often an
    // intact index), else the rowids skipped over.
    let unread = match count_rows(source, table) {
        Ok(n) => n.saturating_sub(read),
        Err(_) => skipped,
    };
    rescue.lost = unread + rejected;
    // Orphans are not lost: the caller rebuilds their sessions from them.
    (rescue, None)
}

/// Reads every readable row of `table` in rowid order, handing each to `each`; rowids skipped
/// over damage are added to `skipped`. Only an error of `each` is returned.
fn scan(
    source: &Connection,
    table: &str,
    columns: &[String],
    skipped: &mut u64,
    mut each: impl FnMut(&[SqlValue]) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let sql = format!(
        "SELECT rowid, {} FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
        column_list(columns),
        quote(table)
    );
    let Ok(mut stmt) = source.prepare(&sql) else {
        return Ok(());
    };
    let mut after = i64::MIN;
    loop {
        let mut rows = Vec::new();
        let outcome = read_rows(&mut stmt, after, CHUNK, &mut rows);
        for (rowid, values) in &rows {
            after = *rowid;
            each(values)?;
        }
        match outcome {
            Ok(()) if i64::try_from(rows.len()).unwrap_or(i64::MAX) < CHUNK => return Ok(()),
            Ok(()) => {}
            Err(_) => match next_readable(&mut stmt, after) {
                Some((start, first)) => {
                    // Rowids start at 1: a gap before the first row read counts from there,
                    // not from the scan's `i64::MIN` start.
                    *skipped += first.map_or(0, |f| f.abs_diff(after.max(0)).saturating_sub(1));
                    after = start;
                }
                None => return Ok(()),
            },
        }
    }
}

/// Up to `limit` rows with a rowid above `after` into `out`; an error after some rows keeps
/// those. A rowid that does not grow means a damaged tree (it would loop): an error.
fn read_rows(
    stmt: &mut Statement<'_>,
    after: i64,
    limit: i64,
    out: &mut Vec<(i64, Vec<SqlValue>)>,
) -> rusqlite::Result<()> {
    let width = stmt.column_count();
    let mut rows = stmt.query(params![after, limit])?;
    let mut last = after;
    while let Some(row) = rows.next()? {
        let rowid: i64 = row.get(0)?;
        if rowid <= last {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some("rowids out of order".into()),
            ));
        }
        let values = (1..width)
            .map(|i| row.get::<_, SqlValue>(i))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        last = rowid;
        out.push((rowid, values));
    }
    Ok(())
}

/// After a failed read past `after`: the smallest start from which the next row reads, and that
/// row's rowid (`None` at the table's end); `None` when nothing further reads at all.
fn next_readable(stmt: &mut Statement<'_>, after: i64) -> Option<(i64, Option<i64>)> {
    let mut first_from = |start: i64| -> Option<Option<i64>> {
        let mut row = Vec::new();
        read_rows(stmt, start, 1, &mut row).ok()?;
        Some(row.first().map(|(rowid, _)| *rowid))
    };
    // Ahead by 1, 2, 4, … until a read succeeds…
    let (mut bad, mut good, mut found);
    let mut step: i64 = 1;
    bad = after;
    loop {
        let start = after.checked_add(step)?;
        if let Some(f) = first_from(start) {
            good = start;
            found = f;
            break;
        }
        bad = start;
        step = step.checked_mul(2)?;
    }
    // …then back to the smallest start that reads (a damaged range is one stretch of rowids).
    while good - bad > 1 {
        let mid = bad + (good - bad) / 2;
        match first_from(mid) {
            Some(f) => {
                good = mid;
                found = f;
            }
            None => bad = mid,
        }
    }
    Some((good, found))
}

/// Whether a row read from the damaged file still means something: a session's state and
/// ledger and an event's payload must decode as cclive wrote them.
fn usable(table: &str, columns: &[String], values: &[SqlValue]) -> bool {
    let text = |name: &str| value_of(columns, values, name);
    match table {
        "sessions" => {
            let Some(SqlValue::Text(state)) = text("state_json") else {
                return false;
            };
            let Ok(mut state) = serde_json::from_str::<SessionState>(state) else {
                return false;
            };
            // Before `0012` the ledger was in the row.
            match text("ledger_json") {
                Some(SqlValue::Text(ledger)) => state.restore_ledger_text(ledger).is_ok(),
                Some(SqlValue::Null) | None => true,
                Some(_) => false,
            }
        }
        "ledgers" => match (text("session_id"), text("whole_json")) {
            (Some(SqlValue::Text(id)), Some(SqlValue::Text(ledger))) => {
                SessionState::new(SessionId::new(id), Timestamp::UNIX_EPOCH)
                    .restore_ledger_text(ledger)
                    .is_ok()
            }
            _ => false,
        },
        "events" => matches!(
            text("payload_json"),
            Some(SqlValue::Text(payload)) if serde_json::from_str::<Event>(payload).is_ok()
        ),
        _ => true,
    }
}

/// The value of column `name` in a row read with `columns`.
fn value_of<'a>(columns: &[String], values: &'a [SqlValue], name: &str) -> Option<&'a SqlValue> {
    columns
        .iter()
        .position(|c| c == name)
        .and_then(|i| values.get(i))
}

/// An insert that failed because of the row (a constraint, a type), not the database.
fn is_row_fault(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::ConstraintViolation | ErrorCode::TypeMismatch | ErrorCode::TooBig)
    ) || is_damage(err)
}

fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let names: Vec<String> = conn
        .prepare(&format!(
            "SELECT name FROM pragma_table_info({})",
            literal(table)
        ))?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if names.is_empty() {
        // No such table in this file.
        return Err(rusqlite::Error::QueryReturnedNoRows);
    }
    Ok(names)
}

fn count_rows(conn: &Connection, table: &str) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row(
        &format!("SELECT count(*) FROM {}", quote(table)),
        [],
        |row| row.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn insert_sql(table: &str, columns: &[String]) -> String {
    let marks = vec!["?"; columns.len()].join(", ");
    // A file from before `0007_once` may hold a start or tool call twice: kept once, as the
    // migration would have.
    format!(
        "INSERT INTO {} ({}) VALUES ({marks}) ON CONFLICT DO NOTHING",
        quote(table),
        column_list(columns)
    )
}

fn column_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An SQL identifier (our own table and column names; quoted because one is `offset`).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests;
