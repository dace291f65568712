//! Whether a database file is sound: `SQLite`'s own integrity and foreign-key checks plus
//! cclive's sanity (a schema version this build knows, every table and index its migrations
//! make), with a verdict a caller can act on.
//!
//! It opens the file read-only and never writes, so it is safe next to a running monitor (WAL
//! readers never wait for the writer). A database another process holds locked past a short wait
//! is reported [`Verdict::Busy`], never as damaged: only `SQLite`'s "corrupt" and "not a
//! database" answers, failed checks and missing schema objects make it [`Verdict::Damaged`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use serde::Serialize;

use crate::migrations::{self, MIGRATIONS};

/// How long the check waits for a lock another process holds before it says "busy".
const BUSY_WAIT: Duration = Duration::from_secs(2);

/// Problems listed at most (`SQLite` can find thousands in a badly damaged file).
const MAX_PROBLEMS: usize = 50;

/// How thorough the integrity check is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CheckDepth {
    /// `PRAGMA quick_check`: every page and record, not whether indexes match their tables.
    #[default]
    Quick,
    /// `PRAGMA integrity_check`: also every index against its table (slower on a big history).
    Full,
}

/// What the check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Sound: every check passed.
    Healthy,
    /// No file there yet (cclive creates it when it first stores something).
    Missing,
    /// Damaged: `cclive db recover` moves it aside and rebuilds what it can.
    Damaged,
    /// Another process held the database locked for longer than the check waits: try again.
    Busy,
    /// Written by a newer cclive: this build cannot judge its schema (upgrade cclive).
    NewerSchema,
}

impl Verdict {
    /// Whether the database can be used as it is.
    pub fn is_usable(self) -> bool {
        matches!(self, Verdict::Healthy | Verdict::Missing)
    }
}

/// The outcome of [`check`].
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// The file checked.
    pub path: PathBuf,
    /// The conclusion.
    pub verdict: Verdict,
    /// The file's schema version (`PRAGMA user_version`), when it could be read.
    pub schema_version: Option<u32>,
    /// The newest schema version this build knows.
    pub supported_version: u32,
    /// Whether the full integrity check (indexes too) ran.
    pub full: bool,
    /// What was found wrong, in `SQLite`'s words or ours (at most 50).
    pub problems: Vec<String>,
}

/// A failure of the check itself (not a finding about the database).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The file could not be opened or read for a reason other than damage or a lock
    /// (permissions, an I/O error).
    #[error("cannot read the cclive database at {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
}

/// Checks the database at `path` without changing it.
pub fn check(path: &Path, depth: CheckDepth) -> Result<CheckReport, CheckError> {
    let mut report = CheckReport {
        path: path.to_owned(),
        verdict: Verdict::Healthy,
        schema_version: None,
        supported_version: migrations::latest(),
        full: depth == CheckDepth::Full,
        problems: Vec::new(),
    };
    if !path.exists() {
        report.verdict = Verdict::Missing;
        return Ok(report);
    }
    let outcome = open_read_only(path).and_then(|conn| {
        conn.busy_timeout(BUSY_WAIT)?;
        inspect(&conn, depth, &mut report)
    });
    match outcome {
        Ok(()) => {}
        Err(e) if is_damage(&e) => {
            report.verdict = Verdict::Damaged;
            report.problems.push(e.to_string());
        }
        Err(e) if is_busy(&e) => {
            report.verdict = Verdict::Busy;
            report.problems.push(e.to_string());
        }
        Err(source) => {
            return Err(CheckError::Read {
                path: path.to_owned(),
                source,
            });
        }
    }
    report.problems.truncate(MAX_PROBLEMS);
    Ok(report)
}

/// Opens a database file for reading only (no `SQLITE_OPEN_URI`: a path is a path).
pub(crate) fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// Whether `SQLite` says the file is damaged (as opposed to busy, missing or unreadable).
pub(crate) fn is_damage(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn inspect(conn: &Connection, depth: CheckDepth, report: &mut CheckReport) -> rusqlite::Result<()> {
    let version: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    report.schema_version = Some(version);
    let damaged = |report: &mut CheckReport, problem: String| {
        report.verdict = Verdict::Damaged;
        if report.problems.len() < MAX_PROBLEMS {
            report.problems.push(problem);
        }
    };

    let pragma = match depth {
        CheckDepth::Quick => "PRAGMA quick_check(50)",
        CheckDepth::Full => "PRAGMA integrity_check(50)",
    };
    let found: Vec<String> = conn
        .prepare(pragma)?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    if found != ["ok"] {
        for problem in found {
            damaged(report, problem);
        }
    }

    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let table: String = row.get(0)?;
        let rowid: Option<i64> = row.get(1)?;
        let parent: String = row.get(2)?;
        damaged(
            report,
            format!(
                "{table} row {} refers to a missing row of {parent}",
                rowid.map_or_else(|| "?".to_owned(), |r| r.to_string())
            ),
        );
    }

    if version > report.supported_version {
        if report.verdict == Verdict::Healthy {
            report.verdict = Verdict::NewerSchema;
        }
        return Ok(());
    }
    // What the migrations up to this version make must all be there (a lost schema entry is
    // damage `SQLite`'s checks do not see: the table is simply gone).
    let present = schema_objects(conn)?;
    for missing in expected_objects(version)?.difference(&present) {
        damaged(report, format!("the schema lacks {missing}"));
    }
    Ok(())
}

/// "table usage", "index usage_by_time", … of a database.
fn schema_objects(conn: &Connection) -> rusqlite::Result<BTreeSet<String>> {
    conn.prepare("SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'")?
        .query_map([], |row| {
            Ok(format!(
                "{} {}",
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?
            ))
        })?
        .collect()
}

/// The schema objects a database at `version` has: those of a fresh in-memory database brought
/// to that version by the same scripts.
fn expected_objects(version: u32) -> rusqlite::Result<BTreeSet<String>> {
    let mut conn = Connection::open_in_memory()?;
    let upto = usize::try_from(version).unwrap_or(usize::MAX);
    let scripts = &MIGRATIONS[..upto.min(MIGRATIONS.len())];
    if migrations::migrate(&mut conn, scripts).is_err() {
        // The scripts are ours and run in memory: they cannot fail short of a bug, which the
        // migration tests catch. Without them there is nothing to compare against.
        return Ok(BTreeSet::new());
    }
    schema_objects(&conn)
}
