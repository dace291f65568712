//! Answers kept until the store changes: the cost charts, which every open dashboard asks for
//! again and again, are computed once per state of the data (and of the local day), not once
//! per request. An answer is kept with the [`StoreVersion`] read *before* the data it was
//! computed from, so a write that lands in between makes it stale at the next request rather
//! than kept for good. A store that cannot tell its version keeps nothing.
//!
//! This file decides nothing about what an answer depends on: the route builds the key from
//! everything besides the store that goes into it.

use std::sync::{Arc, Mutex, PoisonError};

use cclive_store::StoreVersion;
use serde_json::Value;

/// Answers kept at once: a few tabs on other ranges or zones share the server.
const KEPT: usize = 8;

/// The kept answers, the most recent last.
#[derive(Default)]
pub(crate) struct Kept {
    answers: Mutex<Vec<(String, StoreVersion, Arc<Value>)>>,
}

impl Kept {
    /// The answer kept for `key` at `version`, if any.
    pub(crate) fn get(&self, key: &str, version: StoreVersion) -> Option<Arc<Value>> {
        let answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        answers
            .iter()
            .find(|(k, v, _)| k == key && *v == version)
            .map(|(_, _, answer)| Arc::clone(answer))
    }

    /// Keeps `answer` for `key` at `version`, in place of an older one for the same key; the
    /// least recent goes when [`KEPT`] are kept.
    pub(crate) fn keep(&self, key: String, version: StoreVersion, answer: Arc<Value>) {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        answers.retain(|(k, _, _)| *k != key);
        if answers.len() >= KEPT {
            answers.remove(0);
        }
        answers.push((key, version, answer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_for_its_key_and_version_only() {
        let kept = Kept::default();
        let (v1, v2) = (StoreVersion::new(1, 0), StoreVersion::new(1, 1));
        kept.keep("a".into(), v1, Arc::new(Value::from(1)));
        assert_eq!(kept.get("a", v1).as_deref(), Some(&Value::from(1)));
        assert!(kept.get("a", v2).is_none(), "another state of the data");
        assert!(kept.get("b", v1).is_none(), "another question");
        kept.keep("a".into(), v2, Arc::new(Value::from(2)));
        assert!(
            kept.get("a", v1).is_none(),
            "the newer answer replaces the older"
        );
        assert_eq!(kept.get("a", v2).as_deref(), Some(&Value::from(2)));
    }

    #[test]
    fn the_least_recent_answer_goes_first() {
        let kept = Kept::default();
        let v = StoreVersion::new(0, 0);
        for i in 0..=KEPT {
            kept.keep(i.to_string(), v, Arc::new(Value::from(i)));
        }
        assert!(kept.get("0", v).is_none());
        assert!(kept.get("1", v).is_some() && kept.get(&KEPT.to_string(), v).is_some());
    }
}
