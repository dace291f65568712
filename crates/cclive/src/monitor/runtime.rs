//! The one monitor runtime: `cclive watch`, `cclive dashboard` and `cclive top`'s own monitor
//! are configurations of it.
//!
//! [`MonitorRuntime::run`] owns the whole life of a monitor, in this order:
//! 0. the services start (the HTTP server of `watch` and `dashboard`), so a page answers at
//!    once, with the store as it is and the catch-up's progress ([`Context::import`]); what
//!    they send the monitor waits, in order, until step 3 and is applied after the catch-up;
//! 1. catch-up: the history is imported (`ingest::import`) off the async threads;
//! 2. read-back: the live sessions in the store become the pipeline's first sessions, so a
//!    restart continues them;
//! 3. the sinks start: the store writer and the state file (inside the pipeline), the notifier
//!    (`[[webhook]]`, `[[on_change]]`), the budget watch, every callback and [`Sink`] added;
//! 4. the sources start: the transcript follower (counting into [`IngestCounters`]) and the
//!    liveness probe, from where the catch-up stopped;
//! 5. shutdown when the future given to `run` completes: the [`CancellationToken`] stops every
//!    task, the [`TaskTracker`] awaits them (each is named in the logs), the pipeline drains and
//!    writes the final state, then the budget watch's last check, the notifier's queued
//!    deliveries and each sink's `finish` run, in that order (a sink may still be told of the
//!    final state).
//!
//! # Adding a sink
//! A new destination for what the monitor sees (a team upstream, a calendar) is one call:
//! implement [`Sink`] and add it with [`MonitorRuntime::with_sink`]. Its [`Sink::callbacks`]
//! get every [`Update`](cclive_core::Update) on the monitor task (quick; enqueue, never block), its [`Sink::task`]
//! runs beside the sources until cancelled (e.g. an uploader loop reading the store), and its
//! [`Sink::finish`] runs once the pipeline has drained. A plain callback is
//! [`MonitorRuntime::with_callback`].
//!
//! This module must never print or parse arguments: the command that configures it does.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use cclive_core::{PriceTable, SessionState, Snapshot};
use cclive_server::{ImportProgress, IngestCounters};
use cclive_store::{SessionQuery, SqliteStore, Store};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::ingest::follow;
use crate::ingest::import::{self, ImportOptions, ImportReport};
use crate::ingest::liveness::probe_loop;
use crate::monitor::pipeline::{self, Callback, EventSink, PipelineConfig, PipelineReport};
use crate::sinks::budget_watch::{self, AlertSink};
use crate::sinks::notify::{EventName, Notifier};

/// How long queued webhooks and `[[on_change]]` commands may still deliver at shutdown.
const NOTIFY_GRACE: Duration = Duration::from_secs(5);

/// A boxed task future.
pub(crate) type Task = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// What a service or a sink's task gets from the running monitor.
#[derive(Clone)]
pub(crate) struct Context {
    /// Where events go (e.g. the HTTP intake forwards into it).
    pub(crate) events: EventSink,
    /// Every new snapshot, at the state file's pace.
    pub(crate) snapshots: watch::Receiver<Snapshot>,
    /// The history store.
    pub(crate) store: Arc<dyn Store>,
    /// What the transcript follower read (`/metrics`).
    pub(crate) ingest: IngestCounters,
    /// Cancelled when the monitor stops; every task returns soon after.
    pub(crate) cancel: CancellationToken,
    /// The notifier's figures (`/api/integrations`).
    pub(crate) notify_stats: crate::sinks::notify::NotifyStats,
    /// The catch-up import's progress (`/api/import`): services start before it ends.
    pub(crate) import: ImportProgress,
}

/// A destination for what the monitor sees. See the module comment.
pub(crate) trait Sink: Send + 'static {
    /// Its name in logs.
    fn name(&self) -> &'static str;
    /// Called with every update on the monitor task: quick, never blocking.
    fn callbacks(&mut self) -> Vec<Callback> {
        Vec::new()
    }
    /// A task to run beside the sources until `ctx.cancel`.
    fn task(&mut self, _ctx: &Context) -> Option<Task> {
        None
    }
    /// Called on the store's writer thread after each commit (e.g. to wake an uploader that
    /// reads what was just stored): must return at once.
    fn after_commit(&mut self) -> Option<Arc<dyn Fn() + Send + Sync>> {
        None
    }
    /// Called (on a blocking thread) after the pipeline drained and wrote the final state.
    fn finish(self: Box<Self>) {}
}

/// Called once the catch-up import is done.
type CaughtUp = Box<dyn FnOnce(&ImportReport) + Send>;

/// A service started before the catch-up (e.g. the HTTP server), given the monitor.
type Service = Box<dyn FnOnce(&Context) -> Task + Send>;

/// The builder and runner of one monitor.
pub(crate) struct MonitorRuntime {
    settings: Settings,
    store: Arc<SqliteStore>,
    prices: PriceTable,
    import_progress: bool,
    caught_up: Option<CaughtUp>,
    callbacks: Vec<Callback>,
    budget_alerts: Vec<AlertSink>,
    sinks: Vec<Box<dyn Sink>>,
    services: Vec<(&'static str, Service)>,
    ingest: IngestCounters,
    catch_up: ImportProgress,
}

/// What a finished monitor reports.
#[derive(Debug)]
pub(crate) struct RunReport {
    /// The pipeline's report (final states, failed writes).
    pub(crate) pipeline: PipelineReport,
}

impl MonitorRuntime {
    /// A monitor of `settings`' Claude config dirs, writing to `store` and the state file, with
    /// the notifier and the budget watch of `settings`.
    pub(crate) fn new(settings: &Settings, store: Arc<SqliteStore>, prices: PriceTable) -> Self {
        Self {
            settings: settings.clone(),
            store,
            prices,
            import_progress: false,
            caught_up: None,
            callbacks: Vec::new(),
            budget_alerts: Vec::new(),
            sinks: Vec::new(),
            services: Vec::new(),
            ingest: IngestCounters::default(),
            catch_up: ImportProgress::running(),
        }
    }

    /// Shows the catch-up import's progress bar (on a terminal's stderr).
    pub(crate) fn import_progress(mut self, on: bool) -> Self {
        self.import_progress = on;
        self
    }

    /// Called once the catch-up import is done, before the sources start.
    pub(crate) fn on_caught_up(mut self, f: impl FnOnce(&ImportReport) + Send + 'static) -> Self {
        self.caught_up = Some(Box::new(f));
        self
    }

    /// Calls `f` with every update, on the monitor task (quick, never blocking).
    pub(crate) fn with_callback(mut self, f: Callback) -> Self {
        self.callbacks.push(f);
        self
    }

    /// Also tells `sink` of each new budget alert (the notifier always hears of them).
    pub(crate) fn with_budget_alerts(mut self, sink: AlertSink) -> Self {
        self.budget_alerts.push(sink);
        self
    }

    /// Adds a destination; see the module comment.
    pub(crate) fn with_sink(mut self, sink: impl Sink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Runs `service` from before the catch-up until the monitor stops. What it sends
    /// `ctx.events` is applied after the catch-up, in order.
    pub(crate) fn with_service(
        mut self,
        name: &'static str,
        service: impl FnOnce(&Context) -> Task + Send + 'static,
    ) -> Self {
        self.services.push((name, Box::new(service)));
        self
    }

    /// The transcript follower's figures (lines, bytes, malformed lines read): shared, they
    /// keep counting while the monitor runs.
    pub(crate) fn ingest_counters(&self) -> IngestCounters {
        self.ingest.clone()
    }

    /// Runs the monitor until `shutdown` completes, then drains it. Needs a multi-threaded
    /// tokio runtime (the budget watch's first read blocks in place).
    pub(crate) async fn run(
        mut self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<RunReport> {
        let dirs = self.settings.claude_config_dirs.value.clone();
        let store_dyn = self.store.clone() as Arc<dyn Store>;

        // 0. Services, before the catch-up; the pipeline takes what they send once it starts.
        let notifier = Notifier::from_settings(&self.settings)?;
        let (snap_tx, snap_rx) = watch::channel(Snapshot::inactive(jiff::Timestamp::now()));
        let (events, inputs) = pipeline::channel();
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let ctx = Context {
            events,
            snapshots: snap_rx,
            store: store_dyn.clone(),
            ingest: self.ingest.clone(),
            cancel: cancel.clone(),
            notify_stats: notifier.stats(),
            import: self.catch_up.clone(),
        };
        for (name, service) in std::mem::take(&mut self.services) {
            spawn_named(&tasks, name, service(&ctx));
        }

        // 1. Catch-up.
        let imported = {
            let (dirs, store, prices) = (dirs.clone(), self.store.clone(), self.prices.clone());
            let options = ImportOptions {
                progress: self.import_progress,
                // What hooks spooled while no monitor took them is stored now, once.
                drain_hook_spool: Some(self.settings.db.value.clone()),
                shared_progress: Some(self.catch_up.clone()),
                ..ImportOptions::default()
            };
            tokio::task::spawn_blocking(move || import::import(&dirs, &*store, &prices, &options))
                .await
                .context("the catch-up import failed")
                .and_then(|r| r)
        };
        self.catch_up.finish();
        let report = match imported {
            Ok(report) => report,
            Err(e) => {
                // The services stop with the monitor that never ran.
                cancel.cancel();
                tasks.close();
                drop(ctx);
                tasks.wait().await;
                return Err(e);
            }
        };
        if let Some(f) = self.caught_up.take() {
            f(&report);
        }

        // 2. Read-back of live sessions, off the async threads.
        let initial = {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || live_sessions(&*store))
                .await
                .context("reading live sessions back failed")??
        };

        // 3. Sinks.
        let mut budget =
            budget_watch::Watch::from_settings(&self.settings, store_dyn.clone(), &self.prices);
        budget.alert_sinks = std::mem::take(&mut self.budget_alerts);
        budget.alert_sinks.push(notifier.alert_sink());
        if notifier.wants(EventName::BlockStarted) || notifier.wants(EventName::BlockEnded) {
            budget.block_sinks = vec![notifier.block_sink()];
        }
        // It reads which 5-hour block runs now, once.
        let (budget_callbacks, budget_watcher) = tokio::task::block_in_place(|| budget.spawn())?;
        let mut callbacks = std::mem::take(&mut self.callbacks);
        callbacks.extend(notifier.callbacks());
        callbacks.extend(budget_callbacks);
        let mut after_commits = Vec::new();
        for sink in &mut self.sinks {
            callbacks.extend(sink.callbacks());
            after_commits.extend(sink.after_commit());
        }
        let after_commit = (!after_commits.is_empty()).then(|| {
            Arc::new(move || after_commits.iter().for_each(|f| f())) as Arc<dyn Fn() + Send + Sync>
        });
        let pipeline_task = pipeline::spawn_on(
            inputs,
            PipelineConfig {
                state_file: Some(self.settings.state_file.value.clone()),
                store: Some(store_dyn.clone()),
                prices: self.prices.clone(),
                callbacks,
                snapshots: Some(snap_tx),
                initial_sessions: initial,
                after_commit,
                ..PipelineConfig::default()
            },
        )?;

        // 4. Sources.
        let poke = Arc::new(Notify::new());
        spawn_named(
            &tasks,
            "follow transcripts",
            follow_task(dirs.clone(), &ctx, poke.clone()),
        );
        spawn_named(&tasks, "liveness probe", {
            let fut = probe_loop(
                dirs,
                ctx.events.clone(),
                poke,
                cancel.clone(),
                ctx.ingest.clone(),
            );
            Box::pin(async move {
                fut.await;
                Ok(())
            })
        });
        for sink in &mut self.sinks {
            if let Some(task) = sink.task(&ctx) {
                spawn_named(&tasks, sink.name(), task);
            }
        }
        tasks.close();
        // Only the tasks hold the event sink now: the pipeline drains once they stop.
        drop(ctx);

        // 5. Shutdown.
        shutdown.await;
        cancel.cancel();
        tasks.wait().await;
        let pipeline = pipeline_task.await.context("the monitor task failed")?;
        let (lines, bytes, malformed) = self.ingest.get();
        tracing::info!(lines, bytes, malformed, "The transcript follower stopped.");
        // Its last check sees the last usage, and may still notify: before the notifier closes.
        let sinks = std::mem::take(&mut self.sinks);
        let _ = tokio::task::spawn_blocking(move || {
            budget_watcher.join();
            notifier.shutdown(NOTIFY_GRACE);
            for sink in sinks {
                let name = sink.name();
                sink.finish();
                tracing::debug!(sink = name, "Sink finished.");
            }
        })
        .await;
        Ok(RunReport { pipeline })
    }
}

/// The live sessions in the store, full (with their ledgers).
fn live_sessions(store: &dyn Store) -> anyhow::Result<Vec<SessionState>> {
    let mut initial = Vec::new();
    for s in store.sessions(&SessionQuery {
        live_only: true,
        ..SessionQuery::default()
    })? {
        if let Some(full) = store.session(&s.session_id)? {
            initial.push(full);
        }
    }
    Ok(initial)
}

fn follow_task(dirs: Vec<PathBuf>, ctx: &Context, poke: Arc<Notify>) -> Task {
    Box::pin(follow::follow(
        dirs,
        ctx.store.clone(),
        ctx.events.clone(),
        poke,
        ctx.cancel.clone(),
        ctx.ingest.clone(),
    ))
}

/// Spawns `task` on `tasks`, logging under `name` when it fails or ends.
fn spawn_named(tasks: &TaskTracker, name: &'static str, task: Task) {
    tasks.spawn(async move {
        match task.await {
            Ok(()) => tracing::debug!(task = name, "Task stopped."),
            Err(e) => tracing::error!(task = name, "Task failed: {e:#}"),
        }
    });
}

/// Completes on Ctrl-C or SIGTERM: what a monitor (and `cclive replay`) stops on.
pub(crate) async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
