use super::*;
use rstest::rstest;

#[test]
fn builtin_table_parses() {
    let table = PriceTable::parse(BUILTIN).expect("embedded prices.json must parse");
    assert!(table.models.len() >= 24);
    assert_eq!(table.claude_code_version.as_deref(), Some("2.1.332"));
}

#[rstest]
#[case("claude-opus-5-5", "claude-opus-5-5")]
#[case("claude-opus-5-5[1m]", "claude-opus-5-5")]
#[case("claude-opus-4-5-20251101", "claude-opus-4-5")]
#[case("claude-opus-4-1-20250805", "claude-opus-4-1")]
#[case("claude-opus-4-20250514", "claude-opus-4-0")]
#[case("claude-opus-4", "claude-opus-4-0")]
#[case("claude-sonnet-4-20250514", "claude-sonnet-4-0")]
#[case("claude-sonnet-4-6", "claude-sonnet-4-6")]
#[case("claude-haiku-4-5", "claude-haiku-4-5")]
#[case("claude-3-5-haiku-20241022", "claude-3-5-haiku")]
#[case("claude-3-5-haiku-latest", "claude-3-5-haiku")]
#[case("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5")]
#[case("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5")]
#[case("anthropic.claude-haiku-5-5", "claude-haiku-5-5")]
#[case("claude-sonnet-4-5@20250929", "claude-sonnet-4-5")]
#[case("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet")]
#[case(
    "projects/p/locations/us-east5/publishers/anthropic/models/claude-opus-5",
    "claude-opus-5"
)]
#[case("Claude-Fable-5-2", "claude-fable-5-2")]
#[case("claude-opus-5-5-fast", "claude-opus-5-5")]
fn ids_are_matched_as_claude_code_matches_them(#[case] model: &str, #[case] id: &str) {
    let table = PriceTable::builtin();
    assert_eq!(
        table.lookup(model).map(|p| p.id.as_str()),
        Some(id),
        "{model}"
    );
}

#[rstest]
#[case("<synthetic>")]
#[case("gpt-5")]
#[case("claude-opus-9")]
#[case("claude-opus-5-5-preview")]
#[case("claude-fake")]
fn unknown_models_have_no_price(#[case] model: &str) {
    let tokens = Tokens {
        input: 10,
        ..Tokens::default()
    };
    assert_eq!(PriceTable::builtin().cost(model, &tokens), None, "{model}");
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

#[test]
fn cost_matches_hand_computation() {
    // Sonnet 4.5: 1M input at $3 + 1M output at $15 + 1M cache read at $0.30 + 1M write at $3.75.
    let t = Tokens {
        input: 1_000_000,
        output: 1_000_000,
        cache_read: 1_000_000,
        cache_creation: 1_000_000,
        ..Tokens::default()
    };
    close(
        PriceTable::builtin().cost("claude-sonnet-4-5", &t).unwrap(),
        22.05,
    );
}

#[test]
fn one_hour_writes_web_searches_and_us_only_cost_as_in_claude_code() {
    let t = Tokens {
        input: 1_000_000,
        cache_creation: 3_000_000,
        cache_creation_1h: 1_000_000,
        web_search_requests: 3,
        ..Tokens::default()
    };
    let table = PriceTable::builtin();
    // Opus 5.5: $4 input, 1h write $8, 5m write $5.
    close(
        table.cost("claude-opus-5-5", &t).unwrap(),
        4.0 + 8.0 + 2.0 * 5.0 + 0.03,
    );
    let us = Tokens {
        us_only_responses: 1,
        ..t
    };
    close(
        table.cost("claude-opus-5-5", &us).unwrap(),
        22.0 * 1.1 + 0.03,
    );
}

#[test]
fn long_prompts_and_fast_mode_use_their_rates() {
    let table = PriceTable::builtin();
    let at = |input| Tokens {
        input,
        output: 1_000_000,
        ..Tokens::default()
    };
    // Haiku 5.5: $0.1 / $0.5, above 100,000 prompt tokens $0.5 / $2.5.
    close(
        table.cost("claude-haiku-5-5", &at(100_000)).unwrap(),
        0.01 + 0.5,
    );
    close(
        table.cost("claude-haiku-5-5", &at(100_001)).unwrap(),
        0.050_000_5 + 2.5,
    );
    let fast = Tokens {
        fast_responses: 1,
        ..at(1_000_000)
    };
    close(table.cost("claude-opus-5-5", &fast).unwrap(), 8.0 + 40.0);
    // A model without fast rates prices a fast response at its standard rates.
    close(table.cost("claude-haiku-4-5", &fast).unwrap(), 1.0 + 5.0);
}

#[test]
fn legacy_rule_files_still_parse_and_match_by_contains() {
    let text = r#"{"version":1,"rules":[{"family":"x","contains":["opus"],"input":1,"output":2,"cache_write":3,"cache_read":4}]}"#;
    let table = PriceTable::parse(text).unwrap();
    let t = Tokens {
        cache_creation: 1_000_000,
        cache_creation_1h: 1_000_000,
        ..Tokens::default()
    };
    // No 1-hour rate: 1-hour writes cost the 5-minute rate.
    close(table.cost("claude-opus-5-5", &t).unwrap(), 3.0);
    assert_eq!(table.cost("claude-sonnet-5", &t), None);
}

#[test]
fn empty_rule_is_rejected() {
    let text = r#"{"version":1,"rules":[{"family":"x","contains":[],"input":1,"output":1,"cache_write":1,"cache_read":1}]}"#;
    assert!(matches!(
        PriceTable::parse(text),
        Err(PriceTableError::EmptyRule { index: 0, .. })
    ));
}

#[test]
fn missing_models_are_listed() {
    let builtin = PriceTable::builtin();
    let mut old = builtin.clone();
    old.models.retain(|m| m.id != "claude-haiku-5-5");
    assert_eq!(old.missing_from(&builtin), vec!["claude-haiku-5-5"]);
    assert!(builtin.missing_from(&old).is_empty());
}

/// A response's price class as the team server groups by it: fast, US-only, the largest
/// long-prompt threshold its prompt exceeds.
fn class(thresholds: &[u64], t: &Tokens) -> (bool, bool, Option<u64>) {
    let prompt = prompt_size(t);
    (
        t.fast_responses > 0,
        t.us_only_responses > 0,
        thresholds.iter().copied().filter(|&x| prompt > x).max(),
    )
}

proptest::proptest! {
    /// Summing the responses of one price class first and pricing the sum costs what pricing
    /// each response and summing the costs does (the team server prices sums this way).
    #[test]
    fn a_sum_within_one_price_class_costs_the_sum_of_its_responses(
        model in proptest::sample::select(vec!["claude-haiku-5-5", "claude-opus-5-5",
            "claude-sonnet-4-5", "claude-haiku-4-5"]),
        responses in proptest::collection::vec(
            (0u64..300_000, 0u64..50_000, 0u64..200_000, 0u64..60_000, 0u64..60_000, 0u64..3,
             proptest::bool::ANY, proptest::bool::ANY),
            1..30,
        ),
    ) {
        let table = PriceTable::builtin();
        let thresholds = table.prompt_thresholds();
        let mut groups: std::collections::BTreeMap<_, (Tokens, f64)> =
            std::collections::BTreeMap::new();
        for (input, output, cache_read, cache_creation, one_hour, searches, fast, us) in responses {
            let t = Tokens {
                input,
                output,
                cache_read,
                cache_creation,
                cache_creation_1h: one_hour.min(cache_creation),
                web_search_requests: searches,
                fast_responses: u64::from(fast),
                us_only_responses: u64::from(us),
            };
            let g = groups.entry(class(&thresholds, &t)).or_default();
            g.0.add(&t);
            g.1 += table.cost(model, &t).unwrap();
        }
        for ((_, _, above), (sum, cost)) in groups {
            let priced = table.cost_of_sum(model, &sum, above).unwrap();
            proptest::prop_assert!((priced - cost).abs() <= 1e-9 * cost.max(1.0), "{priced} {cost}");
        }
    }
}

#[test]
fn the_thresholds_are_each_long_prompt_tier_once_ascending() {
    let thresholds = PriceTable::builtin().prompt_thresholds();
    assert!(!thresholds.is_empty());
    assert!(thresholds.windows(2).all(|w| w[0] < w[1]), "{thresholds:?}");
    assert!(
        thresholds.contains(&100_000),
        "Haiku 5.5's tier: {thresholds:?}"
    );
}
