//! Counting prompts once when several sources report them, some without an id.
//!
//! The transcript, Claude Code 2.1's hooks and its telemetry name a prompt by its id; the
//! wrapper (`cclive run -p`, which knows the prompt it passed) and Claude Code 1.0's hooks do
//! not. Ids settle the first kind. A report without an id is paired with one of the other kind
//! that has the same preview and is not paired yet, in either order: the same prompt, seen
//! twice. What stays unpaired counts on its own, so a prompt only one kind of source saw still
//! counts, and the same text typed twice counts twice (each report pairs once).
//!
//! Only the last few unpaired previews are kept: the two reports of one prompt arrive within
//! seconds of each other, and the previews are prompt text (120 characters at most).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::fast_hash::FastSet;

/// Unpaired previews kept per kind.
const KEEP_UNPAIRED: usize = 16;

/// The prompts of one session, as counted so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct PromptCount {
    /// Reports without an id.
    #[serde(rename = "prompts")]
    anonymous: u64,
    /// Ids seen.
    #[serde(rename = "prompt_ids")]
    ids: FastSet<String>,
    /// Reports without an id that were the same prompt as one with an id.
    #[serde(skip_serializing_if = "is_zero")]
    paired: u64,
    /// Previews of reports without an id, not paired yet (oldest first).
    #[serde(skip_serializing_if = "VecDeque::is_empty")]
    anonymous_unpaired: VecDeque<String>,
    /// Previews of reports with an id, not paired yet (oldest first).
    #[serde(skip_serializing_if = "VecDeque::is_empty")]
    identified_unpaired: VecDeque<String>,
    /// Ids whose reports so far had no preview (telemetry redacts prompts): a later report of
    /// the same id with its text may still pair.
    #[serde(skip_serializing_if = "VecDeque::is_empty")]
    ids_without_preview: VecDeque<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl PromptCount {
    /// Records one report; true when it is a prompt not counted before.
    pub(crate) fn record(&mut self, id: Option<&str>, preview: Option<&str>) -> bool {
        let Some(id) = id else {
            self.anonymous += 1;
            let paired = preview.is_some_and(|p| {
                pair(
                    &mut self.identified_unpaired,
                    &mut self.anonymous_unpaired,
                    p,
                )
            });
            if paired {
                self.paired += 1;
            }
            return !paired;
        };
        let first = self.ids.insert(id.to_owned());
        let Some(p) = preview else {
            if first {
                keep(&mut self.ids_without_preview, id);
            }
            return first;
        };
        let waited = self
            .ids_without_preview
            .iter()
            .position(|i| i == id)
            .and_then(|i| self.ids_without_preview.remove(i))
            .is_some();
        if !first && !waited {
            return false;
        }
        if pair(
            &mut self.anonymous_unpaired,
            &mut self.identified_unpaired,
            p,
        ) {
            // Counted twice until now (when it waited for its text): once from here on.
            self.paired += 1;
            return false;
        }
        first
    }

    /// How many prompts.
    pub(crate) fn count(&self) -> u64 {
        self.anonymous + self.ids.len() as u64 - self.paired
    }

    /// The ids seen: the one part that grows with the session, which a ledger delta names by
    /// difference (`session/ledger_delta.rs`).
    pub(crate) fn ids_mut(&mut self) -> &mut FastSet<String> {
        &mut self.ids
    }

    /// See [`PromptCount::ids_mut`].
    pub(crate) fn ids(&self) -> &FastSet<String> {
        &self.ids
    }

    /// Everything but the ids, under the names a `PromptCount` is read by.
    pub(crate) fn without_ids(&self) -> PromptsWithoutIds<'_> {
        // Every field named: a new one does not compile until it is placed.
        let PromptCount {
            anonymous,
            ids: _,
            paired,
            anonymous_unpaired,
            identified_unpaired,
            ids_without_preview,
        } = self;
        PromptsWithoutIds {
            anonymous: *anonymous,
            paired: *paired,
            anonymous_unpaired,
            identified_unpaired,
            ids_without_preview,
        }
    }
}

/// [`PromptCount::without_ids`].
#[derive(Serialize)]
pub(crate) struct PromptsWithoutIds<'a> {
    #[serde(rename = "prompts")]
    anonymous: u64,
    paired: u64,
    anonymous_unpaired: &'a VecDeque<String>,
    identified_unpaired: &'a VecDeque<String>,
    ids_without_preview: &'a VecDeque<String>,
}

/// Pairs `preview` with an unpaired one of the other kind (`others`); else keeps it in `mine`.
/// True when it paired.
fn pair(others: &mut VecDeque<String>, mine: &mut VecDeque<String>, preview: &str) -> bool {
    if let Some(i) = others.iter().position(|p| p == preview) {
        others.remove(i);
        return true;
    }
    keep(mine, preview);
    false
}

/// Appends `item`, forgetting the oldest beyond [`KEEP_UNPAIRED`].
fn keep(list: &mut VecDeque<String>, item: &str) {
    if list.len() == KEEP_UNPAIRED {
        list.pop_front();
    }
    list.push_back(item.to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrappers_prompt_and_the_transcripts_are_one_in_either_order() {
        let mut c = PromptCount::default();
        assert!(c.record(None, Some("fix the test")));
        assert!(!c.record(Some("p1"), Some("fix the test")));
        assert_eq!(c.count(), 1);

        let mut c = PromptCount::default();
        assert!(c.record(Some("p1"), Some("fix the test")));
        assert!(!c.record(None, Some("fix the test")));
        assert!(
            !c.record(Some("p1"), Some("fix the test")),
            "the same id again"
        );
        assert_eq!(c.count(), 1);
    }

    #[test]
    fn an_id_first_seen_without_its_text_pairs_when_the_text_comes() {
        let mut c = PromptCount::default();
        assert!(c.record(Some("p1"), None), "telemetry: redacted");
        assert!(c.record(None, Some("fix the test")), "the wrapper: no id");
        assert_eq!(c.count(), 2, "not known to be one yet");
        assert!(
            !c.record(Some("p1"), Some("fix the test")),
            "the transcript: both"
        );
        assert_eq!(c.count(), 1);
        assert!(!c.record(Some("p1"), Some("fix the test")));
        assert_eq!(c.count(), 1);
    }

    #[test]
    fn the_same_text_typed_twice_counts_twice_and_unmatched_reports_count_alone() {
        let mut c = PromptCount::default();
        for (id, preview) in [
            (None, "continue"),
            (Some("a"), "continue"),
            (Some("b"), "continue"),
            (None, "continue"),
            (Some("c"), "something else"),
            (None, "only the hook saw this"),
            (None, ""),
        ] {
            c.record(id, Some(preview));
        }
        c.record(None, None);
        // continue ×2, something else, only the hook saw this, "", and one with no preview.
        assert_eq!(c.count(), 6);
    }

    #[test]
    fn a_stored_count_of_an_older_cclive_reads_back() {
        let c: PromptCount =
            serde_json::from_value(serde_json::json!({"prompts": 2, "prompt_ids": ["x"]})).unwrap();
        assert_eq!(c.count(), 3);
    }

    #[test]
    fn only_the_last_unpaired_previews_are_kept() {
        let mut c = PromptCount::default();
        for i in 0..100 {
            c.record(Some(&format!("id{i}")), Some(&format!("prompt {i}")));
        }
        assert_eq!(c.identified_unpaired.len(), KEEP_UNPAIRED);
        assert!(!c.record(None, Some("prompt 99")));
        assert!(c.record(None, Some("prompt 0")), "too old to pair: its own");
        assert_eq!(c.count(), 101);
    }
}
