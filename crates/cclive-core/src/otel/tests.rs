//! Telemetry over fixtures trimmed from real exports (2.1.332 as JSON and protobuf, 1.0.100 with
//! string-valued attributes), and over hand-made bodies for the edges.

use super::*;
use crate::monitor::Monitor;
use crate::pricing::PriceTable;
use crate::session::CostSource;

const SID_2_1: &str = "21ba4430-f329-4652-9f55-c23a7e1798de";
const SID_1_0: &str = "e43c4046-a0fe-41a3-a492-7868b120afbc";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/otel/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn local() -> Sender<'static> {
    Sender {
        remote_host: None,
        received_at: "2026-11-25T13:00:50Z".parse().unwrap(),
    }
}

fn logs(name: &str, encoding: Encoding, sender: Sender<'_>) -> Translation {
    log_events(
        &decode_logs(&fixture(name), encoding).unwrap(),
        sender,
        &mut Announced::default(),
    )
}

/// The events of one JSON log export, received locally.
fn json_logs(body: &[u8]) -> Translation {
    log_events(
        &decode_logs(body, Encoding::Json).unwrap(),
        local(),
        &mut Announced::default(),
    )
}

fn kinds(t: &Translation) -> Vec<&EventKind> {
    t.events.iter().map(|e| &e.kind).collect()
}

fn fold(events: &[Event]) -> Monitor {
    let mut monitor = Monitor::new(PriceTable::builtin());
    for e in events {
        monitor.apply(e);
    }
    monitor
}

#[test]
fn content_types_name_the_encoding() {
    assert_eq!(
        Encoding::from_content_type("application/json; charset=utf-8"),
        Some(Encoding::Json)
    );
    assert_eq!(
        Encoding::from_content_type("application/x-protobuf"),
        Some(Encoding::Protobuf)
    );
    assert_eq!(Encoding::from_content_type("text/plain"), None);
    assert_eq!(Encoding::Json.success_body(), b"{}");
    assert!(Encoding::Protobuf.success_body().is_empty());
}

#[test]
fn a_2_1_log_export_becomes_the_session_its_prompt_requests_and_tools() {
    let t = logs("logs-2.1.332.json", Encoding::Json, local());
    assert_eq!(t.skipped, 0);
    assert!(t.events.iter().all(|e| e.session_id.as_str() == SID_2_1));
    let k = kinds(&t);
    assert!(matches!(
        k[0],
        EventKind::SessionStarted {
            source: Source::Otel,
            ..
        }
    ));
    assert!(matches!(k[1], EventKind::Init { claude_version: Some(v), .. } if v == "2.1.332"));
    assert!(
        matches!(k[2], EventKind::Origin { user: Some(u), host: None } if u == "user 178f67ae2398"),
        "{:?}",
        k[2]
    );
    // The prompt is redacted by Claude Code: its id is kept, no preview is made up.
    assert!(k.contains(&&EventKind::PromptSubmitted {
        id: Some("4819fcad-52f5-4a66-b427-b7acd1b8fc86".into()),
        preview: None,
    }));
    let usage: Vec<_> = k
        .iter()
        .filter_map(|k| match k {
            EventKind::Usage {
                key,
                request_id,
                reported_cost_usd,
                tokens,
                is_final,
                sidechain,
                ..
            } => Some((
                key,
                request_id,
                *reported_cost_usd,
                *tokens,
                *is_final,
                *sidechain,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(usage.len(), 3);
    let (key, request, cost, tokens, is_final, sidechain) = &usage[0];
    assert_eq!(key.as_str(), "req:req_fake_60c523ac8e964c7cb2ad");
    assert_eq!(request.as_deref(), Some("req_fake_60c523ac8e964c7cb2ad"));
    assert_eq!(*cost, Some(0.00814));
    assert_eq!(
        *tokens,
        Tokens {
            input: 1200,
            output: 42,
            cache_read: 5000,
            cache_creation: 300,
            ..Tokens::default()
        }
    );
    assert!(*is_final && !*sidechain);
    assert!(k.contains(&&EventKind::ApiResponseDone {
        message_id: "req:req_fake_60c523ac8e964c7cb2ad".into(),
        duration_ms: Some(98),
    }));
    // 2.1 sends `success` and `duration_ms` of tool results as strings.
    assert!(k.contains(&&EventKind::ToolResult {
        tool_use_id: "toolu_fake_a466ae15d38648a39955".into(),
        is_error: false,
        duration_ms: Some(31),
        sidechain: false,
    }));
    assert!(
        !k.iter()
            .any(|k| matches!(k, EventKind::UnknownRecord { .. })),
        "bookkeeping events are known and dropped"
    );
}

#[test]
fn a_session_seen_only_through_telemetry_has_claude_codes_cost() {
    let t = logs("logs-2.1.332.json", Encoding::Json, local());
    let monitor = fold(&t.events);
    let s = monitor.session(&SessionId::new(SID_2_1)).unwrap();
    assert_eq!(s.source, Source::Otel);
    assert_eq!(
        s.mode,
        Mode::Print,
        "its requests' query source is the print loop's"
    );
    assert_eq!(s.api_requests, 3);
    assert_eq!(s.cost_source, CostSource::Reported);
    // Claude Code's `result` said 0.024419999999999997 for this run.
    assert!(
        (s.total_cost_usd - 0.02442).abs() < 1e-9,
        "{}",
        s.total_cost_usd
    );
    assert_eq!(s.tokens.output, 126);
    assert_eq!(s.tool_calls.get("Bash"), Some(&1));
    assert_eq!(s.tool_calls.get("Write"), Some(&1));
    assert_eq!(s.num_turns, 3, "one prompt and two tool results");
    assert_eq!(s.duration_api_ms, 98 + 112 + 107);
    assert_eq!(s.claude_version.as_deref(), Some("2.1.332"));
}

#[test]
fn protobuf_and_json_exports_of_claude_code_read_alike() {
    let pb = logs("logs-2.1.332.pb", Encoding::Protobuf, local());
    let monitor = fold(&pb.events);
    let s = monitor.sessions().next().unwrap();
    assert_eq!(s.source, Source::Otel);
    assert_eq!(s.api_requests, 3);
    assert_eq!(s.cost_source, CostSource::Reported);
    assert!((s.total_cost_usd - 0.02442).abs() < 1e-9);

    // The same request encoded either way gives the same events.
    let json = decode_logs(&fixture("logs-2.1.332.json"), Encoding::Json).unwrap();
    let bytes = json.encode_to_vec();
    let again = decode_logs(&bytes, Encoding::Protobuf).unwrap();
    assert_eq!(
        log_events(&json, local(), &mut Announced::default()),
        log_events(&again, local(), &mut Announced::default())
    );
}

/// A transcript's first line of a session: a local source sees it.
fn seen_locally(session: SessionId, at: Timestamp) -> Event {
    Event::new(
        session,
        at,
        EventKind::SessionStarted {
            mode: Mode::Print,
            command: None,
            cwd: Some("/w".into()),
            project_path: None,
            session_type: None,
            source: Source::Transcript,
        },
    )
}

/// What a transcript line reports of one of the capture's responses: both ids, no cost.
fn transcript_usage(key: &str, request: &str) -> EventKind {
    EventKind::Usage {
        key: key.into(),
        request_id: Some(request.into()),
        reported_cost_usd: None,
        model: Some("claude-opus-5-5".into()),
        tokens: Tokens {
            input: 1200,
            output: 42,
            cache_read: 5000,
            cache_creation: 300,
            ..Tokens::default()
        },
        is_final: true,
        sidechain: false,
    }
}

#[test]
fn telemetry_after_the_transcript_counts_each_response_once() {
    let mut monitor = Monitor::new(PriceTable::builtin());
    let at: Timestamp = "2026-11-25T13:00:44Z".parse().unwrap();
    let sid = SessionId::new(SID_2_1);
    monitor.apply(&seen_locally(sid.clone(), at));
    for (msg, req) in [
        (
            "msg_fake_b1e5ed73cc424057bfc7",
            "req_fake_60c523ac8e964c7cb2ad",
        ),
        (
            "msg_fake_cc96e06246a84402a96d",
            "req_fake_6a91d209b2794d5da765",
        ),
        (
            "msg_fake_2decc1d785b04c48b2d4",
            "req_fake_0fed26ecd13546899636",
        ),
    ] {
        monitor.apply(&Event::new(sid.clone(), at, transcript_usage(msg, req)));
    }
    let before = monitor.session(&sid).unwrap().clone();
    assert_eq!(before.cost_source, CostSource::Estimated);

    for e in logs("logs-2.1.332.json", Encoding::Json, local()).events {
        monitor.apply(&e);
    }
    let s = monitor.session(&sid).unwrap();
    assert_eq!(s.api_requests, 3, "no response counted twice");
    assert_eq!(s.tokens, before.tokens);
    assert_eq!(
        s.source,
        Source::Transcript,
        "telemetry does not take a local session over"
    );
    assert_eq!(
        s.cost_source,
        CostSource::Reported,
        "Claude Code priced every response"
    );
    assert!((s.total_cost_usd - 0.02442).abs() < 1e-9);
    assert!(monitor.take_retired_usage_keys().is_empty());
    assert_eq!(
        monitor.usage_key("req:req_fake_60c523ac8e964c7cb2ad"),
        "msg_fake_b1e5ed73cc424057bfc7"
    );
}

#[test]
fn telemetry_before_the_transcript_moves_to_the_message_id() {
    let t = logs("logs-2.1.332.json", Encoding::Json, local());
    let mut monitor = fold(&t.events);
    let sid = SessionId::new(SID_2_1);
    let at: Timestamp = "2026-11-25T13:00:46Z".parse().unwrap();
    monitor.apply(&Event::new(
        sid.clone(),
        at,
        transcript_usage(
            "msg_fake_b1e5ed73cc424057bfc7",
            "req_fake_60c523ac8e964c7cb2ad",
        ),
    ));
    let s = monitor.session(&sid).unwrap();
    assert_eq!(s.api_requests, 3);
    assert_eq!(s.tokens.output, 126);
    assert!((s.total_cost_usd - 0.02442).abs() < 1e-9);
    let keys: Vec<&str> = s.usage_by_key().map(|u| u.key).collect();
    assert!(keys.contains(&"msg_fake_b1e5ed73cc424057bfc7"));
    assert!(!keys.contains(&"req:req_fake_60c523ac8e964c7cb2ad"));
    assert_eq!(
        s.duration_api_ms,
        98 + 112 + 107,
        "API time still counted once"
    );
    assert_eq!(
        monitor.take_retired_usage_keys(),
        ["req:req_fake_60c523ac8e964c7cb2ad"],
        "the store drops the placeholder's row"
    );
}

#[test]
fn a_1_0_export_with_string_values_and_no_request_ids() {
    let t = logs("logs-1.0.100.json", Encoding::Json, local());
    assert!(t.events.iter().all(|e| e.session_id.as_str() == SID_1_0));
    let monitor = fold(&t.events);
    let s = monitor.session(&SessionId::new(SID_1_0)).unwrap();
    // Four requests (one a Haiku side call), priced by Claude Code: its result said 0.104653.
    assert_eq!(s.api_requests, 4);
    assert!(
        (s.total_cost_usd - 0.104_653).abs() < 1e-9,
        "{}",
        s.total_cost_usd
    );
    assert_eq!(s.cost_source, CostSource::Reported);
    // 1.0 names no tool use: tools are left to the local sources.
    assert!(s.tool_calls.is_empty());

    // Once a local source sees the session, the unmatched telemetry reports give way.
    let mut monitor = monitor;
    let at: Timestamp = "2026-11-25T13:10:04Z".parse().unwrap();
    monitor.apply(&seen_locally(SessionId::new(SID_1_0), at));
    let s = monitor.session(&SessionId::new(SID_1_0)).unwrap();
    assert_eq!(s.source, Source::Transcript);
    assert_eq!(s.api_requests, 0);
    assert_eq!(monitor.take_retired_usage_keys().len(), 4);
}

#[test]
fn line_counts_come_from_delta_points_once_each() {
    let request = decode_metrics(&fixture("metrics-2.1.332.json"), Encoding::Json).unwrap();
    let t = metric_events(&request, local(), &mut Announced::default());
    let lines: Vec<_> = t
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::LinesChanged { .. }))
        .collect();
    assert_eq!(lines.len(), 2, "added and removed");
    let mut events = t.events.clone();
    events.extend(t.events.iter().cloned()); // an exporter's retry
    let monitor = fold(&events);
    let s = monitor.session(&SessionId::new(SID_2_1)).unwrap();
    assert_eq!((s.lines_added, s.lines_removed), (2, 0));
}

#[test]
fn a_remote_sender_names_the_host_unless_the_resource_does() {
    let remote = Sender {
        remote_host: Some("10.1.2.3"),
        ..local()
    };
    let t = logs("logs-2.1.332.json", Encoding::Json, remote);
    let s = fold(&t.events);
    let s = s.sessions().next().unwrap();
    assert_eq!(s.host.as_deref(), Some("10.1.2.3"));
    assert_eq!(s.user.as_deref(), Some("user 178f67ae2398"));

    let body = br#"{"resourceLogs":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"claude-code"}},
        {"key":"host.name","value":{"stringValue":"build-box"}},
        {"key":"user.email","value":{"stringValue":"dev@example.com"}}]},
      "scopeLogs":[{"logRecords":[{"timeUnixNano":"1795611644843000000",
        "body":{"stringValue":"claude_code.user_prompt"},
        "attributes":[{"key":"session.id","value":{"stringValue":"s-remote"}},
                      {"key":"prompt.id","value":{"stringValue":"p1"}},
                      {"key":"prompt","value":{"stringValue":"fix   the\nflaky test"}}]}]}]}]}"#;
    let t = log_events(
        &decode_logs(body, Encoding::Json).unwrap(),
        remote,
        &mut Announced::default(),
    );
    let monitor = fold(&t.events);
    let s = monitor.session(&SessionId::new("s-remote")).unwrap();
    assert_eq!(s.host.as_deref(), Some("build-box"));
    assert_eq!(s.user.as_deref(), Some("dev@example.com"));
    assert_eq!(
        s.last_prompt.as_deref(),
        Some("fix the flaky test"),
        "a prompt the user chose to export is kept as the usual preview"
    );
    assert_eq!(
        t.events[t.events.len() - 1].at,
        "2026-11-25T13:00:44.843Z".parse::<Timestamp>().unwrap(),
        "the name comes from the body and the time from timeUnixNano"
    );
}

#[test]
fn other_services_records_without_a_session_and_unknown_events() {
    let body = br#"{"resourceLogs":[
      {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my-app"}}]},
       "scopeLogs":[{"logRecords":[{"attributes":[{"key":"session.id","value":{"stringValue":"x"}}]}]}]},
      {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"claude-code"}}]},
       "scopeLogs":[{"logRecords":[
         {"attributes":[{"key":"event.name","value":{"stringValue":"user_prompt"}}]},
         {"attributes":[{"key":"session.id","value":{"stringValue":"s1"}},
                        {"key":"event.name","value":{"stringValue":"teleported"}},
                        {"key":"event.timestamp","value":{"stringValue":"2026-11-25T13:00:00Z"}}]}]}]}]}"#;
    let t = json_logs(body);
    assert_eq!(
        t.skipped, 2,
        "one record of another service, one naming no session"
    );
    assert!(t.events.iter().all(|e| e.session_id.as_str() == "s1"));
    assert!(t.events.iter().any(|e| e.kind
        == EventKind::UnknownRecord {
            record_type: "otel:teleported".into()
        }));
}

#[test]
fn garbage_bodies_are_errors_that_say_what_to_send() {
    let e = decode_logs(b"{not json", Encoding::Json).unwrap_err();
    assert!(e.to_string().contains("OTLP/JSON"), "{e}");
    let e = decode_metrics(&[0xff, 0xff, 0xff], Encoding::Protobuf).unwrap_err();
    assert!(e.to_string().contains("protobuf"), "{e}");
    // An empty export is valid and says nothing.
    let t = log_events(
        &decode_logs(b"{}", Encoding::Json).unwrap(),
        local(),
        &mut Announced::default(),
    );
    assert_eq!(t, Translation::default());
}

#[test]
fn int64_values_as_strings_per_the_otlp_json_mapping() {
    let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"claude-code"}}]},
      "scopeLogs":[{"logRecords":[{"attributes":[
        {"key":"session.id","value":{"stringValue":"s1"}},
        {"key":"event.name","value":{"stringValue":"api_request"}},
        {"key":"request_id","value":{"stringValue":"req_1"}},
        {"key":"input_tokens","value":{"intValue":"1500"}},
        {"key":"output_tokens","value":{"intValue":7}},
        {"key":"cost_usd","value":{"doubleValue":0.5}}]}]}]}]}"#;
    let t = json_logs(body);
    let usage = t
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Usage { tokens, .. } => Some(*tokens),
            _ => None,
        })
        .unwrap();
    assert_eq!((usage.input, usage.output), (1500, 7));
}

#[test]
fn a_record_of_bad_input_alone_announces_no_session() {
    let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"claude-code"}}]},
      "scopeLogs":[{"logRecords":[{"attributes":[
        {"key":"session.id","value":{"stringValue":"ghost"}},
        {"key":"event.name","value":{"stringValue":"api_request"}},
        {"key":"request_id","value":{"stringValue":"req_1"}},
        {"key":"input_tokens","value":{"intValue":"100"}},
        {"key":"output_tokens","value":{"doubleValue":12.5}}]}]}]}]}"#;
    let t = json_logs(body);
    assert!(
        kinds(&t).iter().all(|k| k.is_bad_input()),
        "{:?}",
        kinds(&t)
    );
    assert!(!fold(&t.events).contains(&SessionId::new("ghost")));
}

#[test]
fn a_session_is_announced_once_across_exports() {
    let request = decode_logs(&fixture("logs-2.1.332.json"), Encoding::Json).unwrap();
    let mut announced = Announced::default();
    let first = log_events(&request, local(), &mut announced);
    let again = log_events(&request, local(), &mut announced);
    let starts = |t: &Translation| {
        t.events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::SessionStarted { .. }
                        | EventKind::Init { .. }
                        | EventKind::Origin { .. }
                )
            })
            .count()
    };
    assert_eq!(starts(&first), 3);
    assert_eq!(
        starts(&again),
        0,
        "the next export carries only what is new"
    );
    assert_eq!(first.events.len() - 3, again.events.len());
    // From another address it is news again (its origin).
    let remote = Sender {
        remote_host: Some("10.0.0.7"),
        ..local()
    };
    assert_eq!(starts(&log_events(&request, remote, &mut announced)), 3);
}

#[test]
fn a_session_first_seen_in_metrics_learns_its_mode_from_a_later_request() {
    let mut announced = Announced::default();
    let metrics = decode_metrics(&fixture("metrics-2.1.332.json"), Encoding::Json).unwrap();
    let logs = decode_logs(&fixture("logs-2.1.332.json"), Encoding::Json).unwrap();
    let mut events = metric_events(&metrics, local(), &mut announced).events;
    events.extend(log_events(&logs, local(), &mut announced).events);
    let modes: Vec<Mode> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::SessionStarted { mode, .. } => Some(*mode),
            _ => None,
        })
        .collect();
    assert_eq!(
        modes,
        [Mode::Interactive, Mode::Print],
        "announced again once known"
    );
    let monitor = fold(&events);
    assert_eq!(monitor.sessions().next().unwrap().mode, Mode::Print);
    // An export that says nothing of the mode does not take it back.
    let again = metric_events(&metrics, local(), &mut announced);
    assert!(
        !again
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::SessionStarted { .. }))
    );
}
