//! A session's ledger stored as its last whole text plus the deltas written since
//! (`0012_ledger_journal`): what a write of a long session costs is what changed, not the
//! hundreds of KB the session holds.
//!
//! The store remembers, per session, the point of the ledger it last wrote ([`LedgerMark`])
//! and the `ledger_seq` it was stored at ([`Journal`]), never the ledger itself (a ledger
//! kept to compare with made the session copy its ledger at each change). A write of that
//! session then stores:
//! - nothing of the ledger when it is still at that point (a status change, a tick);
//! - a delta (`SessionState::ledger_delta_text`, the keys the session noted) when the session's
//!   change log goes on from that point — a monitor's next copy handed over
//!   (`SessionState::hand_over`), or the same log further on — and the row is still at that
//!   `ledger_seq`, checked in the write's transaction, and the deltas stay smaller than the
//!   whole text;
//! - else the whole ledger, dropping the deltas. Another process's write in between, a session
//!   this store neither wrote nor read, a copy whose log does not go on from what was written,
//!   and a journal grown as big as the whole all end here.
//!
//! A session this store read notes what changes of its ledger from the read
//! ([`SessionState::track_ledger_changes`], with where it was read: [`LedgerOrigin`]), and its
//! first write is that delta: a catch-up of ten long sessions writes kilobytes, not their
//! megabytes of ledgers.
//!
//! Reading a session applies its deltas in order to the whole text and checks that they run
//! without a gap up to the row's `ledger_seq`. It owns only the ledger's columns and table: the
//! rest of the row is `sqlite.rs`'s.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use cclive_core::{LedgerMark, LedgerOrigin, SessionId, SessionState};
use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// Sessions whose stored ledger a store remembers the point of (a hundred bytes or so each):
/// more than a monitor writes in one batch — a catch-up of a busy day's history touches
/// hundreds, and with 64 a batch of them was forgotten at once, so every session's next write
/// was whole. Past it, the least recently written is forgotten (its next write is whole).
const REMEMBERED: usize = 1024;

/// Deltas a ledger keeps before it is written whole again, however small they are (each read
/// applies them all).
const MAX_DELTAS: u32 = 64;

/// What a store knows of the ledgers it wrote.
#[derive(Debug, Default)]
pub(super) struct Journal {
    known: Mutex<HashMap<SessionId, Known>>,
    clock: AtomicU64,
    /// This store's name in the [`LedgerOrigin`]s of the sessions it reads.
    store: u64,
}

/// One session's stored ledger, as this store last wrote it.
#[derive(Debug, Clone)]
struct Known {
    /// Its `ledger_seq`.
    seq: i64,
    /// The point of the ledger written (`None`: the session noted nothing, no delta follows).
    mark: Option<LedgerMark>,
    sizes: Sizes,
    /// When it was last used ([`Journal::clock`]), to forget the oldest first.
    used: u64,
}

/// How big a stored ledger's journal is.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Sizes {
    /// Bytes of its whole text.
    whole_bytes: usize,
    /// Deltas stored since the whole text, and their bytes.
    deltas: u32,
    delta_bytes: usize,
}

impl Sizes {
    /// Whether `delta` may follow: the deltas stay fewer than [`MAX_DELTAS`] and smaller than
    /// the whole text.
    fn take(&self, delta: &str) -> bool {
        self.deltas < MAX_DELTAS && self.delta_bytes + delta.len() <= self.whole_bytes
    }

    fn and(self, delta: &str) -> Sizes {
        Sizes {
            deltas: self.deltas + 1,
            delta_bytes: self.delta_bytes + delta.len(),
            ..self
        }
    }
}

/// How one session's ledger is written.
#[derive(Debug)]
pub(super) enum LedgerWrite {
    /// Whole (`None`: the ledger cannot be serialized, stored as SQL `NULL`).
    Whole(Option<String>),
    /// A delta against the stored ledger at `ledger_seq` `after`, whose journal was `sizes`.
    Delta {
        after: i64,
        text: String,
        sizes: Sizes,
    },
    /// Nothing: the stored ledger at `ledger_seq` `at` (of journal `sizes`) is the session's.
    Same { at: i64, sizes: Sizes },
}

impl LedgerWrite {
    /// What the row's `ledger_seq` goes up by.
    pub(super) fn seq_step(&self) -> i64 {
        i64::from(!matches!(self, LedgerWrite::Same { .. }))
    }
}

impl Journal {
    /// A journal whose store is named `store` in the origins of the sessions it reads.
    pub(super) fn new(store: u64) -> Self {
        Journal {
            store,
            ..Journal::default()
        }
    }

    /// Where a session this store read at `ledger_seq` `seq` was read from: a whole text of
    /// `whole_bytes`, then `deltas`.
    pub(super) fn origin(
        &self,
        seq: i64,
        whole_bytes: usize,
        deltas: &[(i64, String)],
    ) -> LedgerOrigin {
        LedgerOrigin {
            store: self.store,
            seq,
            deltas: u32::try_from(deltas.len()).unwrap_or(u32::MAX),
            delta_bytes: deltas.iter().map(|(_, text)| text.len()).sum(),
            whole_bytes,
        }
    }

    /// How to write `state`'s ledger, by what this store knows of the stored one: the point of
    /// the ledger it wrote, or the one the session was read at (checked again in the
    /// transaction: [`Journal::confirm`]).
    pub(super) fn plan(&self, state: &SessionState) -> LedgerWrite {
        let known = self
            .lock()
            .get(&state.session_id)
            .map(|k| (k.seq, k.mark, k.sizes));
        if let Some((seq, Some(written), sizes)) = known
            && let Some(now) = state.ledger_mark()
        {
            let follows = state.ledger_follows() == Some(written);
            // Still the ledger written: the same point, or a log that noted nothing since.
            if now == written || (follows && !state.ledger_changed_since_log_start()) {
                return LedgerWrite::Same { at: seq, sizes };
            }
            // The same log further on (what it noted before the write too: a delta names a key
            // again harmlessly), or the log after it.
            if (now.log == written.log || follows)
                && let Some(text) = state.ledger_delta_text()
                && sizes.take(&text)
            {
                return LedgerWrite::Delta {
                    after: seq,
                    text,
                    sizes,
                };
            }
        }
        if let Some(origin) = state.ledger_origin()
            && origin.store == self.store
        {
            let sizes = Sizes {
                whole_bytes: origin.whole_bytes,
                deltas: origin.deltas,
                delta_bytes: origin.delta_bytes,
            };
            if !state.ledger_changed_since_log_start() {
                return LedgerWrite::Same {
                    at: origin.seq,
                    sizes,
                };
            }
            if let Some(text) = state.ledger_delta_text()
                && sizes.take(&text)
            {
                return LedgerWrite::Delta {
                    after: origin.seq,
                    text,
                    sizes,
                };
            }
        }
        LedgerWrite::Whole(state.ledger_json_text())
    }

    /// Keeps `planned`, or makes it the whole ledger when the row is no longer at the
    /// `ledger_seq` the plan was made against (another writer stored the session since) or is
    /// gone. Call inside the write's transaction.
    pub(super) fn confirm(
        conn: &Connection,
        state: &SessionState,
        planned: &mut LedgerWrite,
    ) -> rusqlite::Result<()> {
        let expected = match planned {
            LedgerWrite::Whole(_) => return Ok(()),
            LedgerWrite::Delta { after, .. } => *after,
            LedgerWrite::Same { at, .. } => *at,
        };
        let stored: Option<i64> = conn
            .prepare_cached("SELECT ledger_seq FROM sessions WHERE session_id = ?1")?
            .query_row([state.session_id.as_str()], |row| row.get(0))
            .optional()?;
        if stored != Some(expected) {
            *planned = LedgerWrite::Whole(state.ledger_json_text());
        }
        Ok(())
    }

    /// Stores `write` for the session whose row is now at `ledger_seq` `seq`: a delta row, or
    /// the whole text in place of the last one and its deltas. Call inside the transaction.
    pub(super) fn store(
        conn: &Connection,
        session_id: &SessionId,
        write: &LedgerWrite,
        seq: i64,
    ) -> rusqlite::Result<()> {
        let id = session_id.as_str();
        match write {
            LedgerWrite::Delta { text, .. } => {
                conn.prepare_cached(
                    "INSERT INTO ledger_deltas (session_id, seq, delta_json) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![id, seq, text])?;
            }
            LedgerWrite::Whole(text) => {
                match text {
                    Some(text) => conn
                        .prepare_cached(
                            "INSERT INTO ledgers (session_id, whole_json) VALUES (?1, ?2) \
                             ON CONFLICT (session_id) DO UPDATE SET whole_json = excluded.whole_json",
                        )?
                        .execute(params![id, text])?,
                    None => conn
                        .prepare_cached("DELETE FROM ledgers WHERE session_id = ?1")?
                        .execute([id])?,
                };
                // A first write (seq 1) has no deltas to drop.
                if seq > 1 {
                    conn.prepare_cached("DELETE FROM ledger_deltas WHERE session_id = ?1")?
                        .execute([id])?;
                }
            }
            LedgerWrite::Same { .. } => {}
        }
        Ok(())
    }

    /// Remembers what a committed batch stored of its sessions' ledgers. A batch of more
    /// sessions than are remembered (an import's) is forgotten instead: nothing writes most of
    /// them again soon.
    pub(super) fn written(&self, batch: &[(&SessionState, LedgerWrite, i64)]) {
        let mut known = self.lock();
        if batch.len() > REMEMBERED {
            for (state, _, _) in batch {
                known.remove(&state.session_id);
            }
            return;
        }
        for (state, write, seq) in batch {
            let sizes = match write {
                LedgerWrite::Whole(text) => Sizes {
                    whole_bytes: text.as_ref().map_or(0, String::len),
                    ..Sizes::default()
                },
                LedgerWrite::Delta { text, sizes, .. } => sizes.and(text),
                LedgerWrite::Same { sizes, .. } => *sizes,
            };
            let entry = Known {
                seq: *seq,
                mark: state.ledger_mark(),
                sizes,
                used: 0,
            };
            self.remember(&mut known, state.session_id.clone(), entry);
        }
    }

    /// Forgets a session (deleted).
    pub(super) fn forget(&self, id: &SessionId) {
        self.lock().remove(id);
    }

    fn remember(&self, known: &mut HashMap<SessionId, Known>, id: SessionId, mut entry: Known) {
        entry.used = self.clock.fetch_add(1, Ordering::Relaxed);
        if known.len() >= REMEMBERED
            && !known.contains_key(&id)
            && let Some(oldest) = known
                .iter()
                .min_by_key(|(_, k)| k.used)
                .map(|(id, _)| id.clone())
        {
            known.remove(&oldest);
        }
        known.insert(id, entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Known>> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The stored deltas of session `id`, in order: `(seq, text)`.
pub(super) fn read_deltas(
    conn: &Connection,
    id: &SessionId,
) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, delta_json FROM ledger_deltas WHERE session_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// Applies `deltas` ([`read_deltas`]) to `state`, whose whole ledger is restored, up to its
/// `ledger_seq` `seq`. A gap, or a last delta that is not at `seq`, is a damaged journal.
pub(super) fn apply_deltas(
    state: &mut SessionState,
    seq: i64,
    deltas: &[(i64, String)],
) -> Result<(), StoreError> {
    let id = state.session_id.clone();
    let corrupt = |detail: String| StoreError::Corrupt {
        what: format!("ledger of session {id}"),
        detail,
    };
    let mut expected = None;
    for (at, text) in deltas {
        if expected.is_some_and(|next| next != *at) {
            return Err(corrupt(format!("delta {at} follows a gap")));
        }
        state
            .apply_ledger_delta_text(text)
            .map_err(|e| corrupt(format!("delta {at}: {e}")))?;
        expected = Some(at + 1);
    }
    if let Some((last, _)) = deltas.last()
        && *last != seq
    {
        return Err(corrupt(format!(
            "its deltas end at {last}, the session row at {seq}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cclive_core::{Event, EventKind, PriceTable, Status, Tokens};
    use tempfile::TempDir;

    use crate::tests::{running, t};
    use crate::{SqliteStore, Store, StoreError};

    use super::*;

    /// `n` more responses, each with a tool call and its result, from response `from` on.
    fn respond(state: &mut SessionState, from: u32, n: u32) {
        let prices = PriceTable::builtin();
        for i in from..from + n {
            let tool = format!("toolu_{i:04}");
            for kind in [
                EventKind::Usage {
                    key: format!("msg_{i:04}"),
                    request_id: Some(format!("req_{i:04}")),
                    reported_cost_usd: None,
                    model: Some("claude-sonnet-4-5".into()),
                    tokens: Tokens {
                        input: 100,
                        output: u64::from(i),
                        cache_read: 20_000,
                        ..Tokens::default()
                    },
                    is_final: true,
                    sidechain: false,
                },
                EventKind::ToolUse {
                    tool_use_id: tool.clone(),
                    name: "Bash".into(),
                    sidechain: false,
                },
                EventKind::ToolResult {
                    tool_use_id: tool,
                    is_error: false,
                    duration_ms: None,
                    sidechain: false,
                },
            ] {
                let at = t(i64::from(i) + 100);
                state.apply(&Event::new(state.session_id.clone(), at, kind), &prices);
            }
        }
    }

    /// Writes one session as a monitor does: a copy handed over (`SessionState::hand_over`).
    fn save(store: &SqliteStore, state: &mut SessionState) {
        let batch = crate::Batch {
            sessions: vec![state.hand_over()],
            ..crate::Batch::default()
        };
        store.write(&batch).unwrap();
    }

    /// A long session on a file store, written once (whole).
    fn stored_long_session() -> (TempDir, SqliteStore, SessionState) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("cclive.db")).unwrap();
        let (mut state, _) = running("s1", 0, "/p");
        respond(&mut state, 0, 300);
        save(&store, &mut state);
        (dir, store, state)
    }

    /// `(ledger_seq, bytes of ledger_json, delta rows)` of session `s1`.
    fn stored(store: &SqliteStore) -> (i64, usize, i64) {
        let (seq, whole, deltas): (i64, i64, i64) = store
            .conn()
            .query_row(
                "SELECT ledger_seq, length(whole_json), \
                 (SELECT count(*) FROM ledger_deltas WHERE session_id = 's1') \
                 FROM sessions JOIN ledgers USING (session_id) WHERE session_id = 's1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        (seq, usize::try_from(whole).unwrap(), deltas)
    }

    /// The one number `sql` (a count, a length) reads.
    fn number(store: &SqliteStore, sql: &str) -> usize {
        let n: i64 = store.conn().query_row(sql, [], |r| r.get(0)).unwrap();
        usize::try_from(n).unwrap()
    }

    /// What another process opening the file reads.
    fn read_fresh(dir: &TempDir) -> Result<Option<SessionState>, StoreError> {
        SqliteStore::open(&dir.path().join("cclive.db"))
            .unwrap()
            .session(&SessionId::new("s1"))
    }

    #[test]
    fn a_change_to_a_long_session_stores_a_delta_that_reads_back_exactly() {
        let (dir, store, mut state) = stored_long_session();
        let (seq, whole, deltas) = stored(&store);
        assert_eq!((seq, deltas), (1, 0));
        respond(&mut state, 300, 1);
        save(&store, &mut state);
        assert_eq!(
            stored(&store),
            (2, whole, 1),
            "the whole text stays, a delta joins it"
        );
        let delta = number(&store, "SELECT length(delta_json) FROM ledger_deltas");
        assert!(
            delta * 20 < whole,
            "a delta of {delta} bytes, the whole {whole}"
        );
        assert_eq!(read_fresh(&dir).unwrap(), Some(state.clone()));
        // Another store goes on from what it read: by deltas at once (the session noted what
        // changed since the read), then against what it wrote.
        let reader = SqliteStore::open(&dir.path().join("cclive.db")).unwrap();
        let mut continued = reader.session(&SessionId::new("s1")).unwrap().unwrap();
        for (i, expected_deltas) in [(301, 2), (302, 3)] {
            respond(&mut continued, i, 1);
            save(&reader, &mut continued);
            assert_eq!(stored(&reader).2, expected_deltas);
            assert_eq!(read_fresh(&dir).unwrap(), Some(continued.clone()));
        }
        assert_eq!(stored(&reader).0, 4);
    }

    #[test]
    fn what_a_session_noted_since_a_read_goes_only_where_and_as_it_was_read() {
        let (dir, _store, _) = stored_long_session();
        let open = || SqliteStore::open(&dir.path().join("cclive.db")).unwrap();
        let (first, second) = (open(), open());
        let mut stale = first.session(&SessionId::new("s1")).unwrap().unwrap();
        let mut current = second.session(&SessionId::new("s1")).unwrap().unwrap();
        respond(&mut current, 300, 1);
        save(&second, &mut current);
        assert_eq!(stored(&second).2, 1, "a delta");
        // Read before that write: its changes are not put on top of it.
        respond(&mut stale, 400, 1);
        save(&first, &mut stale);
        assert_eq!(stored(&first).2, 0, "written whole");
        assert_eq!(read_fresh(&dir).unwrap(), Some(stale.clone()));

        // Another file holding another `s1` at the same version takes no delta of this one.
        let elsewhere_dir = tempfile::tempdir().unwrap();
        let elsewhere = SqliteStore::open(&elsewhere_dir.path().join("cclive.db")).unwrap();
        let (mut theirs, _) = running("s1", 0, "/p");
        for from in [0, 5, 10] {
            respond(&mut theirs, from, 5);
            save(&elsewhere, &mut theirs);
        }
        assert_eq!(stored(&elsewhere).0, stored(&first).0, "the same version");
        let mut read = open().session(&SessionId::new("s1")).unwrap().unwrap();
        respond(&mut read, 500, 1);
        // (A store that wrote `theirs` would diff against it: this one knows nothing of it.)
        let elsewhere = SqliteStore::open(&elsewhere_dir.path().join("cclive.db")).unwrap();
        save(&elsewhere, &mut read);
        assert_eq!(stored(&elsewhere).2, 0, "written whole");
        assert_eq!(
            read_fresh(&elsewhere_dir).unwrap(),
            Some(read),
            "the session as written, not theirs with its changes"
        );
    }

    #[test]
    fn a_write_that_changed_nothing_counted_leaves_the_ledger_alone() {
        let (dir, store, mut state) = stored_long_session();
        let before = stored(&store);
        state.status = Status::Completed;
        save(&store, &mut state);
        assert_eq!(stored(&store), before, "no delta, no new text");
        assert_eq!(read_fresh(&dir).unwrap(), Some(state));
        // Nor when a fresh store (a catch-up import, a monitor started later) ends what it
        // read: it knows the ledger from the read.
        let reader = SqliteStore::open(&dir.path().join("cclive.db")).unwrap();
        let mut read = reader.session(&SessionId::new("s1")).unwrap().unwrap();
        read.status = Status::Failed;
        save(&reader, &mut read);
        assert_eq!(stored(&store), before, "neither a delta nor the text");
        assert_eq!(read_fresh(&dir).unwrap(), Some(read));
    }

    #[test]
    fn another_writer_in_between_makes_the_next_write_whole() {
        let (dir, store, mut state) = stored_long_session();
        // Another process continues the session from the file.
        let other = SqliteStore::open(&dir.path().join("cclive.db")).unwrap();
        let mut theirs = other.session(&SessionId::new("s1")).unwrap().unwrap();
        for i in [300, 301] {
            respond(&mut theirs, i, 1);
            save(&other, &mut theirs);
        }
        assert_eq!(
            stored(&store),
            (3, stored(&store).1, 2),
            "the whole text, then a delta of each write"
        );
        // This store planned a delta against the ledger it wrote; the row moved on since.
        respond(&mut state, 500, 1);
        save(&store, &mut state);
        let (seq, _, deltas) = stored(&store);
        assert_eq!((seq, deltas), (4, 0), "written whole, the deltas dropped");
        assert_eq!(
            read_fresh(&dir).unwrap(),
            Some(state),
            "the last writer's ledger"
        );
    }

    #[test]
    fn deltas_never_outgrow_the_whole_text() {
        let (dir, store, mut state) = stored_long_session();
        let mut wholes = 0;
        for i in 0..120 {
            respond(&mut state, 300 + i, 1);
            save(&store, &mut state);
            let (_, whole, deltas) = stored(&store);
            let delta_bytes = number(
                &store,
                "SELECT coalesce(sum(length(delta_json)), 0) FROM ledger_deltas",
            );
            assert!(delta_bytes <= whole);
            assert!(u32::try_from(deltas).unwrap() <= MAX_DELTAS);
            wholes += usize::from(deltas == 0);
        }
        assert!(wholes >= 1, "written whole again at least once");
        assert_eq!(read_fresh(&dir).unwrap(), Some(state));
    }

    #[test]
    fn a_gap_in_the_deltas_is_a_damaged_ledger_naming_the_session() {
        let (dir, store, mut state) = stored_long_session();
        for i in 0..3 {
            respond(&mut state, 300 + i, 1);
            save(&store, &mut state);
        }
        assert_eq!(stored(&store).2, 3);
        store
            .conn()
            .execute("DELETE FROM ledger_deltas WHERE seq = 3", [])
            .unwrap();
        let err = read_fresh(&dir).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { what, detail }
                if what.contains("s1") && detail.contains("gap")),
            "{err:?}"
        );
        // A lost last delta too.
        store
            .conn()
            .execute("DELETE FROM ledger_deltas WHERE seq = 4", [])
            .unwrap();
        let err = read_fresh(&dir).unwrap_err();
        assert!(matches!(&err, StoreError::Corrupt { .. }), "{err:?}");
    }

    /// A database of the version before `0012`, with the long session's ledger in its row.
    fn version_11_database(dir: &TempDir) -> SessionState {
        let path = dir.path().join("cclive.db");
        let mut conn = Connection::open(&path).unwrap();
        crate::migrations::migrate(&mut conn, &crate::migrations::MIGRATIONS[..11]).unwrap();
        let (mut state, _) = running("s1", 0, "/p");
        respond(&mut state, 0, 50);
        conn.execute(
            "INSERT INTO sessions (session_id, status, mode, source, started_at_ms, \
             updated_at_ms, cost_source, duration_ms, duration_api_ms, num_turns, tokens_input, \
             tokens_output, tokens_cache_read, tokens_cache_creation, state_json, ledger_json) \
             VALUES ('s1', 'ACTIVE', 'print', 'wrapper', 0, 0, 'estimated', 0, 0, 0, 0, 0, 0, 0, \
             ?1, ?2)",
            params![
                serde_json::to_string(&state).unwrap(),
                state.ledger_json_text().unwrap()
            ],
        )
        .unwrap();
        state
    }

    #[test]
    fn an_older_database_has_its_ledgers_moved_out_of_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let state = version_11_database(&dir);
        let store = SqliteStore::open(&dir.path().join("cclive.db")).unwrap();
        assert_eq!(store.session(&SessionId::new("s1")).unwrap(), Some(state));
        let left = number(
            &store,
            "SELECT count(*) FROM sessions WHERE ledger_json IS NOT NULL",
        );
        assert_eq!(left, 0, "the rows no longer carry it");
    }

    #[test]
    fn recovering_an_older_file_keeps_the_ledgers_of_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let state = version_11_database(&dir);
        let (store, report) =
            crate::recover::recover(&dir.path().join("cclive.db"), t(10_000)).unwrap();
        assert!(report.readable);
        assert_eq!(store.session(&SessionId::new("s1")).unwrap(), Some(state));
    }

    #[test]
    fn a_copy_whose_log_does_not_go_on_from_the_one_written_is_written_whole() {
        let (dir, store, mut state) = stored_long_session();
        respond(&mut state, 300, 1);
        // Handed over and never written (a writer that lost it): the next copy's log starts
        // after this one's, not after the one stored.
        let lost = state.hand_over();
        respond(&mut state, 301, 1);
        save(&store, &mut state);
        assert_eq!(stored(&store).2, 0, "written whole");
        assert_eq!(read_fresh(&dir).unwrap(), Some(state.clone()));
        drop(lost);
        // And the one after it goes on as a delta again.
        respond(&mut state, 302, 1);
        save(&store, &mut state);
        assert_eq!(stored(&store).2, 1, "a delta");
        assert_eq!(read_fresh(&dir).unwrap(), Some(state));
    }

    #[test]
    fn a_monitor_batch_of_hundreds_of_sessions_is_remembered() {
        // A catch-up of a busy day hands the writer hundreds of sessions at once.
        let (dir, store, mut state) = stored_long_session();
        let mut others: Vec<SessionState> = (0..300)
            .map(|n| running(&format!("other-{n}"), 0, "/p").0)
            .collect();
        respond(&mut state, 300, 1);
        let mut batch = crate::Batch {
            sessions: vec![state.hand_over()],
            ..crate::Batch::default()
        };
        batch
            .sessions
            .extend(others.iter_mut().map(SessionState::hand_over));
        store.write(&batch).unwrap();
        respond(&mut state, 301, 1);
        save(&store, &mut state);
        assert_eq!(
            stored(&store).2,
            2,
            "a delta after each: the first and this one"
        );
        assert_eq!(read_fresh(&dir).unwrap(), Some(state));
    }

    #[test]
    fn a_deleted_session_takes_its_deltas_and_is_written_whole_again() {
        let (dir, store, mut state) = stored_long_session();
        respond(&mut state, 300, 1);
        save(&store, &mut state);
        assert!(store.delete_session(&SessionId::new("s1")).unwrap());
        assert_eq!(number(&store, "SELECT count(*) FROM ledger_deltas"), 0);
        respond(&mut state, 301, 1);
        save(&store, &mut state);
        assert_eq!(stored(&store).0, 1, "a new row, whole");
        assert_eq!(read_fresh(&dir).unwrap(), Some(state));
    }
}
