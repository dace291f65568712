//! Recording and replay end to end: a session recorded by `cclive run` (the real Claude Code
//! against the fake API) is played again into a running `cclive watch` with `cclive replay`, and
//! moved between two histories with `cclive export` and `cclive import-events`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cclive::{World, describe, free_port};
use crate::support::fake_api::{FakeApi, Scenario};

const TIMEOUT: Duration = Duration::from_secs(90);

/// Figures a replay must reproduce exactly (Claude Code reported the cost and durations, so
/// even those do not depend on the replay's speed).
const SAME: &[&str] = &[
    "status",
    "mode",
    "model",
    "claude_version",
    "total_cost_usd",
    "cost_source",
    "duration_ms",
    "duration_api_ms",
    "num_turns",
    "tokens",
    "api_requests",
    "tool_calls",
    "tool_errors",
    "api_retries",
    "last_prompt",
    "exit_code",
];

/// Runs a print session through `cclive run` (no monitor: it records into the world's
/// history itself); returns its id.
fn record(world: &World) -> String {
    let out = world.run(
        &[
            "run",
            "--",
            "-p",
            "Please do the task.",
            "--allowedTools",
            "Bash",
            "Write",
        ],
        TIMEOUT,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let sessions = world.sessions();
    assert_eq!(sessions.len(), 1, "{sessions:#?}");
    sessions[0]["session_id"].as_str().unwrap().to_owned()
}

/// `cclive export ID --jsonl`: the header and the events.
fn export(world: &World, id: &str) -> (Value, Vec<Value>) {
    let out = world.run(&["export", id, "--jsonl"], TIMEOUT);
    assert!(out.status.success(), "{}", describe(&out));
    let mut lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect::<Vec<_>>()
        .into_iter();
    let header = lines.next().expect("a header line");
    assert_eq!(header["cclive_export"], 1);
    let events: Vec<Value> = lines.collect();
    assert_eq!(header["events"], events.len());
    (header, events)
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn session<'a>(sessions: &'a [Value], id: &str) -> Option<&'a Value> {
    sessions.iter().find(|s| s["session_id"] == id)
}

#[test]
fn a_replay_reproduces_the_totals_and_the_order_of_events() {
    let api = FakeApi::start(Scenario::BashThenText);
    let world = World::new(&api.url());
    let id = record(&world);

    // Nowhere to play to: a clear error.
    let nobody = format!("127.0.0.1:{}", free_port());
    let out = world.run(&["replay", &id, "--listen", &nobody], TIMEOUT);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no cclive monitor answers"), "{stderr}");

    // What `cclive run` recorded: the state is the fold of exactly these events. The monitor's
    // catch-up then reads the transcript no monitor read yet and keeps its events after them, as
    // a monitor running beside `cclive run` would have (issue 12): the recording is untouched.
    let (recorded, recorded_events) = export(&world, &id);
    assert!(recorded_events.len() > 5, "{recorded_events:#?}");
    let watch = world.watch();
    let (original, original_events) = export(&world, &id);
    assert_eq!(
        original_events[..recorded_events.len()],
        recorded_events[..]
    );

    let out = world.run(
        &[
            "replay",
            &id[..8],
            "--speed",
            "100",
            "--listen",
            &watch.addr,
        ],
        TIMEOUT,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let replay_id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        replay_id.starts_with(&format!("replay-{id}-")),
        "{}",
        describe(&out)
    );

    // The monitor stores it like any session; wait until it has ended there.
    let deadline = Instant::now() + TIMEOUT;
    let replayed = loop {
        let sessions = world.sessions();
        if let Some(s) = session(&sessions, &replay_id).filter(|s| s["status"] == "COMPLETED") {
            break s.clone();
        }
        assert!(Instant::now() < deadline, "{sessions:#?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // The replay folds every stored event again: the original's figures, as the monitor holds
    // them (Claude Code's own duration from the transcript's cost-state included).
    for key in SAME {
        assert_eq!(replayed[*key], original["session"][*key], "{key}");
    }
    assert_eq!(replayed["tokens"], recorded["session"]["tokens"]);
    assert_eq!(replayed["source"], "replay");
    assert_eq!(replayed["session_type"], "replay");
    assert_eq!(
        replayed["claude_session_id"], id,
        "the replay names its original"
    );
    let (_, replay_events) = export(&world, &replay_id);
    assert_eq!(types(&replay_events), types(&original_events), "same order");
    // The original timing, 100 times faster.
    let span = |events: &[Value]| {
        let at = |e: &Value| {
            e["at"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
        };
        let first = at(&events[0]);
        let last = events.iter().map(at).max().unwrap();
        last.duration_since(first).as_micros()
    };
    let (original_span, replay_span) = (span(&original_events), span(&replay_events));
    assert!(original_span > 0);
    assert!(
        (original_span / 100).abs_diff(replay_span) <= 1_000,
        "{original_span} µs played in {replay_span} µs"
    );
    for (r, o) in replay_events.iter().zip(&original_events) {
        assert_eq!(r["session_id"], replay_id.as_str());
        match r["type"].as_str().unwrap() {
            "session_started" => assert_eq!(r["source"], "replay"),
            "usage" => {
                assert_eq!(
                    r["key"],
                    format!("{replay_id}:{}", o["key"].as_str().unwrap())
                );
                assert_eq!(r["tokens"], o["tokens"]);
            }
            _ => {
                let strip = |e: &Value| {
                    let mut e = e.clone();
                    let map = e.as_object_mut().unwrap();
                    map.remove("session_id");
                    map.remove("at");
                    e
                };
                assert_eq!(strip(r), strip(o));
            }
        }
    }
    // The original is untouched.
    let (after, after_events) = export(&world, &id);
    assert_eq!(after_events.len(), original_events.len());
    assert_eq!(after["session"], original["session"]);
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn export_and_import_move_a_session_between_histories() {
    let api = FakeApi::start(Scenario::BashThenText);
    let here = World::new(&api.url());
    let id = record(&here);
    let file = here.claude.home().join("session.jsonl");
    let out = here.run(
        &["export", &id, "--jsonl", "-o", file.to_str().unwrap()],
        TIMEOUT,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let (header, events) = export(&here, &id);

    let there = World::new("http://127.0.0.1:9");
    let out = there.run(&["import-events", file.to_str().unwrap()], TIMEOUT);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("Imported session {id}")));
    assert_eq!(
        there.sessions(),
        here.sessions(),
        "the same session, figure for figure"
    );
    let (header_there, events_there) = export(&there, &id);
    assert_eq!(header_there["session"], header["session"]);
    assert_eq!(header_there["ledger"], header["ledger"]);
    assert_eq!(events_there, events);

    // Once is enough, unless asked.
    let out = there.run(&["import-events", file.to_str().unwrap()], TIMEOUT);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--replace"));
    let out = there.run(
        &["import-events", file.to_str().unwrap(), "--replace"],
        TIMEOUT,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let (_, events_again) = export(&there, &id);
    assert_eq!(events_again, events, "replaced, not appended");

    // A truncated copy is refused and changes nothing.
    let text = std::fs::read_to_string(&file).unwrap();
    let cut: String = text.lines().take(3).flat_map(|l| [l, "\n"]).collect();
    let cut_file = there.claude.home().join("cut.jsonl");
    std::fs::write(&cut_file, cut).unwrap();
    let out = there.run(
        &["import-events", cut_file.to_str().unwrap(), "--replace"],
        TIMEOUT,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is the file complete"),
        "{}",
        describe(&out)
    );
    assert_eq!(export(&there, &id).1, events);
}
