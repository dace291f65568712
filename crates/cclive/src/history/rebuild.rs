//! Sessions rebuilt from their stored events, when the session rows themselves were lost (a
//! damaged database, `cclive db recover`): the events are folded again exactly as the monitor
//! folded them live, and the states, the events and their usage rows are stored in one batch.
//! Nothing else is read or written here.

use anyhow::Context;
use cclive_core::{Event, Monitor, PriceTable, SessionState};
use cclive_store::{Batch, Store, UsageRow};

/// Folds `events` (in the order they were stored) into sessions and stores them with their
/// events and usage. Returns how many sessions were rebuilt.
pub(crate) fn sessions_from_events(
    store: &dyn Store,
    events: &[Event],
    prices: &PriceTable,
) -> anyhow::Result<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let mut monitor = Monitor::new(prices.clone());
    let mut kept = Vec::with_capacity(events.len());
    for event in events {
        let event = event.clone().screened();
        monitor.apply(&event);
        // As the live pipeline: an event is kept only with a session to belong to.
        if monitor.contains(&event.session_id) {
            kept.push(event);
        }
    }
    let sessions: Vec<SessionState> = monitor.sessions().cloned().collect();
    let usage: Vec<UsageRow> = sessions.iter().flat_map(UsageRow::of_session).collect();
    let rebuilt = sessions.len();
    store
        .write(&Batch {
            sessions,
            events: kept,
            usage,
            ..Batch::default()
        })
        .context("storing the sessions rebuilt from their events")?;
    Ok(rebuilt)
}

#[cfg(test)]
mod tests {
    use cclive_core::{EventKind, Mode, SessionId, Tokens};
    use cclive_store::{SessionQuery, SqliteStore};

    use super::*;

    #[test]
    fn a_session_comes_back_from_its_events_with_its_figures() {
        let at = |s: i64| jiff::Timestamp::from_second(1_795_600_000 + s).unwrap();
        let id = SessionId::new("s1");
        let events = vec![
            Event::new(
                id.clone(),
                at(0),
                EventKind::SessionStarted {
                    mode: Mode::Print,
                    command: None,
                    cwd: Some("/w".into()),
                    project_path: Some("/w".into()),
                    session_type: None,
                    source: "wrapper".into(),
                },
            ),
            Event::new(
                id.clone(),
                at(1),
                EventKind::Usage {
                    key: "msg_1".into(),
                    request_id: None,
                    reported_cost_usd: None,
                    model: Some("claude-sonnet-4-5".into()),
                    tokens: Tokens {
                        input: 100,
                        output: 7,
                        ..Tokens::default()
                    },
                    is_final: true,
                    sidechain: false,
                },
            ),
        ];
        let store = SqliteStore::open_in_memory().unwrap();
        let n = sessions_from_events(&store, &events, &PriceTable::builtin()).unwrap();
        assert_eq!(n, 1);
        let listed = store.sessions(&SessionQuery::default()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].tokens.output, 7);
        assert_eq!(store.events(&id).unwrap().len(), 2);
        assert_eq!(store.usage_owner("msg_1").unwrap(), Some(id));
        assert_eq!(
            sessions_from_events(&store, &[], &PriceTable::builtin()).unwrap(),
            0
        );
    }
}
