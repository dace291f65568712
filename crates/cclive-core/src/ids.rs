//! Identifier newtypes, so a session id is never confused with a message id or a path.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id of one Claude Code session: the UUID Claude Code uses for the transcript file name
/// and `session_id` fields. `cclive run` chooses it up front (`claude --session-id`), so the
/// wrapper, the transcript and hooks all name the same session.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    /// Wraps an id as given by Claude Code or chosen by cclive.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SessionId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}
