//! Token counts in the four kinds Claude Code bills, the few extra counts its prices depend on,
//! and how to read them from its formats.
//!
//! The field names (`input`, `output`, `cache_read`, `cache_creation`) are cclive's public metric
//! names; the readers below accept the API's snake_case (`input_tokens`, …) and Claude Code's
//! camelCase `modelUsage` spelling (`inputTokens`, …). The extra counts (1-hour cache writes, web
//! searches, fast-mode and US-only responses) are what [`crate::pricing`] needs to price a
//! response as Claude Code does; they are left out of JSON while zero.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Tokens of one API response, one session, or any sum of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens (thinking included).
    pub output: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
    /// Input tokens written to the prompt cache.
    pub cache_creation: u64,
    /// Of `cache_creation`, the tokens written for one hour (`usage.cache_creation.
    /// ephemeral_1h_input_tokens`); the rest were written for five minutes.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_creation_1h: u64,
    /// Server-side web searches (`usage.server_tool_use.web_search_requests`), billed per request.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub web_search_requests: u64,
    /// Responses served in fast mode (`usage.speed: "fast"`): 0 or 1 for one response.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fast_responses: u64,
    /// Responses served in the US only (`usage.inference_geo: "us"`, billed at 1.1×).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub us_only_responses: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Field-wise over every count of [`Tokens`], so no operation forgets one.
macro_rules! each_count {
    ($a:ident, $b:ident, $f:expr) => {
        $a.input = $f($a.input, $b.input);
        $a.output = $f($a.output, $b.output);
        $a.cache_read = $f($a.cache_read, $b.cache_read);
        $a.cache_creation = $f($a.cache_creation, $b.cache_creation);
        $a.cache_creation_1h = $f($a.cache_creation_1h, $b.cache_creation_1h);
        $a.web_search_requests = $f($a.web_search_requests, $b.web_search_requests);
        $a.fast_responses = $f($a.fast_responses, $b.fast_responses);
        $a.us_only_responses = $f($a.us_only_responses, $b.us_only_responses);
    };
}

impl Tokens {
    /// All four kinds added up.
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_read + self.cache_creation
    }

    /// Adds another count to this one.
    pub fn add(&mut self, other: &Tokens) {
        each_count!(self, other, u64::saturating_add);
    }

    /// Subtracts a count previously added (saturating, never below zero).
    pub fn sub(&mut self, other: &Tokens) {
        each_count!(self, other, u64::saturating_sub);
    }

    /// Field-wise maximum. Streaming snapshots of one response only ever grow, and duplicates
    /// are equal, so the maximum of every report of a response is its final usage.
    pub fn max_with(&mut self, other: &Tokens) {
        each_count!(self, other, u64::max);
    }

    /// The four token kinds only, the extra counts cleared: what a figure of tokens shows.
    #[must_use]
    pub fn kinds(&self) -> Tokens {
        Tokens {
            input: self.input,
            output: self.output,
            cache_read: self.cache_read,
            cache_creation: self.cache_creation,
            ..Tokens::default()
        }
    }

    /// Reads an API `usage` object (`input_tokens`, `output_tokens`,
    /// `cache_read_input_tokens`, `cache_creation_input_tokens`, and for pricing
    /// `cache_creation.ephemeral_1h_input_tokens`, `server_tool_use.web_search_requests`,
    /// `speed`, `inference_geo`). Missing fields are 0.
    pub fn from_api_usage(v: &Value) -> Option<Tokens> {
        let obj = v.as_object()?;
        let get = |k: &str| obj.get(k).and_then(Value::as_u64).unwrap_or(0);
        let cache_creation = get("cache_creation_input_tokens");
        let one_hour = v
            .pointer("/cache_creation/ephemeral_1h_input_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        Some(Tokens {
            input: get("input_tokens"),
            output: get("output_tokens"),
            cache_read: get("cache_read_input_tokens"),
            cache_creation,
            // Claude Code clamps the 1-hour share to the whole write.
            cache_creation_1h: one_hour.min(cache_creation),
            web_search_requests: v
                .pointer("/server_tool_use/web_search_requests")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            fast_responses: u64::from(obj.get("speed").and_then(Value::as_str) == Some("fast")),
            us_only_responses: u64::from(
                obj.get("inference_geo").and_then(Value::as_str) == Some("us"),
            ),
        })
    }

    /// Reads one model's entry of Claude Code's `modelUsage` (`inputTokens`, …).
    pub fn from_model_usage(v: &Value) -> Option<Tokens> {
        let obj = v.as_object()?;
        let get = |k: &str| obj.get(k).and_then(Value::as_u64).unwrap_or(0);
        Some(Tokens {
            input: get("inputTokens"),
            output: get("outputTokens"),
            cache_read: get("cacheReadInputTokens"),
            cache_creation: get("cacheCreationInputTokens"),
            web_search_requests: get("webSearchRequests"),
            ..Tokens::default()
        })
    }
}

/// Reads a cost that may be `null` (unknown: nothing could be priced) as NaN, which serde_json
/// writes back as `null`.
///
/// # Errors
/// When the value is neither a number nor `null`.
pub fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The whole-session tokens of Claude Code's `modelUsage` entries (`(model, tokens, cost)`),
/// summed over models; `None` when there are none. Shared by the `result` line and `cost-state`.
pub fn model_usage_total(entries: &[(String, Tokens, Option<f64>)]) -> Option<Tokens> {
    if entries.is_empty() {
        return None;
    }
    let mut sum = Tokens::default();
    for (_, tokens, _) in entries {
        sum.add(tokens);
    }
    Some(sum)
}

/// The model that cost most among `modelUsage` entries.
pub fn costliest_model(entries: &[(String, Tokens, Option<f64>)]) -> Option<&str> {
    entries
        .iter()
        .max_by(|a, b| a.2.unwrap_or(0.0).total_cmp(&b.2.unwrap_or(0.0)))
        .map(|(m, _, _)| m.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_spellings() {
        let api = json!({"input_tokens": 1200, "output_tokens": 42,
            "cache_read_input_tokens": 5000, "cache_creation_input_tokens": 300, "speed": "standard"});
        let mu = json!({"inputTokens": 1200, "outputTokens": 42,
            "cacheReadInputTokens": 5000, "cacheCreationInputTokens": 300, "costUSD": 0.1});
        let expected = Tokens {
            input: 1200,
            output: 42,
            cache_read: 5000,
            cache_creation: 300,
            ..Tokens::default()
        };
        assert_eq!(Tokens::from_api_usage(&api), Some(expected));
        assert_eq!(Tokens::from_model_usage(&mu), Some(expected));
        assert_eq!(expected.total(), 6542);
    }

    #[test]
    fn max_with_keeps_the_final_snapshot() {
        let mut start = Tokens {
            input: 1200,
            output: 1,
            cache_read: 5000,
            cache_creation: 300,
            ..Tokens::default()
        };
        let delta = Tokens {
            output: 42,
            ..Tokens::default()
        };
        start.max_with(&delta);
        assert_eq!(start.output, 42);
        assert_eq!(start.input, 1200);
    }

    #[test]
    fn reads_the_counts_prices_depend_on() {
        let api = json!({"input_tokens": 10, "output_tokens": 5,
            "cache_creation_input_tokens": 300, "cache_creation": {"ephemeral_1h_input_tokens": 900,
            "ephemeral_5m_input_tokens": 0}, "server_tool_use": {"web_search_requests": 2},
            "speed": "fast", "inference_geo": "us"});
        let t = Tokens::from_api_usage(&api).unwrap();
        assert_eq!(t.cache_creation_1h, 300, "clamped to the whole write");
        assert_eq!(t.web_search_requests, 2);
        assert_eq!((t.fast_responses, t.us_only_responses), (1, 1));
        assert_eq!(t.total(), 315, "the extra counts are not tokens");
        assert_eq!(t.kinds().web_search_requests, 0);
        let plain = json!({"input_tokens": 1, "speed": "standard", "inference_geo": "global"});
        let t = Tokens::from_api_usage(&plain).unwrap();
        assert_eq!((t.fast_responses, t.us_only_responses), (0, 0));
        assert_eq!(
            serde_json::to_value(t).unwrap().as_object().unwrap().len(),
            4
        );
    }

    #[test]
    fn non_objects_are_not_usage() {
        assert_eq!(Tokens::from_api_usage(&json!(3)), None);
    }
}
