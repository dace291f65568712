//! The price table: what one API response of a given model costs, in USD, priced exactly as
//! Claude Code prices it.
//!
//! The table ships as `data/prices.json` (embedded at build time; generated from the pinned
//! Claude Code's model catalog by `cclive prices sync --bundled`) and a user can replace it with
//! their own file (`cclive prices sync` writes one from the Claude Code installed on the machine).
//! This module only parses text it is handed and does arithmetic; it never reads files.
//!
//! Claude Code's rules, mirrored here (2.1.x):
//! - a model id is matched after dropping a `[1m]` suffix, a path (`…/models/`), a Bedrock
//!   `region.anthropic.` prefix, a date (`-20250514`, `@20250514`), a `-latest`/`-fast` tag
//!   and a Bedrock version (`-v1:0`); every provider id of a catalog entry names it too;
//! - 1-hour cache writes (`usage.cache_creation.ephemeral_1h_input_tokens`) cost the 1-hour rate,
//!   the rest of `cache_creation_input_tokens` the 5-minute rate;
//! - a response whose prompt (input + cache read + cache write) exceeds a model's long-prompt
//!   threshold is priced at the long-prompt rates;
//! - `usage.speed: "fast"` uses the model's fast-mode rates (when it has some);
//! - `usage.inference_geo: "us"` multiplies the token cost by 1.1;
//! - each web search (`usage.server_tool_use.web_search_requests`) costs the per-request rate.
//!
//! A model no entry matches is *unknown*: [`PriceTable::cost`] returns `None` for it, so callers
//! show "unpriced" instead of silently pricing it at zero.

pub mod catalog;

use serde::{Deserialize, Serialize};

use crate::usage::Tokens;

const BUILTIN: &str = include_str!("../data/prices.json");

/// Claude Code's price of one web search request, used when an entry does not say.
pub const DEFAULT_WEB_SEARCH: f64 = 0.01;

/// Token cost multiplier of a response served in the US only (`inference_geo: "us"`).
pub const US_ONLY_MULTIPLIER: f64 = 1.1;

/// Per-token rates, USD per million tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Uncached input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// Prompt-cache write for five minutes.
    #[serde(alias = "cache_write")]
    pub cache_write_5m: f64,
    /// Prompt-cache write for one hour; without it, 1-hour writes cost the 5-minute rate (as in
    /// Claude Code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<f64>,
    /// Prompt-cache read.
    pub cache_read: f64,
}

impl Rates {
    /// The token cost (no web searches, no geo multiplier) of one response's `tokens`.
    fn token_cost(&self, tokens: &Tokens) -> f64 {
        let one_hour = tokens.cache_creation_1h.min(tokens.cache_creation);
        let cache_write = match self.cache_write_1h {
            Some(rate) if one_hour > 0 => {
                one_hour as f64 / 1e6 * rate
                    + (tokens.cache_creation - one_hour) as f64 / 1e6 * self.cache_write_5m
            }
            _ => tokens.cache_creation as f64 / 1e6 * self.cache_write_5m,
        };
        tokens.input as f64 / 1e6 * self.input
            + tokens.output as f64 / 1e6 * self.output
            + tokens.cache_read as f64 / 1e6 * self.cache_read
            + cache_write
    }
}

/// Rates that apply above a prompt size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LongPrompt {
    /// The tier applies when input + cache read + cache write tokens exceed this.
    pub above_prompt_tokens: u64,
    /// The rates of the tier.
    #[serde(flatten)]
    pub rates: Rates,
}

/// The prices of one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    /// The model's catalog id (`claude-opus-5-5`); a legacy rule's family name.
    #[serde(alias = "family")]
    pub id: String,
    /// Other ids that name it exactly: Claude Code's provider ids (dated first-party id,
    /// Bedrock, Vertex, Foundry, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    /// Legacy rule (format 1): the entry matches any model id containing all of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contains: Vec<String>,
    /// Standard rates.
    #[serde(flatten)]
    pub rates: Rates,
    /// USD per web search request.
    #[serde(default = "default_web_search")]
    pub web_search: f64,
    /// The long-prompt tier, when the model has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_prompt: Option<LongPrompt>,
    /// Fast-mode rates, when the model has a fast mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast: Option<Rates>,
}

fn default_web_search() -> f64 {
    DEFAULT_WEB_SEARCH
}

impl ModelPrice {
    /// The USD cost of one response's `tokens` at this model's prices.
    pub fn cost(&self, tokens: &Tokens) -> f64 {
        let rates = self.rates_for(tokens);
        let geo = if tokens.us_only_responses > 0 {
            US_ONLY_MULTIPLIER
        } else {
            1.0
        };
        rates.token_cost(tokens) * geo + tokens.web_search_requests as f64 * self.web_search
    }

    /// Which rates one response is priced at: fast mode first, then the long-prompt tier.
    pub fn rates_for(&self, tokens: &Tokens) -> &Rates {
        let prompt = prompt_size(tokens);
        self.rates_at(tokens.fast_responses > 0, |threshold| prompt > threshold)
    }

    /// The rates of a response in fast mode or not, whose prompt exceeds a threshold or not.
    fn rates_at(&self, fast: bool, prompt_exceeds: impl Fn(u64) -> bool) -> &Rates {
        if fast && let Some(fast) = &self.fast {
            return fast;
        }
        match &self.long_prompt {
            Some(long) if prompt_exceeds(long.above_prompt_tokens) => &long.rates,
            _ => &self.rates,
        }
    }

    /// The USD cost of a SUM of responses that share one price class (see
    /// [`PriceTable::cost_of_sum`]): the same as the sum of their costs, up to rounding.
    pub(crate) fn cost_of_sum(&self, tokens: &Tokens, prompt_above: Option<u64>) -> f64 {
        let rates = self.rates_at(tokens.fast_responses > 0, |threshold| {
            prompt_above.is_some_and(|above| above >= threshold)
        });
        let geo = if tokens.us_only_responses > 0 {
            US_ONLY_MULTIPLIER
        } else {
            1.0
        };
        rates.token_cost(tokens) * geo + tokens.web_search_requests as f64 * self.web_search
    }
}

/// A response's prompt size, the long-prompt tier's measure: input + cache read + cache write.
pub fn prompt_size(tokens: &Tokens) -> u64 {
    tokens
        .input
        .saturating_add(tokens.cache_read)
        .saturating_add(tokens.cache_creation)
}

/// The price class of one response's prompt: the largest of `thresholds` (ascending, as
/// [`PriceTable::prompt_thresholds`] gives them) its [`prompt_size`] exceeds; `None` when it
/// exceeds none. Responses summed within one class are priced right by
/// [`PriceTable::cost_of_sum`].
pub fn prompt_above(tokens: &Tokens, thresholds: &[u64]) -> Option<u64> {
    prompt_class(prompt_size(tokens), thresholds)
}

/// The price class of a prompt of `prompt` tokens ([`prompt_size`]): the largest of `thresholds`
/// (ascending) it exceeds; `None` when it exceeds none. What [`prompt_above`] decides, for a
/// size known without its tokens (a stored sum's smallest and largest prompt).
pub fn prompt_class(prompt: u64, thresholds: &[u64]) -> Option<u64> {
    thresholds.iter().rev().find(|&&t| prompt > t).copied()
}

/// The price table: models, tried by id, then legacy `contains` rules in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    /// Format version of the file (2; 1 had only `rules`).
    pub version: u32,
    /// Where the prices come from (`Claude Code 2.1.332 model catalog`, a user's note).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The Claude Code version whose catalog the table was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_code_version: Option<String>,
    /// The models.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelPrice>,
    /// Legacy rules (format 1): the first whose every `contains` string occurs wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<ModelPrice>,
}

/// Why a price file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PriceTableError {
    /// The text is not a price table.
    #[error("the price table is not valid JSON of the expected shape: {0}")]
    Invalid(#[from] serde_json::Error),
    /// The table has a rule that could never be told apart from "no rule".
    #[error("price rule {index} ({family}) has no `contains` strings; give it at least one")]
    EmptyRule {
        /// Position of the rule.
        index: usize,
        /// Its family name.
        family: String,
    },
}

impl PriceTable {
    /// The table shipped with cclive.
    pub fn builtin() -> PriceTable {
        // The embedded file is checked by a unit test, so this cannot fail at run time.
        Self::parse(BUILTIN).unwrap_or(PriceTable {
            version: 2,
            source: None,
            claude_code_version: None,
            models: Vec::new(),
            rules: Vec::new(),
        })
    }

    /// Parses a price table (the format of `data/prices.json`, or the older `rules` format).
    pub fn parse(text: &str) -> Result<PriceTable, PriceTableError> {
        let table: PriceTable = serde_json::from_str(text)?;
        if let Some((index, rule)) = table
            .rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.contains.is_empty())
        {
            return Err(PriceTableError::EmptyRule {
                index,
                family: rule.id.clone(),
            });
        }
        Ok(table)
    }

    /// The prices of a model id, if any entry names it.
    pub fn lookup(&self, model: &str) -> Option<&ModelPrice> {
        let names = candidate_ids(model);
        names
            .iter()
            .find_map(|name| self.models.iter().find(|m| m.names(name)))
            .or_else(|| {
                let lower = model.to_ascii_lowercase();
                self.rules.iter().chain(&self.models).find(|rule| {
                    !rule.contains.is_empty()
                        && rule.contains.iter().all(|needle| lower.contains(needle))
                })
            })
    }

    /// The USD cost of one response's `tokens` for `model`, or `None` when the model is unknown.
    pub fn cost(&self, model: &str, tokens: &Tokens) -> Option<f64> {
        self.lookup(model).map(|price| price.cost(tokens))
    }

    /// Every long-prompt threshold of the table, ascending, each once. Responses of one model
    /// whose prompts ([`prompt_size`]) exceed the same of these thresholds, and which agree on
    /// fast mode and on US-only inference, are priced at the same rates: a store may sum them
    /// first and price the sum with [`PriceTable::cost_of_sum`] (the team server does, so its
    /// figures equal the sum of the local per-response costs).
    pub fn prompt_thresholds(&self) -> Vec<u64> {
        let mut thresholds: Vec<u64> = self
            .models
            .iter()
            .chain(&self.rules)
            .filter_map(|m| m.long_prompt.as_ref().map(|l| l.above_prompt_tokens))
            .collect();
        thresholds.sort_unstable();
        thresholds.dedup();
        thresholds
    }

    /// The USD cost of a sum of responses of `model` in ONE price class: every one of them in
    /// fast mode or none (`tokens.fast_responses` > 0 says which), every one US-only or none,
    /// and every prompt exceeding exactly the thresholds of [`PriceTable::prompt_thresholds`]
    /// up to `prompt_above` (the largest exceeded; `None`: none). `None` when the model is
    /// unknown. Equal to the sum of [`PriceTable::cost`] over those responses, up to rounding.
    pub fn cost_of_sum(
        &self,
        model: &str,
        tokens: &Tokens,
        prompt_above: Option<u64>,
    ) -> Option<f64> {
        self.lookup(model)
            .map(|price| price.cost_of_sum(tokens, prompt_above))
    }

    /// Catalog ids of `other` this table has no entry for (`cclive doctor`).
    pub fn missing_from<'a>(&self, other: &'a PriceTable) -> Vec<&'a str> {
        other
            .models
            .iter()
            .filter(|m| self.lookup(&m.id).is_none())
            .map(|m| m.id.as_str())
            .collect()
    }
}

impl ModelPrice {
    fn names(&self, name: &str) -> bool {
        self.id.eq_ignore_ascii_case(name) || self.ids.iter().any(|i| i.eq_ignore_ascii_case(name))
    }
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::builtin()
    }
}

/// The ids a model id may be listed under, most exact first, following Claude Code's model-id
/// parser: the id as given (without `[1m]` and a path), without a Bedrock `anthropic.` prefix,
/// then its base (`claude-<family>-<major>[-<minor>]` or `claude-<major>[-<minor>]-<family>`)
/// when what follows is only a date, `-latest`/`-fast` and a Bedrock version, plus the
/// `-0` spelling of a base without a minor version (`claude-opus-4` is `claude-opus-4-0`).
pub fn candidate_ids(model: &str) -> Vec<String> {
    let lower = model.trim().to_ascii_lowercase();
    let mut id = lower.as_str();
    for suffix in ["[1m]", "[2m]"] {
        id = id.strip_suffix(suffix).unwrap_or(id);
    }
    if let Some((_, last)) = id.rsplit_once('/') {
        id = last;
    }
    let id = id.to_owned();
    let mut out = vec![id.clone()];
    let bare = match id.split_once("anthropic.") {
        Some((region, rest))
            if rest.starts_with("claude-")
                && (region.is_empty()
                    || region.strip_suffix('.').is_some_and(|r| {
                        !r.is_empty() && r.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                    })) =>
        {
            rest.to_owned()
        }
        _ => id,
    };
    if bare != out[0] {
        out.push(bare.clone());
    }
    if let Some((base, has_minor)) = base_id(&bare)
        && valid_trailer(&bare[base.len()..])
    {
        out.push(base.to_owned());
        if !has_minor {
            out.push(format!("{base}-0"));
        }
    }
    out
}

/// `claude-<family>-<major>[-<minor>]` or `claude-<major>[-<minor>]-<family>` at the start of
/// `id` (numbers of one or two digits), and whether it has a minor version.
fn base_id(id: &str) -> Option<(&str, bool)> {
    let rest = id.strip_prefix("claude-")?;
    let letters = |s: &str| s.bytes().take_while(u8::is_ascii_lowercase).count();
    // A number of 1–2 digits not followed by another digit; its length.
    let number = |s: &str| {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (1..=2).contains(&n).then_some(n)
    };
    let prefix = "claude-".len();
    let family = letters(rest);
    if family > 0 {
        let after = rest[family..].strip_prefix('-')?;
        let major = number(after)?;
        let mut end = prefix + family + 1 + major;
        let mut has_minor = false;
        if let Some(minor) = after[major..].strip_prefix('-').and_then(number) {
            end += 1 + minor;
            has_minor = true;
        }
        return Some((&id[..end], has_minor));
    }
    let major = number(rest)?;
    let mut pos = major;
    let mut has_minor = false;
    if let Some(minor) = rest[pos..].strip_prefix('-').and_then(number) {
        pos += 1 + minor;
        has_minor = true;
    }
    let family = rest[pos..].strip_prefix('-').map_or(0, letters);
    if family == 0 {
        return None;
    }
    Some((&id[..prefix + pos + 1 + family], has_minor))
}

/// What may follow a base id: `(-fast|-latest)?(-v\d{1,3}@\d{8}|[-@]\d{8})?(-v\d{1,3}(:\d{1,3})?)?`.
fn valid_trailer(mut s: &str) -> bool {
    let digits = |s: &str, min: usize, max: usize| {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        (min..=max).contains(&n).then_some(n)
    };
    for tag in ["-fast", "-latest"] {
        if let Some(rest) = s.strip_prefix(tag) {
            s = rest;
            break;
        }
    }
    // A date: `-v1@20250514`, `-20250514` or `@20250514`.
    let date = |s: &str| -> Option<usize> {
        if let Some(rest) = s.strip_prefix("-v") {
            let v = digits(rest, 1, 3)?;
            let rest = rest[v..].strip_prefix('@')?;
            return (digits(rest, 8, 8) == Some(8)).then_some(2 + v + 1 + 8);
        }
        let rest = s.strip_prefix('-').or_else(|| s.strip_prefix('@'))?;
        (digits(rest, 8, 8) == Some(8)).then_some(9)
    };
    if let Some(n) = date(s) {
        s = &s[n..];
    }
    if let Some(rest) = s.strip_prefix("-v")
        && let Some(v) = digits(rest, 1, 3)
    {
        let rest = &rest[v..];
        s = match rest.strip_prefix(':') {
            Some(r) => match digits(r, 1, 3) {
                Some(n) => &r[n..],
                None => return false,
            },
            None => rest,
        };
    }
    s.is_empty()
}

#[cfg(test)]
mod tests;
