//! Rows written many at a time go through a stage: a temporary table without constraint, index
//! or trigger, appended to row by row, then copied into their table by one statement.
//!
//! Why: in a transaction, each statement that changes a table with indexes or triggers keeps a
//! statement journal (a copy of every page it changes, to undo itself alone on an error). Row
//! by row, a first import's tens of thousands of usage rows, or a catch-up's hundreds of events
//! and usage reports, paid for that once each; one statement pays once. The copy is the same
//! statement, row after row in the stage's order, with the same triggers and conflict rules. A
//! few rows (the live writer's) are cheaper one by one.
//!
//! It owns the stages' tables only, never what a copy does with the rows.

use rusqlite::{Statement, Transaction};

/// From this many rows on, a batch goes through a stage.
pub(super) const FROM_ROWS: usize = 64;

/// One stage: its table, and how a row is appended to it.
pub(super) struct Stage {
    /// Creates the table, if this connection has none yet.
    create: &'static str,
    /// Appends one row, its values in the stage's column order.
    append: &'static str,
    /// Empties it.
    empty: &'static str,
}

/// `temp.events_staged`: an `events` row without its id.
pub(super) const EVENTS: Stage = Stage {
    create: "CREATE TEMP TABLE IF NOT EXISTS events_staged \
             (session_id, at_ms, type, payload_json)",
    append: "INSERT INTO temp.events_staged VALUES (?1, ?2, ?3, ?4)",
    empty: "DELETE FROM temp.events_staged",
};

/// `temp.usage_staged`: a `usage` row, in the table's column order.
pub(super) const USAGE: Stage = Stage {
    create: "CREATE TEMP TABLE IF NOT EXISTS usage_staged (
                key, session_id, at_ms, model, input, output, cache_read, cache_creation,
                sidechain, cache_creation_1h, web_search_requests, fast, us_only)",
    append: "INSERT INTO temp.usage_staged VALUES
                (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    empty: "DELETE FROM temp.usage_staged",
};

impl Stage {
    /// Appends `rows`, each through `append` (which binds and runs the append statement), runs
    /// `copy` (one statement that reads the stage in `rowid` order), and empties the stage
    /// whether the copy succeeded or not (a failed copy changed nothing; the transaction goes
    /// on). Returns what the copy returned.
    pub(super) fn copy<T>(
        &self,
        tx: &Transaction<'_>,
        rows: &[T],
        mut append: impl FnMut(&T, &mut Statement<'_>) -> rusqlite::Result<()>,
        copy: &str,
    ) -> rusqlite::Result<usize> {
        tx.execute_batch(self.create)?;
        {
            let mut statement = tx.prepare_cached(self.append)?;
            for row in rows {
                append(row, &mut statement)?;
            }
        }
        let copied = tx.execute(copy, []);
        tx.execute(self.empty, [])?;
        copied
    }
}
