//! `cclive watch`: the long-running monitor.
//!
//! Binds the listen address first (so a second monitor fails at once, saying where the first
//! one is), catches up on the history (`import`), then runs until Ctrl-C or SIGTERM: the
//! transcript follower, the liveness probe, the HTTP intake for hooks and `cclive run`, and the
//! pipeline that folds it all into the state file and the store. Shutdown cancels the sources,
//! lets the pipeline drain, and writes the final state.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use cclive_core::{Event, Snapshot};
use cclive_server::AppState;
use cclive_store::{SessionQuery, Store};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::{GlobalArgs, WatchArgs};
use crate::config::Settings;
use crate::ingest::follow;
use crate::ingest::import::{self, ImportOptions};
use crate::ingest::liveness::{GRACE, LivenessProbe};
use crate::monitor_client;
use crate::pipeline::{self, EventSink, PipelineConfig};

/// Fastest the liveness probe runs again after a poke.
const PROBE_MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Slowest: the probe runs at least this often.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

pub(super) fn run(args: &WatchArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_process_listen(global, args.listen.as_deref())?;
    let addr: SocketAddr =
        settings.listen.value.parse().with_context(|| {
            format!("listen address {:?} is not IP:PORT", settings.listen.value)
        })?;
    if !addr.ip().is_loopback() {
        bail!(
            "refusing to listen on {addr}: only loopback addresses are allowed until token authentication exists"
        );
    }
    let store = super::open_store(&settings)?;
    let prices = super::load_prices(&settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(watch_main(settings, addr, store, prices))?;
    Ok(ExitCode::SUCCESS)
}

async fn watch_main(
    settings: Settings,
    addr: SocketAddr,
    store: Arc<cclive_store::SqliteStore>,
    prices: cclive_core::PriceTable,
) -> anyhow::Result<()> {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let pid =
                monitor_client::get(&addr.to_string(), "/healthz", Duration::from_millis(300))
                    .ok()
                    .filter(|r| r.status == 200)
                    .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
                    .filter(|v| v["service"] == "cclive")
                    .map(|v| v["pid"].to_string());
            match pid {
                Some(pid) => bail!(
                    "a cclive monitor is already running at http://{addr} (pid {pid}); use it, stop it, or pick another address with --listen"
                ),
                None => {
                    bail!("{addr} is in use by another program; pick another address with --listen")
                }
            }
        }
        Err(e) => return Err(e).with_context(|| format!("listening on {addr}")),
    };
    tracing::info!(%addr, "Listening.");

    let dirs = settings.claude_config_dirs.value.clone();
    let report = {
        let (dirs, store, prices) = (dirs.clone(), store.clone(), prices.clone());
        let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
        tokio::task::spawn_blocking(move || {
            import::import(
                &dirs,
                &*store,
                &prices,
                &ImportOptions {
                    progress,
                    ..ImportOptions::default()
                },
            )
        })
        .await??
    };
    eprintln!(
        "cclive: watching {} ({} transcripts, {} read now) — listening on http://{addr}",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        report.files,
        report.files_read
    );

    let mut initial = Vec::new();
    for s in store.sessions(&SessionQuery {
        live_only: true,
        ..SessionQuery::default()
    })? {
        if let Some(full) = store.session(&s.session_id)? {
            initial.push(full);
        }
    }
    let (snap_tx, snap_rx) = watch::channel(Snapshot::inactive(jiff::Timestamp::now()));
    let (sink, pipeline_task) = pipeline::spawn(PipelineConfig {
        state_file: Some(settings.state_file.value.clone()),
        store: Some(store.clone() as Arc<dyn Store>),
        prices,
        snapshots: Some(snap_tx),
        initial_sessions: initial,
        ..PipelineConfig::default()
    })?;

    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let poke = Arc::new(Notify::new());

    // HTTP intake → pipeline.
    let (intake_tx, intake_rx) = mpsc::channel::<Event>(4096);
    tasks.spawn(forward(intake_rx, sink.clone()));
    {
        let shutdown = cancel.clone();
        tasks.spawn(async move {
            if let Err(e) =
                cclive_server::serve(listener, AppState::new(intake_tx, snap_rx), async move {
                    shutdown.cancelled().await;
                })
                .await
            {
                tracing::error!("The HTTP server stopped: {e}");
            }
        });
    }
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
    tasks.close();
    drop(sink);

    shutdown_signal().await;
    eprintln!("cclive: stopping…");
    cancel.cancel();
    tasks.wait().await;
    let report = pipeline_task.await.context("the monitor task failed")?;
    if report.unsaved {
        eprintln!(
            "cclive: warning: the last changes could not be written to {}",
            settings.db.value.display()
        );
    }
    Ok(())
}

async fn forward(mut rx: mpsc::Receiver<Event>, sink: EventSink) {
    while let Some(event) = rx.recv().await {
        if !sink.send(event).await {
            return;
        }
    }
}

async fn probe_loop(
    dirs: Vec<std::path::PathBuf>,
    sink: EventSink,
    poke: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut probe = LivenessProbe::new(dirs);
    loop {
        let live = sink.sync().await;
        let events =
            tokio::task::block_in_place(|| probe.scan(&live, jiff::Timestamp::now(), GRACE));
        for event in events {
            tracing::debug!(session = %event.session_id, kind = ?event.kind, "Liveness changed.");
            if !sink.send(event).await {
                return;
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(PROBE_INTERVAL) => {}
            () = poke.notified() => tokio::time::sleep(PROBE_MIN_INTERVAL).await,
        }
    }
}

async fn shutdown_signal() {
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
