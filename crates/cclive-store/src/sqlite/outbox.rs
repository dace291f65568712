//! The `SQLite` statements of the team outbox (`0004_team_outbox`): turning team mode on and off,
//! reading pending entries with the data they point at, and recording what the server said.
//!
//! The outbox rows themselves are written by triggers in the data's own transactions; this file
//! never writes one for a single change. Each method takes the store's connection and returns
//! domain values ([`OutboxEntry`], [`TeamAgentState`]).

use cclive_core::Event;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{RawUsage, SqliteStore, decode_state, negative};
use crate::{OutboxEntry, OutboxItem, StoreError, TeamAgentState};

/// Every stored entity, queued in an order a server can apply: sessions (oldest first), then
/// usage (by time), then events (as appended). Entities already pending keep their place.
const BACKFILL: &str = "
    INSERT OR IGNORE INTO outbox (kind, key)
        SELECT 'session', session_id FROM sessions ORDER BY started_at_ms, session_id;
    INSERT OR IGNORE INTO outbox (kind, key)
        SELECT 'usage', key FROM usage ORDER BY at_ms, key;
    INSERT OR IGNORE INTO outbox (kind, key)
        SELECT 'event', CAST(id AS TEXT) FROM events ORDER BY id;";

/// Pending entries after `?1`, at most `?2`, each with the row it points at (all NULL when that
/// row is gone).
const SELECT_PENDING: &str = "
    SELECT o.seq, o.kind, o.key,
        s.state_json,
        u.session_id, u.at_ms, u.model, u.input, u.output, u.cache_read, u.cache_creation,
        u.sidechain,
        e.id, e.payload_json,
        u.cache_creation_1h, u.web_search_requests, u.fast, u.us_only
    FROM outbox o
    LEFT JOIN sessions s ON o.kind = 'session' AND s.session_id = o.key
    LEFT JOIN usage u ON o.kind = 'usage' AND u.key = o.key
    LEFT JOIN events e ON o.kind = 'event' AND e.id = CAST(o.key AS INTEGER)
    WHERE o.seq > ?1
    ORDER BY o.seq
    LIMIT ?2";

const SELECT_AGENT: &str = "
    SELECT machine_id, enabled, acked_seq, last_contact_at_ms, last_error, last_error_at_ms,
        (SELECT count(*) FROM outbox WHERE seq > team_agent.acked_seq),
        coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)
    FROM team_agent WHERE id = 1";

impl SqliteStore {
    /// Turns team mode on for this database and returns its state: from now on every process
    /// that writes sessions, usage or events also queues them, in the same transaction.
    ///
    /// The first time, the machine id is created. Whenever the outbox was off (the first time,
    /// or after [`disable_team_outbox`](Self::disable_team_outbox)), everything already stored
    /// is queued too, so the server gets the whole history. Calling it again while on changes
    /// nothing.
    pub fn enable_team_outbox(&self) -> Result<TeamAgentState, StoreError> {
        {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let enabled: Option<bool> = tx
                .query_row("SELECT enabled FROM team_agent WHERE id = 1", [], |row| {
                    row.get(0)
                })
                .optional()?;
            match enabled {
                Some(true) => {}
                Some(false) => {
                    tx.execute("UPDATE team_agent SET enabled = 1 WHERE id = 1", [])?;
                    tx.execute_batch(BACKFILL)?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO team_agent (id, machine_id, enabled) VALUES (1, ?1, 1)",
                        [uuid::Uuid::new_v4().to_string()],
                    )?;
                    tx.execute_batch(BACKFILL)?;
                }
            }
            tx.commit()?;
        }
        self.team_agent()?.ok_or_else(|| StoreError::Corrupt {
            what: "team agent state".into(),
            detail: "missing right after it was written".into(),
        })
    }

    /// Turns team mode off: nothing more is queued and what was pending is dropped (turning it on
    /// again queues the whole history). The machine id stays.
    pub fn disable_team_outbox(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("UPDATE team_agent SET enabled = 0 WHERE id = 1", [])?;
        tx.execute("DELETE FROM outbox", [])?;
        tx.commit()?;
        Ok(())
    }

    /// Queues the whole history again, after everything pending: for a server that lost what it
    /// had acknowledged (restored from a backup, or a new database). A no-op while team mode is
    /// off.
    pub fn requeue_team_outbox(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let enabled: Option<bool> = tx
            .query_row("SELECT enabled FROM team_agent WHERE id = 1", [], |row| {
                row.get(0)
            })
            .optional()?;
        if enabled == Some(true) {
            // Pending entries keep their seq; the rest get new (higher) ones.
            tx.execute_batch(BACKFILL)?;
            tx.execute("UPDATE team_agent SET acked_seq = 0 WHERE id = 1", [])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The team agent's state; `None` when team mode was never enabled for this database.
    pub fn team_agent(&self) -> Result<Option<TeamAgentState>, StoreError> {
        type Raw = (
            String,
            bool,
            i64,
            Option<i64>,
            Option<String>,
            Option<i64>,
            i64,
            i64,
        );
        let raw: Option<Raw> = {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(SELECT_AGENT)?;
            stmt.query_row([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                ))
            })
            .optional()?
        };
        let Some((machine_id, enabled, acked, contact, last_error, error_at, pending, last)) = raw
        else {
            return Ok(None);
        };
        let count = |n: i64| u64::try_from(n).map_err(|_| negative("team agent state".into()));
        Ok(Some(TeamAgentState {
            machine_id,
            enabled,
            acked_seq: count(acked)?,
            last_seq: count(last)?,
            pending: count(pending)?,
            last_contact_at: contact.map(time).transpose()?,
            last_error,
            last_error_at: error_at.map(time).transpose()?,
        }))
    }

    /// Up to `limit` pending entries with `seq > after`, oldest first, each with the data it
    /// points at as stored now (one read transaction, so they agree with each other).
    pub fn pending_outbox(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(SELECT_PENDING)?;
        let mut rows = stmt.query(params![
            i64::try_from(after).unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ])?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let kind: String = row.get(1)?;
            let key: String = row.get(2)?;
            let item = match kind.as_str() {
                "session" => match row.get::<_, Option<String>>(3)? {
                    Some(json) => OutboxItem::Session(Box::new(decode_state(&key, &json)?)),
                    None => OutboxItem::Gone,
                },
                "usage" => match row.get::<_, Option<String>>(4)? {
                    Some(session_id) => OutboxItem::Usage(
                        RawUsage {
                            key,
                            session_id,
                            at_ms: row.get(5)?,
                            model: row.get(6)?,
                            tokens: [
                                row.get(7)?,
                                row.get(8)?,
                                row.get(9)?,
                                row.get(10)?,
                                row.get(14)?,
                                row.get(15)?,
                                row.get(16)?,
                                row.get(17)?,
                            ],
                            sidechain: row.get(11)?,
                        }
                        .decode()?,
                    ),
                    None => OutboxItem::RetiredUsage(key),
                },
                "event" => match (
                    row.get::<_, Option<i64>>(12)?,
                    row.get::<_, Option<String>>(13)?,
                ) {
                    (Some(id), Some(json)) => {
                        let event: Event =
                            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                                what: format!("event {id}"),
                                detail: e.to_string(),
                            })?;
                        OutboxItem::Event {
                            id,
                            event: Box::new(event),
                        }
                    }
                    _ => OutboxItem::Gone,
                },
                _ => OutboxItem::Gone,
            };
            entries.push(OutboxEntry {
                seq: seq.cast_unsigned(),
                item,
            });
        }
        Ok(entries)
    }

    /// The highest seq ever queued (0 when none): with the acknowledged cursor, how far behind
    /// the server is. Cheap at any backlog size.
    pub fn outbox_head(&self) -> Result<u64, StoreError> {
        let head: i64 = self.conn().query_row(
            "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)",
            [],
            |row| row.get(0),
        )?;
        Ok(head.cast_unsigned())
    }

    /// Records that the server acknowledged everything up to `seq`: prunes those entries, moves
    /// the cursor (never back) and clears the last error. Returns how many entries were pruned.
    pub fn ack_outbox(&self, seq: u64) -> Result<u64, StoreError> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pruned = tx.execute("DELETE FROM outbox WHERE seq <= ?1", [seq])?;
        tx.execute(
            "UPDATE team_agent SET acked_seq = max(acked_seq, ?1), last_contact_at_ms = ?2,
                 last_error = NULL, last_error_at_ms = NULL
             WHERE id = 1",
            [seq, Timestamp::now().as_millisecond()],
        )?;
        tx.commit()?;
        Ok(pruned as u64)
    }

    /// Drops entries that point at nothing ([`OutboxItem::Gone`]) so they are not read again.
    pub fn forget_outbox(&self, seqs: &[u64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
            for seq in seqs {
                delete.execute([i64::try_from(*seq).unwrap_or(i64::MAX)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a failure to reach or satisfy the server (shown by `cclive team status`).
    pub fn record_team_error(&self, message: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE team_agent SET last_error = ?1, last_error_at_ms = ?2 WHERE id = 1",
            params![message, Timestamp::now().as_millisecond()],
        )?;
        Ok(())
    }
}

fn time(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt {
        what: "team agent state".into(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
