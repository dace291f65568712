//! Team mode, the agent side: the local monitor forwarding what it stores to `cclive server`.
//!
//! The local history stays the source of truth. The store's outbox (filled in the data's own
//! transactions while team mode is on) is read by the [`upload`] worker, turned into protocol
//! items by [`items`] (which decides what is shared: no prompt text unless `share_prompts`) and
//! pushed by [`client`]. Nothing here may block or slow the monitor: the worker is a thread of
//! its own with its own database connection, and the monitor only ever pokes it.

pub(crate) mod client;
pub(crate) mod items;
pub(crate) mod upload;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use cclive_core::team::MachineInfo;
use cclive_store::SqliteStore;

use crate::config::Settings;
use crate::monitor::runtime::Sink;
use client::TeamToken;
use upload::{UploadSettings, Uploader};

/// How often an idle agent tells the server it is alive.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// The longest wait between attempts while the server is unreachable (`CCLIVE_TEAM_RETRY_MAX_MS`
/// lowers it, for tests that take a server away and bring it back).
const RETRY_CAP: Duration = Duration::from_secs(15);

/// How long a stopping monitor still tries to push the final states.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// The uploader as a sink of the monitor runtime: woken after each commit, stopped (after one
/// last, bounded push) once the pipeline has drained.
pub(crate) struct TeamSink(Uploader);

impl Sink for TeamSink {
    fn name(&self) -> &'static str {
        "team upload"
    }

    fn after_commit(&mut self) -> Option<Arc<dyn Fn() + Send + Sync>> {
        let poke = self.0.poker();
        Some(Arc::new(move || poke.poke()))
    }

    fn finish(self: Box<Self>) {
        self.0.stop(STOP_GRACE);
    }
}

/// Starts forwarding when team mode is configured; otherwise makes sure the outbox is off (a
/// monitor without team mode pays nothing). `store` is a connection of the uploader's own.
/// Says on stderr where it forwards.
pub(crate) fn start_agent(
    settings: &Settings,
    store: Arc<SqliteStore>,
) -> anyhow::Result<Option<TeamSink>> {
    start(settings, store, true)
}

/// [`start_agent`] for a monitor under a full-screen view (`cclive top`'s own): the terminal
/// belongs to the screen, so where it forwards goes to the log only.
pub(crate) fn start_agent_quietly(
    settings: &Settings,
    store: Arc<SqliteStore>,
) -> anyhow::Result<Option<TeamSink>> {
    start(settings, store, false)
}

fn start(
    settings: &Settings,
    store: Arc<SqliteStore>,
    announce: bool,
) -> anyhow::Result<Option<TeamSink>> {
    let team = &settings.team.value;
    let Some(upstream) = team.upstream.clone() else {
        if store.team_agent()?.is_some_and(|state| state.enabled) {
            store.disable_team_outbox()?;
            tracing::info!("Team mode is off: the outbox was emptied.");
        }
        return Ok(None);
    };
    if !(upstream.starts_with("http://") || upstream.starts_with("https://")) {
        bail!(
            "the team upstream {} is not an http:// or https:// URL",
            crate::sinks::notify::settings::redact_url(&upstream)
        );
    }
    let path = team
        .token_file
        .as_ref()
        .context("team mode needs a token file (--token-file or team.token_file)")?;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the team token file {}", path.display()))?;
    let token = TeamToken::new(&text).with_context(|| {
        format!(
            "the team token file {} is empty; put the token `cclive team user add` printed in it",
            path.display()
        )
    })?;
    let state = store.enable_team_outbox()?;
    let retry_cap = crate::config::env::team_retry_cap().unwrap_or(RETRY_CAP);
    let machine = MachineInfo {
        id: state.machine_id.clone(),
        hostname: upload::hostname(),
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let upstream_shown = crate::sinks::notify::settings::redact_url(&upstream);
    if announce {
        eprintln!(
            "cclive: forwarding to the team server {upstream_shown} as machine {} ({} pending)",
            state.machine_id, state.pending
        );
    } else {
        tracing::info!(
            machine = %state.machine_id,
            pending = state.pending,
            "Forwarding to the team server {upstream_shown}."
        );
    }
    let uploader = Uploader::spawn(
        store,
        UploadSettings {
            upstream,
            token,
            share_prompts: team.share_prompts,
            heartbeat: HEARTBEAT,
            retry_cap,
        },
        machine,
    )?;
    Ok(Some(TeamSink(uploader)))
}
