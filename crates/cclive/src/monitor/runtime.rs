//! The one monitor runtime: `cclive watch`, `cclive dashboard`, `cclive top`'s own monitor and
//! `cclive run` (through the library's [`SessionMonitor`](crate::SessionMonitor)) are
//! configurations of it.
//!
//! Configurations:
//! - the machine's monitor ([`MonitorRuntime::machine`]): catch-up, read-back, the transcript
//!   follower and liveness probe, the store, the state file, the integrations and the budget
//!   watch of the settings; it runs until a shutdown future ([`MonitorRuntime::run`]).
//!   `watch` and `dashboard` add the HTTP server as a service (`serve`), `top` the screen as a
//!   sink (`tui::runner`);
//! - one claude run ([`MonitorRuntime::new`], configured by `SessionMonitor`): no catch-up, no
//!   follower; the store, state file, integrations and budget watch only when given; its
//!   source (the claude child and the interactive own-transcript follower) ends the run
//!   ([`MonitorRuntime::run_until`]), and a tap forwards every event to a running monitor.
//!
//! `cclive replay` is no configuration: it builds no monitor, it posts to a running one.
//!
//! [`MonitorRuntime::run_until`] owns the whole life of a monitor, in this order:
//! 0. the services start (the HTTP server of `watch` and `dashboard`), so a page answers at
//!    once, with the store as it is and the catch-up's progress ([`Context::import`]); what
//!    they send the monitor waits, in order, until step 3 and is applied after the catch-up;
//! 1. catch-up (when on): the history is imported (`ingest::import`) off the async threads;
//! 2. read-back (with the catch-up): the live sessions in the store become the pipeline's first
//!    sessions, so a restart continues them;
//! 3. the sinks start: the store writer and the state file (inside the pipeline), the notifier
//!    (`[[webhook]]`, `[[on_change]]`, `[[calendar]]`), the budget watch, every callback, the
//!    tap and every [`Sink`] added;
//! 4. the sources start: the transcript follower (counting into [`IngestCounters`]) and the
//!    liveness probe when on, from where the catch-up stopped, then the source given to
//!    `run_until`;
//! 5. shutdown when that source completes: the [`CancellationToken`] stops every task, the
//!    [`TaskTracker`] awaits them (each is named in the logs; the tap ends once the pipeline
//!    let go of it), the pipeline drains and writes the final state, then the budget watch's
//!    last check, the notifier's queued deliveries and each sink's `finish` run, in that order
//!    (a sink may still be told of the final state).
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
use cclive_core::budget::Budget;
use cclive_core::{Event, PriceTable, SessionState, Snapshot};
use cclive_server::{ImportProgress, IngestCounters};
use cclive_store::{SessionQuery, Store};
use jiff::tz::TimeZone;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::ingest::follow;
use crate::ingest::import::{self, ImportOptions, ImportReport};
use crate::ingest::liveness::probe_loop;
use crate::monitor::pipeline::{self, Callback, EventSink, PipelineConfig, PipelineReport};
use crate::sinks::budget_watch::{self, AlertSink, BlockSink};
use crate::sinks::notify::calendar::CalendarSettings;
use crate::sinks::notify::{EventName, ExecHookSettings, Notifier, WebhookSettings};

/// How long queued webhooks and `[[on_change]]` commands may still deliver when the machine's
/// monitor stops.
const NOTIFY_GRACE: Duration = Duration::from_secs(5);

/// A boxed task future.
pub(crate) type Task = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// What a service, a sink's task or the source gets from the running monitor.
#[derive(Clone)]
pub(crate) struct Context {
    /// Where events go (e.g. the HTTP intake forwards into it).
    pub(crate) events: EventSink,
    /// Every new snapshot, at the state file's pace.
    pub(crate) snapshots: watch::Receiver<Snapshot>,
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

/// The integrations the monitor's notifier delivers to: `[[webhook]]`, `[[on_change]]` and
/// `[[calendar]]` (none by default).
#[derive(Clone, Default)]
pub(crate) struct Integrations {
    webhooks: Vec<WebhookSettings>,
    on_change: Vec<ExecHookSettings>,
    calendars: Vec<CalendarSettings>,
}

impl Integrations {
    /// Those of `settings`.
    pub(crate) fn of(settings: &Settings) -> Integrations {
        Integrations {
            webhooks: settings.webhooks.value.clone(),
            on_change: settings.on_change.value.clone(),
            calendars: settings.calendars.value.clone(),
        }
    }

    /// Starts their delivery threads (none when there is no integration).
    fn start(&self) -> anyhow::Result<Notifier> {
        Notifier::start_with_calendars(&self.webhooks, &self.on_change, &self.calendars)
            .context("starting the webhook, on_change and calendar threads")
    }
}

/// Called once the catch-up import is done.
type CaughtUp = Box<dyn FnOnce(&ImportReport) + Send>;

/// A service started before the catch-up (e.g. the HTTP server), given the monitor.
type Service = Box<dyn FnOnce(&Context) -> Task + Send>;

/// A task given a copy of every event the pipeline applies; it ends when the pipeline has
/// drained (its receiver closes).
type Tap = Box<dyn FnOnce(mpsc::UnboundedReceiver<Event>) -> Task + Send>;

/// The catch-up import, when on.
struct CatchUp {
    /// The database whose hook spool the import drains.
    hook_spool: Option<PathBuf>,
    /// Show its progress bar (on a terminal's stderr).
    progress: bool,
}

/// The builder and runner of one monitor.
pub(crate) struct MonitorRuntime {
    store: Option<Arc<dyn Store>>,
    prices: PriceTable,
    config_dirs: Vec<PathBuf>,
    state_file: Option<PathBuf>,
    catch_up: Option<CatchUp>,
    follow: bool,
    integrations: Integrations,
    notify_grace: Duration,
    budget: (Budget, TimeZone),
    caught_up: Option<CaughtUp>,
    callbacks: Vec<Callback>,
    committed_callbacks: Vec<Callback>,
    budget_alerts: Vec<AlertSink>,
    block_changes: Vec<BlockSink>,
    sinks: Vec<Box<dyn Sink>>,
    services: Vec<(&'static str, Service)>,
    tap: Option<(&'static str, Tap)>,
    ingest: IngestCounters,
    import: ImportProgress,
}

/// What a finished monitor reports.
#[derive(Debug)]
pub(crate) struct RunReport {
    /// The pipeline's report (final states, failed writes).
    pub(crate) pipeline: PipelineReport,
}

impl MonitorRuntime {
    /// A monitor of nothing yet: no store, no state file, no catch-up, no follower, no
    /// integration, no budget limits; estimates priced with `prices`.
    pub(crate) fn new(prices: PriceTable) -> Self {
        Self {
            store: None,
            prices,
            config_dirs: Vec::new(),
            state_file: None,
            catch_up: None,
            follow: false,
            integrations: Integrations::default(),
            notify_grace: NOTIFY_GRACE,
            budget: (Budget::default(), TimeZone::UTC),
            caught_up: None,
            callbacks: Vec::new(),
            committed_callbacks: Vec::new(),
            budget_alerts: Vec::new(),
            block_changes: Vec::new(),
            sinks: Vec::new(),
            services: Vec::new(),
            tap: None,
            ingest: IngestCounters::default(),
            import: ImportProgress::running(),
        }
    }

    /// The machine's monitor: `settings`' Claude config dirs caught up and followed, into
    /// `store` and the state file, with the integrations and the budget watch of `settings`.
    pub(crate) fn machine(settings: &Settings, store: Arc<dyn Store>, prices: PriceTable) -> Self {
        let budget = &settings.budget.value;
        Self::new(prices)
            .store(Some(store))
            .state_file(Some(settings.state_file.value.clone()))
            .claude_config_dirs(settings.claude_config_dirs.value.clone())
            // What hooks spooled while no monitor took them is stored now, once.
            .catch_up(Some(settings.db.value.clone()))
            .follow_transcripts()
            .integrations(Integrations::of(settings), NOTIFY_GRACE)
            .budget(budget.budget.clone(), budget.time_zone())
    }

    /// Records sessions in `store` (none: nothing is kept, and nothing needing the history
    /// runs: catch-up, follower, budget watch).
    pub(crate) fn store(mut self, store: Option<Arc<dyn Store>>) -> Self {
        self.store = store;
        self
    }

    /// Writes the state file at `path` (none: no state file).
    pub(crate) fn state_file(mut self, path: Option<PathBuf>) -> Self {
        self.state_file = path;
        self
    }

    /// The Claude config dirs the catch-up imports and the follower follows.
    pub(crate) fn claude_config_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.config_dirs = dirs;
        self
    }

    /// Imports the history before the sources start, then reads the live sessions back (with a
    /// store); the import drains the hook spool of the database at `hook_spool`.
    pub(crate) fn catch_up(mut self, hook_spool: Option<PathBuf>) -> Self {
        self.catch_up = Some(CatchUp {
            hook_spool,
            progress: false,
        });
        self
    }

    /// Follows every transcript of the Claude config dirs, and probes the live sessions'
    /// processes (with a store: the follower's checkpoints are kept there).
    pub(crate) fn follow_transcripts(mut self) -> Self {
        self.follow = true;
        self
    }

    /// Delivers updates, budget alerts and block changes to `integrations`, which may go on
    /// delivering for `grace` once the monitor stopped.
    pub(crate) fn integrations(mut self, integrations: Integrations, grace: Duration) -> Self {
        self.integrations = integrations;
        self.notify_grace = grace;
        self
    }

    /// The budget limits the budget watch checks, with the zone their periods are cut in.
    pub(crate) fn budget(mut self, budget: Budget, time_zone: TimeZone) -> Self {
        self.budget = (budget, time_zone);
        self
    }

    /// Shows the catch-up import's progress bar (on a terminal's stderr).
    pub(crate) fn import_progress(mut self, on: bool) -> Self {
        if let Some(catch_up) = &mut self.catch_up {
            catch_up.progress = on;
        }
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

    /// Calls `f` with every update once the store committed what it changed (at once without
    /// a store), on the writer thread: see [`PipelineConfig::committed_callbacks`].
    pub(crate) fn with_committed_callback(mut self, f: Callback) -> Self {
        self.committed_callbacks.push(f);
        self
    }

    /// Also tells `sink` of each new budget alert (the notifier always hears of them). Needs a
    /// store.
    pub(crate) fn with_budget_alerts(mut self, sink: AlertSink) -> Self {
        self.budget_alerts.push(sink);
        self
    }

    /// Also tells `sink` of each 5-hour block that starts or ends (the notifier hears of them
    /// when it wants them). Needs a store.
    pub(crate) fn with_block_changes(mut self, sink: BlockSink) -> Self {
        self.block_changes.push(sink);
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

    /// Runs `tap` with a copy of every event the pipeline applies (e.g. to forward them to a
    /// running monitor); it is awaited at shutdown, after the pipeline has let go of it.
    pub(crate) fn with_tap(
        mut self,
        name: &'static str,
        tap: impl FnOnce(mpsc::UnboundedReceiver<Event>) -> Task + Send + 'static,
    ) -> Self {
        self.tap = Some((name, Box::new(tap)));
        self
    }

    /// The transcript follower's figures (lines, bytes, malformed lines read): shared, they
    /// keep counting while the monitor runs.
    pub(crate) fn ingest_counters(&self) -> IngestCounters {
        self.ingest.clone()
    }

    /// Runs the monitor until `shutdown` completes, then drains it.
    pub(crate) async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<RunReport> {
        let ((), report) = self.run_until(|_| shutdown).await?;
        Ok(report)
    }

    /// Runs the monitor until its source completes, then drains it; returns what the source
    /// returned. `source` is made once the other sources run, given the monitor (its events
    /// go to `ctx.events`), and polled in place: it may borrow what the caller holds.
    pub(crate) async fn run_until<F, R>(
        mut self,
        source: impl FnOnce(&Context) -> F,
    ) -> anyhow::Result<(R, RunReport)>
    where
        F: Future<Output = R>,
    {
        // 0. Services, before the catch-up; the pipeline takes what they send once it starts.
        let notifier = self.integrations.start()?;
        let (snap_tx, snap_rx) = watch::channel(Snapshot::inactive(jiff::Timestamp::now()));
        let (events, inputs) = pipeline::channel();
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let ctx = Context {
            events,
            snapshots: snap_rx,
            ingest: self.ingest.clone(),
            cancel: cancel.clone(),
            notify_stats: notifier.stats(),
            import: self.import.clone(),
        };
        for (name, service) in std::mem::take(&mut self.services) {
            spawn_named(&tasks, name, service(&ctx));
        }

        // 1. Catch-up, and 2. read-back of live sessions, off the async threads.
        let initial = match self.catch_up_and_read_back().await {
            Ok(initial) => initial,
            Err(e) => {
                // The services stop with the monitor that never ran.
                cancel.cancel();
                tasks.close();
                drop(ctx);
                tasks.wait().await;
                return Err(e);
            }
        };

        // 3. Sinks.
        let (budget_callbacks, budget_watcher) = self.start_budget_watch(&notifier).await?;
        let mut callbacks = std::mem::take(&mut self.callbacks);
        callbacks.extend(budget_callbacks);
        let mut after_commits = Vec::new();
        for sink in &mut self.sinks {
            callbacks.extend(sink.callbacks());
            after_commits.extend(sink.after_commit());
        }
        let after_commit = (!after_commits.is_empty()).then(|| {
            Arc::new(move || after_commits.iter().for_each(|f| f())) as Arc<dyn Fn() + Send + Sync>
        });
        let mut committed_callbacks = std::mem::take(&mut self.committed_callbacks);
        // Integrations fire once a transition is committed: a monitor killed in between
        // leaves it to the next one, never fires it twice with it (issue 12).
        committed_callbacks.extend(notifier.callbacks());
        let tap = self.tap.take().map(|(name, tap)| {
            let (tx, rx) = mpsc::unbounded_channel();
            // It holds no event sink: it ends once the pipeline drained and dropped `tx`.
            spawn_named(&tasks, name, tap(rx));
            tx
        });
        let pipeline_task = pipeline::spawn_on(
            inputs,
            PipelineConfig {
                state_file: self.state_file.clone(),
                store: self.store.clone(),
                prices: self.prices.clone(),
                callbacks,
                committed_callbacks,
                snapshots: Some(snap_tx),
                initial_sessions: initial,
                after_commit,
                tap,
                ..PipelineConfig::default()
            },
        )
        .context("starting the monitor")?;

        // 4. Sources.
        let following = match (&self.store, self.follow) {
            (Some(store), true) => {
                self.spawn_followers(&tasks, &ctx, store.clone());
                true
            }
            _ => false,
        };
        for sink in &mut self.sinks {
            if let Some(task) = sink.task(&ctx) {
                spawn_named(&tasks, sink.name(), task);
            }
        }
        tasks.close();
        let source = source(&ctx);
        // Only the tasks and the source hold the event sink now: the pipeline drains once
        // they stop.
        drop(ctx);

        // 5. Shutdown.
        let out = source.await;
        cancel.cancel();
        tasks.wait().await;
        let pipeline = pipeline_task.await.context("the monitor task failed")?;
        if following {
            let (lines, bytes, malformed) = self.ingest.get();
            tracing::info!(lines, bytes, malformed, "The transcript follower stopped.");
        }
        // Its last check sees the last usage, and may still notify: before the notifier closes.
        let (sinks, grace) = (std::mem::take(&mut self.sinks), self.notify_grace);
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(watcher) = budget_watcher {
                watcher.join();
            }
            notifier.shutdown(grace);
            for sink in sinks {
                let name = sink.name();
                sink.finish();
                tracing::debug!(sink = name, "Sink finished.");
            }
        })
        .await;
        Ok((out, RunReport { pipeline }))
    }

    /// Steps 1 and 2 (when the catch-up is on and there is a store): imports the history, then
    /// returns the live sessions in the store.
    async fn catch_up_and_read_back(&mut self) -> anyhow::Result<Vec<SessionState>> {
        let (Some(catch_up), Some(store)) = (self.catch_up.take(), self.store.clone()) else {
            self.import.finish();
            return Ok(Vec::new());
        };
        let imported = {
            let (dirs, store, prices) =
                (self.config_dirs.clone(), store.clone(), self.prices.clone());
            let options = ImportOptions {
                progress: catch_up.progress,
                drain_hook_spool: catch_up.hook_spool,
                shared_progress: Some(self.import.clone()),
                ..ImportOptions::default()
            };
            tokio::task::spawn_blocking(move || import::import(&dirs, &*store, &prices, &options))
                .await
                .context("the catch-up import failed")
                .and_then(|r| r)
        };
        self.import.finish();
        let report = imported?;
        if let Some(f) = self.caught_up.take() {
            f(&report);
        }
        tokio::task::spawn_blocking(move || live_sessions(&*store))
            .await
            .context("reading live sessions back failed")?
    }

    /// Starts the budget watch when someone wants its alerts or block changes (it needs the
    /// store); returns the callbacks that nudge it.
    async fn start_budget_watch(
        &mut self,
        notifier: &Notifier,
    ) -> anyhow::Result<(Vec<Callback>, Option<budget_watch::Watcher>)> {
        let mut alert_sinks = std::mem::take(&mut self.budget_alerts);
        let mut block_sinks = std::mem::take(&mut self.block_changes);
        let Some(store) = self.store.clone() else {
            if !alert_sinks.is_empty() || !block_sinks.is_empty() {
                tracing::warn!(
                    "Budget alerts and block changes need a store (the history); not watching."
                );
            }
            return Ok((Vec::new(), None));
        };
        if notifier.wants(EventName::BudgetThreshold) {
            alert_sinks.push(notifier.alert_sink());
        }
        if notifier.wants(EventName::BlockStarted) || notifier.wants(EventName::BlockEnded) {
            block_sinks.push(notifier.block_sink());
        }
        let (budget, tz) = self.budget.clone();
        let watch = budget_watch::Watch {
            budget,
            tz,
            store,
            prices: self.prices.clone(),
            alert_sinks,
            block_sinks,
        };
        // It reads which 5-hour block runs now, once: a store read, off the async threads.
        let (callbacks, watcher) = tokio::task::spawn_blocking(move || watch.spawn())
            .await
            .context("starting the budget watcher")?
            .context("starting the budget watcher")?;
        Ok((callbacks, Some(watcher)))
    }

    /// Step 4's transcript follower and liveness probe.
    fn spawn_followers(&self, tasks: &TaskTracker, ctx: &Context, store: Arc<dyn Store>) {
        let poke = Arc::new(Notify::new());
        spawn_named(
            tasks,
            "follow transcripts",
            Box::pin(follow::follow(
                self.config_dirs.clone(),
                store,
                ctx.events.clone(),
                poke.clone(),
                ctx.cancel.clone(),
                ctx.ingest.clone(),
            )),
        );
        let probe = probe_loop(
            self.config_dirs.clone(),
            ctx.events.clone(),
            poke,
            ctx.cancel.clone(),
            ctx.ingest.clone(),
        );
        spawn_named(
            tasks,
            "liveness probe",
            Box::pin(async move {
                probe.await;
                Ok(())
            }),
        );
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use cclive_core::{EventKind, Mode, SessionId};

    use super::*;

    /// A monitor of one source (no store, no catch-up, no follower, on a current-thread tokio
    /// runtime as `cclive run`'s) runs until its source ends: the source's value comes back, the
    /// pipeline's report holds its session, and the tap had every event before `run_until`
    /// returned.
    #[tokio::test]
    async fn the_source_ends_the_run_and_the_tap_sees_every_event() {
        let tapped: Arc<Mutex<Vec<SessionId>>> = Arc::default();
        let runtime = MonitorRuntime::new(PriceTable::builtin()).with_tap("test tap", {
            let tapped = tapped.clone();
            move |mut rx| {
                Box::pin(async move {
                    while let Some(event) = rx.recv().await {
                        tapped.lock().unwrap().push(event.session_id);
                    }
                    Ok(())
                })
            }
        });
        let id = SessionId::new("s1");
        let (sent, report) = runtime
            .run_until(|ctx| {
                let (events, id) = (ctx.events.clone(), id.clone());
                async move {
                    let kind = EventKind::SessionStarted {
                        mode: Mode::Print,
                        command: None,
                        cwd: None,
                        project_path: None,
                        session_type: None,
                        source: "wrapper".into(),
                    };
                    events
                        .send(Event::new(id, jiff::Timestamp::now(), kind))
                        .await
                }
            })
            .await
            .unwrap();
        assert!(sent);
        let sessions: Vec<_> = report
            .pipeline
            .sessions
            .iter()
            .map(|s| s.session_id.clone())
            .collect();
        assert_eq!(sessions, std::slice::from_ref(&id));
        assert_eq!(*tapped.lock().unwrap(), [id]);
    }
}
