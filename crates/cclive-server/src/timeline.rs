//! A session's timeline for its page: its stored events grouped into turns.
//!
//! A turn starts at each prompt the user submitted (the same prompt seen by two sources counts
//! once, by its id); events before the first prompt form turn 0. Each turn lists its tool calls
//! (name, when, how long, whether it failed) and the API responses first reported in it: their
//! tokens (each response once, as the field-wise maximum of its reports, as the session counts
//! them) and their cost priced with the price table. Per-turn costs are estimates even when the
//! session's total is Claude Code's own figure. Pure: events and prices in, values out.

use std::collections::{HashMap, HashSet};

use cclive_core::{Event, EventKind, PriceTable, SessionState, Tokens};
use jiff::Timestamp;
use serde::Serialize;

/// The whole timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Timeline {
    pub(crate) session_id: String,
    /// Oldest first.
    pub(crate) turns: Vec<Turn>,
    /// How many stored events it was built from.
    pub(crate) events: usize,
}

/// One user turn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Turn {
    /// 1 for the first prompt; 0 for what happened before it.
    pub(crate) index: u32,
    pub(crate) started_at: Timestamp,
    /// The last event of the turn.
    pub(crate) last_at: Timestamp,
    /// The prompt's preview, when the source had it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prompt: Option<String>,
    pub(crate) tokens: Tokens,
    /// Estimated USD of the responses that have a price.
    pub(crate) cost_usd: f64,
    /// Models without a price (their cost is missing from `cost_usd`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) unpriced_models: Vec<String>,
    pub(crate) api_requests: u64,
    pub(crate) api_retries: u64,
    pub(crate) tools: Vec<ToolCall>,
}

/// One tool call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct ToolCall {
    pub(crate) tool_use_id: String,
    pub(crate) name: String,
    pub(crate) started_at: Timestamp,
    /// As the source measured it, else from the call to its result; `None` while it runs.
    pub(crate) duration_ms: Option<u64>,
    /// `None` while it runs.
    pub(crate) is_error: Option<bool>,
    pub(crate) sidechain: bool,
}

#[derive(Default)]
struct Response {
    turn: usize,
    model: Option<String>,
    tokens: Tokens,
}

/// Groups `events` (in stored order) of `session` into turns.
pub(crate) fn build(session: &SessionState, events: &[Event], prices: &PriceTable) -> Timeline {
    let mut turns: Vec<Turn> = Vec::new();
    let mut prompt_ids: HashSet<&str> = HashSet::new();
    let mut responses: HashMap<&str, Response> = HashMap::new();
    let mut response_order: Vec<&str> = Vec::new();
    let mut tool_at: HashMap<&str, (usize, usize)> = HashMap::new();
    let new_turn = |turns: &mut Vec<Turn>, index: u32, at: Timestamp, prompt: Option<String>| {
        turns.push(Turn {
            index,
            started_at: at,
            last_at: at,
            prompt,
            tokens: Tokens::default(),
            cost_usd: 0.0,
            unpriced_models: Vec::new(),
            api_requests: 0,
            api_retries: 0,
            tools: Vec::new(),
        });
    };
    let mut prompts = 0u32;
    for event in events {
        if let EventKind::PromptSubmitted { id, preview } = &event.kind
            && id.as_deref().is_none_or(|id| prompt_ids.insert(id))
        {
            prompts += 1;
            new_turn(&mut turns, prompts, event.at, preview.clone());
            continue;
        }
        if turns.is_empty() {
            new_turn(&mut turns, 0, event.at, None);
        }
        let current = turns.len() - 1;
        let turn = &mut turns[current];
        turn.last_at = turn.last_at.max(event.at);
        match &event.kind {
            EventKind::Usage {
                key, model, tokens, ..
            } => {
                let response = responses.entry(key.as_str()).or_insert_with(|| {
                    response_order.push(key.as_str());
                    Response {
                        turn: current,
                        ..Response::default()
                    }
                });
                response.tokens.max_with(tokens);
                if response.model.is_none() {
                    response.model.clone_from(model);
                }
            }
            EventKind::ToolUse {
                tool_use_id,
                name,
                sidechain,
            } if !tool_at.contains_key(tool_use_id.as_str()) => {
                tool_at.insert(tool_use_id, (current, turn.tools.len()));
                turn.tools.push(ToolCall {
                    tool_use_id: tool_use_id.clone(),
                    name: name.clone(),
                    started_at: event.at,
                    duration_ms: None,
                    is_error: None,
                    sidechain: *sidechain,
                });
            }
            EventKind::ToolResult {
                tool_use_id,
                is_error,
                duration_ms,
                ..
            } => {
                if let Some(&(t, i)) = tool_at.get(tool_use_id.as_str()) {
                    let call = &mut turns[t].tools[i];
                    if call.is_error.is_none() {
                        call.is_error = Some(*is_error);
                        call.duration_ms = duration_ms.or_else(|| {
                            u64::try_from(
                                event.at.as_millisecond() - call.started_at.as_millisecond(),
                            )
                            .ok()
                        });
                    }
                }
            }
            EventKind::ApiRetry { .. } => turn.api_retries += 1,
            _ => {}
        }
    }
    for key in response_order {
        let r = &responses[key];
        let turn = &mut turns[r.turn];
        turn.api_requests += 1;
        turn.tokens.add(&r.tokens);
        let model = r
            .model
            .as_deref()
            .or(session.model.as_deref())
            .unwrap_or("unknown");
        match prices.cost(model, &r.tokens) {
            Some(cost) => turn.cost_usd += cost,
            None if r.tokens.total() > 0 && !turn.unpriced_models.iter().any(|m| m == model) => {
                turn.unpriced_models.push(model.to_owned());
            }
            None => {}
        }
    }
    Timeline {
        session_id: session.session_id.to_string(),
        turns,
        events: events.len(),
    }
}

#[cfg(test)]
mod tests {
    use cclive_core::SessionId;

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_795_600_000 + secs).unwrap()
    }

    fn ev(secs: i64, kind: EventKind) -> Event {
        Event::new(SessionId::new("s"), at(secs), kind)
    }

    fn usage(key: &str, output: u64) -> EventKind {
        EventKind::Usage {
            key: key.into(),
            request_id: None,
            reported_cost_usd: None,
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                input: 100,
                output,
                ..Tokens::default()
            },
            is_final: false,
            sidechain: false,
        }
    }

    fn prompt(id: &str, text: &str) -> EventKind {
        EventKind::PromptSubmitted {
            id: Some(id.into()),
            preview: Some(text.into()),
        }
    }

    #[test]
    fn turns_hold_their_tools_tokens_and_cost() {
        let events = [
            ev(0, EventKind::Other),
            ev(1, prompt("p1", "fix the bug")),
            ev(2, usage("m1", 10)),
            ev(3, usage("m1", 20)),
            ev(
                3,
                EventKind::ToolUse {
                    tool_use_id: "t1".into(),
                    name: "Bash".into(),
                    sidechain: false,
                },
            ),
            ev(
                5,
                EventKind::ToolResult {
                    tool_use_id: "t1".into(),
                    is_error: true,
                    duration_ms: None,
                    sidechain: false,
                },
            ),
            ev(6, prompt("p1", "fix the bug")),
            ev(7, prompt("p2", "again")),
            ev(
                8,
                EventKind::ToolUse {
                    tool_use_id: "t2".into(),
                    name: "Write".into(),
                    sidechain: false,
                },
            ),
            ev(9, usage("m2", 5)),
            ev(
                9,
                EventKind::ApiRetry {
                    attempt: 1,
                    error_status: Some(529),
                    error: None,
                },
            ),
        ];
        let session = SessionState::new(SessionId::new("s"), at(0));
        let prices = PriceTable::builtin();
        let t = build(&session, &events, &prices);
        assert_eq!(t.events, events.len());
        let indexes: Vec<u32> = t.turns.iter().map(|t| t.index).collect();
        assert_eq!(indexes, [0, 1, 2], "the repeated prompt p1 counts once");
        let first = &t.turns[1];
        assert_eq!(first.prompt.as_deref(), Some("fix the bug"));
        assert_eq!(first.api_requests, 1);
        assert_eq!(
            first.tokens.output, 20,
            "a response counts once, at its maximum"
        );
        let expected = prices.cost("claude-sonnet-4-5", &first.tokens).unwrap();
        assert!((first.cost_usd - expected).abs() < 1e-12);
        assert_eq!(first.tools[0].name, "Bash");
        assert_eq!(first.tools[0].duration_ms, Some(2000));
        assert_eq!(first.tools[0].is_error, Some(true));
        assert_eq!(first.last_at, at(6), "the duplicate prompt belongs to it");
        let second = &t.turns[2];
        assert_eq!(second.tools[0].is_error, None, "still running");
        assert_eq!(second.api_retries, 1);
        assert_eq!(second.tokens.output, 5);
    }

    #[test]
    fn no_events_no_turns() {
        let session = SessionState::new(SessionId::new("s"), at(0));
        let t = build(&session, &[], &PriceTable::builtin());
        assert!(t.turns.is_empty());
    }
}
