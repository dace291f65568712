//! The report and budget part of the [`Store`] specification: session summaries, usage summed
//! per project and model or per bucket of time and session, and budget alerts that are recorded
//! once.

use cclive_core::CostSource;
use cclive_core::budget::{BudgetAlert, Period};

use std::collections::BTreeMap;

use super::*;
use crate::{SessionSummary, UsageSum};

fn summary_of<'a>(all: &'a [SessionSummary], id: &str) -> &'a SessionSummary {
    all.iter().find(|s| s.session_id.as_str() == id).unwrap()
}

/// Three sessions: one in `/p/app` whose cost Claude Code reported, one filed only by its cwd,
/// one in `/p/lib`.
fn reporting_store() -> impl Store {
    let store = store();
    let mut reported = session("rep", 0, Status::Completed, "/p/app");
    reported.total_cost_usd = 0.75;
    reported.cost_source = CostSource::Reported;
    let mut cwd_only = session("cwd", 1, Status::Completed, "/p/app");
    cwd_only.project_path = None;
    cwd_only.cwd = Some("/p/cwd".into());
    let lib = session("lib", 2, Status::Active, "/p/lib");
    store.write_batch(&[reported, cwd_only, lib], &[]).unwrap();
    let mut opus = usage("m5", "lib", 30, [1, 1, 1, 1]);
    opus.model = Some("claude-opus-4-1".into());
    write_usage(
        &store,
        &[
            usage("m1", "rep", 10, [100, 10, 0, 0]),
            usage("m2", "rep", 20, [200, 20, 0, 0]),
            usage("m3", "cwd", 20, [1, 2, 3, 4]),
            usage("m4", "lib", 30, [5, 5, 5, 5]),
            opus,
            usage("m6", "never-stored", 40, [7, 0, 0, 0]),
            usage("m7", "rep", 100, [1000, 0, 0, 0]),
        ],
    );
    store
}

#[test]
fn session_summaries_carry_projects_and_reported_costs() {
    let store = reporting_store();
    let all = store.session_summaries().unwrap();
    assert_eq!(all.len(), 3);
    let rep = summary_of(&all, "rep");
    assert_eq!(rep.project(), Some("/p/app"));
    assert_eq!(rep.reported_cost_usd(), Some(0.75));
    assert_eq!(rep.status, Status::Completed);
    assert_eq!(rep.started_at, t(0));
    let cwd = summary_of(&all, "cwd");
    assert_eq!(
        cwd.project(),
        Some("/p/cwd"),
        "cwd when there is no project path"
    );
    assert_eq!(cwd.reported_cost_usd(), None, "an estimate is not reported");
    assert_eq!(cwd.cost_source, CostSource::Estimated);
}

#[test]
fn usage_sums_group_by_project_and_model_in_the_time_range() {
    let store = reporting_store();
    let sums = store.usage_sums(Some(t(10)), Some(t(100)), &[]).unwrap();
    let sonnet = Some("claude-sonnet-4-5".to_owned());
    let expected = vec![
        UsageSum {
            project: None,
            model: sonnet.clone(),
            tokens: tokens([7, 0, 0, 0]),
            responses: 1,
            prompt_above: None,
        },
        UsageSum {
            project: Some("/p/app".into()),
            model: sonnet.clone(),
            tokens: tokens([300, 30, 0, 0]),
            responses: 2,
            prompt_above: None,
        },
        UsageSum {
            project: Some("/p/cwd".into()),
            model: sonnet.clone(),
            tokens: tokens([1, 2, 3, 4]),
            responses: 1,
            prompt_above: None,
        },
        UsageSum {
            project: Some("/p/lib".into()),
            model: Some("claude-opus-4-1".into()),
            tokens: tokens([1, 1, 1, 1]),
            responses: 1,
            prompt_above: None,
        },
        UsageSum {
            project: Some("/p/lib".into()),
            model: sonnet,
            tokens: tokens([5, 5, 5, 5]),
            responses: 1,
            prompt_above: None,
        },
    ];
    assert_eq!(sums, expected, "m7 at t(100) is outside [t(10), t(100))");
    let everything = store.usage_sums(None, None, &[]).unwrap();
    let responses: u64 = everything.iter().map(|s| s.responses).sum();
    assert_eq!(responses, 7);
}

/// Two fast-mode responses of `/p/app` at t(50), one with a long prompt.
fn add_price_classes(store: &impl Store) {
    let mut fast = usage("f1", "rep", 50, [10, 1, 0, 0]);
    fast.tokens.fast_responses = 1;
    let mut fast_long = usage("f2", "rep", 50, [10, 1, 500, 0]);
    fast_long.tokens.fast_responses = 1;
    write_usage(store, &[fast, fast_long]);
}

#[test]
fn usage_sums_keep_price_classes_apart() {
    let store = reporting_store();
    add_price_classes(&store);
    // Prompts: m1 100, m2 200, f1 10, f2 510 (input + cache read + cache write).
    let sums = store.usage_sums(None, Some(t(60)), &[150, 50]).unwrap();
    let app: Vec<(u64, Option<u64>, u64, u64)> = sums
        .iter()
        .filter(|s| s.project.as_deref() == Some("/p/app"))
        .map(|s| {
            (
                s.tokens.input,
                s.prompt_above,
                s.tokens.fast_responses,
                s.responses,
            )
        })
        .collect();
    assert_eq!(
        app,
        [
            (100, Some(50), 0, 1),
            (200, Some(150), 0, 1),
            (10, None, 1, 1),
            (10, Some(150), 1, 1)
        ],
        "a sum never mixes prompts of two long-prompt classes, nor fast and standard responses"
    );
    let all: u64 = sums.iter().map(|s| s.responses).sum();
    assert_eq!(all, 8, "every response of the range, once");
}

/// A backend that implements only the required methods gets the same answers from the
/// defaults as `SQLite` gives from its own queries.
#[test]
fn the_default_summaries_and_sums_agree_with_the_backend() {
    // Only the required methods, delegated (`Defaults`, as the sorting tests use it).
    let minimal = Defaults(reporting_store());
    let backend = &minimal.0;
    let mut by_default = minimal.session_summaries().unwrap();
    let mut by_backend = backend.session_summaries().unwrap();
    by_default.sort_by(|a, b| a.session_id.cmp(&b.session_id));
    by_backend.sort_by(|a, b| a.session_id.cmp(&b.session_id));
    assert_eq!(by_default, by_backend);
    assert_eq!(
        minimal.usage_sums(Some(t(0)), None, &[]).unwrap(),
        backend.usage_sums(Some(t(0)), None, &[]).unwrap()
    );
    add_price_classes(backend);
    assert_eq!(
        minimal.usage_sums(None, None, &[150, 50]).unwrap(),
        backend.usage_sums(None, None, &[150, 50]).unwrap(),
        "price classes too"
    );
    write_usage(backend, &varied_usage());
    for bucket_ms in [900_000, 1000] {
        assert_eq!(
            minimal
                .usage_buckets(None, None, bucket_ms, &[300, 100])
                .unwrap(),
            backend
                .usage_buckets(None, None, bucket_ms, &[300, 100])
                .unwrap(),
            "usage buckets of {bucket_ms} ms"
        );
    }
    let alert = alert("global", Period::Day, "2026-09-03", 50, 5);
    assert!(matches!(
        minimal.record_alert(&alert),
        Err(StoreError::Unsupported { .. })
    ));
}

fn alert(scope: &str, period: Period, key: &str, threshold: u8, secs: i64) -> BudgetAlert {
    BudgetAlert {
        project: scope.strip_prefix("project:").map(str::to_owned),
        period,
        period_key: key.into(),
        period_start: t(0),
        period_end: t(86_400),
        threshold_percent: threshold,
        limit_usd: 10.0,
        spent_usd: f64::from(threshold) / 10.0,
        percent: f64::from(threshold),
        projected_usd: 12.5,
        at: t(secs),
    }
}

#[test]
fn an_alert_is_new_once_per_scope_period_and_threshold() {
    let store = store();
    let first = alert("global", Period::Day, "2026-09-03", 50, 10);
    assert!(store.record_alert(&first).unwrap());
    // The same identity again, later and with other figures: not new, and the first is kept.
    let again = BudgetAlert {
        spent_usd: 6.0,
        at: t(20),
        ..first.clone()
    };
    assert!(!store.record_alert(&again).unwrap());
    // Another threshold, period key, period or scope is new.
    for other in [
        alert("global", Period::Day, "2026-09-03", 80, 30),
        alert("global", Period::Day, "2026-09-04", 50, 40),
        alert("global", Period::Week, "2026-08-31", 50, 50),
        alert("project:app", Period::Day, "2026-09-03", 50, 60),
    ] {
        assert!(store.record_alert(&other).unwrap(), "{other:?}");
    }
    let all = store.alerts(None).unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0], first, "alerts come back whole, oldest first");
    assert_eq!(all[4].project.as_deref(), Some("app"));
    assert_eq!(store.alerts(Some(t(40))).unwrap().len(), 3);
}

/// 600 responses, 53 seconds apart (nine hours), in three sessions (one never stored), with
/// two models and none, fast and US-only ones, and prompts on both sides of two long-prompt
/// thresholds.
fn varied_usage() -> Vec<UsageRow> {
    (0..600_u64)
        .map(|i| {
            let session = ["rep", "lib", "never-stored"][usize::try_from(i % 3).unwrap()];
            let secs = i64::try_from(i * 53).unwrap();
            let mut row = usage(
                &format!("v{i}"),
                session,
                secs,
                [i % 7, i, (i * 37) % 400, 3],
            );
            row.model = match i % 5 {
                0 => None,
                1 | 2 => Some("claude-opus-4-1".into()),
                _ => Some("claude-sonnet-4-5".into()),
            };
            row.tokens.fast_responses = u64::from(i % 11 == 0);
            row.tokens.us_only_responses = u64::from(i % 13 == 0);
            row.tokens.cache_creation_1h = i % 2;
            row.tokens.web_search_requests = u64::from(i % 17 == 0);
            row
        })
        .collect()
}

/// What a bucket shares: its quarter hour, session, model, fast mode, US-only serving and
/// long-prompt class.
type BucketKey = (i64, String, Option<String>, bool, bool, Option<u64>);

#[test]
fn usage_buckets_are_the_rows_summed_per_quarter_hour_session_model_and_class() {
    const QUARTER: i64 = 900_000;
    let thresholds = [300, 100];
    let store = reporting_store();
    let rows = varied_usage();
    write_usage(&store, &rows);
    let (since, until) = (t(600), t(30_000));
    let buckets = store
        .usage_buckets(Some(since), Some(until), QUARTER, &thresholds)
        .unwrap();

    let mut expected: BTreeMap<BucketKey, (Tokens, u64, Timestamp, Timestamp)> = BTreeMap::new();
    for row in all_usage(&store)
        .into_iter()
        .filter(|r| r.at >= since && r.at < until)
    {
        let key = (
            row.at.as_millisecond().div_euclid(QUARTER),
            row.session_id.to_string(),
            row.model.clone(),
            row.tokens.fast_responses > 0,
            row.tokens.us_only_responses > 0,
            cclive_core::pricing::prompt_above(&row.tokens, &[100, 300]),
        );
        let sum = expected
            .entry(key)
            .or_insert((Tokens::default(), 0, row.at, row.at));
        sum.0.add(&row.tokens);
        sum.1 += 1;
        sum.2 = sum.2.min(row.at);
        sum.3 = sum.3.max(row.at);
    }
    let got: BTreeMap<BucketKey, (Tokens, u64, Timestamp, Timestamp)> = buckets
        .iter()
        .map(|b| {
            let quarter = b.first_at.as_millisecond().div_euclid(QUARTER);
            assert_eq!(
                quarter,
                b.last_at.as_millisecond().div_euclid(QUARTER),
                "a bucket never crosses a quarter hour"
            );
            let key = (
                quarter,
                b.session_id.to_string(),
                b.model.clone(),
                b.tokens.fast_responses > 0,
                b.tokens.us_only_responses > 0,
                b.prompt_above,
            );
            (key, (b.tokens, b.responses, b.first_at, b.last_at))
        })
        .collect();
    assert_eq!(got.len(), buckets.len(), "each key once");
    assert_eq!(got, expected);
    assert!(
        expected.keys().any(|k| k.5 == Some(300)) && expected.keys().any(|k| k.5 == Some(100)),
        "the fixture reaches both long-prompt classes"
    );
    let quarters: Vec<i64> = buckets
        .iter()
        .map(|b| b.first_at.as_millisecond().div_euclid(QUARTER))
        .collect();
    assert!(quarters.is_sorted(), "in time order");
}

#[test]
fn usage_buckets_of_one_second_never_mix_two_seconds() {
    let store = store();
    write_usage(
        &store,
        &[
            usage("a", "s", 10, [1, 0, 0, 0]),
            usage("b", "s", 10, [2, 0, 0, 0]),
            usage("c", "s", 11, [4, 0, 0, 0]),
        ],
    );
    let inputs: Vec<(u64, u64)> = store
        .usage_buckets(None, None, 1000, &[])
        .unwrap()
        .iter()
        .map(|b| (b.tokens.input, b.responses))
        .collect();
    assert_eq!(inputs, [(3, 2), (4, 1)]);
}
