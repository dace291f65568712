//! Team mode's wire protocol, version 1: what an agent (a local monitor with an upstream) and
//! the team server (`cclive server`) say to each other, as plain serde types.
//!
//! This module owns the JSON shapes of `/api/team/v1/…` and nothing else: no HTTP, no storage,
//! no clock. Fields are only ever added (with `#[serde(default)]`), never renamed or removed,
//! within one protocol version; a breaking change is a new version under `/api/team/v2/`.
//!
//! # Wire format
//!
//! Every request carries `Authorization: Bearer <token>`. A token is `cct_<id>_<secret>`
//! ([`TokenParts`]): the server finds the token by `<id>` and compares a hash of `<secret>`.
//! A token names its user; everything pushed with it is attributed to that user, never to what
//! the payload claims.
//!
//! ```text
//! GET  /api/team/v1/cursor?machine=<uuid>
//!   200 {"machine_id": "<uuid>", "acked_seq": 123}            (0 for a new machine)
//!   409 {"error": "…"}   the machine id is bound to another user or host (a cloned image)
//!
//! POST /api/team/v1/push                                      (PushRequest → PushReply)
//!   {"protocol": 1,
//!    "machine": {"id": "<uuid>", "hostname": "laptop", "agent_version": "0.1.0"},
//!    "outbox_head": 50,              (optional: the highest seq the agent holds, for its backlog)
//!    "items": [
//!      {"seq": 41, "kind": "session", "session": {…SessionItem…}},
//!      {"seq": 42, "kind": "usage", "usage": {…UsageItem…}},
//!      {"seq": 43, "kind": "retired_usage", "message_id": "req_…"},
//!      {"seq": 44, "kind": "event", "event": {…EventItem…}}]}
//!   200 {"acked_seq": 44, "rejected": [{"seq": 43, "error": "…"}]}
//!   400 the envelope itself is unreadable (nothing applied)   413 the body is too large
//!   401 no or a bad token                                     409 as for the cursor
//! ```
//!
//! Rules the server applies, in ONE database transaction per push:
//! - `seq` is the agent's outbox sequence number: it only grows. The reply's `acked_seq` is the
//!   highest `seq` of the batch (malformed items included), and the machine's stored cursor only
//!   moves forward (`GREATEST`). An agent resumes from [`CursorReply::acked_seq`].
//! - The same push twice changes nothing: every item is applied idempotently.
//! - `session`: keyed by (machine, `session_id`); replaces the stored row only when its
//!   [`SessionItem::revision`] is higher, so an older state never overwrites a newer one.
//! - `usage`: keyed by `message_id` server-wide and merged with the same rule as the local
//!   history (field-wise maximum of the tokens, model kept once known, sidechain only while every
//!   report says so, the owner of the earliest report): a response reported by two machines
//!   counts once. Every count of the tokens merges that way, the pricing counts included, and
//!   the server prices each response as the local history does.
//! - `retired_usage`: the key is dropped (its response is counted under another key).
//! - `event`: keyed by (machine, [`EventItem::id`]); insert-or-ignore.
//! - An item that cannot be read (unknown kind, missing field, bad value) is listed in
//!   [`PushReply::rejected`] and still acknowledged, so it never blocks the queue.
//!
//! Times on the wire are UTC milliseconds since the Unix epoch (`*_ms`), costs are USD.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Mode;
use crate::session::{CostSource, SessionState, Status};
use crate::usage::Tokens;

/// The protocol version this build speaks (the `protocol` field of a push).
pub const PROTOCOL_VERSION: u32 = 1;

/// The path prefix of every team route.
pub const API_PREFIX: &str = "/api/team/v1";

/// The prefix of every team token.
pub const TOKEN_PREFIX: &str = "cct_";

/// The machine an agent runs on. `id` is a UUID the agent generates once and keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// The machine's stable id (a UUID, as text).
    pub id: String,
    /// Its host name, for people to read.
    pub hostname: String,
    /// The cclive version of the agent.
    pub agent_version: String,
}

/// `GET /api/team/v1/cursor`'s reply: how far the server has acknowledged a machine's outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorReply {
    /// The machine asked about.
    pub machine_id: String,
    /// The highest outbox `seq` acknowledged; 0 for a machine never seen.
    pub acked_seq: u64,
}

/// `POST /api/team/v1/push`'s body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// Who sends it.
    pub machine: MachineInfo,
    /// The highest `seq` the agent's outbox holds (sent or not), so the server can show each
    /// machine's backlog (`outbox_head - acked_seq`). Optional: older agents leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_head: Option<u64>,
    /// The outbox items, in `seq` order.
    pub items: Vec<PushItem>,
}

/// A push as the server first reads it: the envelope strictly, the items as raw JSON, so one
/// malformed item is rejected alone ([`parse_item`]) instead of failing the whole batch.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RawPushRequest {
    /// The protocol version the agent speaks.
    pub protocol: u32,
    /// Who sends it.
    pub machine: MachineInfo,
    /// See [`PushRequest::outbox_head`].
    #[serde(default)]
    pub outbox_head: Option<u64>,
    /// The items, unread.
    #[serde(default)]
    pub items: Vec<Value>,
}

/// One outbox item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushItem {
    /// The agent's outbox sequence number (only grows).
    pub seq: u64,
    /// What it carries.
    #[serde(flatten)]
    pub body: ItemBody,
}

/// What one outbox item carries, tagged by `kind`.
#[allow(clippy::large_enum_variant)] // items are built one at a time and moved into a Vec once
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ItemBody {
    /// A session's latest summary.
    Session {
        /// The summary.
        session: SessionItem,
    },
    /// One API response's usage.
    Usage {
        /// The usage.
        usage: UsageItem,
    },
    /// A usage key whose response is now counted under another key.
    RetiredUsage {
        /// The retired key.
        message_id: String,
    },
    /// One event of a session's log.
    Event {
        /// The event.
        event: EventItem,
    },
}

/// A session as the team sees it: figures and state, no prompt text unless the agent shares it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionItem {
    /// The session id (cclive's, as the local history has it).
    pub session_id: String,
    /// Grows with every change the agent sends; a lower one never replaces a higher one.
    pub revision: u64,
    /// Its status.
    pub status: Status,
    /// Print or interactive.
    pub mode: Mode,
    /// What saw it locally (`wrapper`, `transcript`, …).
    pub source: String,
    /// First seen.
    pub started_at_ms: i64,
    /// Last change.
    pub updated_at_ms: i64,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at_ms: Option<i64>,
    /// The project it is filed under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_path: Option<String>,
    /// Its working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Its main model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// What a live session waits for (e.g. "permission prompt").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// Cost so far, USD.
    pub total_cost_usd: f64,
    /// Whether Claude Code reported the cost or cclive estimated it.
    pub cost_source: CostSource,
    /// Wall time, ms.
    pub duration_ms: u64,
    /// API time, ms.
    pub duration_api_ms: u64,
    /// Turns.
    pub num_turns: u64,
    /// Tokens so far.
    pub tokens: Tokens,
    /// API requests so far.
    #[serde(default)]
    pub api_requests: u64,
    /// Claude Code's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_version: Option<String>,
    /// Claude Code's title for the session: only with `share_prompts = true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Preview of the last prompt: only with `share_prompts = true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_prompt: Option<String>,
    /// The command line: only with `share_prompts = true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

impl SessionItem {
    /// The item for a local state. Title, last prompt and command line are included only when
    /// `share_prompts` is true.
    pub fn of_state(s: &SessionState, revision: u64, share_prompts: bool) -> SessionItem {
        let shared = |v: &Option<String>| if share_prompts { v.clone() } else { None };
        SessionItem {
            session_id: s.session_id.as_str().to_owned(),
            revision,
            status: s.status,
            mode: s.mode,
            source: s.source.as_str().to_owned(),
            started_at_ms: s.started_at.as_millisecond(),
            updated_at_ms: s.updated_at.as_millisecond(),
            ended_at_ms: s.ended_at.map(jiff::Timestamp::as_millisecond),
            project_path: s.project_path.clone(),
            cwd: s.cwd.clone(),
            model: s.model.clone(),
            waiting_for: s.waiting_for.clone(),
            total_cost_usd: if s.total_cost_usd.is_finite() {
                s.total_cost_usd
            } else {
                0.0
            },
            cost_source: s.cost_source,
            duration_ms: s.duration_ms,
            duration_api_ms: s.duration_api_ms,
            num_turns: s.num_turns,
            tokens: s.tokens,
            api_requests: s.api_requests,
            claude_version: s.claude_version.clone(),
            title: shared(&s.title),
            last_prompt: shared(&s.last_prompt),
            command: shared(&s.command),
        }
    }

    /// The project reports group by: `project_path`, else `cwd`.
    pub fn project(&self) -> Option<&str> {
        self.project_path.as_deref().or(self.cwd.as_deref())
    }
}

/// One API response's usage, as the local usage table keeps it (`UsageRow`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageItem {
    /// The API message id (the usage key).
    pub message_id: String,
    /// The session that owns the response locally.
    pub session_id: String,
    /// When the response was first seen.
    pub first_seen_ms: i64,
    /// The model that answered, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Its tokens (the local field-wise maximum so far), with the counts that price it
    /// (1-hour cache writes, web searches, fast mode, US-only: left out while zero).
    pub tokens: Tokens,
    /// True while only sub-agents reported it.
    #[serde(default)]
    pub sidechain: bool,
}

/// One event of a session's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventItem {
    /// Stable per machine (e.g. the local event row id): the same event sent twice is stored once.
    pub id: String,
    /// Its session.
    pub session_id: String,
    /// When it happened.
    pub at_ms: i64,
    /// The event kind's name (`type` in the local event log).
    pub kind: String,
    /// The event's payload, without prompt text unless the agent shares prompts.
    #[serde(default)]
    pub data: Value,
}

/// `POST /api/team/v1/push`'s reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReply {
    /// The machine's cursor after this push (never lower than before).
    pub acked_seq: u64,
    /// Items that could not be applied, each with why; they are acknowledged all the same.
    #[serde(default)]
    pub rejected: Vec<Rejected>,
}

/// An item the server could not apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Its `seq`, when it had one that could be read.
    pub seq: Option<u64>,
    /// Why.
    pub error: String,
}

/// The body of every error reply of the team API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong and what to do.
    pub error: String,
}

/// Reads one raw push item. Err carries the item's `seq` when it could be read.
pub fn parse_item(raw: Value) -> Result<PushItem, Rejected> {
    let seq = raw.get("seq").and_then(Value::as_u64);
    serde_json::from_value::<PushItem>(raw).map_err(|e| Rejected {
        seq,
        error: e.to_string(),
    })
}

/// A team member's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees and pushes their own data.
    Member,
    /// Also sees their team's data.
    Lead,
    /// Sees everything and manages users.
    Admin,
}

impl Role {
    /// The lower-case name used in the database, the CLI and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Lead => "lead",
            Role::Admin => "admin",
        }
    }

    /// Parses the lower-case name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "lead" => Some(Role::Lead),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The two parts of a token `cct_<id>_<secret>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenParts<'a> {
    /// The public id the server looks the token up by.
    pub id: &'a str,
    /// The secret whose hash the server keeps.
    pub secret: &'a str,
}

impl<'a> TokenParts<'a> {
    /// Splits a token; `None` when it is not of the form `cct_<id>_<secret>` (id and secret
    /// non-empty, ASCII alphanumeric).
    pub fn parse(token: &'a str) -> Option<TokenParts<'a>> {
        let rest = token.trim().strip_prefix(TOKEN_PREFIX)?;
        let (id, secret) = rest.split_once('_')?;
        let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        (ok(id) && ok(secret)).then_some(TokenParts { id, secret })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usage_item() -> UsageItem {
        UsageItem {
            message_id: "msg_1".into(),
            session_id: "s1".into(),
            first_seen_ms: 1_700_000_000_000,
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                input: 10,
                output: 20,
                cache_read: 30,
                cache_creation: 40,
                ..Tokens::default()
            },
            sidechain: false,
        }
    }

    #[test]
    fn a_push_has_the_documented_shape() {
        let push = PushRequest {
            protocol: PROTOCOL_VERSION,
            machine: MachineInfo {
                id: "6f1c".into(),
                hostname: "laptop".into(),
                agent_version: "0.1.0".into(),
            },
            outbox_head: Some(50),
            items: vec![
                PushItem {
                    seq: 42,
                    body: ItemBody::Usage {
                        usage: usage_item(),
                    },
                },
                PushItem {
                    seq: 43,
                    body: ItemBody::RetiredUsage {
                        message_id: "req_1".into(),
                    },
                },
            ],
        };
        insta::assert_json_snapshot!(push);
    }

    #[test]
    fn items_read_back_and_bad_ones_are_rejected_alone() {
        let good = json!({"seq": 7, "kind": "usage", "usage": usage_item()});
        let item = parse_item(good).unwrap();
        assert_eq!(item.seq, 7);
        assert!(matches!(item.body, ItemBody::Usage { .. }));

        let unknown = parse_item(json!({"seq": 8, "kind": "fax"})).unwrap_err();
        assert_eq!(unknown.seq, Some(8));
        assert!(unknown.error.contains("fax"), "{}", unknown.error);

        let no_seq = parse_item(json!({"kind": "retired_usage", "message_id": "x"})).unwrap_err();
        assert_eq!(no_seq.seq, None);

        let raw: RawPushRequest = serde_json::from_value(json!({"protocol": 1,
            "machine": {"id": "m", "hostname": "h", "agent_version": "v"},
            "items": [{"seq": 1, "kind": "nonsense"}, 3]}))
        .unwrap();
        assert_eq!(raw.items.len(), 2);
    }

    #[test]
    fn prompts_are_shared_only_when_asked() {
        let mut s = SessionState::new(
            crate::SessionId::from("s1"),
            jiff::Timestamp::from_millisecond(1000).unwrap(),
        );
        s.title = Some("secret plans".into());
        s.last_prompt = Some("hello".into());
        s.command = Some("claude -p hello".into());
        let private = SessionItem::of_state(&s, 3, false);
        assert_eq!(
            (private.title, private.last_prompt, private.command),
            (None, None, None)
        );
        let shared = SessionItem::of_state(&s, 3, true);
        assert_eq!(shared.title.as_deref(), Some("secret plans"));
        assert_eq!(shared.started_at_ms, 1000);
        assert_eq!(shared.revision, 3);
    }

    #[test]
    fn tokens_split_into_id_and_secret() {
        let t = TokenParts::parse("cct_ab12_SeCrEt99").unwrap();
        assert_eq!((t.id, t.secret), ("ab12", "SeCrEt99"));
        for bad in [
            "",
            "cct_",
            "cct_ab",
            "cct__x",
            "cct_a_",
            "xyz_a_b",
            "cct_a_b-c",
        ] {
            assert_eq!(TokenParts::parse(bad), None, "{bad}");
        }
        assert_eq!(Role::parse("lead"), Some(Role::Lead));
        assert_eq!(Role::parse(Role::Admin.as_str()), Some(Role::Admin));
        assert_eq!(Role::parse("boss"), None);
    }
}
