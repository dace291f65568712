//! `cclive server`: team mode's central server. Connects to PostgreSQL (applying the schema
//! migrations), then serves the team page and API (`cclive_server::team`) until Ctrl-C or
//! SIGTERM.
//!
//! Every route needs a user's token: there is no tokenless loopback intake here, so a reverse
//! proxy on the same host gives nobody a way in. This file only resolves flags, the environment
//! and the `[server]` table into a listener and a store.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use anyhow::{Context, bail};
use cclive_server::Access;
use cclive_server::team::{self, TeamConfig, TeamState};
use cclive_team_store::TeamStore;

use crate::cli::ServerArgs;
use crate::config::Settings;

/// The most often team budgets are checked (a check follows the first push after a quiet spell
/// at once).
const BUDGET_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The team server's default address: loopback, next to the local dashboard's 8501.
pub(crate) const DEFAULT_SERVER_LISTEN: &str = "127.0.0.1:8601";

pub(super) fn run(args: &ServerArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let url = settings
        .server
        .database_url_or(args.database.database_url.as_deref())?;
    let listen = args
        .listen
        .clone()
        .or_else(|| settings.server.listen.clone())
        .unwrap_or_else(|| DEFAULT_SERVER_LISTEN.to_owned());
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("--listen {listen}: expected IP:PORT, e.g. 0.0.0.0:8601"))?;
    let tls = match (
        args.tls_cert
            .clone()
            .or_else(|| settings.server.tls_cert.clone()),
        args.tls_key
            .clone()
            .or_else(|| settings.server.tls_key.clone()),
    ) {
        (Some(cert), Some(key)) => Some(team::tls_acceptor(&cert, &key)?),
        (None, None) => None,
        _ => bail!("HTTPS needs both a certificate and its key (--tls-cert and --tls-key)"),
    };
    let mut hosts = args.public_host.clone();
    hosts.extend(settings.server.public_host.iter().cloned());
    let prices = settings.prices()?;
    let time_zone = settings.budget.value.time_zone();
    // Team budget alerts go through the configured webhooks and on_change commands.
    let notifier = crate::sinks::notify::Notifier::from_settings(settings)?;
    let alerts = (notifier.alert_sink(), BUDGET_CHECK_EVERY);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let store = TeamStore::connect(&url)
            .await
            .context("opening the team database")?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let local = listener.local_addr().unwrap_or(addr);
        let config = TeamConfig {
            access: access(local.ip(), &hosts),
            prices,
            time_zone,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        // Tests and scripts read this line to learn the port (with --listen …:0).
        println!("cclive server listening on {scheme}://{local}");
        tracing::info!(%local, scheme, "The team server is listening.");
        let state = TeamState::with_alerts(store, config, Some(alerts));
        let shutdown = crate::monitor::runtime::shutdown_signal();
        match tls {
            Some(acceptor) => team::serve_tls(listener, acceptor, state, shutdown).await,
            None => team::serve(listener, state, shutdown).await,
        }
        .context("serving")
    })?;
    notifier.shutdown(std::time::Duration::from_secs(5));
    Ok(ExitCode::SUCCESS)
}

/// The Host names the server answers to: its address, loopback names, and each public host.
fn access(ip: IpAddr, hosts: &[String]) -> Access {
    let mut access = Access::new(&ip.to_string(), ip, None);
    for host in hosts {
        access = access.with_host(host);
    }
    access
}
