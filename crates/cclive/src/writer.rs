//! The one writer of the history store: a thread that takes batches and commits them.
//!
//! SQLite is synchronous and a write can wait on another process's lock, so writes happen off the
//! async runtime, on one thread. Everything queued while a transaction runs is coalesced into the
//! next one (latest state per session, every event in order). A failed write is logged, counted
//! and retried with the next batch; monitoring goes on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use cclive_core::{Event, SessionId, SessionState};
use cclive_store::Store;

enum Job {
    Write {
        session: Option<SessionState>,
        events: Vec<Event>,
    },
}

/// Handle to the writer thread.
pub(crate) struct StoreWriter {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<WriterReport>>,
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
}

impl StoreWriter {
    /// Starts the writer thread for `store`.
    pub(crate) fn spawn(store: Arc<dyn Store>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("cclive-store-writer".into())
            .spawn(move || write_loop(&*store, &rx))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues the session's latest state and the events that led to it.
    pub(crate) fn send(&self, session: Option<SessionState>, events: Vec<Event>) {
        if let Some(tx) = &self.tx {
            // The thread only stops when we drop the sender, so a send cannot fail before then.
            let _ = tx.send(Job::Write { session, events });
        }
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

fn write_loop(store: &dyn Store, rx: &mpsc::Receiver<Job>) -> WriterReport {
    let mut report = WriterReport::default();
    // What a failed transaction did not write is kept and tried again with the next batch: the
    // latest state of each session and every event, in order.
    let mut sessions: BTreeMap<SessionId, SessionState> = BTreeMap::new();
    let mut events: Vec<Event> = Vec::new();
    while let Ok(first) = rx.recv() {
        for job in std::iter::once(first).chain(rx.try_iter()) {
            let Job::Write {
                session,
                events: batch,
            } = job;
            if let Some(s) = session {
                sessions.insert(s.session_id.clone(), s);
            }
            events.extend(batch);
        }
        let states: Vec<SessionState> = sessions.values().cloned().collect();
        match store.write_batch(&states, &events) {
            Ok(()) => {
                report.commits += 1;
                sessions.clear();
                events.clear();
            }
            Err(err) => {
                report.failures += 1;
                tracing::error!(
                    sessions = states.len(),
                    events = events.len(),
                    "Cannot write to the history database (will retry with the next batch): {err}"
                );
                if events.len() > MAX_RETAINED_EVENTS {
                    let excess = events.len() - MAX_RETAINED_EVENTS;
                    events.drain(..excess);
                    report.dropped_events += excess as u64;
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use cclive_core::{EventKind, PriceTable};
    use cclive_store::{SessionQuery, SqliteStore, StoreError};

    use super::*;

    /// A real SQLite store whose first `fail` transactions fail, like a locked or full disk.
    struct Flaky {
        inner: SqliteStore,
        fail: AtomicU32,
    }

    impl Store for Flaky {
        fn write_batch(
            &self,
            sessions: &[SessionState],
            events: &[Event],
        ) -> Result<(), StoreError> {
            if self.fail.load(Ordering::SeqCst) > 0 {
                self.fail.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError::Corrupt {
                    what: "test".into(),
                    detail: "disk on fire".into(),
                });
            }
            self.inner.write_batch(sessions, events)
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
    }

    #[test]
    fn a_failed_batch_is_retried_with_the_next_one() {
        let store = Arc::new(Flaky {
            inner: SqliteStore::open_in_memory().unwrap(),
            fail: AtomicU32::new(1),
        });
        let writer = StoreWriter::spawn(store.clone()).unwrap();
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
            writer.send(Some(state.clone()), vec![event]);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let report = writer.finish();
        assert_eq!(report.failures, 1);
        assert_eq!(store.events(&id).unwrap().len(), 3, "nothing lost");
        assert_eq!(
            store.session(&id).unwrap().unwrap().tool_calls.get("Bash"),
            Some(&3)
        );
    }
}
