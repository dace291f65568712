//! Claude Code's print-mode output (`--output-format stream-json --verbose`), one line at a time.
//!
//! [`parse_line`] turns a line into a [`StreamRecord`], tolerating what Claude Code adds over
//! time: unknown fields are ignored and unknown `type`s become [`StreamRecord::Unknown`] with the
//! raw JSON kept. A line that is not JSON is a [`ParseError`], never a panic. [`to_events`] maps a
//! record onto the domain [`EventKind`]s. Mind the traps the formats doc lists: in 2.1.x an
//! `assistant` line carries the *opening* usage (`output_tokens: 1`), so its usage is never final;
//! the `result` line is the truth, and says `subtype: "success"` even when `is_error` is true.

use serde_json::{Map, Value};

use crate::event::{EventKind, prompt_preview};
use crate::usage::{MAX_RESPONSE_TOKENS, MAX_SESSION_TOKENS, TokenError, Tokens};

/// One parsed stream-json line.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum StreamRecord {
    /// `system/init`: the session's id, model, cwd.
    Init(Init),
    /// An `assistant` line: one API message (2.1.x: one line per content block).
    Assistant(Assistant),
    /// A `user` line: tool results (or a prompt, with `--input-format stream-json`).
    User(User),
    /// The final `result` line.
    Result(ResultRecord),
    /// `system/api_retry`.
    ApiRetry {
        /// Attempt number.
        attempt: u32,
        /// HTTP status.
        error_status: Option<u16>,
        /// Error class.
        error: Option<String>,
        /// `retry_delay_ms`: the wait before the next attempt.
        retry_delay_ms: Option<u64>,
    },
    /// `system/status` (e.g. `requesting`).
    Status(String),
    /// `stream_event` (with `--include-partial-messages`): one raw SSE event.
    StreamEvent(StreamEvent),
    /// Any other line type, kept whole.
    Unknown {
        /// `type`, or `type/subtype` for `system` lines.
        kind: String,
        /// The line as parsed.
        raw: Value,
    },
}

/// `system/init`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Init {
    /// Claude Code's session id.
    pub session_id: String,
    /// Main model.
    pub model: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// `claude_code_version` (2.1.x only).
    pub claude_version: Option<String>,
}

/// A content block of an assistant message, reduced to what cclive shows or counts.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// Visible text.
    Text(String),
    /// A thinking block (its content is not kept).
    Thinking,
    /// A tool call.
    ToolUse {
        /// `toolu_…` id.
        id: String,
        /// Tool name.
        name: String,
        /// The tool's input (shown to the user who ran it; never stored).
        input: Value,
    },
    /// Another block type.
    Other(String),
}

/// An `assistant` line.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Assistant {
    /// API message id (the dedupe key).
    pub message_id: Option<String>,
    /// `request_id`, when the server sent one.
    pub request_id: Option<String>,
    /// The answering model (`<synthetic>` for Claude Code's own error messages).
    pub model: Option<String>,
    /// Usage as printed on this line (2.1.x: the opening usage).
    pub usage: Option<Tokens>,
    /// `stop_reason`; set only when the usage on the line is final.
    pub stop_reason: Option<String>,
    /// The content blocks.
    pub blocks: Vec<Block>,
    /// Set when the message belongs to a sub-agent.
    pub parent_tool_use_id: Option<String>,
    /// True for Claude Code's synthetic API-error message.
    pub is_api_error: bool,
}

/// A `user` line.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct User {
    /// `(tool_use_id, is_error)` of each tool result in it.
    pub tool_results: Vec<(String, bool)>,
    /// A prompt's text, when the line is a prompt rather than tool results.
    pub prompt: Option<String>,
    /// Set when the message belongs to a sub-agent.
    pub parent_tool_use_id: Option<String>,
}

/// The `result` line.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ResultRecord {
    /// `subtype` (`success`, `error_max_turns`, …).
    pub subtype: Option<String>,
    /// True when the run failed.
    pub is_error: bool,
    /// The final text, or the error text.
    pub result: Option<String>,
    /// Claude Code's session id.
    pub session_id: Option<String>,
    /// Total cost in USD.
    pub total_cost_usd: Option<f64>,
    /// Wall time.
    pub duration_ms: Option<u64>,
    /// API time.
    pub duration_api_ms: Option<u64>,
    /// Turn count.
    pub num_turns: Option<u64>,
    /// `usage` (2.1.x: main-thread sum; 1.0.x: last call only).
    pub usage: Option<Tokens>,
    /// `modelUsage` per model: tokens and cost (2.1.x; whole session).
    pub model_usage: Vec<(String, Tokens, Option<f64>)>,
    /// `api_error_status`.
    pub api_error_status: Option<u16>,
    /// `terminal_reason`.
    pub terminal_reason: Option<String>,
}

impl ResultRecord {
    /// Whole-session tokens from `modelUsage`, when it has entries.
    pub fn model_usage_tokens(&self) -> Option<Tokens> {
        crate::usage::model_usage_total(&self.model_usage)
    }

    /// The model that cost most, per `modelUsage`.
    pub fn main_model(&self) -> Option<&str> {
        crate::usage::costliest_model(&self.model_usage)
    }
}

/// A `stream_event` line, reduced.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEvent {
    /// `api_message_id`.
    pub message_id: Option<String>,
    /// Set inside a sub-agent.
    pub parent_tool_use_id: Option<String>,
    /// The SSE event.
    pub event: SseEvent,
}

/// The SSE events of a streaming API response that matter to a monitor.
#[derive(Clone, Debug, PartialEq)]
pub enum SseEvent {
    /// `message_start`: the opening usage.
    MessageStart {
        /// Message id.
        id: Option<String>,
        /// Model.
        model: Option<String>,
        /// Opening usage.
        usage: Option<Tokens>,
    },
    /// A `text_delta`.
    TextDelta(String),
    /// Another delta of output the model writes (`thinking_delta`, `input_json_delta`): its
    /// length in characters.
    OutputDelta(u64),
    /// `content_block_start` of a tool call.
    ToolUseStart {
        /// Tool name.
        name: String,
    },
    /// `message_delta`: the final output tokens and stop reason.
    MessageDelta {
        /// Usage fields present on the delta.
        usage: Option<Tokens>,
        /// Stop reason.
        stop_reason: Option<String>,
    },
    /// `message_stop`.
    MessageStop,
    /// Anything else (`ping`, other deltas, …).
    Other(String),
}

/// Why a line could not be read. The message never includes the line's content.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// Not valid JSON (garbage, or a line cut short).
    #[error("not valid JSON ({0})")]
    Json(String),
    /// Valid JSON, but not an object with a string `type`.
    #[error("a JSON value without a string \"type\" field")]
    NoType,
    /// A usage field that is no believable token count (negative, fractional, absurd).
    #[error("bad usage: {0}")]
    BadUsage(#[from] TokenError),
}

/// Parses one line. Blank lines give `Ok(None)`.
pub fn parse_line(line: &[u8]) -> Result<Option<StreamRecord>, ParseError> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(line)
        .or_else(|e| {
            // JavaScript writes lone surrogates (`\udce9`); such a line reads lossily.
            crate::lossy::without_lone_surrogates(line)
                .and_then(|repaired| serde_json::from_slice(&repaired).ok())
                .ok_or(e)
        })
        .map_err(|e| {
            // serde_json's message names a line and column, never the content.
            ParseError::Json(e.to_string())
        })?;
    parse_value(value).map(Some)
}

/// Parses an already-decoded JSON value.
pub fn parse_value(value: Value) -> Result<StreamRecord, ParseError> {
    let Some(obj) = value.as_object() else {
        return Err(ParseError::NoType);
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str) else {
        return Err(ParseError::NoType);
    };
    let subtype = obj.get("subtype").and_then(Value::as_str);
    let record = match (kind, subtype) {
        ("system", Some("init")) => StreamRecord::Init(Init {
            session_id: string(obj, "session_id").unwrap_or_default(),
            model: string(obj, "model"),
            cwd: string(obj, "cwd"),
            claude_version: string(obj, "claude_code_version"),
        }),
        ("system", Some("api_retry")) => StreamRecord::ApiRetry {
            attempt: u32::try_from(uint(obj, "attempt").unwrap_or(0)).unwrap_or(u32::MAX),
            error_status: uint(obj, "error_status").and_then(|s| u16::try_from(s).ok()),
            error: string(obj, "error"),
            retry_delay_ms: uint(obj, "retry_delay_ms"),
        },
        ("system", Some("status")) => {
            StreamRecord::Status(string(obj, "status").unwrap_or_default())
        }
        ("assistant", _) => StreamRecord::Assistant(parse_assistant(obj)?),
        ("user", _) => StreamRecord::User(parse_user(obj)),
        ("result", _) => StreamRecord::Result(parse_result(obj)?),
        ("stream_event", _) => StreamRecord::StreamEvent(parse_stream_event(obj)?),
        _ => {
            let kind = match subtype {
                Some(sub) => format!("{kind}/{sub}"),
                None => kind.to_owned(),
            };
            StreamRecord::Unknown { kind, raw: value }
        }
    };
    Ok(record)
}

fn string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn uint(obj: &Map<String, Value>, key: &str) -> Option<u64> {
    obj.get(key).and_then(Value::as_u64)
}

/// The `usage` object under `key`, each field at most `limit`.
fn usage(
    obj: Option<&Map<String, Value>>,
    key: &str,
    limit: u64,
) -> Result<Option<Tokens>, TokenError> {
    obj.and_then(|o| o.get(key))
        .map_or(Ok(None), |v| Tokens::from_api_usage(v, limit))
}

fn parse_assistant(obj: &Map<String, Value>) -> Result<Assistant, TokenError> {
    let message = obj.get("message").and_then(Value::as_object);
    let blocks = message
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .map(|content| content.iter().filter_map(parse_block).collect())
        .unwrap_or_default();
    Ok(Assistant {
        message_id: message.and_then(|m| string(m, "id")),
        request_id: string(obj, "request_id"),
        model: message.and_then(|m| string(m, "model")),
        usage: usage(message, "usage", MAX_RESPONSE_TOKENS)?,
        stop_reason: message.and_then(|m| string(m, "stop_reason")),
        blocks,
        parent_tool_use_id: string(obj, "parent_tool_use_id"),
        is_api_error: obj
            .get("is_api_error_message")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || obj.get("error").is_some_and(|e| !e.is_null()),
    })
}

fn parse_block(block: &Value) -> Option<Block> {
    let b = block.as_object()?;
    let kind = b.get("type").and_then(Value::as_str)?;
    Some(match kind {
        "text" => Block::Text(string(b, "text").unwrap_or_default()),
        "thinking" | "redacted_thinking" => Block::Thinking,
        "tool_use" | "server_tool_use" => Block::ToolUse {
            id: string(b, "id").unwrap_or_default(),
            name: string(b, "name").unwrap_or_default(),
            input: b.get("input").cloned().unwrap_or(Value::Null),
        },
        other => Block::Other(other.to_owned()),
    })
}

fn parse_user(obj: &Map<String, Value>) -> User {
    let content = obj.get("message").and_then(|m| m.get("content"));
    let mut user = User {
        parent_tool_use_id: string(obj, "parent_tool_use_id"),
        ..User::default()
    };
    match content {
        Some(Value::String(text)) => user.prompt = Some(text.clone()),
        Some(Value::Array(blocks)) => {
            for block in blocks {
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_result") => {
                        let id = block
                            .get("tool_use_id")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let is_error = block
                            .get("is_error")
                            .and_then(Value::as_bool)
                            .unwrap_or(false);
                        user.tool_results.push((id.to_owned(), is_error));
                    }
                    Some("text") if user.prompt.is_none() => {
                        user.prompt = block.get("text").and_then(Value::as_str).map(str::to_owned);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    user
}

fn parse_result(obj: &Map<String, Value>) -> Result<ResultRecord, TokenError> {
    let mut model_usage = Vec::new();
    for (model, v) in obj
        .get("modelUsage")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(tokens) = Tokens::from_model_usage(v)? {
            model_usage.push((
                model.clone(),
                tokens,
                v.get("costUSD").and_then(Value::as_f64),
            ));
        }
    }
    Ok(ResultRecord {
        subtype: string(obj, "subtype"),
        is_error: obj
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        result: string(obj, "result"),
        session_id: string(obj, "session_id"),
        total_cost_usd: obj.get("total_cost_usd").and_then(Value::as_f64),
        duration_ms: uint(obj, "duration_ms"),
        duration_api_ms: uint(obj, "duration_api_ms"),
        num_turns: uint(obj, "num_turns"),
        usage: usage(Some(obj), "usage", MAX_SESSION_TOKENS)?,
        model_usage,
        api_error_status: uint(obj, "api_error_status").and_then(|s| u16::try_from(s).ok()),
        terminal_reason: string(obj, "terminal_reason"),
    })
}

fn parse_stream_event(obj: &Map<String, Value>) -> Result<StreamEvent, TokenError> {
    let ev = obj.get("event").and_then(Value::as_object);
    let ev_type = ev
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let event = match ev_type {
        "message_start" => {
            let msg = ev.and_then(|e| e.get("message")).and_then(Value::as_object);
            SseEvent::MessageStart {
                id: msg.and_then(|m| string(m, "id")),
                model: msg.and_then(|m| string(m, "model")),
                usage: usage(msg, "usage", MAX_RESPONSE_TOKENS)?,
            }
        }
        "content_block_start" => {
            let block = ev.and_then(|e| e.get("content_block"));
            match block.and_then(|b| b.get("type")).and_then(Value::as_str) {
                Some("tool_use" | "server_tool_use") => SseEvent::ToolUseStart {
                    name: block
                        .and_then(|b| b.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                },
                _ => SseEvent::Other("content_block_start".into()),
            }
        }
        "content_block_delta" => {
            let delta = ev.and_then(|e| e.get("delta"));
            match delta.and_then(|d| d.get("type")).and_then(Value::as_str) {
                Some("text_delta") => SseEvent::TextDelta(
                    delta
                        .and_then(|d| d.get("text"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ),
                Some(kind @ ("thinking_delta" | "input_json_delta")) => {
                    let field = if kind == "thinking_delta" {
                        "thinking"
                    } else {
                        "partial_json"
                    };
                    let text = delta.and_then(|d| d.get(field)).and_then(Value::as_str);
                    SseEvent::OutputDelta(text.map_or(0, |t| t.chars().count() as u64))
                }
                _ => SseEvent::Other("content_block_delta".into()),
            }
        }
        "message_delta" => SseEvent::MessageDelta {
            usage: usage(ev, "usage", MAX_RESPONSE_TOKENS)?,
            stop_reason: ev
                .and_then(|e| e.get("delta"))
                .and_then(|d| d.get("stop_reason"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        "message_stop" => SseEvent::MessageStop,
        other => SseEvent::Other(other.to_owned()),
    };
    Ok(StreamEvent {
        message_id: string(obj, "api_message_id"),
        parent_tool_use_id: string(obj, "parent_tool_use_id"),
        event,
    })
}

/// The domain events a record stands for.
///
/// Usage from `assistant` lines is reported as not final: in 2.1.x it is the opening usage, in
/// 1.0.x the last block's line has the final count, and the field-wise maximum per key in
/// [`crate::session`] takes care of both.
pub fn to_events(record: &StreamRecord) -> Vec<EventKind> {
    match record {
        StreamRecord::Init(init) => vec![EventKind::Init {
            claude_session_id: init.session_id.clone(),
            model: init.model.clone(),
            cwd: init.cwd.clone(),
            claude_version: init.claude_version.clone(),
        }],
        StreamRecord::Assistant(a) => assistant_events(a),
        StreamRecord::User(u) => {
            let sidechain = u.parent_tool_use_id.is_some();
            let mut events: Vec<EventKind> = u
                .tool_results
                .iter()
                .map(|(id, is_error)| EventKind::ToolResult {
                    tool_use_id: id.clone(),
                    is_error: *is_error,
                    duration_ms: None,
                    sidechain,
                })
                .collect();
            // A sub-agent's prompt is part of the parent's turn, not a new one.
            if let (Some(prompt), true, false) = (&u.prompt, u.tool_results.is_empty(), sidechain) {
                events.push(EventKind::PromptSubmitted {
                    id: None,
                    preview: Some(prompt_preview(prompt)),
                });
            }
            events
        }
        StreamRecord::Result(r) => vec![EventKind::Result {
            is_error: r.is_error,
            total_cost_usd: r.total_cost_usd,
            duration_ms: r.duration_ms,
            duration_api_ms: r.duration_api_ms,
            num_turns: r.num_turns,
            tokens: r.model_usage_tokens(),
            model: r.main_model().map(str::to_owned),
            error: if r.is_error {
                Some(r.result.clone().unwrap_or_else(|| {
                    format!(
                        "claude reported an error ({})",
                        r.subtype.as_deref().unwrap_or("unknown")
                    )
                }))
            } else {
                None
            },
        }],
        StreamRecord::ApiRetry {
            attempt,
            error_status,
            error,
            retry_delay_ms,
        } => vec![EventKind::ApiRetry {
            attempt: *attempt,
            error_status: *error_status,
            error: error.clone(),
            retry_in_ms: *retry_delay_ms,
        }],
        StreamRecord::Status(s) if s == "requesting" => {
            vec![EventKind::ApiRequest { message_id: None }]
        }
        StreamRecord::Status(_) => Vec::new(),
        StreamRecord::StreamEvent(se) => stream_event_events(se),
        StreamRecord::Unknown { kind, .. } => vec![EventKind::UnknownRecord {
            record_type: kind.clone(),
        }],
    }
}

fn assistant_events(a: &Assistant) -> Vec<EventKind> {
    let sidechain = a.parent_tool_use_id.is_some();
    let mut events = Vec::new();
    // Claude Code's synthetic error message is not an API response: it has no usage to count.
    if let (Some(id), Some(tokens), false) = (&a.message_id, a.usage, a.is_api_error)
        && a.model.as_deref() != Some("<synthetic>")
    {
        events.push(EventKind::Usage {
            // The message id alone is unique per response; `request_id` (present only
            // sometimes) links telemetry's reports of the same response.
            key: id.clone(),
            request_id: a.request_id.clone(),
            reported_cost_usd: None,
            model: a.model.clone(),
            tokens,
            is_final: a.stop_reason.is_some(),
            sidechain,
        });
    }
    for block in &a.blocks {
        if let Block::ToolUse { id, name, .. } = block {
            events.push(EventKind::ToolUse {
                tool_use_id: id.clone(),
                name: name.clone(),
                sidechain,
            });
        }
    }
    events
}

fn stream_event_events(se: &StreamEvent) -> Vec<EventKind> {
    let sidechain = se.parent_tool_use_id.is_some();
    match &se.event {
        SseEvent::MessageStart { id, model, usage } => {
            let id = id.clone().or_else(|| se.message_id.clone());
            let mut events = vec![EventKind::ApiRequest {
                message_id: id.clone(),
            }];
            if let (Some(id), Some(tokens)) = (id, usage) {
                events.push(EventKind::Usage {
                    key: id,
                    request_id: None,
                    reported_cost_usd: None,
                    model: model.clone(),
                    tokens: *tokens,
                    is_final: false,
                    sidechain,
                });
            }
            events
        }
        SseEvent::MessageDelta {
            usage: Some(tokens),
            ..
        } => match &se.message_id {
            Some(id) => vec![EventKind::Usage {
                key: id.clone(),
                request_id: None,
                reported_cost_usd: None,
                model: None,
                tokens: *tokens,
                is_final: true,
                sidechain,
            }],
            None => Vec::new(),
        },
        SseEvent::TextDelta(text) => streamed(se, text.chars().count() as u64),
        SseEvent::OutputDelta(chars) => streamed(se, *chars),
        SseEvent::MessageStop => match &se.message_id {
            Some(id) => vec![EventKind::ApiResponseDone {
                message_id: id.clone(),
                duration_ms: None,
            }],
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The live growth of a response's output, when the line names the response.
fn streamed(se: &StreamEvent, chars: u64) -> Vec<EventKind> {
    match &se.message_id {
        Some(id) if chars > 0 => vec![EventKind::OutputStreamed {
            message_id: id.clone(),
            chars,
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
