//! The session export format (version 1, `docs/integrations.md`): its header line, and how a
//! user's session argument names one stored session. Shared by `cclive export` (which writes
//! it), `cclive import-events` (which reads it) and `cclive replay` (which resolves the id).
//! It reads the store only; it never prints or writes files.

use anyhow::bail;
use cclive_core::{SessionId, SessionState};
use cclive_store::{SessionQuery, Store};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The export format's version; readers refuse newer ones.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// The first line of an export.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Header {
    /// [`FORMAT_VERSION`].
    pub(crate) cclive_export: u32,
    /// The cclive that wrote it.
    #[serde(default)]
    pub(crate) cclive_version: String,
    /// When.
    pub(crate) exported_at: Timestamp,
    /// How many event lines follow.
    pub(crate) events: usize,
    /// The session's final state.
    pub(crate) session: SessionState,
    /// Its ledger (`SessionState::ledger_json`); `null` when unknown.
    #[serde(default)]
    pub(crate) ledger: serde_json::Value,
}

/// The session `given` names: its exact id, else the one session whose id starts with it.
pub(crate) fn resolve_session(store: &dyn Store, given: &str) -> anyhow::Result<SessionId> {
    let given = given.trim();
    if given.is_empty() {
        bail!("no session id given");
    }
    let exact = SessionId::new(given);
    if store.session(&exact)?.is_some() {
        return Ok(exact);
    }
    let matches: Vec<SessionId> = store
        .sessions(&SessionQuery::default())?
        .into_iter()
        .map(|s| s.session_id)
        .filter(|id| id.as_str().starts_with(given))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no session {given:?} in the history (`cclive sessions` lists them)"),
        many => bail!(
            "{given:?} names {} sessions ({}…); give more of the id",
            many.len(),
            many.iter()
                .take(3)
                .map(SessionId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
