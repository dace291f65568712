//! The price table: what tokens of a given model cost, per million, in USD.
//!
//! The table ships as `data/prices.json` (embedded at build time) and a user can replace it with
//! their own file; this module only parses text it is handed. A model no rule matches is
//! *unknown*: [`PriceTable::cost`] returns `None` for it, so callers flag the estimate instead of
//! silently pricing it at zero.

use serde::{Deserialize, Serialize};

use crate::usage::Tokens;

const BUILTIN: &str = include_str!("../data/prices.json");

/// Prices of one model family, USD per million tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// A short family name, for display.
    pub family: String,
    /// Every one of these must occur in the model id for the rule to match.
    pub contains: Vec<String>,
    /// Uncached input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// Prompt-cache write (5-minute ephemeral).
    pub cache_write: f64,
    /// Prompt-cache read.
    pub cache_read: f64,
}

impl Price {
    /// The USD cost of `tokens` at this price.
    pub fn cost(&self, tokens: &Tokens) -> f64 {
        (tokens.input as f64 * self.input
            + tokens.output as f64 * self.output
            + tokens.cache_creation as f64 * self.cache_write
            + tokens.cache_read as f64 * self.cache_read)
            / 1_000_000.0
    }
}

/// An ordered list of price rules; the first match wins.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    /// Format version of the file.
    pub version: u32,
    /// The rules, tried in order.
    pub rules: Vec<Price>,
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
            version: 1,
            rules: Vec::new(),
        })
    }

    /// Parses a price table (the format of `data/prices.json`).
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
                family: rule.family.clone(),
            });
        }
        Ok(table)
    }

    /// The price rule for a model id, if any matches.
    pub fn lookup(&self, model: &str) -> Option<&Price> {
        let model = model.to_ascii_lowercase();
        self.rules.iter().find(|rule| {
            rule.contains
                .iter()
                .all(|needle| model.contains(needle.as_str()))
        })
    }

    /// The USD cost of `tokens` for `model`, or `None` when the model is unknown.
    pub fn cost(&self, model: &str, tokens: &Tokens) -> Option<f64> {
        self.lookup(model).map(|price| price.cost(tokens))
    }
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::builtin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn builtin_table_parses() {
        let table = PriceTable::parse(BUILTIN).expect("embedded prices.json must parse");
        assert!(table.rules.len() >= 8);
    }

    #[rstest]
    #[case("claude-opus-5-5", "opus-5")]
    #[case("claude-opus-4-5-20251101", "opus-4.5+")]
    #[case("claude-opus-4-1-20250805", "opus-4")]
    #[case("claude-opus-4-20250514", "opus-4")]
    #[case("claude-sonnet-4-20250514", "sonnet")]
    #[case("claude-sonnet-4-6", "sonnet")]
    #[case("claude-haiku-4-5", "haiku-4.5")]
    #[case("claude-3-5-haiku-20241022", "haiku-3.5")]
    fn families(#[case] model: &str, #[case] family: &str) {
        let table = PriceTable::builtin();
        assert_eq!(table.lookup(model).map(|p| p.family.as_str()), Some(family));
    }

    #[test]
    fn unknown_model_has_no_price() {
        let table = PriceTable::builtin();
        let tokens = Tokens {
            input: 10,
            ..Tokens::default()
        };
        assert_eq!(table.cost("<synthetic>", &tokens), None);
        assert_eq!(table.cost("gpt-5", &tokens), None);
    }

    #[test]
    fn cost_matches_hand_computation() {
        // Sonnet: 1M input at $3 + 1M output at $15 + 1M cache read at $0.30 + 1M write at $3.75.
        let t = Tokens {
            input: 1_000_000,
            output: 1_000_000,
            cache_read: 1_000_000,
            cache_creation: 1_000_000,
        };
        let cost = PriceTable::builtin().cost("claude-sonnet-4-5", &t).unwrap();
        assert!((cost - 22.05).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn empty_rule_is_rejected() {
        let text = r#"{"version":1,"rules":[{"family":"x","contains":[],"input":1,"output":1,"cache_write":1,"cache_read":1}]}"#;
        assert!(matches!(
            PriceTable::parse(text),
            Err(PriceTableError::EmptyRule { index: 0, .. })
        ));
    }
}
