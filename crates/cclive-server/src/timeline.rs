//! A session's timeline for its page, and its performance analytics: thin wrappers that give
//! the core's pure rules ([`cclive_core::turns`], [`cclive_core::analytics`]) the session's
//! stored events, its state and the price table, and the JSON shape the page reads.
//!
//! The rules themselves (what a turn is, how a response or a tool call counts once, where the
//! time went) live in the core, shared with `cclive top` and `cclive report tools`; this module
//! must not grow its own.

use cclive_core::analytics::{self, SessionAnalytics};
use cclive_core::turns::{self, Turn};
use cclive_core::{CostSource, Event, PriceTable, SessionState};
use serde::Serialize;

/// The whole timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Timeline {
    pub(crate) session_id: String,
    /// Oldest first.
    pub(crate) turns: Vec<Turn>,
    /// How many stored events it was built from.
    pub(crate) events: usize,
    /// What the turns' costs are: `reported` when they are shares of Claude Code's own total
    /// (they add up to the session's cost), else `estimated` from the price table.
    pub(crate) cost_source: CostSource,
}

/// Groups `events` (in stored order) of `session` into turns.
pub(crate) fn build(session: &SessionState, events: &[Event], prices: &PriceTable) -> Timeline {
    let mut turns = turns::build(events, session.model.as_deref(), prices);
    let shared = turns::share_reported_cost(session, &mut turns);
    Timeline {
        session_id: session.session_id.to_string(),
        turns,
        events: events.len(),
        cost_source: if shared {
            CostSource::Reported
        } else {
            CostSource::Estimated
        },
    }
}

/// Where `session`'s time and money went.
pub(crate) fn analytics(
    session: &SessionState,
    events: &[Event],
    prices: &PriceTable,
) -> SessionAnalytics {
    analytics::analyze(session, events, prices)
}
