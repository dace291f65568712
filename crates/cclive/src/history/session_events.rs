//! A session's events, for views that group them into turns (`cclive top`'s turn list,
//! `cclive report tools`): those the monitor recorded, else — a session only imported, since the
//! import keeps totals, not events — read again from its transcript files, which the store knows
//! from their checkpoints (`<session>.jsonl` and its sub-agents' files).
//!
//! It only reads: it never writes the events it re-reads back to the store, and a transcript
//! that has gone or cannot be read yields fewer events, never an error.

use std::collections::HashMap;
use std::path::PathBuf;

use cclive_core::{Event, LineFramer, SessionId};
use cclive_store::{Store, StoreError};
use jiff::Timestamp;

use crate::ingest::tail::MAX_LINE;
use crate::ingest::transcripts::TranscriptReader;

/// The transcript files the store has read, by the session they belong to (from their names:
/// `<session>.jsonl`, `<session>/subagents/…`). Read once, for many sessions.
pub(crate) struct TranscriptFiles {
    by_session: HashMap<String, Vec<PathBuf>>,
}

impl TranscriptFiles {
    /// Every checkpointed file, grouped.
    pub(crate) fn load(store: &dyn Store) -> Result<TranscriptFiles, StoreError> {
        let mut by_session: HashMap<String, Vec<PathBuf>> = HashMap::new();
        for path in store.checkpoints()?.into_iter().map(|c| c.path) {
            if let Some(id) = session_of(&path) {
                by_session.entry(id).or_default().push(path);
            }
        }
        Ok(TranscriptFiles { by_session })
    }

    /// A session's events read again from its transcript files, in time order.
    pub(crate) fn events(&self, id: &SessionId) -> Vec<Event> {
        let now = Timestamp::now();
        let mut events = Vec::new();
        for path in self.by_session.get(id.as_str()).into_iter().flatten() {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let mut reader = TranscriptReader::new(path);
            let mut framer = LineFramer::new(0, MAX_LINE);
            framer.push_each(&bytes, |line| reader.line(&line, now, &mut events));
        }
        events.retain(|e| e.session_id == *id);
        events.sort_by_key(|e| e.at);
        events
    }
}

/// The session a transcript file belongs to: `<id>.jsonl`, or a file under `<id>/subagents/`.
fn session_of(path: &std::path::Path) -> Option<String> {
    let parent = path.parent()?;
    if parent.file_name().is_some_and(|n| n == "subagents") {
        return Some(parent.parent()?.file_name()?.to_str()?.to_owned());
    }
    Some(path.file_stem()?.to_str()?.to_owned())
}

/// A session's events: the recorded ones, else those of its transcripts (`files`, read with
/// [`TranscriptFiles::load`] only when needed).
pub(crate) fn session_events(
    store: &dyn Store,
    id: &SessionId,
    files: &mut Option<TranscriptFiles>,
) -> Result<Vec<Event>, StoreError> {
    let recorded = store.events(id)?;
    if !recorded.is_empty() {
        return Ok(recorded);
    }
    if files.is_none() {
        *files = Some(TranscriptFiles::load(store)?);
    }
    Ok(files.as_ref().map(|f| f.events(id)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn transcript_files_are_filed_under_their_session() {
        let main = Path::new("/c/projects/-w-app/7722e4d6.jsonl");
        let sub = Path::new("/c/projects/-w-app/7722e4d6/subagents/agent-af34.jsonl");
        assert_eq!(session_of(main).as_deref(), Some("7722e4d6"));
        assert_eq!(session_of(sub).as_deref(), Some("7722e4d6"));
    }
}
