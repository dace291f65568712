//! The one writer of the history store: a thread that takes batches and commits them.
//!
//! SQLite is synchronous and a write can wait on another process's lock, so writes happen off the
//! async runtime, on one thread. Everything queued while a transaction runs is coalesced into the
//! next one (latest state per session, taking in what the earlier copies noted of its ledger;
//! every event, usage row and checkpoint in order). Each batch has a number, and the writer
//! says up to which one the store holds everything (`StoreWriter::committed`). A failed
//! write is logged, counted and retried with the next batch; monitoring goes on. Checkpoints
//! travel in the same transaction as the data read before them, so a restart never skips bytes
//! whose events were not stored.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use cclive_core::{SessionId, SessionState, Update, UpdateKind, usage_merge};
use cclive_store::{Batch, Store, StoreError};

use crate::monitor::pipeline::Callback;

/// A batch, the updates whose committed callbacks run once it is written, and its number.
type Queued = (Batch, Vec<Update>, u64);

/// Handle to the writer thread.
pub(crate) struct StoreWriter {
    tx: Option<mpsc::Sender<Queued>>,
    thread: Option<JoinHandle<WriterReport>>,
    /// Batches sent so far (each one's number).
    sent: u64,
    /// The number of the last batch committed (with every batch before it).
    committed: Arc<AtomicU64>,
}

/// What the writer did, reported when it stops.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WriterReport {
    /// Transactions committed.
    pub(crate) commits: u64,
    /// Transactions that failed.
    pub(crate) failures: u64,
    /// Events given up on after repeated failures.
    pub(crate) dropped_events: u64,
    /// True when the last attempt failed (something was not stored).
    pub(crate) unsaved: bool,
}

/// Called on the writer thread after each commit (e.g. to wake the team uploader). Must return
/// at once.
pub(crate) type AfterCommit = Arc<dyn Fn() + Send + Sync>;

impl StoreWriter {
    /// Starts the writer thread for `store`.
    #[cfg(test)]
    pub(crate) fn spawn(store: Arc<dyn Store>) -> std::io::Result<Self> {
        Self::spawn_with(store, None, Vec::new())
    }

    /// Starts the writer thread for `store`, calling `after_commit` after each commit and
    /// `committed` with the updates that came with the batches written.
    pub(crate) fn spawn_with(
        store: Arc<dyn Store>,
        after_commit: Option<AfterCommit>,
        committed: Vec<Callback>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let last_committed = Arc::new(AtomicU64::new(0));
        let told = Arc::clone(&last_committed);
        let thread = std::thread::Builder::new()
            .name("cclive-store-writer".into())
            .spawn(move || write_loop(&*store, &rx, after_commit.as_deref(), &committed, &told))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            sent: 0,
            committed: last_committed,
        })
    }

    /// Queues a batch; returns its number.
    #[cfg(test)]
    pub(crate) fn send(&mut self, batch: Batch) -> u64 {
        self.send_with(batch, Vec::new())
    }

    /// Queues a batch, and updates for the committed callbacks to hear of once it is written.
    /// Returns the batch's number ([`StoreWriter::committed`]; an empty hand-off's is the last
    /// one's).
    pub(crate) fn send_with(&mut self, batch: Batch, updates: Vec<Update>) -> u64 {
        if batch.is_empty() && updates.is_empty() {
            return self.sent;
        }
        if let Some(tx) = &self.tx {
            self.sent += 1;
            // The thread only stops when we drop the sender, so a send cannot fail before then.
            let _ = tx.send((batch, updates, self.sent));
        }
        self.sent
    }

    /// The number of the last batch committed: it and every batch before it are in the store.
    pub(crate) fn committed(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// Commits everything queued and stops the thread.
    pub(crate) fn finish(mut self) -> WriterReport {
        self.tx.take();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

/// Events kept for a retry after failed writes; beyond this the oldest are dropped (and counted)
/// so a database that stays broken cannot eat the machine's memory.
const MAX_RETAINED_EVENTS: usize = 100_000;

fn write_loop(
    store: &dyn Store,
    rx: &mpsc::Receiver<Queued>,
    after_commit: Option<&(dyn Fn() + Send + Sync)>,
    committed: &[Callback],
    committed_up_to: &AtomicU64,
) -> WriterReport {
    let mut report = WriterReport::default();
    // What a failed transaction did not write is kept and tried again with the next batch.
    let mut sessions: BTreeMap<SessionId, SessionState> = BTreeMap::new();
    let mut pending = Batch::default();
    let mut updates = Vec::new();
    let mut received = 0;
    while let Ok(first) = rx.recv() {
        for (batch, batch_updates, number) in std::iter::once(first).chain(rx.try_iter()) {
            received = number;
            updates.extend(batch_updates);
            for s in batch.sessions {
                queue_session(&mut sessions, s);
            }
            pending.events.extend(batch.events);
            pending.usage.extend(batch.usage);
            pending.checkpoints.extend(batch.checkpoints);
            pending.retired_usage.extend(batch.retired_usage);
        }
        // Moved, not copied: a copy of a session notes nothing of its ledger's changes, so
        // its ledger would be written whole (`SessionState::hand_over`).
        pending.sessions = std::mem::take(&mut sessions).into_values().collect();
        let written = if pending.is_empty() {
            Ok(())
        } else {
            store.write(&pending)
        };
        // The committed callbacks hear of the updates now: after the commit of what they
        // changed, or after a failed attempt (an integration is never held back by a broken
        // database; a restart then may fire it again).
        let heard = std::mem::take(&mut updates);
        let notify = || {
            for update in heard.iter().filter(|u| first_notice(store, u)) {
                for callback in committed {
                    callback(update);
                }
            }
        };
        let wrote = !pending.is_empty();
        match written {
            Ok(()) => {
                report.unsaved = false;
                pending = Batch::default();
                // Every batch received is in (a failed attempt's content went into this one).
                committed_up_to.store(received, Ordering::Release);
                // A hand-off of updates alone (a tick's) stored nothing: no commit to tell of.
                if wrote {
                    report.commits += 1;
                    if let Some(after_commit) = after_commit {
                        after_commit();
                    }
                }
                notify();
            }
            Err(err) => {
                notify();
                report.failures += 1;
                report.unsaved = true;
                tracing::error!(
                    sessions = pending.sessions.len(),
                    events = pending.events.len(),
                    "Cannot write to the history database (will retry with the next batch): {err}"
                );
                // A failure that retrying cannot cure drops what caused it, so the rest of the
                // queue is not held hostage.
                match &err {
                    StoreError::UnknownSession { session_id } => {
                        let before = pending.events.len();
                        pending.events.retain(|e| &e.session_id != session_id);
                        report.dropped_events += (before - pending.events.len()) as u64;
                    }
                    StoreError::NonUtf8Path { path } => {
                        pending.checkpoints.retain(|c| &c.path != path);
                    }
                    StoreError::Encode { .. } => {
                        report.dropped_events += pending.events.len() as u64;
                        pending = Batch::default();
                    }
                    _ => {}
                }
                // Kept for the next attempt, where a newer copy takes them in.
                for s in std::mem::take(&mut pending.sessions) {
                    queue_session(&mut sessions, s);
                }
                if pending.events.len() > MAX_RETAINED_EVENTS {
                    let excess = pending.events.len() - MAX_RETAINED_EVENTS;
                    pending.events.drain(..excess);
                    report.dropped_events += excess as u64;
                    // Those events' bytes must be read again: no checkpoint may pass them.
                    pending.checkpoints.clear();
                }
                merge_usage(&mut pending.usage);
            }
        }
    }
    report
}

/// Queues the latest copy of a session; a newer copy takes in what an older one queued noted
/// of its ledger (`SessionState::take_in`), so it is still written as a delta.
fn queue_session(sessions: &mut BTreeMap<SessionId, SessionState>, session: SessionState) {
    match sessions.entry(session.session_id.clone()) {
        Entry::Vacant(slot) => {
            slot.insert(session);
        }
        Entry::Occupied(mut slot) => {
            let earlier = std::mem::replace(slot.get_mut(), session);
            slot.get_mut().take_in(earlier);
        }
    }
}

/// True unless the update announces a session's start or end that was announced already (by
/// another process writing the same session, or by this monitor before a restart): those go out
/// once. A store that cannot be asked lets it go out (never lost for a broken database).
fn first_notice(store: &dyn Store, update: &Update) -> bool {
    let notice = match update.kind {
        UpdateKind::Started => "session_started",
        UpdateKind::Ended => "session_ended",
        _ => return true,
    };
    store
        .claim_notice(&update.session.session_id, notice)
        .unwrap_or(true)
}

/// Merges retained usage rows by key with the store's own rule ([`cclive_core::usage_merge`]:
/// field-wise maximum, earliest owner, a main-chain report wins), so a long outage keeps one
/// row per response.
fn merge_usage(rows: &mut Vec<cclive_store::UsageRow>) {
    let mut merged: BTreeMap<String, cclive_store::UsageRow> = BTreeMap::new();
    for row in rows.drain(..) {
        match merged.get_mut(&row.key) {
            None => {
                merged.insert(row.key.clone(), row);
            }
            Some(kept) => {
                let changed = (usage_merge::Kept {
                    tokens: &mut kept.tokens,
                    model: &mut kept.model,
                    sidechain: &mut kept.sidechain,
                    first_at: &mut kept.at,
                })
                .merge(&usage_merge::Report {
                    tokens: &row.tokens,
                    model: row.model.as_deref(),
                    sidechain: row.sidechain,
                    at: row.at,
                });
                if changed.earlier {
                    kept.session_id = row.session_id;
                }
            }
        }
    }
    rows.extend(merged.into_values());
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use cclive_core::{Event, EventKind, PriceTable, Tokens};
    use cclive_store::{Checkpoint, SessionQuery, SqliteStore, StoreError, UsageRow};

    use super::*;

    /// A real SQLite store whose first `fail` transactions fail, like a locked or full disk.
    /// Every write attempt is announced on `attempts`.
    struct Flaky {
        inner: SqliteStore,
        fail: AtomicU32,
        attempts: mpsc::Sender<()>,
    }

    impl Flaky {
        fn new(fail: u32) -> (Arc<Self>, mpsc::Receiver<()>) {
            let (attempts, attempted) = mpsc::channel();
            let store = Arc::new(Self {
                inner: SqliteStore::open_in_memory().unwrap(),
                fail: AtomicU32::new(fail),
                attempts,
            });
            (store, attempted)
        }
    }

    /// Waits until the writer has tried one more transaction (a generous deadline).
    fn one_attempt(attempted: &mpsc::Receiver<()>) {
        attempted
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the writer tries the batch");
    }

    impl Store for Flaky {
        fn write(&self, batch: &Batch) -> Result<(), StoreError> {
            let _ = self.attempts.send(());
            if self.fail.load(Ordering::SeqCst) > 0 {
                self.fail.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError::Corrupt {
                    what: "test".into(),
                    detail: "disk on fire".into(),
                });
            }
            self.inner.write(batch)
        }
        fn session(&self, id: &SessionId) -> Result<Option<SessionState>, StoreError> {
            self.inner.session(id)
        }
        fn sessions(&self, q: &SessionQuery) -> Result<Vec<SessionState>, StoreError> {
            self.inner.sessions(q)
        }
        fn events(&self, id: &SessionId) -> Result<Vec<Event>, StoreError> {
            self.inner.events(id)
        }
        fn usage_totals(&self, id: &SessionId) -> Result<(Tokens, u64), StoreError> {
            self.inner.usage_totals(id)
        }
        fn usage_owner(&self, key: &str) -> Result<Option<SessionId>, StoreError> {
            self.inner.usage_owner(key)
        }
        fn usage_rows(
            &self,
            since: Option<jiff::Timestamp>,
            until: Option<jiff::Timestamp>,
        ) -> Result<Vec<UsageRow>, StoreError> {
            self.inner.usage_rows(since, until)
        }
        fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
            self.inner.checkpoints()
        }
        fn checkpoint(&self, path: &std::path::Path) -> Result<Option<Checkpoint>, StoreError> {
            self.inner.checkpoint(path)
        }
    }

    #[test]
    fn a_failed_batch_is_retried_with_the_next_one() {
        let (store, attempted) = Flaky::new(1);
        let mut writer = StoreWriter::spawn(store.clone()).unwrap();
        let id = SessionId::new("s");
        let mut state = SessionState::new(id.clone(), jiff::Timestamp::now());
        for i in 0..3 {
            let event = Event::new(
                id.clone(),
                jiff::Timestamp::now(),
                EventKind::ToolUse {
                    tool_use_id: format!("t{i}"),
                    name: "Bash".into(),
                    sidechain: false,
                },
            );
            state.apply(&event, &PriceTable::builtin());
            let checkpoint = Checkpoint {
                path: "/t.jsonl".into(),
                dev: 1,
                inode: 2,
                offset: i * 10,
                fingerprint: Some(7),
                length: None,
            };
            writer.send(Batch {
                sessions: vec![state.clone()],
                events: vec![event],
                checkpoints: vec![checkpoint],
                ..Batch::default()
            });
            one_attempt(&attempted); // each batch its own transaction
        }
        let report = writer.finish();
        assert_eq!(report.failures, 1);
        assert!(!report.unsaved);
        assert_eq!(store.events(&id).unwrap().len(), 3, "nothing lost");
        assert_eq!(
            store.session(&id).unwrap().unwrap().tool_calls.get("Bash"),
            Some(&3)
        );
        assert_eq!(
            store
                .checkpoint(std::path::Path::new("/t.jsonl"))
                .unwrap()
                .unwrap()
                .offset,
            20
        );
    }

    #[test]
    fn a_copy_that_could_not_be_written_goes_with_the_next_and_numbers_say_what_is_in() {
        let (store, attempted) = Flaky::new(0);
        let mut writer = StoreWriter::spawn(store.clone()).unwrap();
        let id = SessionId::new("s");
        let mut state = SessionState::new(id.clone(), jiff::Timestamp::now());
        let respond = |state: &mut SessionState, n: u64| {
            let usage = EventKind::Usage {
                key: format!("msg_{n}"),
                request_id: None,
                reported_cost_usd: None,
                model: Some("claude-sonnet-4-5".into()),
                tokens: Tokens {
                    output: n,
                    ..Tokens::default()
                },
                is_final: true,
                sidechain: false,
            };
            state.apply(
                &Event::new(id.clone(), jiff::Timestamp::now(), usage),
                &PriceTable::builtin(),
            );
        };
        let hand_over = |writer: &mut StoreWriter, state: &mut SessionState| {
            let number = writer.send(Batch {
                sessions: vec![state.hand_over()],
                ..Batch::default()
            });
            one_attempt(&attempted);
            number
        };
        for n in 0..20 {
            respond(&mut state, n);
        }
        let first = hand_over(&mut writer, &mut state);
        // Committed (the attempt is told of before it is made): the next one fails.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while writer.committed() != first {
            assert!(
                std::time::Instant::now() < deadline,
                "the first never committed"
            );
            std::thread::yield_now();
        }
        respond(&mut state, 20);
        store.fail.store(1, Ordering::SeqCst);
        let failed = hand_over(&mut writer, &mut state);
        assert_eq!(writer.committed(), first, "the second is not in");
        respond(&mut state, 21);
        let last = hand_over(&mut writer, &mut state);
        assert!(first < failed && failed < last);
        let committed = Arc::clone(&writer.committed);
        writer.finish();
        assert_eq!(committed.load(Ordering::SeqCst), last, "both are in now");
        // Both copies' changes: the failed one's (msg_20) came with the last one.
        assert_eq!(store.session(&id).unwrap(), Some(state));
    }

    #[test]
    fn an_event_that_can_never_be_stored_does_not_hold_the_queue_hostage() {
        let (store, attempted) = Flaky::new(0);
        let mut writer = StoreWriter::spawn(store.clone()).unwrap();
        let ghost = Event::new(
            SessionId::new("ghost"),
            jiff::Timestamp::now(),
            EventKind::Other,
        );
        writer.send(Batch {
            events: vec![ghost],
            ..Batch::default()
        });
        one_attempt(&attempted);
        let id = SessionId::new("real");
        let state = SessionState::new(id.clone(), jiff::Timestamp::now());
        writer.send(Batch {
            sessions: vec![state],
            ..Batch::default()
        });
        let report = writer.finish();
        assert_eq!(report.dropped_events, 1);
        assert!(!report.unsaved);
        assert!(store.session(&id).unwrap().is_some());
    }

    /// One random report of one of a few responses, by one of a few sessions.
    fn report() -> impl proptest::strategy::Strategy<Value = UsageRow> {
        use proptest::prelude::*;
        (
            0..3_u8,
            0..3_u8,
            0..20_i64,
            prop::option::of(prop::sample::select(vec!["opus", "sonnet"])),
            [0..5_u64, 0..5_u64, 0..5_u64, 0..5_u64],
            any::<bool>(),
        )
            .prop_map(
                |(key, session, ms, model, [i, o, r, c], sidechain)| UsageRow {
                    key: format!("msg_{key}"),
                    session_id: SessionId::new(format!("s{session}")),
                    at: jiff::Timestamp::from_millisecond(1_700_000_000_000 + ms)
                        .expect("a valid time"),
                    model: model.map(str::to_owned),
                    tokens: Tokens {
                        input: i,
                        output: o,
                        cache_read: r,
                        cache_creation: c,
                        ..Tokens::default()
                    },
                    sidechain,
                },
            )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The SQLite upsert and the Rust rule (`usage_merge`, as the writer applies it) agree
        /// on any sequence of reports, however the sequence is cut into batches.
        #[test]
        fn the_sql_upsert_and_the_rust_rule_merge_reports_alike(
            reports in proptest::collection::vec(report(), 1..24),
            cut in 1..5_usize,
        ) {
            let store = SqliteStore::open_in_memory().expect("an in-memory store");
            let sessions = (0..3)
                .map(|n| {
                    SessionState::new(SessionId::new(format!("s{n}")), jiff::Timestamp::UNIX_EPOCH)
                })
                .collect();
            store
                .write(&Batch {
                    sessions,
                    ..Batch::default()
                })
                .expect("sessions stored");
            for chunk in reports.chunks(cut) {
                store
                    .write(&Batch {
                        usage: chunk.to_vec(),
                        ..Batch::default()
                    })
                    .expect("usage stored");
            }
            let mut stored = store.usage_rows(None, None).expect("usage read back");
            stored.sort_by(|a, b| a.key.cmp(&b.key));
            let mut merged = reports;
            merge_usage(&mut merged);
            proptest::prop_assert_eq!(stored, merged);
        }
    }
}
