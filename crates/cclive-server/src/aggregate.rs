//! Totals and cost breakdowns of session history: pure functions of what the store holds.
//!
//! - The summary ("today / this week / this month", a date range) counts the sessions that
//!   started in the window (their turns, durations, tool calls and statuses), and the window's
//!   cost and tokens from the API responses in it, priced one by one ([`WindowUsage`]): the
//!   rule of every period's figure (the status line's "today", budgets, `cclive report daily`,
//!   the charts), so the cards and the charts agree with each other and with the terminal. (A
//!   session's own cost — Claude Code's where it reported one — is the session's figure, in the
//!   table and on its page; with exact prices the two agree.)
//! - The charts (cost per day, by model, by project) come from `cclive_core::report`, the same
//!   aggregation `cclive report` uses: per API response, cut at local midnight, priced with the
//!   price table (a project's cost is Claude Code's reported total for each session wholly
//!   inside the window), from the store's sums per quarter hour, session, model and price class
//!   (`cclive_store::usage_groups`). Days without usage are filled with zeros here.
//!
//! Days are calendar days in the caller's time zone; weeks start on Monday. No I/O and no
//! clock: the caller passes the data and "now".

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cclive_core::budget::Spend;
use cclive_core::report::{self, ReportOptions, SessionInfo, UsageGroup};
use cclive_core::{CostSource, PriceTable, SessionId, SessionState, Tokens, usage_merge};
use cclive_store::{SessionSummary, UsageRow, UsageSum};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, ZonedDateTime};
use serde::Serialize;

/// A summary period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub(crate) fn parse(s: &str) -> Option<Period> {
        match s {
            "day" | "today" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// The local date the period that contains `today` starts on.
    pub(crate) fn first_day(self, today: Date) -> Date {
        match self {
            Period::Day => today,
            Period::Week => today
                .checked_sub(i64::from(today.weekday().to_monday_zero_offset()).days())
                .unwrap_or(today),
            Period::Month => today.first_of_month(),
        }
    }
}

/// The instant a local date begins in `tz` (after a DST gap at midnight, the first that exists).
pub(crate) fn start_of(date: Date, tz: &TimeZone) -> Timestamp {
    report::start_of_day(date, tz)
}

/// A window's figures: its sessions' and its usage's.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Totals {
    /// Sessions that started in the window.
    pub(crate) sessions: u64,
    /// The window's API responses, priced one by one; `null` when there was usage and none of
    /// it could be priced.
    pub(crate) total_cost_usd: Option<f64>,
    /// Models of the window's usage the price table does not know (not in the cost).
    pub(crate) unpriced_models: BTreeSet<String>,
    /// API responses in the window.
    pub(crate) requests: u64,
    /// Their tokens.
    pub(crate) tokens: Tokens,
    pub(crate) num_turns: u64,
    pub(crate) duration_ms: u64,
    pub(crate) duration_api_ms: u64,
    pub(crate) tool_calls: u64,
    /// Sessions by status name.
    pub(crate) by_status: BTreeMap<&'static str, u64>,
}

impl Totals {
    fn add(&mut self, s: &SessionState) {
        self.sessions += 1;
        self.num_turns += s.num_turns;
        self.duration_ms += s.duration_ms;
        self.duration_api_ms += s.duration_api_ms;
        self.tool_calls += s.tool_calls.values().sum::<u64>();
        *self.by_status.entry(s.status.as_str()).or_default() += 1;
    }
}

/// The figures of a window: `sessions` (those that started in it) and `usage` (its responses).
pub(crate) fn totals<'a>(
    sessions: impl IntoIterator<Item = &'a SessionState>,
    usage: WindowUsage,
) -> Totals {
    let mut t = Totals::default();
    for s in sessions {
        t.add(s);
    }
    let priced = usage.spend.unpriced_models.is_empty() || usage.spend.total_usd > 0.0;
    t.total_cost_usd = priced.then_some(usage.spend.total_usd);
    t.unpriced_models = usage.spend.unpriced_models;
    t.requests = usage.responses;
    t.tokens = usage.tokens;
    t
}

/// The usage of a window: its API responses, each counted once and priced on its own.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct WindowUsage {
    /// What they cost.
    pub(crate) spend: Spend,
    /// Their tokens.
    pub(crate) tokens: Tokens,
    /// How many.
    pub(crate) responses: u64,
}

impl WindowUsage {
    /// The window's usage: the store's `sums` of it (per price class), with the monitor's
    /// `live` responses in the window merged in. The store lags the monitor by a flush, so a
    /// live response replaces its stored row (the usage merge rule: field-wise maximum) or
    /// joins them. `stored_recent` are the stored rows from the earliest live response on
    /// (what the merge replaces); `live` holds only responses stored nowhere else.
    pub(crate) fn of(
        sums: &[UsageSum],
        stored_recent: &[UsageRow],
        live: &[UsageRow],
        prices: &PriceTable,
    ) -> WindowUsage {
        let mut usage = WindowUsage::default();
        for sum in sums {
            let (project, model) = (sum.project.as_deref(), sum.model.as_deref());
            usage
                .spend
                .add_sum(project, model, &sum.tokens, sum.prompt_above, prices);
            usage.tokens.add(&sum.tokens);
            usage.responses += sum.responses;
        }
        if live.is_empty() {
            return usage;
        }
        let mut merged: BTreeMap<&str, UsageRow> = stored_recent
            .iter()
            .map(|r| (r.key.as_str(), r.clone()))
            .collect();
        let mut replaced = Spend::default();
        for row in stored_recent {
            replaced.add(None, row.model.as_deref(), &row.tokens, prices);
            usage.tokens.sub(&row.tokens);
            usage.responses = usage.responses.saturating_sub(1);
        }
        for row in live {
            match merged.get_mut(row.key.as_str()) {
                Some(kept) => {
                    let report = usage_merge::Report {
                        tokens: &row.tokens,
                        model: row.model.as_deref(),
                        sidechain: row.sidechain,
                        at: row.at,
                    };
                    usage_merge::Kept {
                        tokens: &mut kept.tokens,
                        model: &mut kept.model,
                        sidechain: &mut kept.sidechain,
                        first_at: &mut kept.at,
                    }
                    .merge(&report);
                }
                None => {
                    merged.insert(row.key.as_str(), row.clone());
                }
            }
        }
        let mut fresh = Spend::default();
        for row in merged.values() {
            fresh.add(None, row.model.as_deref(), &row.tokens, prices);
            usage.tokens.add(&row.tokens);
            usage.responses += 1;
        }
        usage.spend.total_usd += fresh.total_usd - replaced.total_usd;
        usage.spend.unpriced_models.extend(fresh.unpriced_models);
        usage
    }
}

/// One day of the cost chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct DayCost {
    pub(crate) date: Date,
    pub(crate) total_cost_usd: f64,
    /// API responses that day.
    pub(crate) requests: u64,
}

/// One bar of a "cost by …" chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Share {
    /// The model or project; `null` for usage of sessions without one.
    pub(crate) name: Option<String>,
    pub(crate) total_cost_usd: f64,
    /// API responses.
    pub(crate) requests: u64,
    /// Sessions (projects only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sessions: Option<u64>,
}

/// The charts' data.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Costs {
    /// Every day of the window, oldest first, zero when nothing ran.
    pub(crate) days: Vec<DayCost>,
    /// Most expensive first.
    pub(crate) by_model: Vec<Share>,
    /// Most expensive first.
    pub(crate) by_project: Vec<Share>,
    /// The whole window's estimated cost.
    pub(crate) total_cost_usd: f64,
}

/// Each session's project, by id.
pub(crate) fn projects(summaries: &[SessionSummary]) -> HashMap<&SessionId, Option<&str>> {
    summaries
        .iter()
        .map(|s| (&s.session_id, s.project()))
        .collect()
}

/// Breakdowns of the usage in `opts`'s window (`since` and `until` must be set), from groups
/// that lie within one local day each ([`UsageGroup::is_within_a_day`]).
pub(crate) fn costs(
    usage: &[UsageGroup],
    summaries: &[SessionSummary],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Costs {
    let infos: Vec<SessionInfo> = summaries
        .iter()
        .map(|s| SessionInfo {
            session_id: s.session_id.clone(),
            project: s.project().map(str::to_owned),
            reported_cost_usd: (s.cost_source == CostSource::Reported)
                .then_some(s.total_cost_usd)
                .flatten(),
        })
        .collect();

    let daily = report::daily(usage, opts, prices);
    let mut per_day: BTreeMap<Date, DayCost> = BTreeMap::new();
    if let (Some(first), Some(last)) = (opts.since, opts.until) {
        let mut date = first;
        while date <= last {
            per_day.insert(
                date,
                DayCost {
                    date,
                    total_cost_usd: 0.0,
                    requests: 0,
                },
            );
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
    }
    for row in &daily.rows {
        if let Ok(date) = row.period.parse::<Date>()
            && let Some(day) = per_day.get_mut(&date)
        {
            day.total_cost_usd = row.cost_usd;
            day.requests = row.usage.messages;
        }
    }
    let mut by_model: Vec<Share> = report::models(usage, opts, prices)
        .rows
        .into_iter()
        .map(|m| Share {
            name: Some(m.model),
            total_cost_usd: m.cost_usd,
            requests: m.usage.messages,
            sessions: None,
        })
        .collect();
    let mut by_project: Vec<Share> = report::projects(usage, &infos, opts, prices)
        .rows
        .into_iter()
        .map(|p| Share {
            name: p.project,
            total_cost_usd: p.cost_usd,
            requests: p.usage.messages,
            sessions: Some(p.sessions),
        })
        .collect();
    for shares in [&mut by_model, &mut by_project] {
        shares.sort_by(|a, b| {
            b.total_cost_usd
                .total_cmp(&a.total_cost_usd)
                .then_with(|| a.name.cmp(&b.name))
        });
    }
    Costs {
        days: per_day.into_values().collect(),
        by_model,
        by_project,
        total_cost_usd: daily.totals.cost_usd,
    }
}

/// "Now" in `tz`.
pub(crate) fn now_in(tz: &TimeZone) -> ZonedDateTime {
    Timestamp::now().to_zoned_datetime(tz.clone())
}

#[cfg(test)]
mod tests {
    use cclive_core::Status;
    use jiff::civil::date;

    use super::*;

    fn session(id: &str, at: &str, cost: f64, model: Option<&str>, project: &str) -> SessionState {
        let mut s = SessionState::new(SessionId::new(id), at.parse().unwrap());
        s.total_cost_usd = cost;
        s.model = model.map(str::to_owned);
        s.project_path = Some(project.to_owned());
        s.num_turns = 2;
        s.status = Status::Completed;
        s
    }

    #[test]
    fn periods_start_today_on_monday_and_on_the_first() {
        let wednesday = date(2026, 11, 25);
        assert_eq!(Period::Day.first_day(wednesday), wednesday);
        assert_eq!(Period::Week.first_day(wednesday), date(2026, 11, 23));
        assert_eq!(
            Period::Week.first_day(date(2026, 11, 23)),
            date(2026, 11, 23)
        );
        assert_eq!(
            Period::Week.first_day(date(2026, 11, 29)),
            date(2026, 11, 23)
        );
        assert_eq!(Period::Month.first_day(wednesday), date(2026, 11, 1));
    }

    #[test]
    fn days_follow_the_time_zone() {
        let tz = TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            start_of(date(2026, 11, 25), &tz),
            "2026-11-25T05:00:00Z".parse::<Timestamp>().unwrap()
        );
    }

    fn row(key: &str, session: &str, at: &str, model: &str, output: u64) -> UsageRow {
        UsageRow {
            key: key.into(),
            session_id: SessionId::new(session),
            at: at.parse().unwrap(),
            model: Some(model.into()),
            tokens: Tokens {
                output,
                ..Tokens::default()
            },
            sidechain: false,
        }
    }

    /// The rows as the store sums them ([`cclive_store::Store::usage_buckets`]).
    fn quarter_hours(rows: &[UsageRow]) -> Vec<UsageGroup> {
        let store = cclive_store::SqliteStore::open_in_memory().unwrap();
        cclive_store::Store::write(
            &store,
            &cclive_store::Batch {
                usage: rows.to_vec(),
                ..cclive_store::Batch::default()
            },
        )
        .unwrap();
        let thresholds = PriceTable::builtin().prompt_thresholds();
        cclive_store::Store::usage_buckets(&store, None, None, report::QUARTER_HOUR_MS, &thresholds)
            .unwrap()
            .into_iter()
            .map(|b| b.into_group(None))
            .collect()
    }

    /// Each chart's figures are the responses priced one by one, though the store sums them per
    /// quarter hour first: a day's responses, a model's, a project's sessions'.
    #[test]
    fn costs_are_the_responses_priced_one_by_one() {
        let prices = PriceTable::builtin();
        let models = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-5-5"];
        let rows: Vec<UsageRow> = (0..300_u64)
            .map(|i| {
                let at = Timestamp::from_second(1_795_500_000 + i64::try_from(i * 797).unwrap())
                    .unwrap();
                let mut r = row(
                    &format!("m{i}"),
                    ["a", "b"][usize::try_from(i % 2).unwrap()],
                    &at.to_string(),
                    models[usize::try_from(i % 3).unwrap()],
                    (i * 7919) % 20_000,
                );
                r.tokens.input = i % 13;
                r.tokens.cache_read = (i * 104_729) % 150_000;
                r.tokens.cache_creation = (i * 31) % 4_000;
                r
            })
            .collect();
        let tz = TimeZone::get("America/New_York").unwrap();
        let mut opts = ReportOptions::new(tz.clone());
        opts.since = Some(rows[0].at.to_zoned_datetime(tz.clone()).date());
        opts.until = Some(rows[299].at.to_zoned_datetime(tz.clone()).date());
        let c = costs(&quarter_hours(&rows), &[], &opts, &prices);

        let price = |r: &UsageRow| prices.cost(r.model.as_deref().unwrap(), &r.tokens).unwrap();
        for day in &c.days {
            let of_day: Vec<&UsageRow> = rows
                .iter()
                .filter(|r| r.at.to_zoned_datetime(tz.clone()).date() == day.date)
                .collect();
            let each: f64 = of_day.iter().map(|r| price(r)).sum();
            assert!((day.total_cost_usd - each).abs() < 1e-8, "{}", day.date);
            assert_eq!(day.requests, of_day.len() as u64);
        }
        for model in &c.by_model {
            let each: f64 = rows
                .iter()
                .filter(|r| r.model == model.name)
                .map(price)
                .sum();
            assert!((model.total_cost_usd - each).abs() < 1e-8);
        }
        assert_eq!(c.by_project.len(), 1, "sessions never stored: no project");
        let all: f64 = rows.iter().map(price).sum();
        assert!((c.by_project[0].total_cost_usd - all).abs() < 1e-8);
        assert!((c.total_cost_usd - all).abs() < 1e-8);
        assert!(c.days.len() > 2, "the fixture spans days");
    }

    #[test]
    fn costs_fill_every_day_and_rank_models_and_projects() {
        let mut app = session("a", "2026-11-23T10:00:00Z", 9.0, None, "/w/app");
        app.cost_source = CostSource::Reported;
        let lib = session("b", "2026-11-25T10:00:00Z", 0.0, None, "/w/lib");
        let summaries = [
            SessionSummary::of_state(&app),
            SessionSummary::of_state(&lib),
        ];
        let rows = [
            row(
                "m1",
                "a",
                "2026-11-23T10:00:00Z",
                "claude-opus-4-1",
                1_000_000,
            ),
            row(
                "m2",
                "b",
                "2026-11-25T10:00:00Z",
                "claude-sonnet-4-5",
                1_000_000,
            ),
            row(
                "m3",
                "b",
                "2026-11-25T11:00:00Z",
                "claude-sonnet-4-5",
                1_000_000,
            ),
        ];
        let mut opts = ReportOptions::new(TimeZone::UTC);
        opts.since = Some(date(2026, 11, 23));
        opts.until = Some(date(2026, 11, 25));
        let c = costs(
            &quarter_hours(&rows),
            &summaries,
            &opts,
            &PriceTable::builtin(),
        );
        let days: Vec<(String, f64, u64)> = c
            .days
            .iter()
            .map(|d| (d.date.to_string(), d.total_cost_usd, d.requests))
            .collect();
        assert_eq!(
            days,
            [
                ("2026-11-23".to_owned(), 75.0, 1),
                ("2026-11-24".to_owned(), 0.0, 0),
                ("2026-11-25".to_owned(), 30.0, 2)
            ],
            "per response, priced: opus-4 output $75/M, sonnet $15/M"
        );
        let models: Vec<(Option<&str>, f64)> = c
            .by_model
            .iter()
            .map(|s| (s.name.as_deref(), s.total_cost_usd))
            .collect();
        assert_eq!(
            models,
            [
                (Some("claude-opus-4-1"), 75.0),
                (Some("claude-sonnet-4-5"), 30.0)
            ]
        );
        let projects: Vec<(Option<&str>, f64, Option<u64>)> = c
            .by_project
            .iter()
            .map(|s| (s.name.as_deref(), s.total_cost_usd, s.sessions))
            .collect();
        assert_eq!(
            projects,
            [
                (Some("/w/lib"), 30.0, Some(1)),
                (Some("/w/app"), 9.0, Some(1))
            ],
            "a session wholly inside the window counts with Claude Code's own total"
        );
        assert_eq!(c.total_cost_usd, 105.0);
    }

    #[test]
    fn totals_count_the_sessions_and_price_the_usage() {
        let mut a = session("a", "2026-11-25T10:00:00Z", 1.25, None, "/w");
        a.tokens.output = 10;
        a.tool_calls.insert("Bash".into(), 3);
        let mut b = session("b", "2026-11-25T10:00:00Z", 0.25, None, "/w");
        b.status = Status::Active;
        let sums = [UsageSum {
            project: Some("/w".into()),
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                output: 100_000,
                ..Tokens::default()
            },
            responses: 4,
            prompt_above: None,
        }];
        let usage = WindowUsage::of(&sums, &[], &[], &PriceTable::builtin());
        let t = totals([&a, &b], usage);
        assert_eq!(t.sessions, 2);
        assert_eq!(t.num_turns, 4);
        assert_eq!(t.tool_calls, 3);
        assert_eq!(t.by_status["ACTIVE"], 1);
        assert_eq!(
            (t.total_cost_usd, t.tokens.output, t.requests),
            (Some(1.5), 100_000, 4),
            "the cost and tokens of the window's responses ($15/M output), not the sessions' totals"
        );

        let unknown = [UsageSum {
            model: Some("claude-nonesuch-9".into()),
            ..sums[0].clone()
        }];
        let t = totals(
            [&a],
            WindowUsage::of(&unknown, &[], &[], &PriceTable::builtin()),
        );
        assert_eq!(t.total_cost_usd, None, "unknown, not $0");
        assert!(t.unpriced_models.contains("claude-nonesuch-9"));
    }

    #[test]
    fn live_responses_replace_their_stored_rows_and_join_the_others() {
        let prices = PriceTable::builtin();
        let sonnet = "claude-sonnet-4-5";
        let streaming = row("m1", "live", "2026-11-25T10:00:00Z", sonnet, 100_000);
        let sums = [UsageSum {
            project: None,
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                output: 300_000,
                ..Tokens::default()
            },
            responses: 2,
            prompt_above: None,
        }];
        // Stored: m0 (200k output tokens) and m1 (100k so far). The monitor saw m1 grow to 400k output tokens, and a new response m2.
        let live = [
            row("m1", "live", "2026-11-25T10:00:00Z", sonnet, 400_000),
            row("m2", "live", "2026-11-25T10:05:00Z", sonnet, 100_000),
        ];
        let usage = WindowUsage::of(&sums, std::slice::from_ref(&streaming), &live, &prices);
        assert_eq!(usage.responses, 3, "m0, m1 once, m2");
        assert_eq!(usage.tokens.output, 700_000);
        assert!(
            (usage.spend.total_usd - 10.5).abs() < 1e-9,
            "{} = $15/M × 700k",
            usage.spend.total_usd
        );
    }
}
