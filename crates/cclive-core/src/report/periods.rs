//! Daily, weekly and monthly reports: records grouped by the local calendar period they fall
//! in. Each period's `start` and `end` are the instants its first and next local day begin, so a
//! DST week spans 167 or 169 hours and a row's figures are exactly its records'.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use super::{
    Acc, CostBasis, ModelUsage, Pricer, Report, ReportKind, ReportOptions, TotalsBuilder, Usage,
    UsageGroup, next_month, round_usd, start_of_day,
};
use crate::pricing::PriceTable;

/// How long a period is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One local day.
    Day,
    /// Seven local days from the week start.
    Week,
    /// One calendar month.
    Month,
}

impl Granularity {
    /// The first local date of the period that contains `date`.
    pub fn period_of(self, date: Date, opts: &ReportOptions) -> Date {
        match self {
            Granularity::Day => date,
            Granularity::Week => opts.week_start.week_of(date),
            Granularity::Month => date.first_of_month(),
        }
    }

    /// The first local date of the next period.
    pub fn next(self, first: Date) -> Date {
        match self {
            Granularity::Day => first.tomorrow().unwrap_or(first),
            Granularity::Week => first.checked_add(7.days()).unwrap_or(first),
            Granularity::Month => next_month(first),
        }
    }

    /// The period's label: `2026-03-29` for a day or a week (its first day), `2026-03` for a
    /// month.
    pub fn label(self, first: Date) -> String {
        match self {
            Granularity::Day | Granularity::Week => first.to_string(),
            Granularity::Month => format!("{:04}-{:02}", first.year(), first.month()),
        }
    }

    fn kind(self) -> ReportKind {
        match self {
            Granularity::Day => ReportKind::Daily,
            Granularity::Week => ReportKind::Weekly,
            Granularity::Month => ReportKind::Monthly,
        }
    }
}

/// One day, week or month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeriodRow {
    /// `YYYY-MM-DD` (a day, or the first day of a week) or `YYYY-MM`.
    pub period: String,
    /// When the period begins (UTC).
    pub start: Timestamp,
    /// When the next one begins (UTC).
    pub end: Timestamp,
    /// Its figures.
    #[serde(flatten)]
    pub usage: Usage,
    /// Its cost: always the estimate, per response.
    #[serde(deserialize_with = "crate::usage::null_as_nan")]
    pub cost_usd: f64,
    /// Always `estimated`.
    pub cost_source: CostBasis,
    /// The models that answered, by name.
    pub models: Vec<String>,
    /// Models the price table does not know.
    pub unpriced_models: Vec<String>,
    /// Per model, most expensive first (only with `--breakdown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Vec<ModelUsage>>,
}

/// Usage grouped by local day.
pub fn daily(
    groups: &[UsageGroup],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Report<PeriodRow> {
    periods(groups, opts, prices, Granularity::Day)
}

/// Usage grouped by week (starting on `opts.week_start`).
pub fn weekly(
    groups: &[UsageGroup],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Report<PeriodRow> {
    periods(groups, opts, prices, Granularity::Week)
}

/// Usage grouped by calendar month.
pub fn monthly(
    groups: &[UsageGroup],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Report<PeriodRow> {
    periods(groups, opts, prices, Granularity::Month)
}

/// Usage that passes the filters, grouped by period, oldest first; periods without usage are
/// left out. Each group must lie within one local day of `opts.tz`
/// ([`UsageGroup::is_within_a_day`]): it is cut by its first response.
pub fn periods(
    groups: &[UsageGroup],
    opts: &ReportOptions,
    prices: &PriceTable,
    granularity: Granularity,
) -> Report<PeriodRow> {
    let mut table = Pricer::new(prices);
    let mut periods: BTreeMap<Date, Acc> = BTreeMap::new();
    for group in groups {
        if !opts.in_project(group.project.as_deref()) {
            continue;
        }
        let date = opts.date_of(group.first_at);
        if opts.since.is_some_and(|s| date < s) || opts.until.is_some_and(|u| date > u) {
            continue;
        }
        periods
            .entry(granularity.period_of(date, opts))
            .or_default()
            .add(group.summed(), &mut table);
    }
    let mut totals = TotalsBuilder::new();
    let rows = periods
        .into_iter()
        .map(|(first, acc)| {
            let cost = acc.usage.cost_usd().unwrap_or(f64::NAN);
            totals.add(&acc, cost, CostBasis::Estimated);
            PeriodRow {
                period: granularity.label(first),
                start: start_of_day(first, &opts.tz),
                end: start_of_day(granularity.next(first), &opts.tz),
                usage: acc.usage.rounded(),
                cost_usd: round_usd(cost),
                cost_source: CostBasis::Estimated,
                models: acc.models(),
                unpriced_models: acc.unpriced(),
                breakdown: acc.breakdown_if(opts.breakdown),
            }
        })
        .collect();
    Report::new(granularity.kind(), opts, rows, totals.finish())
}
