//! The library face of cclive: build a monitor, register callbacks, run claude under it.
//!
//! This is what `cclive run` itself uses, and what the seed's
//! `ClaudeCodeSessionMonitor(dashboard_callback=...)` offered:
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use cclive::{SessionMonitor, RunRequest, UpdateKind};
//! let monitor = SessionMonitor::builder()
//!     .on_update(|u| {
//!         if u.kind != UpdateKind::Progress {
//!             println!("{} is now {}", u.session.session_id, u.session.status);
//!         }
//!     })
//!     .build();
//! let outcome = monitor.run(RunRequest::new(["-p", "say hi"])).await?;
//! println!("cost ${:.4}", outcome.session.total_cost_usd);
//! # Ok(()) }
//! ```
//!
//! Budget alerts and 5-hour block changes are not session updates: they come from the usage of
//! every session, read from the history. With a store and `budget` limits, `on_budget` gets each
//! threshold crossed (once per threshold and period, as the monitor does); with a store,
//! `on_block` gets each block that starts or ends while the run lasts. Both are called on a
//! watcher thread, and `run` returns after their last call.
//!
//! Each run is a configuration of the one monitor runtime (`monitor::runtime`): no catch-up
//! and no follower of the whole machine; its source is claude (and, for an interactive session,
//! the follower of claude's own transcript), whose end ends the run. This module must never
//! assemble a pipeline of its own.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cclive_core::blocks::BlockEvent;
use cclive_core::budget::{Budget, BudgetAlert};
use cclive_core::{Event, EventKind, PriceTable, SessionId, SessionState, Update};
use cclive_store::Store;
use jiff::tz::TimeZone;
use tokio_util::sync::CancellationToken;

use crate::errors::ClaudeNotFound;
use crate::ingest::child::{self, ChildExit, ChildSpec};
use crate::ingest::invocation::Invocation;
use crate::ingest::own_transcript::{self, OwnSession};
use crate::monitor::pipeline::{Callback, EventSink};
use crate::monitor::runtime::{Integrations, MonitorRuntime};
use crate::output::render::Renderer;
use crate::sinks::budget_watch::{AlertSink, BlockSink};

/// Longest command line kept in history.
const COMMAND_CHARS: usize = 200;

/// Builds a [`SessionMonitor`].
#[derive(Default)]
pub struct SessionMonitorBuilder {
    callbacks: Vec<Callback>,
    committed_callbacks: Vec<Callback>,
    state_file: Option<PathBuf>,
    store: Option<Arc<dyn Store>>,
    prices: PriceTable,
    config_dirs: Vec<PathBuf>,
    /// The running monitor's address, and its token.
    forward_to: Option<(String, Option<String>)>,
    claude_bin: Option<PathBuf>,
    show_output: bool,
    detail: bool,
    budget: Option<(Budget, TimeZone)>,
    alert_sinks: Vec<AlertSink>,
    block_sinks: Vec<BlockSink>,
    /// `cclive run`'s webhooks, on_change commands and calendars, and how long they may go on
    /// delivering after claude exited.
    integrations: Option<(Integrations, Duration)>,
}

impl SessionMonitorBuilder {
    /// Calls `f` with every update (start, status changes, progress, end), in order.
    #[must_use]
    pub fn on_update(mut self, f: impl Fn(&Update) + Send + Sync + 'static) -> Self {
        self.callbacks.push(Arc::new(f));
        self
    }

    /// Calls `f` with every update once the history holds what it changed (at once without a
    /// store), on the store's writer thread: for integrations, which must fire once per
    /// transition even when another process (a monitor) follows the same session.
    #[must_use]
    pub fn on_committed_update(mut self, f: impl Fn(&Update) + Send + Sync + 'static) -> Self {
        self.committed_callbacks.push(Arc::new(f));
        self
    }

    /// The budget limits [`on_budget`](Self::on_budget) watches, with the zone their days,
    /// weeks and months are cut in (`cclive run` passes the config's `[budget]`).
    #[must_use]
    pub fn budget(mut self, budget: Budget, time_zone: TimeZone) -> Self {
        self.budget = Some((budget, time_zone));
        self
    }

    /// Calls `f` with each budget alert: a limit of [`budget`](Self::budget) reached 50, 80 or
    /// 100 % (of every session's estimated spend in the period, this run's included). Each
    /// threshold fires once per period, remembered in the [`store`](Self::store) across runs
    /// and monitors; thresholds crossed before the run are told at its start. Needs a store and
    /// limits; called on a watcher thread.
    #[must_use]
    pub fn on_budget(mut self, f: impl Fn(&BudgetAlert) + Send + Sync + 'static) -> Self {
        self.alert_sinks.push(Arc::new(f));
        self
    }

    /// Calls `f` when a 5-hour usage block starts (its first response came) or ends (its five
    /// hours are over) while the run lasts; a block already running when the run starts is not
    /// announced as started. Blocks count every session's usage in the
    /// [`store`](Self::store), so it needs one; called on a watcher thread.
    #[must_use]
    pub fn on_block(mut self, f: impl Fn(&BlockEvent) + Send + Sync + 'static) -> Self {
        self.block_sinks.push(Arc::new(f));
        self
    }

    /// Writes the state file here.
    #[must_use]
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Records sessions in this store.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Prices estimates with this table.
    #[must_use]
    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    /// Runs this claude executable instead of `$CLAUDE_BIN` or `claude` on PATH.
    #[must_use]
    pub fn claude_bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.claude_bin = Some(path.into());
        self
    }

    /// Shows claude's output on this process's stdout/stderr (as `cclive run` does).
    /// `detail` shows whole tool inputs.
    #[must_use]
    pub fn show_output(mut self, detail: bool) -> Self {
        self.show_output = true;
        self.detail = detail;
        self
    }

    /// Claude config dirs, where an interactive session's transcript and registry entry are
    /// followed for live figures (without them an interactive run records start and end only).
    #[must_use]
    pub fn claude_config_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.config_dirs = dirs;
        self
    }

    /// Sends every event to the running monitor at `listen` (`POST /api/events`), which then
    /// keeps the history; events are still folded here for callbacks and the outcome. `token`:
    /// the monitor's, when it has one.
    #[must_use]
    pub fn forward_to(mut self, listen: impl Into<String>, token: Option<String>) -> Self {
        self.forward_to = Some((listen.into(), token));
        self
    }

    /// Delivers updates (once committed), budget alerts and block changes (with a store) to
    /// `integrations` (`cclive run` without a monitor: nothing else tells them), which may go
    /// on delivering for `grace` after claude exited.
    #[must_use]
    pub(crate) fn integrations(mut self, integrations: Integrations, grace: Duration) -> Self {
        self.integrations = Some((integrations, grace));
        self
    }

    /// The monitor.
    pub fn build(self) -> SessionMonitor {
        SessionMonitor { inner: self }
    }
}

/// Runs claude sessions under monitoring.
pub struct SessionMonitor {
    inner: SessionMonitorBuilder,
}

/// One claude run to monitor.
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    /// claude's arguments.
    pub claude_args: Vec<String>,
    /// Project to file the session under (default: the working directory).
    pub project_path: Option<String>,
    /// A label.
    pub session_type: Option<String>,
    /// claude's working directory (default: this process's).
    pub cwd: Option<PathBuf>,
    /// Environment variables to remove from claude's environment.
    pub env_remove: Vec<String>,
    /// Environment variables to set for claude (e.g. `ANTHROPIC_BASE_URL`).
    pub env: Vec<(String, String)>,
}

impl RunRequest {
    /// A request to run claude with `args`.
    pub fn new<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            claude_args: args.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// How a monitored run ended.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// claude's exit, as cclive's exit code.
    pub exit_code: u8,
    /// The session's final state.
    pub session: SessionState,
    /// History writes that failed (0 when all is well).
    pub store_failures: u64,
}

impl SessionMonitor {
    /// Starts building a monitor.
    pub fn builder() -> SessionMonitorBuilder {
        SessionMonitorBuilder::default()
    }

    /// Runs claude as `request` says, monitoring it to the end. Must be called within a tokio
    /// runtime with I/O, time and signals enabled.
    pub async fn run(&self, request: RunRequest) -> anyhow::Result<RunOutcome> {
        let claude = resolve_claude(self.inner.claude_bin.as_deref())?;
        let session_id = uuid::Uuid::new_v4().to_string();
        let plan = Invocation::plan(&request.claude_args, &session_id);
        let id = SessionId::new(plan.session_id.clone().unwrap_or(session_id));
        let renderer = if self.inner.show_output {
            Renderer::new(
                &plan,
                std::io::stdout().is_terminal(),
                self.inner.detail,
                Box::new(std::io::stdout()),
                Box::new(std::io::stderr()),
            )
        } else {
            Renderer::silent(&plan)
        };
        let spec = ChildSpec {
            claude: &claude,
            plan: &plan,
            session_id: id.clone(),
            command: Invocation::display_command(&request.claude_args, COMMAND_CHARS),
            project_path: request.project_path.clone(),
            session_type: request.session_type.clone(),
            cwd: request.cwd.as_deref(),
            env_remove: &request.env_remove,
            env: &request.env,
        };
        // Interactive claude owns the terminal: its figures come from what it writes to disk.
        let own = match (
            &plan.session_id,
            plan.print,
            self.inner.config_dirs.is_empty(),
        ) {
            (Some(sid), false, false) => Some(OwnSession {
                config_dirs: self.inner.config_dirs.clone(),
                session_id: SessionId::new(sid.clone()),
            }),
            _ => None,
        };

        let (result, report) = self
            .runtime()
            .run_until(|ctx| claude_source(spec, renderer, own, ctx.events.clone()))
            .await?;
        let exit: ChildExit = result?;
        let session = report
            .pipeline
            .sessions
            .into_iter()
            .find(|s| s.session_id == id)
            .context("the monitor lost the session")?;
        Ok(RunOutcome {
            exit_code: exit.exit_code(),
            session,
            store_failures: report.pipeline.store_failures,
        })
    }

    /// The monitor runtime this builder configures: one claude run's, no catch-up and no
    /// follower of the whole machine; a budget watch only when `on_budget` or `on_block` asked
    /// for it (or the integrations want its alerts).
    fn runtime(&self) -> MonitorRuntime {
        let b = &self.inner;
        let mut runtime = MonitorRuntime::new(b.prices.clone())
            .store(b.store.clone())
            .state_file(b.state_file.clone());
        for callback in &b.callbacks {
            runtime = runtime.with_callback(callback.clone());
        }
        for callback in &b.committed_callbacks {
            runtime = runtime.with_committed_callback(callback.clone());
        }
        if let Some((budget, tz)) = b.budget.clone() {
            runtime = runtime.budget(budget, tz);
        }
        for sink in &b.alert_sinks {
            runtime = runtime.with_budget_alerts(sink.clone());
        }
        for sink in &b.block_sinks {
            runtime = runtime.with_block_changes(sink.clone());
        }
        if let Some((integrations, grace)) = b.integrations.clone() {
            runtime = runtime.integrations(integrations, grace);
        }
        if let Some((listen, token)) = b.forward_to.clone() {
            runtime = runtime.with_tap("forward to the monitor", move |rx| {
                Box::pin(async move {
                    forward_events(listen, token, rx).await;
                    Ok(())
                })
            });
        }
        runtime
    }
}

/// The run's source: claude, and for an interactive session the follower of its own
/// transcript (stopped once claude exited, after its last read); then claude's exit.
async fn claude_source(
    spec: ChildSpec<'_>,
    mut renderer: Renderer,
    own: Option<OwnSession>,
    sink: EventSink,
) -> anyhow::Result<ChildExit> {
    let stop = CancellationToken::new();
    let follower = async {
        if let Some(own) = own {
            own_transcript::follow(own, sink.clone(), stop.clone()).await;
        }
    };
    let child = async {
        let result = child::run(&spec, &sink, &mut renderer).await;
        stop.cancel();
        result
    };
    let (result, ()) = tokio::join!(child, follower);
    if let Ok(exit) = &result {
        let kind = EventKind::ProcessExited {
            code: exit.code,
            signal: exit.signal,
        };
        sink.send(Event::new(
            spec.session_id.clone(),
            jiff::Timestamp::now(),
            kind,
        ))
        .await;
    }
    result
}

/// Posts events to a running monitor in small batches. A monitor that stops answering costs
/// this session its history there (logged); the run itself goes on.
async fn forward_events(
    listen: String,
    token: Option<String>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<cclive_core::Event>,
) {
    let mut failures = 0u32;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        // Let a burst (a stream of deltas) gather into one request.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let Ok(body) = serde_json::to_vec(&batch) else {
            continue;
        };
        let (target, token) = (listen.clone(), token.clone());
        let posted = tokio::task::spawn_blocking(move || {
            crate::monitor::client::post_json(
                &target,
                token.as_deref(),
                "/api/events",
                &body,
                std::time::Duration::from_secs(2),
            )
        })
        .await;
        match posted {
            Ok(Ok(r)) if r.is_success() => {}
            other => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(%listen, "The monitor did not take this session's events: {other:?}");
                }
            }
        }
    }
}

/// Finds claude: an explicit path, else `$CLAUDE_BIN`, else `claude` on PATH.
pub fn resolve_claude(explicit: Option<&Path>) -> Result<PathBuf, ClaudeNotFound> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(ClaudeNotFound {
                looked_for: path.display().to_string(),
            })
        };
    }
    if let Some(path) = crate::config::env::claude_bin() {
        return resolve_claude(Some(&path));
    }
    crate::config::env::path_dirs()
        .into_iter()
        .map(|dir| dir.join("claude"))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| ClaudeNotFound {
            looked_for: "claude on PATH".into(),
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Mutex;

    use cclive_core::blocks::BlockChange;
    use cclive_core::budget::{Limits, Period};
    use cclive_store::SqliteStore;

    use super::*;

    /// `run`'s future may be spawned on a multi-threaded runtime (`tokio::spawn(monitor.run(…))`),
    /// as before the runtime ran it.
    #[test]
    fn the_run_future_is_send() {
        fn send<T: Send>(_: &T) {}
        let monitor = SessionMonitor::builder().build();
        send(&monitor.run(RunRequest::default()));
    }

    /// A `claude` stand-in: one sonnet response of 100,000 input tokens ($0.30 at $3 per
    /// million), then the result line.
    fn stub_claude(dir: &Path) -> PathBuf {
        let path = dir.join("claude");
        let usage = r#"{"input_tokens":100000,"output_tokens":0}"#;
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\n\
                 echo '{{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"x\",\"model\":\"claude-sonnet-4-5\"}}'\n\
                 echo '{{\"type\":\"assistant\",\"message\":{{\"id\":\"msg_budget_1\",\"model\":\"claude-sonnet-4-5\",\"usage\":{usage},\"content\":[]}}}}'\n\
                 echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"num_turns\":1,\"result\":\"hi\",\"session_id\":\"x\"}}'\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// The library callback gets the budget threshold this run crossed (50 % of $0.50, not
    /// 80 %) and the block its usage opened; a second run in the same period and block is told
    /// neither again.
    #[tokio::test]
    async fn on_budget_and_on_block_get_what_the_run_crossed_once() {
        let dir = tempfile::tempdir().unwrap();
        let claude = stub_claude(dir.path());
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
        let budget = Budget {
            limits: Limits {
                daily_usd: Some(0.5),
                ..Limits::default()
            },
            ..Budget::default()
        };
        let alerts: Arc<Mutex<Vec<BudgetAlert>>> = Arc::default();
        let blocks: Arc<Mutex<Vec<BlockEvent>>> = Arc::default();
        let monitor = || {
            let (alerts, blocks) = (alerts.clone(), blocks.clone());
            SessionMonitor::builder()
                .claude_bin(&claude)
                .store(store.clone())
                .budget(budget.clone(), TimeZone::UTC)
                .on_budget(move |a| alerts.lock().unwrap().push(a.clone()))
                .on_block(move |b| blocks.lock().unwrap().push(b.clone()))
                .build()
        };
        let outcome = monitor().run(RunRequest::new(["-p", "hi"])).await.unwrap();
        assert_eq!(outcome.exit_code, 0);
        assert_eq!(outcome.session.tokens.input, 100_000);
        {
            // `run` returned after the watcher's last call: no waiting here.
            let alerts = alerts.lock().unwrap();
            let got: Vec<(Period, u8)> = alerts
                .iter()
                .map(|a| (a.period, a.threshold_percent))
                .collect();
            assert_eq!(got, [(Period::Day, 50)], "{alerts:?}");
            assert!((alerts[0].spent_usd - 0.3).abs() < 1e-9, "{alerts:?}");
            let blocks = blocks.lock().unwrap();
            assert_eq!(blocks.len(), 1, "{blocks:?}");
            assert_eq!(blocks[0].change, BlockChange::Started);
            assert_eq!(blocks[0].total_tokens, 100_000);
        }

        // The same response again counts once (its message id): still 60 %, told already.
        monitor().run(RunRequest::new(["-p", "hi"])).await.unwrap();
        assert_eq!(
            alerts.lock().unwrap().len(),
            1,
            "once per threshold and period"
        );
        assert_eq!(
            blocks.lock().unwrap().len(),
            1,
            "the block was already running"
        );
    }
}
