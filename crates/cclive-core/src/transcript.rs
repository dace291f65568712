//! Claude Code's transcripts (`~/.claude/projects/<slug>/<session>.jsonl`), one line at a time, in
//! both the 2.1.x and the 1.0.x format.
//!
//! [`parse_line`] turns a line into a [`TranscriptRecord`]; [`to_events`] maps a record onto the
//! domain [`EventKind`]s. Transcripts are big (imports of 1 GB+ histories, single lines of
//! megabytes), so a line is first classified without parsing ([`SKIPPED_TYPES`] are dropped
//! unread), a long one then stripped of the members cclive never reads (tool inputs and results,
//! `toolUseResult`, thinking: `transcript/prune.rs`), and what is left read by typed serde structs
//! that skip what they do not know. Nothing here keeps message content except a prompt preview
//! and a title, both truncated at the source. Unknown fields are ignored, fields of an unexpected
//! JSON type read as absent, unknown line types become [`TranscriptRecord::Unknown`]; only a line
//! that is not JSON (or not an object with a `type`) is a [`ParseError`], whose message never
//! echoes the line. This module never reads files, env or the clock: callers hand it bytes.

use jiff::Timestamp;
use serde::Deserialize;

use crate::event::Source;
use crate::event::{EventKind, Mode, prompt_preview};
use crate::ids::SessionId;
use crate::usage::{MAX_RESPONSE_TOKENS, MAX_SESSION_TOKENS, TokenError, Tokens};

use lenient::{Bool, Count, F64, Head, Obj, Str, U64};

/// Line types cclive skips without parsing: they carry nothing a monitor counts.
///
/// - `api-request-blob`, `api-request-shape`: system prompts, tool schemas and message bodies sent
///   to the API, deduplicated by hash; the biggest lines of a 2.1 transcript.
/// - `api-request`: the parameters of each API call. Its usage arrives on the `assistant` line.
/// - `attachment`: context handed to the model (environment, CLAUDE.md, skill lists, snapshots).
/// - `file-history-snapshot`, `file-history-delta`: backups for undo.
/// - `atis-latch`, `mode`, `permission-mode`, `tools-used`: bookkeeping without usage or time.
/// - `queue-operation`: print-mode prompt queue; the `user` line repeats the prompt.
pub const SKIPPED_TYPES: &[&str] = &[
    "api-request",
    "api-request-blob",
    "api-request-shape",
    "atis-latch",
    "attachment",
    "file-history-delta",
    "file-history-snapshot",
    "mode",
    "permission-mode",
    "queue-operation",
    "tools-used",
];

/// Lines of an unknown type keep their raw JSON only up to this many bytes.
pub const UNKNOWN_RAW_MAX_BYTES: usize = 4096;

/// At most this many bytes of a prompt, summary or title are looked at to build its preview.
const HEAD_BYTES: usize = 2048;

/// The model name Claude Code gives its own error messages; they are no API response.
const SYNTHETIC_MODEL: &str = "<synthetic>";

/// One transcript line, reduced to what cclive counts or shows.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TranscriptRecord {
    /// An `assistant` line: one content block of one API response.
    Assistant(Assistant),
    /// A `user` line that is a prompt the user submitted.
    UserPrompt(UserPrompt),
    /// A `user` line carrying tool results.
    ToolResults(ToolResults),
    /// `cost-state` (2.1.x): Claude Code's own totals, written when the session ends.
    CostState(CostState),
    /// `system/turn_duration` (2.1.x): an interactive turn ended.
    TurnDuration(TurnDuration),
    /// `system/api_error` (2.1.x): an API call failed and is retried.
    ApiError(ApiError),
    /// A title: 1.0 `summary`, 2.1 `custom-title`/`ai-title`.
    Summary(Summary),
    /// `last-prompt` (2.1.x): repeats the last prompt after each request.
    LastPrompt(LastPrompt),
    /// A conversation line of a known kind that carries nothing to count (slash-command and
    /// compaction `user` lines, `system/stop_hook_summary`, `system/compact_boundary`, 1.0 hook
    /// messages). Kept for its metadata: see [`TranscriptRecord::session_meta`].
    Other(OtherLine),
    /// A line type cclive does not know.
    Unknown {
        /// `type`, or `type/subtype` when there is a subtype.
        kind: String,
        /// `sessionId`, when the line has one.
        session_id: Option<SessionId>,
        /// The line as parsed, only when it is at most [`UNKNOWN_RAW_MAX_BYTES`] long (an unknown
        /// line may be huge; it is counted, not stored).
        raw: Option<serde_json::Value>,
    },
}

/// An `assistant` line.
#[derive(Clone, Debug, PartialEq)]
pub struct Assistant {
    /// The session (for sub-agent lines: the parent's).
    pub session_id: SessionId,
    /// Unique per line; no dedupe key for usage.
    pub uuid: Option<String>,
    /// When the line was written.
    pub timestamp: Option<Timestamp>,
    /// `message.id` (`msg_…`): the usage dedupe key.
    pub message_id: Option<String>,
    /// `requestId`, when the server sent a `request-id` header.
    pub request_id: Option<String>,
    /// `requestRef` (2.1.x): the `api-request` line's id.
    pub request_ref: Option<String>,
    /// The model that answered.
    pub model: Option<String>,
    /// `message.stop_reason`; set when the usage on the line is final.
    pub stop_reason: Option<String>,
    /// `message.usage` as written on this line.
    pub usage: Option<Tokens>,
    /// `(id, name)` of each tool call on the line.
    pub tool_uses: Vec<(String, String)>,
    /// True for a sub-agent's line.
    pub is_sidechain: bool,
    /// The sub-agent (2.1.x sub-agent files).
    pub agent_id: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Claude Code's version.
    pub version: Option<String>,
    /// `cli` (interactive) or `sdk-cli` (print mode); 2.1.x only.
    pub entrypoint: Option<String>,
    /// Claude Code's own error message (`<synthetic>` model, `isApiErrorMessage`): no API usage.
    pub is_synthetic: bool,
    /// `costUSD` of this line, written by some 1.0.x releases. Per line, not per response: not
    /// summed by [`to_events`].
    pub cost_usd: Option<f64>,
}

/// A `user` line that is a real prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct UserPrompt {
    /// The session.
    pub session_id: SessionId,
    /// The line's id.
    pub uuid: Option<String>,
    /// `promptId` (2.1.x); the same id as the hooks' `prompt_id`.
    pub prompt_id: Option<String>,
    /// When it was submitted.
    pub timestamp: Option<Timestamp>,
    /// The prompt, shortened by [`prompt_preview`]. The whole prompt is never kept.
    pub text_preview: String,
    /// True for the task prompt of a sub-agent.
    pub is_sidechain: bool,
    /// The sub-agent (2.1.x sub-agent files).
    pub agent_id: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Claude Code's version.
    pub version: Option<String>,
    /// `cli` or `sdk-cli` (2.1.x).
    pub entrypoint: Option<String>,
}

/// A `user` line with tool results.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolResults {
    /// The session.
    pub session_id: SessionId,
    /// The line's id.
    pub uuid: Option<String>,
    /// When the results were written.
    pub timestamp: Option<Timestamp>,
    /// `(tool_use_id, is_error)` of each result.
    pub results: Vec<(String, bool)>,
    /// True inside a sub-agent.
    pub is_sidechain: bool,
    /// The sub-agent (2.1.x sub-agent files).
    pub agent_id: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Claude Code's version.
    pub version: Option<String>,
    /// `cli` or `sdk-cli` (2.1.x).
    pub entrypoint: Option<String>,
}

/// `cost-state`: the whole session's totals, subagents and compaction included.
#[derive(Clone, Debug, PartialEq)]
pub struct CostState {
    /// The session.
    pub session_id: SessionId,
    /// `totalCostUSD`.
    pub total_cost_usd: f64,
    /// `totalAPIDuration`, ms.
    pub total_api_duration_ms: Option<u64>,
    /// `totalDuration`, ms (wall time).
    pub total_duration_ms: Option<u64>,
    /// `totalLinesAdded`.
    pub lines_added: u64,
    /// `totalLinesRemoved`.
    pub lines_removed: u64,
    /// `modelUsage`: `(model, tokens, costUSD)` per model.
    pub model_usage: Vec<(String, Tokens, Option<f64>)>,
}

impl CostState {
    /// `modelUsage` summed over models; `None` when it is empty.
    pub fn tokens(&self) -> Option<Tokens> {
        crate::usage::model_usage_total(&self.model_usage)
    }

    /// The model that cost most.
    pub fn main_model(&self) -> Option<&str> {
        crate::usage::costliest_model(&self.model_usage)
    }
}

/// `system/turn_duration`.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnDuration {
    /// The session.
    pub session_id: SessionId,
    /// When the turn ended.
    pub timestamp: Option<Timestamp>,
    /// `durationMs`.
    pub duration_ms: Option<u64>,
    /// True inside a sub-agent.
    pub is_sidechain: bool,
}

/// `system/api_error`: one failed attempt that Claude Code retries.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The session.
    pub session_id: SessionId,
    /// The line's id.
    pub uuid: Option<String>,
    /// When it failed.
    pub timestamp: Option<Timestamp>,
    /// `retryAttempt`.
    pub attempt: Option<u32>,
    /// `maxRetries`.
    pub max_retries: Option<u32>,
    /// `retryInMs`.
    pub retry_in_ms: Option<u64>,
    /// `error.status`, the HTTP status.
    pub status: Option<u16>,
    /// True inside a sub-agent.
    pub is_sidechain: bool,
}

impl ApiError {
    /// The error class stream-json's `system/api_retry` gives for the same failure
    /// (`rate_limit`, `overloaded`, `server_error`), derived from the status.
    pub fn error_class(&self) -> Option<&'static str> {
        match self.status? {
            429 => Some("rate_limit"),
            529 => Some("overloaded"),
            500..=599 => Some("server_error"),
            _ => None,
        }
    }
}

/// A title for a session.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Summary {
    /// The session; 1.0 `summary` lines have none (the file name is the session id).
    pub session_id: Option<SessionId>,
    /// The title, shortened like a prompt preview.
    pub text: String,
    /// `leafUuid`: the last message the summary covers.
    pub leaf_uuid: Option<String>,
}

/// `last-prompt`.
#[derive(Clone, Debug, PartialEq)]
pub struct LastPrompt {
    /// The session.
    pub session_id: SessionId,
    /// The prompt, shortened by [`prompt_preview`].
    pub text_preview: String,
    /// `leafUuid`.
    pub leaf_uuid: Option<String>,
}

/// A conversation line that carries nothing to count.
#[derive(Clone, Debug, PartialEq)]
pub struct OtherLine {
    /// What it is: `user/meta` (slash commands, compaction summaries, local command output),
    /// `user` (no content), `system/<subtype>`, or `system` (1.0 hook messages).
    pub kind: String,
    /// The session.
    pub session_id: SessionId,
    /// The line's id.
    pub uuid: Option<String>,
    /// When it was written.
    pub timestamp: Option<Timestamp>,
    /// True inside a sub-agent.
    pub is_sidechain: bool,
    /// Working directory.
    pub cwd: Option<String>,
    /// Claude Code's version.
    pub version: Option<String>,
    /// `cli` or `sdk-cli` (2.1.x).
    pub entrypoint: Option<String>,
}

/// What a conversation line says about its session: enough for the caller to emit
/// `SessionStarted`/`Init` once per session ([`SessionMeta::start_events`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionMeta<'r> {
    /// The session.
    pub session_id: &'r SessionId,
    /// Working directory.
    pub cwd: Option<&'r str>,
    /// Claude Code's version.
    pub version: Option<&'r str>,
    /// `cli` or `sdk-cli` (2.1.x; 1.0.x lines have none).
    pub entrypoint: Option<&'r str>,
}

impl SessionMeta<'_> {
    /// Print mode for `sdk-cli`, interactive for `cli`, unknown otherwise (1.0.x).
    pub fn mode(&self) -> Option<Mode> {
        match self.entrypoint? {
            "sdk-cli" => Some(Mode::Print),
            "cli" => Some(Mode::Interactive),
            _ => None,
        }
    }

    /// `SessionStarted` (source `transcript`; interactive when the mode is unknown) and `Init`.
    pub fn start_events(&self) -> Vec<EventKind> {
        let cwd = self.cwd.map(str::to_owned);
        vec![
            EventKind::SessionStarted {
                mode: self.mode().unwrap_or_default(),
                command: None,
                cwd: cwd.clone(),
                project_path: None,
                session_type: None,
                source: Source::Transcript,
            },
            EventKind::Init {
                claude_session_id: self.session_id.as_str().to_owned(),
                model: None,
                cwd,
                claude_version: self.version.map(str::to_owned),
            },
        ]
    }
}

impl Assistant {
    /// True when this line is the main thread's final answer of a turn: a stop reason that
    /// ends the turn (`end_turn`, `stop_sequence`, `max_tokens`, `refusal`), or — Claude Code
    /// 1.0.x writes no stop reason into its transcripts — a 1.0.x line without a tool call (a
    /// text block before a tool call of the same answer looks final until the tool call's line
    /// follows; the tool call reopens the turn). Claude Code's own error messages (API errors)
    /// end no turn: the turn was cut off.
    pub fn ends_turn(&self) -> bool {
        if self.is_sidechain || self.is_synthetic || !self.tool_uses.is_empty() {
            return false;
        }
        match self.stop_reason.as_deref() {
            Some(reason) => matches!(
                reason,
                "end_turn" | "stop_sequence" | "max_tokens" | "refusal"
            ),
            None => self.version.as_deref().is_some_and(|v| v.starts_with("1.")),
        }
    }
}

impl TranscriptRecord {
    /// The session the record belongs to, when the line names one.
    pub fn session_id(&self) -> Option<&SessionId> {
        match self {
            TranscriptRecord::Assistant(r) => Some(&r.session_id),
            TranscriptRecord::UserPrompt(r) => Some(&r.session_id),
            TranscriptRecord::ToolResults(r) => Some(&r.session_id),
            TranscriptRecord::CostState(r) => Some(&r.session_id),
            TranscriptRecord::TurnDuration(r) => Some(&r.session_id),
            TranscriptRecord::ApiError(r) => Some(&r.session_id),
            TranscriptRecord::LastPrompt(r) => Some(&r.session_id),
            TranscriptRecord::Other(r) => Some(&r.session_id),
            TranscriptRecord::Summary(r) => r.session_id.as_ref(),
            TranscriptRecord::Unknown { session_id, .. } => session_id.as_ref(),
        }
    }

    /// When the line was written, when it says (`cost-state`, `last-prompt` and titles do not).
    pub fn timestamp(&self) -> Option<Timestamp> {
        match self {
            TranscriptRecord::Assistant(r) => r.timestamp,
            TranscriptRecord::UserPrompt(r) => r.timestamp,
            TranscriptRecord::ToolResults(r) => r.timestamp,
            TranscriptRecord::TurnDuration(r) => r.timestamp,
            TranscriptRecord::ApiError(r) => r.timestamp,
            TranscriptRecord::Other(r) => r.timestamp,
            TranscriptRecord::CostState(_)
            | TranscriptRecord::Summary(_)
            | TranscriptRecord::LastPrompt(_)
            | TranscriptRecord::Unknown { .. } => None,
        }
    }

    /// Session metadata of a conversation line (`assistant`, `user`, `system`); `None` for
    /// bookkeeping records, which carry no cwd or version.
    pub fn session_meta(&self) -> Option<SessionMeta<'_>> {
        let (session_id, cwd, version, entrypoint) = match self {
            TranscriptRecord::Assistant(r) => (&r.session_id, &r.cwd, &r.version, &r.entrypoint),
            TranscriptRecord::UserPrompt(r) => (&r.session_id, &r.cwd, &r.version, &r.entrypoint),
            TranscriptRecord::ToolResults(r) => (&r.session_id, &r.cwd, &r.version, &r.entrypoint),
            TranscriptRecord::Other(r) => (&r.session_id, &r.cwd, &r.version, &r.entrypoint),
            _ => return None,
        };
        Some(SessionMeta {
            session_id,
            cwd: cwd.as_deref(),
            version: version.as_deref(),
            entrypoint: entrypoint.as_deref(),
        })
    }
}

/// Why a line could not be read. The message never includes the line's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not valid JSON (garbage, or a line cut short), or JSON of an impossible shape.
    #[error("not valid JSON ({0})")]
    Json(String),
    /// Valid JSON, but not an object with a string `type` field.
    #[error("a JSON value without a string \"type\" field")]
    NoType,
    /// A conversation or accounting line without a session id.
    #[error("a {0} line without a session id")]
    NoSessionId(&'static str),
    /// A usage field that is no believable token count (negative, fractional, absurd).
    #[error("bad usage: {0}")]
    BadUsage(#[from] TokenError),
}

/// The message of a serde_json error, without the offending content: syntax errors name a
/// position only, but type errors quote the value, so those are reduced to a position.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Data => {
            format!(
                "unexpected value at line {} column {}",
                e.line(),
                e.column()
            )
        }
        _ => e.to_string(),
    }
}

/// Parses one line. Blank lines and [`SKIPPED_TYPES`] give `Ok(None)`.
///
/// A line of a skipped type is recognised without parsing, so it is not validated: a truncated
/// `api-request-blob` line is skipped, not reported. A long line is parsed without the members
/// cclive never reads (see `transcript/prune.rs`), every other line in full; either way its
/// strings of more than 8 KiB only up to their heads (see `transcript/long_strings.rs`).
pub fn parse_line(line: &[u8]) -> Result<Option<TranscriptRecord>, ParseError> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if prefilter(line) == Prefilter::Skip {
        return Ok(None);
    }
    if line.len() > PRUNE_FROM
        && let Some(pruned) = prune::prune(line)
        && let Ok(record) = parse_cut(&pruned, line)
    {
        return Ok(record);
    }
    // Not pruned, or the pruned copy did not parse: the line is parsed whole, so an error is
    // the one it has, reported at its own position.
    parse_cut(line, line)
}

/// Lines longer than this are pruned before they are parsed: a shorter one parses faster whole.
const PRUNE_FROM: usize = 1024;

/// Parses `line` (all of `whole`, or what pruning kept of it) with its long strings cut.
fn parse_cut(line: &[u8], whole: &[u8]) -> Result<Option<TranscriptRecord>, ParseError> {
    match long_strings::cut_long_strings(line) {
        Some(shorter) => parse_kept(&shorter, whole),
        None => parse_kept(line, whole),
    }
}

/// The parse without the cheap classification (what the prefilter must agree with).
pub(crate) fn parse_full(line: &[u8]) -> Result<Option<TranscriptRecord>, ParseError> {
    parse_kept(line, line)
}

/// Parses `line`, which is `whole` or what was kept of it: an unknown line keeps the raw JSON of
/// `whole`, when that is short enough.
fn parse_kept(line: &[u8], whole: &[u8]) -> Result<Option<TranscriptRecord>, ParseError> {
    let first = line.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_none() {
        return Ok(None);
    }
    if first != Some(&b'{') {
        // Valid JSON that is no object (`null`, `[1,2,3]`) has no type; anything else is garbage.
        return match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
            Ok(_) => Err(ParseError::NoType),
            Err(e) => Err(ParseError::Json(json_error(&e))),
        };
    }
    let raw: RawLine<'_> = match serde_json::from_slice(line) {
        Ok(raw) => raw,
        // JavaScript writes lone surrogates (`\udce9`); such a line reads lossily.
        Err(e) => {
            return match crate::lossy::without_lone_surrogates(line) {
                Some(repaired) => parse_full(&repaired),
                None => Err(ParseError::Json(json_error(&e))),
            };
        }
    };
    let Some(kind) = raw.kind.0.as_deref() else {
        return Err(ParseError::NoType);
    };
    let subtype = raw.subtype.0.as_deref();
    if SKIPPED_TYPES.contains(&kind) {
        return Ok(None);
    }
    let session = raw
        .session_id
        .0
        .as_deref()
        .or(raw.session_id_snake.0.as_deref())
        .filter(|s| !s.is_empty())
        .map(SessionId::new);
    let need = |what: &'static str| session.clone().ok_or(ParseError::NoSessionId(what));
    let record = match (kind, subtype) {
        ("assistant", _) => TranscriptRecord::Assistant(assistant(&raw, need("assistant")?)?),
        ("user", _) => user(&raw, need("user")?),
        ("system", Some("turn_duration")) => TranscriptRecord::TurnDuration(TurnDuration {
            session_id: need("system")?,
            timestamp: timestamp(&raw.timestamp),
            duration_ms: raw.duration_ms.0,
            is_sidechain: raw.is_sidechain.0.unwrap_or(false),
        }),
        ("system", Some("api_error")) => TranscriptRecord::ApiError(ApiError {
            session_id: need("system")?,
            uuid: owned(&raw.uuid),
            timestamp: timestamp(&raw.timestamp),
            attempt: raw.retry_attempt.0.and_then(|a| u32::try_from(a).ok()),
            max_retries: raw.max_retries.0.and_then(|a| u32::try_from(a).ok()),
            retry_in_ms: raw.retry_in_ms.0,
            status: raw.error.status,
            is_sidechain: raw.is_sidechain.0.unwrap_or(false),
        }),
        (
            "system",
            None
            | Some("stop_hook_summary" | "compact_boundary" | "local_command" | "informational"),
        ) => {
            let kind = subtype.map_or_else(|| "system".to_owned(), |s| format!("system/{s}"));
            TranscriptRecord::Other(other(&raw, kind, need("system")?))
        }
        ("cost-state", _) => TranscriptRecord::CostState(cost_state(&raw, need("cost-state")?)?),
        ("last-prompt", _) => TranscriptRecord::LastPrompt(LastPrompt {
            session_id: need("last-prompt")?,
            text_preview: raw.last_prompt.preview().unwrap_or_default(),
            leaf_uuid: owned(&raw.leaf_uuid),
        }),
        ("summary" | "custom-title" | "ai-title", _) => {
            let text = [&raw.summary, &raw.custom_title, &raw.ai_title, &raw.title]
                .into_iter()
                .find_map(Head::preview)
                .unwrap_or_default();
            TranscriptRecord::Summary(Summary {
                session_id: session,
                text,
                leaf_uuid: owned(&raw.leaf_uuid),
            })
        }
        _ => TranscriptRecord::Unknown {
            kind: match subtype {
                Some(sub) => format!("{kind}/{sub}"),
                None => kind.to_owned(),
            },
            session_id: session,
            raw: (whole.len() <= UNKNOWN_RAW_MAX_BYTES)
                .then(|| serde_json::from_slice(whole).ok())
                .flatten(),
        },
    };
    Ok(Some(record))
}

fn owned(s: &Str<'_>) -> Option<String> {
    s.0.as_deref().map(str::to_owned)
}

fn timestamp(s: &Str<'_>) -> Option<Timestamp> {
    s.0.as_deref()?.parse().ok()
}

fn assistant(raw: &RawLine<'_>, session_id: SessionId) -> Result<Assistant, TokenError> {
    let message = raw.message.0.as_ref();
    let model = message.and_then(|m| owned(&m.model));
    let tool_uses = match message.map(|m| &m.content) {
        Some(Content::Blocks(blocks)) => blocks
            .iter()
            .filter(|b| matches!(b.kind.0.as_deref(), Some("tool_use" | "server_tool_use")))
            .filter_map(|b| Some((owned(&b.id)?, owned(&b.name).unwrap_or_default())))
            .collect(),
        _ => Vec::new(),
    };
    let usage = match message.and_then(|m| m.usage.0.as_ref()) {
        Some(u) => Some(u.tokens()?),
        None => None,
    };
    Ok(Assistant {
        session_id,
        uuid: owned(&raw.uuid),
        timestamp: timestamp(&raw.timestamp),
        message_id: message.and_then(|m| owned(&m.id)),
        request_id: owned(&raw.request_id),
        request_ref: owned(&raw.request_ref),
        is_synthetic: model.as_deref() == Some(SYNTHETIC_MODEL)
            || raw.is_api_error_message.0.unwrap_or(false),
        model,
        stop_reason: message.and_then(|m| owned(&m.stop_reason)),
        usage,
        tool_uses,
        is_sidechain: raw.is_sidechain.0.unwrap_or(false),
        agent_id: owned(&raw.agent_id),
        cwd: owned(&raw.cwd),
        version: owned(&raw.version),
        entrypoint: owned(&raw.entrypoint),
        cost_usd: raw.cost_usd.0,
    })
}

/// Text that Claude Code writes as a `user` line but the user did not send to the model.
const NOT_A_PROMPT: &[&str] = &[
    "<command-name>",
    "<command-message>",
    "<command-args>",
    "<local-command-stdout>",
    "<local-command-stderr>",
    "<local-command-caveat>",
    "<bash-input>",
    "<bash-stdout>",
    "<bash-stderr>",
    "[Request interrupted by user",
    "Caveat: The messages below were generated by the user while running local commands",
];

fn user(raw: &RawLine<'_>, session_id: SessionId) -> TranscriptRecord {
    let content = raw.message.0.as_ref().map(|m| &m.content);
    if let Some(Content::Blocks(blocks)) = content {
        let results: Vec<(String, bool)> = blocks
            .iter()
            .filter(|b| b.kind.0.as_deref() == Some("tool_result"))
            .map(|b| {
                (
                    owned(&b.tool_use_id).unwrap_or_default(),
                    b.is_error.0.unwrap_or(false),
                )
            })
            .collect();
        if !results.is_empty() {
            return TranscriptRecord::ToolResults(ToolResults {
                session_id,
                uuid: owned(&raw.uuid),
                timestamp: timestamp(&raw.timestamp),
                results,
                is_sidechain: raw.is_sidechain.0.unwrap_or(false),
                agent_id: owned(&raw.agent_id),
                cwd: owned(&raw.cwd),
                version: owned(&raw.version),
                entrypoint: owned(&raw.entrypoint),
            });
        }
    }
    let text = match content {
        Some(Content::Text(head)) => Some(head),
        Some(Content::Blocks(blocks)) => blocks
            .iter()
            .find(|b| b.kind.0.as_deref() == Some("text"))
            .map(|b| &b.text),
        _ => None,
    };
    let flagged = [
        &raw.is_meta,
        &raw.is_compact_summary,
        &raw.is_visible_in_transcript_only,
        &raw.repeats_compact_summary,
    ]
    .iter()
    .any(|flag| flag.0.unwrap_or(false));
    let preview = text.and_then(|head| {
        let start = head.text()?.trim_start();
        (!NOT_A_PROMPT.iter().any(|p| start.starts_with(p))).then(|| head.preview())?
    });
    match preview {
        Some(text_preview) if !flagged => TranscriptRecord::UserPrompt(UserPrompt {
            session_id,
            uuid: owned(&raw.uuid),
            prompt_id: owned(&raw.prompt_id),
            timestamp: timestamp(&raw.timestamp),
            text_preview,
            is_sidechain: raw.is_sidechain.0.unwrap_or(false),
            agent_id: owned(&raw.agent_id),
            cwd: owned(&raw.cwd),
            version: owned(&raw.version),
            entrypoint: owned(&raw.entrypoint),
        }),
        _ => {
            let kind = if text.is_some() { "user/meta" } else { "user" };
            TranscriptRecord::Other(other(raw, kind.to_owned(), session_id))
        }
    }
}

fn other(raw: &RawLine<'_>, kind: String, session_id: SessionId) -> OtherLine {
    OtherLine {
        kind,
        session_id,
        uuid: owned(&raw.uuid),
        timestamp: timestamp(&raw.timestamp),
        is_sidechain: raw.is_sidechain.0.unwrap_or(false),
        cwd: owned(&raw.cwd),
        version: owned(&raw.version),
        entrypoint: owned(&raw.entrypoint),
    }
}

fn cost_state(raw: &RawLine<'_>, session_id: SessionId) -> Result<CostState, TokenError> {
    Ok(CostState {
        session_id,
        total_cost_usd: raw.total_cost_usd.0.unwrap_or(0.0),
        total_api_duration_ms: raw.total_api_duration.0,
        total_duration_ms: raw.total_duration.0,
        lines_added: raw.total_lines_added.0.unwrap_or(0),
        lines_removed: raw.total_lines_removed.0.unwrap_or(0),
        model_usage: raw.model_usage.0.clone()?,
    })
}

/// The domain events a record stands for, each with its session and time (`None` when the line
/// has no timestamp: the caller uses the time it read the line).
///
/// - `assistant` → `Usage` keyed by the message id alone (unless synthetic or without a message
///   id) + one `ToolUse` per tool call. Every block line of a response reports usage; the
///   field-wise maximum per key in [`crate::session`] keeps the final one.
/// - a prompt → `PromptSubmitted` with id `promptId` (2.1.x, equal to the hooks' `prompt_id`, so
///   both sources count one turn), else the line's `uuid`. A sub-agent's task prompt is part of
///   the parent's turn: nothing.
/// - tool results → `ToolResult`s; `cost-state` → `CostState`; `system/turn_duration` →
///   `TurnEnded` (main thread only); `system/api_error` → `ApiRetry`; titles → `Title`;
///   unknown types → `UnknownRecord`.
/// - `last-prompt` and other lines → nothing (`last-prompt` repeats a prompt already counted).
///
/// Records without a session id (1.0 `summary`) give nothing here; see
/// [`to_events_for_file`].
pub fn to_events(record: &TranscriptRecord) -> Vec<(SessionId, Option<Timestamp>, EventKind)> {
    let Some(session_id) = record.session_id() else {
        return Vec::new();
    };
    to_events_for_file(record, session_id)
}

/// Like [`to_events`], with `file_session` (the session the transcript file is named after) for
/// records that name no session themselves.
pub fn to_events_for_file(
    record: &TranscriptRecord,
    file_session: &SessionId,
) -> Vec<(SessionId, Option<Timestamp>, EventKind)> {
    let session_id = record.session_id().unwrap_or(file_session);
    let at = record.timestamp();
    kinds(record)
        .into_iter()
        .map(|kind| (session_id.clone(), at, kind))
        .collect()
}

fn kinds(record: &TranscriptRecord) -> Vec<EventKind> {
    match record {
        TranscriptRecord::Assistant(a) => {
            let mut events = Vec::with_capacity(1 + a.tool_uses.len());
            if let (false, Some(id), Some(tokens)) = (a.is_synthetic, &a.message_id, a.usage) {
                events.push(EventKind::Usage {
                    key: id.clone(),
                    request_id: a.request_id.clone(),
                    reported_cost_usd: None,
                    model: a.model.clone(),
                    tokens,
                    is_final: a.stop_reason.is_some(),
                    sidechain: a.is_sidechain,
                });
            }
            events.extend(a.tool_uses.iter().map(|(id, name)| EventKind::ToolUse {
                tool_use_id: id.clone(),
                name: name.clone(),
                sidechain: a.is_sidechain,
            }));
            if a.ends_turn() {
                events.push(EventKind::TurnEnded { duration_ms: None });
            }
            events
        }
        TranscriptRecord::UserPrompt(p) if !p.is_sidechain => vec![EventKind::PromptSubmitted {
            id: p.prompt_id.clone().or_else(|| p.uuid.clone()),
            preview: Some(p.text_preview.clone()),
        }],
        TranscriptRecord::ToolResults(r) => r
            .results
            .iter()
            .map(|(id, is_error)| EventKind::ToolResult {
                tool_use_id: id.clone(),
                is_error: *is_error,
                duration_ms: None,
                sidechain: r.is_sidechain,
            })
            .collect(),
        TranscriptRecord::CostState(c) => vec![EventKind::CostState {
            total_cost_usd: c.total_cost_usd,
            duration_api_ms: c.total_api_duration_ms,
            duration_ms: c.total_duration_ms,
            lines_added: c.lines_added,
            lines_removed: c.lines_removed,
            tokens: c.tokens(),
            model: c.main_model().map(str::to_owned),
        }],
        TranscriptRecord::TurnDuration(t) if !t.is_sidechain => vec![EventKind::TurnEnded {
            duration_ms: t.duration_ms,
        }],
        TranscriptRecord::ApiError(e) => vec![EventKind::ApiRetry {
            attempt: e.attempt.unwrap_or(0),
            error_status: e.status,
            error: e.error_class().map(str::to_owned),
            retry_in_ms: e.retry_in_ms,
        }],
        TranscriptRecord::Summary(s) if !s.text.is_empty() => vec![EventKind::Title {
            title: s.text.clone(),
        }],
        TranscriptRecord::Unknown { kind, .. } => vec![EventKind::UnknownRecord {
            record_type: kind.clone(),
        }],
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// The cheap classification.

/// What the look at a line's bytes decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefilter {
    /// A [`SKIPPED_TYPES`] line: drop it unread.
    Skip,
    /// Anything else, including lines the scan could not make sense of.
    Parse,
}

/// Classifies a line without parsing it.
///
/// The rule: walk the top-level keys of the object in order, stepping over each value (strings
/// and nesting are tracked, so a `"type"` inside a nested object or inside a string is never
/// mistaken for the line's own). The line is skipped only when the first top-level key spelled
/// exactly `type` holds, verbatim, one of [`SKIPPED_TYPES`]. The walk gives up (parse the line)
/// at anything unexpected, and at a top-level `message` key: 1.0 lines put `type` after their
/// (big) message, and a line with a message is one cclive reads anyway. For valid JSON this finds
/// the same top-level `type` serde does (a key written with escapes, like `typ\u0065`, is not
/// matched, so such a line is parsed, never wrongly skipped).
pub(crate) fn prefilter(line: &[u8]) -> Prefilter {
    match top_level_type(line) {
        Some(kind) if SKIPPED_TYPES.iter().any(|s| s.as_bytes() == kind) => Prefilter::Skip,
        _ => Prefilter::Parse,
    }
}

/// The raw bytes of the top-level `"type"` string, found as [`prefilter`] describes.
fn top_level_type(line: &[u8]) -> Option<&[u8]> {
    let mut i = skip_ws(line, 0);
    if *line.get(i)? != b'{' {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(line, i);
        let (key, after) = string_at(line, i)?;
        i = skip_ws(line, after);
        if *line.get(i)? != b':' {
            return None;
        }
        i = skip_ws(line, i + 1);
        match key {
            b"type" => return string_at(line, i).map(|(value, _)| value),
            b"message" => return None,
            _ => {}
        }
        i = skip_ws(line, skip_value(line, i)?);
        if *line.get(i)? != b',' {
            return None;
        }
        i += 1;
    }
}

fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while line.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The string starting at `line[open]` (which must be `"`): its raw content (escapes not
/// decoded) and the index after its closing quote.
fn string_at(line: &[u8], open: usize) -> Option<(&[u8], usize)> {
    if *line.get(open)? != b'"' {
        return None;
    }
    let start = open + 1;
    let close = long_strings::closing_quote(line, start, start)?;
    Some((line.get(start..close)?, close + 1))
}

/// The index after the JSON value starting at `line[i]`.
fn skip_value(line: &[u8], mut i: usize) -> Option<usize> {
    match *line.get(i)? {
        b'"' => string_at(line, i).map(|(_, end)| end),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match *line.get(i)? {
                    b'"' => {
                        i = string_at(line, i)?.1;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let len = line
                .get(i..)?
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())?;
            Some(i + len)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The typed shape of a line: one struct for every line type, so that 1.0 lines (whose `type`
// comes after their message) parse in one pass. Every field is lenient.

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawLine<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(borrow)]
    subtype: Str<'a>,
    #[serde(borrow)]
    session_id: Str<'a>,
    #[serde(rename = "session_id", borrow)]
    session_id_snake: Str<'a>,
    #[serde(borrow)]
    uuid: Str<'a>,
    #[serde(borrow)]
    timestamp: Str<'a>,
    is_sidechain: Bool,
    #[serde(borrow)]
    agent_id: Str<'a>,
    #[serde(borrow)]
    cwd: Str<'a>,
    #[serde(borrow)]
    version: Str<'a>,
    #[serde(borrow)]
    entrypoint: Str<'a>,
    #[serde(borrow)]
    prompt_id: Str<'a>,
    is_meta: Bool,
    is_compact_summary: Bool,
    is_visible_in_transcript_only: Bool,
    repeats_compact_summary: Bool,
    is_api_error_message: Bool,
    #[serde(borrow)]
    request_id: Str<'a>,
    #[serde(borrow)]
    request_ref: Str<'a>,
    #[serde(rename = "costUSD")]
    cost_usd: F64,
    #[serde(borrow)]
    message: Obj<Message<'a>>,
    duration_ms: U64,
    retry_attempt: U64,
    max_retries: U64,
    retry_in_ms: U64,
    error: ErrorField,
    #[serde(rename = "totalCostUSD")]
    total_cost_usd: F64,
    #[serde(rename = "totalAPIDuration")]
    total_api_duration: U64,
    total_duration: U64,
    total_lines_added: U64,
    total_lines_removed: U64,
    model_usage: ModelUsage,
    #[serde(borrow)]
    last_prompt: Head<'a>,
    #[serde(borrow)]
    leaf_uuid: Str<'a>,
    #[serde(borrow)]
    summary: Head<'a>,
    #[serde(borrow)]
    custom_title: Head<'a>,
    #[serde(borrow)]
    ai_title: Head<'a>,
    #[serde(borrow)]
    title: Head<'a>,
}

/// `message`: only what is counted. Tool inputs, thinking and tool-result bodies are skipped.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Message<'a> {
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    model: Str<'a>,
    #[serde(borrow)]
    stop_reason: Str<'a>,
    #[serde(borrow)]
    usage: Obj<ApiUsage<'a>>,
    #[serde(borrow)]
    content: Content<'a>,
}

/// An API `usage` object.
#[derive(Deserialize, Default)]
#[serde(default)]
#[allow(clippy::struct_field_names)] // the API's own names
struct ApiUsage<'a> {
    input_tokens: Count,
    output_tokens: Count,
    cache_read_input_tokens: Count,
    cache_creation_input_tokens: Count,
    /// The 1-hour share of the cache write (priced apart).
    cache_creation: Obj<CacheCreation>,
    /// Web searches (priced per request).
    server_tool_use: Obj<ServerToolUse>,
    /// `fast` for a fast-mode response.
    #[serde(borrow)]
    speed: Str<'a>,
    /// `us` for a US-only response (priced at 1.1×).
    #[serde(borrow)]
    inference_geo: Str<'a>,
}

/// `usage.cache_creation`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct CacheCreation {
    ephemeral_1h_input_tokens: Count,
}

/// `usage.server_tool_use`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ServerToolUse {
    web_search_requests: Count,
}

impl ApiUsage<'_> {
    fn tokens(&self) -> Result<Tokens, TokenError> {
        let limit = MAX_RESPONSE_TOKENS;
        let cache_creation = self
            .cache_creation_input_tokens
            .get("cache_creation_input_tokens", limit)?;
        let one_hour = match &self.cache_creation.0 {
            Some(c) => c
                .ephemeral_1h_input_tokens
                .get("ephemeral_1h_input_tokens", limit)?,
            None => 0,
        };
        let searches = match &self.server_tool_use.0 {
            Some(s) => s.web_search_requests.get("web_search_requests", limit)?,
            None => 0,
        };
        Ok(Tokens {
            input: self.input_tokens.get("input_tokens", limit)?,
            output: self.output_tokens.get("output_tokens", limit)?,
            cache_read: self
                .cache_read_input_tokens
                .get("cache_read_input_tokens", limit)?,
            cache_creation,
            cache_creation_1h: one_hour.min(cache_creation),
            web_search_requests: searches,
            fast_responses: u64::from(self.speed.0.as_deref() == Some("fast")),
            us_only_responses: u64::from(self.inference_geo.0.as_deref() == Some("us")),
        })
    }
}

/// One content block. `input` (tool_use), `content` (tool_result) and `thinking` are skipped.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Block<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(borrow)]
    id: Str<'a>,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    tool_use_id: Str<'a>,
    is_error: Bool,
    #[serde(borrow)]
    text: Head<'a>,
}

/// `message.content`: a string (a prompt) or blocks.
#[derive(Default)]
enum Content<'a> {
    #[default]
    None,
    Text(Head<'a>),
    Blocks(Vec<Block<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("message content")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Content::Text(Head::borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Content::Text(Head::copied(v)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut blocks = Vec::new();
                while let Some(block) = seq.next_element::<Obj<Block<'a>>>()? {
                    blocks.extend(block.0);
                }
                Ok(Content::Blocks(blocks))
            }
            lenient::absent_otherwise!(bool i64 u64 f64 unit map);
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// `error`: a class string on synthetic assistant lines, an object with `status` on
/// `system/api_error`.
#[derive(Default)]
struct ErrorField {
    status: Option<u16>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorDetail {
    status: U64,
}

impl<'de> Deserialize<'de> for ErrorField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let detail: Obj<ErrorDetail> = Obj::deserialize(d)?;
        Ok(ErrorField {
            status: detail
                .0
                .and_then(|e| e.status.0)
                .and_then(|s| u16::try_from(s).ok()),
        })
    }
}

/// `modelUsage`: model → tokens and cost, or the first bad token field.
struct ModelUsage(Result<Vec<(String, Tokens, Option<f64>)>, TokenError>);

impl Default for ModelUsage {
    fn default() -> Self {
        ModelUsage(Ok(Vec::new()))
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ModelUsageEntry {
    input_tokens: Count,
    output_tokens: Count,
    cache_read_input_tokens: Count,
    cache_creation_input_tokens: Count,
    #[serde(rename = "costUSD")]
    cost_usd: F64,
}

impl<'de> Deserialize<'de> for ModelUsage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ModelUsage;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("modelUsage")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut models = Vec::new();
                let mut bad = None;
                let limit = MAX_SESSION_TOKENS;
                while let Some((model, entry)) = map.next_entry::<String, Obj<ModelUsageEntry>>()? {
                    if let Some(e) = entry.0 {
                        let tokens = (|| {
                            Ok::<_, TokenError>(Tokens {
                                input: e.input_tokens.get("inputTokens", limit)?,
                                output: e.output_tokens.get("outputTokens", limit)?,
                                cache_read: e
                                    .cache_read_input_tokens
                                    .get("cacheReadInputTokens", limit)?,
                                cache_creation: e
                                    .cache_creation_input_tokens
                                    .get("cacheCreationInputTokens", limit)?,
                                ..Tokens::default()
                            })
                        })();
                        match tokens {
                            Ok(tokens) => models.push((model, tokens, e.cost_usd.0)),
                            Err(e) => bad = bad.or(Some(e)),
                        }
                    }
                }
                Ok(ModelUsage(bad.map_or(Ok(models), Err)))
            }
            lenient::absent_otherwise!(bool i64 u64 f64 str unit seq);
        }
        d.deserialize_any(V)
    }
}

/// Deserializers that never fail on a value of an unexpected JSON type: such a value reads as
/// absent and is skipped unread. Claude Code's formats change often; one odd field must not cost
/// a line's usage. Shared with [`crate::hook`] and [`crate::registry`].
pub(crate) mod lenient {
    use std::borrow::Cow;
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::{HEAD_BYTES, prompt_preview};

    /// Implements the `visit_*` methods named, for the JSON types a visitor does not want: each
    /// returns the default (absent) value, skipping a map's or sequence's content.
    macro_rules! absent_otherwise {
        ($($kind:ident)*) => { $( $crate::transcript::lenient::absent_otherwise!(@ $kind); )* };
        (@ bool) => {
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Default::default())
            }
        };
        (@ i64) => {
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Default::default())
            }
        };
        (@ u64) => {
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Default::default())
            }
        };
        (@ f64) => {
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Default::default())
            }
        };
        (@ str) => {
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Default::default())
            }
        };
        (@ unit) => {
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Default::default())
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Default::default())
            }
        };
        (@ map) => {
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                $crate::transcript::lenient::drain_map(map)?;
                Ok(Default::default())
            }
        };
        (@ seq) => {
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                $crate::transcript::lenient::drain_seq(seq)?;
                Ok(Default::default())
            }
        };
    }
    pub(crate) use absent_otherwise;

    /// Reads and drops the rest of a map.
    pub(crate) fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    /// Reads and drops the rest of a sequence.
    pub(crate) fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    /// A JSON string, borrowed from the input when it has no escapes.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub(crate) struct Str<'a>(pub(crate) Option<Cow<'a, str>>);

    impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<'a>(PhantomData<&'a ()>);
            impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
                type Value = Str<'a>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(Str(Some(Cow::Borrowed(v))))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Str(Some(Cow::Owned(v.to_owned()))))
                }
                absent_otherwise!(bool i64 u64 f64 unit map seq);
            }
            d.deserialize_any(V(PhantomData))
        }
    }

    /// The beginning of a JSON string: the whole of it when it can be borrowed, else only its
    /// first [`HEAD_BYTES`] (so a pasted file in a prompt is never copied), plus whether it was
    /// cut.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub(crate) struct Head<'a>(Option<(Cow<'a, str>, bool)>);

    impl<'a> Head<'a> {
        pub(crate) fn borrowed(v: &'a str) -> Self {
            Head(Some((Cow::Borrowed(v), false)))
        }

        pub(crate) fn copied(v: &str) -> Self {
            let head = head_of(v, HEAD_BYTES);
            Head(Some((Cow::Owned(head.to_owned()), head.len() < v.len())))
        }

        /// The text as read (possibly only its head).
        pub(crate) fn text(&self) -> Option<&str> {
            self.0.as_ref().map(|(t, _)| t.as_ref())
        }

        /// A one-line preview of at most [`crate::event::PROMPT_PREVIEW_CHARS`] characters,
        /// ending in `…` when anything was left out.
        pub(crate) fn preview(&self) -> Option<String> {
            let (text, cut) = self.0.as_ref()?;
            let head = head_of(text, HEAD_BYTES);
            let mut preview = prompt_preview(head);
            if (*cut || head.len() < text.len()) && !preview.ends_with('…') {
                preview.push('…');
            }
            Some(preview)
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Head<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<'a>(PhantomData<&'a ()>);
            impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
                type Value = Head<'a>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(Head::borrowed(v))
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Head::copied(v))
                }
                absent_otherwise!(bool i64 u64 f64 unit map seq);
            }
            d.deserialize_any(V(PhantomData))
        }
    }

    /// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
    pub(crate) fn head_of(s: &str, max: usize) -> &str {
        if s.len() <= max {
            return s;
        }
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.get(..end).unwrap_or_default()
    }

    /// A non-negative integer (a negative or fractional number reads as absent).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(crate) struct U64(pub(crate) Option<u64>);

    impl<'de> Deserialize<'de> for U64 {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = U64;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an integer")
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                    Ok(U64(Some(v)))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                    Ok(U64(u64::try_from(v).ok()))
                }
                absent_otherwise!(bool f64 str unit map seq);
            }
            d.deserialize_any(V)
        }
    }

    /// A token count: absent (missing or `null`), a whole non-negative number, or bad (any
    /// other value: negative, fractional, `1e308`, a string…), which makes the line bad input.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(crate) enum Count {
        #[default]
        Absent,
        Value(u64),
        Bad,
    }

    impl Count {
        /// The count of `field`, 0 when absent, at most `limit`.
        pub(crate) fn get(
            self,
            field: &'static str,
            limit: u64,
        ) -> Result<u64, crate::usage::TokenError> {
            match self {
                Count::Absent => Ok(0),
                Count::Value(v) => crate::usage::check_count(field, v, limit),
                Count::Bad => Err(crate::usage::TokenError::NotACount { field }),
            }
        }
    }

    impl<'de> Deserialize<'de> for Count {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Count;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a token count")
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                    Ok(Count::Value(v))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                    Ok(u64::try_from(v).map_or(Count::Bad, Count::Value))
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                    Ok(crate::usage::whole_count(v).map_or(Count::Bad, Count::Value))
                }
                fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(Count::Absent)
                }
                fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(Count::Absent)
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                    Ok(Count::Bad)
                }
                fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                    Ok(Count::Bad)
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                    drain_map(map)?;
                    Ok(Count::Bad)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                    drain_seq(seq)?;
                    Ok(Count::Bad)
                }
            }
            d.deserialize_any(V)
        }
    }

    /// A number.
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    pub(crate) struct F64(pub(crate) Option<f64>);

    impl<'de> Deserialize<'de> for F64 {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = F64;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a number")
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                    Ok(F64(Some(v)))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                    Ok(F64(Some(v as f64)))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                    Ok(F64(Some(v as f64)))
                }
                absent_otherwise!(bool str unit map seq);
            }
            d.deserialize_any(V)
        }
    }

    /// A boolean.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub(crate) struct Bool(pub(crate) Option<bool>);

    impl<'de> Deserialize<'de> for Bool {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Bool;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a boolean")
                }
                fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                    Ok(Bool(Some(v)))
                }
                absent_otherwise!(i64 u64 f64 str unit map seq);
            }
            d.deserialize_any(V)
        }
    }

    /// An object read as `T`; any other JSON value reads as absent.
    #[derive(Clone, Debug, PartialEq)]
    pub(crate) struct Obj<T>(pub(crate) Option<T>);

    impl<T> Default for Obj<T> {
        fn default() -> Self {
            Obj(None)
        }
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<T>(PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
                type Value = Obj<T>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                    T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
                }
                absent_otherwise!(bool i64 u64 f64 str unit seq);
            }
            d.deserialize_any(V(PhantomData))
        }
    }
}

mod long_strings;
mod prune;
#[cfg(test)]
mod tests;
