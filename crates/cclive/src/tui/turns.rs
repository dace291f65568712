//! A session's turn list for `cclive top`: rows of the core's turns ([`cclive_core::turns`], the
//! rules the session page's timeline uses too), with the counts the table shows.
//!
//! This file only shapes rows; what a turn is, and how a response or a tool call counts once,
//! is decided in the core and must not be repeated here.

use cclive_core::turns::{self, Turn};
use cclive_core::{Event, PriceTable, Tokens};
use jiff::Timestamp;

/// One turn, as the turn list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnRow {
    /// 1 for the first prompt; 0 for what came before it.
    pub index: u32,
    /// Its first event.
    pub started_at: Timestamp,
    /// Its last event.
    pub last_at: Timestamp,
    /// The prompt's preview, when the source had it.
    pub prompt: Option<String>,
    /// Tool calls, sub-agents' included.
    pub tool_calls: u64,
    /// Of which failed.
    pub tool_errors: u64,
    /// Tool names, in first-use order, with their counts.
    pub tools: Vec<(String, u64)>,
    /// Tokens of the responses first seen in it.
    pub tokens: Tokens,
    /// Their estimated cost (responses of unpriced models count 0).
    pub cost_usd: f64,
    /// API responses.
    pub api_requests: u64,
}

impl TurnRow {
    fn of(turn: &Turn) -> TurnRow {
        TurnRow {
            index: turn.index,
            started_at: turn.started_at,
            last_at: turn.last_at,
            prompt: turn.prompt.clone(),
            tool_calls: turn.tools.len() as u64,
            tool_errors: turn.tool_errors(),
            tools: turn.tool_counts(),
            tokens: turn.tokens,
            cost_usd: turn.cost_usd,
            api_requests: turn.api_requests,
        }
    }

    /// Wall time from its first to its last event.
    pub fn duration_ms(&self) -> u64 {
        u64::try_from(self.last_at.as_millisecond() - self.started_at.as_millisecond()).unwrap_or(0)
    }
}

/// Groups a session's events (in stored order) into turns, oldest first.
pub fn build(events: &[Event], prices: &PriceTable) -> Vec<TurnRow> {
    let turns = turns::build(events, None, prices);
    turns
        .iter()
        // What came before the first prompt is worth a row only when it did something.
        .filter(|t| t.index > 0 || t.did_work())
        .map(TurnRow::of)
        .collect()
}

#[cfg(test)]
mod tests {
    use cclive_core::{EventKind, SessionId};

    use super::*;

    fn ev(at: &str, kind: EventKind) -> Event {
        Event::new(SessionId::new("s"), at.parse().unwrap(), kind)
    }

    fn prompt(at: &str, id: &str, text: &str) -> Event {
        ev(
            at,
            EventKind::PromptSubmitted {
                id: Some(id.into()),
                preview: Some(text.into()),
            },
        )
    }

    fn usage(at: &str, key: &str, output: u64) -> Event {
        ev(
            at,
            EventKind::Usage {
                key: key.into(),
                request_id: None,
                reported_cost_usd: None,
                model: Some("claude-sonnet-4-5".into()),
                tokens: Tokens {
                    output,
                    ..Tokens::default()
                },
                is_final: false,
                sidechain: false,
            },
        )
    }

    fn tool(at: &str, id: &str, name: &str) -> Event {
        ev(
            at,
            EventKind::ToolUse {
                tool_use_id: id.into(),
                name: name.into(),
                sidechain: false,
            },
        )
    }

    #[test]
    fn turns_start_at_prompts_and_count_each_response_once() {
        let events = [
            ev("2026-09-03T10:00:00Z", EventKind::Other),
            prompt("2026-09-03T10:00:01Z", "p1", "fix the test"),
            usage("2026-09-03T10:00:02Z", "m1", 10),
            tool("2026-09-03T10:00:03Z", "t1", "Bash"),
            ev(
                "2026-09-03T10:00:05Z",
                EventKind::ToolResult {
                    tool_use_id: "t1".into(),
                    is_error: true,
                    duration_ms: None,
                    sidechain: false,
                },
            ),
            tool("2026-09-03T10:00:06Z", "t2", "Bash"),
            usage("2026-09-03T10:00:07Z", "m1", 1_000_000),
            // The same prompt seen by a hook: still turn 1.
            prompt("2026-09-03T10:00:08Z", "p1", "fix the test"),
            prompt("2026-09-03T10:01:00Z", "p2", "again"),
            tool("2026-09-03T10:01:01Z", "t3", "Read"),
            // A late report of m1 stays in turn 1.
            usage("2026-09-03T10:01:02Z", "m1", 1_000_000),
        ];
        let turns = build(&events, &PriceTable::builtin());
        // Claude Code's turns: the prompt p1, the round after t1's result, the prompt p2.
        assert_eq!(turns.len(), 3, "an empty turn 0 is left out");
        let first = &turns[0];
        assert_eq!(first.prompt.as_deref(), Some("fix the test"));
        assert_eq!((first.tool_calls, first.tool_errors), (1, 1));
        assert_eq!(first.tools, [("Bash".to_owned(), 1)]);
        assert_eq!((first.api_requests, first.tokens.output), (1, 1_000_000));
        assert!((first.cost_usd - 15.0).abs() < 1e-9);
        // From the prompt to t1's call; the round after its result is a turn of its own.
        assert_eq!(first.duration_ms(), 2000);
        let second = &turns[1];
        assert_eq!(
            (second.index, second.tool_calls, second.prompt.as_deref()),
            (2, 1, None)
        );
        assert_eq!(
            second.api_requests, 0,
            "m1 stays where it was first reported"
        );
        let third = &turns[2];
        assert_eq!((third.index, third.tool_calls), (3, 1));
        assert_eq!(third.api_requests, 0);
    }
}
