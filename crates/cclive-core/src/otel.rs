//! Claude Code's own telemetry (OTLP/HTTP logs and metrics) → domain [`Event`]s.
//!
//! With `CLAUDE_CODE_ENABLE_TELEMETRY=1` Claude Code exports OTLP to any collector, as JSON or
//! protobuf. For cclive this is a source like the others, and the only one for sessions that
//! run on another machine (no transcripts here). What it gives:
//! - logs: `user_prompt` → `PromptSubmitted` (by `prompt.id`, the transcript's `promptId`);
//!   `api_request` → `Usage` keyed by the request id (the transcript also carries it, which is
//!   how the monitor counts the response once) with Claude Code's own `cost_usd`, and its API
//!   time; `tool_decision`/`tool_result` → `ToolUse`/`ToolResult` (by `tool_use_id`);
//! - metrics: `claude_code.lines_of_code.count` (deltas) → `LinesChanged`;
//! - the resource and the common attributes → the session itself (`SessionStarted` with source
//!   `otel`, Claude Code's version) and its `Origin` (user and host).
//!
//! Everything else (bookkeeping events, metrics that the logs already give per request) is
//! read and dropped; unknown event names are counted as unknown records. Prompt text is
//! redacted by Claude Code unless the user opts in; when present only the usual preview is kept.
//!
//! This module never does I/O and never reads a clock: the server hands it the body, the
//! sender's address and the time it arrived.

use std::collections::HashMap;

use jiff::Timestamp;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{AggregationTemporality, metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

use crate::event::Source;
use crate::event::{
    Event, EventKind, Mode, TELEMETRY_ONLY_KEY_PREFIX, prompt_preview, request_usage_key,
};
use crate::ids::SessionId;
use crate::usage::{MAX_RESPONSE_TOKENS, TokenError, Tokens, check_count, whole_count};

/// The `service.name` Claude Code exports under; other services' telemetry is not ours.
pub const SERVICE_NAME: &str = "claude-code";

/// Log events that carry nothing cclive counts (startup bookkeeping, hooks, and events whose
/// figures arrive elsewhere). Anything not listed and not handled is an unknown record.
const IGNORED_EVENTS: &[&str] = &[
    "assistant_response",
    "api_error",
    "api_retries_exhausted",
    "api_refusal",
    "subagent_completed",
    "hook_registered",
    "hook_execution_start",
    "hook_execution_complete",
    "hook_plugin_metrics",
    "plugin_loaded",
    "plugin_installed",
    "managed_settings_resolved",
    "retention_sweep",
    "compaction",
    "at_mention",
    "system_prompt",
    "skill_activated",
    "permission_mode_changed",
    "mcp_server_connection",
    "internal_error",
    "auth",
    "safety_event",
    "feedback_survey",
    "withdrawn",
    "tool",
];

/// How an OTLP/HTTP body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json` (OTLP's JSON mapping).
    Json,
    /// `application/x-protobuf`.
    Protobuf,
}

impl Encoding {
    /// The encoding a `Content-Type` names; `None` for anything OTLP/HTTP does not define.
    pub fn from_content_type(content_type: &str) -> Option<Encoding> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else if essence.eq_ignore_ascii_case("application/x-protobuf")
            || essence.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Encoding::Protobuf)
        } else {
            None
        }
    }

    /// The `Content-Type` of an answer in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Protobuf => "application/x-protobuf",
        }
    }

    /// The body of a successful export's answer (an empty `Export*ServiceResponse`).
    pub fn success_body(self) -> &'static [u8] {
        match self {
            Encoding::Json => b"{}",
            Encoding::Protobuf => b"",
        }
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtlpError {
    /// The JSON did not follow OTLP's JSON mapping.
    #[error("the body is not OTLP/JSON ({0}); send what an OTLP exporter sends")]
    Json(#[from] serde_json::Error),
    /// The protobuf did not decode.
    #[error("the body is not an OTLP protobuf message ({0}); send what an OTLP exporter sends")]
    Protobuf(#[from] prost::DecodeError),
}

/// Decodes a `/v1/logs` body.
pub fn decode_logs(body: &[u8], encoding: Encoding) -> Result<ExportLogsServiceRequest, OtlpError> {
    Ok(match encoding {
        Encoding::Json => serde_json::from_slice(body)?,
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body)?,
    })
}

/// Decodes a `/v1/metrics` body.
pub fn decode_metrics(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportMetricsServiceRequest, OtlpError> {
    Ok(match encoding {
        Encoding::Json => serde_json::from_slice(body)?,
        Encoding::Protobuf => ExportMetricsServiceRequest::decode(body)?,
    })
}

/// Who sent an export and when it arrived: what the body cannot say.
#[derive(Clone, Copy, Debug)]
pub struct Sender<'a> {
    /// The sender's address when it is another machine (`None` for this one): the host of a
    /// session whose resource names none.
    pub remote_host: Option<&'a str>,
    /// When the export arrived: the time of records that carry none.
    pub received_at: Timestamp,
}

/// What one export became.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Translation {
    /// The events, per session in the order Claude Code recorded them.
    pub events: Vec<Event>,
    /// Records or data points skipped: not Claude Code's, or naming no session.
    pub skipped: u64,
}

/// Sessions that earlier exports already announced (their start, version and origin), so an
/// exporter's every export — one every few seconds — does not repeat them. Bounded: when full
/// it starts over, which costs a repeated announcement, never a lost one.
#[derive(Debug, Default)]
pub struct Announced {
    sessions: HashMap<SessionId, Announcement>,
}

/// What was announced of a session.
#[derive(Debug, PartialEq)]
struct Announcement {
    user: Option<String>,
    host: Option<String>,
    /// The mode, once a request told it.
    mode: Option<Mode>,
}

impl Announced {
    /// Most sessions remembered.
    const CAPACITY: usize = 4096;

    /// The announcement to make of `session` now, if any: the first time, when its origin
    /// changes, or when its mode becomes known. A mode once known stays.
    fn news(
        &mut self,
        session: &SessionId,
        user: Option<String>,
        host: Option<String>,
        mode: Option<Mode>,
    ) -> Option<&Announcement> {
        if self.sessions.len() >= Self::CAPACITY && !self.sessions.contains_key(session) {
            self.sessions.clear();
        }
        let before = self.sessions.get(session);
        let now = Announcement {
            mode: mode.or(before.and_then(|b| b.mode)),
            user,
            host,
        };
        if before == Some(&now) {
            return None;
        }
        self.sessions.insert(session.clone(), now);
        self.sessions.get(session)
    }
}

/// The mode a request's `query_source` tells: `sdk` is the print-mode (and SDK) query loop,
/// `repl_main_thread` the interactive one (names read out of Claude Code 2.1's binary);
/// anything else (sub-agents, side queries) says nothing.
fn mode_of_query_source(query_source: &str) -> Option<Mode> {
    match query_source {
        "sdk" => Some(Mode::Print),
        "repl_main_thread" => Some(Mode::Interactive),
        _ => None,
    }
}

/// The events of a `/v1/logs` export.
pub fn log_events(
    request: &ExportLogsServiceRequest,
    sender: Sender<'_>,
    announced: &mut Announced,
) -> Translation {
    let mut out = Translation::default();
    for resource_logs in &request.resource_logs {
        let resource = ResourceInfo::of(resource_logs.resource.as_ref());
        let records = resource_logs
            .scope_logs
            .iter()
            .flat_map(|scope| &scope.log_records);
        if !resource.is_claude_code() {
            out.skipped += records.count() as u64;
            continue;
        }
        // What each session's requests tell of its mode, known before it is announced.
        let mut modes: HashMap<&str, Mode> = HashMap::new();
        for record in records.clone() {
            let attrs = Attributes(&record.attributes);
            if let (Some(session), Some(mode)) = (
                attrs.str("session.id"),
                attrs.str("query_source").and_then(mode_of_query_source),
            ) {
                modes.insert(session, mode);
            }
        }
        let mut sessions = Sessions {
            resource: &resource,
            sender,
            announced: &mut *announced,
        };
        for record in records {
            let attrs = Attributes(&record.attributes);
            let Some(session_id) = attrs.str("session.id").filter(|s| !s.is_empty()) else {
                out.skipped += 1;
                continue;
            };
            let at = record_time(record, &attrs).unwrap_or(sender.received_at);
            let session = SessionId::new(session_id);
            let mode = modes.get(session_id).copied();
            let kinds = record_events(record, &attrs, &session);
            // A record that is only bad input says nothing believable: it announces no session.
            if kinds.is_empty() || !kinds.iter().all(EventKind::is_bad_input) {
                sessions.announce(&mut out.events, &session, &attrs, (at, mode));
            }
            for kind in kinds {
                out.events.push(Event::new(session.clone(), at, kind));
            }
        }
    }
    out
}

/// The events of a `/v1/metrics` export.
pub fn metric_events(
    request: &ExportMetricsServiceRequest,
    sender: Sender<'_>,
    announced: &mut Announced,
) -> Translation {
    let mut out = Translation::default();
    for resource_metrics in &request.resource_metrics {
        let resource = ResourceInfo::of(resource_metrics.resource.as_ref());
        let metrics = resource_metrics
            .scope_metrics
            .iter()
            .flat_map(|scope| &scope.metrics);
        if !resource.is_claude_code() {
            out.skipped += metrics.count() as u64;
            continue;
        }
        let mut sessions = Sessions {
            resource: &resource,
            sender,
            announced: &mut *announced,
        };
        for metric in metrics {
            let Some(metric::Data::Sum(sum)) = &metric.data else {
                continue;
            };
            for point in &sum.data_points {
                let attrs = Attributes(&point.attributes);
                let Some(session_id) = attrs.str("session.id").filter(|s| !s.is_empty()) else {
                    out.skipped += 1;
                    continue;
                };
                let at = nanos(point.time_unix_nano).unwrap_or(sender.received_at);
                let session = SessionId::new(session_id);
                sessions.announce(&mut out.events, &session, &attrs, (at, None));
                // Line counts are Claude Code's deltas by default; a cumulative export repeats
                // its running total, which cannot be told from a new delta: left out.
                if metric.name != "claude_code.lines_of_code.count"
                    || sum.aggregation_temporality != AggregationTemporality::Delta as i32
                {
                    continue;
                }
                let value = match point.value {
                    Some(number_data_point::Value::AsDouble(v)) => float_count(v),
                    Some(number_data_point::Value::AsInt(v)) => u64::try_from(v).unwrap_or(0),
                    None => 0,
                };
                let kind = attrs.str("type").unwrap_or_default();
                let (added, removed) = match kind {
                    "added" => (value, 0),
                    "removed" => (0, value),
                    _ => continue,
                };
                let point_id = format!(
                    "{}:{kind}:{}:{}:{}",
                    metric.name,
                    attrs.str("model").unwrap_or_default(),
                    point.start_time_unix_nano,
                    point.time_unix_nano
                );
                out.events.push(Event::new(
                    session,
                    at,
                    EventKind::LinesChanged {
                        point: point_id,
                        added,
                        removed,
                    },
                ));
            }
        }
    }
    out
}

/// The events of one log record, by its event name.
fn record_events(
    record: &LogRecord,
    attrs: &Attributes<'_>,
    session: &SessionId,
) -> Vec<EventKind> {
    let name = event_name(record, attrs);
    // A sub-agent's request or tool names its agent; the main thread's do not.
    let sidechain = attrs.str("agent_id").is_some_and(|a| !a.is_empty())
        || attrs
            .str("query_source")
            .is_some_and(|q| q.starts_with("agent:"));
    match name.as_str() {
        "user_prompt" => {
            let preview = attrs
                .str("prompt")
                .filter(|p| *p != "<REDACTED>" && !p.is_empty())
                .map(prompt_preview);
            vec![EventKind::PromptSubmitted {
                id: attrs.str("prompt.id").map(str::to_owned),
                preview,
            }]
        }
        "api_request" => {
            let tokens = (|| {
                Ok::<_, TokenError>(Tokens {
                    input: attrs.tokens("input_tokens")?,
                    output: attrs.tokens("output_tokens")?,
                    cache_read: attrs.tokens("cache_read_tokens")?,
                    cache_creation: attrs.tokens("cache_creation_tokens")?,
                    ..Tokens::default()
                })
            })();
            let tokens = match tokens {
                Ok(tokens) => tokens,
                Err(e) => {
                    return vec![EventKind::InputError {
                        source: "telemetry".into(),
                        message: format!("bad usage: {e}"),
                    }];
                }
            };
            let request_id = attrs.str("request_id").filter(|r| !r.is_empty());
            // Claude Code 1.0 names no request: such a report cannot be matched with the
            // transcript's, so it is keyed to itself and counts only for a session no local
            // source sees (see `SessionState`).
            let key = request_id.map_or_else(
                || {
                    format!(
                        "{}{session}:{}:{}",
                        TELEMETRY_ONLY_KEY_PREFIX,
                        attrs.str("event.timestamp").unwrap_or_default(),
                        attrs.str("event.sequence").unwrap_or_default()
                    )
                },
                request_usage_key,
            );
            let mut events = vec![EventKind::Usage {
                key: key.clone(),
                request_id: request_id.map(str::to_owned),
                reported_cost_usd: attrs
                    .float("cost_usd")
                    .filter(|c| c.is_finite() && *c >= 0.0),
                model: attrs.str("model").map(str::to_owned),
                tokens,
                is_final: true,
                sidechain,
            }];
            if let Some(duration_ms) = attrs.opt_count("duration_ms") {
                events.push(EventKind::ApiResponseDone {
                    message_id: key,
                    duration_ms: Some(duration_ms),
                });
            }
            events
        }
        "tool_decision" | "tool_result" => {
            let (Some(tool_use_id), Some(tool)) =
                (attrs.str("tool_use_id"), attrs.str("tool_name"))
            else {
                return Vec::new(); // 1.0 names no tool use: nothing to match it with
            };
            let mut events = vec![EventKind::ToolUse {
                tool_use_id: tool_use_id.to_owned(),
                name: tool.to_owned(),
                sidechain,
            }];
            if name == "tool_result" {
                events.push(EventKind::ToolResult {
                    tool_use_id: tool_use_id.to_owned(),
                    is_error: attrs.boolean("success") == Some(false),
                    duration_ms: attrs.opt_count("duration_ms"),
                    sidechain,
                });
            }
            events
        }
        "" => vec![EventKind::UnknownRecord {
            record_type: "otel:(unnamed)".into(),
        }],
        other if IGNORED_EVENTS.contains(&other) => Vec::new(),
        other => vec![EventKind::UnknownRecord {
            record_type: format!("otel:{}", other.chars().take(64).collect::<String>()),
        }],
    }
}

/// `event.name`, else the body `claude_code.<name>`.
fn event_name(record: &LogRecord, attrs: &Attributes<'_>) -> String {
    if let Some(name) = attrs.str("event.name") {
        return name.to_owned();
    }
    match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(body)) => {
            body.strip_prefix("claude_code.").unwrap_or(body).to_owned()
        }
        _ => String::new(),
    }
}

/// The record's own time: `event.timestamp`, else its time, else when it was observed.
fn record_time(record: &LogRecord, attrs: &Attributes<'_>) -> Option<Timestamp> {
    attrs
        .str("event.timestamp")
        .and_then(|t| t.parse().ok())
        .or_else(|| nanos(record.time_unix_nano))
        .or_else(|| nanos(record.observed_time_unix_nano))
}

fn nanos(n: u64) -> Option<Timestamp> {
    if n == 0 {
        return None;
    }
    Timestamp::from_nanosecond(i128::from(n)).ok()
}

/// A non-negative float as a whole count (`NaN` and negatives are 0).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped first
fn float_count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// What the resource says of the exporting process.
struct ResourceInfo {
    service: Option<String>,
    version: Option<String>,
    host: Option<String>,
    user: Option<String>,
}

impl ResourceInfo {
    fn of(resource: Option<&Resource>) -> ResourceInfo {
        let attrs = Attributes(resource.map_or(&[][..], |r| &r.attributes[..]));
        let owned = |key: &str| attrs.str(key).filter(|s| !s.is_empty()).map(str::to_owned);
        ResourceInfo {
            service: owned("service.name"),
            version: owned("service.version"),
            host: owned("host.name"),
            user: owned("user.email")
                .or_else(|| owned("user.name"))
                .or_else(|| owned("enduser.id")),
        }
    }

    fn is_claude_code(&self) -> bool {
        self.service.as_deref() == Some(SERVICE_NAME)
    }
}

/// The sessions an export names: each is announced once, before its first event.
struct Sessions<'r, 'a> {
    resource: &'r ResourceInfo,
    sender: Sender<'r>,
    announced: &'a mut Announced,
}

impl Sessions<'_, '_> {
    fn announce(
        &mut self,
        events: &mut Vec<Event>,
        session: &SessionId,
        attrs: &Attributes<'_>,
        (at, mode): (Timestamp, Option<Mode>),
    ) {
        let user = attrs
            .str("user.email")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| self.resource.user.clone())
            .or_else(|| {
                // The hashed id is all Claude Code says of most users: short, but stable.
                attrs
                    .str("user.id")
                    .filter(|s| !s.is_empty())
                    .map(|id| format!("user {}", id.chars().take(12).collect::<String>()))
            });
        let host = self
            .resource
            .host
            .clone()
            .or_else(|| self.sender.remote_host.map(str::to_owned));
        let Some(news) = self.announced.news(session, user, host, mode) else {
            return;
        };
        let (user, host, mode) = (news.user.clone(), news.host.clone(), news.mode);
        let event = |kind| Event::new(session.clone(), at, kind);
        events.push(event(EventKind::SessionStarted {
            // Until a request tells, interactive; a local source that sees the session knows.
            mode: mode.unwrap_or(Mode::Interactive),
            command: None,
            cwd: None,
            project_path: None,
            session_type: None,
            source: Source::Otel,
        }));
        if let Some(version) = &self.resource.version {
            events.push(event(EventKind::Init {
                claude_session_id: session.as_str().to_owned(),
                model: None,
                cwd: None,
                claude_version: Some(version.clone()),
            }));
        }
        if user.is_some() || host.is_some() {
            events.push(event(EventKind::Origin { user, host }));
        }
    }
}

/// A record's or point's attributes, read leniently: Claude Code 1.0 sends numbers and
/// booleans as strings, 2.1 mostly as typed values.
struct Attributes<'a>(&'a [KeyValue]);

impl<'a> Attributes<'a> {
    fn value(&self, key: &str) -> Option<&'a any_value::Value> {
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v: &AnyValue| v.value.as_ref())
    }

    fn str(&self, key: &str) -> Option<&'a str> {
        match self.value(key)? {
            any_value::Value::StringValue(s) => Some(s),
            _ => None,
        }
    }

    fn float(&self, key: &str) -> Option<f64> {
        match self.value(key)? {
            any_value::Value::DoubleValue(v) => Some(*v),
            #[allow(clippy::cast_precision_loss)]
            any_value::Value::IntValue(v) => Some(*v as f64),
            any_value::Value::StringValue(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn opt_count(&self, key: &str) -> Option<u64> {
        match self.value(key)? {
            any_value::Value::IntValue(v) => u64::try_from(*v).ok(),
            any_value::Value::DoubleValue(v) => Some(float_count(*v)),
            any_value::Value::StringValue(s) => s
                .trim()
                .parse::<u64>()
                .ok()
                .or_else(|| s.trim().parse::<f64>().ok().map(float_count)),
            _ => None,
        }
    }

    /// A token count of one response: absent is 0; negative, fractional or beyond
    /// [`MAX_RESPONSE_TOKENS`] is bad input.
    fn tokens(&self, key: &'static str) -> Result<u64, TokenError> {
        let value = match self.value(key) {
            None => return Ok(0),
            Some(any_value::Value::IntValue(v)) => u64::try_from(*v).ok(),
            Some(any_value::Value::DoubleValue(v)) => whole_count(*v),
            Some(any_value::Value::StringValue(s)) => s
                .trim()
                .parse::<u64>()
                .ok()
                .or_else(|| s.trim().parse::<f64>().ok().and_then(whole_count)),
            Some(_) => None,
        };
        check_count(
            key,
            value.ok_or(TokenError::NotACount { field: key })?,
            MAX_RESPONSE_TOKENS,
        )
    }

    fn boolean(&self, key: &str) -> Option<bool> {
        match self.value(key)? {
            any_value::Value::BoolValue(b) => Some(*b),
            any_value::Value::StringValue(s) => match s.trim() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
