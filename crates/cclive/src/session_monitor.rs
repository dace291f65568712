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

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use cclive_core::{Event, EventKind, PriceTable, SessionId, SessionState, Update};
use cclive_store::Store;

use crate::errors::ClaudeNotFound;
use crate::ingest::child::{self, ChildExit, ChildSpec};
use crate::ingest::invocation::Invocation;
use crate::ingest::own_transcript::{self, OwnSession};
use crate::pipeline::{self, Callback, PipelineConfig};
use crate::render::Renderer;
use tokio_util::sync::CancellationToken;

/// Longest command line kept in history.
const COMMAND_CHARS: usize = 200;

/// Builds a [`SessionMonitor`].
#[derive(Default)]
pub struct SessionMonitorBuilder {
    config: PipelineConfig,
    config_dirs: Vec<PathBuf>,
    forward_to: Option<String>,
    claude_bin: Option<PathBuf>,
    show_output: bool,
    detail: bool,
}

impl SessionMonitorBuilder {
    /// Calls `f` with every update (start, status changes, progress, end), in order.
    #[must_use]
    pub fn on_update(mut self, f: impl Fn(&Update) + Send + Sync + 'static) -> Self {
        let callback: Callback = Arc::new(f);
        self.config.callbacks.push(callback);
        self
    }

    /// Writes the state file here.
    #[must_use]
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.state_file = Some(path.into());
        self
    }

    /// Records sessions in this store.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.config.store = Some(store);
        self
    }

    /// Prices estimates with this table.
    #[must_use]
    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.config.prices = prices;
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
    /// keeps the history; events are still folded here for callbacks and the outcome.
    #[must_use]
    pub fn forward_to(mut self, listen: impl Into<String>) -> Self {
        self.forward_to = Some(listen.into());
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
        let mut renderer = if self.inner.show_output {
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

        let mut config = self.inner.config.clone();
        let forwarder = self.inner.forward_to.clone().map(|listen| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            config.tap = Some(tx);
            tokio::spawn(forward_events(listen, rx))
        });
        let (sink, service) = pipeline::spawn(config).context("starting the monitor")?;
        // Interactive claude owns the terminal: its figures come from what it writes to disk.
        let follower = match (
            &plan.session_id,
            plan.print,
            self.inner.config_dirs.is_empty(),
        ) {
            (Some(sid), false, false) => {
                let stop = CancellationToken::new();
                let own = OwnSession {
                    config_dirs: self.inner.config_dirs.clone(),
                    session_id: SessionId::new(sid.clone()),
                };
                Some((
                    stop.clone(),
                    tokio::spawn(own_transcript::follow(own, sink.clone(), stop)),
                ))
            }
            _ => None,
        };
        let result = child::run(&spec, &sink, &mut renderer).await;
        if let Some((stop, task)) = follower {
            stop.cancel();
            let _ = task.await;
        }
        if let Ok(exit) = &result {
            let kind = EventKind::ProcessExited {
                code: exit.code,
                signal: exit.signal,
            };
            sink.send(Event::new(id.clone(), jiff::Timestamp::now(), kind))
                .await;
        }
        drop(sink);
        let report = service.await.context("the monitor task failed")?;
        if let Some(f) = forwarder {
            let _ = f.await;
        }
        let exit: ChildExit = result?;
        let session = report
            .sessions
            .into_iter()
            .find(|s| s.session_id == id)
            .context("the monitor lost the session")?;
        Ok(RunOutcome {
            exit_code: exit.exit_code(),
            session,
            store_failures: report.store_failures,
        })
    }
}

/// Posts events to a running monitor in small batches. A monitor that stops answering costs
/// this session its history there (logged); the run itself goes on.
async fn forward_events(
    listen: String,
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
        let target = listen.clone();
        let posted = tokio::task::spawn_blocking(move || {
            crate::monitor_client::post_json(
                &target,
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
    if let Some(path) = std::env::var_os("CLAUDE_BIN").filter(|p| !p.is_empty()) {
        return resolve_claude(Some(Path::new(&path)));
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
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
