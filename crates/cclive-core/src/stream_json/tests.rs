//! The stream-json parser over hand-made lines of every type, and over trimmed real captures.

use super::*;
use crate::event::EventKind;
use crate::ids::SessionId;
use crate::monitor::Monitor;
use crate::session::{CostSource, Status};
use crate::{Event, Mode};

fn parse(line: &str) -> StreamRecord {
    parse_line(line.as_bytes())
        .expect("parses")
        .expect("not blank")
}

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/stream-json/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn init_line() {
    let r = parse(
        r#"{"type":"system","subtype":"init","cwd":"/w","session_id":"s1","model":"claude-opus-5-5","claude_code_version":"2.1.332","tools":["Bash"],"new_field":{"x":1}}"#,
    );
    assert_eq!(
        r,
        StreamRecord::Init(Init {
            session_id: "s1".into(),
            model: Some("claude-opus-5-5".into()),
            cwd: Some("/w".into()),
            claude_version: Some("2.1.332".into()),
        })
    );
}

#[test]
fn assistant_line_with_opening_usage_is_not_final() {
    let r = parse(
        r#"{"type":"assistant","message":{"id":"msg_1","model":"claude-opus-5-5","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"echo hi"}}],"stop_reason":null,"usage":{"input_tokens":1200,"output_tokens":1,"cache_creation_input_tokens":300,"cache_read_input_tokens":5000}},"parent_tool_use_id":null,"session_id":"s1"}"#,
    );
    let events = to_events(&r);
    assert_eq!(events.len(), 2);
    assert!(
        matches!(&events[0], EventKind::Usage { key, is_final: false, tokens, .. } if key == "msg_1" && tokens.output == 1)
    );
    assert!(
        matches!(&events[1], EventKind::ToolUse { name, sidechain: false, .. } if name == "Bash")
    );
}

#[test]
fn synthetic_error_message_has_no_usage() {
    let r = parse(
        r#"{"type":"assistant","message":{"id":"x","model":"<synthetic>","content":[{"type":"text","text":"API Error: 500"}],"usage":{"input_tokens":0,"output_tokens":0}},"error":"unknown","is_api_error_message":true,"session_id":"s"}"#,
    );
    assert!(to_events(&r).is_empty());
}

#[test]
fn user_line_with_tool_results() {
    let r = parse(
        r#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_1","type":"tool_result","content":"hi","is_error":false},{"tool_use_id":"toolu_2","type":"tool_result","content":"boom","is_error":true}]},"parent_tool_use_id":null}"#,
    );
    let events = to_events(&r);
    assert_eq!(events.len(), 2);
    assert!(matches!(
        &events[1],
        EventKind::ToolResult { is_error: true, .. }
    ));
}

#[test]
fn sub_agent_prompt_is_not_a_turn() {
    let r = parse(
        r#"{"type":"user","message":{"role":"user","content":[{"type":"text","text":"do the sub task"}]},"parent_tool_use_id":"toolu_9"}"#,
    );
    assert!(to_events(&r).is_empty());
}

#[test]
fn result_line_error_says_success_but_is_error() {
    let r = parse(
        r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 500 Internal server error","total_cost_usd":0,"num_turns":1,"duration_ms":1967,"duration_api_ms":0,"modelUsage":{},"api_error_status":500,"terminal_reason":"api_error"}"#,
    );
    let events = to_events(&r);
    match &events[0] {
        EventKind::Result {
            is_error,
            error,
            tokens,
            total_cost_usd,
            ..
        } => {
            assert!(*is_error);
            assert_eq!(
                error.as_deref(),
                Some("API Error: 500 Internal server error")
            );
            assert_eq!(*tokens, None, "empty modelUsage is no token total");
            assert_eq!(*total_cost_usd, Some(0.0));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn api_retry_and_status_lines() {
    let r = parse(
        r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":2,"retry_delay_ms":520,"error_status":529,"error":"overloaded"}"#,
    );
    assert_eq!(
        r,
        StreamRecord::ApiRetry {
            attempt: 1,
            error_status: Some(529),
            error: Some("overloaded".into()),
            retry_delay_ms: Some(520),
        }
    );
    let r = parse(r#"{"type":"system","subtype":"status","status":"requesting"}"#);
    assert_eq!(
        to_events(&r),
        vec![EventKind::ApiRequest { message_id: None }]
    );
}

#[test]
fn stream_events_carry_live_usage() {
    let start = parse(
        r#"{"type":"stream_event","event":{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":10,"output_tokens":1}}},"api_message_id":"msg_1"}"#,
    );
    let delta = parse(
        r#"{"type":"stream_event","event":{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}},"api_message_id":"msg_1"}"#,
    );
    let text = parse(
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}},"api_message_id":"msg_1"}"#,
    );
    assert!(
        matches!(&text, StreamRecord::StreamEvent(StreamEvent { event: SseEvent::TextDelta(t), .. }) if t == "Hel")
    );
    assert_eq!(to_events(&start).len(), 2);
    assert!(
        matches!(&to_events(&delta)[0], EventKind::Usage { tokens, is_final: true, .. } if tokens.output == 42)
    );
    // Every delta of output the model writes grows the response's live output.
    let thinking = parse(
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm…"}},"api_message_id":"msg_1"}"#,
    );
    let tool_input = parse(
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"command\": \"ls"}},"api_message_id":"msg_1"}"#,
    );
    let grown = |r: &StreamRecord| match to_events(r).as_slice() {
        [EventKind::OutputStreamed { message_id, chars }] if message_id == "msg_1" => *chars,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (grown(&text), grown(&thinking), grown(&tool_input)),
        (3, 4, 15),
        "characters, not bytes"
    );
    assert!(
        EventKind::OutputStreamed {
            message_id: "m".into(),
            chars: 1
        }
        .is_transient()
    );
}

#[test]
fn unknown_types_are_kept_with_their_raw_json() {
    let r = parse(r#"{"type":"system","subtype":"thinking_tokens","estimated_tokens":5}"#);
    assert!(
        matches!(&r, StreamRecord::Unknown { kind, raw } if kind == "system/thinking_tokens" && raw["estimated_tokens"] == 5)
    );
    let r = parse(r#"{"type":"teleport_notice","x":[1,2]}"#);
    assert_eq!(
        to_events(&r),
        vec![EventKind::UnknownRecord {
            record_type: "teleport_notice".into()
        }]
    );
}

#[test]
fn garbage_truncated_and_typeless_lines_are_errors_not_panics() {
    assert!(matches!(
        parse_line(b"not json at all"),
        Err(ParseError::Json(_))
    ));
    assert!(matches!(
        parse_line(br#"{"type":"assistant","message":{"id":"#),
        Err(ParseError::Json(_))
    ));
    assert!(matches!(parse_line(b"[1,2,3]"), Err(ParseError::NoType)));
    assert!(matches!(
        parse_line(br#"{"type":7}"#),
        Err(ParseError::NoType)
    ));
    assert!(matches!(parse_line(b"\xff\xfe{"), Err(ParseError::Json(_))));
    assert_eq!(parse_line(b"   "), Ok(None));
}

#[test]
fn error_messages_do_not_echo_content() {
    let err = parse_line(b"{\"secret\": \"sk-ant-abc\"")
        .unwrap_err()
        .to_string();
    assert!(!err.contains("sk-ant"), "{err}");
}

/// Replays a whole capture through the monitor, as `cclive run` does.
fn replay(name: &str) -> crate::SessionState {
    let id = SessionId::new("s");
    let t0: jiff::Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
    let mut m = Monitor::default();
    m.apply(&Event::new(
        id.clone(),
        t0,
        EventKind::SessionStarted {
            mode: Mode::Print,
            command: None,
            cwd: None,
            project_path: None,
            session_type: None,
            source: "test".into(),
        },
    ));
    m.apply(&Event::new(
        id.clone(),
        t0,
        EventKind::PromptSubmitted {
            id: None,
            preview: None,
        },
    ));
    for (i, line) in fixture(name).lines().enumerate() {
        let at = t0 + jiff::SignedDuration::from_millis(i64::try_from(i).unwrap() * 10);
        let record = parse_line(line.as_bytes()).unwrap().unwrap();
        for kind in to_events(&record) {
            m.apply(&Event::new(id.clone(), at, kind));
        }
    }
    m.session(&id).unwrap().clone()
}

#[test]
fn capture_tools_2_1_ends_with_reported_totals() {
    let s = replay("tools-2.1.332");
    assert_eq!(s.status, Status::Completed);
    assert_eq!(s.total_cost_usd, 0.01628);
    assert_eq!(s.cost_source, CostSource::Reported);
    assert_eq!(s.num_turns, 2);
    assert_eq!(s.tokens.input, 2400);
    assert_eq!(s.tokens.output, 84);
    assert_eq!(s.tokens.cache_read, 10000);
    assert_eq!(s.tokens.cache_creation, 600);
    assert_eq!(s.tool_calls.get("Bash"), Some(&1));
    assert_eq!(s.duration_ms, 353);
    assert_eq!(s.model.as_deref(), Some("claude-opus-5-5"));
}

#[test]
fn capture_slow_with_partial_messages_counts_output_live() {
    let lines = fixture("slow-partial-2.1.332");
    // Everything before the result line: the live estimate must already have the final output.
    let id = SessionId::new("s");
    let t0: jiff::Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
    let mut m = Monitor::default();
    for line in lines.lines().filter(|l| !l.contains(r#""type":"result""#)) {
        for kind in to_events(&parse_line(line.as_bytes()).unwrap().unwrap()) {
            m.apply(&Event::new(id.clone(), t0, kind));
        }
    }
    let s = m.session(&id).unwrap();
    assert_eq!(s.status, Status::Active);
    assert_eq!(
        s.tokens.output, 84,
        "2 responses × 42 output tokens, each counted once"
    );
    assert_eq!(s.tokens.input, 2400);
    assert_eq!(s.cost_source, CostSource::Estimated);
    assert!(s.total_cost_usd > 0.0);
}

#[test]
fn capture_multi_block_counts_each_response_once() {
    let s = replay("multi-block-2.1.332");
    assert_eq!(s.num_turns, 3);
    assert_eq!(s.tool_calls.get("Bash"), Some(&2));
    assert_eq!(
        s.api_requests, 2,
        "3 + 2 assistant lines are 2 API responses"
    );
}

#[test]
fn capture_task_attributes_sub_agent_tools() {
    let s = replay("task-2.1.332");
    assert_eq!(s.status, Status::Completed);
    assert_eq!(s.num_turns, 2);
    assert_eq!(s.tool_calls.get("Agent"), Some(&1));
    assert_eq!(s.tool_calls.get("Bash"), Some(&1));
    assert_eq!(s.total_cost_usd, 0.03256);
}

#[test]
fn capture_error500_ends_failed_with_the_error_text() {
    let s = replay("error500-2.1.332");
    assert_eq!(s.status, Status::Failed);
    assert_eq!(s.api_retries, 2);
    assert!(
        s.error.as_deref().unwrap().starts_with("API Error: 500"),
        "{:?}",
        s.error
    );
    assert_eq!(s.total_cost_usd, 0.0);
    assert_eq!(s.cost_source, CostSource::Reported);
}

#[test]
fn capture_1_0_uses_live_tokens_when_there_is_no_model_usage() {
    let s = replay("tools-1.0.100");
    assert_eq!(s.status, Status::Completed);
    assert_eq!(s.total_cost_usd, 0.070_378);
    assert_eq!(s.num_turns, 3, "Claude Code's own count wins");
    // 1.0.x `result.usage` is the last call only; the deduped live sum covers both calls.
    assert_eq!(s.tokens.output, 84);
    assert_eq!(s.tokens.input, 2400);
}

#[test]
fn an_unbelievable_token_field_makes_a_stream_line_bad_input() {
    for output in ["18446744073709551615", "1.5", "-3", "1e308"] {
        let line = format!(
            r#"{{"type":"assistant","session_id":"s","message":{{"id":"msg_1","usage":{{"output_tokens":{output}}}}}}}"#
        );
        assert!(
            matches!(parse_line(line.as_bytes()), Err(ParseError::BadUsage(_))),
            "{output}"
        );
    }
}

#[test]
fn a_stream_line_with_a_lone_surrogate_escape_is_read_lossily() {
    let line = br#"{"type":"assistant","session_id":"s","message":{"id":"msg_1","content":[{"type":"text","text":"\udce9"}],"usage":{"output_tokens":5}}}"#;
    let Ok(Some(StreamRecord::Assistant(a))) = parse_line(line) else {
        panic!("read lossily");
    };
    assert_eq!(a.usage.map(|u| u.output), Some(5));
}
