//! A session's turn list for `cclive top`: its stored events grouped by prompt.
//!
//! The rules are the session page's (`cclive-server`'s timeline): a turn starts at each prompt
//! (the same prompt seen by two sources, by its id, counts once), events before the first prompt
//! form turn 0, each API response counts once (the field-wise maximum of its reports) in the turn
//! where it first appeared, priced with the price table. Pure: events in, rows out.
//!
//! Why not the server's function: it is private to the server crate, and `top` must work with
//! no server running. Both should move to `cclive-core` together; until then this one is kept
//! to the same rules (and the same fixture shape in its test).

use std::collections::{HashMap, HashSet};

use cclive_core::{Event, EventKind, PriceTable, Tokens};
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
    fn new(index: u32, at: Timestamp, prompt: Option<String>) -> TurnRow {
        TurnRow {
            index,
            started_at: at,
            last_at: at,
            prompt,
            tool_calls: 0,
            tool_errors: 0,
            tools: Vec::new(),
            tokens: Tokens::default(),
            cost_usd: 0.0,
            api_requests: 0,
        }
    }

    /// Wall time from its first to its last event.
    pub fn duration_ms(&self) -> u64 {
        u64::try_from(self.last_at.as_millisecond() - self.started_at.as_millisecond()).unwrap_or(0)
    }
}

/// Groups a session's events (in stored order) into turns, oldest first.
pub fn build(events: &[Event], prices: &PriceTable) -> Vec<TurnRow> {
    let mut turns: Vec<TurnRow> = Vec::new();
    let mut prompt_ids: HashSet<&str> = HashSet::new();
    // Per response key: (turn, model, tokens).
    let mut responses: HashMap<&str, (usize, Option<&str>, Tokens)> = HashMap::new();
    let mut failed: HashSet<&str> = HashSet::new();
    for event in events {
        if let EventKind::PromptSubmitted { id, preview } = &event.kind {
            let repeated = id.as_deref().is_some_and(|id| !prompt_ids.insert(id));
            if !repeated {
                let index = turns.last().map_or(1, |t| t.index + 1);
                turns.push(TurnRow::new(index, event.at, preview.clone()));
                continue;
            }
        }
        if turns.is_empty() {
            turns.push(TurnRow::new(0, event.at, None));
        }
        let current = turns.len() - 1;
        let turn = &mut turns[current];
        turn.last_at = turn.last_at.max(event.at);
        match &event.kind {
            EventKind::ToolUse { name, .. } => {
                turn.tool_calls += 1;
                match turn.tools.iter_mut().find(|(n, _)| n == name) {
                    Some((_, n)) => *n += 1,
                    None => turn.tools.push((name.clone(), 1)),
                }
            }
            EventKind::ToolResult {
                tool_use_id,
                is_error: true,
                ..
            } if failed.insert(tool_use_id) => turn.tool_errors += 1,
            EventKind::Usage {
                key, model, tokens, ..
            } => {
                let entry =
                    responses
                        .entry(key)
                        .or_insert((current, model.as_deref(), Tokens::default()));
                entry.2.max_with(tokens);
                if entry.1.is_none() {
                    entry.1 = model.as_deref();
                }
            }
            _ => {}
        }
    }
    for (turn, model, tokens) in responses.into_values() {
        let t = &mut turns[turn];
        t.tokens.add(&tokens);
        t.api_requests += 1;
        let model = model.unwrap_or(cclive_core::report::UNKNOWN_MODEL);
        t.cost_usd += prices.cost(model, &tokens).unwrap_or(0.0);
    }
    // What came before the first prompt is worth a row only when it did something.
    if turns
        .first()
        .is_some_and(|t| t.index == 0 && t.tool_calls == 0 && t.api_requests == 0)
    {
        turns.remove(0);
    }
    turns
}

#[cfg(test)]
mod tests {
    use cclive_core::SessionId;

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
        assert_eq!(turns.len(), 2, "an empty turn 0 is left out");
        let first = &turns[0];
        assert_eq!(first.prompt.as_deref(), Some("fix the test"));
        assert_eq!((first.tool_calls, first.tool_errors), (2, 1));
        assert_eq!(first.tools, [("Bash".to_owned(), 2)]);
        assert_eq!((first.api_requests, first.tokens.output), (1, 1_000_000));
        assert!((first.cost_usd - 15.0).abs() < 1e-9);
        assert_eq!(first.duration_ms(), 7000);
        let second = &turns[1];
        assert_eq!((second.index, second.tool_calls), (2, 1));
        assert_eq!(second.api_requests, 0);
    }
}
