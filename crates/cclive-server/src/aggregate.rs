//! Totals and cost breakdowns of session history: pure functions of what the store holds.
//!
//! - The summary ("today / this week / this month") adds up whole sessions by the local day they
//!   started: their `total_cost_usd` (Claude Code's own figure when it reported one), turns,
//!   tokens and statuses.
//! - The charts (cost per day, by model, by project) come from `cclive_core::report`, the same
//!   aggregation `cclive report` uses: per API response, cut at local midnight, priced with the
//!   price table (a project's cost is Claude Code's reported total for each session wholly
//!   inside the window). Days without usage are filled with zeros here.
//!
//! Days are calendar days in the caller's time zone; weeks start on Monday. No I/O and no
//! clock: the caller passes the data and "now".

use std::collections::{BTreeMap, HashMap};

use cclive_core::report::{self, ReportOptions, SessionInfo, UsageRecord};
use cclive_core::{CostSource, PriceTable, SessionId, SessionState, Tokens};
use cclive_store::{SessionSummary, UsageRow};
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

/// Figures added up over sessions.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Totals {
    pub(crate) sessions: u64,
    pub(crate) total_cost_usd: f64,
    pub(crate) num_turns: u64,
    pub(crate) duration_ms: u64,
    pub(crate) duration_api_ms: u64,
    pub(crate) tokens: Tokens,
    pub(crate) tool_calls: u64,
    /// Sessions by status name.
    pub(crate) by_status: BTreeMap<&'static str, u64>,
}

impl Totals {
    fn add(&mut self, s: &SessionState) {
        self.sessions += 1;
        self.total_cost_usd += finite(s.total_cost_usd);
        self.num_turns += s.num_turns;
        self.duration_ms += s.duration_ms;
        self.duration_api_ms += s.duration_api_ms;
        self.tokens.add(&s.tokens);
        self.tool_calls += s.tool_calls.values().sum::<u64>();
        *self.by_status.entry(s.status.as_str()).or_default() += 1;
    }
}

/// The sum of `sessions`.
pub(crate) fn totals<'a>(sessions: impl IntoIterator<Item = &'a SessionState>) -> Totals {
    let mut t = Totals::default();
    for s in sessions {
        t.add(s);
    }
    t
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

/// Breakdowns of the usage in `opts`'s window (`since` and `until` must be set).
pub(crate) fn costs(
    rows: &[UsageRow],
    summaries: &[SessionSummary],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Costs {
    let project_of: HashMap<&SessionId, Option<&str>> = summaries
        .iter()
        .map(|s| (&s.session_id, s.project()))
        .collect();
    let records: Vec<UsageRecord> = rows
        .iter()
        .map(|r| UsageRecord {
            at: r.at,
            session_id: r.session_id.clone(),
            project: project_of
                .get(&r.session_id)
                .copied()
                .flatten()
                .map(str::to_owned),
            model: r.model.clone(),
            tokens: r.tokens,
        })
        .collect();
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

    let daily = report::daily(&records, opts, prices);
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
    let mut by_model: Vec<Share> = report::models(&records, opts, prices)
        .rows
        .into_iter()
        .map(|m| Share {
            name: Some(m.model),
            total_cost_usd: m.cost_usd,
            requests: m.usage.messages,
            sessions: None,
        })
        .collect();
    let mut by_project: Vec<Share> = report::projects(&records, &infos, opts, prices)
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

fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
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
        let c = costs(&rows, &summaries, &opts, &PriceTable::builtin());
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
    fn totals_add_every_figure() {
        let mut a = session("a", "2026-11-25T10:00:00Z", 1.25, None, "/w");
        a.tokens.output = 10;
        a.tool_calls.insert("Bash".into(), 3);
        let mut b = session("b", "2026-11-25T10:00:00Z", 0.25, None, "/w");
        b.status = Status::Active;
        b.tokens.output = 5;
        let t = totals([&a, &b]);
        assert_eq!(t.sessions, 2);
        assert_eq!(t.total_cost_usd, 1.5);
        assert_eq!(t.num_turns, 4);
        assert_eq!(t.tokens.output, 15);
        assert_eq!(t.tool_calls, 3);
        assert_eq!(t.by_status["ACTIVE"], 1);
    }
}
