//! Subscription plans: the per-block limits people compare against (claude-monitor's presets)
//! and when the running 5-hour block would reach them at its current pace.
//!
//! The presets are claude-monitor's, taken from its source so cclive and it agree
//! (Maciek-roboblog/Claude-Code-Usage-Monitor, `src/claude_monitor/core/plans.py`, `PLAN_LIMITS`,
//! as of its October 2025 update): per 5-hour block, Pro 44,000 tokens / $18 / 250 messages,
//! Max 5× 88,000 / $35 / 1,000, Max 20× 220,000 / $140 / 2,000, and Custom $50 / 250 messages
//! with a token limit from the user's own history (the 90th percentile of finished blocks;
//! 44,000 without any). Like claude-monitor (`data/analysis.py`, `totalTokens`), a block's
//! tokens here are input plus output: cache reads and writes do not count toward these limits.
//! They are community estimates, not Anthropic's figures; Claude Code's own 5-hour and 7-day
//! percentages (from its status line) are the official ones.
//!
//! Pure: records, the block and `now` in; figures out.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::blocks::{BURN_WINDOW_MS, Block};
use crate::pricing::PriceTable;
use crate::report::{UNKNOWN_MODEL, UsageRecord};

/// A subscription plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// Claude Pro.
    Pro,
    /// Claude Max 5×.
    Max5,
    /// Claude Max 20×.
    Max20,
    /// The user's own limits (tokens from their history unless set).
    Custom,
}

/// One block's limits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanLimits {
    /// Input plus output tokens.
    pub tokens: u64,
    /// Estimated dollars.
    pub cost_usd: f64,
    /// API responses.
    pub messages: u64,
}

/// Custom's token limit when there is no finished block to learn from (claude-monitor's).
pub const CUSTOM_DEFAULT_TOKENS: u64 = 44_000;

impl Plan {
    /// Every plan, in the order `top` cycles through them.
    pub const ALL: [Plan; 4] = [Plan::Pro, Plan::Max5, Plan::Max20, Plan::Custom];

    /// `pro`, `max5` (or `max-5`, `max5x`), `max20`, `custom`.
    pub fn parse(s: &str) -> Option<Plan> {
        let s: String = s
            .to_ascii_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        match s.trim_end_matches('x') {
            "pro" => Some(Plan::Pro),
            "max5" => Some(Plan::Max5),
            "max20" => Some(Plan::Max20),
            "custom" => Some(Plan::Custom),
            _ => None,
        }
    }

    /// `Pro`, `Max 5×`, `Max 20×`, `Custom`.
    pub fn name(self) -> &'static str {
        match self {
            Plan::Pro => "Pro",
            Plan::Max5 => "Max 5×",
            Plan::Max20 => "Max 20×",
            Plan::Custom => "Custom",
        }
    }

    /// The preset limits (see the module docs for their source); Custom's tokens are
    /// `learned` (the 90th percentile of finished blocks), else [`CUSTOM_DEFAULT_TOKENS`].
    pub fn limits(self, learned: Option<u64>) -> PlanLimits {
        match self {
            Plan::Pro => PlanLimits {
                tokens: 44_000,
                cost_usd: 18.0,
                messages: 250,
            },
            Plan::Max5 => PlanLimits {
                tokens: 88_000,
                cost_usd: 35.0,
                messages: 1_000,
            },
            Plan::Max20 => PlanLimits {
                tokens: 220_000,
                cost_usd: 140.0,
                messages: 2_000,
            },
            Plan::Custom => PlanLimits {
                tokens: learned.unwrap_or(CUSTOM_DEFAULT_TOKENS),
                cost_usd: 50.0,
                messages: 250,
            },
        }
    }
}

/// The 90th percentile (nearest rank) of `values`; `None` when empty.
pub fn p90(values: &[u64]) -> Option<u64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return None;
    }
    // Nearest rank: the smallest value with at least 90 % of the values at or below it.
    let rank = (n * 9).div_ceil(10).max(1);
    v.get(rank - 1).copied()
}

/// The running block's use so far and its pace over the last 30 minutes (or since it began),
/// as [`crate::blocks::burn_rate`] measures it, counting input plus output tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockPace {
    /// Input plus output tokens so far.
    pub tokens: u64,
    /// Estimated dollars so far.
    pub cost_usd: f64,
    /// Responses so far.
    pub messages: u64,
    /// Input plus output tokens per minute.
    pub tokens_per_minute: f64,
    /// Dollars per minute.
    pub cost_per_minute: f64,
    /// Responses per minute.
    pub messages_per_minute: f64,
    /// When the block ends.
    pub ends_at: Timestamp,
}

/// The pace of `block` at `now` from the `records` (any; those outside the block are skipped).
pub fn pace<'a>(
    records: impl IntoIterator<Item = &'a UsageRecord>,
    block: &Block,
    now: Timestamp,
    prices: &PriceTable,
) -> BlockPace {
    let now_ms = now.as_millisecond();
    let from = (now_ms - BURN_WINDOW_MS).max(block.span.start.as_millisecond());
    let minutes = ((now_ms - from) as f64 / 60_000.0).max(1.0);
    let (mut tokens, mut cost, mut messages) = (0_u64, 0.0_f64, 0_u64);
    let (mut w_tokens, mut w_cost, mut w_messages) = (0_u64, 0.0_f64, 0_u64);
    for r in records {
        if !block.span.contains(r.at) || r.at > now {
            continue;
        }
        let io = r.tokens.input.saturating_add(r.tokens.output);
        let c = prices
            .cost(r.model.as_deref().unwrap_or(UNKNOWN_MODEL), &r.tokens)
            .unwrap_or(0.0);
        tokens = tokens.saturating_add(io);
        cost += c;
        messages += 1;
        if r.at.as_millisecond() >= from {
            w_tokens = w_tokens.saturating_add(io);
            w_cost += c;
            w_messages += 1;
        }
    }
    BlockPace {
        tokens,
        cost_usd: cost,
        messages,
        tokens_per_minute: w_tokens as f64 / minutes,
        cost_per_minute: w_cost / minutes,
        messages_per_minute: w_messages as f64 / minutes,
        ends_at: block.span.end,
    }
}

/// Which limit comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Limiter {
    /// The token limit.
    Tokens,
    /// The cost limit.
    Cost,
    /// The message limit.
    Messages,
}

impl Limiter {
    /// `tokens`, `cost`, `messages`.
    pub fn as_str(self) -> &'static str {
        match self {
            Limiter::Tokens => "tokens",
            Limiter::Cost => "cost",
            Limiter::Messages => "messages",
        }
    }
}

/// A block against a plan.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outlook {
    /// The limits compared against.
    pub limits: PlanLimits,
    /// Tokens used, percent of the limit.
    pub tokens_percent: f64,
    /// Cost, percent of the limit.
    pub cost_percent: f64,
    /// Messages, percent of the limit.
    pub messages_percent: f64,
    /// When the first limit is reached at this pace, and which, if that is before the block
    /// ends (`now` when one already is); `None`: the block ends first.
    pub reached: Option<(Timestamp, Limiter)>,
}

impl Outlook {
    /// The highest of the three shares.
    pub fn max_percent(&self) -> f64 {
        self.tokens_percent
            .max(self.cost_percent)
            .max(self.messages_percent)
    }
}

/// `pace` against `limits` at `now`: the shares used and the time the first limit is reached.
pub fn outlook(pace: &BlockPace, limits: PlanLimits, now: Timestamp) -> Outlook {
    let percent = |used: f64, limit: f64| {
        if limit > 0.0 {
            used / limit * 100.0
        } else {
            0.0
        }
    };
    let now_ms = now.as_millisecond();
    let end_ms = pace.ends_at.as_millisecond();
    // Minutes until `used` reaches `limit` at `rate` per minute (within the block: a few hours
    // of milliseconds, far inside i64).
    #[allow(clippy::cast_possible_truncation)]
    let eta = |used: f64, limit: f64, rate: f64| -> Option<i64> {
        if used >= limit {
            Some(now_ms)
        } else if rate > 0.0 {
            let ms = (limit - used) / rate * 60_000.0;
            (ms.is_finite() && ms < (end_ms - now_ms) as f64).then(|| now_ms + ms.ceil() as i64)
        } else {
            None
        }
    };
    let reached = [
        (
            eta(
                pace.tokens as f64,
                limits.tokens as f64,
                pace.tokens_per_minute,
            ),
            Limiter::Tokens,
        ),
        (
            eta(pace.cost_usd, limits.cost_usd, pace.cost_per_minute),
            Limiter::Cost,
        ),
        (
            eta(
                pace.messages as f64,
                limits.messages as f64,
                pace.messages_per_minute,
            ),
            Limiter::Messages,
        ),
    ]
    .into_iter()
    .filter_map(|(at, which)| Some((at?, which)))
    .min_by_key(|(at, _)| *at)
    .and_then(|(at, which)| Some((Timestamp::from_millisecond(at).ok()?, which)));
    Outlook {
        limits,
        tokens_percent: percent(pace.tokens as f64, limits.tokens as f64),
        cost_percent: percent(pace.cost_usd, limits.cost_usd),
        messages_percent: percent(pace.messages as f64, limits.messages as f64),
        reached,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn presets_and_names() {
        assert_eq!(Plan::parse("Max5"), Some(Plan::Max5));
        assert_eq!(Plan::parse("max-20x"), Some(Plan::Max20));
        assert_eq!(Plan::parse("PRO"), Some(Plan::Pro));
        assert_eq!(Plan::parse("team"), None);
        assert_eq!(Plan::Max5.limits(None).tokens, 88_000);
        assert_eq!(Plan::Custom.limits(None).tokens, CUSTOM_DEFAULT_TOKENS);
        assert_eq!(Plan::Custom.limits(Some(120_000)).tokens, 120_000);
        assert_eq!(Plan::Max20.name(), "Max 20×");
    }

    #[test]
    fn p90_is_the_nearest_rank() {
        assert_eq!(p90(&[]), None);
        assert_eq!(p90(&[5]), Some(5));
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(p90(&v), Some(9));
        let v: Vec<u64> = (1..=20).rev().collect();
        assert_eq!(p90(&v), Some(18));
    }

    fn pace_at(tokens: u64, per_minute: f64) -> BlockPace {
        BlockPace {
            tokens,
            cost_usd: 1.0,
            messages: 10,
            tokens_per_minute: per_minute,
            cost_per_minute: 0.01,
            messages_per_minute: 0.1,
            ends_at: ts("2026-09-03T13:00:00Z"),
        }
    }

    #[test]
    fn the_first_limit_reached_before_the_block_ends_is_predicted() {
        let now = ts("2026-09-03T10:00:00Z");
        // 44,000 - 20,000 = 24,000 tokens at 200 a minute: 120 minutes, at 12:00.
        let o = outlook(&pace_at(20_000, 200.0), Plan::Pro.limits(None), now);
        assert!((o.tokens_percent - 20_000.0 / 440.0).abs() < 1e-9);
        assert_eq!(
            o.reached,
            Some((ts("2026-09-03T12:00:00Z"), Limiter::Tokens))
        );
        // At 100 a minute it would take 4 hours: the block ends first.
        let o = outlook(&pace_at(20_000, 100.0), Plan::Pro.limits(None), now);
        assert_eq!(o.reached, None);
        // Already over: reached now.
        let o = outlook(&pace_at(50_000, 0.0), Plan::Pro.limits(None), now);
        assert_eq!(o.reached, Some((now, Limiter::Tokens)));
        assert!(o.max_percent() > 100.0);
    }
}
