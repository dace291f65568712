//! The one writer of the history store: a thread that takes batches and commits them.
//!
//! SQLite is synchronous and a write can wait on another process's lock, so writes happen off the
//! async runtime, on one thread. Everything queued while a transaction runs is coalesced into the
//! next one (latest state per session, every event in order). A failed write is logged and
//! counted; monitoring goes on.

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

fn write_loop(store: &dyn Store, rx: &mpsc::Receiver<Job>) -> WriterReport {
    let mut report = WriterReport::default();
    while let Ok(first) = rx.recv() {
        let mut sessions: BTreeMap<SessionId, SessionState> = BTreeMap::new();
        let mut events = Vec::new();
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
        let sessions: Vec<SessionState> = sessions.into_values().collect();
        match store.write_batch(&sessions, &events) {
            Ok(()) => report.commits += 1,
            Err(err) => {
                report.failures += 1;
                tracing::error!(
                    sessions = sessions.len(),
                    events = events.len(),
                    "Cannot write to the history database: {err}"
                );
            }
        }
    }
    report
}
