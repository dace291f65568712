//! Identifier newtypes, so a session id is never confused with a message id or a path.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The id of one Claude Code session: the UUID Claude Code uses for the transcript file name
/// and `session_id` fields. `cclive run` chooses it up front (`claude --session-id`), so the
/// wrapper, the transcript and hooks all name the same session.
///
/// Shared, not copied: every event, usage owner and map entry of a session names it, and an
/// import of a year of history made millions of copies of the same few thousand ids.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(Arc<str>);

impl SessionId {
    /// Wraps an id as given by Claude Code or chosen by cclive.
    pub fn new(id: impl AsRef<str>) -> Self {
        Self(Arc::from(id.as_ref()))
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

impl Serialize for SessionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = SessionId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a session id")
            }
            // Straight into the shared id, without a `String` first.
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SessionId, E> {
                Ok(SessionId::new(v))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

impl From<&str> for SessionId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_id_reads_and_writes_as_a_plain_json_string() {
        let id: SessionId = serde_json::from_str(r#""7722e4d6-6225""#).unwrap();
        assert_eq!(id.as_str(), "7722e4d6-6225");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""7722e4d6-6225""#);
        assert_eq!(id.to_string(), "7722e4d6-6225");
        // Escapes decode as in any string.
        let escaped: SessionId = serde_json::from_str(r#""a\u0062c""#).unwrap();
        assert_eq!(escaped, SessionId::from("abc"));
        assert!(serde_json::from_str::<SessionId>("42").is_err());
    }

    #[test]
    fn clones_share_the_text_and_compare_by_it() {
        let id = SessionId::new(String::from("s1"));
        let copy = id.clone();
        assert!(std::ptr::eq(id.as_str(), copy.as_str()));
        assert_eq!(copy, SessionId::new("s1"));
        assert!(SessionId::new("a") < SessionId::new("b"));
    }
}
