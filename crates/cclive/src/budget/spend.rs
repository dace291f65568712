//! Spend read from the store: [`spend_in`] (one indexed query of per-project, per-model sums),
//! and the status line's [`figures`]: today's spend, the shown limit's share and the running
//! 5-hour block, carried from run to run in a [`Memo`] so each run reads only recent usage.
//! The budget rules themselves are `cclive_core::budget`'s; this module only reads the store.
//! It never prints, and never writes the store.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use cclive_core::PriceTable;
use cclive_core::blocks;
use cclive_core::budget::{self, Budget, Period, Spend};
use cclive_store::{SqliteStore, Store, StoreError};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tracing::debug;

use crate::config::Settings;

/// The spend in a window from the store's per-project, per-model sums: one indexed query.
pub(crate) fn spend_in(
    store: &dyn Store,
    window: &budget::Window,
    prices: &cclive_core::PriceTable,
) -> Result<Spend, cclive_store::StoreError> {
    let mut spend = Spend::default();
    let thresholds = prices.prompt_thresholds();
    for sum in store.usage_sums(Some(window.start), Some(window.end), &thresholds)? {
        spend.add_sum(
            sum.project.as_deref(),
            sum.model.as_deref(),
            &sum.tokens,
            sum.prompt_above,
            prices,
        );
    }
    Ok(spend)
}

/// The figures at `now` from the store, `None` when there is no store yet.
pub(crate) fn compute(
    settings: &Settings,
    tz: &TimeZone,
    now: Timestamp,
    memo: &mut Memo,
) -> anyhow::Result<Option<Figures>> {
    let Some(store) = settings.open_existing_store()? else {
        return Ok(None);
    };
    let prices = settings.prices()?;
    let config = &settings.budget.value;
    debug!("Store open, prices read.");
    let figures = figures(&*store, &config.budget, &prices, tz, now, memo)?;
    debug!("Store figures computed.");
    Ok(Some(figures))
}

/// What the store says, as the status line shows it. Also what the cache keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Figures {
    /// When they were computed.
    pub(crate) at: Timestamp,
    /// Estimated spend of the local day (the budget's zone).
    pub(crate) today_usd: f64,
    /// The day's end: after it, `today_usd` is yesterday's.
    pub(crate) today_until: Timestamp,
    /// The global limit shown: the daily one, else the weekly, else the monthly.
    pub(crate) limit: Option<LimitUse>,
    /// The end of the 5-hour block running at `at`.
    pub(crate) block_end: Option<Timestamp>,
    /// When no block runs at `at`: the first usage stamped after it (a clock ahead), which
    /// would start one once its time comes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next_usage: Option<Timestamp>,
}

impl Figures {
    /// Whether these figures are still what [`figures`] would find at `now` in a store that
    /// has not changed since `at`: the day (and the limit's period) has not turned, the
    /// running block has not ended, and no block has started. Their sums hold the whole
    /// window's usage, whatever part of it has settled, so they do not age otherwise.
    pub(crate) fn still_true_at(&self, now: Timestamp) -> bool {
        self.at <= now
            && now < self.today_until
            && self.limit.as_ref().is_none_or(|l| now < l.until)
            && match self.block_end {
                Some(end) => now < end,
                None => self.next_usage.is_none_or(|first| now < first),
            }
    }
}

/// What the store's figures are computed from, as one number: the store's files (see
/// [`SqliteStore::commit_stamp`]; taken before the store is read, so that a commit while it is
/// read makes the next source differ), this executable (another build may count otherwise),
/// the budget settings, the zone and the price table. Figures of the same source that are
/// [`Figures::still_true_at`] `now` are the figures at `now`. `None` when any part cannot be
/// told.
pub(crate) fn source(settings: &Settings, tz: &TimeZone) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    SqliteStore::commit_stamp(&settings.db.value)?.hash(&mut hasher);
    file_identity(&std::env::current_exe().ok()?)?.hash(&mut hasher);
    serde_json::to_vec(&settings.budget.value)
        .ok()?
        .hash(&mut hasher);
    match tz.iana_name() {
        Some(name) => name.hash(&mut hasher),
        None => format!("{tz:?}").hash(&mut hasher),
    }
    match settings.user_prices_file() {
        Some(path) => (&path, file_identity(&path)?).hash(&mut hasher),
        None => "builtin prices".hash(&mut hasher),
    }
    Some(hasher.finish())
}

/// A file's device, inode, size and modification time (all of them change when it is
/// replaced or written).
fn file_identity(path: &Path) -> Option<(u64, u64, u64, i64, i64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

/// One limit's use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct LimitUse {
    /// Which period.
    pub(crate) period: Period,
    /// Spend as a share of the limit, in percent.
    pub(crate) percent: f64,
    /// The period's end: after it, the figure is stale.
    pub(crate) until: Timestamp,
}

/// Spend older than this is "settled": its sum is kept in the [`Memo`] and only newer usage is
/// read again (the monitor's writer commits within a fraction of a second; this leaves room for
/// a transcript read a little late).
const SETTLE: SignedDuration = SignedDuration::from_mins(10);

/// A kept sum older than this is computed again from the history, so usage that arrived later
/// than [`SETTLE`] (an import of old transcripts) is counted within this time.
const HEAL: SignedDuration = SignedDuration::from_mins(15);

/// The chain of blocks is read again from the history this often. Carrying it on is exact as
/// long as no usage older than the running block arrives; reading it again costs the most of
/// any query here for a history without 5-hour pauses (a week of usage times).
const BLOCK_HEAL: SignedDuration = SignedDuration::from_hours(6);

/// What a run leaves for the next (in the [`super::cache::Cache`]) so each run reads only recent usage: the
/// settled spend per window, and the last 5-hour block known, to chain the next one from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Memo {
    #[serde(default)]
    settled: Vec<Settled>,
    #[serde(default)]
    block: Option<KnownBlock>,
}

impl Memo {
    /// True when `other` keeps the same sums, wherever each ends: a run moves every `until` on,
    /// and any of them is as good a start for the next run (it reads the usage after it).
    pub(crate) fn same_sums(&self, other: &Memo) -> bool {
        let sums = |m: &Memo| {
            m.settled
                .iter()
                .map(|s| (s.window.clone(), s.usd.to_bits(), s.full_at))
                .collect::<Vec<_>>()
        };
        self.block == other.block && sums(self) == sums(other)
    }
}

/// The spend of a window up to `until`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Settled {
    /// `day:2026-09-03`, `week:2026-08-31`, `month:2026-09`.
    window: String,
    until: Timestamp,
    usd: f64,
    /// When it was last summed from the window's start.
    full_at: Timestamp,
}

/// A block whose boundaries are certain.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct KnownBlock {
    start: Timestamp,
    end: Timestamp,
    /// When the chain was last read from the history rather than carried on.
    checked_at: Timestamp,
}

/// The figures at `now`. With a [`Memo`] of an earlier run, a few small range queries: the usage
/// of the last [`SETTLE`] minutes of each window, and the usage times after the last known
/// block, if it ended. Without one (or every [`HEAL`], [`BLOCK_HEAL`]): the window's sum, and
/// the usage times of the last day (of the last week when the day held no quiet spell of 5
/// hours).
pub(crate) fn figures(
    store: &dyn Store,
    budget: &Budget,
    prices: &PriceTable,
    tz: &TimeZone,
    now: Timestamp,
    memo: &mut Memo,
) -> Result<Figures, StoreError> {
    let mut used = Vec::new();
    let day = budget::window(Period::Day, now, tz, budget.week_start);
    let today_usd = spend(store, memo, &day, prices, now, &mut used)?;
    let limit = if let Some(daily) = budget.limits.daily_usd {
        Some(LimitUse {
            period: Period::Day,
            percent: today_usd / daily * 100.0,
            until: day.end,
        })
    } else {
        let longer = [Period::Week, Period::Month]
            .into_iter()
            .find_map(|p| Some((p, budget.limits.for_period(p)?)));
        match longer {
            None => None,
            Some((period, limit)) => {
                let window = budget::window(period, now, tz, budget.week_start);
                let spent = spend(store, memo, &window, prices, now, &mut used)?;
                Some(LimitUse {
                    period,
                    percent: spent / limit * 100.0,
                    until: window.end,
                })
            }
        }
    };
    memo.settled.retain(|s| used.contains(&s.window));
    let block_end = block_end(store, memo, now)?;
    let next_usage = match block_end {
        Some(_) => None,
        None => store
            .usage_times(Some(now + SignedDuration::from_millis(1)), None)?
            .first()
            .copied(),
    };
    Ok(Figures {
        at: now,
        today_usd,
        today_until: day.end,
        limit,
        block_end,
        next_usage,
    })
}

/// The estimated spend of `window` up to `now` (and any usage stamped later inside it).
fn spend(
    store: &dyn Store,
    memo: &mut Memo,
    window: &budget::Window,
    prices: &PriceTable,
    now: Timestamp,
    used: &mut Vec<String>,
) -> Result<f64, StoreError> {
    let name = format!("{}:{}", window.period.as_str(), window.key);
    let settle = (now - SETTLE).clamp(window.start, window.end);
    let kept = memo
        .settled
        .iter()
        .find(|s| s.window == name && s.until <= settle && now - s.full_at < HEAL)
        .cloned();
    let (base, from, full_at) = match kept {
        Some(s) => (s.usd, s.until, s.full_at),
        None => (0.0, window.start, now),
    };
    let settled = base + usd_between(store, from, settle, prices)?;
    let recent = usd_between(store, settle, window.end, prices)?;
    memo.settled.retain(|s| s.window != name);
    memo.settled.push(Settled {
        window: name.clone(),
        until: settle,
        usd: settled,
        full_at,
    });
    used.push(name);
    Ok(settled + recent)
}

fn usd_between(
    store: &dyn Store,
    from: Timestamp,
    to: Timestamp,
    prices: &PriceTable,
) -> Result<f64, StoreError> {
    if from >= to {
        return Ok(0.0);
    }
    let range = budget::Window {
        period: Period::Day,
        key: String::new(),
        start: from,
        end: to,
    };
    Ok(spend_in(store, &range, prices)?.total_usd)
}

/// The end of the 5-hour block running at `now`, chained on from the last known block: a block
/// that ended is followed by one starting at the hour of the first usage at or after its end.
fn block_end(
    store: &dyn Store,
    memo: &mut Memo,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let kept = memo
        .block
        .filter(|b| b.start <= now && now - b.checked_at < BLOCK_HEAL);
    let (mut block, checked_at) = match kept {
        Some(b) => (Some((b.start, b.end)), b.checked_at),
        None => (last_block(store, now)?, now),
    };
    while let Some((_, end)) = block.filter(|(_, end)| *end <= now) {
        let next = store
            .usage_times(Some(end), Some(now + SignedDuration::from_millis(1)))?
            .first()
            .copied();
        let Some(first) = next else { break };
        block = blocks::spans([first]).first().map(|s| (s.start, s.end));
    }
    memo.block = block.map(|(start, end)| KnownBlock {
        start,
        end,
        checked_at,
    });
    Ok(block
        .filter(|(start, end)| *start <= now && now < *end)
        .map(|(_, end)| end))
}

/// The last block up to `now`, from the usage times of the last day (the last week when the day
/// had no quiet spell to start the chain from).
fn last_block(
    store: &dyn Store,
    now: Timestamp,
) -> Result<Option<(Timestamp, Timestamp)>, StoreError> {
    let until = now + SignedDuration::from_millis(1);
    let day = now - SignedDuration::from_hours(24);
    let mut times = store.usage_times(Some(day), Some(until))?;
    if !crate::history::usage_records::anchored(times.iter().copied(), day) {
        times = store.usage_times(Some(now - SignedDuration::from_hours(7 * 24)), Some(until))?;
    }
    Ok(blocks::spans(times).last().map(|s| (s.start, s.end)))
}

#[cfg(test)]
mod tests {
    use cclive_core::SessionId;
    use cclive_core::budget::Limits;
    use cclive_core::{SessionState, Tokens};
    use cclive_store::{Batch, SqliteStore, UsageRow};

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn spend(store: &SqliteStore, key: &str, at: &str, usd: u64) {
        let session = SessionState::new(SessionId::new("s"), ts(at));
        store
            .write(&Batch {
                sessions: vec![session],
                usage: vec![UsageRow {
                    key: key.into(),
                    session_id: SessionId::new("s"),
                    at: ts(at),
                    model: Some("claude-sonnet-4-5".into()),
                    // $15 per million output tokens.
                    tokens: Tokens {
                        output: usd * 1_000_000 / 15,
                        ..Tokens::default()
                    },
                    sidechain: false,
                }],
                ..Batch::default()
            })
            .unwrap();
    }

    #[test]
    fn the_spend_of_long_prompt_models_is_the_sum_of_their_responses() {
        // claude-haiku-5-5 charges more above a 100k-token prompt: five 60k prompts sum to
        // 300k, but each was priced at the standard rates.
        let store = SqliteStore::open_in_memory().unwrap();
        let prices = PriceTable::builtin();
        let at = ts("2026-09-03T08:00:00Z");
        let tokens = Tokens {
            input: 1_000,
            cache_read: 59_000,
            output: 500,
            ..Tokens::default()
        };
        let rows: Vec<UsageRow> = (0..5)
            .map(|i| UsageRow {
                key: format!("m{i}"),
                session_id: SessionId::new("s"),
                at,
                model: Some("claude-haiku-5-5".into()),
                tokens,
                sidechain: false,
            })
            .collect();
        store
            .write(&Batch {
                sessions: vec![SessionState::new(SessionId::new("s"), at)],
                usage: rows,
                ..Batch::default()
            })
            .unwrap();
        let one = prices.cost("claude-haiku-5-5", &tokens).unwrap();
        let day = budget::window(
            Period::Day,
            at,
            &TimeZone::UTC,
            cclive_core::report::WeekStart::Monday,
        );
        let spent = spend_in(&store, &day, &prices).unwrap().total_usd;
        assert!((spent - 5.0 * one).abs() < 1e-12, "{spent} vs 5 × {one}");
    }

    #[test]
    fn figures_come_from_the_store() {
        let store = SqliteStore::open_in_memory().unwrap();
        spend(&store, "yesterday", "2026-09-02T22:00:00Z", 5);
        spend(&store, "m1", "2026-09-03T08:10:00Z", 3);
        spend(&store, "m2", "2026-09-03T09:30:00Z", 3);
        let prices = PriceTable::builtin();
        let now = ts("2026-09-03T09:47:00Z");
        let fresh = |limits: Limits| {
            let budget = Budget {
                limits,
                ..Budget::default()
            };
            figures(
                &store,
                &budget,
                &prices,
                &TimeZone::UTC,
                now,
                &mut Memo::default(),
            )
            .unwrap()
        };
        let f = fresh(Limits {
            daily_usd: Some(10.0),
            ..Limits::default()
        });
        // Whole tokens: $3 is 199,999.99… tokens, so figures are within a micro-dollar.
        assert!((f.today_usd - 6.0).abs() < 1e-3, "{}", f.today_usd);
        let limit = f.limit.unwrap();
        assert_eq!(limit.period, Period::Day);
        assert!((limit.percent - 60.0).abs() < 1e-3);
        assert_eq!(f.block_end, Some(ts("2026-09-03T13:00:00Z")), "08:00 + 5 h");

        let f = fresh(Limits {
            monthly_usd: Some(100.0),
            ..Limits::default()
        });
        let limit = f.limit.unwrap();
        assert_eq!(limit.period, Period::Month);
        assert!((limit.percent - 11.0).abs() < 1e-3, "{}", limit.percent);
        assert_eq!(limit.until, ts("2026-10-01T00:00:00Z"));
    }

    /// A budget of `usd` a day, nothing else.
    fn daily_limit(usd: f64) -> Budget {
        Budget {
            limits: Limits {
                daily_usd: Some(usd),
                ..Limits::default()
            },
            ..Budget::default()
        }
    }

    /// Figures of a store that does not change hold until the block ends, the day turns, or a
    /// usage stamped ahead (a clock ahead) starts a block: what a fresh read finds agrees.
    #[test]
    fn figures_of_an_unchanged_store_hold_until_a_boundary() {
        let store = SqliteStore::open_in_memory().unwrap();
        spend(&store, "m1", "2026-09-03T08:10:00Z", 3);
        spend(&store, "ahead", "2026-09-03T20:30:00Z", 1);
        let prices = PriceTable::builtin();
        let budget = daily_limit(10.0);
        let at = |now: &str| {
            figures(
                &store,
                &budget,
                &prices,
                &TimeZone::UTC,
                ts(now),
                &mut Memo::default(),
            )
            .unwrap()
        };
        let f = at("2026-09-03T09:00:00Z");
        assert_eq!(f.block_end, Some(ts("2026-09-03T13:00:00Z")));
        assert_eq!(f.next_usage, None, "a block runs");
        for later in ["2026-09-03T09:00:00Z", "2026-09-03T12:59:59Z"] {
            assert!(f.still_true_at(ts(later)), "{later}");
            let fresh = at(later);
            assert!((fresh.today_usd - f.today_usd).abs() < 1e-9, "{later}");
            assert_eq!(fresh.block_end, f.block_end, "{later}");
        }
        assert!(
            !f.still_true_at(ts("2026-09-03T13:00:00Z")),
            "the block ended"
        );
        assert!(
            !f.still_true_at(ts("2026-09-03T08:59:00Z")),
            "before they were"
        );

        let idle = at("2026-09-03T14:00:00Z");
        assert_eq!(idle.block_end, None);
        assert_eq!(idle.next_usage, Some(ts("2026-09-03T20:30:00Z")));
        assert!(idle.still_true_at(ts("2026-09-03T20:29:59Z")));
        assert_eq!(at("2026-09-03T20:29:59Z").block_end, None);
        assert!(
            !idle.still_true_at(ts("2026-09-03T20:30:00Z")),
            "a block starts"
        );
        assert!(at("2026-09-03T20:30:00Z").block_end.is_some());

        let late = at("2026-09-03T23:00:00Z");
        assert_eq!(late.block_end, Some(ts("2026-09-04T01:00:00Z")));
        assert!(late.still_true_at(ts("2026-09-03T23:59:59Z")));
        assert!(
            !late.still_true_at(ts("2026-09-04T00:00:00Z")),
            "the day turned"
        );
    }

    /// Runs a minute apart, each carrying the memo of the one before, agree with runs that read
    /// everything afresh: through usage arriving, a block ending, the next one starting, and
    /// midnight. So do runs whose memo is kept only when its sums changed (the status line
    /// leaves a cache that says nothing new as it is).
    #[test]
    fn carried_figures_agree_with_fresh_ones() {
        let store = SqliteStore::open_in_memory().unwrap();
        let prices = PriceTable::builtin();
        let budget = daily_limit(10.0);
        let mut memo = Memo::default();
        let mut kept = Memo::default();
        let mut rewrites = 0;
        let start = ts("2026-09-03T18:50:00Z");
        let mut key = 0;
        for minute in 0..(8 * 60) {
            let now = start + SignedDuration::from_mins(minute);
            // Usage every 7 minutes, except a quiet spell from 21:00 to 23:30.
            let quiet = (ts("2026-09-03T21:00:00Z")..ts("2026-09-03T23:30:00Z")).contains(&now);
            if minute % 7 == 0 && !quiet {
                key += 1;
                spend(&store, &format!("k{key}"), &now.to_string(), 1);
            }
            if minute % 5 != 0 {
                continue;
            }
            let carried =
                figures(&store, &budget, &prices, &TimeZone::UTC, now, &mut memo).unwrap();
            let fresh = figures(
                &store,
                &budget,
                &prices,
                &TimeZone::UTC,
                now,
                &mut Memo::default(),
            )
            .unwrap();
            assert!(
                (carried.today_usd - fresh.today_usd).abs() < 1e-6,
                "{now}: {} vs {}",
                carried.today_usd,
                fresh.today_usd
            );
            assert_eq!(carried.block_end, fresh.block_end, "{now}");
            assert_eq!(carried.today_until, fresh.today_until);

            let mut next = kept.clone();
            let from_kept =
                figures(&store, &budget, &prices, &TimeZone::UTC, now, &mut next).unwrap();
            assert!(
                (from_kept.today_usd - fresh.today_usd).abs() < 1e-6,
                "{now}: {} vs {}",
                from_kept.today_usd,
                fresh.today_usd
            );
            assert_eq!(from_kept.block_end, fresh.block_end, "{now}");
            if !next.same_sums(&kept) {
                kept = next;
                rewrites += 1;
            }
        }
        // Sums change only as usage settles (or a block or day turns): not on every run.
        assert!(
            (1..8 * 12).contains(&rewrites),
            "{rewrites} rewrites of 96 runs"
        );
        // The chain was carried: blocks 18:00-23:00, then 23:00 (first usage after 23:00 is
        // 23:30) to 04:00 the next day.
        assert_eq!(memo.block.unwrap().start, ts("2026-09-03T23:00:00Z"));
        assert_eq!(memo.settled.len(), 1, "only today's window is kept");
        assert!(memo.settled[0].window.starts_with("day:2026-09-04"));
    }
}
