//! Store rows → the core's report inputs: each usage row becomes a
//! [`UsageRecord`] carrying its session's project, and each stored session a [`SessionInfo`]
//! with Claude Code's reported cost. Shared by `cclive report`, `cclive budget` and the budget
//! watcher, so every one of them attributes usage the same way.

use std::collections::HashMap;

use cclive_core::SessionId;
use cclive_core::report::{SessionInfo, UsageRecord};
use cclive_store::{Store, StoreError};
use jiff::Timestamp;

/// The usage in `[since, until)` as records, and every stored session's info.
pub(crate) fn load(
    store: &dyn Store,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<(Vec<UsageRecord>, Vec<SessionInfo>), StoreError> {
    let sessions: Vec<SessionInfo> = store
        .session_summaries()?
        .into_iter()
        .map(|s| SessionInfo {
            project: s.project().map(str::to_owned),
            reported_cost_usd: s.reported_cost_usd(),
            session_id: s.session_id,
        })
        .collect();
    let projects: HashMap<&SessionId, &str> = sessions
        .iter()
        .filter_map(|s| Some((&s.session_id, s.project.as_deref()?)))
        .collect();
    let records = store
        .usage_rows(since, until)?
        .into_iter()
        .map(|row| UsageRecord {
            project: projects.get(&row.session_id).map(|p| (*p).to_owned()),
            at: row.at,
            session_id: row.session_id,
            model: row.model,
            tokens: row.tokens,
        })
        .collect();
    Ok((records, sessions))
}
