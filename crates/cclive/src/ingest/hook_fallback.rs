//! Recording a hook payload in the store when no monitor takes it.
//!
//! `cclive hook` calls [`record`] after its POST to the monitor failed or timed out, so users who
//! install command hooks get their sessions' start, turns and end recorded even while no monitor
//! runs. The payload becomes the same events the monitor would make of it; they are folded into
//! the session as stored (read back with its ledger, so nothing counts twice) and written back
//! with the events in one transaction. Nothing is printed: Claude Code reads hook stdout.

use cclive_core::{Event, PriceTable, SessionState};
use cclive_store::{Batch, Store};

use crate::config::Settings;

/// Records one raw hook payload (the JSON Claude Code wrote on the hook's stdin) in the store.
pub(crate) fn record(settings: &Settings, payload: &[u8]) -> anyhow::Result<()> {
    let mut parsed = cclive_core::hook::parse_payload(payload)?;
    if parsed.entrypoint.is_none() {
        parsed.entrypoint = std::env::var("CLAUDE_CODE_ENTRYPOINT").ok();
    }
    let at = jiff::Timestamp::now();
    let events: Vec<Event> = cclive_core::hook::to_events(&parsed)
        .into_iter()
        .map(|kind| Event::new(parsed.session_id.clone(), at, kind))
        .collect();
    if events.is_empty() {
        return Ok(());
    }
    let store = crate::cmd::open_store_for(settings)?;
    let prices = crate::cmd::load_prices(settings).unwrap_or_else(|_| PriceTable::builtin());
    let mut session = store
        .session(&parsed.session_id)?
        .unwrap_or_else(|| SessionState::new(parsed.session_id.clone(), at));
    for event in &events {
        session.apply(event, &prices);
    }
    store.write(&Batch {
        sessions: vec![session],
        events,
        ..Batch::default()
    })?;
    Ok(())
}
