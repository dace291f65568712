//! What `cclive top` shows besides the live sessions, read from the history database: the
//! recent sessions, today / this week / this month against the budget, the 5-hour block running
//! now and cost over the last hours.
//!
//! [`History::compute`] is pure (records, sessions, budget and clock in; figures out) so the
//! screen can be tested with made-up values; [`History::load`] is the one place that reads the
//! store for it: one indexed range query over the usage since the earliest window shown, and
//! one page of sessions. The figures come from the same core functions as `cclive budget` and
//! `cclive report blocks`, so the three always agree.

use cclive_core::PriceTable;
use cclive_core::SessionState;
use cclive_core::blocks::{self, Block};
use cclive_core::budget::{self, Budget, Level, Period, Spend};
use cclive_core::plans::{self, BlockPace};
use cclive_core::report::{ReportOptions, UsageRecord};
use cclive_store::{SessionQuery, Store, StoreError};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Sessions read for the table (the newest).
pub const RECENT_SESSIONS: usize = 200;

/// Minutes per sparkline bucket.
pub const SPARK_BUCKET_MINUTES: i64 = 5;

/// Hours the sparkline covers.
pub const SPARK_HOURS: i64 = 6;

/// Buckets in the sparkline.
pub const SPARK_BUCKETS: usize = 72;

/// Spend in the current day, week or month, against its limit when one is set.
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodFigure {
    /// Which period.
    pub period: Period,
    /// Its key (`2026-09-03`, the week's first day, `2026-09`).
    pub key: String,
    /// Estimated spend so far.
    pub spent_usd: f64,
    /// The global limit, if set.
    pub limit_usd: Option<f64>,
    /// Spend as a share of the limit.
    pub percent: Option<f64>,
    /// The spend at the period's end at the pace so far.
    pub projected_usd: f64,
    /// How close to the limit.
    pub level: Option<Level>,
}

/// Estimated cost per [`SPARK_BUCKET_MINUTES`] over the last hours, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spark {
    /// Cost per bucket, in tenths of a cent (the sparkline draws integers).
    pub millidollars: Vec<u64>,
    /// The end of the last bucket.
    pub until: Option<Timestamp>,
}

impl Spark {
    /// The most expensive bucket, in USD.
    pub fn max_usd(&self) -> f64 {
        self.millidollars.iter().copied().max().unwrap_or(0) as f64 / 1000.0
    }
}

/// Everything the screen shows from the store.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// When it was read.
    pub loaded_at: Timestamp,
    /// The newest sessions, newest first.
    pub recent: Vec<SessionState>,
    /// Day, week and month.
    pub periods: Vec<PeriodFigure>,
    /// The 5-hour block running now (estimated from the price table).
    pub block: Option<Block>,
    /// That block's use and pace, for the plan's time-to-limit.
    pub pace: Option<BlockPace>,
    /// The 90th percentile of the finished blocks' input plus output tokens (the Custom plan's
    /// token limit), when there are any.
    pub learned_tokens: Option<u64>,
    /// Cost over the last hours.
    pub spark: Spark,
    /// The zone days are cut in.
    pub tz: TimeZone,
}

impl History {
    /// Nothing known yet at `now` (no database).
    pub fn empty(now: Timestamp, tz: &TimeZone) -> History {
        History::compute(
            &[],
            Vec::new(),
            &Budget::default(),
            &PriceTable::builtin(),
            tz,
            now,
        )
    }

    /// The figures from usage `records` (covering at least this month, this week and the last
    /// day, in time order) and `recent` sessions.
    pub fn compute(
        records: &[UsageRecord],
        recent: Vec<SessionState>,
        budget: &Budget,
        prices: &PriceTable,
        tz: &TimeZone,
        now: Timestamp,
    ) -> History {
        let periods = Period::ALL
            .into_iter()
            .map(|period| {
                let window = budget::window(period, now, tz, budget.week_start);
                let spent = Spend::of_records(records, &window, prices).total_usd;
                let limit = budget.limits.for_period(period);
                PeriodFigure {
                    period,
                    key: window.key.clone(),
                    spent_usd: spent,
                    limit_usd: limit,
                    percent: limit.map(|l| spent / l * 100.0),
                    projected_usd: budget::project_to_end(spent, &window, now),
                    level: limit.map(|l| Level::of(spent, l)),
                }
            })
            .collect();
        let all = blocks::report(records, &ReportOptions::new(tz.clone()), prices, now, None);
        let finished: Vec<u64> = all
            .rows
            .iter()
            .filter(|b| !b.active)
            .map(|b| b.usage.input + b.usage.output)
            .collect();
        let block = all.rows.into_iter().find(|b| b.active);
        History {
            loaded_at: now,
            recent,
            periods,
            pace: block.as_ref().map(|b| plans::pace(records, b, now, prices)),
            learned_tokens: plans::p90(&finished),
            block,
            spark: spark(records, prices, now),
            tz: tz.clone(),
        }
    }

    /// Reads the store at `now`.
    pub fn load(
        store: &dyn Store,
        budget: &Budget,
        prices: &PriceTable,
        tz: &TimeZone,
        now: Timestamp,
    ) -> Result<History, StoreError> {
        let since = Period::ALL
            .into_iter()
            .map(|p| budget::window(p, now, tz, budget.week_start).start)
            .min()
            .unwrap_or(now);
        let records = crate::history::usage_records::recent(store, since, now)?;
        let recent = store.sessions(&SessionQuery {
            limit: Some(RECENT_SESSIONS),
            ..SessionQuery::default()
        })?;
        Ok(History::compute(&records, recent, budget, prices, tz, now))
    }
}

fn spark(records: &[UsageRecord], prices: &PriceTable, now: Timestamp) -> Spark {
    let bucket_ms = SPARK_BUCKET_MINUTES * 60_000;
    // Buckets end on a whole bucket boundary after `now`, so they do not shift every second.
    let until_ms = (now.as_millisecond().div_euclid(bucket_ms) + 1) * bucket_ms;
    let span = SPARK_HOURS * 3_600_000;
    let from_ms = until_ms - span;
    let mut cost = vec![0.0_f64; SPARK_BUCKETS];
    for r in records {
        let at = r.at.as_millisecond();
        if at < from_ms || at >= until_ms {
            continue;
        }
        let Ok(i) = usize::try_from((at - from_ms) / bucket_ms) else {
            continue;
        };
        let model = r
            .model
            .as_deref()
            .unwrap_or(cclive_core::report::UNKNOWN_MODEL);
        cost[i] += prices.cost(model, &r.tokens).unwrap_or(0.0);
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let millidollars = cost
        .iter()
        .map(|c| (c * 1000.0).round().max(0.0) as u64)
        .collect();
    Spark {
        millidollars,
        until: Timestamp::from_millisecond(until_ms).ok(),
    }
}

#[cfg(test)]
mod tests {
    use cclive_core::budget::Limits;
    use cclive_core::{SessionId, Tokens};

    use super::*;

    fn record(at: &str, usd: u64) -> UsageRecord {
        UsageRecord {
            at: at.parse().unwrap(),
            session_id: SessionId::new("s"),
            project: None,
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                output: usd * 1_000_000 / 15,
                ..Tokens::default()
            },
        }
    }

    #[test]
    fn periods_block_and_sparkline() {
        let records = [
            record("2026-08-20T10:00:00Z", 30),
            record("2026-09-01T10:00:00Z", 20),
            record("2026-09-03T08:10:00Z", 3),
            record("2026-09-03T09:31:00Z", 6),
        ];
        let budget = Budget {
            limits: Limits {
                daily_usd: Some(10.0),
                monthly_usd: Some(100.0),
                ..Limits::default()
            },
            ..Budget::default()
        };
        let now: Timestamp = "2026-09-03T09:47:00Z".parse().unwrap();
        let h = History::compute(
            &records,
            Vec::new(),
            &budget,
            &PriceTable::builtin(),
            &TimeZone::UTC,
            now,
        );
        let day = &h.periods[0];
        assert_eq!(day.key, "2026-09-03");
        assert!((day.spent_usd - 9.0).abs() < 1e-3);
        assert_eq!(day.level, Some(Level::Warning));
        let week = &h.periods[1];
        assert_eq!(week.key, "2026-08-31");
        assert!((week.spent_usd - 29.0).abs() < 1e-3);
        assert_eq!(week.limit_usd, None);
        let month = &h.periods[2];
        assert!((month.percent.unwrap() - 29.0).abs() < 1e-3);
        let block = h.block.unwrap();
        assert_eq!(block.span.start, "2026-09-03T08:00:00Z".parse().unwrap());
        assert!((block.cost_usd - 9.0).abs() < 1e-3);
        assert_eq!(h.spark.millidollars.len(), SPARK_BUCKETS);
        assert_eq!(*h.spark.millidollars.last().unwrap(), 0);
        assert_eq!(h.spark.millidollars.iter().sum::<u64>(), 9000, "$3 + $6");
        assert!((h.spark.max_usd() - 6.0).abs() < 1e-3);
    }
}
