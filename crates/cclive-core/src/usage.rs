//! Token counts in the four kinds Claude Code bills, and how to read them from its formats.
//!
//! The field names (`input`, `output`, `cache_read`, `cache_creation`) are cclive's public metric
//! names; the readers below accept the API's snake_case (`input_tokens`, …) and Claude Code's
//! camelCase `modelUsage` spelling (`inputTokens`, …).

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
}

impl Tokens {
    /// All four kinds added up.
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_read + self.cache_creation
    }

    /// Adds another count to this one.
    pub fn add(&mut self, other: &Tokens) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_creation += other.cache_creation;
    }

    /// Subtracts a count previously added (saturating, never below zero).
    pub fn sub(&mut self, other: &Tokens) {
        self.input = self.input.saturating_sub(other.input);
        self.output = self.output.saturating_sub(other.output);
        self.cache_read = self.cache_read.saturating_sub(other.cache_read);
        self.cache_creation = self.cache_creation.saturating_sub(other.cache_creation);
    }

    /// Field-wise maximum. Streaming snapshots of one response only ever grow, and duplicates
    /// are equal, so the maximum of every report of a response is its final usage.
    pub fn max_with(&mut self, other: &Tokens) {
        self.input = self.input.max(other.input);
        self.output = self.output.max(other.output);
        self.cache_read = self.cache_read.max(other.cache_read);
        self.cache_creation = self.cache_creation.max(other.cache_creation);
    }

    /// Reads an API `usage` object (`input_tokens`, `output_tokens`,
    /// `cache_read_input_tokens`, `cache_creation_input_tokens`). Missing fields are 0.
    pub fn from_api_usage(v: &Value) -> Option<Tokens> {
        let obj = v.as_object()?;
        let get = |k: &str| obj.get(k).and_then(Value::as_u64).unwrap_or(0);
        Some(Tokens {
            input: get("input_tokens"),
            output: get("output_tokens"),
            cache_read: get("cache_read_input_tokens"),
            cache_creation: get("cache_creation_input_tokens"),
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
        })
    }
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
    fn non_objects_are_not_usage() {
        assert_eq!(Tokens::from_api_usage(&json!(3)), None);
    }
}
