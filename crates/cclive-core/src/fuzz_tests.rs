//! Every parser of outside input under arbitrary bytes and JSON-shaped garbage (property tests;
//! `cargo fuzz` needs a nightly toolchain this project does not use): none panics, and whatever
//! they accept folds through the [`Monitor`] without panicking or wrapping a sum. A crash input
//! found here is kept below as a named regression case.

use proptest::prelude::*;

use crate::event::Event;
use crate::ids::SessionId;
use crate::monitor::Monitor;
use crate::{hook, otel, registry, statusline, stream_json, transcript};

/// JSON-shaped text: objects with the field names the parsers look at, values of every type
/// (huge, negative and fractional numbers, lone surrogates, nesting).
fn json_like() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("type"),
        Just("subtype"),
        Just("sessionId"),
        Just("session_id"),
        Just("message"),
        Just("usage"),
        Just("input_tokens"),
        Just("output_tokens"),
        Just("cache_read_input_tokens"),
        Just("modelUsage"),
        Just("content"),
        Just("hook_event_name"),
        Just("cost"),
        Just("total_cost_usd"),
        Just("pid"),
        Just("id"),
        Just("model"),
        Just("timestamp"),
    ];
    let scalar = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("-1".to_owned()),
        Just("1.5".to_owned()),
        Just("1e308".to_owned()),
        Just(r#""\udce9""#.to_owned()),
        Just(r#""assistant""#.to_owned()),
        Just(r#""user""#.to_owned()),
        Just(r#""result""#.to_owned()),
        Just(r#""cost-state""#.to_owned()),
        Just(r#""SessionStart""#.to_owned()),
        Just(r#""s1""#.to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z0-9 ]{0,8}".prop_map(|s| format!("\"{s}\"")),
    ];
    scalar.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|fields| {
                let body: Vec<String> = fields
                    .into_iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

/// Runs every parser over `bytes` and folds what they accept.
fn parse_everything(bytes: &[u8]) {
    let at = "2026-11-25T10:00:00Z".parse().unwrap_or_default();
    let mut monitor = Monitor::default();
    let mut fold = |session: SessionId, kind| {
        monitor.apply(&Event::new(session, at, kind));
    };
    if let Ok(Some(record)) = transcript::parse_line(bytes) {
        for (session, _, kind) in transcript::to_events(&record) {
            fold(session, kind);
        }
    }
    if let Ok(Some(record)) = stream_json::parse_line(bytes) {
        for kind in stream_json::to_events(&record) {
            fold(SessionId::new("s"), kind);
        }
    }
    if let Ok(payload) = hook::parse_payload(bytes) {
        for kind in hook::to_events(&payload) {
            fold(payload.session_id.clone(), kind);
        }
    }
    let _ = statusline::parse_payload(bytes);
    let _ = registry::parse_entry(bytes);
    for encoding in [otel::Encoding::Json, otel::Encoding::Protobuf] {
        let sender = || otel::Sender {
            remote_host: None,
            received_at: at,
        };
        if let Ok(logs) = otel::decode_logs(bytes, encoding) {
            let mut announced = otel::Announced::default();
            for event in otel::log_events(&logs, sender(), &mut announced).events {
                monitor.apply(&event);
            }
        }
        if let Ok(metrics) = otel::decode_metrics(bytes, encoding) {
            let mut announced = otel::Announced::default();
            for event in otel::metric_events(&metrics, sender(), &mut announced).events {
                monitor.apply(&event);
            }
        }
    }
    for session in monitor.sessions() {
        assert!(
            session.tokens.total() <= 4 * crate::usage::MAX_SESSION_TOKENS,
            "an unbelievable sum was counted"
        );
        // A number, or unknown (NaN, `null` in JSON) when nothing of it could be priced.
        assert!(
            session.total_cost_usd.is_finite()
                || (session.total_cost_usd.is_nan() && !session.unpriced_models.is_empty())
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_parser_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        parse_everything(&bytes);
    }

    #[test]
    fn no_parser_panics_on_json_shaped_garbage(text in json_like()) {
        parse_everything(text.as_bytes());
    }

    /// Lines long enough to be pruned before they are parsed (`transcript/prune.rs`), whole,
    /// with one byte changed, and cut short.
    #[test]
    fn no_parser_panics_on_long_json_shaped_garbage(
        text in json_like(),
        escapes in 1100..3000usize,
        flip in any::<(prop::sample::Index, u8)>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let line = format!(r#"{{"toolUseResult":"{}","x":{text},"type":"user"}}"#,
            "\\\"{[".repeat(escapes / 4));
        parse_everything(line.as_bytes());
        let mut bytes = line.into_bytes();
        let at = flip.0.index(bytes.len());
        bytes[at] = flip.1;
        parse_everything(&bytes);
        parse_everything(&bytes[..cut.index(bytes.len())]);
    }
}

/// Inputs that once broke a parser or a sum, kept as regressions.
#[test]
fn kept_crash_inputs() {
    for input in [
        // Issue 12: a usage that wrapped every sum.
        r#"{"type":"assistant","sessionId":"s","message":{"id":"m","usage":{"output_tokens":18446744073709551615}}}"#,
        // Issue 12: a lone surrogate lost the whole line.
        r#"{"type":"assistant","sessionId":"s","message":{"id":"m","content":"\udce9","usage":{"output_tokens":1}}}"#,
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"event.name","value":{"stringValue":"api_request"}},{"key":"session.id","value":{"stringValue":"s"}},{"key":"output_tokens","value":{"doubleValue":1e308}}]}]}]}]}"#,
    ] {
        parse_everything(input.as_bytes());
    }
}
