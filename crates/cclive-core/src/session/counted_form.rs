//! How a stored ledger writes one counted response: a JSON array in field order, not an
//! object with named fields.
//!
//! `[model, [input, output, cache_read, cache_creation, …], cost, first_at, sidechain,
//! request_id, reported_cost]`, trailing defaults left out: the counts after the first four
//! when they are zero, then `reported_cost`, `request_id`, `sidechain` and `first_at` from the
//! end while they are unset.
//!
//! Why: a long session's ledger holds thousands of these, and a store reads and rewrites the
//! whole ledger whenever the session changes. The field names were nearly half of its bytes,
//! and an incremental import that touches a long session pays for every byte of its ledger
//! several times (decode, encode, the row write, the WAL and its checkpoint).
//!
//! Reading needs nothing here: serde's derived `Deserialize` reads a struct from an array by
//! position, filling a missing trailing field that has `#[serde(default)]`. So the object form
//! of earlier versions still reads, and what is written here reads in those versions.
//!
//! It owns only the text: it must never change what a response counts.

use serde::ser::{Serialize, SerializeSeq, Serializer};

use super::Counted;
use crate::usage::Tokens;

impl Serialize for Counted {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Every field named: a field added to `Counted` does not compile until it is written.
        let Counted {
            model,
            tokens,
            cost,
            first_at,
            sidechain,
            request_id,
            reported_cost,
        } = self;
        // Up to the last optional field that is set; the first three are always written
        // (they have no default, so a reader requires them).
        let optional = [
            first_at.is_some(),
            *sidechain,
            request_id.is_some(),
            reported_cost.is_some(),
        ];
        let written = optional.iter().rposition(|&set| set).map_or(0, |i| i + 1);
        let mut seq = serializer.serialize_seq(Some(3 + written))?;
        seq.serialize_element(model)?;
        seq.serialize_element(&TokenCounts(tokens))?;
        seq.serialize_element(cost)?;
        if written >= 1 {
            seq.serialize_element(first_at)?;
        }
        if written >= 2 {
            seq.serialize_element(sidechain)?;
        }
        if written >= 3 {
            seq.serialize_element(request_id)?;
        }
        if written >= 4 {
            seq.serialize_element(reported_cost)?;
        }
        seq.end()
    }
}

/// A response's tokens as an array in [`Tokens`]' field order ([`Tokens::counts`]), trailing
/// zeros after the first four left out (`Tokens`' derived `Deserialize` defaults them).
struct TokenCounts<'a>(&'a Tokens);

impl Serialize for TokenCounts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let counts = self.0.counts();
        let len = counts
            .iter()
            .rposition(|&n| n != 0)
            .map_or(0, |i| i + 1)
            .max(4);
        let mut seq = serializer.serialize_seq(Some(len))?;
        for n in &counts[..len] {
            seq.serialize_element(n)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use proptest::prelude::*;

    use super::*;

    fn sonnet(tokens: Tokens) -> Counted {
        Counted {
            model: Some("claude-sonnet-4-5".into()),
            tokens,
            cost: Some(0.061_216_8),
            first_at: Some("2026-08-12T16:27:42.439Z".parse().unwrap()),
            ..Counted::default()
        }
    }

    fn four(input: u64, output: u64, cache_read: u64, cache_creation: u64) -> Tokens {
        Tokens {
            input,
            output,
            cache_read,
            cache_creation,
            ..Tokens::default()
        }
    }

    #[test]
    fn a_response_is_written_as_an_array_without_its_trailing_defaults() {
        let c = sonnet(four(12, 1411, 81_786, 4128));
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"["claude-sonnet-4-5",[12,1411,81786,4128],0.0612168,"2026-08-12T16:27:42.439Z"]"#
        );
        // A later field set writes the unset ones before it; a late count, the zeros before it.
        let c = Counted {
            request_id: Some("req_1".into()),
            tokens: Tokens {
                web_search_requests: 2,
                ..four(1, 2, 3, 4)
            },
            ..sonnet(Tokens::default())
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"["claude-sonnet-4-5",[1,2,3,4,0,2],0.0612168,"2026-08-12T16:27:42.439Z",false,"req_1"]"#
        );
        assert_eq!(
            serde_json::to_string(&Counted::default()).unwrap(),
            "[null,[0,0,0,0],null]"
        );
    }

    #[test]
    fn a_response_stored_by_an_earlier_version_as_an_object_still_reads() {
        let stored = r#"{"model":"claude-sonnet-4-5","tokens":{"input":12,"output":1411,
            "cache_read":81786,"cache_creation":4128,"web_search_requests":1},"cost":0.0612168,
            "first_at":"2026-08-12T16:27:42.439Z","sidechain":true,"request_id":"req_1"}"#;
        let read: Counted = serde_json::from_str(stored).unwrap();
        let expected = Counted {
            tokens: Tokens {
                web_search_requests: 1,
                ..four(12, 1411, 81_786, 4128)
            },
            sidechain: true,
            request_id: Some("req_1".into()),
            ..sonnet(Tokens::default())
        };
        assert_eq!(read, expected);
        // And what is written now reads back the same, as text and through a `Value` (export).
        let text = serde_json::to_string(&read).unwrap();
        assert_eq!(serde_json::from_str::<Counted>(&text).unwrap(), expected);
        let value = serde_json::to_value(&read).unwrap();
        assert_eq!(serde_json::from_value::<Counted>(value).unwrap(), expected);
    }

    fn any_tokens() -> impl Strategy<Value = Tokens> {
        // Zeros often, so every trailing-zero length is tried.
        let count = || prop_oneof![Just(0u64), any::<u64>(), 0u64..5];
        (
            (count(), count(), count(), count()),
            (count(), count(), count(), count()),
        )
            .prop_map(|((a, b, c, d), (e, f, g, h))| Tokens {
                input: a,
                output: b,
                cache_read: c,
                cache_creation: d,
                cache_creation_1h: e,
                web_search_requests: f,
                fast_responses: g,
                us_only_responses: h,
            })
    }

    fn any_counted() -> impl Strategy<Value = Counted> {
        (
            proptest::option::of("[a-z0-9-]{0,12}"),
            any_tokens(),
            proptest::option::of(0.0f64..1e6),
            proptest::option::of((0i64..4_000_000_000_000, 0i32..1_000_000_000)),
            any::<bool>(),
            proptest::option::of("[a-zA-Z0-9_\"\\\\]{0,8}"),
            proptest::option::of(-1.0f64..1e3),
        )
            .prop_map(
                |(model, tokens, cost, first_at, sidechain, request_id, reported_cost)| Counted {
                    model,
                    tokens,
                    cost,
                    first_at: first_at.map(|(s, ns)| Timestamp::new(s / 1000, ns).unwrap()),
                    sidechain,
                    request_id,
                    reported_cost,
                },
            )
    }

    /// `x` as JSON reads it back. `serde_json` (without `float_roundtrip`) may read a float
    /// one unit in the last place off, in either form; this array form changes nothing there.
    fn as_read(x: Option<f64>) -> Option<f64> {
        serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap()
    }

    proptest! {
        #[test]
        fn any_response_reads_back_as_it_was_written(c in any_counted()) {
            let text = serde_json::to_string(&c).unwrap();
            prop_assert!(text.starts_with('['), "{text}");
            let back: Counted = serde_json::from_str(&text).unwrap();
            let expected = Counted {
                cost: as_read(c.cost),
                reported_cost: as_read(c.reported_cost),
                ..c
            };
            prop_assert_eq!(back, expected);
        }
    }
}
