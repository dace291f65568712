//! Reports over fixtures with known totals: midnight, zones, a DST week, breakdowns, reported
//! session costs, filters and the JSON shape.

use jiff::Timestamp;
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use serde_json::Value;

use super::*;

/// One sonnet response: 1000 input + 1000 output tokens cost exactly $0.018.
const SONNET: &str = "claude-sonnet-4-5";
const OPUS: &str = "claude-opus-4-1";

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn rec(
    when: &str,
    session: &str,
    project: &str,
    model: &str,
    input: u64,
    output: u64,
) -> UsageRecord {
    UsageRecord {
        at: at(when),
        session_id: SessionId::new(session),
        project: Some(project.to_owned()),
        model: Some(model.to_owned()),
        tokens: Tokens {
            input,
            output,
            cache_read: 0,
            cache_creation: 0,
            ..Tokens::default()
        },
    }
}

fn opts(tz: &str) -> ReportOptions {
    ReportOptions::new(TimeZone::get(tz).unwrap())
}

fn prices() -> PriceTable {
    PriceTable::builtin()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// A session from 23:30 to 00:30 UTC: its responses land on two days, and the totals equal the
/// sum of the days.
#[test]
fn a_session_that_crosses_midnight_is_split_between_its_days() {
    let records = vec![
        rec("2026-09-03T23:30:00Z", "s1", "/p/app", SONNET, 1000, 1000),
        rec(
            "2026-09-03T23:59:59.999Z",
            "s1",
            "/p/app",
            SONNET,
            1000,
            1000,
        ),
        rec("2026-09-04T00:00:00Z", "s1", "/p/app", SONNET, 1000, 1000),
        rec("2026-09-04T00:30:00Z", "s1", "/p/app", SONNET, 2000, 2000),
    ];
    let r = daily(&records, &opts("UTC"), &prices());
    let days: Vec<(&str, u64, u64)> = r
        .rows
        .iter()
        .map(|row| {
            (
                row.period.as_str(),
                row.usage.messages,
                row.usage.total_tokens,
            )
        })
        .collect();
    assert_eq!(days, [("2026-09-03", 2, 4000), ("2026-09-04", 2, 6000)]);
    assert!(close(r.rows[0].cost_usd, 0.036));
    assert!(close(r.rows[1].cost_usd, 0.054));
    assert_eq!(r.totals.usage.messages, 4);
    assert_eq!(r.totals.usage.total_tokens, 10_000);
    assert!(close(r.totals.cost_usd, 0.09));
    assert_eq!(r.rows[0].start, at("2026-09-03T00:00:00Z"));
    assert_eq!(r.rows[0].end, at("2026-09-04T00:00:00Z"));
    // The session report keeps it as one row.
    let s = sessions(&records, &[], &opts("UTC"), &prices());
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.rows[0].first_at, at("2026-09-03T23:30:00Z"));
    assert_eq!(s.rows[0].last_at, at("2026-09-04T00:30:00Z"));
}

/// The same three responses fall on different local days in different zones.
#[test]
fn the_zone_decides_which_day_a_response_belongs_to() {
    let records = vec![
        rec("2026-03-01T02:00:00Z", "s", "/p", SONNET, 1000, 1000),
        rec("2026-03-01T12:00:00Z", "s", "/p", SONNET, 1000, 1000),
        rec("2026-03-01T20:00:00Z", "s", "/p", SONNET, 1000, 1000),
    ];
    let per_day = |tz: &str| -> Vec<(String, u64)> {
        daily(&records, &opts(tz), &prices())
            .rows
            .into_iter()
            .map(|r| (r.period, r.usage.messages))
            .collect()
    };
    assert_eq!(per_day("UTC"), [("2026-03-01".into(), 3)]);
    // UTC+9: 11:00, 21:00, 05:00 next day.
    assert_eq!(
        per_day("Asia/Tokyo"),
        [("2026-03-01".into(), 2), ("2026-03-02".into(), 1)]
    );
    // UTC-8: 18:00 the day before, 04:00, 12:00.
    assert_eq!(
        per_day("America/Los_Angeles"),
        [("2026-02-28".into(), 1), ("2026-03-01".into(), 2)]
    );
    // The local day's bounds are local midnights.
    let tokyo = daily(&records, &opts("Asia/Tokyo"), &prices());
    assert_eq!(tokyo.rows[0].start, at("2026-02-28T15:00:00Z"));
    assert_eq!(tokyo.timezone, "Asia/Tokyo");
}

/// `--since`/`--until` are inclusive local dates, cut in the report's zone.
#[test]
fn since_and_until_are_inclusive_local_dates() {
    let records = vec![
        rec("2026-03-01T20:00:00Z", "s", "/p", SONNET, 1000, 1000), // Tokyo: 03-02 05:00
        rec("2026-03-02T20:00:00Z", "s", "/p", SONNET, 1000, 1000), // Tokyo: 03-03 05:00
        rec("2026-03-03T20:00:00Z", "s", "/p", SONNET, 1000, 1000), // Tokyo: 03-04 05:00
    ];
    let mut o = opts("Asia/Tokyo");
    o.since = Some(date(2026, 3, 2));
    o.until = Some(date(2026, 3, 3));
    let r = daily(&records, &o, &prices());
    assert_eq!(r.totals.usage.messages, 2);
    assert_eq!(r.since, Some(date(2026, 3, 2)));
    assert_eq!(
        o.bounds(),
        (
            Some(at("2026-03-01T15:00:00Z")),
            Some(at("2026-03-03T15:00:00Z"))
        )
    );
}

/// Europe/Berlin springs forward on Sunday 2026-03-29: that day has 23 hours and its ISO week
/// 167; a response at 00:30 local on the Monday after belongs to the next week.
#[test]
fn a_dst_week_is_cut_at_local_midnights() {
    let records = vec![
        // Monday 2026-03-23 00:30 CET.
        rec("2026-03-22T23:30:00Z", "s", "/p", SONNET, 1000, 1000),
        // Sunday 2026-03-29 23:30 CEST.
        rec("2026-03-29T21:30:00Z", "s", "/p", SONNET, 1000, 1000),
        // Monday 2026-03-30 00:30 CEST.
        rec("2026-03-29T22:30:00Z", "s", "/p", SONNET, 1000, 1000),
    ];
    let o = opts("Europe/Berlin");
    let weeks = weekly(&records, &o, &prices());
    let rows: Vec<(&str, u64)> = weeks
        .rows
        .iter()
        .map(|r| (r.period.as_str(), r.usage.messages))
        .collect();
    assert_eq!(rows, [("2026-03-23", 2), ("2026-03-30", 1)]);
    let w = &weeks.rows[0];
    assert_eq!(w.start, at("2026-03-22T23:00:00Z"));
    assert_eq!(w.end, at("2026-03-29T22:00:00Z"));
    assert_eq!(
        (w.end.as_second() - w.start.as_second()) / 3600,
        167,
        "the DST week is an hour short"
    );
    let days = daily(&records, &o, &prices());
    let sunday = days.rows.iter().find(|r| r.period == "2026-03-29").unwrap();
    assert_eq!(
        (sunday.end.as_second() - sunday.start.as_second()) / 3600,
        23
    );

    // Weeks from Sunday: the Sunday response opens a new week.
    let mut sunday_weeks = o.clone();
    sunday_weeks.week_start = WeekStart::Sunday;
    let rows: Vec<(String, u64)> = weekly(&records, &sunday_weeks, &prices())
        .rows
        .into_iter()
        .map(|r| (r.period, r.usage.messages))
        .collect();
    assert_eq!(rows, [("2026-03-22".into(), 1), ("2026-03-29".into(), 2)]);

    // The autumn change: 2026-10-25 has 25 hours.
    let autumn = vec![rec("2026-10-25T12:00:00Z", "s", "/p", SONNET, 1, 1)];
    let day = &daily(&autumn, &o, &prices()).rows[0];
    assert_eq!((day.end.as_second() - day.start.as_second()) / 3600, 25);
}

#[test]
fn months_are_calendar_months_in_the_zone() {
    let records = vec![
        rec("2026-01-31T23:30:00Z", "s", "/p", SONNET, 1000, 1000), // Berlin: Feb 1st
        rec("2026-02-28T12:00:00Z", "s", "/p", OPUS, 1000, 1000),
    ];
    let r = monthly(&records, &opts("Europe/Berlin"), &prices());
    assert_eq!(r.rows.len(), 1);
    assert_eq!(r.rows[0].period, "2026-02");
    assert_eq!(r.rows[0].start, at("2026-01-31T23:00:00Z"));
    assert_eq!(r.rows[0].end, at("2026-02-28T23:00:00Z"));
    assert_eq!(r.rows[0].models, [OPUS, SONNET]);
}

/// Each row's breakdown adds up to the row, most expensive model first.
#[test]
fn breakdown_splits_each_row_by_model() {
    let records = vec![
        rec("2026-09-03T10:00:00Z", "s", "/p", SONNET, 1000, 1000),
        rec("2026-09-03T11:00:00Z", "s", "/p", OPUS, 1000, 1000),
        rec("2026-09-03T12:00:00Z", "s", "/p", SONNET, 1000, 1000),
    ];
    let mut o = opts("UTC");
    assert!(daily(&records, &o, &prices()).rows[0].breakdown.is_none());
    o.breakdown = true;
    let r = daily(&records, &o, &prices());
    let b = r.rows[0].breakdown.as_ref().unwrap();
    let models: Vec<(&str, u64)> = b
        .iter()
        .map(|m| (m.model.as_str(), m.usage.messages))
        .collect();
    // Opus 4.1: $15 + $75 per million → $0.09; two sonnet responses → $0.036.
    assert_eq!(models, [(OPUS, 1), (SONNET, 2)]);
    assert!(close(b[0].cost_usd, 0.09));
    assert!(close(b[1].cost_usd, 0.036));
    let sum: f64 = b.iter().map(|m| m.cost_usd).sum();
    assert!(close(sum, r.rows[0].cost_usd));
    assert_eq!(
        b.iter().map(|m| m.usage.total_tokens).sum::<u64>(),
        r.rows[0].usage.total_tokens
    );
}

/// A session's reported total is its cost when every one of its responses is in the report;
/// otherwise the estimate of the part inside is. Projects sum their sessions.
#[test]
fn whole_sessions_use_the_reported_cost() {
    let records = vec![
        rec("2026-09-03T10:00:00Z", "a", "/p/app", SONNET, 1000, 1000),
        rec("2026-09-03T11:00:00Z", "a", "/p/app", SONNET, 1000, 1000),
        rec("2026-09-03T10:00:00Z", "b", "/p/app", SONNET, 1000, 1000),
        rec("2026-09-04T10:00:00Z", "b", "/p/app", SONNET, 1000, 1000),
        rec("2026-09-03T10:00:00Z", "c", "/q/lib", SONNET, 1000, 1000),
    ];
    let infos = vec![
        SessionInfo {
            session_id: SessionId::new("a"),
            project: Some("/p/app".into()),
            reported_cost_usd: Some(0.05),
        },
        SessionInfo {
            session_id: SessionId::new("b"),
            project: Some("/p/app".into()),
            reported_cost_usd: Some(0.07),
        },
    ];
    let all = sessions(&records, &infos, &opts("UTC"), &prices());
    let by_id = |r: &Report<SessionRow>, id: &str| {
        r.rows
            .iter()
            .find(|s| s.session_id.as_str() == id)
            .cloned()
            .unwrap()
    };
    let whole = by_id(&all, "a");
    assert_eq!(whole.cost_source, CostBasis::Reported);
    assert!(close(whole.cost_usd, 0.05));
    assert!(close(whole.usage.estimated_cost_usd, 0.036));
    let unreported = by_id(&all, "c");
    assert_eq!(unreported.cost_source, CostBasis::Estimated);
    assert_eq!(unreported.reported_cost_usd, None);
    assert_eq!(all.totals.cost_source, Some(CostBasis::Mixed));
    assert!(close(all.totals.cost_usd, 0.05 + 0.07 + 0.018));

    // Only the 3rd: session b is cut, so its part is estimated.
    let mut o = opts("UTC");
    o.until = Some(date(2026, 9, 3));
    let cut = sessions(&records, &infos, &o, &prices());
    let partial = by_id(&cut, "b");
    assert_eq!(partial.cost_source, CostBasis::Estimated);
    assert_eq!(partial.reported_cost_usd, Some(0.07));
    assert!(close(partial.cost_usd, 0.018));

    let p = projects(&records, &infos, &opts("UTC"), &prices());
    let rows: Vec<(Option<&str>, u64, CostBasis)> = p
        .rows
        .iter()
        .map(|r| (r.project.as_deref(), r.sessions, r.cost_source))
        .collect();
    assert_eq!(
        rows,
        [
            (Some("/p/app"), 2, CostBasis::Reported),
            (Some("/q/lib"), 1, CostBasis::Estimated)
        ]
    );
    assert!(close(p.rows[0].cost_usd, 0.12));
    assert_eq!(p.rows[0].usage.messages, 4);
}

#[test]
fn a_project_filter_matches_the_path_or_its_last_component() {
    assert!(project_matches("app", "/home/me/src/app"));
    assert!(project_matches("/home/me/src/app", "/home/me/src/app/"));
    assert!(!project_matches("src", "/home/me/src/app"));
    assert!(!project_matches("pp", "/home/me/src/app"));
    assert!(!project_matches("", "/home/me/src/app"));
    let records = vec![
        rec(
            "2026-09-03T10:00:00Z",
            "a",
            "/home/me/src/app",
            SONNET,
            1000,
            1000,
        ),
        rec(
            "2026-09-03T10:00:00Z",
            "b",
            "/home/me/src/lib",
            SONNET,
            1000,
            1000,
        ),
    ];
    let mut o = opts("UTC");
    o.project = Some("app".into());
    for total in [
        daily(&records, &o, &prices()).totals.usage.messages,
        models(&records, &o, &prices()).totals.usage.messages,
        sessions(&records, &[], &o, &prices()).totals.usage.messages,
    ] {
        assert_eq!(total, 1);
    }
}

#[test]
fn unknown_models_cost_nothing_and_are_listed() {
    let mut odd = rec("2026-09-03T10:00:00Z", "a", "/p", "gpt-9", 1000, 1000);
    let mut none = rec("2026-09-03T10:00:00Z", "a", "/p", SONNET, 1000, 1000);
    none.model = None;
    odd.tokens.cache_read = 5;
    let records = vec![
        odd,
        none,
        rec("2026-09-03T10:00:00Z", "a", "/p", SONNET, 1000, 1000),
    ];
    let r = models(&records, &opts("UTC"), &prices());
    assert!(close(r.totals.cost_usd, 0.018));
    assert_eq!(r.totals.unpriced_models, ["<unknown>", "gpt-9"]);
    let priced: Vec<(&str, bool)> = r
        .rows
        .iter()
        .map(|m| (m.model.as_str(), m.priced))
        .collect();
    assert_eq!(
        priced,
        [(SONNET, true), ("<unknown>", false), ("gpt-9", false)]
    );
    // Unknown, not $0: `null` in JSON.
    assert!(r.rows[2].cost_usd.is_nan());
    let json = serde_json::to_value(&r.rows[2]).unwrap();
    assert!(json["cost_usd"].is_null(), "{json}");
}

/// The `--json` shape: these names are documented in docs/reports.md and must not change.
#[test]
fn json_field_names_are_stable() {
    let records = vec![
        rec("2026-09-03T10:00:00Z", "a", "/p", SONNET, 1000, 1000),
        rec("2026-09-03T11:00:00Z", "a", "/p", OPUS, 10, 10),
    ];
    let mut o = opts("UTC");
    o.breakdown = true;
    let usage = [
        "input",
        "output",
        "cache_creation",
        "cache_read",
        "total_tokens",
        "messages",
        "estimated_cost_usd",
    ];
    let with = |head: &[&str], tail: &[&str]| -> Vec<String> {
        head.iter()
            .chain(usage.iter())
            .chain(tail.iter())
            .map(|s| (*s).to_owned())
            .collect()
    };

    let v = serde_json::to_value(daily(&records, &o, &prices())).unwrap();
    assert_eq!(
        keys(&v),
        [
            "report",
            "timezone",
            "since",
            "until",
            "project",
            "week_start",
            "rows",
            "totals"
        ]
    );
    assert_eq!(v["report"], "daily");
    assert_eq!(v["week_start"], "monday");
    assert_eq!(
        keys(&v["rows"][0]),
        with(
            &["period", "start", "end"],
            &[
                "cost_usd",
                "cost_source",
                "models",
                "unpriced_models",
                "breakdown"
            ]
        )
    );
    assert_eq!(v["rows"][0]["start"], "2026-09-03T00:00:00Z");
    assert_eq!(v["rows"][0]["cost_source"], "estimated");
    assert_eq!(
        keys(&v["rows"][0]["breakdown"][0]),
        with(&["model"], &["cost_usd"])
    );
    assert_eq!(
        keys(&v["totals"]),
        with(
            &[],
            &["cost_usd", "cost_source", "models", "unpriced_models"]
        )
    );

    let v = serde_json::to_value(sessions(&records, &[], &o, &prices())).unwrap();
    assert_eq!(
        keys(&v["rows"][0]),
        with(
            &["session_id", "project", "first_at", "last_at"],
            &[
                "cost_usd",
                "cost_source",
                "reported_cost_usd",
                "models",
                "unpriced_models",
                "breakdown",
                "turns",
                "duration_ms"
            ]
        )
    );
    let v = serde_json::to_value(projects(&records, &[], &o, &prices())).unwrap();
    assert_eq!(
        keys(&v["rows"][0]),
        with(
            &["project", "sessions", "first_at", "last_at"],
            &[
                "cost_usd",
                "cost_source",
                "models",
                "unpriced_models",
                "breakdown"
            ]
        )
    );
    let v = serde_json::to_value(models(&records, &o, &prices())).unwrap();
    assert_eq!(
        keys(&v["rows"][0]),
        with(
            &["model", "priced", "first_at", "last_at"],
            &["cost_usd", "cost_source"]
        )
    );
}

#[test]
fn week_start_finds_the_first_day_of_the_week() {
    let wed: Date = date(2026, 9, 2);
    assert_eq!(WeekStart::Monday.week_of(wed), date(2026, 8, 31));
    assert_eq!(WeekStart::Sunday.week_of(wed), date(2026, 8, 30));
    let sun = date(2026, 8, 30);
    assert_eq!(WeekStart::Monday.week_of(sun), date(2026, 8, 24));
    assert_eq!(WeekStart::Sunday.week_of(sun), sun);
    assert_eq!(WeekStart::parse("Sunday"), Some(WeekStart::Sunday));
    assert_eq!(WeekStart::parse("tuesday"), None);
}

#[test]
fn nothing_in_gives_an_empty_report_with_zero_totals() {
    let r = daily(&[], &opts("UTC"), &prices());
    assert!(r.rows.is_empty());
    assert_eq!(r.totals.usage.messages, 0);
    assert_eq!(r.totals.cost_source, None);
}

#[test]
fn a_project_is_the_project_path_else_the_cwd_and_never_empty() {
    assert_eq!(project_of(Some("/p/app"), Some("/w")), Some("/p/app"));
    assert_eq!(project_of(None, Some("/w")), Some("/w"));
    assert_eq!(
        project_of(Some(""), Some("/w")),
        Some("/w"),
        "an empty project path falls back to the cwd, as the store's SQL does"
    );
    assert_eq!(project_of(Some(""), Some("")), None);
}
