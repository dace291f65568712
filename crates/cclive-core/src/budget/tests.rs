//! Windows, spend against limits, thresholds, projections, `--check` and the hard limit.

use super::*;
use crate::ids::SessionId;

const SONNET: &str = "claude-sonnet-4-5";

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap()
}

/// A sonnet response costing exactly `usd` (output tokens at $15 per million; `usd` must be a
/// multiple of $0.000015).
fn spend_rec(when: &str, project: &str, usd: f64) -> UsageRecord {
    let exact = usd / 15.0 * 1_000_000.0;
    let output = exact.round();
    assert!(
        (exact - output).abs() < 1e-6,
        "${usd} is not a whole number of tokens"
    );
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let output = output as u64;
    UsageRecord {
        at: at(when),
        session_id: SessionId::new("s"),
        project: Some(project.to_owned()),
        model: Some(SONNET.to_owned()),
        tokens: Tokens {
            output,
            ..Tokens::default()
        },
    }
}

fn daily(limit: f64) -> Budget {
    Budget {
        limits: Limits {
            daily_usd: Some(limit),
            ..Limits::default()
        },
        ..Budget::default()
    }
}

#[test]
fn windows_are_local_days_weeks_and_months() {
    // Wednesday 2026-09-02 23:30 UTC is Thursday 01:30 in Berlin (CEST, UTC+2).
    let now = at("2026-09-02T23:30:00Z");
    let tz = berlin();
    let day = window(Period::Day, now, &tz, WeekStart::Monday);
    assert_eq!(day.key, "2026-09-03");
    assert_eq!(day.start, at("2026-09-02T22:00:00Z"));
    assert_eq!(day.end, at("2026-09-03T22:00:00Z"));
    let week = window(Period::Week, now, &tz, WeekStart::Monday);
    assert_eq!(week.key, "2026-08-31");
    assert_eq!(week.start, at("2026-08-30T22:00:00Z"));
    assert_eq!(week.length_ms(), 7 * 24 * 3_600_000);
    let week = window(Period::Week, now, &tz, WeekStart::Sunday);
    assert_eq!(week.key, "2026-08-30");
    let month = window(Period::Month, now, &tz, WeekStart::Monday);
    assert_eq!(month.key, "2026-09");
    assert_eq!(month.start, at("2026-08-31T22:00:00Z"));
    assert_eq!(month.end, at("2026-09-30T22:00:00Z"));
    // The day the clocks go back is 25 hours long.
    let dst = window(
        Period::Day,
        at("2026-10-25T12:00:00Z"),
        &tz,
        WeekStart::Monday,
    );
    assert_eq!(dst.length_ms(), 25 * 3_600_000);
}

#[test]
fn thresholds_are_reached_exactly_at_their_percentages() {
    assert_eq!(Level::of(4.99, 10.0), Level::Ok);
    assert_eq!(Level::of(5.0, 10.0), Level::Notice);
    assert_eq!(Level::of(8.0, 10.0), Level::Warning);
    assert_eq!(Level::of(10.0, 10.0), Level::Exceeded);
    assert_eq!(
        Level::of(0.3, 0.3),
        Level::Exceeded,
        "no rounding error at 100 %"
    );
}

#[test]
fn evaluate_compares_the_spend_of_each_window_with_its_limit() {
    let budget = Budget {
        limits: Limits {
            daily_usd: Some(10.0),
            weekly_usd: Some(50.0),
            monthly_usd: None,
            block_at_usd: None,
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
    let records = vec![
        spend_rec("2026-09-01T10:00:00Z", "/src/app", 21.0), // Tuesday: this week, not today
        spend_rec("2026-09-03T08:00:00Z", "/src/app", 3.0),
        spend_rec("2026-09-03T09:00:00Z", "/src/lib", 5.25),
    ];
    let now = at("2026-09-03T10:00:00Z"); // 12:00 in Berlin
    let statuses = evaluate(&budget, &records, now, &berlin(), &PriceTable::builtin());
    let summary: Vec<(Option<&str>, Period, f64, Level)> = statuses
        .iter()
        .map(|s| (s.project.as_deref(), s.period, s.spent_usd, s.level))
        .collect();
    assert_eq!(
        summary,
        [
            (None, Period::Day, 8.25, Level::Warning),
            (None, Period::Week, 29.25, Level::Notice),
            (Some("app"), Period::Day, 3.0, Level::Notice),
        ]
    );
    let day = &statuses[0];
    assert_eq!(day.percent, 82.5);
    // Half the (Berlin) day has passed: the pace doubles the spend.
    assert!((day.projected_usd - 16.5).abs() < 1e-6, "{day:?}");
    assert_eq!(day.crossed().collect::<Vec<_>>(), [50, 80]);
}

#[test]
fn the_projection_counts_at_least_an_hour() {
    let w = window(
        Period::Day,
        at("2026-09-03T00:00:00Z"),
        &TimeZone::UTC,
        WeekStart::Monday,
    );
    // One dollar in the first minute: projected as if spent over an hour.
    let p = project_to_end(1.0, &w, at("2026-09-03T00:01:00Z"));
    assert!((p - (1.0 + 1.0 / 60.0 * 1439.0)).abs() < 1e-9, "{p}");
    // At the end of the window the projection is the spend.
    assert_eq!(project_to_end(3.0, &w, w.end), 3.0);
}

#[test]
fn alerts_name_every_threshold_reached_and_read_well() {
    let records = vec![spend_rec("2026-09-03T08:00:00Z", "/p", 8.25)];
    let now = at("2026-09-03T12:00:00Z");
    let statuses = evaluate(
        &daily(10.0),
        &records,
        now,
        &TimeZone::UTC,
        &PriceTable::builtin(),
    );
    let raised = alerts(&statuses, now);
    let thresholds: Vec<u8> = raised.iter().map(|a| a.threshold_percent).collect();
    assert_eq!(thresholds, [50, 80]);
    let a = &raised[1];
    assert_eq!(a.scope(), "global");
    assert_eq!(a.period_key, "2026-09-03");
    assert_eq!(a.level(), Level::Warning);
    assert_eq!(
        a.message(),
        "daily budget 2026-09-03: $8.25 of $10.00 (82 %) reached the 80 % threshold; \
         $16.50 projected by the end of the day"
    );
    let json = serde_json::to_value(a).unwrap();
    assert_eq!(json["period"], "day");
    assert_eq!(json["threshold_percent"], 80);
    let back: BudgetAlert = serde_json::from_value(json).unwrap();
    assert_eq!(&back, a);
}

#[test]
fn check_exits_by_the_worst_status() {
    let now = at("2026-09-03T12:00:00Z");
    let run = |usd: f64| {
        let records = vec![spend_rec("2026-09-03T08:00:00Z", "/p", usd)];
        check(&evaluate(
            &daily(10.0),
            &records,
            now,
            &TimeZone::UTC,
            &PriceTable::builtin(),
        ))
    };
    assert_eq!(run(7.995).exit_code, 0);
    assert_eq!(run(8.01).exit_code, CHECK_WARNING);
    assert_eq!(run(10.5).exit_code, CHECK_EXCEEDED);
    assert_eq!(
        run(10.5).line,
        "EXCEEDED: daily budget 2026-09-03 at 105 % ($10.50 of $10.00; $21.00 projected)"
    );
    assert!(run(1.5).line.starts_with("OK: daily budget"));
    let none = check(&[]);
    assert_eq!(none.exit_code, 0);
    assert!(none.line.contains("no budget limits"));
}

#[test]
fn the_hard_limit_applies_globally_and_to_matching_projects() {
    let budget = Budget {
        limits: Limits {
            block_at_usd: Some(20.0),
            ..Limits::default()
        },
        projects: [(
            "app".to_owned(),
            Limits {
                block_at_usd: Some(5.0),
                ..Limits::default()
            },
        )]
        .into(),
        ..Budget::default()
    };
    assert!(budget.has_hard_limit());
    let now = at("2026-09-03T12:00:00Z");
    let w = window(budget.block_period, now, &TimeZone::UTC, budget.week_start);
    let prices = PriceTable::builtin();
    let records = vec![
        spend_rec("2026-09-03T08:00:00Z", "/src/app", 6.0),
        spend_rec("2026-09-03T09:00:00Z", "/src/lib", 4.5),
    ];
    let spend = Spend::of_records(&records, &w, &prices);
    assert!((spend.total_usd - 10.5).abs() < 1e-9);
    assert!(hard_limit(&budget, Some("/src/lib"), &spend, &w).is_none());
    let hit = hard_limit(&budget, Some("/src/app"), &spend, &w).unwrap();
    assert_eq!(hit.project.as_deref(), Some("app"));
    assert_eq!(hit.until, at("2026-09-04T00:00:00Z"));
    assert!(
        hit.message().contains("block_at_usd = $5.00"),
        "{}",
        hit.message()
    );
    // The same spend from per-project, per-model sums (what the hook's one query returns).
    let mut sums = Spend::default();
    for r in &records {
        sums.add(r.project.as_deref(), r.model.as_deref(), &r.tokens, &prices);
    }
    assert_eq!(sums, spend);
    // Over the global limit, every project is refused.
    let more = vec![spend_rec("2026-09-03T10:00:00Z", "/src/lib", 21.0)];
    let spend = Spend::of_records(&more, &w, &prices);
    let hit = hard_limit(&budget, None, &spend, &w).unwrap();
    assert_eq!(hit.project, None);
    assert_eq!(
        hit.message(),
        "cclive budget: the daily spend ($21.00 on 2026-09-03) has reached the hard limit \
         block_at_usd = $20.00; new prompts are refused until the day ends"
    );
}

#[test]
fn usd_is_grouped_and_small_amounts_keep_four_decimals() {
    assert_eq!(usd(0.0163), "$0.0163");
    assert_eq!(usd(0.0), "$0.00");
    assert_eq!(usd(1234.5), "$1,234.50");
    assert_eq!(usd(-2.0), "-$2.00");
}

#[test]
fn a_sum_of_responses_is_priced_as_its_responses_were() {
    // claude-haiku-5-5 charges more above a 100k-token prompt; three 60k prompts are each below.
    let prices = PriceTable::builtin();
    let model = "claude-haiku-5-5";
    let thresholds = prices.prompt_thresholds();
    let one = Tokens {
        input: 10_000,
        cache_read: 50_000,
        output: 2_000,
        ..Tokens::default()
    };
    let mut each = Spend::default();
    let mut sum_tokens = Tokens::default();
    for _ in 0..3 {
        each.add(Some("/p"), Some(model), &one, &prices);
        sum_tokens.add(&one);
    }
    let mut summed = Spend::default();
    let above = crate::pricing::prompt_above(&one, &thresholds);
    assert_eq!(above, None, "a 60k prompt is in the standard class");
    summed.add_sum(Some("/p"), Some(model), &sum_tokens, above, &prices);
    assert!(
        (summed.total_usd - each.total_usd).abs() < 1e-12,
        "{} vs {}",
        summed.total_usd,
        each.total_usd
    );
    let mut as_one = Spend::default();
    as_one.add(Some("/p"), Some(model), &sum_tokens, &prices);
    assert!(
        as_one.total_usd > each.total_usd * 1.01,
        "the 180k-token sum priced as one response crosses the tier: the bug add_sum avoids"
    );
}

/// The store's sums give the figures of their responses: each window takes the groups of its
/// local days whole (a group never spans a local midnight), and the days around it none.
#[test]
fn groups_give_the_statuses_of_their_responses() {
    let tz = berlin();
    let prices = PriceTable::builtin();
    let thresholds = prices.prompt_thresholds();
    // Berlin's midnight is 23:00 UTC in winter: the first two are on the 2nd there.
    let records = [
        spend_rec("2026-01-01T23:30:00Z", "/a", 1.5),
        spend_rec("2026-01-01T23:40:00Z", "/a", 3.0),
        spend_rec("2026-01-02T10:00:00Z", "/b", 6.0),
        spend_rec("2026-01-01T22:59:59Z", "/a", 30.0),
        spend_rec("2026-01-02T23:00:00Z", "/b", 60.0),
    ];
    // The first two summed as a store sums one quarter hour of one session, the rest alone.
    let mut first = UsageGroup::of_record(&records[0], &thresholds);
    first.last_at = records[1].at;
    first.tokens.add(&records[1].tokens);
    first.responses = 2;
    let mut groups = vec![first];
    groups.extend(
        records[2..]
            .iter()
            .map(|r| UsageGroup::of_record(r, &thresholds)),
    );
    let budget = Budget {
        limits: Limits {
            daily_usd: Some(10.0),
            monthly_usd: Some(200.0),
            ..Limits::default()
        },
        projects: [(
            "a".to_owned(),
            Limits {
                daily_usd: Some(4.0),
                ..Limits::default()
            },
        )]
        .into(),
        ..Budget::default()
    };
    let now = at("2026-01-02T12:00:00Z");
    let from_groups = evaluate_groups(&budget, &groups, now, &tz, &prices);
    assert_eq!(from_groups, evaluate(&budget, &records, now, &tz, &prices));
    let spent: Vec<_> = from_groups
        .iter()
        .map(|s| (s.project.as_deref(), s.period, s.spent_usd))
        .collect();
    assert_eq!(
        spent,
        [
            (None, Period::Day, 10.5),
            (None, Period::Month, 100.5),
            (Some("a"), Period::Day, 4.5),
        ]
    );
}
