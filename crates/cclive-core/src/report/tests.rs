//! Reports over fixtures with known totals: midnight, zones, a DST week, breakdowns, reported
//! session costs, filters and the JSON shape.

use jiff::Timestamp;
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use serde_json::Value;

use std::collections::BTreeMap;

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

/// Each record as a group of one.
fn each(records: &[UsageRecord]) -> Vec<UsageGroup> {
    groups_of(records, &prices())
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
    let r = daily(&each(&records), &opts("UTC"), &prices());
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
    let s = sessions(&each(&records), &[], &opts("UTC"), &prices());
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
        daily(&each(&records), &opts(tz), &prices())
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
    let tokyo = daily(&each(&records), &opts("Asia/Tokyo"), &prices());
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
    let r = daily(&each(&records), &o, &prices());
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
    let weeks = weekly(&each(&records), &o, &prices());
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
    let days = daily(&each(&records), &o, &prices());
    let sunday = days.rows.iter().find(|r| r.period == "2026-03-29").unwrap();
    assert_eq!(
        (sunday.end.as_second() - sunday.start.as_second()) / 3600,
        23
    );

    // Weeks from Sunday: the Sunday response opens a new week.
    let mut sunday_weeks = o.clone();
    sunday_weeks.week_start = WeekStart::Sunday;
    let rows: Vec<(String, u64)> = weekly(&each(&records), &sunday_weeks, &prices())
        .rows
        .into_iter()
        .map(|r| (r.period, r.usage.messages))
        .collect();
    assert_eq!(rows, [("2026-03-22".into(), 1), ("2026-03-29".into(), 2)]);

    // The autumn change: 2026-10-25 has 25 hours.
    let autumn = vec![rec("2026-10-25T12:00:00Z", "s", "/p", SONNET, 1, 1)];
    let day = &daily(&each(&autumn), &o, &prices()).rows[0];
    assert_eq!((day.end.as_second() - day.start.as_second()) / 3600, 25);
}

#[test]
fn months_are_calendar_months_in_the_zone() {
    let records = vec![
        rec("2026-01-31T23:30:00Z", "s", "/p", SONNET, 1000, 1000), // Berlin: Feb 1st
        rec("2026-02-28T12:00:00Z", "s", "/p", OPUS, 1000, 1000),
    ];
    let r = monthly(&each(&records), &opts("Europe/Berlin"), &prices());
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
    assert!(
        daily(&each(&records), &o, &prices()).rows[0]
            .breakdown
            .is_none()
    );
    o.breakdown = true;
    let r = daily(&each(&records), &o, &prices());
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
    let all = sessions(&each(&records), &infos, &opts("UTC"), &prices());
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
    let cut = sessions(&each(&records), &infos, &o, &prices());
    let partial = by_id(&cut, "b");
    assert_eq!(partial.cost_source, CostBasis::Estimated);
    assert_eq!(partial.reported_cost_usd, Some(0.07));
    assert!(close(partial.cost_usd, 0.018));

    let p = projects(&each(&records), &infos, &opts("UTC"), &prices());
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
        daily(&each(&records), &o, &prices()).totals.usage.messages,
        models(&each(&records), &o, &prices()).totals.usage.messages,
        sessions(&each(&records), &[], &o, &prices())
            .totals
            .usage
            .messages,
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
    let r = models(&each(&records), &opts("UTC"), &prices());
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

    let v = serde_json::to_value(daily(&each(&records), &o, &prices())).unwrap();
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

    let v = serde_json::to_value(sessions(&each(&records), &[], &o, &prices())).unwrap();
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
    let v = serde_json::to_value(projects(&each(&records), &[], &o, &prices())).unwrap();
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
    let v = serde_json::to_value(models(&each(&records), &o, &prices())).unwrap();
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

/// What a group of the store shares: quarter hour, session, model, fast, US-only, prompt class.
type GroupKey = (i64, String, Option<String>, bool, bool, Option<u64>);

/// Records summed as the store sums them: per quarter hour (UTC), session, model and price
/// class.
fn quarter_hours(records: &[UsageRecord]) -> Vec<UsageGroup> {
    let mut sums: BTreeMap<GroupKey, UsageGroup> = BTreeMap::new();
    for group in each(records) {
        let key = (
            group.first_at.as_millisecond().div_euclid(QUARTER_HOUR_MS),
            group.session_id.to_string(),
            group.model.clone(),
            group.tokens.fast_responses > 0,
            group.tokens.us_only_responses > 0,
            group.prompt_above,
        );
        match sums.get_mut(&key) {
            Some(sum) => {
                sum.tokens.add(&group.tokens);
                sum.responses += 1;
                sum.first_at = sum.first_at.min(group.first_at);
                sum.last_at = sum.last_at.max(group.last_at);
            }
            None => {
                sums.insert(key, group);
            }
        }
    }
    sums.into_values().collect()
}

/// Equal JSON, but for dollar figures, which may differ by float rounding (nano-dollars).
fn assert_same_figures(grouped: &Value, each: &Value) {
    match (grouped, each) {
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() <= 1e-8, "{a} != {b}");
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{grouped} vs {each}");
            a.iter().zip(b).for_each(|(a, b)| assert_same_figures(a, b));
        }
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(keys(grouped), keys(each));
            a.iter().for_each(|(k, v)| assert_same_figures(v, &b[k]));
        }
        _ => assert_eq!(grouped, each),
    }
}

proptest::proptest! {
    /// Every report but blocks gives the same figures from the store's quarter-hour sums as
    /// from the responses one by one: across a DST change, in zones a half and a quarter hour
    /// off, with long prompts, fast and US-only responses, unknown models and a project filter.
    #[test]
    fn reports_of_quarter_hour_sums_equal_reports_of_each_response(
        responses in proptest::collection::vec(
            (0_i64..8 * 24 * 3600, 0_usize..3, 0_usize..4, 0_u64..200_000, 0_u64..5_000, 0_u8..8),
            0..120,
        ),
        zone in 0_usize..4,
        filtered in proptest::bool::ANY,
    ) {
        let records: Vec<UsageRecord> = responses
            .iter()
            .map(|&(secs, session, model, cache_read, output, flags)| {
                let mut r = rec(
                    "2026-10-29T00:00:00Z",
                    ["a", "b", "c"][session],
                    ["/w/app", "/w/lib", "/w/app"][session],
                    [SONNET, "claude-haiku-5-5", "claude-nonesuch-1", "claude-opus-4-6"][model],
                    flags.into(),
                    output,
                );
                r.at += jiff::SignedDuration::from_secs(secs);
                r.tokens.cache_read = cache_read;
                r.tokens.fast_responses = u64::from(flags & 1);
                r.tokens.us_only_responses = u64::from(flags & 2 > 0);
                r
            })
            .collect();
        let mut o = opts(["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu"][zone]);
        o.breakdown = true;
        o.since = Some(date(2026, 10, 30));
        o.until = Some(date(2026, 11, 4));
        if filtered {
            o.project = Some("app".into());
        }
        let (grouped, one_by_one) = (quarter_hours(&records), each(&records));
        proptest::prop_assert!(grouped.iter().all(|g| g.is_within_a_day(&o.tz)));
        let json = |v: &dyn erased::Json| v.json();
        for (a, b) in [
            (json(&daily(&grouped, &o, &prices())), json(&daily(&one_by_one, &o, &prices()))),
            (json(&weekly(&grouped, &o, &prices())), json(&weekly(&one_by_one, &o, &prices()))),
            (json(&monthly(&grouped, &o, &prices())), json(&monthly(&one_by_one, &o, &prices()))),
            (json(&models(&grouped, &o, &prices())), json(&models(&one_by_one, &o, &prices()))),
            (
                json(&sessions(&grouped, &[], &o, &prices())),
                json(&sessions(&one_by_one, &[], &o, &prices())),
            ),
            (
                json(&projects(&grouped, &[], &o, &prices())),
                json(&projects(&one_by_one, &[], &o, &prices())),
            ),
        ] {
            assert_same_figures(&a, &b);
        }
    }
}

/// Reports as JSON values, whatever their row type.
mod erased {
    pub(super) trait Json {
        fn json(&self) -> serde_json::Value;
    }
    impl<R: serde::Serialize> Json for super::Report<R> {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap()
        }
    }
}

/// Liberia kept 44 minutes and 30 seconds behind UTC until 1972: a quarter hour can hold two of
/// its days, and the caller must sum per second there.
#[test]
fn a_quarter_hour_may_cross_midnight_only_in_a_zone_a_quarter_hour_does_not_divide() {
    let monrovia = TimeZone::fixed(jiff::tz::Offset::from_seconds(-(44 * 60 + 30)).unwrap());
    // Local midnight is 00:44:30 UTC, inside the quarter hour 00:30–00:45 UTC.
    let before = rec("2026-10-29T00:44:00Z", "a", "/w", SONNET, 1, 1);
    let after = rec("2026-10-29T00:44:40Z", "a", "/w", SONNET, 1, 1);
    let group = &quarter_hours(&[before.clone(), after.clone()])[0];
    assert_eq!(group.responses, 2, "one UTC quarter hour");
    assert!(!group.is_within_a_day(&monrovia), "two local days");
    assert!(group.is_within_a_day(&TimeZone::get("Asia/Kathmandu").unwrap()));
    assert!(
        each(&[before, after])
            .iter()
            .all(|g| g.is_within_a_day(&monrovia))
    );
}
