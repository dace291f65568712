//! The monitor in this process, for `cclive top` when no monitor answers: the same
//! [`MonitorRuntime`] as `cclive watch`, minus the HTTP server (the listen address stays free
//! for a `cclive watch` started later, and nothing is exposed). Webhooks and `[[on_change]]`
//! commands fire, the follower's figures are counted, and with team mode configured what it
//! stores is forwarded to the team server, exactly as under `cclive watch`.
//!
//! On its own thread with its own tokio runtime. Every update and snapshot is also
//! sent to the screen as a [`Msg`]; budget alerts become notices instead of stderr lines (the
//! terminal belongs to the dashboard). [`OwnMonitor::stop`] cancels the sources and waits for
//! the pipeline to write the final state.

use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Duration;

use anyhow::Context as _;
use cclive_core::budget::BudgetAlert;
use cclive_core::{PriceTable, Update};
use cclive_server::IngestCounters;
use cclive_store::SqliteStore;
use tokio_util::sync::CancellationToken;

use super::app::{Msg, Source};
use crate::config::Settings;
use crate::ingest::import::ImportReport;
use crate::monitor::pipeline::Callback;
use crate::monitor::runtime::{Context, MonitorRuntime, Sink, Task};
use crate::sinks::budget_watch::AlertSink;
use crate::team::TeamSink;

/// Longest wait for the final state to be written on quit.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The running in-process monitor.
pub(crate) struct OwnMonitor {
    cancel: CancellationToken,
    done: std::sync::mpsc::Receiver<()>,
    ingest: IngestCounters,
}

/// What the in-process monitor read from transcripts: `(lines, bytes, malformed lines)`.
pub(crate) type IngestFigures = (u64, u64, u64);

impl OwnMonitor {
    /// Starts it; figures go to `tx`; with team mode configured, `team` forwards what it
    /// stores to the team server (as under `cclive watch`).
    pub(crate) fn start(
        settings: &Settings,
        store: Arc<SqliteStore>,
        prices: PriceTable,
        tx: Sender<Msg>,
        team: Option<TeamSink>,
    ) -> anyhow::Result<OwnMonitor> {
        let cancel = CancellationToken::new();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("cclive-top-monitor")
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let (done_tx, done) = std::sync::mpsc::channel();
        let mut monitor = configure(settings, store, prices, tx.clone());
        if let Some(team) = team {
            monitor = monitor.with_sink(team);
        }
        let ingest = monitor.ingest_counters();
        let stop = cancel.clone().cancelled_owned();
        std::thread::Builder::new()
            .name("cclive-top-monitor".into())
            .spawn(move || {
                match runtime.block_on(monitor.run(stop)) {
                    Ok(report) if report.pipeline.unsaved => {
                        tracing::warn!("The last changes could not be written to the history.");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!("The monitor stopped: {e:#}");
                        let _ = tx.send(Msg::Notice(format!("monitor stopped: {e:#}")));
                    }
                }
                let _ = done_tx.send(());
            })
            .context("starting the monitor thread")?;
        Ok(OwnMonitor {
            cancel,
            done,
            ingest,
        })
    }

    /// Stops the sources and waits (a few seconds at most) for the final state to be written
    /// and queued webhooks to be delivered; returns what the follower read.
    pub(crate) fn stop(self) -> IngestFigures {
        self.cancel.cancel();
        let _ = self.done.recv_timeout(STOP_WAIT);
        self.ingest.get()
    }
}

/// `cclive watch`'s monitor without the HTTP server: budget alerts become notices, every update
/// and snapshot goes to the screen.
fn configure(
    settings: &Settings,
    store: Arc<SqliteStore>,
    prices: PriceTable,
    tx: Sender<Msg>,
) -> MonitorRuntime {
    let _ = tx.send(Msg::Source(Source::Own { catching_up: true }));
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
    let caught_up = {
        let tx = tx.clone();
        move |_: &ImportReport| {
            let _ = tx.send(Msg::Source(Source::Own { catching_up: false }));
        }
    };
    MonitorRuntime::machine(settings, store, prices)
        .on_caught_up(caught_up)
        .with_budget_alerts(notice)
        .with_sink(Screen { tx })
}

/// The screen as a sink: every update, and every new snapshot, becomes a [`Msg`].
struct Screen {
    tx: Sender<Msg>,
}

impl Sink for Screen {
    fn name(&self) -> &'static str {
        "screen"
    }

    fn callbacks(&mut self) -> Vec<Callback> {
        let tx = self.tx.clone();
        vec![Arc::new(move |update: &Update| {
            let _ = tx.send(Msg::Update(Box::new(update.clone())));
        })]
    }

    fn task(&mut self, ctx: &Context) -> Option<Task> {
        let (tx, cancel, mut snapshots) =
            (self.tx.clone(), ctx.cancel.clone(), ctx.snapshots.clone());
        Some(Box::pin(async move {
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    changed = snapshots.changed() => {
                        if changed.is_err() {
                            return Ok(());
                        }
                        let snapshot = snapshots.borrow_and_update().clone();
                        if tx.send(Msg::Snapshot(Box::new(snapshot))).is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Instant;

    use super::*;

    const TRANSCRIPT: &str = include_str!(
        "../../../cclive-core/tests/fixtures/transcript/2.1.332/7722e4d6-6225-48d6-899d-c1ae5948e72b.jsonl"
    );

    fn settings_in(home: &Path) -> Settings {
        let config = home.join("config.toml");
        let out = home.join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(
            &config,
            format!(
                "[[on_change]]\ncommand = \"cat > '{}'/$CCLIVE_EVENT.json\"\n",
                out.display()
            ),
        )
        .unwrap();
        let (home_s, claude) = (
            home.display().to_string(),
            home.join("claude").display().to_string(),
        );
        let env = move |k: &str| match k {
            "HOME" => Some(home_s.clone()),
            "CLAUDE_CONFIG_DIR" => Some(claude.clone()),
            _ => None,
        };
        Settings::resolve(&crate::config::Inputs {
            listen: None,
            global: &crate::cli::GlobalArgs {
                config: Some(config),
                ..Default::default()
            },
            session: None,
            env: &env,
        })
        .unwrap()
    }

    /// The drift `cclive top`'s own monitor had: no notifier (webhooks and `[[on_change]]`
    /// never fired) and no ingest figures. It is now the runtime `cclive watch` runs.
    #[test]
    fn on_change_commands_fire_and_ingest_is_counted_under_tops_own_monitor() {
        let home = tempfile::tempdir().unwrap();
        let settings = settings_in(home.path());
        let project = home.path().join("claude/projects/-tmp-demo");
        std::fs::create_dir_all(&project).unwrap();
        let store = Arc::new(SqliteStore::open(&home.path().join("cclive.db")).unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        let own = OwnMonitor::start(&settings, store, PriceTable::builtin(), tx, None).unwrap();

        // Only what comes after the catch-up goes through the monitor (and the notifier).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let msg = rx.recv_timeout(Duration::from_secs(30)).unwrap();
            if matches!(msg, Msg::Source(Source::Own { catching_up: false })) {
                break;
            }
        }
        std::fs::write(
            project.join("7722e4d6-6225-48d6-899d-c1ae5948e72b.jsonl"),
            TRANSCRIPT,
        )
        .unwrap();
        let started = home.path().join("out/session_started.json");
        while !std::fs::read_to_string(&started).is_ok_and(|t| t.ends_with('\n')) {
            assert!(
                Instant::now() < deadline,
                "no on_change command ran for session_started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let payload: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&started).unwrap()).unwrap();
        assert_eq!(payload["event"], "session_started");
        assert_eq!(
            payload["session"]["session_id"],
            "7722e4d6-6225-48d6-899d-c1ae5948e72b"
        );

        let (lines, bytes, _malformed) = own.stop();
        assert_eq!(lines, TRANSCRIPT.lines().count() as u64);
        assert_eq!(bytes, TRANSCRIPT.len() as u64);
    }
}
