//! What integrations are told: event names, the JSON payload, and how monitor updates become
//! events.
//!
//! The monitor reports [`Update`]s (started, status changed, progress, ended). Integrations want
//! a few named moments instead, so [`Classifier`] turns each update into zero or more
//! [`Payload`]s: `session_started`, `status_changed`, `turn_finished`, `session_ended` and (off
//! by default, it fires at least once a second per live session) `progress`. It remembers each
//! live session's turn count, because an update carries the state after the change only.
//! Budget alerts (`budget_threshold`) and 5-hour blocks (`block_started`, `block_ended`) come
//! from the budget watcher instead (`budget_watch`, through [`super::Notifier::alert_sink`] and
//! [`super::Notifier::block_sink`]). The payload is the same for webhooks and exec hooks, and is
//! documented in `docs/integrations.md`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use cclive_core::blocks::{BlockChange, BlockEvent};
use cclive_core::budget::BudgetAlert;
use cclive_core::{SessionId, SessionState, Status, Update, UpdateKind};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The moments an integration can subscribe to (`events = [...]` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventName {
    /// A session was seen for the first time.
    SessionStarted,
    /// A live session changed status (`ACTIVE` ↔ `IDLE`).
    StatusChanged,
    /// A turn finished: an interactive session went from `ACTIVE` to `IDLE`, or a tool result
    /// started the next turn of a working session.
    TurnFinished,
    /// A session reached a final status (`COMPLETED`, `FAILED`, `INTERRUPTED`).
    SessionEnded,
    /// Any figure changed (cost, tokens, durations: at least once a second while a session is
    /// live). Off unless asked for.
    Progress,
    /// A budget crossed one of its thresholds.
    BudgetThreshold,
    /// A 5-hour usage block started: its first response came.
    BlockStarted,
    /// A 5-hour usage block ended: its five hours are over.
    BlockEnded,
}

/// The names of `events` as configs and the API write them.
pub(crate) fn names(events: &[EventName]) -> Vec<String> {
    events.iter().map(|e| e.as_str().to_owned()).collect()
}

impl EventName {
    /// Every event, in documentation order.
    pub const ALL: [EventName; 8] = [
        EventName::SessionStarted,
        EventName::StatusChanged,
        EventName::TurnFinished,
        EventName::SessionEnded,
        EventName::Progress,
        EventName::BudgetThreshold,
        EventName::BlockStarted,
        EventName::BlockEnded,
    ];

    /// `block` in a config's `events`: both block events (the name earlier configs used).
    const BLOCK_GROUP: &'static str = "block";

    /// What an integration gets when its config names no `events`: all but `progress`.
    pub fn defaults() -> Vec<EventName> {
        Self::ALL
            .into_iter()
            .filter(|e| *e != EventName::Progress)
            .collect()
    }

    /// The name used in configs, payloads and headers.
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::SessionStarted => "session_started",
            EventName::StatusChanged => "status_changed",
            EventName::TurnFinished => "turn_finished",
            EventName::SessionEnded => "session_ended",
            EventName::Progress => "progress",
            EventName::BudgetThreshold => "budget_threshold",
            EventName::BlockStarted => "block_started",
            EventName::BlockEnded => "block_ended",
        }
    }

    /// Parses a name as written in a config.
    pub fn parse(name: &str) -> Option<EventName> {
        Self::ALL.into_iter().find(|e| e.as_str() == name.trim())
    }

    /// Parses a config's `events` list: names, `"block"` for both block events, or `"*"` for
    /// every event. An empty list means the defaults. Errors name the offending entry and list
    /// the valid names.
    pub fn parse_list(names: &[String]) -> Result<Vec<EventName>, String> {
        if names.is_empty() {
            return Ok(Self::defaults());
        }
        let mut out = Vec::new();
        for name in names {
            if name.trim() == "*" {
                return Ok(Self::ALL.to_vec());
            }
            let events = if name.trim() == Self::BLOCK_GROUP {
                vec![EventName::BlockStarted, EventName::BlockEnded]
            } else {
                vec![Self::parse(name).ok_or_else(|| {
                    format!(
                        "unknown event {name:?}; known events: {}, \"block\" for both block \
                         events, or \"*\" for all",
                        Self::ALL.map(EventName::as_str).join(", ")
                    )
                })?]
            };
            for event in events {
                if !out.contains(&event) {
                    out.push(event);
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notification, as sent to every integration that subscribed to its event: the JSON body
/// of a webhook POST and the stdin of an exec hook.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Payload {
    /// Unique per notification and the same on every retry of it (`X-Cclive-Delivery`), so a
    /// receiver can drop duplicates.
    pub id: String,
    /// Which moment.
    pub event: EventName,
    /// When cclive noticed it (UTC).
    pub at: Timestamp,
    /// True for `cclive webhooks test` samples.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
    /// What it is about.
    #[serde(flatten)]
    pub subject: Subject,
}

/// What a notification is about; its fields are flattened into the payload.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Subject {
    /// A session changed.
    Session {
        /// The status before the change, when it changed (else `null`).
        previous_status: Option<Status>,
        /// The session after the change: the state file's session object.
        session: Box<SessionState>,
    },
    /// A budget threshold was crossed (`budget_threshold`).
    Budget {
        /// The alert: scope, period, threshold, limit, spend, projection.
        budget: Box<BudgetAlert>,
    },
    /// A 5-hour block started or ended (`block_started`, `block_ended`).
    Block {
        /// The block: its span, and its tokens and estimated cost so far.
        block: Box<BlockEvent>,
    },
}

impl Payload {
    /// A payload with a fresh id.
    pub fn new(event: EventName, at: Timestamp, subject: Subject) -> Payload {
        Payload {
            id: uuid::Uuid::new_v4().to_string(),
            event,
            at,
            test: false,
            subject,
        }
    }

    /// The session this is about, if any.
    pub fn session(&self) -> Option<&SessionState> {
        match &self.subject {
            Subject::Session { session, .. } => Some(session),
            Subject::Budget { .. } | Subject::Block { .. } => None,
        }
    }

    /// The notification `event` of a monitor update.
    pub fn of_update(event: EventName, update: &Update, at: Timestamp) -> Payload {
        Payload::new(
            event,
            at,
            Subject::Session {
                previous_status: update.previous_status,
                session: Box::new(update.session.clone()),
            },
        )
    }

    /// The notification of a budget alert.
    pub fn budget(alert: &BudgetAlert) -> Payload {
        Payload::new(
            EventName::BudgetThreshold,
            alert.at,
            Subject::Budget {
                budget: Box::new(alert.clone()),
            },
        )
    }

    /// The notification of a block's start or end.
    pub fn block(block: &BlockEvent) -> Payload {
        let event = match block.change {
            BlockChange::Started => EventName::BlockStarted,
            BlockChange::Ended => EventName::BlockEnded,
        };
        Payload::new(
            event,
            block.at,
            Subject::Block {
                block: Box::new(block.clone()),
            },
        )
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        // A payload is plain data (strings, numbers, maps with string keys): it always
        // serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Turns monitor updates into named events. Shared by every sink; cheap per update.
#[derive(Debug, Default)]
pub struct Classifier {
    /// The last turn count seen per live session.
    turns: Mutex<HashMap<SessionId, u64>>,
}

impl Classifier {
    /// A classifier that has seen nothing.
    pub fn new() -> Classifier {
        Classifier::default()
    }

    /// The payloads of the events one update stands for, in the order they should be delivered.
    pub fn classify(&self, update: &Update, at: Timestamp) -> Vec<Payload> {
        self.events(update)
            .into_iter()
            .map(|event| Payload::of_update(event, update, at))
            .collect()
    }

    /// The names of the events one update stands for, in order (cheaper than [`classify`] when
    /// most are not wanted). Call it once per update: it remembers turn counts.
    ///
    /// [`classify`]: Classifier::classify
    pub fn events(&self, update: &Update) -> Vec<EventName> {
        let session = &update.session;
        let previous_turns = {
            let mut turns = self
                .turns
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if session.status.is_live() {
                turns.insert(session.session_id.clone(), session.num_turns)
            } else {
                turns.remove(&session.session_id)
            }
        };
        let mut events = Vec::with_capacity(2);
        match update.kind {
            UpdateKind::Started => events.push(EventName::SessionStarted),
            UpdateKind::StatusChanged => {
                events.push(EventName::StatusChanged);
                if update.previous_status == Some(Status::Active) && session.status == Status::Idle
                {
                    events.push(EventName::TurnFinished);
                }
            }
            UpdateKind::Progress => {
                // A tool result starts the next turn of a working session: the previous one is
                // done. (The first prompt, 0 → 1, finishes nothing.)
                let grew = previous_turns.is_some_and(|n| n >= 1 && session.num_turns > n);
                if grew && session.status == Status::Active {
                    events.push(EventName::TurnFinished);
                }
                events.push(EventName::Progress);
            }
            UpdateKind::Ended => events.push(EventName::SessionEnded),
        }
        events
    }
}

/// A plausible notification for samples (`cclive webhooks test`) and tests: a session, or for
/// budget and block events, an alert or a block.
pub fn sample_payload(event: EventName, at: Timestamp) -> Payload {
    if let Some(mut payload) = sample_alert(event, at) {
        payload.test = true;
        return payload;
    }
    let mut session = SessionState::new(SessionId::new("cclive-sample-session"), at);
    session.source = "sample".into();
    session.command = Some("claude -p 'say hi'".into());
    session.project_path = Some("/home/me/app".into());
    session.cwd = Some("/home/me/app".into());
    session.model = Some("claude-opus-5-5".into());
    session.last_prompt = Some("say hi".into());
    session.total_cost_usd = 0.0123;
    session.num_turns = 2;
    session.duration_ms = 4200;
    session.duration_api_ms = 3100;
    let previous_status = match event {
        EventName::StatusChanged | EventName::TurnFinished => {
            session.status = Status::Idle;
            Some(Status::Active)
        }
        EventName::SessionEnded => {
            session.status = Status::Completed;
            session.ended_at = Some(at);
            Some(Status::Active)
        }
        _ => None,
    };
    let mut payload = Payload::new(
        event,
        at,
        Subject::Session {
            previous_status,
            session: Box::new(session),
        },
    );
    payload.test = true;
    payload
}

/// A budget alert or block sample, for the events that carry one.
fn sample_alert(event: EventName, at: Timestamp) -> Option<Payload> {
    let hour = |h: i64| at + jiff::SignedDuration::from_hours(h);
    match event {
        EventName::BudgetThreshold => Some(Payload::budget(&BudgetAlert {
            project: None,
            period: cclive_core::budget::Period::Day,
            period_key: "sample".into(),
            period_start: hour(-12),
            period_end: hour(12),
            threshold_percent: 80,
            limit_usd: 10.0,
            spent_usd: 8.12,
            percent: 81.2,
            projected_usd: 11.4,
            at,
        })),
        EventName::BlockStarted | EventName::BlockEnded => {
            let started = event == EventName::BlockStarted;
            let start = if started { at } else { hour(-5) };
            Some(Payload::block(&BlockEvent {
                change: if started {
                    BlockChange::Started
                } else {
                    BlockChange::Ended
                },
                span: cclive_core::blocks::BlockSpan {
                    start,
                    end: start + jiff::SignedDuration::from_hours(5),
                    first_at: start,
                    last_at: if started { start } else { hour(-1) },
                },
                total_tokens: if started { 12_000 } else { 1_250_000 },
                messages: if started { 1 } else { 140 },
                cost_usd: if started { 0.05 } else { 4.2 },
                models: vec!["claude-opus-5-5".into()],
                at,
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use cclive_core::{Event, EventKind, Mode, Monitor, PriceTable};
    use rstest::rstest;

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    /// Folds `events` through a real monitor and classifies every update.
    fn names(events: &[EventKind]) -> Vec<EventName> {
        let mut monitor = Monitor::new(PriceTable::builtin());
        let classifier = Classifier::new();
        let mut out = Vec::new();
        for (i, kind) in events.iter().enumerate() {
            let secs = i64::try_from(i).unwrap();
            let event = Event::new(SessionId::new("s"), at(secs), kind.clone());
            if let Some(update) = monitor.apply(&event) {
                out.extend(
                    classifier
                        .classify(&update, at(secs))
                        .into_iter()
                        .map(|p| p.event)
                        .filter(|e| *e != EventName::Progress),
                );
            }
        }
        out
    }

    fn started(mode: Mode) -> EventKind {
        EventKind::SessionStarted {
            mode,
            command: None,
            cwd: None,
            project_path: None,
            session_type: None,
            source: "hook".into(),
        }
    }

    fn prompt(id: &str) -> EventKind {
        EventKind::PromptSubmitted {
            id: Some(id.into()),
            preview: Some("hi".into()),
        }
    }

    fn tool(id: &str) -> [EventKind; 2] {
        [
            EventKind::ToolUse {
                tool_use_id: id.into(),
                name: "Bash".into(),
                sidechain: false,
            },
            EventKind::ToolResult {
                tool_use_id: id.into(),
                is_error: false,
                duration_ms: None,
                sidechain: false,
            },
        ]
    }

    #[test]
    fn an_interactive_session_tells_each_finished_turn_once() {
        use EventName::*;
        let [use1, result1] = tool("t1");
        let got = names(&[
            started(Mode::Interactive),
            prompt("p1"),
            use1,
            result1,
            EventKind::TurnEnded { duration_ms: None },
            prompt("p2"),
            EventKind::TurnEnded { duration_ms: None },
            EventKind::SessionEnded { reason: None },
        ]);
        assert_eq!(
            got,
            vec![
                SessionStarted,
                // The tool result starts turn 2: turn 1 is done.
                TurnFinished,
                // ACTIVE → IDLE.
                StatusChanged,
                TurnFinished,
                // IDLE → ACTIVE: a new turn starts, none finished.
                StatusChanged,
                StatusChanged,
                TurnFinished,
                SessionEnded,
            ]
        );
    }

    #[test]
    fn a_print_session_finishes_turns_through_tool_results() {
        let [use1, result1] = tool("t1");
        let got = names(&[
            started(Mode::Print),
            prompt("p1"),
            use1,
            result1,
            EventKind::ProcessExited {
                code: Some(0),
                signal: None,
            },
        ]);
        assert_eq!(
            got,
            vec![
                EventName::SessionStarted,
                EventName::TurnFinished,
                EventName::SessionEnded
            ]
        );
    }

    /// The notification a real monitor gives for a print session's start.
    fn started_payload() -> Payload {
        let mut monitor = Monitor::new(PriceTable::builtin());
        let update = monitor
            .apply(&Event::new(
                SessionId::new("s1"),
                at(0),
                started(Mode::Print),
            ))
            .unwrap();
        Classifier::new().classify(&update, at(1)).remove(0)
    }

    #[test]
    fn payloads_have_the_documented_shape() {
        let payload = started_payload();
        let json: serde_json::Value = serde_json::from_slice(&payload.to_json()).unwrap();
        assert_eq!(json["event"], "session_started");
        assert_eq!(json["at"], "2027-01-15T08:00:01Z");
        assert!(json["previous_status"].is_null());
        assert_eq!(json["session"]["session_id"], "s1");
        assert_eq!(json["session"]["status"], "ACTIVE");
        assert!(json.get("test").is_none());
        assert_eq!(json["id"].as_str().unwrap().len(), 36);
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "event", "at", "previous_status", "session"]);
    }

    #[rstest]
    #[case(&[], Ok(EventName::defaults()))]
    #[case(&["session_ended"], Ok(vec![EventName::SessionEnded]))]
    #[case(&["progress", " progress "], Ok(vec![EventName::Progress]))]
    #[case(&["*"], Ok(EventName::ALL.to_vec()))]
    #[case(&["block", "block_ended"], Ok(vec![EventName::BlockStarted, EventName::BlockEnded]))]
    #[case(&["session_end"], Err("unknown event \"session_end\""))]
    fn event_lists_parse(#[case] names: &[&str], #[case] want: Result<Vec<EventName>, &str>) {
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        match (EventName::parse_list(&names), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(got), Err(want)) => assert!(got.starts_with(want), "{got}"),
            (got, want) => panic!("{got:?} != {want:?}"),
        }
    }

    #[test]
    fn defaults_leave_out_progress_only() {
        let d = EventName::defaults();
        assert_eq!(d.len(), EventName::ALL.len() - 1);
        assert!(!d.contains(&EventName::Progress));
        for e in EventName::ALL {
            assert_eq!(EventName::parse(e.as_str()), Some(e));
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
        }
    }

    #[test]
    fn block_payloads_carry_the_block_and_no_session() {
        let payload = sample_payload(EventName::BlockEnded, at(0));
        assert_eq!(payload.event, EventName::BlockEnded);
        assert!(payload.session().is_none());
        let json: serde_json::Value = serde_json::from_slice(&payload.to_json()).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "event", "at", "test", "block"]);
        assert_eq!(json["event"], "block_ended");
        assert_eq!(json["block"]["change"], "ended");
        assert_eq!(json["block"]["total_tokens"], 1_250_000);
        assert!(json["block"]["start"].is_string() && json["block"]["end"].is_string());
        let budget = sample_payload(EventName::BudgetThreshold, at(0));
        assert!(budget.to_json().starts_with(b"{\"id\""));
        assert!(matches!(budget.subject, Subject::Budget { .. }));
    }

    #[test]
    fn samples_are_marked_as_tests() {
        let json: serde_json::Value =
            serde_json::from_slice(&sample_payload(EventName::SessionEnded, at(0)).to_json())
                .unwrap();
        assert_eq!(json["test"], true);
        assert_eq!(json["session"]["status"], "COMPLETED");
        assert_eq!(json["previous_status"], "ACTIVE");
    }

    /// The exact JSON receivers parse (webhook body, exec hook stdin), per kind of subject.
    /// The delivery id is random: redacted.
    #[test]
    fn payload_shapes_snapshot() {
        for (name, mut payload) in [
            ("payload_session_started", started_payload()),
            (
                "payload_session_ended_sample",
                sample_payload(EventName::SessionEnded, at(0)),
            ),
            (
                "payload_budget_threshold_sample",
                sample_payload(EventName::BudgetThreshold, at(0)),
            ),
            (
                "payload_block_ended_sample",
                sample_payload(EventName::BlockEnded, at(0)),
            ),
        ] {
            payload.id = "[delivery id]".into();
            let json: serde_json::Value = serde_json::from_slice(&payload.to_json()).unwrap();
            insta::assert_json_snapshot!(name, json);
        }
    }
}
