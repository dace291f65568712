//! The JSON Claude Code hands its `statusLine` command on stdin (interactive mode only).
//!
//! It carries the only running cost of an interactive session before it ends
//! (`cost.total_cost_usd`, Claude Code's own figure), the context window's use, and, on
//! subscriptions, the official usage limits (`rate_limits.five_hour` / `seven_day`:
//! `used_percentage`, `resets_at`). [`parse_payload`] reads it tolerantly (every field optional,
//! unknown ones ignored); [`to_event`] makes the one event that carries it to the monitor.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::EventKind;
use crate::ids::SessionId;

/// One official usage limit window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Share of the window's allowance used, in percent.
    pub used_percentage: f64,
    /// When the window resets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<Timestamp>,
}

/// The official subscription limits, as Claude Code reports them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RateLimits {
    /// The 5-hour window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub five_hour: Option<RateLimit>,
    /// The 7-day window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seven_day: Option<RateLimit>,
}

impl RateLimits {
    /// True when neither window is known.
    pub fn is_empty(&self) -> bool {
        self.five_hour.is_none() && self.seven_day.is_none()
    }
}

/// What a status line payload says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatuslinePayload {
    /// The session.
    pub session_id: Option<SessionId>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Model id.
    pub model: Option<String>,
    /// Model display name (`Opus 5.5`).
    pub model_display: Option<String>,
    /// Claude Code's version.
    pub version: Option<String>,
    /// Claude Code's running cost of the session.
    pub total_cost_usd: Option<f64>,
    /// Wall time so far.
    pub total_duration_ms: Option<u64>,
    /// API time so far.
    pub total_api_duration_ms: Option<u64>,
    /// Lines added so far.
    pub lines_added: Option<u64>,
    /// Lines removed so far.
    pub lines_removed: Option<u64>,
    /// Context window used, in percent.
    pub context_used_percentage: Option<f64>,
    /// Official limits, when on a subscription.
    pub rate_limits: RateLimits,
}

/// Why a payload could not be read (never echoes content).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not a JSON object.
    #[error("the status line payload is not a JSON object ({0})")]
    NotAnObject(String),
}

/// Parses the payload.
pub fn parse_payload(bytes: &[u8]) -> Result<StatuslinePayload, ParseError> {
    let value: Value = serde_json::from_slice(bytes)
        .or_else(|e| {
            // JavaScript writes lone surrogates (`\udce9`); such a payload reads lossily.
            crate::lossy::without_lone_surrogates(bytes)
                .and_then(|repaired| serde_json::from_slice(&repaired).ok())
                .ok_or(e)
        })
        .map_err(|e| ParseError::NotAnObject(format!("line {} column {}", e.line(), e.column())))?;
    let Some(obj) = value.as_object() else {
        return Err(ParseError::NotAnObject("not an object".into()));
    };
    let str_at = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let cost = obj.get("cost").cloned().unwrap_or(Value::Null);
    let model = obj.get("model").cloned().unwrap_or(Value::Null);
    let context = obj.get("context_window").cloned().unwrap_or(Value::Null);
    let limits = obj.get("rate_limits").cloned().unwrap_or(Value::Null);
    let limit = |key: &str| -> Option<RateLimit> {
        let l = limits.get(key)?;
        Some(RateLimit {
            used_percentage: l.get("used_percentage")?.as_f64()?,
            resets_at: l.get("resets_at").and_then(timestamp),
        })
    };
    Ok(StatuslinePayload {
        session_id: str_at(&value, "session_id")
            .filter(|s| !s.is_empty())
            .map(SessionId::new),
        cwd: str_at(&value, "cwd")
            .or_else(|| obj.get("workspace").and_then(|w| str_at(w, "current_dir"))),
        model: str_at(&model, "id"),
        model_display: str_at(&model, "display_name"),
        version: str_at(&value, "version"),
        total_cost_usd: cost.get("total_cost_usd").and_then(Value::as_f64),
        total_duration_ms: cost.get("total_duration_ms").and_then(Value::as_u64),
        total_api_duration_ms: cost.get("total_api_duration_ms").and_then(Value::as_u64),
        lines_added: cost.get("total_lines_added").and_then(Value::as_u64),
        lines_removed: cost.get("total_lines_removed").and_then(Value::as_u64),
        context_used_percentage: context.get("used_percentage").and_then(Value::as_f64),
        rate_limits: RateLimits {
            five_hour: limit("five_hour"),
            seven_day: limit("seven_day"),
        },
    })
}

/// `resets_at` as epoch seconds, epoch milliseconds or an RFC 3339 string.
fn timestamp(v: &Value) -> Option<Timestamp> {
    if let Some(s) = v.as_str() {
        return s.parse().ok();
    }
    let n = v.as_i64()?;
    if n > 100_000_000_000 {
        Timestamp::from_millisecond(n).ok()
    } else {
        Timestamp::from_second(n).ok()
    }
}

/// The event a payload stands for (`None` without a cost to report).
pub fn to_event(p: &StatuslinePayload) -> Option<EventKind> {
    Some(EventKind::StatusLine {
        total_cost_usd: p.total_cost_usd?,
        duration_ms: p.total_duration_ms,
        duration_api_ms: p.total_api_duration_ms,
        lines_added: p.lines_added.unwrap_or(0),
        lines_removed: p.lines_removed.unwrap_or(0),
        context_used_percentage: p.context_used_percentage,
        model: p.model.clone(),
        rate_limits: (!p.rate_limits.is_empty()).then(|| p.rate_limits.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = r#"{"session_id":"s1","transcript_path":"/t/s1.jsonl","cwd":"/w","prompt_id":"p",
     "effort":{"level":"medium"},"model":{"id":"claude-opus-5-5","display_name":"Opus 5.5"},
     "workspace":{"current_dir":"/w","project_dir":"/w","added_dirs":[]},"version":"2.1.332",
     "output_style":{"name":"default"},
     "cost":{"total_cost_usd":0.01628,"total_duration_ms":16193,"total_api_duration_ms":10074,
             "total_lines_added":3,"total_lines_removed":1},
     "context_window":{"total_input_tokens":6500,"total_output_tokens":42,"context_window_size":1000000,
       "current_usage":{"input_tokens":1200,"output_tokens":42,"cache_creation_input_tokens":300,
       "cache_read_input_tokens":5000},"used_percentage":1,"remaining_percentage":99},
     "exceeds_200k_tokens":false,"fast_mode":false,"thinking":{"enabled":true},
     "rate_limits":{"five_hour":{"used_percentage":42.5,"resets_at":1795612059},"seven_day":{"used_percentage":7}}}"#;

    #[test]
    fn reads_the_real_shape() {
        let p = parse_payload(REAL.as_bytes()).unwrap();
        assert_eq!(p.session_id.as_ref().map(SessionId::as_str), Some("s1"));
        assert_eq!(p.total_cost_usd, Some(0.01628));
        assert_eq!(p.context_used_percentage, Some(1.0));
        assert_eq!(p.model_display.as_deref(), Some("Opus 5.5"));
        let five = p.rate_limits.five_hour.as_ref().unwrap();
        assert_eq!(five.used_percentage, 42.5);
        assert_eq!(five.resets_at, Timestamp::from_second(1_795_612_059).ok());
        assert!(
            p.rate_limits
                .seven_day
                .as_ref()
                .unwrap()
                .resets_at
                .is_none()
        );
        match to_event(&p) {
            Some(EventKind::StatusLine {
                total_cost_usd,
                lines_added,
                rate_limits: Some(_),
                ..
            }) => {
                assert_eq!((total_cost_usd, lines_added), (0.01628, 3));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_1_0_shape_and_garbage() {
        let old = r#"{"session_id":"s","model":{"id":"m","display_name":"M"},"cost":{"total_cost_usd":1.5}}"#;
        let p = parse_payload(old.as_bytes()).unwrap();
        assert!(p.rate_limits.is_empty());
        assert!(matches!(
            to_event(&p),
            Some(EventKind::StatusLine {
                rate_limits: None,
                ..
            })
        ));
        assert!(parse_payload(b"not json").is_err());
        assert!(parse_payload(b"[1]").is_err());
        assert!(to_event(&parse_payload(b"{}").unwrap()).is_none());
    }
}
