//! `GET /api/limits`: what stands between the user and a limit, for the dashboard's panel — the
//! 5-hour block running now (used, burn rate, projection to its end, time left), the spend of
//! the current day, week and month against the `[budget]` limits, and Claude Code's official
//! rate limits with the time they were reported.
//!
//! Budgets and blocks are the binary's settings and rules (`cclive budget`, `cclive report
//! blocks` and `cclive top` compute the same figures), so the binary hands over a
//! [`LimitsSource`] that computes them from the store; this module only shapes them for JSON.
//! The official limits come from the monitor's snapshot (the status line's last report). It
//! never computes a block or a budget itself.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use cclive_core::blocks::Block;
use cclive_core::budget::{BudgetStatus, Level, Period};
use cclive_core::statusline::RateLimits;
use cclive_store::StoreError;
use jiff::Timestamp;
use serde::Serialize;

use crate::{ApiError, AppState};

/// The spend of the current day, week or month (all projects), whether or not a limit is set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeriodSpend {
    /// Which period.
    pub period: Period,
    /// Its key (`2026-09-03`, the week's first day, `2026-09`).
    pub key: String,
    /// When it began.
    pub start: Timestamp,
    /// When it ends.
    pub end: Timestamp,
    /// Estimated spend so far (the price table).
    pub spent_usd: f64,
    /// The spend at its end at the pace so far.
    pub projected_usd: f64,
}

/// What the binary computes for the panel at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageLimits {
    /// The 5-hour block running now, with its live figures.
    pub block: Option<Block>,
    /// Day, week and month.
    pub periods: Vec<PeriodSpend>,
    /// Every configured limit's status (global first, then by project; each by period).
    pub budgets: Vec<BudgetStatus>,
}

/// Computes [`UsageLimits`] at the given instant. Blocking: it reads the store.
pub type LimitsSource = Arc<dyn Fn(Timestamp) -> Result<UsageLimits, StoreError> + Send + Sync>;

/// The running block, as the page shows it.
#[derive(Debug, Serialize)]
struct BlockView<'a> {
    start: Timestamp,
    end: Timestamp,
    first_at: Timestamp,
    last_at: Timestamp,
    elapsed_ms: i64,
    remaining_ms: i64,
    cost_usd: f64,
    total_tokens: u64,
    messages: u64,
    models: &'a [String],
    tokens_per_minute: Option<f64>,
    cost_per_hour: Option<f64>,
    projected_cost_usd: Option<f64>,
    projected_total_tokens: Option<u64>,
}

impl<'a> BlockView<'a> {
    fn of(b: &'a Block, now: Timestamp) -> Self {
        let live = b.live.as_ref();
        Self {
            start: b.span.start,
            end: b.span.end,
            first_at: b.span.first_at,
            last_at: b.span.last_at,
            elapsed_ms: live.map_or_else(
                || now.as_millisecond() - b.span.start.as_millisecond(),
                |l| l.elapsed_ms,
            ),
            remaining_ms: live.map_or_else(
                || (b.span.end.as_millisecond() - now.as_millisecond()).max(0),
                |l| l.remaining_ms,
            ),
            cost_usd: b.cost_usd,
            total_tokens: b.usage.total_tokens,
            messages: b.usage.messages,
            models: &b.models,
            tokens_per_minute: live.map(|l| l.burn_rate.tokens_per_minute.round()),
            cost_per_hour: live.map(|l| l.burn_rate.cost_per_hour),
            projected_cost_usd: live.map(|l| l.projected_cost_usd),
            projected_total_tokens: live.map(|l| l.projected_total_tokens),
        }
    }
}

/// A period with the global limit of that period, when one is set.
#[derive(Debug, Serialize)]
struct PeriodView<'a> {
    #[serde(flatten)]
    spend: &'a PeriodSpend,
    limit_usd: Option<f64>,
    percent: Option<f64>,
    projected_percent: Option<f64>,
    level: Option<Level>,
}

/// The whole answer.
#[derive(Debug, Serialize)]
struct LimitsView<'a> {
    now: Timestamp,
    /// `true` when the binary computes blocks and budgets (a monitor always does).
    available: bool,
    block: Option<BlockView<'a>>,
    periods: Vec<PeriodView<'a>>,
    budgets: &'a [BudgetStatus],
    rate_limits: Option<RateLimits>,
}

fn view(
    now: Timestamp,
    available: bool,
    limits: &UsageLimits,
    rate_limits: Option<RateLimits>,
) -> LimitsView<'_> {
    let periods = limits
        .periods
        .iter()
        .map(|spend| {
            let global = limits
                .budgets
                .iter()
                .find(|b| b.project.is_none() && b.period == spend.period);
            PeriodView {
                spend,
                limit_usd: global.map(|b| b.limit_usd),
                percent: global.map(|b| b.percent),
                projected_percent: global.map(|b| b.projected_percent),
                level: global.map(|b| b.level),
            }
        })
        .collect();
    LimitsView {
        now,
        available,
        block: limits.block.as_ref().map(|b| BlockView::of(b, now)),
        periods,
        budgets: &limits.budgets,
        rate_limits: rate_limits.filter(|l| !l.is_empty()),
    }
}

/// The panel's figures now.
pub(crate) async fn limits(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = Timestamp::now();
    let source = state.inner.metric_sources.limits.clone();
    let available = source.is_some();
    let figures = match source {
        Some(source) => tokio::task::spawn_blocking(move || source(now))
            .await
            .map_err(|_| ApiError::Internal)?
            .map_err(|e| ApiError::store(&e))?,
        None => UsageLimits::default(),
    };
    let rate_limits = state.inner.snapshot.borrow().rate_limits.clone();
    let value = serde_json::to_value(view(now, available, &figures, rate_limits))
        .map_err(|_| ApiError::Internal)?;
    Ok(Json(value))
}

#[cfg(test)]
mod tests {
    use cclive_core::blocks::{BlockSpan, BurnRate, LiveBlock};
    use cclive_core::report::{CostBasis, Usage};
    use cclive_core::statusline::RateLimit;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn sample() -> UsageLimits {
        let now = ts("2026-09-03T12:30:00Z");
        let block = Block {
            span: BlockSpan {
                start: ts("2026-09-03T10:00:00Z"),
                end: ts("2026-09-03T15:00:00Z"),
                first_at: ts("2026-09-03T10:12:00Z"),
                last_at: ts("2026-09-03T12:29:00Z"),
            },
            active: true,
            usage: Usage {
                input: 1000,
                output: 20_000,
                cache_creation: 0,
                cache_read: 79_000,
                total_tokens: 100_000,
                messages: 40,
                estimated_cost_usd: 4.5,
                priced_messages: 40,
            },
            cost_usd: 4.5,
            cost_source: CostBasis::Estimated,
            models: vec!["claude-opus-4-5".into()],
            unpriced_models: Vec::new(),
            limit_percent: None,
            live: Some(LiveBlock {
                now,
                elapsed_ms: 9_000_000,
                remaining_ms: 9_000_000,
                burn_rate: BurnRate {
                    window_start: ts("2026-09-03T12:00:00Z"),
                    window_minutes: 30.0,
                    tokens: 30_000,
                    cost_usd: 1.5,
                    tokens_per_minute: 1000.0,
                    cost_per_hour: 3.0,
                },
                projected_total_tokens: 250_000,
                projected_cost_usd: 12.0,
                projected_limit_percent: None,
            }),
            breakdown: None,
        };
        let day = PeriodSpend {
            period: Period::Day,
            key: "2026-09-03".into(),
            start: ts("2026-09-03T00:00:00Z"),
            end: ts("2026-09-04T00:00:00Z"),
            spent_usd: 11.4,
            projected_usd: 21.9,
        };
        let week = PeriodSpend {
            period: Period::Week,
            key: "2026-08-31".into(),
            start: ts("2026-08-31T00:00:00Z"),
            end: ts("2026-09-07T00:00:00Z"),
            spent_usd: 30.0,
            projected_usd: 60.0,
        };
        let daily = BudgetStatus {
            project: None,
            period: Period::Day,
            period_key: "2026-09-03".into(),
            start: day.start,
            end: day.end,
            limit_usd: 10.0,
            spent_usd: 11.4,
            percent: 114.0,
            projected_usd: 21.9,
            projected_percent: 219.0,
            level: Level::Exceeded,
        };
        let project = BudgetStatus {
            project: Some("app".into()),
            limit_usd: 20.0,
            spent_usd: 5.0,
            percent: 25.0,
            projected_usd: 9.6,
            projected_percent: 48.0,
            level: Level::Ok,
            ..daily.clone()
        };
        UsageLimits {
            block: Some(block),
            periods: vec![day, week],
            budgets: vec![daily, project],
        }
    }

    #[test]
    fn the_panel_joins_periods_with_their_global_limit() {
        let figures = sample();
        let limits = RateLimits {
            five_hour: Some(RateLimit {
                used_percentage: 42.5,
                resets_at: Some(ts("2026-09-03T15:00:00Z")),
            }),
            seven_day: None,
            reported_at: Some(ts("2026-09-03T12:25:00Z")),
        };
        let value = serde_json::to_value(view(
            ts("2026-09-03T12:30:00Z"),
            true,
            &figures,
            Some(limits),
        ))
        .unwrap();
        insta::assert_json_snapshot!("limits", value);
    }

    #[test]
    fn empty_limits_are_null() {
        let figures = UsageLimits::default();
        let value = serde_json::to_value(view(
            ts("2026-09-03T12:30:00Z"),
            false,
            &figures,
            Some(RateLimits::default()),
        ))
        .unwrap();
        assert_eq!(value["rate_limits"], serde_json::Value::Null);
        assert_eq!(value["block"], serde_json::Value::Null);
        assert_eq!(value["available"], false);
    }
}
