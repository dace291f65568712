//! The transcript parser over hand-made lines, over fixtures trimmed from real 2.1.332 and
//! 1.0.100 transcripts, folded through the [`Monitor`], and under property tests.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use proptest::prelude::*;
use rstest::rstest;

use super::*;
use crate::event::{Event, PROMPT_PREVIEW_CHARS};
use crate::monitor::Monitor;
use crate::pricing::PriceTable;
use crate::session::{CostSource, SessionState, Status};

const SID_2_1: &str = "7722e4d6-6225-48d6-899d-c1ae5948e72b";
const SID_1_0: &str = "adac10f3-9b43-4c6f-8bef-2f0cea0f7801";

fn fixture(path: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/transcript/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn main_2_1() -> String {
    fixture(&format!("2.1.332/{SID_2_1}.jsonl"))
}

fn sub_agent_2_1() -> String {
    fixture(&format!(
        "2.1.332/{SID_2_1}/subagents/agent-af348f185e780573c.jsonl"
    ))
}

fn main_1_0() -> String {
    fixture(&format!("1.0.100/{SID_1_0}.jsonl"))
}

/// Line `n` (1-based) of a fixture.
fn line(text: &str, n: usize) -> &str {
    text.lines().nth(n - 1).expect("the fixture has that line")
}

fn parse(line: &str) -> TranscriptRecord {
    parse_line(line.as_bytes())
        .expect("parses")
        .expect("not skipped")
}

fn kinds_of(line: &str) -> Vec<EventKind> {
    to_events(&parse(line))
        .into_iter()
        .map(|(_, _, kind)| kind)
        .collect()
}

fn usage(input: u64, output: u64, cache_read: u64, cache_creation: u64) -> Tokens {
    Tokens {
        input,
        output,
        cache_read,
        cache_creation,
        ..Tokens::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Skipping.

#[test]
fn blank_and_skipped_lines_give_nothing() {
    for blank in ["", "   ", "\t\r"] {
        assert_eq!(parse_line(blank.as_bytes()), Ok(None));
    }
    let text = main_2_1();
    let mut skipped_types = HashSet::new();
    for l in text.lines().chain(sub_agent_2_1().lines()) {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(l) else {
            continue;
        };
        let Some(kind) = value.get("type").and_then(serde_json::Value::as_str) else {
            continue;
        };
        if SKIPPED_TYPES.contains(&kind) {
            skipped_types.insert(kind.to_owned());
            assert_eq!(prefilter(l.as_bytes()), Prefilter::Skip, "{kind}");
            assert_eq!(parse_line(l.as_bytes()), Ok(None), "{kind}");
            assert_eq!(
                parse_full(l.as_bytes()),
                Ok(None),
                "{kind} without the prefilter"
            );
        }
    }
    let expected: HashSet<String> = [
        "queue-operation",
        "attachment",
        "atis-latch",
        "api-request-shape",
        "api-request-blob",
        "api-request",
        "tools-used",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(skipped_types, expected);
}

#[rstest]
#[case::first_key(r#"{"type":"attachment","x":1}"#, Prefilter::Skip)]
#[case::after_a_nested_object(
    r#"{"parentUuid":null,"attachment":{"type":"user","message":{"type":"assistant"}},"type":"attachment"}"#,
    Prefilter::Skip
)]
#[case::with_whitespace(
    "  { \"type\" :\t\"api-request-blob\" , \"message\":{} }",
    Prefilter::Skip
)]
#[case::after_an_escaped_backslash(r#"{"a":"\\","type":"mode"}"#, Prefilter::Skip)]
#[case::after_arrays_and_scalars(
    r#"{"a":[1,{"type":"user"},[]],"b":true,"c":null,"d":-1.5e3,"type":"tools-used"}"#,
    Prefilter::Skip
)]
#[case::truncated_skip_line(r#"{"type":"api-request-blob","message":{"role"#, Prefilter::Skip)]
#[case::a_1_0_line_with_message_first(
    r#"{"parentUuid":null,"message":{"type":"message","content":[{"type":"attachment"}]},"type":"assistant"}"#,
    Prefilter::Parse
)]
#[case::nested_skip_type_before_the_real_one(
    r#"{"toolUseResult":{"type":"attachment"},"type":"user"}"#,
    Prefilter::Parse
)]
#[case::skip_type_inside_a_string(
    r#"{"content":"\"type\":\"attachment\"","type":"user"}"#,
    Prefilter::Parse
)]
#[case::escaped_key(r#"{"typ\u0065":"user","x":{"type":"attachment"}}"#, Prefilter::Parse)]
#[case::escaped_value(r#"{"type":"mod\u0065"}"#, Prefilter::Parse)]
#[case::conversation_type(r#"{"type":"user","message":{}}"#, Prefilter::Parse)]
#[case::not_an_object("[1,2,3]", Prefilter::Parse)]
#[case::garbage("not json at all", Prefilter::Parse)]
#[case::empty_object("{}", Prefilter::Parse)]
#[case::unterminated_string(r#"{"a":"\"#, Prefilter::Parse)]
fn prefilter_looks_at_the_top_level_type_only(#[case] line: &str, #[case] expected: Prefilter) {
    assert_eq!(prefilter(line.as_bytes()), expected);
}

// ---------------------------------------------------------------------------------------------
// Assistant lines.

#[test]
fn a_multi_block_2_1_message_reports_growing_usage_under_one_key() {
    let text = main_2_1();
    let blocks: Vec<TranscriptRecord> = [11, 12, 14]
        .iter()
        .map(|n| parse(line(&text, *n)))
        .collect();
    let mut outputs = Vec::new();
    for record in &blocks {
        let TranscriptRecord::Assistant(a) = record else {
            panic!("{record:?}");
        };
        assert_eq!(
            a.message_id.as_deref(),
            Some("msg_fake_a835f01b743d4283a4d1")
        );
        assert_eq!(
            a.request_id.as_deref(),
            Some("req_fake_7f2ff21f4c9448cf8049")
        );
        assert_eq!(a.model.as_deref(), Some("claude-opus-5-5"));
        assert_eq!(a.entrypoint.as_deref(), Some("sdk-cli"));
        assert_eq!(a.version.as_deref(), Some("2.1.332"));
        assert!(!a.is_sidechain && !a.is_synthetic);
        outputs.push(a.usage.map(|u| u.output));
    }
    assert_eq!(outputs, [Some(10), Some(20), Some(42)]);

    let events: Vec<EventKind> = blocks
        .iter()
        .flat_map(to_events)
        .map(|(sid, at, kind)| {
            assert_eq!(sid.as_str(), SID_2_1);
            assert!(at.is_some());
            kind
        })
        .collect();
    assert_eq!(
        events,
        vec![
            EventKind::Usage {
                key: "msg_fake_a835f01b743d4283a4d1".into(),
                request_id: Some("req_fake_7f2ff21f4c9448cf8049".into()),
                reported_cost_usd: None,
                model: Some("claude-opus-5-5".into()),
                tokens: usage(1200, 10, 5000, 300),
                is_final: false,
                sidechain: false,
            },
            EventKind::Usage {
                key: "msg_fake_a835f01b743d4283a4d1".into(),
                request_id: Some("req_fake_7f2ff21f4c9448cf8049".into()),
                reported_cost_usd: None,
                model: Some("claude-opus-5-5".into()),
                tokens: usage(1200, 20, 5000, 300),
                is_final: false,
                sidechain: false,
            },
            EventKind::ToolUse {
                tool_use_id: "toolu_fake_6887bc4ffab64f5694b7".into(),
                name: "Bash".into(),
                sidechain: false,
            },
            EventKind::Usage {
                key: "msg_fake_a835f01b743d4283a4d1".into(),
                request_id: Some("req_fake_7f2ff21f4c9448cf8049".into()),
                reported_cost_usd: None,
                model: Some("claude-opus-5-5".into()),
                tokens: usage(1200, 42, 5000, 300),
                is_final: true,
                sidechain: false,
            },
            EventKind::ToolUse {
                tool_use_id: "toolu_fake_722a60b728eb446ebb8a".into(),
                name: "Bash".into(),
                sidechain: false,
            },
        ]
    );
}

#[test]
fn a_1_0_message_puts_type_after_the_message_and_opening_usage_on_early_blocks() {
    let text = main_1_0();
    let thinking = parse(line(&text, 3));
    let TranscriptRecord::Assistant(a) = &thinking else {
        panic!("{thinking:?}");
    };
    assert_eq!(a.usage.map(|u| u.output), Some(1));
    assert_eq!(a.stop_reason, None);
    assert_eq!(a.entrypoint, None);
    assert!(a.tool_uses.is_empty());
    let task = parse(line(&text, 4));
    let TranscriptRecord::Assistant(a) = &task else {
        panic!("{task:?}");
    };
    assert_eq!(a.usage.map(|u| u.output), Some(42));
    assert_eq!(
        a.request_id.as_deref(),
        Some("req_fake_23eef13679cf480fb56f")
    );
    assert_eq!(
        a.tool_uses,
        vec![(
            "toolu_fake_32c0e62eefe049faa9ce".to_owned(),
            "Task".to_owned()
        )]
    );
    // Older 1.0.x releases wrote a per-line cost; it is kept, not counted.
    let TranscriptRecord::Assistant(a) = parse(line(&text, 12)) else {
        panic!();
    };
    assert_eq!(a.cost_usd, Some(0.0272));
}

#[test]
fn inline_1_0_sidechain_lines_are_sub_agent_events() {
    let text = main_1_0();
    let events = kinds_of(line(&text, 6));
    assert!(matches!(
        &events[0],
        EventKind::Usage { sidechain: true, model: Some(m), .. } if m == "claude-sonnet-4-20250514"
    ));
    assert!(matches!(
        &events[1],
        EventKind::ToolUse {
            sidechain: true,
            ..
        }
    ));
}

#[test]
fn sub_agent_file_lines_go_to_the_parent_session() {
    let text = sub_agent_2_1();
    let mut seen = 0;
    for l in text.lines() {
        let Some(record) = parse_line(l.as_bytes()).unwrap() else {
            continue;
        };
        seen += 1;
        assert_eq!(record.session_id().map(SessionId::as_str), Some(SID_2_1));
        for (sid, _, kind) in to_events(&record) {
            assert_eq!(sid.as_str(), SID_2_1);
            match kind {
                EventKind::Usage { sidechain, .. }
                | EventKind::ToolUse { sidechain, .. }
                | EventKind::ToolResult { sidechain, .. } => assert!(sidechain),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(seen, 4, "prompt, two assistant lines, one tool result");
    let TranscriptRecord::Assistant(a) = parse(line(&text, 10)) else {
        panic!();
    };
    assert_eq!(a.agent_id.as_deref(), Some("af348f185e780573c"));
}

#[test]
fn synthetic_error_messages_have_no_usage() {
    let text = main_2_1();
    let record = parse(line(&text, 19));
    let TranscriptRecord::Assistant(a) = &record else {
        panic!("{record:?}");
    };
    assert!(a.is_synthetic);
    assert_eq!(a.model.as_deref(), Some("<synthetic>"));
    assert!(to_events(&record).is_empty());
    // The model alone marks it too.
    let bare = r#"{"type":"assistant","sessionId":"s","message":{"id":"m","model":"<synthetic>","usage":{"input_tokens":3}}}"#;
    assert!(kinds_of(bare).is_empty());
}

// ---------------------------------------------------------------------------------------------
// User lines.

#[test]
fn a_2_1_prompt_counts_under_its_prompt_id() {
    let text = main_2_1();
    let record = parse(line(&text, 3));
    let TranscriptRecord::UserPrompt(p) = &record else {
        panic!("{record:?}");
    };
    assert_eq!(p.text_preview, "Please do the task.");
    assert_eq!(
        p.prompt_id.as_deref(),
        Some("a4b683a5-5a33-40a2-a3c1-07c4bb52c590")
    );
    assert_eq!(p.entrypoint.as_deref(), Some("sdk-cli"));
    assert_eq!(p.cwd.as_deref(), Some("/home/dev/cap/task/work"));
    assert_eq!(
        to_events(&record),
        vec![(
            SessionId::new(SID_2_1),
            Some("2026-11-25T12:58:44.100Z".parse().unwrap()),
            EventKind::PromptSubmitted {
                // The hooks' `prompt_id` is the same id: a prompt seen by both counts once.
                id: Some("a4b683a5-5a33-40a2-a3c1-07c4bb52c590".into()),
                preview: Some("Please do the task.".into()),
            }
        )]
    );
}

#[test]
fn a_1_0_prompt_counts_under_its_uuid() {
    let text = main_1_0();
    assert_eq!(
        kinds_of(line(&text, 2)),
        vec![EventKind::PromptSubmitted {
            id: Some("3003b779-8d0f-43a7-8fa4-ace5b8daed24".into()),
            preview: Some("Please do the task.".into()),
        }]
    );
}

#[test]
fn a_sub_agent_task_prompt_is_no_turn() {
    for (text, n) in [(sub_agent_2_1(), 1), (main_1_0(), 5)] {
        let record = parse(line(&text, n));
        assert!(
            matches!(&record, TranscriptRecord::UserPrompt(p) if p.is_sidechain),
            "{record:?}"
        );
        assert!(to_events(&record).is_empty());
    }
}

#[rstest]
#[case::caveat_2_1(main_2_1(), 24)]
#[case::slash_command(main_2_1(), 25)]
#[case::compact_summary(main_2_1(), 26)]
#[case::caveat_1_0(main_1_0(), 14)]
#[case::exit_1_0(main_1_0(), 15)]
#[case::local_command_stdout_1_0(main_1_0(), 16)]
fn slash_commands_and_compaction_are_not_prompts(#[case] text: String, #[case] n: usize) {
    let record = parse(line(&text, n));
    assert!(
        matches!(&record, TranscriptRecord::Other(o) if o.kind == "user/meta"),
        "{record:?}"
    );
    assert!(to_events(&record).is_empty());
}

#[test]
fn interrupt_markers_and_bash_mode_are_not_prompts() {
    for content in [
        r#""[Request interrupted by user]""#,
        r#"[{"type":"text","text":"[Request interrupted by user for tool use]"}]"#,
        r#""<bash-input>ls</bash-input>""#,
    ] {
        let l = format!(r#"{{"type":"user","sessionId":"s","message":{{"content":{content}}}}}"#);
        assert!(matches!(parse(&l), TranscriptRecord::Other(_)), "{content}");
    }
    // A prompt given as blocks (text + image) is a prompt.
    let l = r#"{"type":"user","sessionId":"s","uuid":"u","message":{"content":[{"type":"text","text":"what is this?"},{"type":"image","source":{}}]}}"#;
    assert!(
        matches!(parse(l), TranscriptRecord::UserPrompt(p) if p.text_preview == "what is this?")
    );
}

#[test]
fn tool_results_with_errors() {
    let text = main_2_1();
    assert_eq!(
        kinds_of(line(&text, 13)),
        vec![EventKind::ToolResult {
            tool_use_id: "toolu_fake_6887bc4ffab64f5694b7".into(),
            is_error: false,
            duration_ms: None,
            sidechain: false,
        }]
    );
    // This one failed, and its output quotes a usage object: nothing of it is usage.
    assert!(line(&text, 15).contains(r#"\"usage\": {\"input_tokens\": 900"#));
    assert_eq!(
        kinds_of(line(&text, 15)),
        vec![EventKind::ToolResult {
            tool_use_id: "toolu_fake_722a60b728eb446ebb8a".into(),
            is_error: true,
            duration_ms: None,
            sidechain: false,
        }]
    );
}

#[test]
fn a_task_result_carries_a_usage_object_that_is_not_counted() {
    for (text, n) in [(main_2_1(), 18), (main_1_0(), 10)] {
        let l = line(&text, n);
        assert!(l.contains(r#""toolUseResult":{"#) && l.contains(r#""usage":{"#));
        let events = kinds_of(l);
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(matches!(events[0], EventKind::ToolResult { .. }));
    }
}

// ---------------------------------------------------------------------------------------------
// Accounting and bookkeeping lines.

#[test]
fn cost_state_is_claude_codes_own_total() {
    let text = main_2_1();
    let record = parse(text.lines().last().unwrap());
    let TranscriptRecord::CostState(c) = &record else {
        panic!("{record:?}");
    };
    assert_eq!(c.total_cost_usd, 0.03713);
    assert_eq!(c.model_usage.len(), 2);
    assert_eq!(c.tokens(), Some(usage(7200, 252, 30000, 1800)));
    assert_eq!(c.main_model(), Some("claude-opus-5-5"));
    assert_eq!(
        to_events(&record),
        vec![(
            SessionId::new(SID_2_1),
            None,
            EventKind::CostState {
                total_cost_usd: 0.03713,
                duration_api_ms: Some(578),
                duration_ms: Some(1147),
                lines_added: 2,
                lines_removed: 1,
                tokens: Some(usage(7200, 252, 30000, 1800)),
                model: Some("claude-opus-5-5".into()),
            }
        )]
    );
}

#[test]
fn turn_duration_api_error_and_stop_hook_summary() {
    let text = main_2_1();
    assert_eq!(
        kinds_of(line(&text, 23)),
        vec![EventKind::TurnEnded {
            duration_ms: Some(10638)
        }]
    );
    assert_eq!(
        kinds_of(line(&text, 16)),
        vec![EventKind::ApiRetry {
            attempt: 1,
            error_status: Some(529),
            error: Some("overloaded".into()),
            retry_in_ms: Some(569),
        }]
    );
    let summary = parse(line(&text, 22));
    assert!(matches!(&summary, TranscriptRecord::Other(o) if o.kind == "system/stop_hook_summary"));
    assert!(to_events(&summary).is_empty());
}

#[test]
fn titles_and_last_prompt() {
    let text = main_2_1();
    assert_eq!(
        kinds_of(line(&text, 29)),
        vec![EventKind::Title {
            title: "Fix the flaky test".into()
        }]
    );
    // last-prompt repeats a prompt already counted: it keeps a preview and adds no turn.
    let last = parse(line(&text, 9));
    assert_eq!(
        last,
        TranscriptRecord::LastPrompt(LastPrompt {
            session_id: SessionId::new(SID_2_1),
            text_preview: "Please do the task.".into(),
            leaf_uuid: Some("8ebbcffb-6bc8-401a-b784-163ed7003b99".into()),
        })
    );
    assert!(to_events(&last).is_empty());
}

#[test]
fn a_1_0_summary_names_no_session_so_the_file_does() {
    let text = main_1_0();
    let record = parse(line(&text, 1));
    assert_eq!(record.session_id(), None);
    assert!(to_events(&record).is_empty());
    let file = SessionId::new(SID_1_0);
    assert_eq!(
        to_events_for_file(&record, &file),
        vec![(
            file.clone(),
            None,
            EventKind::Title {
                title: "Delegate a greeting to a subagent".into()
            }
        )]
    );
}

#[test]
fn a_1_0_hook_message_is_kept_for_its_metadata() {
    let record = parse(line(&main_1_0(), 13));
    assert!(matches!(&record, TranscriptRecord::Other(o) if o.kind == "system"));
    assert!(to_events(&record).is_empty());
    assert_eq!(record.session_meta().unwrap().version, Some("1.0.100"));
}

#[test]
fn unknown_types_are_counted_with_small_raw_json() {
    let text = main_2_1();
    let record = parse(line(&text, 30));
    let TranscriptRecord::Unknown {
        kind,
        session_id,
        raw,
    } = &record
    else {
        panic!("{record:?}");
    };
    assert_eq!(kind, "teleport-state");
    assert_eq!(session_id.as_ref().map(SessionId::as_str), Some(SID_2_1));
    assert_eq!(
        raw.as_ref().and_then(|r| r.get("where")),
        Some(&serde_json::json!("mars"))
    );
    assert_eq!(
        kinds_of(line(&text, 30)),
        vec![EventKind::UnknownRecord {
            record_type: "teleport-state".into()
        }]
    );
    let big = format!(
        r#"{{"type":"system","subtype":"new_thing","sessionId":"s","blob":"{}"}}"#,
        "x".repeat(UNKNOWN_RAW_MAX_BYTES)
    );
    let TranscriptRecord::Unknown { kind, raw, .. } = parse(&big) else {
        panic!();
    };
    assert_eq!((kind.as_str(), raw), ("system/new_thing", None));
}

// ---------------------------------------------------------------------------------------------
// Bad input.

#[test]
fn bad_lines_are_errors() {
    let text = main_2_1();
    assert!(matches!(
        parse_line(line(&text, 31).as_bytes()),
        Err(ParseError::Json(_))
    ));
    assert_eq!(
        parse_line(line(&text, 32).as_bytes()),
        Err(ParseError::NoType)
    );
    assert_eq!(
        parse_line(line(&text, 33).as_bytes()),
        Err(ParseError::NoType)
    );
    assert_eq!(parse_line(line(&text, 34).as_bytes()), Ok(None));
    let truncated = line(&text, 35);
    assert!(truncated.contains(r#""usage":{"#), "cut after its usage");
    assert!(matches!(
        parse_line(truncated.as_bytes()),
        Err(ParseError::Json(_))
    ));
    assert!(matches!(
        parse_line(line(&main_1_0(), 7).as_bytes()),
        Err(ParseError::Json(_))
    ));
    assert_eq!(parse_line(br#"{"x":1}"#), Err(ParseError::NoType));
    assert_eq!(parse_line(br#"{"type":7}"#), Err(ParseError::NoType));
    assert_eq!(
        parse_line(br#"{"type":"assistant","message":{}}"#),
        Err(ParseError::NoSessionId("assistant"))
    );
    assert!(matches!(
        parse_line(b"\x00\x00\x00"),
        Err(ParseError::Json(_))
    ));
}

/// A long line is read without the members cclive never reads (`transcript/prune.rs`): their
/// brackets and quotes must match, but what is inside them is not checked; what is read is
/// checked as before, and an error is the whole line's, at its own position.
#[test]
fn a_long_lines_unread_members_are_stepped_over_not_checked() {
    let result = "r".repeat(3000);
    let long = |tool_result: &str, timestamp: &str| {
        format!(
            r#"{{"type":"user","sessionId":"s1","toolUseResult":{tool_result},"timestamp":{timestamp},"message":{{"content":[{{"type":"tool_result","tool_use_id":"toolu_1","content":"{result}"}}]}}}}"#
        )
    };
    let stamp = r#""2026-01-02T03:04:05Z""#;
    // A leading zero is no JSON number: the line alone does not parse whole.
    let odd = long(r#"{"exitCode":01,"stdout":"ok"}"#, stamp);
    assert!(serde_json::from_str::<serde_json::Value>(&odd).is_err());
    let Ok(Some(TranscriptRecord::ToolResults(results))) = parse_line(odd.as_bytes()) else {
        panic!("read: {:?}", parse_line(odd.as_bytes()));
    };
    assert_eq!(results.results, [("toolu_1".to_owned(), false)]);
    // Cut short inside an unread member: no shape to step over.
    let cut = &odd[..odd.len() / 2];
    assert!(matches!(
        parse_line(cut.as_bytes()),
        Err(ParseError::Json(_))
    ));
    // A bad value where cclive reads, after an unread member: the error the whole line gives,
    // at its position in the line.
    let bad = long(r#"{"stdout":"ok"}"#, "tru");
    let whole = parse_full(bad.as_bytes());
    assert!(matches!(whole, Err(ParseError::Json(_))));
    assert_eq!(parse_line(bad.as_bytes()), whole);
}

#[test]
fn error_messages_never_echo_content() {
    for bad in [
        r#"{"type":"user","sessionId":"s","type":"SECRET"}"#,
        r#"{"type":"user","sessionId":"s","message":{"content":"SECRET"#,
        r#"{"type":"assistant","sessionId":"SECRET","message":{"id":"SECRET","id":"SECRET"}}"#,
        "SECRET",
        r#"["SECRET""#,
    ] {
        let err = parse_line(bad.as_bytes()).unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}

#[test]
fn fields_of_an_unexpected_type_read_as_absent() {
    let l = r#"{"type":"assistant","sessionId":"s","isSidechain":"yes","timestamp":12,"message":{"id":5,"model":["m"],"usage":"lots","content":"text"},"error":{"status":"x"}}"#;
    let TranscriptRecord::Assistant(a) = parse(l) else {
        panic!();
    };
    assert_eq!(
        (a.message_id, a.model, a.usage, a.is_sidechain, a.timestamp),
        (None, None, None, false, None)
    );
    let l = r#"{"type":"cost-state","sessionId":"s","totalCostUSD":"0.5","modelUsage":[1],"totalLinesAdded":-3}"#;
    let TranscriptRecord::CostState(c) = parse(l) else {
        panic!();
    };
    assert_eq!(
        (c.total_cost_usd, c.model_usage.len(), c.lines_added),
        (0.0, 0, 0)
    );
    // Usage fields missing on very old lines count as 0.
    let l = r#"{"type":"assistant","sessionId":"s","message":{"id":"m","usage":{"input_tokens":7,"output_tokens":2}}}"#;
    assert!(matches!(
        &kinds_of(l)[0],
        EventKind::Usage { tokens, .. } if *tokens == usage(7, 2, 0, 0)
    ));
}

#[test]
fn long_prompts_become_previews_and_are_never_kept_whole() {
    // Escapes force serde to unescape: only the head is copied.
    let body = format!("fix\\n  the bug\\n{}", "pasted line\\n".repeat(100_000));
    let l =
        format!(r#"{{"type":"user","sessionId":"s","uuid":"u","message":{{"content":"{body}"}}}}"#);
    let TranscriptRecord::UserPrompt(p) = parse(&l) else {
        panic!();
    };
    assert!(
        p.text_preview
            .starts_with("fix the bug pasted line pasted line")
    );
    assert!(p.text_preview.ends_with('…'));
    assert_eq!(p.text_preview.chars().count(), PROMPT_PREVIEW_CHARS + 1);
    // A short prompt is kept as it is.
    let l = r#"{"type":"last-prompt","sessionId":"s","lastPrompt":"caf\u00e9 \"x\""}"#;
    assert!(matches!(parse(l), TranscriptRecord::LastPrompt(p) if p.text_preview == "café \"x\""));
    // A cut inside whitespace still says that something was left out.
    let l = format!(
        r#"{{"type":"user","sessionId":"s","message":{{"content":"a\n{}b"}}}}"#,
        " ".repeat(5000)
    );
    assert!(matches!(parse(&l), TranscriptRecord::UserPrompt(p) if p.text_preview == "a…"));
}

// ---------------------------------------------------------------------------------------------
// Session metadata.

#[test]
fn conversation_lines_give_session_metadata_for_start_events() {
    let record = parse(line(&main_2_1(), 3));
    let meta = record.session_meta().unwrap();
    assert_eq!(meta.mode(), Some(Mode::Print));
    assert_eq!(
        meta.start_events(),
        vec![
            EventKind::SessionStarted {
                mode: Mode::Print,
                command: None,
                cwd: Some("/home/dev/cap/task/work".into()),
                project_path: None,
                session_type: None,
                source: Source::Transcript,
            },
            EventKind::Init {
                claude_session_id: SID_2_1.into(),
                model: None,
                cwd: Some("/home/dev/cap/task/work".into()),
                claude_version: Some("2.1.332".into()),
            }
        ]
    );
    let old = parse(line(&main_1_0(), 2));
    let meta = old.session_meta().unwrap();
    assert_eq!((meta.mode(), meta.version), (None, Some("1.0.100")));
    // Bookkeeping records carry no metadata.
    assert_eq!(parse(line(&main_2_1(), 9)).session_meta(), None);
}

// ---------------------------------------------------------------------------------------------
// Whole fixtures, folded through the monitor.

/// What folding some transcript files gave.
struct Folded {
    monitor: Monitor,
    errors: usize,
}

/// Folds `files` (each with the session its name gives) the way a tailer would: start events
/// once per session, records' events at their time (else the last time seen), bad lines as
/// `InputError`s.
fn fold(files: &[(String, &str)], skip: impl Fn(&TranscriptRecord) -> bool) -> Folded {
    let mut monitor = Monitor::new(PriceTable::builtin());
    let mut announced = HashSet::new();
    let mut last: Timestamp = "2026-11-25T12:58:40Z".parse().unwrap();
    let mut errors = 0;
    for (text, file_session) in files {
        let file_session = SessionId::new(*file_session);
        for l in text.lines() {
            let record = match parse_line(l.as_bytes()) {
                Ok(Some(record)) => record,
                Ok(None) => continue,
                Err(e) => {
                    errors += 1;
                    let kind = EventKind::InputError {
                        source: "transcript".into(),
                        message: e.to_string(),
                    };
                    monitor.apply(&Event::new(file_session.clone(), last, kind));
                    continue;
                }
            };
            if skip(&record) {
                continue;
            }
            if let Some(at) = record.timestamp() {
                last = last.max(at);
            }
            if let Some(meta) = record.session_meta()
                && announced.insert(meta.session_id.clone())
            {
                for kind in meta.start_events() {
                    monitor.apply(&Event::new(meta.session_id.clone(), last, kind));
                }
            }
            for (sid, at, kind) in to_events_for_file(&record, &file_session) {
                monitor.apply(&Event::new(sid, at.unwrap_or(last), kind));
            }
        }
    }
    Folded { monitor, errors }
}

fn session<'m>(folded: &'m Folded, id: &str) -> &'m SessionState {
    assert_eq!(folded.monitor.sessions().count(), 1, "one session only");
    folded
        .monitor
        .session(&SessionId::new(id))
        .expect("the session")
}

fn fixture_2_1() -> Vec<(String, &'static str)> {
    // The sub-agent's lines are read while the main file is still open; its lines carry the
    // parent's session id, the file path says the same.
    vec![(sub_agent_2_1(), SID_2_1), (main_2_1(), SID_2_1)]
}

#[test]
fn fixture_2_1_folds_to_claude_codes_own_totals() {
    let folded = fold(&fixture_2_1(), |_| false);
    let s = session(&folded, SID_2_1);
    assert_eq!(
        folded.errors, 4,
        "garbage, null, [1,2,3], the truncated line"
    );
    assert_eq!(s.input_errors, 4);
    assert_eq!(s.tokens, usage(7200, 252, 30000, 1800));
    assert_eq!(
        s.api_requests, 6,
        "4 main + 2 sub-agent responses, the synthetic one not"
    );
    assert_eq!(
        s.tool_calls,
        BTreeMap::from([("Agent".to_owned(), 1), ("Bash".to_owned(), 3)])
    );
    assert_eq!(s.tool_errors, 1);
    assert_eq!(s.num_turns, 5, "2 prompts + 3 main-thread tool results");
    assert_eq!(s.total_cost_usd, 0.03713);
    assert_eq!(s.cost_source, CostSource::Reported);
    assert_eq!((s.duration_api_ms, s.duration_ms), (578, 1147));
    assert_eq!((s.lines_added, s.lines_removed), (2, 1));
    assert_eq!(s.api_retries, 1);
    assert_eq!(s.unknown_records, 1);
    assert_eq!(s.title.as_deref(), Some("Fix the flaky test"));
    assert_eq!(s.last_prompt.as_deref(), Some("Second prompt please."));
    assert_eq!(s.model.as_deref(), Some("claude-opus-5-5"));
    assert_eq!(s.mode, Mode::Print);
    assert_eq!(s.source, Source::Transcript);
    assert_eq!(s.claude_version.as_deref(), Some("2.1.332"));
    assert_eq!(s.cwd.as_deref(), Some("/home/dev/cap/task/work"));
    assert_eq!(
        s.status,
        Status::Completed,
        "cost-state is written at the end"
    );
}

#[test]
fn fixture_2_1_without_cost_state_counts_each_response_once() {
    let folded = fold(&fixture_2_1(), |r| {
        matches!(r, TranscriptRecord::CostState(_))
    });
    let s = session(&folded, SID_2_1);
    assert_eq!(s.tokens, usage(7200, 252, 30000, 1800));
    assert_eq!(s.api_requests, 6);
    assert_eq!(s.num_turns, 5);
    assert_eq!(s.cost_source, CostSource::Estimated);
    let prices = PriceTable::builtin();
    let expected = 4.0
        * prices
            .cost("claude-opus-5-5", &usage(1200, 42, 5000, 300))
            .unwrap()
        + 2.0
            * prices
                .cost("claude-haiku-4-5", &usage(1200, 42, 5000, 300))
                .unwrap();
    assert!(
        (s.total_cost_usd - expected).abs() < 1e-9,
        "{} vs {expected}",
        s.total_cost_usd
    );
    assert_eq!(
        s.status,
        Status::Active,
        "print mode: a turn end is no idle"
    );
}

#[test]
fn fixture_2_1_read_twice_counts_once() {
    let mut files = fixture_2_1();
    files.extend(fixture_2_1());
    let folded = fold(&files, |r| matches!(r, TranscriptRecord::CostState(_)));
    let s = session(&folded, SID_2_1);
    assert_eq!(s.tokens, usage(7200, 252, 30000, 1800));
    assert_eq!((s.api_requests, s.num_turns, s.tool_errors), (6, 5, 1));
    assert_eq!(s.tool_calls.values().sum::<u64>(), 4);
}

#[test]
fn fixture_1_0_folds_to_deduplicated_usage() {
    let folded = fold(&[(main_1_0(), SID_1_0)], |_| false);
    let s = session(&folded, SID_1_0);
    assert_eq!(folded.errors, 1);
    assert_eq!(s.tokens, usage(4800, 168, 20000, 1200));
    assert_eq!(s.api_requests, 4);
    assert_eq!(
        s.tool_calls,
        BTreeMap::from([("Bash".to_owned(), 1), ("Task".to_owned(), 1)])
    );
    assert_eq!(s.tool_errors, 0);
    assert_eq!(
        s.num_turns, 2,
        "1 prompt + the Task result; the sub-agent's are not turns"
    );
    assert_eq!(
        s.title.as_deref(),
        Some("Delegate a greeting to a subagent")
    );
    assert_eq!(s.model.as_deref(), Some("claude-opus-4-1-20250805"));
    assert_eq!(s.mode, Mode::Interactive, "1.0 lines do not say");
    assert_eq!(s.cost_source, CostSource::Estimated);
    let prices = PriceTable::builtin();
    let one = usage(1200, 42, 5000, 300);
    let expected = 2.0 * prices.cost("claude-opus-4-1-20250805", &one).unwrap()
        + 2.0 * prices.cost("claude-sonnet-4-20250514", &one).unwrap();
    assert!(
        (s.total_cost_usd - expected).abs() < 1e-9,
        "{} vs {expected}",
        s.total_cost_usd
    );
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// Records whose loss would lose usage, turns, tool results or cost.
fn counts(record: &TranscriptRecord) -> bool {
    matches!(
        record,
        TranscriptRecord::Assistant(_)
            | TranscriptRecord::UserPrompt(_)
            | TranscriptRecord::ToolResults(_)
            | TranscriptRecord::CostState(_)
    )
}

/// JSON text of a field value that may hide conversation-looking or skip-looking `type`s.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#""plain""#.to_owned()),
        Just(r#""\"type\":\"attachment\"""#.to_owned()),
        Just(r#""\"type\":\"user\",\"message\":{}""#.to_owned()),
        Just(r#""ends in a backslash \\""#.to_owned()),
        Just(r#"{"type":"attachment","inner":{"type":"mode"}}"#.to_owned()),
        Just(r#"{"type":"user","message":{"content":"x"}}"#.to_owned()),
        Just(r#"[{"type":"api-request-blob"},"]",{"a":"}"}]"#.to_owned()),
        Just(r#"{"usage":{"input_tokens":900,"output_tokens":900},"type":"assistant"}"#.to_owned()),
        Just("null".to_owned()),
        Just("-12.5e3".to_owned()),
        Just("true".to_owned()),
        Just("[]".to_owned()),
    ]
}

const TOP_TYPES: &[&str] = &[
    "assistant",
    "user",
    "system",
    "cost-state",
    "summary",
    "last-prompt",
    "attachment",
    "api-request-blob",
    "api-request-shape",
    "api-request",
    "queue-operation",
    "file-history-snapshot",
    "mode",
    "tools-used",
    "atis-latch",
    "something-new",
];

/// A message of one of the shapes transcripts have.
fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"{"id":"msg_1","type":"message","model":"claude-opus-5-5","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"type":"attachment"}}],"stop_reason":"tool_use","usage":{"input_tokens":1200,"output_tokens":42}}"#.to_owned()),
        Just(r#"{"role":"user","content":"Please do the task."}"#.to_owned()),
        Just(r#"{"role":"user","content":[{"tool_use_id":"toolu_1","type":"tool_result","content":"{\"type\":\"attachment\"}","is_error":true}]}"#.to_owned()),
        Just(r#"{"role":"user","content":[{"type":"text","text":"hi"}]}"#.to_owned()),
    ]
}

fn whitespace() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(""), Just(" "), Just("\t"), Just(" \n ")]
}

prop_compose! {
    /// An object line from templates: a top-level type, a message, a session id, cost fields and
    /// distractor fields, in any order, with any whitespace between tokens.
    fn template_line()(
        kind in prop::sample::select(TOP_TYPES),
        with_message in any::<bool>(),
        message in message(),
        extras in prop::collection::vec(value(), 0..4),
        cost in any::<bool>(),
        order in any::<u64>(),
        ws in prop::collection::vec(whitespace(), 40),
    ) -> String {
        let mut fields: Vec<(String, String)> = vec![
            ("type".into(), format!("\"{kind}\"")),
            ("sessionId".into(), "\"s1\"".into()),
            ("uuid".into(), "\"u1\"".into()),
        ];
        if with_message {
            fields.push(("message".into(), message));
        }
        if cost {
            fields.push(("totalCostUSD".into(), "0.5".into()));
            fields.push(("modelUsage".into(), r#"{"m":{"inputTokens":1,"costUSD":0.5}}"#.into()));
        }
        for (i, v) in extras.into_iter().enumerate() {
            let key = ["attachment", "toolUseResult", "content", "snapshot"][i % 4];
            fields.push((key.into(), v));
        }
        // A deterministic shuffle from the drawn seed.
        let mut seed = order;
        for i in (1..fields.len()).rev() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let j = usize::try_from(seed >> 33).unwrap() % (i + 1);
            fields.swap(i, j);
        }
        let mut ws = ws.into_iter().cycle();
        let mut out = format!("{}{{", ws.next().unwrap());
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write!(
                out,
                "{}\"{k}\"{}:{}{v}{}",
                ws.next().unwrap(),
                ws.next().unwrap(),
                ws.next().unwrap(),
                ws.next().unwrap()
            )
            .unwrap();
        }
        out.push('}');
        out
    }
}

/// Every line of the fixtures, read once.
static REAL_LINES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    [main_2_1(), sub_agent_2_1(), main_1_0()]
        .iter()
        .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_prefilter_never_skips_what_the_full_parse_counts(line in template_line()) {
        let full = parse_full(line.as_bytes());
        if prefilter(line.as_bytes()) == Prefilter::Skip {
            prop_assert_eq!(&full, &Ok(None), "skipped {}", line);
        }
        if let Ok(Some(record)) = &full
            && counts(record)
        {
            prop_assert_eq!(prefilter(line.as_bytes()), Prefilter::Parse, "{}", line);
        }
        prop_assert_eq!(parse_line(line.as_bytes()), full);
    }

    #[test]
    fn parse_line_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_line(&bytes);
    }

    #[test]
    fn parse_line_never_panics_on_damaged_real_lines(
        pick in 0usize..1000,
        cut in 0usize..4000,
        flips in prop::collection::vec((0usize..4000, any::<u8>()), 0..4),
    ) {
        let lines = &*REAL_LINES;
        let mut bytes = lines[pick % lines.len()].clone().into_bytes();
        bytes.truncate(cut % (bytes.len() + 1));
        for (at, b) in flips {
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] = b;
            }
        }
        let full = parse_full(&bytes);
        let fast = parse_line(&bytes);
        if fast != full {
            // Only a damaged skip line may be skipped without being validated.
            prop_assert_eq!(prefilter(&bytes), Prefilter::Skip);
            prop_assert_eq!(fast, Ok(None));
        }
    }
}

/// Text of more than [`long_strings::LONG_STRING`] bytes made of plain text, multi-byte
/// characters and characters JSON escapes.
fn long_text() -> impl Strategy<Value = String> {
    let pieces = [
        "plain text ",
        "é",
        "日本",
        "🦀",
        "\n",
        "\"",
        "\\",
        "\t",
        "\u{1}",
        "/",
    ];
    (
        prop::collection::vec(prop::sample::select(pieces.to_vec()), 1..6),
        9_000usize..24_000,
    )
        .prop_map(|(pieces, len)| {
            let mut text = String::with_capacity(len + 8);
            for piece in pieces.iter().cycle() {
                if text.len() >= len {
                    break;
                }
                text.push_str(piece);
            }
            text
        })
}

/// Fields that hold content (text, tool inputs and outputs, titles): what grows long. Ids,
/// names, paths and times never do.
const CONTENT_KEYS: &[&str] = &[
    "text",
    "content",
    "thinking",
    "signature",
    "stdout",
    "stderr",
    "command",
    "old_string",
    "new_string",
    "summary",
    "lastPrompt",
    "customTitle",
    "aiTitle",
    "title",
    "prompt",
    "description",
    "output",
    "result",
];

/// Every string value of a content field in `value`, depth first.
fn content_slots<'a>(
    value: &'a mut serde_json::Value,
    key: &str,
) -> Vec<&'a mut serde_json::Value> {
    match value {
        serde_json::Value::String(_) if CONTENT_KEYS.contains(&key) => vec![value],
        serde_json::Value::Array(items) => items
            .iter_mut()
            .flat_map(|v| content_slots(v, key))
            .collect(),
        serde_json::Value::Object(fields) => fields
            .iter_mut()
            .flat_map(|(k, v)| content_slots(v, k))
            .collect(),
        _ => Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Real lines whose prompts, tool results and other strings grew long read the same (ids,
    /// usage, previews and their `…`) whether their long strings are cut or not.
    #[test]
    fn long_strings_read_the_same_cut(
        pick in 0usize..1000,
        grow in any::<u64>(),
        text in long_text(),
        escape_pairs in any::<bool>(),
    ) {
        let lines = &*REAL_LINES;
        let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&lines[pick % lines.len()])
        else {
            return Ok(());
        };
        let mut grown = 0;
        for (i, slot) in content_slots(&mut value, "").into_iter().enumerate() {
            // Some of them grow.
            if grow >> (i % 64) & 1 == 1 {
                *slot = serde_json::Value::String(text.clone());
                grown += 1;
            }
        }
        let mut line = value.to_string();
        if escape_pairs {
            // What JavaScript writes for a character beyond the BMP: a surrogate pair.
            line = line.replace('🦀', "\\ud83e\\udd80");
        }
        prop_assume!(grown > 0);
        prop_assert_eq!(parse_line(line.as_bytes()), parse_full(line.as_bytes()));
    }
}

#[rstest]
#[case::wraps_a_u64("18446744073709551615")]
#[case::beyond_any_model("10000001")]
#[case::fractional("1.5")]
#[case::negative("-3")]
#[case::huge_float("1e308")]
#[case::a_string(r#""42""#)]
fn an_unbelievable_token_field_makes_the_line_bad_input(#[case] output: &str) {
    let line = format!(
        r#"{{"type":"assistant","sessionId":"s1","message":{{"id":"msg_1","model":"claude-opus-5-5","usage":{{"input_tokens":10,"output_tokens":{output}}}}}}}"#
    );
    assert!(
        matches!(parse_line(line.as_bytes()), Err(ParseError::BadUsage(_))),
        "{output} must be refused, not counted as 0 or wrapped"
    );
    let cost_state = format!(
        r#"{{"type":"cost-state","sessionId":"s1","totalCostUSD":1.0,"modelUsage":{{"m":{{"inputTokens":1,"outputTokens":{output}}}}}}}"#
    );
    if output != "10000001" {
        assert!(matches!(
            parse_line(cost_state.as_bytes()),
            Err(ParseError::BadUsage(_))
        ));
    }
}

#[test]
fn a_whole_float_token_count_still_counts() {
    let line = br#"{"type":"assistant","sessionId":"s1","message":{"id":"msg_1","usage":{"input_tokens":10.0,"output_tokens":null}}}"#;
    let Ok(Some(TranscriptRecord::Assistant(a))) = parse_line(line) else {
        panic!("an assistant line");
    };
    assert_eq!(a.usage, Some(usage(10, 0, 0, 0)));
}

#[test]
fn a_line_with_a_lone_surrogate_escape_is_read_lossily_with_its_usage() {
    // What JavaScript's JSON.stringify writes for half of a cut emoji.
    let line = br#"{"type":"assistant","sessionId":"s1","message":{"id":"msg_1","content":[{"type":"text","text":"caf\udce9 \ud83d"}],"usage":{"input_tokens":10,"output_tokens":5}},"cwd":"/w/caf\udce9"}"#;
    let Ok(Some(TranscriptRecord::Assistant(a))) = parse_line(line) else {
        panic!("read lossily, not rejected");
    };
    assert_eq!(a.usage, Some(usage(10, 5, 0, 0)));
    assert_eq!(a.cwd.as_deref(), Some("/w/caf\u{fffd}"));
}

/// A session read from history only (nothing vouches for it live) folded from the lines of a
/// transcript, then found gone.
fn ended_from_history(lines: &[&str]) -> SessionState {
    let mut s = SessionState::new(
        SessionId::new("s10"),
        "2026-11-25T13:04:27.527Z".parse().unwrap(),
    );
    let prices = PriceTable::builtin();
    for l in lines {
        for (sid, at, kind) in to_events(&parse(l)) {
            s.apply(&Event::new(sid, at.unwrap(), kind), &prices);
        }
    }
    let gone = Event::new(
        SessionId::new("s10"),
        s.last_record_at(),
        EventKind::ProcessGone { pid: None },
    );
    s.apply(&gone, &prices);
    s
}

#[test]
fn a_1_0_print_session_that_answered_its_last_tool_result_ends_completed_at_its_last_line() {
    // Claude Code 1.0.100 writes no stop reason into its transcript (print mode, one Bash call).
    let text = fixture("1.0.100/print-tools.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    let s = ended_from_history(&lines);
    assert_eq!(s.status, Status::Completed);
    assert_eq!(
        s.ended_at,
        Some("2026-11-25T13:04:27.788Z".parse().unwrap()),
        "it ends at its last record"
    );
    assert_eq!(s.duration_ms, 261);
    // Cut after the tool call, after its result, after the prompt: the turn was open.
    for cut in 1..lines.len() {
        let s = ended_from_history(&lines[..cut]);
        assert_eq!(s.status, Status::Interrupted, "cut after line {cut}");
    }
}

#[rstest]
#[case::final_answer_2_1(
    r#"{"stop_reason":"end_turn","content":[{"type":"text","text":"ok"}]}"#,
    "2.1.332",
    true
)]
#[case::tool_call_2_1(r#"{"stop_reason":"tool_use","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}]}"#, "2.1.332", false)]
#[case::streamed_block_2_1(
    r#"{"stop_reason":null,"content":[{"type":"text","text":"ok"}]}"#,
    "2.1.332",
    false
)]
#[case::max_tokens(
    r#"{"stop_reason":"max_tokens","content":[{"type":"text","text":"ok"}]}"#,
    "2.1.332",
    true
)]
#[case::text_1_0(
    r#"{"stop_reason":null,"content":[{"type":"text","text":"ok"}]}"#,
    "1.0.100",
    true
)]
#[case::tool_call_1_0(r#"{"stop_reason":null,"content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}]}"#, "1.0.100", false)]
fn which_answer_ends_a_turn(#[case] message: &str, #[case] version: &str, #[case] ends: bool) {
    let message = message.replacen('{', r#"{"id":"msg_1","model":"claude-sonnet-4-5","usage":{"input_tokens":1,"output_tokens":1},"#, 1);
    let line = format!(
        r#"{{"type":"assistant","sessionId":"s","uuid":"u","timestamp":"2026-11-25T13:04:27.788Z","version":"{version}","isSidechain":false,"message":{message}}}"#
    );
    let TranscriptRecord::Assistant(a) = parse(&line) else {
        panic!("{line}");
    };
    assert_eq!(a.ends_turn(), ends, "{line}");
    let turn_ended = kinds_of(&line)
        .iter()
        .any(|k| matches!(k, EventKind::TurnEnded { .. }));
    assert_eq!(turn_ended, ends);
    // Never a sub-agent's answer, never Claude Code's own error message.
    let side = line.replace(r#""isSidechain":false"#, r#""isSidechain":true"#);
    let TranscriptRecord::Assistant(a) = parse(&side) else {
        panic!("{side}");
    };
    assert!(!a.ends_turn());
}
