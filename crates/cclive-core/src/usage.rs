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

/// The most tokens of one kind one API response can report: ten times the largest context
/// window (1M) and far beyond any output limit. A larger count is bad input, never usage: one
/// such value (`18446744073709551615`) used to wrap every sum it entered.
pub const MAX_RESPONSE_TOKENS: u64 = 10_000_000;

/// The most tokens of one kind a whole session's total (`modelUsage`, a `result`'s usage) can
/// report: a hundred thousand full-context responses.
pub const MAX_SESSION_TOKENS: u64 = 1_000_000_000_000;

/// The most a reported cost (one response's or a whole session's) can be, in USD.
pub const MAX_COST_USD: f64 = 1_000_000.0;

/// `cost` when it is a believable cost of `field`.
pub fn check_cost(field: &'static str, cost: f64) -> Result<f64, TokenError> {
    if cost.is_finite() && (0.0..=MAX_COST_USD).contains(&cost) {
        Ok(cost)
    } else {
        Err(TokenError::NotACost { field })
    }
}

/// A token field that is not a count cclive can believe. The input carrying it is bad input:
/// counted as an input error, its usage not counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Negative, fractional, a float out of range (`1e308`), or not a number at all.
    #[error("{field} is not a whole non-negative number of tokens")]
    NotACount {
        /// The field's name as written.
        field: &'static str,
    },
    /// A cost that is negative, not finite, or beyond [`MAX_COST_USD`].
    #[error("{field} is not a believable cost in USD")]
    NotACost {
        /// The field's name as written.
        field: &'static str,
    },
    /// A whole number beyond any model's limit.
    #[error("{field} = {value} is beyond any model's limit ({limit} tokens)")]
    Implausible {
        /// The field's name as written.
        field: &'static str,
        /// The value read.
        value: u64,
        /// The limit it broke.
        limit: u64,
    },
}

/// `value` as a count of `field`, when within `limit`.
pub fn check_count(field: &'static str, value: u64, limit: u64) -> Result<u64, TokenError> {
    if value > limit {
        return Err(TokenError::Implausible {
            field,
            value,
            limit,
        });
    }
    Ok(value)
}

/// A float as a whole count: finite, non-negative, without a fraction and exactly
/// representable (below 2^53). Anything else is `None` (bad input, not zero).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked whole and in range
pub fn whole_count(v: f64) -> Option<u64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < EXACT).then_some(v as u64)
}

/// One token field of a JSON object: absent or `null` is 0; a whole non-negative number up to
/// `limit` is its value; anything else is a [`TokenError`].
pub fn json_count(
    obj: &serde_json::Map<String, Value>,
    field: &'static str,
    limit: u64,
) -> Result<u64, TokenError> {
    let value = match obj.get(field) {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().and_then(whole_count).filter(|_| !n.is_i64())),
        Some(_) => None,
    };
    let value = value.ok_or(TokenError::NotACount { field })?;
    check_count(field, value, limit)
}

/// Tokens of one API response, one session, or any sum of them.
///
/// A stored ledger writes a response's tokens as an array in this field order
/// (`session/counted_form.rs`): a new count goes last, with `#[serde(default)]`.
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
    /// Saturating: a sum never wraps around.
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_creation)
    }

    /// Adds another count to this one (saturating: a sum never wraps around).
    pub fn add(&mut self, other: &Tokens) {
        each_count!(self, other, u64::saturating_add);
    }

    /// The first field beyond `limit`, as an error.
    pub fn check(&self, limit: u64) -> Result<(), TokenError> {
        check_count("input", self.input, limit)?;
        check_count("output", self.output, limit)?;
        check_count("cache_read", self.cache_read, limit)?;
        check_count("cache_creation", self.cache_creation, limit)?;
        check_count("cache_creation_1h", self.cache_creation_1h, limit)?;
        check_count("web_search_requests", self.web_search_requests, limit)?;
        Ok(())
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

    /// Every count, in field order (how a stored ledger writes them: `session/counted_form.rs`).
    /// Each field is named, so a new count does not compile until it is here.
    pub fn counts(&self) -> [u64; 8] {
        let Tokens {
            input,
            output,
            cache_read,
            cache_creation,
            cache_creation_1h,
            web_search_requests,
            fast_responses,
            us_only_responses,
        } = *self;
        [
            input,
            output,
            cache_read,
            cache_creation,
            cache_creation_1h,
            web_search_requests,
            fast_responses,
            us_only_responses,
        ]
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
    /// `speed`, `inference_geo`), each count at most `limit`. Missing fields are 0; `Ok(None)`
    /// when `v` is no object.
    pub fn from_api_usage(v: &Value, limit: u64) -> Result<Option<Tokens>, TokenError> {
        let Some(obj) = v.as_object() else {
            return Ok(None);
        };
        let cache_creation = json_count(obj, "cache_creation_input_tokens", limit)?;
        let nested = |parent: &str, field: &'static str| match obj.get(parent) {
            Some(Value::Object(inner)) => json_count(inner, field, limit),
            _ => Ok(0),
        };
        let one_hour = nested("cache_creation", "ephemeral_1h_input_tokens")?;
        Ok(Some(Tokens {
            input: json_count(obj, "input_tokens", limit)?,
            output: json_count(obj, "output_tokens", limit)?,
            cache_read: json_count(obj, "cache_read_input_tokens", limit)?,
            cache_creation,
            // Claude Code clamps the 1-hour share to the whole write.
            cache_creation_1h: one_hour.min(cache_creation),
            web_search_requests: nested("server_tool_use", "web_search_requests")?,
            fast_responses: u64::from(obj.get("speed").and_then(Value::as_str) == Some("fast")),
            us_only_responses: u64::from(
                obj.get("inference_geo").and_then(Value::as_str) == Some("us"),
            ),
        }))
    }

    /// Reads one model's entry of Claude Code's `modelUsage` (`inputTokens`, …): a session's
    /// total, each field at most [`MAX_SESSION_TOKENS`]. `Ok(None)` when `v` is no object.
    pub fn from_model_usage(v: &Value) -> Result<Option<Tokens>, TokenError> {
        let Some(obj) = v.as_object() else {
            return Ok(None);
        };
        let get = |k| json_count(obj, k, MAX_SESSION_TOKENS);
        Ok(Some(Tokens {
            input: get("inputTokens")?,
            output: get("outputTokens")?,
            cache_read: get("cacheReadInputTokens")?,
            cache_creation: get("cacheCreationInputTokens")?,
            web_search_requests: get("webSearchRequests")?,
            ..Tokens::default()
        }))
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
        assert_eq!(
            Tokens::from_api_usage(&api, MAX_RESPONSE_TOKENS),
            Ok(Some(expected))
        );
        assert_eq!(Tokens::from_model_usage(&mu), Ok(Some(expected)));
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
        let t = Tokens::from_api_usage(&api, MAX_RESPONSE_TOKENS)
            .unwrap()
            .unwrap();
        assert_eq!(t.cache_creation_1h, 300, "clamped to the whole write");
        assert_eq!(t.web_search_requests, 2);
        assert_eq!((t.fast_responses, t.us_only_responses), (1, 1));
        assert_eq!(t.total(), 315, "the extra counts are not tokens");
        assert_eq!(t.kinds().web_search_requests, 0);
        let plain = json!({"input_tokens": 1, "speed": "standard", "inference_geo": "global"});
        let t = Tokens::from_api_usage(&plain, MAX_RESPONSE_TOKENS)
            .unwrap()
            .unwrap();
        assert_eq!((t.fast_responses, t.us_only_responses), (0, 0));
        assert_eq!(
            serde_json::to_value(t).unwrap().as_object().unwrap().len(),
            4
        );
    }

    #[test]
    fn non_objects_are_not_usage() {
        assert_eq!(
            Tokens::from_api_usage(&json!(3), MAX_RESPONSE_TOKENS),
            Ok(None)
        );
    }

    #[test]
    fn absurd_fractional_negative_and_huge_token_fields_are_bad_input() {
        for bad in [
            json!({"output_tokens": 18_446_744_073_709_551_615_u64}),
            json!({"output_tokens": 10_000_001}),
            json!({"output_tokens": 1.5}),
            json!({"output_tokens": -3}),
            json!({"output_tokens": 1e308}),
            json!({"output_tokens": "12"}),
        ] {
            assert!(
                Tokens::from_api_usage(&bad, MAX_RESPONSE_TOKENS).is_err(),
                "{bad} must be refused"
            );
        }
        let ok = json!({"output_tokens": 42.0, "input_tokens": null});
        assert_eq!(
            Tokens::from_api_usage(&ok, MAX_RESPONSE_TOKENS)
                .ok()
                .flatten()
                .map(|t| t.output),
            Some(42)
        );
    }

    #[test]
    fn sums_saturate_instead_of_wrapping() {
        let mut sum = Tokens {
            output: u64::MAX,
            ..Tokens::default()
        };
        sum.add(&Tokens {
            output: 5,
            input: 1,
            ..Tokens::default()
        });
        assert_eq!(sum.output, u64::MAX);
        assert_eq!(sum.total(), u64::MAX);
    }
}
