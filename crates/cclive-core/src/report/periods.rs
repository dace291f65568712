//! Daily, weekly and monthly reports: records grouped by the local calendar period they fall
//! in. Each period's `start` and `end` are the instants its first and next local day begin, so a
//! DST week spans 167 or 169 hours and a row's figures are exactly its records'.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use super::{
    Acc, CostBasis, ModelUsage, Report, ReportKind, ReportOptions, TotalsBuilder, Usage,
    UsageRecord, next_month, round_usd, start_of_day,
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

/// Records grouped by local day.
pub fn daily(
    records: &[UsageRecord],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Report<PeriodRow> {
    periods(records, opts, prices, Granularity::Day)
}

/// Records grouped by week (starting on `opts.week_start`).
pub fn weekly(
    records: &[UsageRecord],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Report<PeriodRow> {
    periods(records, opts, prices, Granularity::Week)
}

/// Records grouped by calendar month.
pub fn monthly(
    records: &[UsageRecord],
    opts: &ReportOptions,
    prices: &PriceTable,
) -> Report<PeriodRow> {
    periods(records, opts, prices, Granularity::Month)
}

/// Records that pass the filters, grouped by period, oldest first; periods without records are
/// left out.
pub fn periods(
    records: &[UsageRecord],
    opts: &ReportOptions,
    prices: &PriceTable,
    granularity: Granularity,
) -> Report<PeriodRow> {
    let mut groups: BTreeMap<Date, Acc> = BTreeMap::new();
    for record in records {
        if !opts.in_project(record.project.as_deref()) {
            continue;
        }
        let date = opts.date_of(record.at);
        if opts.since.is_some_and(|s| date < s) || opts.until.is_some_and(|u| date > u) {
            continue;
        }
        groups
            .entry(granularity.period_of(date, opts))
            .or_default()
            .add(record, prices);
    }
    let mut totals = TotalsBuilder::new();
    let rows = groups
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
