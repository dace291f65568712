//! Recording a hook payload in the store when no monitor takes it.
//!
//! `cclive hook` calls [`record`] after its POST to the monitor failed or timed out, so users who
//! install command hooks get their sessions' start, turns and end recorded even while no monitor
//! runs. The payload becomes the same events the monitor would make of it; they are folded into
//! the session as stored (read back with its ledger, so nothing counts twice) and written back
//! with the events in one transaction. Nothing is printed: Claude Code reads hook stdout.
//!
//! The store gets [`STORE_BUDGET`] to take them (another writer may hold the database; it may be
//! read-only or damaged): what it cannot take goes to the hook spool ([`crate::ingest::hook_spool`]),
//! which the next monitor or import drains. A hook never waits for the database.

use std::time::Duration;

use anyhow::Context as _;
use cclive_core::{Event, PriceTable, SessionState};
use cclive_store::{Batch, Store};

use crate::config::Settings;

/// Longest a hook waits for another writer of the database.
const STORE_BUDGET: Duration = Duration::from_millis(40);

/// Where a payload's events went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// Nothing to record.
    Nothing,
    /// Into the store.
    Store,
    /// Into the spool (the store could not take them now).
    Spool,
}

/// Records one raw hook payload (the JSON Claude Code wrote on the hook's stdin) in the store,
/// else in the spool. An error: the payload is unreadable, or neither could take it.
pub(crate) fn record(settings: &Settings, payload: &[u8]) -> anyhow::Result<Recorded> {
    let mut parsed = cclive_core::hook::parse_payload(payload)?;
    if parsed.entrypoint.is_none() {
        parsed.entrypoint = crate::config::env::claude_code_entrypoint();
    }
    let at = jiff::Timestamp::now();
    let events: Vec<Event> = cclive_core::hook::to_events(&parsed)
        .into_iter()
        .map(|kind| Event::new(parsed.session_id.clone(), at, kind))
        .collect();
    if events.is_empty() {
        return Ok(Recorded::Nothing);
    }
    match write_store(settings, &parsed.session_id, &events, at) {
        Ok(()) => Ok(Recorded::Store),
        Err(e) => {
            tracing::debug!(
                error = format!("{e:#}"),
                "The store did not take the hook's events; spooled."
            );
            crate::ingest::hook_spool::append(&settings.db.value, &events)
                .context("appending to the hook spool")?;
            Ok(Recorded::Spool)
        }
    }
}

fn write_store(
    settings: &Settings,
    session_id: &cclive_core::SessionId,
    events: &[Event],
    at: jiff::Timestamp,
) -> anyhow::Result<()> {
    let store = settings.open_store()?;
    store.set_busy_timeout(STORE_BUDGET)?;
    let prices = settings.prices().unwrap_or_else(|_| PriceTable::builtin());
    let mut session = store
        .session(session_id)?
        .unwrap_or_else(|| SessionState::new(session_id.clone(), at));
    for event in events {
        session.apply(event, &prices);
    }
    store.write(&Batch {
        sessions: vec![session],
        events: events.to_vec(),
        ..Batch::default()
    })?;
    Ok(())
}
