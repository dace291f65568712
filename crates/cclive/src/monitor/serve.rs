//! The monitor served over HTTP: [`serve_monitor`], which `cclive watch` and `cclive dashboard`
//! run (the same monitor; the dashboard also announces its web page). The commands only turn
//! their flags into a [`Serve`]; this module never parses arguments.
//!
//! Binds the listen address first (so a second monitor fails at once, saying where the first
//! one is) and serves at once; catches up on the history (`import`, its progress on
//! `/api/import` and the page), then runs until Ctrl-C or SIGTERM: the transcript follower,
//! the liveness probe, the HTTP server (intake for hooks and `cclive run`, the JSON API, the
//! live stream and the dashboard pages), and the pipeline that folds it all
//! into the state file and the store. Every update the pipeline makes is also published to the
//! server's [`LiveHub`] for the live stream. Shutdown cancels the sources, lets the pipeline
//! drain, and writes the final state.
//!
//! Anything but a loopback address needs a token (`--token` or `CCLIVE_TOKEN`); every request
//! must then carry it (see `cclive_server`'s access rules).

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use cclive_core::{Event, Update};
use cclive_server::{Access, AppState, LiveHub, Parts, ServerConfig, Token};
use cclive_store::Store;
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::ingest::import::ImportReport;
use crate::monitor::client as monitor_client;
use crate::monitor::lock::{self as monitor_lock, Claim, MonitorLock, MonitorRecord};
use crate::monitor::pipeline::{Callback, EventSink};
use crate::monitor::runtime::{Context as MonitorContext, MonitorRuntime, shutdown_signal};

/// How the monitor is reached and announced: what `cclive watch` and `cclive dashboard` differ
/// in.
pub(crate) struct Serve {
    /// Where to listen.
    pub(crate) addr: SocketAddr,
    /// The name the user gave for the address (an IP or a host name): the server answers to it.
    pub(crate) bind_name: String,
    /// The token every request must carry, if any.
    pub(crate) token: Option<Token>,
    /// Started as `cclive dashboard`: say where the page is, and the flag to change the port.
    pub(crate) dashboard: bool,
    /// Open the page in the browser once it answers.
    pub(crate) open: bool,
}

impl Serve {
    /// The flag that picks another address, for messages.
    fn address_flag(&self) -> &'static str {
        if self.dashboard { "--port" } else { "--listen" }
    }

    /// The page's address as a user types it (a wildcard bind is reached on loopback).
    pub(crate) fn url(&self) -> String {
        let port = self.addr.port();
        match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => format!("http://127.0.0.1:{port}/"),
            IpAddr::V6(ip) if ip.is_unspecified() => format!("http://[::1]:{port}/"),
            IpAddr::V6(_) if self.bind_name.parse::<IpAddr>().is_ok() => {
                format!("http://[{}]:{port}/", self.addr.ip())
            }
            _ => format!("http://{}:{port}/", self.bind_name),
        }
    }
}

/// The token the command picked (`--token`, else `CCLIVE_TOKEN`), checked; refuses a
/// non-loopback address without one.
pub(crate) fn resolve_token(raw: Option<&str>, ip: IpAddr) -> anyhow::Result<Option<Token>> {
    let token = raw
        .filter(|t| !t.is_empty())
        .map(|t| Token::new(t).context("--token / CCLIVE_TOKEN"))
        .transpose()?;
    if token.is_none() && !ip.is_loopback() {
        bail!(
            "refusing to listen on {ip} without a token: anything but a loopback address needs \
             --token (or CCLIVE_TOKEN), which every request must then carry"
        );
    }
    Ok(token)
}

/// Runs the monitor and its HTTP server until Ctrl-C or SIGTERM.
pub(crate) fn serve_monitor(settings: Settings, serve: Serve) -> anyhow::Result<ExitCode> {
    // One monitor per data dir, before anything is read.
    let lock = match monitor_lock::claim(&settings.db.value)
        .with_context(|| format!("locking {}", settings.db.value.display()))?
    {
        Claim::Acquired(lock) => lock,
        Claim::Held(holder) => return another_monitor_runs(&settings, &serve, holder.as_ref()),
    };
    let store = settings.open_store()?;
    // The server reads the history on a connection of its own, so it never waits for the
    // writer's (WAL readers do not block).
    let server_store: Arc<dyn Store> = settings.open_store()?;
    let prices = settings.prices()?;
    // Team mode: the uploader reads the outbox on a connection of its own.
    let team = crate::team::start_agent(&settings, settings.open_store()?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(watch_main(
        settings,
        serve,
        lock,
        store,
        server_store,
        prices,
        team,
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// A monitor already runs for this data dir: `watch` says which and fails; `dashboard` points
/// to its page (opening it when asked) instead of starting a second one.
fn another_monitor_runs(
    settings: &Settings,
    serve: &Serve,
    holder: Option<&MonitorRecord>,
) -> anyhow::Result<ExitCode> {
    let who = holder.map_or_else(
        || "its record is unreadable".to_owned(),
        MonitorRecord::describe,
    );
    let db = settings.db.value.display();
    match holder.and_then(|h| h.url.clone()) {
        Some(url) if serve.dashboard => {
            eprintln!("cclive: a monitor already runs for {db} ({who}); its dashboard is at {url}");
            if serve.open {
                open_url(&url, url.clone());
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => bail!(
            "a cclive monitor already runs for {db} ({who}); one monitor per data dir — use \
             that one, or stop it first"
        ),
    }
}

async fn watch_main(
    settings: Settings,
    serve: Serve,
    mut lock: MonitorLock,
    store: Arc<cclive_store::SqliteStore>,
    server_store: Arc<dyn Store>,
    prices: cclive_core::PriceTable,
    team: Option<crate::team::TeamSink>,
) -> anyhow::Result<()> {
    let addr = serve.addr;
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            bail!("{}", already_running(&serve));
        }
        Err(e) => return Err(e).with_context(|| format!("listening on {addr}")),
    };
    tracing::info!(%addr, "Listening.");
    if let Err(e) = lock.set_url(&serve.url()) {
        tracing::warn!("Cannot record where this monitor listens: {e}");
    }

    let live = LiveHub::default();
    let publish: Callback = {
        let live = live.clone();
        Arc::new(move |update: &Update| live.publish(update))
    };
    // Budget gauges read the history on the server's connection, like the API.
    let budget_metrics =
        crate::sinks::budget_watch::metric_source(&settings, server_store.clone(), &prices);
    // The dashboard's block, budget and limits panel, the same way.
    let limits =
        crate::sinks::budget_watch::limits_source(&settings, server_store.clone(), &prices);
    let server_config = ServerConfig {
        access: Access::new(&serve.bind_name, addr.ip(), serve.token.clone()),
        // A positive number of seconds (checked by config).
        refresh_interval: Duration::try_from_secs_f64(settings.refresh_interval_secs.value)
            .unwrap_or(Duration::from_secs(2)),
        prices: prices.clone(),
        time_zone: crate::config::system_zone(),
        ..ServerConfig::default()
    };
    let dirs = settings.claude_config_dirs.value.clone();
    let announce = {
        let (url, dashboard, token) = (serve.url(), serve.dashboard, serve.token.is_some());
        move |report: &ImportReport| {
            eprintln!(
                "cclive: watching {} ({} transcripts, {} read now) — listening on http://{addr}",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                report.files,
                report.files_read
            );
            if dashboard {
                eprintln!("cclive: dashboard at {url}");
                if token {
                    eprintln!(
                        "cclive: the first time, open it with ?token=<your token> (the browser \
                         keeps it)"
                    );
                }
            }
        }
    };
    let open = serve.open;
    let mut runtime = MonitorRuntime::machine(&settings, store, prices)
        .import_progress(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .on_caught_up(announce)
        .with_callback(publish)
        // Budget alerts go to stderr too.
        .with_budget_alerts(crate::sinks::budget_watch::print_sink())
        // And to the live stream's `budget` event: editors (the VS Code extension) notify from it.
        .with_budget_alerts({
            let live = live.clone();
            Arc::new(move |alert: &cclive_core::budget::BudgetAlert| {
                live.publish_budget_alert(alert);
            })
        })
        // HTTP: intake → pipeline; the API, the live stream and the pages.
        .with_service("http server", move |ctx: &MonitorContext| {
            let (intake_tx, intake_rx) = mpsc::channel::<Event>(4096);
            let state = AppState::with_sources(
                Parts {
                    events: intake_tx,
                    snapshot: ctx.snapshots.clone(),
                    live,
                    store: server_store,
                    config: server_config,
                },
                cclive_server::MetricSources {
                    limits: Some(limits),
                    import: Some(ctx.import.clone()),
                    ..metric_sources(&ctx.ingest, &ctx.notify_stats, budget_metrics)
                },
            );
            let (events, shutdown) = (ctx.events.clone(), ctx.cancel.clone());
            Box::pin(async move {
                let forwarding = tokio::spawn(forward(intake_rx, events));
                if open {
                    open_in_browser(&serve);
                }
                let served = cclive_server::serve(listener, state, async move {
                    shutdown.cancelled().await;
                })
                .await
                .context("the HTTP server stopped");
                // The server dropped its intake sender: the forwarder ends with it.
                let _ = forwarding.await;
                served
            })
        });
    if let Some(team) = team {
        runtime = runtime.with_sink(team);
    }
    let report = runtime
        .run(async {
            shutdown_signal().await;
            eprintln!("cclive: stopping…");
        })
        .await?;
    if report.pipeline.unsaved {
        eprintln!(
            "cclive: warning: the last changes could not be written to {}",
            settings.db.value.display()
        );
    }
    Ok(())
}

/// What `/metrics` and `/api/integrations` read besides the snapshot and the store: the
/// follower's counters, every webhook's and on_change command's figures (redacted when the
/// sinks were made), and the budgets' use, evaluated per scrape.
fn metric_sources(
    ingest: &cclive_server::IngestCounters,
    stats: &crate::sinks::notify::NotifyStats,
    budgets: Option<cclive_server::BudgetSource>,
) -> cclive_server::MetricSources {
    let stats = stats.clone();
    let reports: cclive_server::IntegrationsSource = Arc::new(move || stats.snapshot());
    cclive_server::MetricSources {
        ingest: Some(ingest.clone()),
        deliveries: Some({
            let reports = reports.clone();
            Arc::new(move || {
                reports()
                    .iter()
                    .map(cclive_server::SinkReport::counts)
                    .collect()
            })
        }),
        integrations: Some(reports),
        budgets,
        otlp: None,
        limits: None,
        import: None,
    }
}

/// What to say when the address is taken: a cclive there (with its pid, or needing a token),
/// or another program.
fn already_running(serve: &Serve) -> String {
    let addr = serve.addr;
    let flag = serve.address_flag();
    let token = serve.token.as_ref().map(Token::expose);
    let answer = monitor_client::get(
        &addr.to_string(),
        token,
        "/healthz",
        Duration::from_millis(300),
    )
    .ok();
    let ours = |body: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .filter(|v| {
                v["service"] == "cclive"
                    || v["error"].as_str().is_some_and(|e| e.contains("cclive"))
            })
    };
    let what = if serve.dashboard {
        "a cclive dashboard"
    } else {
        "a cclive monitor"
    };
    match answer {
        Some(r) if r.status == 200 => match ours(&r.body) {
            Some(v) => format!(
                "{what} is already running at {} (pid {}); open that, stop it, or pick another \
                 address with {flag}",
                serve.url(),
                v["pid"]
            ),
            None => {
                format!("{addr} is in use by another program; pick another address with {flag}")
            }
        },
        Some(r) if r.status == 401 && ours(&r.body).is_some() => format!(
            "{what} that needs a token is already running at {}; open that, stop it, or pick \
             another address with {flag}",
            serve.url()
        ),
        _ => format!("{addr} is in use by another program; pick another address with {flag}"),
    }
}

/// Opens the page with `xdg-open` (detached, in its own process group so Ctrl-C here leaves
/// the browser alone; never waited for here), else prints where it is. With a token, the
/// address carries it once; the page then keeps it in a cookie and drops it from the address.
fn open_in_browser(serve: &Serve) {
    let url = serve.url();
    let target = match &serve.token {
        Some(token) => format!("{url}?token={}", token.expose()),
        None => url.clone(),
    };
    open_url(&url, target);
}

/// Opens `target` with `xdg-open`, else prints `url`.
fn open_url(url: &str, target: String) {
    use std::os::unix::process::CommandExt as _;
    use std::process::{Command, Stdio};
    let spawned = Command::new("xdg-open")
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        Ok(mut child) => {
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        Err(_) => eprintln!("cclive: open {url} in your browser"),
    }
}

async fn forward(mut rx: mpsc::Receiver<Event>, sink: EventSink) {
    while let Some(event) = rx.recv().await {
        if !sink.send(event).await {
            return;
        }
    }
}
