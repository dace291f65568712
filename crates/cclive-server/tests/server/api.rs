//! Every endpoint of the JSON API, the pages and assets, and the intake routes.

use std::time::Duration;

use cclive_core::{
    CostSource, Event, EventKind, Mode, PriceTable, SessionId, SessionState, Snapshot, Status,
    Tokens,
};
use cclive_store::{Batch, Store, UsageRow};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::Server;
use crate::client::{get, post_json, request};

fn ago(secs: i64) -> Timestamp {
    Timestamp::now() - SignedDuration::from_secs(secs)
}

fn stored(id: &str, started: Timestamp, status: Status, project: &str, cost: f64) -> SessionState {
    let mut s = SessionState::new(SessionId::new(id), started);
    s.status = status;
    s.project_path = Some(project.to_owned());
    s.total_cost_usd = cost;
    s.cost_source = CostSource::Reported;
    s.num_turns = 3;
    s.model = Some("claude-sonnet-4-5".into());
    s.command = Some("claude -p 'the secret plan'".into());
    s.last_prompt = Some("the secret plan".into());
    s.title = Some("Secret title".into());
    s.tokens = Tokens {
        input: 100,
        output: 50,
        ..Tokens::default()
    };
    if !status.is_live() {
        s.ended_at = Some(started + SignedDuration::from_secs(30));
    }
    s
}

fn event(id: &str, at: Timestamp, kind: EventKind) -> Event {
    Event::new(SessionId::new(id), at, kind)
}

/// Four sessions today (two projects), one 40 days ago; events and usage for "alpha".
async fn seeded() -> Server {
    let server = Server::start().await;
    let sessions = vec![
        stored("alpha", ago(300), Status::Completed, "/w/app", 0.50),
        stored("beta", ago(200), Status::Failed, "/w/lib", 0.25),
        stored("gamma", ago(100), Status::Completed, "/w/app", 1.00),
        stored("delta", ago(50), Status::Active, "/w/app", 0.05),
        stored("old", ago(40 * 86_400), Status::Completed, "/w/old", 9.00),
    ];
    let t0 = ago(300);
    let at = |s: i64| t0 + SignedDuration::from_secs(s);
    let events = vec![
        event(
            "alpha",
            at(0),
            EventKind::SessionStarted {
                mode: Mode::Print,
                command: None,
                cwd: Some("/w/app".into()),
                project_path: None,
                session_type: None,
                source: "wrapper".into(),
            },
        ),
        event(
            "alpha",
            at(1),
            EventKind::PromptSubmitted {
                id: Some("p1".into()),
                preview: Some("the secret plan".into()),
            },
        ),
        event(
            "alpha",
            at(2),
            EventKind::ToolUse {
                tool_use_id: "t1".into(),
                name: "Bash".into(),
                sidechain: false,
            },
        ),
        event(
            "alpha",
            at(4),
            EventKind::ToolResult {
                tool_use_id: "t1".into(),
                is_error: true,
                duration_ms: None,
                sidechain: false,
            },
        ),
        event(
            "alpha",
            at(5),
            EventKind::Usage {
                key: "msg_1".into(),
                request_id: None,
                reported_cost_usd: None,
                model: Some("claude-sonnet-4-5".into()),
                tokens: Tokens {
                    input: 1000,
                    output: 100,
                    ..Tokens::default()
                },
                is_final: true,
                sidechain: false,
            },
        ),
    ];
    let usage = vec![UsageRow {
        key: "msg_1".into(),
        session_id: SessionId::new("alpha"),
        at: at(5),
        model: Some("claude-sonnet-4-5".into()),
        tokens: Tokens {
            input: 1000,
            output: 100,
            ..Tokens::default()
        },
        sidechain: false,
    }];
    server
        .store
        .write(&Batch {
            sessions,
            events,
            usage,
            ..Batch::default()
        })
        .unwrap();
    server
}

fn ids(page: &Value) -> Vec<String> {
    page["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn healthz_says_it_is_cclive() {
    let server = Server::start().await;
    let r = get(server.addr, "/healthz").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["service"], "cclive");
    assert_eq!(v["pid"], std::process::id());
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
}

#[tokio::test]
async fn current_session_is_the_state_file_object() {
    let server = Server::start().await;
    let r = get(server.addr, "/api/current-session").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "INACTIVE");

    let s = stored("live", ago(5), Status::Active, "/w/app", 0.1);
    let mut snap = crate::live_snapshot(s);
    snap.monitor_pid = Some(42);
    let snap = server.publish_snapshot(snap);
    let r = get(server.addr, "/api/current-session").await;
    assert_eq!(r.json(), serde_json::to_value(&snap).unwrap());
    assert_eq!(
        r.json()["data"]["last_prompt"],
        "the secret plan",
        "the seed's object, whole"
    );
}

#[tokio::test]
async fn sessions_are_listed_newest_first_without_transcript_text() {
    let server = seeded().await;
    let r = get(server.addr, "/api/sessions").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.json();
    assert_eq!(page["total"], 5);
    assert_eq!(page["limit"], 50);
    assert_eq!(page["offset"], 0);
    assert_eq!(ids(&page), ["delta", "gamma", "beta", "alpha", "old"]);
    for s in page["sessions"].as_array().unwrap() {
        for field in ["last_prompt", "title", "command"] {
            assert!(s.get(field).is_none(), "{field} in a list view: {s:#}");
        }
        assert!(s["total_cost_usd"].is_number());
    }
    assert!(!r.text().contains("secret"), "no transcript text anywhere");
}

#[tokio::test]
async fn sessions_filter_sort_and_page() {
    let server = seeded().await;
    let list = |q: &'static str| async move {
        let r = get(server.addr, &format!("/api/sessions?{q}")).await;
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        r.json()
    };
    let page = list("project=/w/app").await;
    assert_eq!(ids(&page), ["delta", "gamma", "alpha"]);
    assert_eq!(page["total"], 3);
    assert_eq!(
        ids(&list("status=completed").await),
        ["gamma", "alpha", "old"]
    );
    assert_eq!(ids(&list("status=FAILED&project=/w/lib").await), ["beta"]);
    let page = list("limit=2&offset=1").await;
    assert_eq!(ids(&page), ["gamma", "beta"]);
    assert_eq!(page["total"], 5, "the total ignores the page");
    assert_eq!(
        ids(&list("sort=total_cost_usd&order=asc").await),
        ["delta", "beta", "alpha", "gamma", "old"]
    );
    assert_eq!(
        ids(&list("sort=cost&limit=1").await),
        ["old"],
        "descending by default"
    );
    let since = (Timestamp::now() - SignedDuration::from_hours(24 * 30)).to_string();
    let until = ago(150).to_string();
    let r = get(
        server.addr,
        &format!("/api/sessions?since={since}&until={until}"),
    )
    .await;
    assert_eq!(ids(&r.json()), ["beta", "alpha"]);
}

#[tokio::test]
async fn bad_list_parameters_are_400_with_a_reason() {
    let server = seeded().await;
    for (q, says) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("status=RUNNING", "status"),
        ("sort=colour", "sort"),
        ("order=up", "order"),
        ("since=yesterday", "since"),
        ("tz=Mars/Olympus", "tz"),
    ] {
        let r = get(server.addr, &format!("/api/sessions?{q}")).await;
        assert_eq!(r.status, 400, "{q}");
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(says), "{q}: {error}");
    }
}

#[tokio::test]
async fn one_session_with_its_text_events_and_timeline() {
    let server = seeded().await;
    let r = get(server.addr, "/api/sessions/alpha").await;
    assert_eq!(r.status, 200);
    let s = r.json();
    assert_eq!(s["session_id"], "alpha");
    assert_eq!(
        s["last_prompt"], "the secret plan",
        "the session page has it"
    );

    let r = get(server.addr, "/api/sessions/alpha/events").await;
    assert_eq!(r.status, 200);
    let events = r.json();
    assert_eq!(events.as_array().unwrap().len(), 5);
    assert_eq!(events[0]["type"], "session_started");

    let r = get(server.addr, "/api/sessions/alpha/timeline").await;
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(t["events"], 5);
    let turns = t["turns"].as_array().unwrap();
    // Turn 0, the prompt's turn, and the model's round after the Bash result (Claude Code's
    // count).
    assert_eq!(turns.len(), 3, "{t:#}");
    assert_eq!(
        (turns[2]["index"].as_u64(), turns[2]["prompted"].as_bool()),
        (Some(2), Some(false))
    );
    let turn = &turns[1];
    assert_eq!(turn["index"], 1);
    assert_eq!(turn["prompt"], "the secret plan");
    // The answer came after the tool's result: in the round it opened.
    assert_eq!(turns[2]["tokens"]["output"], 100);
    assert_eq!(turns[2]["api_requests"], 1);
    assert!(turns[2]["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(turn["tools"][0]["name"], "Bash");
    assert_eq!(turn["tools"][0]["is_error"], true);
    assert_eq!(turn["tools"][0]["duration_ms"], 2000);

    for path in [
        "/api/sessions/nope",
        "/api/sessions/nope/events",
        "/api/sessions/nope/timeline",
    ] {
        let r = get(server.addr, path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.json()["error"].as_str().unwrap().contains("nope"));
    }
}

/// An interactive session of 60 s: the first prompt 5 s after the start, a Bash call of 4 s
/// (its own figure) and a failed Edit of 1 s, the turn over at 15 s, 10 s of API time, the user
/// gone at the end; 40 lines changed for Claude Code's $0.80.
#[tokio::test]
async fn a_session_s_performance_analytics() {
    let server = Server::start().await;
    let t0 = ago(600);
    let at = |s: i64| t0 + SignedDuration::from_secs(s);
    let mut s = stored("perf", t0, Status::Completed, "/w/app", 0.80);
    s.mode = Mode::Interactive;
    s.duration_ms = 60_000;
    s.duration_api_ms = 10_000;
    s.lines_added = 30;
    s.lines_removed = 10;
    s.tokens = Tokens {
        input: 1000,
        output: 500,
        cache_read: 3000,
        cache_creation: 1000,
        ..Tokens::default()
    };
    let tool = |id: &str, name: &str| EventKind::ToolUse {
        tool_use_id: id.into(),
        name: name.into(),
        sidechain: false,
    };
    let result = |id: &str, is_error: bool, duration_ms: Option<u64>| EventKind::ToolResult {
        tool_use_id: id.into(),
        is_error,
        duration_ms,
        sidechain: false,
    };
    let events = vec![
        event(
            "perf",
            at(5),
            EventKind::PromptSubmitted {
                id: Some("p1".into()),
                preview: Some("make it faster".into()),
            },
        ),
        event("perf", at(6), tool("t1", "Bash")),
        event("perf", at(10), result("t1", false, Some(4000))),
        event("perf", at(11), tool("t2", "Edit")),
        event("perf", at(12), result("t2", true, None)),
        event(
            "perf",
            at(13),
            EventKind::Usage {
                key: "msg_p".into(),
                request_id: None,
                reported_cost_usd: None,
                model: Some("claude-sonnet-4-5".into()),
                tokens: Tokens {
                    output: 100_000,
                    ..Tokens::default()
                },
                is_final: true,
                sidechain: false,
            },
        ),
        event("perf", at(15), EventKind::TurnEnded { duration_ms: None }),
    ];
    server
        .store
        .write(&Batch {
            sessions: vec![s],
            events,
            ..Batch::default()
        })
        .unwrap();

    let r = get(server.addr, "/api/sessions/perf/analytics").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let a = r.json();
    assert_eq!(a["session_id"], "perf");
    assert_eq!(a["mode"], "interactive");
    assert_eq!(
        // One prompt and two tool results: Claude Code's three turns.
        (a["turns"].as_u64(), a["events"].as_u64()),
        (Some(3), Some(7))
    );
    // Waiting: 5 s before the prompt, 45 s after the turn's end. Tools: 4 s + 1 s.
    assert_eq!(
        a["time"],
        json!({
            "wall_ms": 60_000, "api_ms": 10_000, "tool_ms": 5_000, "waiting_ms": 50_000,
            "other_ms": 0,
            "api_share": 10.0 / 65.0, "tool_share": 5.0 / 65.0, "waiting_share": 50.0 / 65.0,
            "other_share": 0.0,
        })
    );
    assert_eq!(
        a["tools"],
        json!([
            {"name": "Bash", "calls": 1, "errors": 0, "error_rate": 0.0, "timed_calls": 1,
             "total_ms": 4000, "mean_ms": 4000, "max_ms": 4000},
            {"name": "Edit", "calls": 1, "errors": 1, "error_rate": 1.0, "timed_calls": 1,
             "total_ms": 1000, "mean_ms": 1000, "max_ms": 1000},
        ])
    );
    let slowest = &a["slowest_calls"][0];
    assert_eq!(
        (&slowest["name"], &slowest["duration_ms"], &slowest["turn"]),
        (&json!("Bash"), &json!(4000), &json!(1))
    );
    assert!(slowest.get("session_id").is_none(), "one session: no ids");
    assert_eq!(
        a["cache"],
        json!({"input": 1000, "cache_read": 3000, "cache_creation": 1000,
               "hit_ratio": 0.6, "reads_per_write": 3.0})
    );
    assert_eq!(
        a["cost_per_line"],
        json!({"lines_added": 30, "lines_removed": 10, "cost_usd": 0.8, "usd_per_line": 0.02})
    );
    assert_eq!(
        (&a["cost_usd"], &a["cost_source"]),
        (&json!(0.8), &json!("reported"))
    );
    // The answer after the Edit's result: the third round (turn 3), no prompt of its own.
    let turn = &a["costliest_turns"][0];
    assert_eq!(turn["index"], 3);
    assert_eq!(turn["prompt"], Value::Null);
    // 100k output tokens of Sonnet at $15 per million.
    assert_eq!(turn["cost_usd"], 1.5);
    assert_eq!(turn["tool_calls"], 0);

    let r = get(server.addr, "/api/sessions/nope/analytics").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_live_session_comes_from_the_monitor_not_the_store() {
    let server = seeded().await;
    let mut fresher = stored("delta", ago(50), Status::Active, "/w/app", 0.05);
    fresher.num_turns = 9;
    server.publish_snapshot(crate::live_snapshot(fresher));
    let r = get(server.addr, "/api/sessions/delta").await;
    assert_eq!(r.json()["num_turns"], 9);
}

#[tokio::test]
async fn summaries_of_today_this_week_and_this_month() {
    let server = seeded().await;
    for period in ["day", "week", "month"] {
        let r = get(server.addr, &format!("/api/summary?period={period}&tz=UTC")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v["period"], period);
        assert_eq!(v["tz"], "UTC");
        // The four sessions of the last few minutes (unless this runs at midnight UTC).
        let n = v["sessions"].as_u64().unwrap();
        assert!((4..=5).contains(&n) || period == "day", "{v:#}");
        // The window's one response (alpha's: $3/M × 1000 input + $15/M × 100 output), not
        // the sessions' own totals; none when the period just began.
        let cost = v["total_cost_usd"].as_f64().unwrap();
        assert!(
            (cost - 0.0045).abs() < 1e-9 || (cost == 0.0 && v["requests"] == 0),
            "{v:#}"
        );
        assert!(v["by_status"].is_object());
        assert!(v["since"].as_str().unwrap() < v["until"].as_str().unwrap());
    }
    let r = get(server.addr, "/api/summary").await;
    assert_eq!(r.json()["period"], "day", "day by default");
    let r = get(server.addr, "/api/summary?period=year").await;
    assert_eq!(r.status, 400);
    let r = get(server.addr, "/api/summary?tz=Nowhere/Land").await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn a_session_that_just_ended_counts_in_todays_summary_before_the_store_has_it() {
    let server = seeded().await;
    let before = get(server.addr, "/api/summary?period=day").await.json();
    let now = Timestamp::now();
    let mut ended = crate::session("just-ended", &now.to_string());
    // One response the store has not been told of: 100k output tokens of Sonnet 4.5, $1.50.
    let usage = EventKind::Usage {
        key: "msg_ended".into(),
        request_id: None,
        reported_cost_usd: None,
        model: Some("claude-sonnet-4-5".into()),
        tokens: Tokens {
            output: 100_000,
            ..Tokens::default()
        },
        is_final: true,
        sidechain: false,
    };
    ended.apply(&event("just-ended", now, usage), &PriceTable::builtin());
    ended.status = Status::Completed;
    let mut snap = Snapshot::inactive(Timestamp::now());
    snap.data = Some(ended);
    server.publish_snapshot(snap);
    let after = get(server.addr, "/api/summary?period=day").await.json();
    assert_eq!(
        after["sessions"].as_u64().unwrap(),
        before["sessions"].as_u64().unwrap() + 1
    );
    let added =
        after["total_cost_usd"].as_f64().unwrap() - before["total_cost_usd"].as_f64().unwrap();
    assert!((added - 1.5).abs() < 1e-9, "{before:#} → {after:#}");
    assert_eq!(
        after["requests"].as_u64().unwrap(),
        before["requests"].as_u64().unwrap() + 1
    );
}

#[tokio::test]
async fn costs_for_the_charts() {
    let server = seeded().await;
    let r = get(server.addr, "/api/costs?tz=UTC").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let days = v["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "every day of the window");
    let total: f64 = days
        .iter()
        .map(|d| d["total_cost_usd"].as_f64().unwrap())
        .sum();
    assert!(total > 0.0, "the usage of alpha is priced: {v:#}");
    assert_eq!(v["by_model"][0]["name"], "claude-sonnet-4-5");
    assert_eq!(v["by_project"][0]["name"], "/w/app");
    assert_eq!(v["tz"], "UTC");
    let r = get(server.addr, "/api/costs?days=7").await;
    assert_eq!(r.json()["days"].as_array().unwrap().len(), 7);
    for bad in ["days=0", "days=400", "days=x"] {
        assert_eq!(
            get(server.addr, &format!("/api/costs?{bad}")).await.status,
            400
        );
    }
}

/// The charts' answer is kept while nothing is written, and a write is in the next answer.
#[tokio::test]
async fn a_write_shows_in_the_next_cost_answer() {
    let server = seeded().await;
    let cost = |v: &Value| v["total_cost_usd"].as_f64().unwrap();
    let first = get(server.addr, "/api/costs?tz=UTC").await.json();
    let again = get(server.addr, "/api/costs?tz=UTC").await.json();
    assert_eq!(first, again, "nothing written: the same answer");
    server
        .store
        .write(&Batch {
            usage: vec![UsageRow {
                key: "msg_late".into(),
                session_id: SessionId::new("gamma"),
                at: ago(10),
                model: Some("claude-sonnet-4-5".into()),
                tokens: Tokens {
                    output: 1_000_000,
                    ..Tokens::default()
                },
                sidechain: false,
            }],
            ..Batch::default()
        })
        .unwrap();
    let after = get(server.addr, "/api/costs?tz=UTC").await.json();
    assert!(
        cost(&after) > cost(&first) + 1.0,
        "a million output tokens more: {} then {}",
        cost(&first),
        cost(&after)
    );
}

#[tokio::test]
async fn a_date_range_applies_to_the_summary_the_charts_and_the_listing() {
    let server = seeded().await;
    // "old" started 40 days ago; the others minutes ago.
    let r = get(server.addr, "/api/summary?range=all&tz=UTC").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let all = r.json();
    assert_eq!(all["sessions"], 5, "{all:#}");
    assert_eq!(all["range"], "all");
    assert_eq!(all["from"], Value::Null);
    assert!(all["first_started_at"].is_string());
    let week = get(server.addr, "/api/summary?range=7d&tz=UTC")
        .await
        .json();
    assert!(
        (3..=4).contains(&week["sessions"].as_u64().unwrap()),
        "{week:#}"
    );
    assert_eq!(week["range"], "7d");

    let old_day = (ago(40 * 86_400).to_zoned_datetime(jiff::tz::TimeZone::UTC)).date();
    let custom = format!("from={old_day}&to={old_day}&tz=UTC");
    let page = get(server.addr, &format!("/api/sessions?{custom}"))
        .await
        .json();
    assert_eq!(ids(&page), ["old"], "both ends are inclusive days");
    let one = get(server.addr, &format!("/api/summary?{custom}"))
        .await
        .json();
    assert_eq!(
        (one["sessions"].as_u64(), one["range"].as_str()),
        (Some(1), Some("custom"))
    );

    let costs = get(server.addr, "/api/costs?range=today&tz=UTC")
        .await
        .json();
    assert_eq!(costs["days"].as_array().unwrap().len(), 1, "{costs:#}");
    assert_eq!(costs["range"], "today");
    let costs = get(server.addr, &format!("/api/costs?from={old_day}&tz=UTC"))
        .await
        .json();
    assert_eq!(costs["days"].as_array().unwrap().len(), 41, "{costs:#}");
    // All time begins on the first response's day (alpha's, minutes ago).
    let costs = get(server.addr, "/api/costs?range=all&tz=UTC").await.json();
    assert!(costs["days"].as_array().unwrap().len() <= 2, "{costs:#}");
    assert!(costs["total_cost_usd"].as_f64().unwrap() > 0.0);

    for bad in [
        "/api/summary?range=year",
        "/api/costs?from=2026-13-01",
        "/api/sessions?from=2026-05-02&to=2026-05-01",
        "/api/costs?from=1990-01-01",
    ] {
        let r = get(server.addr, bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.json()["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}

#[tokio::test]
async fn sessions_filter_by_the_model_they_used() {
    let server = seeded().await;
    let page = get(server.addr, "/api/sessions?model=claude-sonnet-4-5&limit=2")
        .await
        .json();
    assert_eq!(page["total"], 5);
    let page = get(server.addr, "/api/sessions?model=claude-haiku-4-5")
        .await
        .json();
    assert_eq!((page["total"].as_u64(), ids(&page).len()), (Some(0), 0));
}

#[tokio::test]
async fn the_limits_panel_joins_the_binary_s_figures_with_the_official_limits() {
    use cclive_core::budget::{BudgetStatus, Level, Period};
    use cclive_core::statusline::{RateLimit, RateLimits};
    use cclive_server::{LimitsSource, MetricSources, PeriodSpend, ServerConfig, UsageLimits};

    let bare = Server::start().await;
    let v = get(bare.addr, "/api/limits").await.json();
    assert_eq!(
        (&v["available"], &v["block"], &v["rate_limits"]),
        (&json!(false), &Value::Null, &Value::Null),
        "{v:#}"
    );

    let start: Timestamp = "2026-09-03T00:00:00Z".parse().unwrap();
    let end: Timestamp = "2026-09-04T00:00:00Z".parse().unwrap();
    let source: LimitsSource = std::sync::Arc::new(move |_now| {
        Ok(UsageLimits {
            block: None,
            periods: vec![PeriodSpend {
                period: Period::Day,
                key: "2026-09-03".into(),
                start,
                end,
                spent_usd: 8.5,
                projected_usd: 17.0,
            }],
            budgets: vec![BudgetStatus {
                project: None,
                period: Period::Day,
                period_key: "2026-09-03".into(),
                start,
                end,
                limit_usd: 10.0,
                spent_usd: 8.5,
                percent: 85.0,
                projected_usd: 17.0,
                projected_percent: 170.0,
                level: Level::Warning,
            }],
        })
    });
    let server = Server::with_sources(
        ServerConfig::default(),
        cclive_server::LiveHub::default(),
        MetricSources {
            limits: Some(source),
            ..MetricSources::default()
        },
    )
    .await;
    let mut snap = cclive_core::Snapshot::inactive(Timestamp::now());
    snap.rate_limits = Some(RateLimits {
        five_hour: Some(RateLimit {
            used_percentage: 61.0,
            resets_at: Some(end),
        }),
        seven_day: None,
        reported_at: Some(start),
    });
    server.publish_snapshot(snap);
    let r = get(server.addr, "/api/limits").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["available"], true);
    assert_eq!(v["periods"][0]["level"], "warning", "{v:#}");
    assert_eq!(v["periods"][0]["limit_usd"], 10.0);
    assert_eq!(v["rate_limits"]["five_hour"]["used_percentage"], 61.0);
    assert_eq!(v["rate_limits"]["reported_at"], "2026-09-03T00:00:00Z");
}

fn webhook_event(id: &str) -> Value {
    json!({
        "session_id": id,
        "at": Timestamp::now().to_string(),
        "type": "session_started",
        "mode": "print",
        "source": "other-tool",
        "command": "other-tool run"
    })
}

#[tokio::test]
async fn the_webhook_takes_events_from_other_tools() {
    let server = Server::start().await;
    let r = post_json(server.addr, "/api/session/webhook", &webhook_event("w1")).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["accepted"], 1);
    let batch = json!([
        webhook_event("w2"),
        {"session_id": "w2", "at": Timestamp::now().to_string(), "type": "process_exited", "code": 0}
    ]);
    let r = post_json(server.addr, "/api/session/webhook", &batch).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["accepted"], 2);
    let got = server.received().await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].session_id.as_str(), "w1");
    assert!(matches!(
        got[2].kind,
        EventKind::ProcessExited { code: Some(0), .. }
    ));
}

#[tokio::test]
async fn bad_webhook_input_is_refused_with_a_clear_4xx_and_nothing_applied() {
    let server = Server::start().await;
    let post = |body: &'static [u8], content_type: &'static str| async move {
        request(
            server.addr,
            "POST",
            "/api/session/webhook",
            &[("Content-Type", content_type)],
            Some(body),
        )
        .await
    };
    let cases: Vec<(Vec<u8>, &str, u16, &str)> = vec![
        (b"{not json".to_vec(), "application/json", 400, "not JSON"),
        (
            b"42".to_vec(),
            "application/json",
            400,
            "expected an event object",
        ),
        (b"[]".to_vec(), "application/json", 422, "no events"),
        (
            serde_json::to_vec(&webhook_event("x")).unwrap(),
            "text/plain",
            415,
            "application/json",
        ),
        (
            br#"{"session_id":"x","at":"2026-11-25T10:00:00Z","type":"teleported"}"#.to_vec(),
            "application/json",
            422,
            "unknown type \"teleported\"",
        ),
        (
            br#"{"at":"2026-11-25T10:00:00Z","type":"title","title":"t"}"#.to_vec(),
            "application/json",
            422,
            "session_id",
        ),
        (
            br#"{"session_id":"","at":"2026-11-25T10:00:00Z","type":"title","title":"t"}"#.to_vec(),
            "application/json",
            422,
            "session_id",
        ),
        (
            br#"{"session_id":"x","at":"yesterday","type":"title","title":"t"}"#.to_vec(),
            "application/json",
            422,
            "event 0",
        ),
        (
            br#"{"session_id":"x","at":"2999-01-01T00:00:00Z","type":"title","title":"t"}"#
                .to_vec(),
            "application/json",
            422,
            "future",
        ),
        (
            br#"{"session_id":"x","at":"2026-11-25T10:00:00Z","type":"usage","key":"k"}"#.to_vec(),
            "application/json",
            422,
            "tokens",
        ),
        // A count that used to wrap every sum it entered (issue 12, defect 3).
        (
            br#"{"session_id":"x","at":"2026-11-25T10:00:00Z","type":"usage","key":"k","tokens":{"input":1,"output":18446744073709551615,"cache_read":0,"cache_creation":0}}"#.to_vec(),
            "application/json",
            422,
            "beyond any model's limit",
        ),
    ];
    for (body, content_type, status, says) in cases {
        let body: &'static [u8] = Box::leak(body.into_boxed_slice());
        let r = post(body, content_type).await;
        assert_eq!(
            r.status,
            status,
            "{}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(says), "{error:?} should say {says:?}");
    }
    // One bad event refuses the whole call.
    let mixed = json!([webhook_event("ok"), {"session_id": "bad", "at": "2026-11-25T10:00:00Z", "type": "nope"}]);
    let r = post_json(server.addr, "/api/session/webhook", &mixed).await;
    assert_eq!(r.status, 422);
    assert!(r.json()["error"].as_str().unwrap().contains("event 1"));
    let too_many = Value::Array((0..1001).map(|_| webhook_event("many")).collect());
    assert_eq!(
        post_json(server.addr, "/api/session/webhook", &too_many)
            .await
            .status,
        422
    );
    assert!(server.received().await.is_empty(), "nothing was applied");
}

#[tokio::test]
async fn hooks_answer_204_with_an_empty_body_and_events_202() {
    let server = Server::start().await;
    let payload = json!({
        "session_id": "h1",
        "transcript_path": "/tmp/h1.jsonl",
        "cwd": "/w/app",
        "hook_event_name": "UserPromptSubmit",
        "prompt": "hello"
    });
    let r = request(
        server.addr,
        "POST",
        "/api/hooks",
        &[("Host", &format!("127.0.0.1:{}", server.addr.port()))],
        Some(&serde_json::to_vec(&payload).unwrap()),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.body.is_empty());
    let r = post_json(server.addr, "/api/events", &webhook_event("e1")).await;
    assert_eq!(r.status, 202);
    let got = server.received().await;
    assert!(got.iter().any(|e| e.session_id.as_str() == "h1"));
    assert!(got.iter().any(|e| e.session_id.as_str() == "e1"));
    let r = request(server.addr, "POST", "/api/hooks", &[], Some(b"nope")).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn pages_and_assets_are_embedded_with_their_types_and_a_strict_csp() {
    let server = Server::start().await;
    let r = get(server.addr, "/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let html = r.text();
    assert!(html.contains("/assets/dashboard.js"));
    assert!(html.contains("content=\"2000\""), "the refresh interval");
    let etag = r.header("etag").unwrap().to_owned();
    let again = request(server.addr, "GET", "/", &[("If-None-Match", &etag)], None).await;
    assert_eq!(again.status, 304);

    let r = get(server.addr, "/sessions/alpha").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("/assets/session.js"));
    for (path, ty) in [
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/common.js", "text/javascript; charset=utf-8"),
        ("/assets/dashboard.js", "text/javascript; charset=utf-8"),
        ("/assets/session.js", "text/javascript; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
        ("/favicon.ico", "image/svg+xml"),
        ("/api/openapi.json", "application/json"),
    ] {
        let r = get(server.addr, path).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ty), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
    }
    let doc = get(server.addr, "/api/openapi.json").await.json();
    assert!(doc["paths"]["/api/session/webhook"]["post"].is_object());
    assert_eq!(get(server.addr, "/assets/nope.js").await.status, 404);
    let r = get(server.addr, "/api/nope").await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string());
}

#[tokio::test]
async fn a_shut_down_monitor_answers_503_to_intake() {
    let server = Server::start().await;
    // Close the monitor's end of the intake channel.
    drop(std::mem::replace(
        &mut *server.events.lock().await,
        tokio::sync::mpsc::channel(1).1,
    ));
    let r = post_json(server.addr, "/api/events", &webhook_event("late")).await;
    assert_eq!(r.status, 503);
    let r = tokio::time::timeout(Duration::from_secs(5), server.shutdown()).await;
    assert!(r.unwrap().is_ok());
}

/// `value` with every time (an RFC 3339 string) as `[time]`, so a snapshot holds the shape and
/// the figures, not the moment the test ran.
fn redact_times(value: &mut Value) {
    match value {
        Value::String(s) if s.parse::<Timestamp>().is_ok() => "[time]".clone_into(s),
        Value::Array(items) => items.iter_mut().for_each(redact_times),
        Value::Object(map) => map.values_mut().for_each(redact_times),
        _ => {}
    }
}

/// The JSON of `/api/current-session` as the dashboard, the VS Code extension and scripts read
/// it: the state file's object, whole (issue #10: a snapshot per shape users depend on).
#[tokio::test]
async fn current_session_json_snapshot() {
    let server = Server::start().await;
    let r = get(server.addr, "/api/current-session").await;
    let mut inactive = r.json();
    redact_times(&mut inactive);
    insta::assert_json_snapshot!("api_current_session_inactive", inactive);

    let s = stored("live", ago(5), Status::Active, "/w/app", 0.1);
    let mut snap = crate::live_snapshot(s);
    snap.monitor_pid = Some(42);
    server.publish_snapshot(snap);
    let r = get(server.addr, "/api/current-session").await;
    assert_eq!(r.status, 200);
    let mut live = r.json();
    redact_times(&mut live);
    insta::assert_json_snapshot!("api_current_session_live", live);
}

/// The JSON of `/api/sessions`: the page, and each session's list view (no transcript text).
#[tokio::test]
async fn sessions_json_snapshot() {
    let server = seeded().await;
    let r = get(server.addr, "/api/sessions?limit=2").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut page = r.json();
    redact_times(&mut page);
    insta::assert_json_snapshot!("api_sessions", page);
}
