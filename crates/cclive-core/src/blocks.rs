//! 5-hour blocks: the windows Claude subscriptions meter usage in.
//!
//! The rule (the one ccusage uses, stated here so tests and docs can pin it):
//! - Records are taken in time order. The first one opens a block whose **start is its time
//!   floored to the hour, in UTC**; the block lasts [`BLOCK_LENGTH_MS`] (5 h), so it **ends** at
//!   start + 5 h, exclusive.
//! - A record at or after the current block's end — or more than 5 h after the previous record
//!   (implied by the first condition, since the previous record is inside the block) — opens a
//!   new block, floored the same way. Blocks never overlap, and a quiet spell of any length
//!   leaves no block behind.
//! - A block is **active** at `now` when `start <= now < end`. The caller passes `now`; this
//!   module never reads a clock.
//! - The **burn rate** of the active block is measured over the last 30 minutes
//!   ([`BURN_WINDOW_MS`]), or since the block started if that is more recent: tokens per minute and
//!   dollars per hour of the records in that window, divided by the window's length. The
//!   **projection** adds that rate over the block's remaining time to what it used so far.
//!
//! Block boundaries always come from every record (the subscription meters all projects
//! together); a project filter only chooses which records a block's figures count.
//!
//! [`changes`] is what the monitor tells integrations: comparing the block running at the last
//! look with the one running now, a block **started** when one runs now that did not before (its
//! first response came), and **ended** when the one that ran is no longer running (its five
//! hours are over — or, after a gap, another one replaced it). Blocks are compared by start.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::pricing::PriceTable;
use crate::report::{
    Acc, CostBasis, ModelUsage, Pricer, Report, ReportKind, ReportOptions, TotalsBuilder, Usage,
    UsageRecord, round_usd,
};

/// How long a block lasts.
pub const BLOCK_LENGTH_MS: i64 = 5 * 3_600_000;

/// How far back the burn rate looks.
pub const BURN_WINDOW_MS: i64 = 30 * 60_000;

const HOUR_MS: i64 = 3_600_000;

/// Where one block lies in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSpan {
    /// The first record's time, floored to the hour (UTC).
    pub start: Timestamp,
    /// `start` + 5 h (exclusive).
    pub end: Timestamp,
    /// The first record.
    pub first_at: Timestamp,
    /// The last record.
    pub last_at: Timestamp,
}

impl BlockSpan {
    /// True when `at` lies in `[start, end)`.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }

    /// True when the block is running at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.contains(now)
    }
}

/// Splits instants (in any order) into blocks, oldest first. See the module docs for the rule.
pub fn spans(times: impl IntoIterator<Item = Timestamp>) -> Vec<BlockSpan> {
    spans_of_length(times, BLOCK_LENGTH_MS)
}

/// [`spans`] with blocks of `length_ms` instead of 5 hours (ccusage's `--session-length`).
pub fn spans_of_length(
    times: impl IntoIterator<Item = Timestamp>,
    length_ms: i64,
) -> Vec<BlockSpan> {
    let length_ms = length_ms.max(1);
    let mut times: Vec<Timestamp> = times.into_iter().collect();
    times.sort_unstable();
    let mut out: Vec<BlockSpan> = Vec::new();
    for at in times {
        let ms = at.as_millisecond();
        match out.last_mut() {
            Some(block)
                if ms < block.end.as_millisecond()
                    && ms - block.last_at.as_millisecond() <= length_ms =>
            {
                block.last_at = at;
            }
            _ => {
                let start = ms.div_euclid(HOUR_MS) * HOUR_MS;
                out.push(BlockSpan {
                    start: ts(start),
                    end: ts(start + length_ms),
                    first_at: at,
                    last_at: at,
                });
            }
        }
    }
    out
}

/// The index of the span that contains `at` (spans as [`spans`] returns them).
pub fn span_index(spans: &[BlockSpan], at: Timestamp) -> Option<usize> {
    let i = spans.partition_point(|s| s.start <= at);
    (i > 0 && spans[i - 1].contains(at)).then(|| i - 1)
}

/// An optional token limit per block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenLimit {
    /// A fixed number of tokens.
    Tokens(u64),
    /// The highest total of any finished block.
    Max,
}

impl TokenLimit {
    /// Parses `max` or a positive number of tokens (`_` and `,` separators allowed).
    pub fn parse(s: &str) -> Option<TokenLimit> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("max") {
            return Some(TokenLimit::Max);
        }
        let digits: String = s.chars().filter(|c| !matches!(c, '_' | ',')).collect();
        digits
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(TokenLimit::Tokens)
    }
}

/// Tokens and dollars per unit of time over a recent window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BurnRate {
    /// Where the window begins (`now` − 30 min, or the block's start if later).
    pub window_start: Timestamp,
    /// Its length in minutes.
    pub window_minutes: f64,
    /// Tokens of the records in it.
    pub tokens: u64,
    /// Their estimated cost.
    pub cost_usd: f64,
    /// `tokens / window_minutes`.
    pub tokens_per_minute: f64,
    /// `cost_usd / window_minutes * 60`.
    pub cost_per_hour: f64,
}

/// The live figures of the active block.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveBlock {
    /// The `now` they were computed for.
    pub now: Timestamp,
    /// Since the block's start.
    pub elapsed_ms: i64,
    /// Until the block's end.
    pub remaining_ms: i64,
    /// The burn rate over the last 30 minutes.
    pub burn_rate: BurnRate,
    /// Tokens so far + tokens per minute × minutes remaining.
    pub projected_total_tokens: u64,
    /// Cost so far + dollars per hour × hours remaining.
    pub projected_cost_usd: f64,
    /// The projection as a share of the token limit, when there is one.
    pub projected_limit_percent: Option<f64>,
}

/// One block, as a report row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Where it lies.
    #[serde(flatten)]
    pub span: BlockSpan,
    /// True for the block running at `now`.
    pub active: bool,
    /// Its figures (records of the filtered project only).
    #[serde(flatten)]
    pub usage: Usage,
    /// The estimate.
    pub cost_usd: f64,
    /// Always `estimated`.
    pub cost_source: CostBasis,
    /// The models that answered.
    pub models: Vec<String>,
    /// Models the price table does not know.
    pub unpriced_models: Vec<String>,
    /// `total_tokens` as a share of the token limit, when there is one.
    pub limit_percent: Option<f64>,
    /// Elapsed and remaining time, burn rate and projection: the active block only.
    pub live: Option<LiveBlock>,
    /// Per model (only with `--breakdown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Vec<ModelUsage>>,
}

/// The burn rate of the records in `block` over the 30 minutes before `now` (or since the
/// block's start). The window is at least one minute long, so a block that just began does not
/// divide by zero.
pub fn burn_rate<'a>(
    records: impl IntoIterator<Item = &'a UsageRecord>,
    block: &BlockSpan,
    now: Timestamp,
    prices: &PriceTable,
) -> BurnRate {
    let now_ms = now.as_millisecond();
    let from = (now_ms - BURN_WINDOW_MS).max(block.start.as_millisecond());
    let (mut tokens, mut cost) = (0_u64, 0.0_f64);
    for r in records {
        let at = r.at.as_millisecond();
        if at >= from && at <= now_ms && block.contains(r.at) {
            tokens = tokens.saturating_add(r.tokens.total());
            cost += r
                .model
                .as_deref()
                .and_then(|m| prices.cost(m, &r.tokens))
                .unwrap_or(0.0);
        }
    }
    let minutes = ((now_ms - from) as f64 / 60_000.0).max(1.0);
    BurnRate {
        window_start: ts(from),
        window_minutes: minutes,
        tokens,
        cost_usd: round_usd(cost),
        tokens_per_minute: tokens as f64 / minutes,
        cost_per_hour: round_usd(cost / minutes * 60.0),
    }
}

/// The blocks report: every block with records that pass the filters, oldest first (a block is
/// in the date range when its start's local date is). `now` decides which block is active.
/// With `limit`, each block shows its share of it; [`TokenLimit::Max`] is the highest total of
/// the finished blocks (of the filtered project, over all dates).
pub fn report(
    records: &[UsageRecord],
    opts: &ReportOptions,
    prices: &PriceTable,
    now: Timestamp,
    limit: Option<TokenLimit>,
) -> Report<Block> {
    report_of_length(records, opts, prices, now, limit, BLOCK_LENGTH_MS)
}

/// [`report`] with blocks of `length_ms` ([`spans_of_length`]).
pub fn report_of_length(
    records: &[UsageRecord],
    opts: &ReportOptions,
    prices: &PriceTable,
    now: Timestamp,
    limit: Option<TokenLimit>,
    length_ms: i64,
) -> Report<Block> {
    let spans = spans_of_length(records.iter().map(|r| r.at), length_ms);
    let mut table = Pricer::new(prices);
    let mut groups: BTreeMap<usize, (Acc, Vec<&UsageRecord>)> = BTreeMap::new();
    for record in records {
        if !opts.in_project(record.project.as_deref()) {
            continue;
        }
        if let Some(i) = span_index(&spans, record.at) {
            let group = groups.entry(i).or_default();
            group.0.add(table.record(record), &mut table);
            group.1.push(record);
        }
    }
    let limit = match limit {
        Some(TokenLimit::Tokens(n)) => Some(n),
        Some(TokenLimit::Max) => groups
            .iter()
            .filter(|(i, _)| !spans[**i].is_active(now))
            .map(|(_, (acc, _))| acc.usage.total_tokens)
            .max()
            .filter(|n| *n > 0),
        None => None,
    };
    let percent = |tokens: u64| limit.map(|l| round2(tokens as f64 / l as f64 * 100.0));
    let mut totals = TotalsBuilder::new();
    let mut rows = Vec::new();
    for (i, (acc, members)) in groups {
        let span = spans[i];
        if !opts.in_range(span.start) {
            continue;
        }
        let cost = acc.usage.estimated_cost_usd;
        totals.add(&acc, cost, CostBasis::Estimated);
        let active = span.is_active(now);
        let live = active.then(|| {
            let rate = burn_rate(members.iter().copied(), &span, now, prices);
            let remaining_ms = (span.end.as_millisecond() - now.as_millisecond()).max(0);
            let remaining_min = remaining_ms as f64 / 60_000.0;
            let projected_total_tokens =
                acc.usage.total_tokens + whole_tokens(rate.tokens_per_minute * remaining_min);
            LiveBlock {
                now,
                elapsed_ms: now.as_millisecond() - span.start.as_millisecond(),
                remaining_ms,
                burn_rate: rate,
                projected_total_tokens,
                projected_cost_usd: round_usd(cost + rate.cost_per_hour * remaining_min / 60.0),
                projected_limit_percent: percent(projected_total_tokens),
            }
        });
        rows.push(Block {
            span,
            active,
            usage: acc.usage.rounded(),
            cost_usd: round_usd(cost),
            cost_source: CostBasis::Estimated,
            models: acc.models(),
            unpriced_models: acc.unpriced(),
            limit_percent: percent(acc.usage.total_tokens),
            live,
            breakdown: acc.breakdown_if(opts.breakdown),
        });
    }
    let mut report = Report::new(ReportKind::Blocks, opts, rows, totals.finish());
    report.token_limit = limit;
    report
}

/// The quiet time between two consecutive blocks, as ccusage shows it: from the earlier block's
/// last response plus a block's length (when a new block could have started at the earliest)
/// to the later block's first response; `None` when the later block began within a block's
/// length of the earlier one's last response. The two blocks may come in either order (a
/// report listed newest first).
pub fn gap_between(a: &BlockSpan, b: &BlockSpan, length_ms: i64) -> Option<(Timestamp, Timestamp)> {
    let (earlier, later) = if a.first_at <= b.first_at {
        (a, b)
    } else {
        (b, a)
    };
    let start = earlier.last_at.as_millisecond() + length_ms;
    (later.first_at.as_millisecond() > start).then(|| (ts(start), later.first_at))
}

/// The block running at `now`, with its live figures, if any (for the dashboard, the TUI and the
/// status line).
pub fn active_block(
    records: &[UsageRecord],
    opts: &ReportOptions,
    prices: &PriceTable,
    now: Timestamp,
    limit: Option<TokenLimit>,
) -> Option<Block> {
    report(records, opts, prices, now, limit)
        .rows
        .into_iter()
        .find(|b| b.active)
}

/// Whether a block began or ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockChange {
    /// Its first response came.
    Started,
    /// Its five hours are over.
    Ended,
}

/// A 5-hour block began or ended: what the monitor tells integrations (`block_started`,
/// `block_ended`) and library callbacks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockEvent {
    /// Began or ended.
    pub change: BlockChange,
    /// Where the block lies (`start`, `end`, `first_at`, `last_at`).
    #[serde(flatten)]
    pub span: BlockSpan,
    /// Its tokens so far (all four kinds); the block's total once it ended.
    pub total_tokens: u64,
    /// API responses so far.
    pub messages: u64,
    /// Their estimated cost (the price table).
    pub cost_usd: f64,
    /// The models that answered.
    pub models: Vec<String>,
    /// When the change was noticed.
    pub at: Timestamp,
}

/// What happened to blocks between the last look (when `previous` was the block running, if any)
/// and `now`: the block running now, and the changes, an end before a start. `records` must
/// reach back far enough for the running block's boundaries to be right (see the binary's
/// `usage_records::recent`) and cover `previous`, whose figures an `Ended` event carries.
pub fn changes(
    previous: Option<&BlockSpan>,
    records: &[UsageRecord],
    prices: &PriceTable,
    now: Timestamp,
) -> (Option<BlockSpan>, Vec<BlockEvent>) {
    let rows = report(
        records,
        &ReportOptions::new(jiff::tz::TimeZone::UTC),
        prices,
        now,
        None,
    )
    .rows;
    let running = rows.iter().find(|b| b.active);
    let event = |change: BlockChange, span: BlockSpan, row: Option<&Block>| BlockEvent {
        change,
        span: row.map_or(span, |b| b.span),
        total_tokens: row.map_or(0, |b| b.usage.total_tokens),
        messages: row.map_or(0, |b| b.usage.messages),
        cost_usd: row.map_or(0.0, |b| b.cost_usd),
        models: row.map(|b| b.models.clone()).unwrap_or_default(),
        at: now,
    };
    let mut out = Vec::new();
    let same = |a: &BlockSpan, b: &BlockSpan| a.start == b.start;
    if let Some(before) = previous
        && !running.is_some_and(|r| same(&r.span, before))
    {
        let row = rows.iter().find(|b| same(&b.span, before));
        out.push(event(BlockChange::Ended, *before, row));
    }
    if let Some(now_running) = running
        && !previous.is_some_and(|p| same(p, &now_running.span))
    {
        out.push(event(
            BlockChange::Started,
            now_running.span,
            Some(now_running),
        ));
    }
    (running.map(|b| b.span), out)
}

/// A non-negative token estimate, rounded (negative or non-finite values count 0).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole_tokens(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests;
