//! The monitor service: events in, session state folded, sinks fed.
//!
//! One task owns the [`Monitor`]. Sources send [`Event`]s through an [`EventSink`]; for each one
//! the task applies it, queues it and the session's new state for the store writer, calls the
//! registered callbacks with the [`Update`], and owes the state file a rewrite (throttled). A
//! one-second tick keeps live durations moving. When every sink handle is dropped the task
//! drains, writes the final state everywhere and returns what it saw.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cclive_core::{Event, Monitor, PriceTable, SessionState, Snapshot, Update};
use cclive_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::state_file::StateFileWriter;
use crate::writer::StoreWriter;

/// A function called with every update, in order, on the monitor task. Keep it quick; spawn
/// work elsewhere if it may block.
pub type Callback = Arc<dyn Fn(&Update) + Send + Sync>;

/// What the monitor service needs.
#[derive(Clone)]
pub struct PipelineConfig {
    /// Where to write the state file, if anywhere.
    pub state_file: Option<PathBuf>,
    /// The history store, if any.
    pub store: Option<Arc<dyn Store>>,
    /// Prices for estimates.
    pub prices: PriceTable,
    /// Called with every update.
    pub callbacks: Vec<Callback>,
    /// Minimum time between two state-file writes.
    pub state_file_interval: Duration,
    /// How often live durations move.
    pub tick: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            state_file: None,
            store: None,
            prices: PriceTable::builtin(),
            callbacks: Vec::new(),
            state_file_interval: Duration::from_millis(50),
            tick: Duration::from_secs(1),
        }
    }
}

/// Where sources send events. Cheap to clone; the service stops when every clone is dropped.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: mpsc::Sender<Event>,
}

impl EventSink {
    /// Sends one event. Returns false when the monitor is gone.
    pub async fn send(&self, event: Event) -> bool {
        self.tx.send(event).await.is_ok()
    }
}

/// What the service saw, returned when it stops.
#[derive(Debug, Clone)]
pub struct PipelineReport {
    /// Every session's final state.
    pub sessions: Vec<SessionState>,
    /// Failed history writes.
    pub store_failures: u64,
}

/// Starts the monitor service on the current tokio runtime.
pub fn spawn(config: PipelineConfig) -> std::io::Result<(EventSink, JoinHandle<PipelineReport>)> {
    let (tx, rx) = mpsc::channel(4096);
    let writer = config.store.clone().map(StoreWriter::spawn).transpose()?;
    let handle = tokio::spawn(run(rx, config, writer));
    Ok((EventSink { tx }, handle))
}

async fn run(
    mut rx: mpsc::Receiver<Event>,
    config: PipelineConfig,
    writer: Option<StoreWriter>,
) -> PipelineReport {
    let mut monitor = Monitor::new(config.prices.clone());
    let mut state_file = config
        .state_file
        .clone()
        .map(|p| StateFileWriter::new(p, config.state_file_interval));
    let pid = std::process::id();
    let snapshot = |m: &Monitor| -> Snapshot {
        let mut s = m.snapshot(jiff::Timestamp::now());
        s.monitor_pid = Some(pid);
        s
    };
    let mut tick = tokio::time::interval(config.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        let due = state_file.as_ref().and_then(StateFileWriter::due_at);
        tokio::select! {
            biased;
            received = rx.recv() => {
                let Some(first) = received else { break };
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                for event in batch {
                    let update = monitor.apply(&event);
                    if let Some(w) = &writer {
                        w.send(update.as_ref().map(|u| u.session.clone()), vec![event]);
                    }
                    if let Some(update) = update {
                        for callback in &config.callbacks {
                            callback(&update);
                        }
                        if let Some(sf) = &mut state_file {
                            sf.mark_dirty();
                        }
                    }
                }
            }
            () = sleep_until_opt(due) => {}
            _ = tick.tick() => {
                for update in monitor.tick(jiff::Timestamp::now()) {
                    for callback in &config.callbacks {
                        callback(&update);
                    }
                    if let Some(sf) = &mut state_file {
                        sf.mark_dirty();
                    }
                }
            }
        }
        if let Some(sf) = &mut state_file {
            sf.write_if_due(|| snapshot(&monitor));
        }
    }

    // The sources are done: store the final states, then write the final snapshot.
    let sessions: Vec<SessionState> = monitor.sessions().cloned().collect();
    let mut store_failures = 0;
    if let Some(w) = writer {
        for s in &sessions {
            w.send(Some(s.clone()), Vec::new());
        }
        store_failures = tokio::task::spawn_blocking(move || w.finish())
            .await
            .map_or(1, |r| r.failures);
    }
    if let Some(sf) = &mut state_file {
        sf.write_now(&snapshot(&monitor));
    }
    PipelineReport {
        sessions,
        store_failures,
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
