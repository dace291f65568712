//! The domain events every source produces and the monitor folds.
//!
//! Sources speak different formats (stream-json from a wrapped child, transcript lines, hook
//! payloads, OTLP); each is translated into these few events, so the rules of what a session is
//! live in one place ([`crate::session`]). Events carry usage and metadata, never message
//! content: they are stored and replayed, and transcripts hold users' code and secrets. The one
//! exception is a short prompt preview, truncated at the source.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::SessionId;
use crate::usage::{MAX_RESPONSE_TOKENS, MAX_SESSION_TOKENS, TokenError, Tokens, check_cost};

/// Longest prompt preview kept, in characters.
pub const PROMPT_PREVIEW_CHARS: usize = 120;

/// One thing that happened to one session, at one time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The session it happened to.
    pub session_id: SessionId,
    /// When it happened (UTC).
    pub at: Timestamp,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl EventKind {
    /// Bad input only (a line or report that could not be read, or of an unknown kind): it
    /// counts against a session some source announced, and never announces one itself.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            EventKind::InputError { .. } | EventKind::UnknownRecord { .. }
        )
    }

    /// A live-only event: it moves what a monitor shows, but is never kept in the event log
    /// (a streaming response sends dozens a second, and its final usage says it all).
    pub fn is_transient(&self) -> bool {
        matches!(self, EventKind::OutputStreamed { .. })
    }
}

impl Event {
    /// An event of `kind` for `session_id` at `at`.
    pub fn new(session_id: SessionId, at: Timestamp, kind: EventKind) -> Self {
        Self {
            session_id,
            at,
            kind,
        }
    }

    /// Whether the figures this event carries are believable: token counts within a model's
    /// limits ([`MAX_RESPONSE_TOKENS`] for one response, [`MAX_SESSION_TOKENS`] for a
    /// session's total) and costs finite and non-negative. Every source's events pass here
    /// before they count (see [`Event::screened`]); the webhook refuses a call that fails.
    pub fn check(&self) -> Result<(), TokenError> {
        match &self.kind {
            EventKind::Usage {
                tokens,
                reported_cost_usd,
                ..
            } => {
                tokens.check(MAX_RESPONSE_TOKENS)?;
                if let Some(cost) = reported_cost_usd {
                    check_cost("reported_cost_usd", *cost)?;
                }
            }
            EventKind::Result {
                tokens,
                total_cost_usd,
                ..
            } => {
                if let Some(tokens) = tokens {
                    tokens.check(MAX_SESSION_TOKENS)?;
                }
                if let Some(cost) = total_cost_usd {
                    check_cost("total_cost_usd", *cost)?;
                }
            }
            EventKind::CostState {
                tokens,
                total_cost_usd,
                ..
            } => {
                if let Some(tokens) = tokens {
                    tokens.check(MAX_SESSION_TOKENS)?;
                }
                check_cost("total_cost_usd", *total_cost_usd)?;
            }
            EventKind::StatusLine { total_cost_usd, .. } => {
                check_cost("total_cost_usd", *total_cost_usd)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// This event, or an [`EventKind::InputError`] in its place when its figures are not
    /// believable ([`Event::check`]): the bad input is counted and reported, never summed.
    #[must_use]
    pub fn screened(self) -> Event {
        match self.check() {
            Ok(()) => self,
            Err(e) => Event {
                kind: EventKind::InputError {
                    source: "event".into(),
                    message: format!("bad usage: {e}"),
                },
                ..self
            },
        }
    }
}

/// How Claude Code was run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `claude -p`: one prompt, then exit.
    Print,
    /// The interactive terminal UI.
    #[default]
    Interactive,
}

/// What a live session is doing, per Claude Code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// Working on a turn (the registry's `busy` and `shell`).
    Busy,
    /// Waiting for the next prompt.
    Idle,
    /// Waiting for the user mid-turn (a permission prompt).
    Waiting,
}

/// What saw a session: the source that announced it. A closed set with an [`Source::Other`]
/// arm, so a name this version does not know (a newer monitor's, a test's) is kept as data.
/// Serialized as the lower-case name (`"wrapper"`, `"transcript"`, …), as stored and shown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Source {
    /// Nothing has announced it yet.
    #[default]
    Unknown,
    /// `cclive run`: it ran claude and read its stream-json.
    Wrapper,
    /// A transcript file (`~/.claude/projects/…/<session>.jsonl`).
    Transcript,
    /// A Claude Code hook payload.
    Hook,
    /// Claude Code's session registry (`sessions/<pid>.json`).
    Registry,
    /// Claude Code's own telemetry (OTLP), possibly from another machine.
    Otel,
    /// `cclive replay`: a recorded session played again.
    Replay,
    /// Any other name, kept as it came.
    Other(String),
}

impl Source {
    /// The name used in files, the store and the API.
    pub fn as_str(&self) -> &str {
        match self {
            Source::Unknown => "unknown",
            Source::Wrapper => "wrapper",
            Source::Transcript => "transcript",
            Source::Hook => "hook",
            Source::Registry => "registry",
            Source::Otel => "otel",
            Source::Replay => "replay",
            Source::Other(name) => name,
        }
    }
}

impl From<&str> for Source {
    fn from(name: &str) -> Source {
        match name {
            "unknown" => Source::Unknown,
            "wrapper" => Source::Wrapper,
            "transcript" => Source::Transcript,
            "hook" => Source::Hook,
            "registry" => Source::Registry,
            "otel" => Source::Otel,
            "replay" => Source::Replay,
            other => Source::Other(other.to_owned()),
        }
    }
}

impl From<String> for Source {
    fn from(name: String) -> Source {
        Source::from(name.as_str())
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Source, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Source::from(name.as_ref()))
    }
}

/// What happened. New variants are added as sources learn more; match with a wildcard arm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A session began (a wrapped child was spawned, or a source first saw it).
    SessionStarted {
        /// Print or interactive.
        mode: Mode,
        /// The command line, as the user typed it after `cclive run --`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        command: Option<String>,
        /// Working directory of the claude process.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
        /// The project the user filed it under (`--project-path`), else the cwd.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        project_path: Option<String>,
        /// A user-chosen label (`--session-type`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_type: Option<String>,
        /// What saw it.
        source: Source,
    },
    /// Claude Code announced itself (stream-json `system/init`).
    Init {
        /// Claude Code's own session id (differs from ours only on `--resume`).
        claude_session_id: String,
        /// The main model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        /// Claude Code's cwd.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
        /// Claude Code's version, when it says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claude_version: Option<String>,
    },
    /// The user submitted a prompt: a new turn begins.
    PromptSubmitted {
        /// A stable id of the prompt (the transcript line's `uuid`, a hook's `prompt_id`), so the
        /// same prompt seen twice counts once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The first [`PROMPT_PREVIEW_CHARS`] characters, when the source has it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preview: Option<String>,
    },
    /// An API request was sent; a response is streaming until the matching usage arrives.
    ApiRequest {
        /// The API message id, once known (stream-json `message_start`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<String>,
    },
    /// Usage of one API response. The same response may be reported many times (streaming
    /// snapshots, one line per content block, several sources); it counts once, as the
    /// field-wise maximum of every report under the same key.
    Usage {
        /// Dedupe key: the API message id. A source that knows only the request id (Claude
        /// Code's telemetry) uses `req:<request id>` until a source that knows both links them.
        key: String,
        /// The API request id (`request-id` header), when the source knows it. It links reports
        /// that know only it (telemetry) to the message id every other source uses.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        /// Claude Code's own cost of this response (telemetry's `cost_usd`), when it said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reported_cost_usd: Option<f64>,
        /// The model that answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        /// The tokens as reported by this report.
        tokens: Tokens,
        /// True when this report is known to carry the response's final usage.
        #[serde(default)]
        is_final: bool,
        /// True for a sub-agent's response.
        #[serde(default)]
        sidechain: bool,
    },
    /// The output of an API response still streaming grew by `chars` characters (text,
    /// thinking, or a tool call's input): what shows its output growing before its final usage
    /// arrives. Transient ([`EventKind::is_transient`]).
    OutputStreamed {
        /// The API message id.
        message_id: String,
        /// Characters added.
        chars: u64,
    },
    /// An API response finished streaming (used for live API time).
    ApiResponseDone {
        /// The API message id.
        message_id: String,
        /// Milliseconds from request to the end of the stream, when measured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// The model asked for a tool.
    ToolUse {
        /// `toolu_…` id.
        tool_use_id: String,
        /// Tool name (`Bash`, `Write`, …).
        name: String,
        /// True inside a sub-agent.
        #[serde(default)]
        sidechain: bool,
    },
    /// A tool finished.
    ToolResult {
        /// The matching `toolu_…` id.
        tool_use_id: String,
        /// True when the tool reported an error.
        is_error: bool,
        /// How long it ran, when the source knows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        /// True inside a sub-agent.
        #[serde(default)]
        sidechain: bool,
    },
    /// Claude Code is retrying a failed API call.
    ApiRetry {
        /// Attempt number.
        attempt: u32,
        /// HTTP status of the failure, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_status: Option<u16>,
        /// Error class (`server_error`, `overloaded`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The wait before the next attempt, when the source says. Claude Code draws it with
        /// jitter and every source reports the same figure, so with the attempt number it names
        /// one retry across sources (stream-json and the transcript both report each one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_in_ms: Option<u64>,
    },
    /// Claude Code's own final accounting (stream-json `result`). Its numbers win over ours.
    Result {
        /// True when the run failed (note: the subtype says "success" even then).
        is_error: bool,
        /// Claude Code's total cost.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total_cost_usd: Option<f64>,
        /// Wall time Claude Code measured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        /// Time spent in API calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_api_ms: Option<u64>,
        /// Claude Code's turn count.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        num_turns: Option<u64>,
        /// Whole-session tokens (`modelUsage` summed), when Claude Code gave them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tokens: Option<Tokens>,
        /// Main model per `modelUsage` (the one with the highest cost).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        /// The error text when `is_error`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// What Claude Code says the session is doing right now (its `sessions/<pid>.json` registry,
    /// or a hook). The strongest liveness signal there is.
    Activity {
        /// Busy, idle, or waiting for the user.
        state: Activity,
        /// What the session waits for (e.g. "permission prompt").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        waiting_for: Option<String>,
        /// The claude process, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
    },
    /// A turn ended and an interactive session now waits for the user (Stop hook,
    /// `system/turn_duration`).
    TurnEnded {
        /// The turn's length, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// Claude Code's own totals written when a session ends (transcript `cost-state`). They win
    /// over estimates, like the `result` line.
    CostState {
        /// Total cost in USD.
        total_cost_usd: f64,
        /// Time in API calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_api_ms: Option<u64>,
        /// Wall time (0 or absent when Claude Code did not say).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        /// Lines of code added.
        #[serde(default)]
        lines_added: u64,
        /// Lines of code removed.
        #[serde(default)]
        lines_removed: u64,
        /// Whole-session tokens from `modelUsage`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tokens: Option<Tokens>,
        /// The model that cost most.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// What Claude Code's status line was told (interactive sessions): its own running cost,
    /// the only one available before the session ends, and the official usage limits.
    StatusLine {
        /// Claude Code's running cost of the session.
        total_cost_usd: f64,
        /// Wall time so far.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
        /// API time so far.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_api_ms: Option<u64>,
        /// Lines added so far.
        #[serde(default)]
        lines_added: u64,
        /// Lines removed so far.
        #[serde(default)]
        lines_removed: u64,
        /// Context window used, in percent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context_used_percentage: Option<f64>,
        /// The model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        /// Official subscription limits, when Claude Code gave them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate_limits: Option<crate::statusline::RateLimits>,
    },
    /// Who ran the session and where, as Claude Code's telemetry says (a session on another
    /// machine has no transcript here: this is how it is told apart).
    Origin {
        /// The user: e-mail or account when Claude Code knows it, else its hashed user id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        /// The machine: the resource's `host.name`, else the sender's address when it is not
        /// this machine.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
    /// Lines of code changed, as one telemetry data point counts them (a delta). `point` names
    /// the data point, so a point delivered twice counts once.
    LinesChanged {
        /// The data point's identity (metric, attributes and time window).
        point: String,
        /// Lines added in this point.
        #[serde(default)]
        added: u64,
        /// Lines removed in this point.
        #[serde(default)]
        removed: u64,
    },
    /// A title for the session (transcript `summary`, a custom title).
    Title {
        /// The title, truncated like a prompt preview.
        title: String,
    },
    /// The session ended normally (SessionEnd hook, or its registry entry removed on exit).
    SessionEnded {
        /// Why, as Claude Code says (`prompt_input_exit`, `other`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The claude process is gone without ending the session cleanly (killed, crashed).
    ProcessGone {
        /// The pid that died, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
    },
    /// The user (or a signal) interrupted the session.
    Interrupted {
        /// Which signal, e.g. `SIGINT`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
    },
    /// The claude process ended.
    ProcessExited {
        /// Exit code, when it exited normally.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        /// Signal number, when a signal killed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
    },
    /// A source could not read some input (a garbage or truncated line). Counted, never fatal.
    InputError {
        /// Which source (`stream-json`, a file path, …).
        source: String,
        /// What was wrong, without the offending content.
        message: String,
    },
    /// A record type cclive does not know yet. Counted and otherwise ignored.
    UnknownRecord {
        /// The record's `type` (and `subtype`), as written.
        record_type: String,
    },
    /// An event type written by a newer cclive; ignored.
    #[serde(other)]
    Other,
}

/// The usage key of a response known only by its request id (see [`EventKind::Usage`]).
pub fn request_usage_key(request_id: &str) -> String {
    format!("{REQUEST_KEY_PREFIX}{request_id}")
}

/// True for a key made by [`request_usage_key`]: a placeholder until the message id is known.
pub fn is_request_usage_key(key: &str) -> bool {
    key.starts_with(REQUEST_KEY_PREFIX)
}

/// The request id of a key made by [`request_usage_key`].
pub fn usage_key_request(key: &str) -> Option<&str> {
    key.strip_prefix(REQUEST_KEY_PREFIX)
}

const REQUEST_KEY_PREFIX: &str = "req:";

/// The prefix of the usage key of a telemetry report that names no request (Claude Code 1.0):
/// it cannot be matched with any other source's, so it counts only for a session that no
/// local source sees.
pub const TELEMETRY_ONLY_KEY_PREFIX: &str = "otel:";

/// True for a key that starts with [`TELEMETRY_ONLY_KEY_PREFIX`].
pub fn is_telemetry_only_usage_key(key: &str) -> bool {
    key.starts_with(TELEMETRY_ONLY_KEY_PREFIX)
}

/// Shortens a prompt to a preview: the first [`PROMPT_PREVIEW_CHARS`] characters, on one line.
pub fn prompt_preview(prompt: &str) -> String {
    let one_line: String = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = one_line.chars();
    let head: String = chars.by_ref().take(PROMPT_PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_tagged_json() {
        let e = Event::new(
            SessionId::new("s1"),
            "2026-11-25T12:00:00Z".parse().unwrap(),
            EventKind::ToolUse {
                tool_use_id: "toolu_1".into(),
                name: "Bash".into(),
                sidechain: false,
            },
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "tool_use");
        assert_eq!(json["session_id"], "s1");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn unknown_event_types_from_newer_versions_are_kept_as_other() {
        let json = r#"{"session_id":"s","at":"2026-11-25T12:00:00Z","type":"teleported","x":1}"#;
        let e: Event = serde_json::from_str(json).unwrap();
        assert_eq!(e.kind, EventKind::Other);
    }

    #[test]
    fn previews_are_short_and_single_line() {
        assert_eq!(prompt_preview("fix\n  the   bug"), "fix the bug");
        let long = "x".repeat(500);
        let p = prompt_preview(&long);
        assert_eq!(p.chars().count(), PROMPT_PREVIEW_CHARS + 1);
        assert!(p.ends_with('…'));
    }
}
