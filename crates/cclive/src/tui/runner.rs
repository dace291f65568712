//! The monitor in this process, for `cclive top` when no monitor answers: what `cclive watch`
//! does, minus the HTTP server (the listen address stays free for a `cclive watch` started
//! later, and nothing is exposed).
//!
//! On its own thread with its own tokio runtime: it catches up on the history (`import`), then
//! folds transcripts ([`follow`]), the liveness probe and budget checks through the pipeline into
//! the store and the state file, exactly as the monitor does. Every update and snapshot is also
//! sent to the screen as a [`Msg`]; budget alerts become notices instead of stderr lines (the
//! terminal belongs to the dashboard). [`OwnMonitor::stop`] cancels the sources and waits for
//! the pipeline to write the final state.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use anyhow::Context as _;
use cclive_core::budget::BudgetAlert;
use cclive_core::{PriceTable, Snapshot, Update};
use cclive_store::{SessionQuery, SqliteStore, Store};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::app::{Msg, Source};
use crate::budget_watch::{self, AlertSink};
use crate::config::Settings;
use crate::ingest::follow;
use crate::ingest::import::{self, ImportOptions};
use crate::ingest::liveness::probe_loop;
use crate::pipeline::{self, Callback, PipelineConfig};

/// Longest wait for the final state to be written on quit.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The running in-process monitor.
pub(crate) struct OwnMonitor {
    cancel: CancellationToken,
    done: std::sync::mpsc::Receiver<()>,
}

impl OwnMonitor {
    /// Starts it; figures go to `tx`.
    pub(crate) fn start(
        settings: &Settings,
        store: Arc<SqliteStore>,
        prices: PriceTable,
        tx: Sender<Msg>,
    ) -> anyhow::Result<OwnMonitor> {
        let cancel = CancellationToken::new();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cclive-top-monitor")
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let (done_tx, done) = std::sync::mpsc::channel();
        let settings = settings.clone();
        let token = cancel.clone();
        std::thread::Builder::new()
            .name("cclive-top-monitor".into())
            .spawn(move || {
                if let Err(e) =
                    runtime.block_on(monitor(settings, store, prices, tx.clone(), token))
                {
                    tracing::error!("The monitor stopped: {e:#}");
                    let _ = tx.send(Msg::Notice(format!("monitor stopped: {e:#}")));
                }
                let _ = done_tx.send(());
            })
            .context("starting the monitor thread")?;
        Ok(OwnMonitor { cancel, done })
    }

    /// Stops the sources and waits (a few seconds at most) for the final state to be written.
    pub(crate) fn stop(self) {
        self.cancel.cancel();
        let _ = self.done.recv_timeout(STOP_WAIT);
    }
}

async fn monitor(
    settings: Settings,
    store: Arc<SqliteStore>,
    prices: PriceTable,
    tx: Sender<Msg>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let dirs = settings.claude_config_dirs.value.clone();
    let _ = tx.send(Msg::Source(Source::Own { catching_up: true }));
    {
        let (dirs, store, prices) = (dirs.clone(), store.clone(), prices.clone());
        let db = settings.db.value.clone();
        tokio::task::spawn_blocking(move || {
            let options = ImportOptions {
                drain_hook_spool: Some(db),
                ..ImportOptions::default()
            };
            import::import(&dirs, &*store, &prices, &options)
        })
        .await??;
    }
    let _ = tx.send(Msg::Source(Source::Own { catching_up: false }));

    let mut initial = Vec::new();
    for s in store.sessions(&SessionQuery {
        live_only: true,
        ..SessionQuery::default()
    })? {
        if let Some(full) = store.session(&s.session_id)? {
            initial.push(full);
        }
    }
    let (snap_tx, mut snap_rx) = watch::channel(Snapshot::inactive(jiff::Timestamp::now()));
    let publish: Callback = {
        let tx = tx.clone();
        Arc::new(move |update: &Update| {
            let _ = tx.send(Msg::Update(Box::new(update.clone())));
        })
    };
    let notice: AlertSink = {
        let tx = tx.clone();
        Arc::new(move |alert: &BudgetAlert| {
            tracing::warn!(
                threshold = alert.threshold_percent,
                period = alert.period.as_str(),
                "Budget alert."
            );
            let _ = tx.send(Msg::Notice(format!("budget: {}", alert.message())));
        })
    };
    let alerts = budget_watch::callbacks_with(
        &settings,
        store.clone() as Arc<dyn Store>,
        &prices,
        vec![notice],
    )?;
    let (sink, pipeline_task) = pipeline::spawn(PipelineConfig {
        state_file: Some(settings.state_file.value.clone()),
        store: Some(store.clone() as Arc<dyn Store>),
        prices,
        callbacks: [vec![publish], alerts].concat(),
        snapshots: Some(snap_tx),
        initial_sessions: initial,
        ..PipelineConfig::default()
    })?;

    let tasks = TaskTracker::new();
    let poke = Arc::new(Notify::new());
    tasks.spawn({
        let (dirs, store, sink, poke, cancel) = (
            dirs.clone(),
            store.clone() as Arc<dyn Store>,
            sink.clone(),
            poke.clone(),
            cancel.clone(),
        );
        async move {
            if let Err(e) = follow::follow(dirs, store, sink, poke, cancel).await {
                tracing::error!("Following transcripts stopped: {e:#}");
            }
        }
    });
    tasks.spawn(probe_loop(dirs, sink.clone(), poke, cancel.clone()));
    tasks.spawn({
        let cancel = cancel.clone();
        async move {
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    changed = snap_rx.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let snapshot = snap_rx.borrow_and_update().clone();
                        if tx.send(Msg::Snapshot(Box::new(snapshot))).is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    tasks.close();
    drop(sink);
    cancel.cancelled().await;
    tasks.wait().await;
    let report = pipeline_task.await.context("the monitor task failed")?;
    if report.unsaved {
        tracing::warn!("The last changes could not be written to the history.");
    }
    Ok(())
}
