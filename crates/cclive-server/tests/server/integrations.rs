//! `/calendar.ics` read back by an iCalendar parser, `/metrics` by a Prometheus text-format
//! parser (budget gauges included), `/api/integrations` as the dashboard reads it; all behind
//! the same access rules as the rest.

use std::net::IpAddr;
use std::sync::Arc;

use cclive_core::budget::{Budget, Limits};
use cclive_core::report::UsageRecord;
use cclive_core::{CostSource, PriceTable, SessionId, SessionState, Status, Tokens};
use cclive_server::{
    Access, DeliveryEntry, LiveHub, MetricSources, Outcome, ServerConfig, SinkKind, SinkReport,
    Token,
};
use cclive_store::Store;
use icalendar::{CalendarComponent, CalendarDateTime, Component, DatePerhapsTime};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::client::{get, request};
use crate::{Server, live_snapshot};

fn ago(secs: i64) -> Timestamp {
    Timestamp::now() - SignedDuration::from_secs(secs)
}

fn finished(id: &str, started: Timestamp, project: &str, turns: u64) -> SessionState {
    let mut s = SessionState::new(SessionId::new(id), started);
    s.status = Status::Completed;
    s.project_path = Some(project.to_owned());
    s.model = Some("claude-sonnet-4-5".into());
    s.total_cost_usd = 0.25;
    s.cost_source = CostSource::Reported;
    s.num_turns = turns;
    s.tokens = Tokens {
        input: 100,
        output: 50,
        cache_read: 7,
        cache_creation: 3,
        ..Tokens::default()
    };
    s.tool_calls.insert("Bash".into(), 2);
    s.duration_ms = 90_000;
    s.ended_at = Some(started + SignedDuration::from_secs(90));
    s.updated_at = started + SignedDuration::from_secs(90);
    s
}

fn utc_seconds(t: Option<DatePerhapsTime>) -> i64 {
    match t {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(t))) => t.timestamp(),
        other => panic!("not a UTC date-time: {other:?}"),
    }
}

#[tokio::test]
async fn the_calendar_has_one_event_per_session_and_filters_by_project() {
    let server = Server::start().await;
    let a = finished("cal-a", ago(3600), "/w/app, with; odd chars", 3);
    let b = finished("cal-b", ago(1800), "/w/lib", 5);
    server
        .store
        .write_batch(&[a.clone(), b.clone()], &[])
        .unwrap();
    let mut live = SessionState::new(SessionId::new("cal-live"), ago(60));
    live.project_path = Some("/w/lib".into());
    server.publish_snapshot(live_snapshot(live));

    let r = get(server.addr, "/calendar.ics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = r.text();
    assert!(text.lines().all(|l| l.len() <= 75));
    let calendar: icalendar::Calendar = text.parse().unwrap();
    let events: Vec<&icalendar::Event> = calendar
        .components
        .iter()
        .filter_map(CalendarComponent::as_event)
        .collect();
    assert_eq!(events.len(), 3, "{text}");

    let event_a = events
        .iter()
        .find(|e| e.get_uid() == Some("cal-a@cclive"))
        .unwrap();
    assert_eq!(
        event_a.get_summary(),
        Some("/w/app, with; odd chars".rsplit('/').next().unwrap())
            .map(|p| format!("{p} — COMPLETED"))
            .as_deref()
    );
    let description = event_a.get_description().unwrap();
    assert!(description.contains("Cost: $0.2500"), "{description}");
    assert!(description.contains("Turns: 3\n"), "{description}");
    assert!(description.contains("Tokens: 160 "), "{description}");
    assert_eq!(utc_seconds(event_a.get_start()), a.started_at.as_second());
    assert_eq!(
        utc_seconds(event_a.get_end()),
        a.ended_at.unwrap().as_second()
    );

    let event_live = events
        .iter()
        .find(|e| e.get_uid() == Some("cal-live@cclive"))
        .unwrap();
    assert_eq!(event_live.get_summary(), Some("lib — ACTIVE"));
    assert!(utc_seconds(event_live.get_end()) >= ago(5).as_second());

    let lib = get(server.addr, "/calendar.ics?project=/w/lib")
        .await
        .text();
    let lib: icalendar::Calendar = lib.parse().unwrap();
    let mut uids: Vec<&str> = lib
        .components
        .iter()
        .filter_map(CalendarComponent::as_event)
        .filter_map(Component::get_uid)
        .collect();
    uids.sort_unstable();
    assert_eq!(uids, ["cal-b@cclive", "cal-live@cclive"]);
}

fn scrape(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let sample = scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no {metric} {labels:?}"));
    match &sample.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => *v,
        other => panic!("{metric}: {other:?}"),
    }
}

#[tokio::test]
async fn metrics_parse_as_the_text_format_and_counters_move_after_a_session() {
    let server = Server::start().await;
    let r = get(server.addr, "/metrics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let before = scrape(&r.text());
    assert_eq!(
        value(&before, "cclive_active_sessions", &[("status", "ACTIVE")]),
        0.0
    );
    assert!(
        !before
            .samples
            .iter()
            .any(|s| s.metric == "cclive_turns_total")
    );

    server
        .store
        .write_batch(&[finished("m-1", ago(600), "/w/app", 4)], &[])
        .unwrap();
    let mut live = SessionState::new(SessionId::new("m-live"), ago(10));
    live.project_path = Some("/w/app".into());
    live.model = Some("claude-sonnet-4-5".into());
    live.num_turns = 1;
    server.publish_snapshot(live_snapshot(live));

    let text = get(server.addr, "/metrics").await.text();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, number) = line.rsplit_once(' ').unwrap();
        assert!(number.parse::<f64>().is_ok() || number == "+Inf", "{line}");
    }
    let after = scrape(&text);
    let app = [("project", "/w/app"), ("model", "claude-sonnet-4-5")];
    assert_eq!(
        value(&after, "cclive_active_sessions", &[("status", "ACTIVE")]),
        1.0
    );
    assert_eq!(value(&after, "cclive_turns_total", &app), 5.0);
    assert_eq!(value(&after, "cclive_sessions_total", &app), 2.0);
    assert_eq!(value(&after, "cclive_tool_calls_total", &app), 2.0);
    assert_eq!(value(&after, "cclive_cost_usd_total", &app), 0.25);
    let cache_read = [app[0], app[1], ("kind", "cache_read")];
    assert_eq!(value(&after, "cclive_tokens_total", &cache_read), 7.0);
    let histogram = after
        .samples
        .iter()
        .find(|s| s.metric == "cclive_session_duration_seconds")
        .unwrap();
    let prometheus_parse::Value::Histogram(buckets) = &histogram.value else {
        panic!("{histogram:?}");
    };
    let le = |bound: f64| buckets.iter().find(|b| b.less_than == bound).unwrap().count;
    assert_eq!((le(60.0), le(300.0), le(f64::INFINITY)), (0.0, 1.0, 1.0));
    assert!(after.docs.contains_key("cclive_session_duration_seconds"));
}

#[tokio::test]
async fn metrics_and_the_calendar_follow_the_host_rules() {
    let server = Server::start().await;
    for path in ["/metrics", "/calendar.ics", "/api/integrations"] {
        let r = request(server.addr, "GET", path, &[("Host", "evil.example")], None).await;
        assert_eq!(r.status, 403, "{path}");
    }
}

#[tokio::test]
async fn with_a_token_programs_read_them_with_the_token_and_no_redirect() {
    let token = "metrics-token-0123456789";
    let config = ServerConfig {
        access: Access::new(
            "127.0.0.1",
            IpAddr::from([127, 0, 0, 1]),
            Some(Token::new(token).unwrap()),
        ),
        ..ServerConfig::default()
    };
    let server = Server::with(config, LiveHub::default()).await;
    for path in ["/metrics", "/calendar.ics"] {
        assert_eq!(get(server.addr, path).await.status, 401, "{path}");
        let bearer = format!("Bearer {token}");
        let r = request(
            server.addr,
            "GET",
            path,
            &[("Authorization", &bearer)],
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{path}");
        let r = get(server.addr, &format!("{path}?token={token}")).await;
        assert_eq!(
            r.status, 200,
            "{path}: a calendar app follows no cookie redirect"
        );
    }
}

/// Sonnet output worth `usd` ($15 per million tokens) at `at`, in `project`.
fn spend(at: Timestamp, project: &str, usd: u64) -> UsageRecord {
    UsageRecord {
        at,
        session_id: SessionId::new("b"),
        project: Some(project.to_owned()),
        model: Some("claude-sonnet-4-5".into()),
        tokens: Tokens {
            output: usd * 1_000_000 / 15,
            ..Tokens::default()
        },
    }
}

/// What the binary hands over: the core's evaluation of a `[budget]` (global: $10 a day and
/// $100 a month; project app: $4 a day), here of fixed usage ($3 in app, $5 in lib today).
fn budget_sources() -> MetricSources {
    let budget = Budget {
        limits: Limits {
            daily_usd: Some(10.0),
            monthly_usd: Some(100.0),
            ..Limits::default()
        },
        projects: [(
            "app".to_owned(),
            Limits {
                daily_usd: Some(4.0),
                ..Limits::default()
            },
        )]
        .into(),
        ..Budget::default()
    };
    let now = Timestamp::now();
    let records = vec![spend(now, "/w/app", 3), spend(now, "/w/lib", 5)];
    MetricSources {
        budgets: Some(Arc::new(move || {
            Ok(cclive_core::budget::evaluate(
                &budget,
                &records,
                Timestamp::now(),
                &jiff::tz::TimeZone::UTC,
                &PriceTable::builtin(),
            ))
        })),
        ..MetricSources::default()
    }
}

#[tokio::test]
async fn budget_use_is_a_gauge_per_budget_and_period() {
    let sources = budget_sources();
    let server = Server::with_sources(ServerConfig::default(), LiveHub::default(), sources).await;
    let text = get(server.addr, "/metrics").await.text();
    let m = scrape(&text);
    let global_day = [("budget", "global"), ("period", "day")];
    // Token counts are whole, so a dollar figure is a few millionths off.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
    assert!(
        close(value(&m, "cclive_budget_spent_usd", &global_day), 8.0),
        "{text}"
    );
    assert_eq!(value(&m, "cclive_budget_limit_usd", &global_day), 10.0);
    assert!(close(
        value(&m, "cclive_budget_used_ratio", &global_day),
        0.8
    ));
    assert!(value(&m, "cclive_budget_projected_usd", &global_day) >= 8.0);
    let global_month = [("budget", "global"), ("period", "month")];
    assert!(close(
        value(&m, "cclive_budget_used_ratio", &global_month),
        0.08
    ));
    let app_day = [("budget", "project:app"), ("period", "day")];
    assert!(close(value(&m, "cclive_budget_spent_usd", &app_day), 3.0));
    assert!(close(value(&m, "cclive_budget_used_ratio", &app_day), 0.75));
    assert!(
        !m.samples.iter().any(
            |s| s.metric.starts_with("cclive_budget") && s.labels.get("period") == Some("week")
        ),
        "no weekly limit, no weekly series"
    );
    let gauge = m
        .samples
        .iter()
        .find(|s| s.metric == "cclive_budget_limit_usd")
        .unwrap();
    assert!(
        matches!(gauge.value, prometheus_parse::Value::Gauge(_)),
        "{gauge:?}"
    );
}

#[tokio::test]
async fn api_budget_is_the_use_of_every_limit_as_json() {
    let server = Server::with_sources(
        ServerConfig::default(),
        LiveHub::default(),
        budget_sources(),
    )
    .await;
    let v = get(server.addr, "/api/budget").await.json();
    assert_eq!(v["configured"], true);
    let budgets = v["budgets"].as_array().unwrap();
    let global_day = budgets
        .iter()
        .find(|b| b["project"].is_null() && b["period"] == "day")
        .unwrap();
    assert!((global_day["spent_usd"].as_f64().unwrap() - 8.0).abs() < 1e-4);
    assert_eq!(global_day["limit_usd"], 10.0);
    // Whole tokens make it a few millionths under $8: just under the 80 % threshold.
    assert_eq!(global_day["level"], "notice");
    let app_day = budgets
        .iter()
        .find(|b| b["project"] == "app" && b["period"] == "day")
        .unwrap();
    assert!((app_day["percent"].as_f64().unwrap() - 75.0).abs() < 1e-2);
    assert!(budgets.iter().all(|b| b["period"] != "week"));

    let none = Server::start().await;
    let v = get(none.addr, "/api/budget").await.json();
    assert_eq!(v, serde_json::json!({ "configured": false, "budgets": [] }));
}

#[tokio::test]
async fn without_budgets_or_when_they_cannot_be_read_the_other_metrics_still_come() {
    let server = Server::start().await;
    let text = get(server.addr, "/metrics").await.text();
    assert!(!text.contains("cclive_budget_"), "{text}");

    let failing = MetricSources {
        budgets: Some(Arc::new(|| {
            Err(cclive_store::StoreError::Corrupt {
                what: "usage".into(),
                detail: "the disk is on fire".into(),
            })
        })),
        ..MetricSources::default()
    };
    let server = Server::with_sources(ServerConfig::default(), LiveHub::default(), failing).await;
    let r = get(server.addr, "/metrics").await;
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(!text.contains("cclive_budget_spent_usd{"), "{text}");
    assert!(!text.contains("on fire"), "{text}");
    scrape(&text);
    assert!(text.contains("cclive_active_sessions"));
}

fn entry(
    id: &str,
    outcome: Outcome,
    http_status: Option<u16>,
    error: Option<&str>,
) -> DeliveryEntry {
    DeliveryEntry {
        id: id.into(),
        at: "2026-11-25T12:00:00Z".parse().unwrap(),
        event: "session_ended".into(),
        session_id: Some("s-1".into()),
        outcome,
        http_status,
        exit_code: None,
        error: error.map(str::to_owned),
        attempts: u32::from(outcome != Outcome::Dropped) * 2,
        duration_ms: 512,
    }
}

#[tokio::test]
async fn integrations_list_every_sink_with_its_counts_and_recent_deliveries() {
    let empty = Server::start().await;
    let r = get(empty.addr, "/api/integrations").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({ "sinks": [] }), "nothing configured");

    let webhook = SinkReport {
        kind: SinkKind::Webhook,
        name: "calendar".into(),
        target: "https://hooks.example.com/…".into(),
        events: vec!["session_started".into(), "session_ended".into()],
        queued: 2,
        in_flight: true,
        delivered: 1,
        failed: 1,
        dropped: 1,
        retries: 1,
        timeouts: 0,
        last_error: Some("HTTP 503".into()),
        last_error_at: Some("2026-11-25T11:59:00Z".parse().unwrap()),
        last_delivered_at: Some("2026-11-25T12:00:00Z".parse().unwrap()),
        recent: vec![
            entry(
                "d3",
                Outcome::Dropped,
                None,
                Some("queue full: dropped the oldest"),
            ),
            entry("d2", Outcome::Delivered, Some(200), None),
            entry("d1", Outcome::Failed, Some(503), Some("HTTP 503")),
        ],
    };
    let command = SinkReport::new(
        SinkKind::OnChange,
        "notes".into(),
        "notify.sh …".into(),
        vec!["budget_threshold".into()],
    );
    let reports = vec![webhook, command];
    let sources = MetricSources {
        integrations: Some(Arc::new(move || reports.clone())),
        ..MetricSources::default()
    };
    let server = Server::with_sources(ServerConfig::default(), LiveHub::default(), sources).await;
    let body = get(server.addr, "/api/integrations").await.json();
    let sinks = body["sinks"].as_array().unwrap();
    assert_eq!(sinks.len(), 2);
    let w = &sinks[0];
    assert_eq!(w["kind"], "webhook");
    assert_eq!(w["target"], "https://hooks.example.com/…");
    assert_eq!(
        (
            &w["delivered"],
            &w["failed"],
            &w["dropped"],
            &w["queued"],
            &w["in_flight"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(2), &json!(true))
    );
    assert_eq!(w["last_error"], "HTTP 503");
    let outcomes: Vec<&str> = w["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["dropped", "delivered", "failed"],
        "newest first, as given"
    );
    assert_eq!(
        w["recent"][2],
        json!({
            "id": "d1", "at": "2026-11-25T12:00:00Z", "event": "session_ended",
            "session_id": "s-1", "outcome": "failed", "http_status": 503,
            "error": "HTTP 503", "attempts": 2, "duration_ms": 512
        })
    );
    assert!(w["recent"][0].get("http_status").is_none());
    let c = &sinks[1];
    assert_eq!(
        (&c["kind"], &c["target"]),
        (&json!("on_change"), &json!("notify.sh …"))
    );
    assert!(c.get("last_error").is_none());
    assert_eq!(c["recent"], json!([]));
}
