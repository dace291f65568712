//! The one rule for merging reports of one API response's usage.
//!
//! Several sources report the same response (streaming snapshots, the transcript, telemetry,
//! a re-import), and each report must count once. This module owns how two reports merge:
//! - tokens: the field-wise maximum (streaming snapshots only grow; duplicates are equal);
//! - model: the one already known, unless it is unknown;
//! - sidechain: true only while every report said so (a main-chain report wins);
//! - first seen, and with it the owner: the earlier report's; on a tie the kept one stays.
//!
//! [`crate::SessionState`] counts with it ([`Kept::merge`]), the binary's writer merges retained rows with it,
//! and the SQLite upsert (cclive-store) says the same in SQL; a property test in the binary's
//! writer checks that the two agree. It must never know where the reports are kept.

use jiff::Timestamp;

use crate::usage::Tokens;

/// One report of a response's usage: the facts every source gives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Report<'a> {
    /// The tokens this report gives.
    pub tokens: &'a Tokens,
    /// The model that answered, when the report names it.
    pub model: Option<&'a str>,
    /// True when a sub-agent made the request.
    pub sidechain: bool,
    /// When the report was seen.
    pub at: Timestamp,
}

/// What a response counted so far, borrowed from wherever it is kept.
#[derive(Debug)]
pub struct Kept<'a> {
    /// Its tokens.
    pub tokens: &'a mut Tokens,
    /// Its model, when known.
    pub model: &'a mut Option<String>,
    /// True while every report came from a sub-agent.
    pub sidechain: &'a mut bool,
    /// When it was first reported.
    pub first_at: &'a mut Timestamp,
}

/// What [`Kept::merge`] changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)] // four independent facts, each read on its own
pub struct Merged {
    /// A token count grew.
    pub tokens: bool,
    /// The model became known.
    pub model: bool,
    /// A main-chain report cleared the sub-agent flag.
    pub sidechain: bool,
    /// The report is earlier than anything kept: whoever made it owns the response.
    pub earlier: bool,
}

impl Merged {
    /// True when the report changed nothing.
    pub fn is_nothing(&self) -> bool {
        *self == Self::default()
    }
}

/// True when merging `report` into `kept` would change nothing (a duplicate report).
pub fn is_duplicate(
    tokens: &Tokens,
    model: Option<&str>,
    sidechain: bool,
    first_at: Timestamp,
    report: &Report<'_>,
) -> bool {
    let mut merged = *tokens;
    merged.max_with(report.tokens);
    merged == *tokens
        && (model.is_some() || report.model.is_none())
        && (!sidechain || report.sidechain)
        && first_at <= report.at
}

impl Kept<'_> {
    /// Merges one report into what a response counted so far, and says what changed.
    pub fn merge(self, report: &Report<'_>) -> Merged {
        let mut tokens = *self.tokens;
        tokens.max_with(report.tokens);
        let changed = Merged {
            tokens: tokens != *self.tokens,
            model: self.model.is_none() && report.model.is_some(),
            sidechain: *self.sidechain && !report.sidechain,
            earlier: report.at < *self.first_at,
        };
        *self.tokens = tokens;
        if changed.model {
            *self.model = report.model.map(str::to_owned);
        }
        *self.sidechain &= report.sidechain;
        if changed.earlier {
            *self.first_at = report.at;
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(ms).expect("a valid time")
    }

    fn tokens(input: u64, output: u64) -> Tokens {
        Tokens {
            input,
            output,
            ..Tokens::default()
        }
    }

    /// What a response kept: tokens, model, sidechain, first seen.
    type Held = (Tokens, Option<String>, bool, Timestamp);

    /// Checks [`is_duplicate`] against what [`Kept::merge`] then does, and returns the latter.
    fn merge_into(held: &mut Held, report: &Report<'_>) -> Merged {
        let duplicate = is_duplicate(&held.0, held.1.as_deref(), held.2, held.3, report);
        let (tokens, model, sidechain, first_at) = held;
        let changed = Kept {
            tokens,
            model,
            sidechain,
            first_at,
        }
        .merge(report);
        assert_eq!(duplicate, changed.is_nothing());
        changed
    }

    #[test]
    fn a_later_bigger_main_chain_report_grows_tokens_and_clears_sidechain_but_keeps_the_owner() {
        let mut held: Held = (tokens(10, 1), None, true, at(1_000));
        let report = Report {
            tokens: &tokens(5, 40),
            model: Some("claude-sonnet-4-5"),
            sidechain: false,
            at: at(2_000),
        };
        let changed = merge_into(&mut held, &report);
        assert_eq!(
            changed,
            Merged {
                tokens: true,
                model: true,
                sidechain: true,
                earlier: false
            }
        );
        assert_eq!(held.0, tokens(10, 40));
        assert_eq!(held.1.as_deref(), Some("claude-sonnet-4-5"));
        assert!(!held.2);
        assert_eq!(held.3, at(1_000));
    }

    #[test]
    fn an_equal_report_is_a_duplicate_and_changes_nothing() {
        let mut held: Held = (tokens(0, 3), Some("m".to_owned()), false, at(5));
        let report = Report {
            tokens: &tokens(0, 3),
            model: Some("other"),
            sidechain: true,
            at: at(5),
        };
        assert!(merge_into(&mut held, &report).is_nothing());
        assert_eq!(held.1.as_deref(), Some("m"));
    }

    #[test]
    fn an_earlier_report_takes_the_first_seen_time() {
        let mut held: Held = (Tokens::default(), None, false, at(9));
        let report = Report {
            tokens: &Tokens::default(),
            model: None,
            sidechain: false,
            at: at(3),
        };
        assert!(merge_into(&mut held, &report).earlier);
        assert_eq!(held.3, at(3));
    }
}
