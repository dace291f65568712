//! A session's turns: its recorded events grouped by prompt. The one copy of these rules; the
//! session page's timeline (`cclive-server`), `cclive top`'s turn list and the performance
//! analytics ([`crate::analytics`]) all build on [`build`].
//!
//! Rules:
//! - Turns are Claude Code's (its `num_turns`, the session header's count, [`count`]): one
//!   starts at each prompt the user submitted and at each main-thread tool result (the model's
//!   next round). The same prompt seen by two sources (a hook and the transcript, the wrapper
//!   and the transcript) counts once, by its id or its preview (see `crate::prompts`); a tool
//!   result once, by its `toolu_…` id. Events before the first prompt form turn 0 — turn 1 when
//!   the prompt was never seen but the model's rounds were (a tool result came).
//! - Each tool call counts once, by its `toolu_…` id, in the turn where it was asked for; its
//!   result (the first one) gives its outcome and its duration (the source's own figure, else
//!   the time from the call to its result).
//! - Each API response counts once, by its key, in the turn where it was first reported, with
//!   the field-wise maximum of its reports (as [`crate::SessionState`] counts it). A telemetry
//!   report, keyed by request id, joins the report of the same request under its message id.
//!   It is priced at Claude Code's own cost when telemetry gave one, else with the price table:
//!   per-turn costs are estimates unless Claude Code's telemetry reached cclive.
//!
//! Pure: events and prices in, values out. It never reads a clock; nothing here holds more
//! transcript text than the prompt previews the events already carry.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use serde::Serialize;

use crate::event::{Event, EventKind};
use crate::pricing::PriceTable;
use crate::prompts::PromptCount;
use crate::usage::Tokens;

/// The name a response without a model (and a session without one) is priced under; no price
/// rule matches it, so it is listed as unpriced.
const UNKNOWN_MODEL: &str = "unknown";

/// One user turn.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Turn {
    /// 1 for the first prompt; 0 for what happened before it.
    pub index: u32,
    /// Its first event (the prompt, for turns from 1).
    pub started_at: Timestamp,
    /// Its last event.
    pub last_at: Timestamp,
    /// When Claude Code said the turn was over (a Stop hook, `system/turn_duration`); the last
    /// such report when there are several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// Its last API or tool event: where its work ended when Claude Code did not say.
    #[serde(skip)]
    pub last_work_at: Option<Timestamp>,
    /// True when a prompt opened it; false for the model's next round after a tool result (and
    /// for what came before the first prompt).
    pub prompted: bool,
    /// The prompt's preview, when the source had it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Tokens of the responses first reported in it.
    pub tokens: Tokens,
    /// Their estimated USD (responses of unpriced models count 0).
    pub cost_usd: f64,
    /// Models without a price (their cost is missing from `cost_usd`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced_models: Vec<String>,
    /// API responses first reported in it.
    pub api_requests: u64,
    /// API retries.
    pub api_retries: u64,
    /// Its tool calls, sub-agents' included, in the order they were asked for.
    pub tools: Vec<ToolCall>,
}

/// One tool call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolCall {
    /// The `toolu_…` id.
    pub tool_use_id: String,
    /// The tool's name (`Bash`, `Edit`, …).
    pub name: String,
    /// When it was asked for.
    pub started_at: Timestamp,
    /// As the source measured it, else from the call to its result; `None` while it runs.
    pub duration_ms: Option<u64>,
    /// `None` while it runs.
    pub is_error: Option<bool>,
    /// True inside a sub-agent.
    pub sidechain: bool,
}

impl Turn {
    fn new(index: u32, at: Timestamp, prompt: Option<String>) -> Turn {
        Turn {
            index,
            started_at: at,
            last_at: at,
            ended_at: None,
            last_work_at: None,
            prompted: false,
            prompt,
            tokens: Tokens::default(),
            cost_usd: 0.0,
            unpriced_models: Vec::new(),
            api_requests: 0,
            api_retries: 0,
            tools: Vec::new(),
        }
    }

    /// Wall time from its first to its last event.
    pub fn duration_ms(&self) -> u64 {
        millis_between(self.started_at, self.last_at)
    }

    /// Tool calls that reported an error.
    pub fn tool_errors(&self) -> u64 {
        self.tools
            .iter()
            .filter(|c| c.is_error == Some(true))
            .count() as u64
    }

    /// Tool names in first-use order, with how often each was called.
    pub fn tool_counts(&self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = Vec::new();
        for call in &self.tools {
            match counts.iter_mut().find(|(n, _)| *n == call.name) {
                Some((_, n)) => *n += 1,
                None => counts.push((call.name.clone(), 1)),
            }
        }
        counts
    }

    /// True when anything was asked of the API or a tool in it.
    pub fn did_work(&self) -> bool {
        self.api_requests > 0 || !self.tools.is_empty()
    }
}

pub(crate) use crate::session::millis_between;

#[derive(Default)]
struct Response<'a> {
    turn: usize,
    model: Option<&'a str>,
    tokens: Tokens,
    /// Claude Code's own cost of it (telemetry), which wins over the price table's.
    reported_cost: Option<f64>,
}

/// The factor that turns the turns' estimated costs into shares of Claude Code's own total,
/// so the turns add up to the figure the session shows above them (the one cost rule: Claude
/// Code's own figure where it reported one, the estimate elsewhere). Only when Claude Code
/// reported the total and every response it covers is in the turns (a session recorded only in
/// part would pile its whole cost on the turns that were recorded).
pub fn reported_cost_scale(session: &crate::SessionState, turns: &[Turn]) -> Option<f64> {
    let estimated: f64 = turns.iter().map(|t| t.cost_usd).sum();
    let responses: u64 = turns.iter().map(|t| t.api_requests).sum();
    (session.cost_source == crate::session::CostSource::Reported
        && session.total_cost_usd.is_finite()
        && estimated > 0.0
        && responses == session.api_requests)
        .then(|| session.total_cost_usd / estimated)
}

/// `turns` of `session` with their costs as shares of Claude Code's own total when
/// [`reported_cost_scale`] allows; true when they are.
pub fn share_reported_cost(session: &crate::SessionState, turns: &mut [Turn]) -> bool {
    let Some(scale) = reported_cost_scale(session, turns) else {
        return false;
    };
    for turn in turns {
        turn.cost_usd *= scale;
    }
    true
}

/// How many turns `turns` (from [`build`]) holds as Claude Code counts them: turn 0 (what came
/// before the first prompt) is none.
pub fn count(turns: &[Turn]) -> u64 {
    turns.iter().filter(|t| t.index > 0).count() as u64
}

/// Groups a session's `events` (in stored order) into turns, oldest first. A response without a
/// model is priced as `fallback_model` (the session's main model), else left unpriced.
pub fn build(events: &[Event], fallback_model: Option<&str>, prices: &PriceTable) -> Vec<Turn> {
    let mut turns: Vec<Turn> = Vec::new();
    let mut prompt_count = PromptCount::default();
    let mut responses: HashMap<&str, Response<'_>> = HashMap::new();
    // First-report order, so sums of costs do not depend on hashing.
    let mut response_order: Vec<&str> = Vec::new();
    let mut tool_at: HashMap<&str, (usize, usize)> = HashMap::new();
    // Telemetry names a response by its request id, the other sources by its message id; the
    // request id links them (as the monitor does), so the response counts once.
    let mut request_keys: HashMap<&str, &str> = HashMap::new();
    let mut key_alias: HashMap<&str, &str> = HashMap::new();
    let mut retries: HashSet<(u32, u64)> = HashSet::new();
    let mut started = 0u32;
    // The turn of the latest prompt (a later report of it may bring its text).
    let mut prompt_turn: Option<usize> = None;
    let mut results: HashSet<&str> = HashSet::new();
    for event in events {
        if let EventKind::PromptSubmitted { id, preview, .. } = &event.kind {
            if prompt_count.record(id.as_deref(), preview.as_deref()) {
                started += 1;
                prompt_turn = Some(turns.len());
                let mut turn = Turn::new(started, event.at, preview.clone());
                turn.prompted = true;
                turns.push(turn);
            } else if let Some(turn) = prompt_turn
                .and_then(|i| turns.get_mut(i))
                .filter(|t| t.prompt.is_none())
            {
                // Another report of the prompt; telemetry's is redacted, this one may not be.
                turn.prompt.clone_from(preview);
            }
            continue;
        }
        if let EventKind::ToolResult {
            tool_use_id,
            sidechain: false,
            ..
        } = &event.kind
            && results.insert(tool_use_id)
        {
            // The model's next round: a turn of its own.
            if started == 0 {
                // The prompt was never seen: what came before was its turn.
                started = 1;
                match turns.first_mut() {
                    Some(first) => first.index = 1,
                    None => turns.push(Turn::new(1, event.at, None)),
                }
            }
            started += 1;
            turns.push(Turn::new(started, event.at, None));
        }
        if turns.is_empty() {
            turns.push(Turn::new(0, event.at, None));
        }
        let current = turns.len() - 1;
        let turn = &mut turns[current];
        turn.last_at = turn.last_at.max(event.at);
        let work = matches!(
            event.kind,
            EventKind::Usage { .. }
                | EventKind::ApiRequest { .. }
                | EventKind::ApiResponseDone { .. }
                | EventKind::ToolUse { .. }
                | EventKind::ToolResult { .. }
                | EventKind::ApiRetry { .. }
        );
        if work {
            turn.last_work_at = Some(turn.last_work_at.map_or(event.at, |w| w.max(event.at)));
        }
        match &event.kind {
            EventKind::Usage {
                key,
                request_id,
                reported_cost_usd,
                model,
                tokens,
                ..
            } => {
                let mut key = key_alias.get(key.as_str()).copied().unwrap_or(key);
                if let Some(request) = request_id {
                    let first = *request_keys.entry(request).or_insert(key);
                    if first != key {
                        key_alias.insert(key, first);
                        key = first;
                    }
                }
                let response = responses.entry(key).or_insert_with(|| {
                    response_order.push(key);
                    Response {
                        turn: current,
                        ..Response::default()
                    }
                });
                response.tokens.max_with(tokens);
                if response.model.is_none() {
                    response.model = model.as_deref();
                }
                if response.reported_cost.is_none() {
                    response.reported_cost = *reported_cost_usd;
                }
            }
            EventKind::ToolUse {
                tool_use_id,
                name,
                sidechain,
                ..
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
                        call.duration_ms =
                            Some(duration_ms.unwrap_or(millis_between(call.started_at, event.at)));
                    }
                }
            }
            // Each retry once, though the stream and the transcript both report it.
            EventKind::ApiRetry {
                attempt,
                retry_in_ms,
                ..
            } if retry_in_ms.is_none_or(|wait| retries.insert((*attempt, wait))) => {
                turn.api_retries += 1;
            }
            EventKind::TurnEnded { .. } => {
                turn.ended_at = Some(turn.ended_at.map_or(event.at, |e| e.max(event.at)));
            }
            _ => {}
        }
    }
    for key in response_order {
        let r = &responses[key];
        let turn = &mut turns[r.turn];
        turn.api_requests += 1;
        turn.tokens.add(&r.tokens);
        let model = r.model.or(fallback_model).unwrap_or(UNKNOWN_MODEL);
        match r.reported_cost.or_else(|| prices.cost(model, &r.tokens)) {
            Some(cost) => turn.cost_usd += cost,
            None if r.tokens.total() > 0 && !turn.unpriced_models.iter().any(|m| m == model) => {
                turn.unpriced_models.push(model.to_owned());
            }
            None => {}
        }
    }
    turns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SessionId;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_795_600_000 + secs).unwrap()
    }

    fn ev(secs: i64, kind: EventKind) -> Event {
        Event::new(SessionId::new("s"), at(secs), kind)
    }

    fn usage(key: &str, model: Option<&str>, output: u64) -> EventKind {
        EventKind::Usage {
            key: key.into(),
            request_id: None,
            reported_cost_usd: None,
            model: model.map(str::to_owned),
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

    fn tool(id: &str, name: &str) -> EventKind {
        EventKind::ToolUse {
            tool_use_id: id.into(),
            name: name.into(),
            sidechain: false,
        }
    }

    fn result(id: &str, is_error: bool, duration_ms: Option<u64>) -> EventKind {
        EventKind::ToolResult {
            tool_use_id: id.into(),
            is_error,
            duration_ms,
            sidechain: false,
        }
    }

    const SONNET: Option<&str> = Some("claude-sonnet-4-5");

    #[test]
    fn a_response_seen_by_telemetry_and_the_transcript_counts_once_at_claude_codes_cost() {
        let linked = |key: &str, request: &str, cost: Option<f64>| {
            let EventKind::Usage {
                model,
                tokens,
                is_final,
                sidechain,
                ..
            } = usage(key, SONNET, 42)
            else {
                unreachable!()
            };
            EventKind::Usage {
                key: key.into(),
                request_id: Some(request.into()),
                reported_cost_usd: cost,
                model,
                tokens,
                is_final,
                sidechain,
            }
        };
        // Either order: telemetry before the transcript (r1), after it (r2); a stream report
        // under the bare message id (m1) joins too.
        let events = [
            ev(1, prompt("p1", "go")),
            ev(2, linked("req:r1", "r1", Some(0.5))),
            ev(3, linked("m1", "r1", None)),
            ev(3, usage("m1", SONNET, 42)),
            ev(4, linked("m2", "r2", None)),
            ev(5, linked("req:r2", "r2", Some(0.25))),
        ];
        let turns = build(&events, None, &PriceTable::builtin());
        assert_eq!(turns.len(), 1);
        assert_eq!(turns[0].api_requests, 2);
        assert_eq!(turns[0].tokens.output, 84);
        assert!(
            (turns[0].cost_usd - 0.75).abs() < 1e-12,
            "{}",
            turns[0].cost_usd
        );
    }

    #[test]
    fn turns_hold_their_tools_tokens_and_cost() {
        let events = [
            ev(0, EventKind::Other),
            ev(1, prompt("p1", "fix the bug")),
            ev(2, usage("m1", SONNET, 10)),
            ev(3, usage("m1", SONNET, 20)),
            ev(3, tool("t1", "Bash")),
            ev(5, result("t1", true, None)),
            // The same call reported again (a hook and the transcript): once.
            ev(5, tool("t1", "Bash")),
            ev(6, result("t1", false, Some(1))),
            ev(6, prompt("p1", "fix the bug")),
            ev(7, prompt("p2", "again")),
            ev(8, tool("t2", "Write")),
            ev(9, usage("m2", SONNET, 5)),
            ev(
                9,
                EventKind::ApiRetry {
                    attempt: 1,
                    error_status: Some(529),
                    error: None,
                    retry_in_ms: None,
                },
            ),
            // A late report of m1 stays in turn 1.
            ev(10, usage("m1", SONNET, 20)),
        ];
        let prices = PriceTable::builtin();
        let turns = build(&events, None, &prices);
        let indexes: Vec<u32> = turns.iter().map(|t| t.index).collect();
        // Turn 0, the prompt p1 (once), the model's round after t1's result, the prompt p2.
        assert_eq!(indexes, [0, 1, 2, 3], "the repeated prompt p1 counts once");
        assert_eq!(
            count(&turns),
            3,
            "Claude Code's count: 2 prompts + 1 tool result"
        );
        let prompted: Vec<bool> = turns.iter().map(|t| t.prompted).collect();
        assert_eq!(prompted, [false, true, false, true]);
        let first = &turns[1];
        assert_eq!(first.prompt.as_deref(), Some("fix the bug"));
        assert_eq!(first.api_requests, 1);
        assert_eq!(
            first.tokens.output, 20,
            "a response counts once, at its maximum"
        );
        let expected = prices.cost("claude-sonnet-4-5", &first.tokens).unwrap();
        assert!((first.cost_usd - expected).abs() < 1e-12);
        assert_eq!(first.tools.len(), 1);
        assert_eq!(
            first.tools[0].duration_ms,
            Some(2000),
            "from call to first result"
        );
        assert_eq!(first.tools[0].is_error, Some(true));
        assert_eq!(
            (first.tool_errors(), first.tool_counts()),
            (1, vec![("Bash".into(), 1)])
        );
        assert_eq!(first.last_at, at(3));
        assert_eq!(first.duration_ms(), 2000);
        let round = &turns[2];
        assert_eq!(
            round.started_at,
            at(5),
            "the tool result opens the next round"
        );
        assert_eq!(round.prompt, None);
        assert!(
            round.tools.is_empty(),
            "the call stays in the turn that asked for it"
        );
        let second = &turns[3];
        assert_eq!(second.prompt.as_deref(), Some("again"));
        assert_eq!(second.tools[0].is_error, None, "still running");
        assert_eq!(second.api_retries, 1);
        assert_eq!(second.tokens.output, 5);
        assert_eq!(second.last_work_at, Some(at(10)));
        assert!(!turns[0].did_work());
    }

    #[test]
    fn a_source_s_own_duration_wins_and_turn_ends_are_kept() {
        let events = [
            ev(0, prompt("p1", "go")),
            ev(1, tool("t1", "Bash")),
            ev(9, result("t1", false, Some(7500))),
            ev(10, EventKind::TurnEnded { duration_ms: None }),
            ev(11, EventKind::TurnEnded { duration_ms: None }),
        ];
        let turns = build(&events, None, &PriceTable::builtin());
        assert_eq!(turns[0].tools[0].duration_ms, Some(7500));
        assert_eq!(turns[0].last_work_at, Some(at(1)));
        assert_eq!(turns[1].ended_at, Some(at(11)));
        assert_eq!(turns[1].last_work_at, Some(at(9)));
    }

    #[test]
    fn without_the_prompt_the_first_round_is_turn_1_as_claude_code_counts() {
        // A print session's prompt is in no transcript line cclive read; six Bash rounds.
        let mut events = vec![ev(0, usage("m0", SONNET, 5)), ev(0, tool("t0", "Bash"))];
        for n in 1..6 {
            events.push(ev(n, result(&format!("t{}", n - 1), false, None)));
            events.push(ev(n, usage(&format!("m{n}"), SONNET, 5)));
            events.push(ev(n, tool(&format!("t{n}"), "Bash")));
        }
        events.push(ev(6, result("t5", false, None)));
        events.push(ev(6, usage("m6", SONNET, 5)));
        let turns = build(&events, None, &PriceTable::builtin());
        let indexes: Vec<u32> = turns.iter().map(|t| t.index).collect();
        assert_eq!(indexes, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(count(&turns), 7);
        assert!(
            turns[..6].iter().all(|t| t.tools.len() == 1),
            "one Bash call per round"
        );
    }

    #[test]
    fn a_response_without_a_model_is_priced_as_the_session_s_model_or_listed() {
        let events = [ev(0, prompt("p1", "go")), ev(1, usage("m1", None, 10))];
        let prices = PriceTable::builtin();
        let with_model = build(&events, SONNET, &prices);
        assert!(with_model[0].cost_usd > 0.0);
        assert!(with_model[0].unpriced_models.is_empty());
        let unpriced = build(&events, None, &prices);
        assert_eq!(unpriced[0].cost_usd, 0.0);
        assert_eq!(unpriced[0].unpriced_models, ["unknown"]);
    }

    #[test]
    fn no_events_no_turns() {
        assert!(build(&[], None, &PriceTable::builtin()).is_empty());
    }
}
