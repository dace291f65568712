//! The rules of status and metrics, one per test.

use super::*;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_795_600_000 + secs).unwrap()
}

fn state() -> SessionState {
    SessionState::new(SessionId::new("s"), t(0))
}

fn apply(s: &mut SessionState, secs: i64, kind: EventKind) -> Change {
    s.apply(
        &Event::new(SessionId::new("s"), t(secs), kind),
        &PriceTable::builtin(),
    )
}

fn usage(key: &str, model: &str, input: u64, output: u64) -> EventKind {
    EventKind::Usage {
        key: key.into(),
        request_id: None,
        reported_cost_usd: None,
        model: Some(model.into()),
        tokens: Tokens {
            input,
            output,
            ..Tokens::default()
        },
        is_final: false,
        sidechain: false,
    }
}

fn exited(code: i32) -> EventKind {
    EventKind::ProcessExited {
        code: Some(code),
        signal: None,
    }
}

#[test]
fn starts_active() {
    assert_eq!(state().status, Status::Active);
}

#[test]
fn a_print_process_idle_while_it_starts_is_still_active_and_idle_after_its_prompt() {
    let started = |mode| EventKind::SessionStarted {
        mode,
        command: None,
        cwd: None,
        project_path: None,
        session_type: None,
        source: Source::Registry,
    };
    let activity = |state| EventKind::Activity {
        state,
        waiting_for: None,
        pid: Some(42),
    };
    let prompt = EventKind::PromptSubmitted {
        id: Some("p1".into()),
        preview: Some("do the task".into()),
    };
    let mut print = state();
    apply(&mut print, 1, started(Mode::Print));
    apply(&mut print, 1, activity(Activity::Idle));
    assert_eq!(print.status, Status::Active, "starting, not waiting");
    assert_eq!(print.waiting_for, None);
    apply(&mut print, 2, prompt.clone());
    apply(&mut print, 2, activity(Activity::Busy));
    apply(&mut print, 9, activity(Activity::Idle));
    assert_eq!(print.status, Status::Idle, "its answer given");
    // An interactive one at its first prompt waits for the user.
    let mut interactive = state();
    apply(&mut interactive, 1, started(Mode::Interactive));
    apply(&mut interactive, 1, activity(Activity::Idle));
    assert_eq!(interactive.status, Status::Idle);
}

#[test]
fn repeated_usage_reports_count_once_at_their_maximum() {
    let mut s = state();
    apply(&mut s, 1, usage("msg_1", "claude-sonnet-4-5", 1000, 1));
    apply(&mut s, 2, usage("msg_1", "claude-sonnet-4-5", 1000, 42));
    apply(&mut s, 3, usage("msg_1", "claude-sonnet-4-5", 1000, 42));
    apply(&mut s, 4, usage("msg_2", "claude-sonnet-4-5", 500, 10));
    assert_eq!(s.tokens.input, 1500);
    assert_eq!(s.tokens.output, 52);
    assert_eq!(s.api_requests, 2);
    // Sonnet: 1500 × $3/M + 52 × $15/M.
    assert!((s.total_cost_usd - (1500.0 * 3.0 + 52.0 * 15.0) / 1e6).abs() < 1e-12);
    assert_eq!(s.cost_source, CostSource::Estimated);
}

#[test]
fn a_usage_report_that_counts_nothing_new_is_a_repeat_for_the_event_log() {
    // Claude Code 2.1 writes a response's final usage on the line of each content block; 1.0
    // the message-start usage on the earlier ones and the final on the last.
    let mut s = state();
    let report = |secs, output| {
        Event::new(
            SessionId::new("s"),
            t(secs),
            usage("msg_1", "claude-sonnet-4-5", 1000, output),
        )
    };
    let prices = PriceTable::builtin();
    assert!(!s.repeats(&report(1, 1)), "the first report is news");
    s.apply(&report(1, 1), &prices);
    assert!(s.repeats(&report(2, 1)), "the same figures again");
    assert!(
        !s.repeats(&report(2, 42)),
        "the final usage grows the count"
    );
    s.apply(&report(2, 42), &prices);
    assert!(s.repeats(&report(3, 42)));
    assert!(s.repeats(&report(3, 5)), "a smaller report counts nothing");
    assert!(
        !s.repeats(&report(0, 42)),
        "an earlier report moves the first time"
    );
    let mut linked = usage("msg_1", "claude-sonnet-4-5", 1000, 42);
    if let EventKind::Usage { request_id, .. } = &mut linked {
        *request_id = Some("req_1".into());
    }
    let with_request = Event::new(SessionId::new("s"), t(3), linked);
    assert!(!s.repeats(&with_request), "it links the request id");
    let other = Event::new(
        SessionId::new("s"),
        t(3),
        usage("msg_2", "claude-sonnet-4-5", 1000, 42),
    );
    assert!(!s.repeats(&other), "another response");

    // A replay keeps the recorded log as it was (`cclive replay`).
    s.source = Source::Replay;
    assert!(!s.repeats(&report(3, 42)));
}

#[test]
fn unknown_models_are_flagged_not_priced_at_zero_silently() {
    let mut s = state();
    apply(&mut s, 1, usage("m", "claude-mystery-9", 1000, 10));
    assert_eq!(s.unpriced_models, vec!["claude-mystery-9".to_owned()]);
    // Nothing priced: unknown (`null`), never $0.
    assert_eq!(s.cost_usd(), None);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["total_cost_usd"].is_null(), "{json}");
    let back: SessionState = serde_json::from_value(json).unwrap();
    assert_eq!(back.cost_usd(), None);
    // No API time measured for the response: the share is unknown, not 0 %.
    assert_eq!(s.efficiency.api_time_share, None);
    // One priced response: the estimate covers it, the unpriced model stays listed.
    apply(&mut s, 2, usage("m2", "claude-sonnet-4-5", 1_000_000, 0));
    assert!((s.cost_usd().unwrap() - 3.0).abs() < 1e-9);
    assert_eq!(s.unpriced_models, vec!["claude-mystery-9".to_owned()]);
}

#[test]
fn the_result_wins_over_estimates() {
    let mut s = state();
    apply(&mut s, 1, usage("msg_1", "claude-opus-5-5", 1200, 1));
    let change = apply(
        &mut s,
        2,
        EventKind::Result {
            is_error: false,
            total_cost_usd: Some(0.01628),
            duration_ms: Some(353),
            duration_api_ms: Some(220),
            num_turns: Some(2),
            tokens: Some(Tokens {
                input: 2400,
                output: 84,
                cache_read: 10000,
                cache_creation: 600,
                ..Tokens::default()
            }),
            model: Some("claude-opus-5-5".into()),
            error: None,
        },
    );
    assert_eq!(change.status, Some((Status::Active, Status::Completed)));
    assert_eq!(s.total_cost_usd, 0.01628);
    assert_eq!(s.cost_source, CostSource::Reported);
    assert_eq!(s.tokens.output, 84);
    assert_eq!(
        (s.duration_ms, s.duration_api_ms, s.num_turns),
        (353, 220, 2)
    );
    let e = s.efficiency;
    assert!((e.cost_per_turn.unwrap() - 0.00814).abs() < 1e-12);
    assert!((e.cache_hit_ratio.unwrap() - 10000.0 / 13000.0).abs() < 1e-12);
    assert!((e.api_time_share.unwrap() - 220.0 / 353.0).abs() < 1e-12);
    assert!((e.output_tokens_per_minute.unwrap() - 84.0 * 60_000.0 / 353.0).abs() < 1e-9);

    // The exit after a result does not change the ending.
    apply(&mut s, 3, exited(0));
    assert_eq!(s.status, Status::Completed);
    assert_eq!(s.exit_code, Some(0));
}

#[test]
fn an_error_result_fails_with_its_text() {
    let mut s = state();
    apply(
        &mut s,
        1,
        EventKind::Result {
            is_error: true,
            total_cost_usd: Some(0.0),
            duration_ms: Some(10),
            duration_api_ms: Some(0),
            num_turns: Some(1),
            tokens: None,
            model: None,
            error: Some("API Error: 529 Overloaded".into()),
        },
    );
    apply(&mut s, 2, exited(1));
    assert_eq!(s.status, Status::Failed);
    assert_eq!(s.error.as_deref(), Some("API Error: 529 Overloaded"));
    assert_eq!(s.exit_code, Some(1));
}

#[test]
fn exit_without_result() {
    let mut ok = state();
    apply(&mut ok, 5, exited(0));
    assert_eq!(ok.status, Status::Completed);
    assert_eq!(ok.duration_ms, 5000);

    let mut crashed = state();
    apply(&mut crashed, 5, exited(3));
    assert_eq!(crashed.status, Status::Failed);
    assert_eq!(
        crashed.error.as_deref(),
        Some("claude exited with code 3 without a result")
    );

    let mut killed = state();
    apply(
        &mut killed,
        5,
        EventKind::ProcessExited {
            code: None,
            signal: Some(9),
        },
    );
    assert_eq!(killed.status, Status::Interrupted);
}

#[test]
fn interrupt_ends_the_session_and_a_late_result_does_not_revive_it() {
    let mut s = state();
    let change = apply(
        &mut s,
        2,
        EventKind::Interrupted {
            signal: Some("SIGINT".into()),
        },
    );
    assert_eq!(change.status, Some((Status::Active, Status::Interrupted)));
    apply(
        &mut s,
        3,
        EventKind::Result {
            is_error: true,
            total_cost_usd: Some(0.5),
            duration_ms: None,
            duration_api_ms: None,
            num_turns: None,
            tokens: None,
            model: None,
            error: Some("aborted".into()),
        },
    );
    apply(&mut s, 4, exited(130));
    assert_eq!(s.status, Status::Interrupted);
    assert_eq!(s.total_cost_usd, 0.5, "what was spent is still recorded");
}

#[test]
fn turns_count_prompts_and_main_thread_tool_results() {
    let mut s = state();
    apply(
        &mut s,
        0,
        EventKind::PromptSubmitted {
            id: None,
            preview: Some("fix it".into()),
        },
    );
    assert_eq!(s.num_turns, 1);
    for (i, sidechain) in [(1, false), (2, true), (3, false)] {
        apply(
            &mut s,
            i,
            EventKind::ToolUse {
                tool_use_id: format!("t{i}"),
                name: "Bash".into(),
                sidechain,
            },
        );
        apply(
            &mut s,
            i,
            EventKind::ToolResult {
                tool_use_id: format!("t{i}"),
                is_error: i == 3,
                duration_ms: None,
                sidechain,
            },
        );
    }
    // The same result reported twice counts once.
    apply(
        &mut s,
        4,
        EventKind::ToolResult {
            tool_use_id: "t1".into(),
            is_error: false,
            duration_ms: None,
            sidechain: false,
        },
    );
    assert_eq!(s.num_turns, 3);
    assert_eq!(s.tool_calls.get("Bash"), Some(&3));
    assert_eq!(s.tool_errors, 1);
    assert_eq!(s.last_prompt.as_deref(), Some("fix it"));
}

#[test]
fn live_durations_move_with_ticks_and_streams() {
    let mut s = state();
    apply(&mut s, 1, EventKind::ApiRequest { message_id: None });
    apply(
        &mut s,
        2,
        EventKind::ApiRequest {
            message_id: Some("m".into()),
        },
    );
    assert!(s.tick(t(4)));
    assert_eq!(s.duration_ms, 4000);
    assert_eq!(
        s.duration_api_ms, 3000,
        "the open request counts from when it was sent"
    );
    apply(
        &mut s,
        6,
        EventKind::ApiResponseDone {
            message_id: "m".into(),
            duration_ms: None,
        },
    );
    assert_eq!(s.duration_api_ms, 5000);
    apply(&mut s, 7, exited(0));
    assert!(!s.tick(t(100)), "finished sessions do not tick");
    assert_eq!(s.duration_ms, 7000);
}

#[test]
fn bad_input_is_counted() {
    let mut s = state();
    let change = apply(
        &mut s,
        1,
        EventKind::InputError {
            source: "stream-json".into(),
            message: "bad".into(),
        },
    );
    assert!(change.metrics);
    apply(
        &mut s,
        1,
        EventKind::UnknownRecord {
            record_type: "x".into(),
        },
    );
    assert_eq!((s.input_errors, s.unknown_records), (1, 1));
    assert_eq!(s.status, Status::Active);
}

#[test]
fn serialized_shape() {
    let mut s = state();
    apply(
        &mut s,
        0,
        EventKind::SessionStarted {
            mode: Mode::Print,
            command: Some("claude -p hi".into()),
            cwd: Some("/w".into()),
            project_path: Some("/w".into()),
            session_type: Some("dev".into()),
            source: Source::Wrapper,
        },
    );
    apply(&mut s, 1, usage("msg_1", "claude-sonnet-4-5", 1000, 10));
    let v = serde_json::to_value(&s).unwrap();
    for key in [
        "session_id",
        "status",
        "total_cost_usd",
        "cost_source",
        "duration_ms",
        "duration_api_ms",
        "num_turns",
        "tokens",
        "model",
        "cwd",
        "command",
        "session_type",
        "project_path",
        "tool_calls",
        "efficiency",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(v["cost_source"], "estimated");
    assert_eq!(v["tokens"]["input"], 1000);
    let back: SessionState = serde_json::from_value(v).unwrap();
    assert_eq!(back.total_cost_usd, s.total_cost_usd);
}

#[test]
fn the_ledger_survives_a_round_trip_so_counting_goes_on() {
    let mut s = state();
    apply(&mut s, 1, usage("msg_1", "claude-sonnet-4-5", 1000, 5));
    apply(
        &mut s,
        1,
        EventKind::ToolUse {
            tool_use_id: "t1".into(),
            name: "Bash".into(),
            sidechain: false,
        },
    );
    let json = serde_json::to_value(&s).unwrap();
    let mut back: SessionState = serde_json::from_value(json).unwrap();
    back.restore_ledger(s.ledger_json()).unwrap();
    let mut from_text: SessionState =
        serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    from_text
        .restore_ledger_text(&s.ledger_json_text().unwrap())
        .unwrap();
    assert_eq!(from_text, back, "the ledger reads the same from its text");
    // The same response and tool seen again (a re-read file) change nothing.
    apply(&mut back, 2, usage("msg_1", "claude-sonnet-4-5", 1000, 5));
    apply(
        &mut back,
        2,
        EventKind::ToolUse {
            tool_use_id: "t1".into(),
            name: "Bash".into(),
            sidechain: false,
        },
    );
    assert_eq!(back.tokens, s.tokens);
    assert_eq!(back.tool_calls.get("Bash"), Some(&1));
    assert!((back.total_cost_usd - s.total_cost_usd).abs() < 1e-15);
}

#[test]
fn a_retry_reported_by_the_stream_and_the_transcript_counts_once() {
    let mut s = state();
    let retry = |attempt, wait| EventKind::ApiRetry {
        attempt,
        error_status: Some(500),
        error: Some("server_error".into()),
        retry_in_ms: wait,
    };
    for kind in [
        retry(1, Some(520)),
        retry(1, Some(520)), // the transcript's `system/api_error` of the same retry
        retry(2, Some(1078)),
        retry(1, Some(611)), // the next request's first retry
        retry(1, None),      // a source that gives no wait: counted as it comes
        retry(1, None),
    ] {
        apply(&mut s, 1, kind);
    }
    assert_eq!(s.api_retries, 5);
}

#[test]
fn an_error_result_fails_a_session_another_source_already_ended() {
    let mut s = state();
    // The transcript's cost-state (written on every exit) reached the monitor first.
    apply(
        &mut s,
        2,
        EventKind::CostState {
            total_cost_usd: 0.0,
            duration_api_ms: None,
            duration_ms: None,
            lines_added: 0,
            lines_removed: 0,
            tokens: None,
            model: None,
        },
    );
    assert_eq!(s.status, Status::Completed);
    let change = apply(
        &mut s,
        2,
        EventKind::Result {
            is_error: true,
            total_cost_usd: Some(0.0),
            duration_ms: None,
            duration_api_ms: None,
            num_turns: Some(1),
            tokens: None,
            model: None,
            error: Some("API Error: 500".into()),
        },
    );
    assert_eq!(s.status, Status::Failed);
    assert_eq!(change.status, Some((Status::Completed, Status::Failed)));
    assert_eq!(s.error.as_deref(), Some("API Error: 500"));
    assert_eq!(s.ended_at, Some(t(2)), "it ended when it ended");
}

/// Claude Code's totals at the end of a run (`cost-state`), cumulative over the session.
fn cost_state(cost: f64, output: u64, lines_added: u64) -> EventKind {
    EventKind::CostState {
        total_cost_usd: cost,
        duration_api_ms: None,
        duration_ms: None,
        lines_added,
        lines_removed: 0,
        tokens: Some(Tokens {
            input: 10,
            output,
            ..Tokens::default()
        }),
        model: None,
    }
}

#[test]
fn an_earlier_runs_totals_copied_into_a_resumed_transcript_do_not_take_the_figures_back() {
    let mut s = state();
    apply(&mut s, 1, usage("msg_1", "claude-haiku-4-5", 10, 765));
    apply(&mut s, 2, cost_state(0.0058, 765, 2821));
    // Resumed: a second run, and its end with the session's totals so far.
    apply(&mut s, 60, usage("msg_2", "claude-haiku-4-5", 6, 2651));
    apply(&mut s, 61, cost_state(0.0256, 3416, 4832));
    let last = s.clone();
    // A later session's transcript starts with a copy of this one's lines, the first run's
    // totals among them, read after the rest (another file, another reader thread).
    let copy = Event::new(SessionId::new("s"), t(90), cost_state(0.0058, 765, 2821));
    assert!(
        s.repeats(&copy),
        "older totals are no news for the event log"
    );
    let change = s.apply(&copy, &PriceTable::builtin());
    assert_eq!(change, Change::default());
    assert_eq!(s, last, "nothing of the session changes");
    assert_eq!(s.tokens.output, 3416);
    assert_eq!(s.total_cost_usd, 0.0256);
    assert_eq!(s.lines_added, 4832);

    // The same totals again (Claude Code writes them twice at `/exit`) are applied as before.
    let again = Event::new(SessionId::new("s"), t(62), cost_state(0.0256, 3416, 4832));
    assert!(!s.repeats(&again));
    // So are growing ones whatever order they come in: the newest totals win.
    let mut other_order = state();
    apply(&mut other_order, 2, cost_state(0.0058, 765, 2821));
    apply(&mut other_order, 61, cost_state(0.0256, 3416, 4832));
    assert_eq!(other_order.tokens.output, 3416);
    assert_eq!(other_order.total_cost_usd, 0.0256);
}

#[test]
fn a_response_counted_under_claude_codes_own_totals_changes_its_count_not_the_figures() {
    let mut s = state();
    apply(&mut s, 1, usage("msg_1", "claude-haiku-4-5", 10, 765));
    apply(&mut s, 2, cost_state(0.0058, 765, 0));
    // Its totals count a sub-agent's response read after them (another file).
    let change = apply(&mut s, 3, usage("msg_2", "claude-haiku-4-5", 4, 40));
    assert!(change.counted, "the response's own count is new");
    assert_eq!(
        (s.tokens.output, s.total_cost_usd),
        (765, 0.0058),
        "Claude Code's own"
    );
    assert!(change.metrics, "one more API request");
    assert_eq!(s.api_requests, 2);
    let again = apply(&mut s, 4, usage("msg_2", "claude-haiku-4-5", 4, 40));
    assert!(!again.counted);
}

#[test]
fn an_estimate_is_the_same_to_the_last_bit_whatever_order_its_responses_came_in() {
    // Costs that do not add up exactly as binary fractions, and a response counted partially
    // first in one order.
    let reports = [
        ("msg_1", 268_304, 6_792),
        ("msg_2", 75_265, 12_000),
        ("msg_3", 144_332, 22_639),
        ("msg_2", 75_265, 12_727),
        ("msg_4", 212_579, 50_289),
    ];
    let estimate = |order: &[usize]| {
        let mut s = state();
        for (n, &i) in order.iter().enumerate() {
            let (key, input, output) = reports[i];
            apply(
                &mut s,
                i64::try_from(n).unwrap(),
                usage(key, "claude-sonnet-4-5", input, output),
            );
        }
        let restored = {
            let mut r = state();
            r.restore_ledger_text(&s.ledger_json_text().unwrap())
                .unwrap();
            r.ledger.estimate
        };
        assert_eq!(restored.to_bits(), s.ledger.estimate.to_bits(), "read back");
        s.total_cost_usd
    };
    let first = estimate(&[0, 1, 2, 3, 4]);
    // Every order of the five reports.
    let mut order = [0, 1, 2, 3, 4];
    for n in 0..120_usize {
        let mut rest: Vec<usize> = (0..5).collect();
        let mut k = n;
        for slot in &mut order {
            *slot = rest.remove(k % rest.len());
            k /= 5;
        }
        assert_eq!(estimate(&order).to_bits(), first.to_bits(), "{order:?}");
    }
}

#[test]
fn the_model_is_the_first_main_responses_whatever_file_is_read_first() {
    let sidechain = |key: &str, model: &str| {
        let mut kind = usage(key, model, 1, 1);
        if let EventKind::Usage { sidechain, .. } = &mut kind {
            *sidechain = true;
        }
        kind
    };
    let mut s = state();
    // A resumed copy's later response, read before the session's own first one.
    apply(&mut s, 60, usage("msg_late", "claude-opus-4-1", 1, 1));
    apply(&mut s, 5, sidechain("msg_agent", "claude-haiku-4-5"));
    assert_eq!(s.model.as_deref(), Some("claude-opus-4-1"));
    apply(&mut s, 10, usage("msg_first", "claude-sonnet-4-5", 1, 1));
    assert_eq!(s.model.as_deref(), Some("claude-sonnet-4-5"));
    apply(&mut s, 70, usage("msg_later", "claude-opus-4-1", 1, 1));
    assert_eq!(s.model.as_deref(), Some("claude-sonnet-4-5"));
    // What a wrapper's `init` says stays.
    let mut wrapped = state();
    apply(
        &mut wrapped,
        20,
        EventKind::Init {
            claude_session_id: "s".into(),
            model: Some("claude-opus-5-5".into()),
            cwd: None,
            claude_version: None,
        },
    );
    apply(
        &mut wrapped,
        10,
        usage("msg_first", "claude-sonnet-4-5", 1, 1),
    );
    assert_eq!(wrapped.model.as_deref(), Some("claude-opus-5-5"));
}

#[test]
fn the_wrappers_prompt_and_the_transcripts_are_one_turn() {
    let mut s = state();
    let prompt = |id: Option<&str>, preview: Option<&str>| EventKind::PromptSubmitted {
        id: id.map(str::to_owned),
        preview: preview.map(str::to_owned),
    };
    // `cclive run -p` knows the prompt but not its id; the transcript knows both; telemetry
    // knows the id and redacts the text.
    apply(&mut s, 1, prompt(Some("p1"), None));
    assert_eq!(s.last_prompt, None);
    apply(&mut s, 1, prompt(None, Some("fix the test")));
    apply(&mut s, 1, prompt(Some("p1"), Some("fix the test")));
    assert_eq!(s.num_turns, 1);
    assert_eq!(s.last_prompt.as_deref(), Some("fix the test"));
}

#[test]
fn a_streaming_responses_output_grows_with_every_delta_until_its_final_usage() {
    let mut s = state();
    let streamed = |chars| EventKind::OutputStreamed {
        message_id: "msg_1".into(),
        chars,
    };
    // message_start: the prompt's tokens at once, 1 output token so far.
    apply(&mut s, 1, usage("msg_1", "claude-sonnet-4-5", 1000, 1));
    let cost_at_start = s.total_cost_usd;
    let change = apply(&mut s, 2, streamed(40));
    assert!(change.metrics, "a delta moves the live figures");
    assert_eq!(
        s.streaming_output_tokens, 9,
        "≈ 40 / 4 tokens, less the 1 counted"
    );
    apply(&mut s, 3, streamed(400));
    assert_eq!(s.streaming_output_tokens, 109);
    assert_eq!(
        s.tokens.output, 1,
        "the estimate never enters the counted tokens"
    );
    assert_eq!(s.total_cost_usd, cost_at_start, "nor the cost");
    // message_delta: the final count replaces the estimate, whatever it was.
    let mut last = usage("msg_1", "claude-sonnet-4-5", 1000, 97);
    if let EventKind::Usage { is_final, .. } = &mut last {
        *is_final = true;
    }
    apply(&mut s, 4, last);
    assert_eq!((s.tokens.output, s.streaming_output_tokens), (97, 0));
    // A late delta of a response done streaming changes nothing.
    apply(
        &mut s,
        5,
        EventKind::ApiResponseDone {
            message_id: "msg_1".into(),
            duration_ms: None,
        },
    );
    apply(&mut s, 6, streamed(4000));
    assert_eq!(s.streaming_output_tokens, 0);
    let json = serde_json::to_value(&s).unwrap();
    assert!(
        json.get("streaming_output_tokens").is_none(),
        "0 is left out: {json}"
    );
}

#[test]
fn a_stream_cut_off_stops_counting_at_the_next_turn_or_retry() {
    let mut s = state();
    let streamed = EventKind::OutputStreamed {
        message_id: "msg_cut".into(),
        chars: 400,
    };
    apply(&mut s, 1, streamed.clone());
    assert_eq!(s.streaming_output_tokens, 100);
    apply(&mut s, 2, EventKind::TurnEnded { duration_ms: None });
    assert_eq!(
        s.streaming_output_tokens, 0,
        "no final usage will come for it"
    );
    apply(&mut s, 3, streamed);
    let retry = EventKind::ApiRetry {
        attempt: 1,
        error_status: Some(529),
        error: None,
        retry_in_ms: Some(500),
    };
    apply(&mut s, 4, retry);
    assert_eq!(s.streaming_output_tokens, 0);
}

#[test]
fn an_ended_session_streams_nothing() {
    let mut s = state();
    apply(
        &mut s,
        1,
        EventKind::OutputStreamed {
            message_id: "msg_1".into(),
            chars: 400,
        },
    );
    assert_eq!(s.streaming_output_tokens, 100);
    apply(&mut s, 2, exited(1));
    assert_eq!(
        s.streaming_output_tokens, 0,
        "a response cut off streams no more"
    );
}
