//! `cclive top`: the terminal dashboard ([`crate::tui`]).
//!
//! Picks the live source: the running monitor's stream when one answers at the listen address
//! (`GET /healthz` says cclive), else the monitor in this process (without its HTTP server). The
//! history comes from the database either way, on a reader thread. While the screen is up,
//! nothing may print: logs go to `top.log` beside the database (warnings unless `-v` or
//! `CCLIVE_LOG` asks for more).

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use cclive_core::plans::Plan;
use cclive_store::Store;
use tracing_subscriber::EnvFilter;

use crate::cli::{GlobalArgs, TopArgs};
use crate::config::Settings;
use crate::monitor::client as monitor_client;
use crate::monitor::lock::{Claim, MonitorRecord};
use crate::tui::app::{App, Source};
use crate::tui::runner::OwnMonitor;

/// How long to wait for a running monitor to say it is there.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(300);

pub(super) fn run(
    args: &TopArgs,
    settings: &Settings,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        bail!(
            "cclive top draws on a terminal, and stdout is not one; `cclive status`, `cclive \
             sessions` and `cclive report` print text"
        );
    }
    init_logging(settings, global.verbose);
    let prices = settings.prices()?;
    let budget = settings.budget.value.clone();
    let mut listen = settings.listen.value.clone();
    let token = settings.client_token();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut following = !args.own_monitor
        && monitor_client::monitor_answers(&listen, token, HEALTH_TIMEOUT).is_ok();
    // The monitor of this data dir may listen elsewhere (its lock records where): attach to it.
    let running = crate::monitor::lock::running(&settings.db.value);
    if !following
        && !args.own_monitor
        && let Some(addr) = running.as_ref().and_then(MonitorRecord::addr)
        && monitor_client::monitor_answers(&addr, token, HEALTH_TIMEOUT).is_ok()
    {
        listen = addr;
        following = true;
    }
    // Else this screen runs the monitor: one per data dir.
    let _lock = if following {
        None
    } else {
        match crate::monitor::lock::claim(&settings.db.value)? {
            Claim::Acquired(lock) => Some(lock),
            Claim::Held(holder) => bail!(
                "a cclive monitor already runs for {} ({}) and cannot be attached to; stop it, \
                 or run `cclive watch` and start `cclive top` again to share it",
                settings.db.value.display(),
                holder.map_or_else(|| "its record is unreadable".to_owned(), |h| h.describe())
            ),
        }
    };
    let (source, own, reader_store): (Source, Option<OwnMonitor>, Option<Arc<dyn Store>>) =
        if following {
            let token = token.map(str::to_owned);
            let (tx, addr) = (tx.clone(), listen.clone());
            std::thread::Builder::new()
                .name("cclive-top-stream".into())
                .spawn(move || crate::tui::stream::follow(&addr, token.as_deref(), &tx))
                .context("starting the stream reader")?;
            let store = settings.open_existing_store()?.map(|s| s as Arc<dyn Store>);
            (
                Source::Following {
                    addr: listen,
                    connected: true,
                },
                None,
                store,
            )
        } else {
            let store = settings.open_store()?;
            // Team mode: the uploader reads the outbox on a connection of its own.
            let team = crate::team::start_agent_quietly(settings, settings.open_store()?)?;
            let own = OwnMonitor::start(settings, store, prices.clone(), tx.clone(), team)?;
            // The screen reads on a connection of its own, so it never waits for the writer.
            let reader = settings.open_store()? as Arc<dyn Store>;
            (Source::Own { catching_up: true }, Some(own), Some(reader))
        };
    let requests = crate::tui::spawn_reader(
        reader_store,
        budget.budget.clone(),
        prices,
        budget.time_zone(),
        tx.clone(),
    )?;
    crate::tui::spawn_signal_watch(tx.clone());
    let mut app = App::new(source, jiff::Timestamp::now());
    app.plan = args
        .plan
        .or((args.plan_tokens.is_some() || args.plan_cost.is_some()).then_some(Plan::Custom));
    app.custom_tokens = args.plan_tokens;
    app.custom_cost_usd = args.plan_cost.filter(|c| c.is_finite() && *c > 0.0);
    let result = crate::tui::run_terminal(app, tx, &rx, &requests);
    if let Some(own) = own {
        let (lines, bytes, malformed) = own.stop();
        tracing::info!(lines, bytes, malformed, "The monitor read transcripts.");
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Logs to `top.log` beside the database, never to the terminal the screen is on.
fn init_logging(settings: &Settings, verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "cclive=debug,cclive_core=debug,cclive_store=debug,warn",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("CCLIVE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let Some(dir) = settings
        .db
        .value
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    else {
        return;
    };
    let file = std::fs::create_dir_all(dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("top.log"))
    });
    // No file: no logs (never the screen).
    if let Ok(file) = file {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .with_target(false)
            .try_init();
    }
}
