//! `cclive report tools`, run as the real binary over a store written through `cclive-store`:
//! sessions with hand-made events whose tool counts, durations, time split and cost per line
//! are worked out below; the range and project filters; the JSON shape; the table's width.

use cclive_core::{CostSource, Event, EventKind, Mode, SessionId, SessionState};
use cclive_store::{Batch, SqliteStore, Store};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::reports::Fixture;
use crate::support::cclive::describe;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

struct Session {
    state: SessionState,
    events: Vec<Event>,
}

impl Session {
    fn new(id: &str, project: &str, start: &str, mode: Mode, wall_s: u64, api_s: u64) -> Session {
        let mut state = SessionState::new(SessionId::new(id), ts(start));
        state.project_path = Some(project.into());
        state.mode = mode;
        state.duration_ms = wall_s * 1000;
        state.duration_api_ms = api_s * 1000;
        state.model = Some("claude-sonnet-4-5".into());
        Session {
            state,
            events: Vec::new(),
        }
    }

    fn at(&mut self, secs: i64, kind: EventKind) -> &mut Session {
        let at = self.state.started_at + SignedDuration::from_secs(secs);
        self.events
            .push(Event::new(self.state.session_id.clone(), at, kind));
        self
    }

    fn prompt(&mut self, secs: i64, id: &str) -> &mut Session {
        self.at(
            secs,
            EventKind::PromptSubmitted {
                id: Some(id.into()),
                preview: Some(format!("prompt {id}")),
            },
        )
    }

    /// A main-thread call from `secs` that ran `ms` (as the hook measured it).
    fn call(&mut self, secs: i64, id: &str, name: &str, ms: u64, is_error: bool) -> &mut Session {
        self.at(
            secs,
            EventKind::ToolUse {
                tool_use_id: id.into(),
                name: name.into(),
                sidechain: false,
            },
        );
        self.at(
            secs + i64::try_from(ms / 1000).unwrap(),
            EventKind::ToolResult {
                tool_use_id: id.into(),
                is_error,
                duration_ms: Some(ms),
                sidechain: false,
            },
        )
    }

    fn turn_ended(&mut self, secs: i64) -> &mut Session {
        self.at(secs, EventKind::TurnEnded { duration_ms: None })
    }
}

/// - `inter` (/w/app, interactive, 100 s wall, 8 s API, 40 lines for Claude Code's $2): the
///   first prompt at 10 s; Bash 5 s; turn over at 20 s; the next prompt at 50 s; a failed Bash
///   of 2 s; turn over at 60 s; the user gone at 100 s. Waiting: 10 + 30 + 40 = 80 s; tools 7 s.
/// - `print` (/w/app, print, 30 s wall, 20 s API, no lines): Bash 9 s, then Edit 1 s. Tools 10 s.
/// - `lib` (/w/lib): a 60 s Bash, left out by `--project app`.
/// - `old` (/w/app, February): a Read, left out by `--since 2026-03-01`.
/// - `imported` (/w/app, no events at all): its totals say Grep × 4.
fn tools_store(f: &Fixture) {
    let mut inter = Session::new(
        "inter",
        "/w/app",
        "2026-03-10T10:00:00Z",
        Mode::Interactive,
        100,
        8,
    );
    inter.state.lines_added = 30;
    inter.state.lines_removed = 10;
    inter.state.total_cost_usd = 2.0;
    inter.state.cost_source = CostSource::Reported;
    inter.state.tokens.input = 100;
    inter.state.tokens.cache_read = 300;
    inter
        .prompt(10, "p1")
        .call(12, "t1", "Bash", 5000, false)
        .turn_ended(20)
        .prompt(50, "p2")
        .call(51, "t2", "Bash", 2000, true)
        .turn_ended(60);
    let mut print = Session::new(
        "print",
        "/w/app",
        "2026-03-11T09:00:00Z",
        Mode::Print,
        30,
        20,
    );
    print.state.total_cost_usd = 5.0;
    print.state.tokens.input = 100;
    print.state.tokens.cache_creation = 100;
    print
        .prompt(0, "q1")
        .call(1, "b1", "Bash", 9000, false)
        .call(11, "e1", "Edit", 1000, false);
    let mut lib = Session::new("lib", "/w/lib", "2026-03-12T09:00:00Z", Mode::Print, 90, 10);
    lib.prompt(0, "l1").call(1, "b9", "Bash", 60_000, false);
    let mut old = Session::new("old", "/w/app", "2026-02-01T09:00:00Z", Mode::Print, 10, 1);
    old.prompt(0, "o1").call(1, "r1", "Read", 100, false);
    let mut imported = Session::new(
        "imported",
        "/w/app",
        "2026-03-12T12:00:00Z",
        Mode::Print,
        0,
        0,
    );
    imported.state.tool_calls.insert("Grep".into(), 4);
    let all = [inter, print, lib, old, imported];
    let store = SqliteStore::open(&f.db).unwrap();
    store
        .write(&Batch {
            sessions: all.iter().map(|s| s.state.clone()).collect(),
            events: all.iter().flat_map(|s| s.events.clone()).collect(),
            ..Batch::default()
        })
        .unwrap();
}

fn tool<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} row: {report:#}"))
}

const APP_IN_MARCH: [&str; 8] = [
    "report",
    "tools",
    "--tz",
    "UTC",
    "--since",
    "2026-03-01",
    "--project",
    "app",
];

#[test]
fn report_tools_counts_times_and_ranks_the_tools_of_the_sessions_in_range() {
    let f = Fixture::new();
    tools_store(&f);
    let r = f.json(&APP_IN_MARCH);
    assert_eq!(r["report"], "tools");
    assert_eq!(
        (&r["project"], &r["since"]),
        (&json!("app"), &json!("2026-03-01"))
    );
    assert_eq!(
        (r["sessions"].as_u64(), r["sessions_with_events"].as_u64()),
        (Some(3), Some(2))
    );
    let names: Vec<&str> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Grep", "Bash", "Edit"], "most used first");
    assert_eq!(
        tool(&r, "Bash"),
        &json!({"name": "Bash", "calls": 3, "errors": 1, "error_rate": 1.0 / 3.0,
                "timed_calls": 3, "total_ms": 16_000, "mean_ms": 5333, "max_ms": 9000})
    );
    let grep = tool(&r, "Grep");
    assert_eq!(
        (&grep["calls"], &grep["mean_ms"]),
        (&json!(4), &Value::Null)
    );
    assert_eq!(
        r["totals"],
        json!({"calls": 8, "errors": 1, "error_rate": 0.125, "timed_calls": 4,
               "total_ms": 17_000})
    );
    // 130 s of wall time: 28 s API, 17 s tools, 80 s waiting (interactive only), 5 s other.
    let t = &r["time"];
    assert_eq!(
        [
            &t["wall_ms"],
            &t["api_ms"],
            &t["tool_ms"],
            &t["waiting_ms"],
            &t["other_ms"]
        ],
        [
            &json!(130_000),
            &json!(28_000),
            &json!(17_000),
            &json!(80_000),
            &json!(5_000)
        ]
    );
    assert_eq!(t["waiting_share"], 80.0 / 130.0);
    // Only `inter` reported lines: $2 over 40.
    assert_eq!(
        r["cost_per_line"],
        json!({"lines_added": 30, "lines_removed": 10, "cost_usd": 2.0, "usd_per_line": 0.05})
    );
    assert_eq!(r["cache"]["hit_ratio"], 0.5);
    let slowest: Vec<(&str, u64)> = r["slowest_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["session_id"].as_str().unwrap(),
                c["duration_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        slowest,
        [
            ("print", 9000),
            ("inter", 5000),
            ("inter", 2000),
            ("print", 1000)
        ]
    );
}

#[test]
fn report_tools_without_filters_takes_every_session() {
    let f = Fixture::new();
    tools_store(&f);
    let r = f.json(&["report", "tools", "--tz", "UTC"]);
    assert_eq!(r["sessions"], 5);
    assert_eq!(tool(&r, "Bash")["max_ms"], 60_000, "lib's call counts");
    assert_eq!(tool(&r, "Read")["calls"], 1, "so does February's");
    let none = f.json(&["report", "tools", "--project", "nowhere"]);
    assert_eq!((&none["sessions"], &none["rows"]), (&json!(0), &json!([])));
}

#[test]
fn report_tools_text_fits_the_terminal() {
    let f = Fixture::new();
    tools_store(&f);
    for width in ["60", "100"] {
        let out = f
            .cclive(&APP_IN_MARCH)
            .env("COLUMNS", width)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        let limit: usize = width.parse().unwrap();
        for line in text.lines() {
            assert!(
                line.chars().count() <= limit,
                "at {width} columns: {line:?}\n{text}"
            );
        }
        for expected in [
            "3 sessions (2 with events)",
            "Bash",
            "33.3 %",
            "5.3 s",
            "waiting for you",
            "61.5 %",
            "Total",
            "Slowest calls",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} at {width} columns:\n{text}"
            );
        }
        if width == "100" {
            assert!(text.contains("$0.0500 (+30 −10 lines, $2.00)"), "{text}");
            assert!(text.contains("Bash 5.3 s, Edit 1.0 s"), "{text}");
        }
    }
    let empty = Fixture::new();
    let text = empty.text(&["report", "tools"]);
    assert!(text.contains("No sessions."), "{text}");
    assert!(!empty.db.exists(), "a report creates no database");
}
