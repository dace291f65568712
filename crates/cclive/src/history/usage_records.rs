//! Store rows → the core's report inputs: the usage as [`UsageGroup`]s (summed per quarter
//! hour, session, model and price class by the store: reports, budgets) or, where single
//! responses matter (5-hour blocks), each usage row as a [`UsageRecord`], either carrying its
//! session's project; and each stored session a [`SessionInfo`] with Claude Code's reported
//! cost. Shared by `cclive report`, `cclive budget` and the budget watcher, so every one of them
//! attributes usage the same way. [`unattributed`] is the cheap variant for figures that never
//! split by project (the status line, `cclive top`'s totals): it does not read the sessions
//! table at all; [`recent`] widens its range until the active 5-hour block's boundaries are
//! certain.

use std::collections::HashMap;

use cclive_core::blocks::BLOCK_LENGTH_MS;
use cclive_core::report::{SessionInfo, UsageGroup, UsageRecord};
use cclive_core::{PriceTable, SessionId};
use cclive_store::{Store, StoreError};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Every stored session's info.
fn infos(store: &dyn Store) -> Result<Vec<SessionInfo>, StoreError> {
    Ok(store
        .session_summaries()?
        .into_iter()
        .map(|s| SessionInfo {
            project: s.project().map(str::to_owned),
            reported_cost_usd: s.reported_cost_usd(),
            session_id: s.session_id,
        })
        .collect())
}

/// Each session's project, by id.
fn projects(sessions: &[SessionInfo]) -> HashMap<&SessionId, &str> {
    sessions
        .iter()
        .filter_map(|s| Some((&s.session_id, s.project.as_deref()?)))
        .collect()
}

/// The usage in `[since, until)` as groups whose days `tz` cuts right (per quarter hour; per
/// second in a zone with an offset a quarter hour does not divide), priced in `prices`' classes,
/// and every stored session's info — with `attributed` only: else the groups carry no project
/// and no session is read (a period or model report without a project filter needs neither,
/// and reading every session was a tenth of `report daily`'s time).
pub(crate) fn load_groups(
    store: &dyn Store,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    tz: &TimeZone,
    prices: &PriceTable,
    attributed: bool,
) -> Result<(Vec<UsageGroup>, Vec<SessionInfo>), StoreError> {
    let sessions = if attributed {
        infos(store)?
    } else {
        Vec::new()
    };
    let projects = projects(&sessions);
    let groups = cclive_store::usage_groups(
        store,
        since,
        until,
        tz,
        &prices.prompt_thresholds(),
        &|id| projects.get(id).map(|p| (*p).to_owned()),
    )?;
    Ok((groups, sessions))
}

/// The usage in `[since, until)` as records, and every stored session's info.
pub(crate) fn load(
    store: &dyn Store,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<(Vec<UsageRecord>, Vec<SessionInfo>), StoreError> {
    let sessions = infos(store)?;
    let projects = projects(&sessions);
    let records = store
        .usage_rows(since, until)?
        .into_iter()
        .map(|row| UsageRecord {
            project: projects.get(&row.session_id).map(|p| (*p).to_owned()),
            at: row.at,
            session_id: row.session_id,
            model: row.model,
            tokens: row.tokens,
        })
        .collect();
    Ok((records, sessions))
}

/// The usage in `[since, until)` as records without their project (`project: None`): one
/// indexed range query, for callers that only need totals and time (block boundaries).
pub(crate) fn unattributed(
    store: &dyn Store,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Result<Vec<UsageRecord>, StoreError> {
    Ok(store
        .usage_rows(since, until)?
        .into_iter()
        .map(|row| UsageRecord {
            project: None,
            at: row.at,
            session_id: row.session_id,
            model: row.model,
            tokens: row.tokens,
        })
        .collect())
}

/// How far back [`recent`] reads at first, and at most.
const RECENT_FIRST_MS: i64 = 24 * 3_600_000;
const RECENT_MOST_MS: i64 = 7 * 24 * 3_600_000;

/// The usage since `since` (or the last 24 hours, if that is earlier), unattributed, reaching
/// far enough back that the 5-hour block running at `now` comes out right.
///
/// Block boundaries chain from the first response after a quiet spell of 5 hours, so a range
/// that starts in the middle of continuous use could cut blocks at the wrong hour. A range that
/// holds such a spell (counting the time from its start to its first response) is exact from
/// there on; when it holds none, the range is widened once, to 7 days.
pub(crate) fn recent(
    store: &dyn Store,
    since: Timestamp,
    now: Timestamp,
) -> Result<Vec<UsageRecord>, StoreError> {
    let back = |ms: i64| {
        Timestamp::from_millisecond(now.as_millisecond() - ms)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .min(since)
    };
    let first = back(RECENT_FIRST_MS);
    let records = unattributed(store, Some(first), None)?;
    if anchored(records.iter().map(|r| r.at), first) {
        return Ok(records);
    }
    unattributed(store, Some(back(RECENT_MOST_MS)), None)
}

/// True when `times` (of usage rows in time order, none before `since`) contain a gap of at
/// least one block length, so the blocks after it do not depend on anything before `since`.
pub(crate) fn anchored(times: impl IntoIterator<Item = Timestamp>, since: Timestamp) -> bool {
    let mut previous = since.as_millisecond();
    let mut any = false;
    for at in times {
        any = true;
        let at = at.as_millisecond();
        if at - previous >= BLOCK_LENGTH_MS {
            return true;
        }
        previous = previous.max(at);
    }
    !any
}

#[cfg(test)]
mod tests {
    use cclive_core::Tokens;
    use cclive_core::blocks;
    use cclive_core::report::ReportOptions;
    use cclive_store::{Batch, SqliteStore, UsageRow};
    use jiff::tz::TimeZone;

    use super::*;

    fn row(key: &str, at: &str) -> UsageRow {
        UsageRow {
            key: key.into(),
            session_id: SessionId::new("s"),
            at: at.parse().unwrap(),
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                output: 1000,
                ..Tokens::default()
            },
            sidechain: false,
        }
    }

    /// Continuous use for two days: the first 24 hours alone would start the chain of blocks
    /// at the wrong hour; `recent` reads back to the quiet spell and gets the block right.
    #[test]
    fn recent_reaches_back_to_a_quiet_spell() {
        let store = SqliteStore::open_in_memory().unwrap();
        // Quiet until 2026-09-01T00:30, then a response every 50 minutes for 48 hours: blocks
        // 00:00-05:00, 05:00-10:00 (first response 05:30?) ... chained from 00:00.
        let mut rows = Vec::new();
        let start = "2026-09-01T00:30:00Z".parse::<Timestamp>().unwrap();
        for i in 0..58_i64 {
            let at = start + jiff::SignedDuration::from_mins(50 * i);
            rows.push(row(&format!("m{i}"), &at.to_string()));
        }
        store
            .write(&Batch {
                usage: rows,
                ..Batch::default()
            })
            .unwrap();
        let now: Timestamp = "2026-09-03T00:40:00Z".parse().unwrap();
        let all = unattributed(&store, None, None).unwrap();
        let opts = ReportOptions::new(TimeZone::UTC);
        let prices = cclive_core::PriceTable::builtin();
        let truth = blocks::active_block(&all, &opts, &prices, now, None).unwrap();

        let day: Vec<UsageRecord> = all
            .iter()
            .filter(|r| r.at >= now - jiff::SignedDuration::from_hours(24))
            .cloned()
            .collect();
        let naive = blocks::active_block(&day, &opts, &prices, now, None).unwrap();
        assert_ne!(
            naive.span.start, truth.span.start,
            "the fixture must need the widening"
        );

        let got = recent(&store, now, now).unwrap();
        let block = blocks::active_block(&got, &opts, &prices, now, None).unwrap();
        assert_eq!(block.span, truth.span);
        assert_eq!(block.usage.total_tokens, truth.usage.total_tokens);
    }

    #[test]
    fn a_quiet_spell_inside_the_first_day_is_enough() {
        let times: Vec<Timestamp> = [
            "2026-09-02T01:00:00Z",
            "2026-09-02T02:00:00Z",
            "2026-09-02T09:00:00Z",
        ]
        .iter()
        .map(|at| at.parse().unwrap())
        .collect();
        let since: Timestamp = "2026-09-01T23:00:00Z".parse().unwrap();
        assert!(anchored(times.clone(), since), "02:00 to 09:00 is quiet");
        assert!(!anchored(times[..2].to_vec(), since));
        assert!(anchored([], since));
        let late: Timestamp = "2026-09-01T20:00:00Z".parse().unwrap();
        assert!(
            anchored(times[..1].to_vec(), late),
            "nothing from 20:00 to 01:00"
        );
    }
}
