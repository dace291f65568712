//! A first batch of responses — into a database that stores none yet, as a first import's
//! tens of thousands in one transaction — written in one statement, with its quarter-hour sums
//! (`0010_usage_quarters`) made in one pass here instead of by the insert trigger row by row.
//!
//! Row by row, each upsert of that batch paid for its statement (binding, a statement journal
//! that copied every page it touched) and for the trigger's upsert of its sum: more than half of
//! a first import's write. Staged in a temporary table and copied with one `INSERT … SELECT`,
//! the rows pay once; with the trigger held back (`0011_usage_quarters_deferred`), their sums
//! are summed here and stored once each.
//!
//! Only when every row is an insert and each sum is exactly the trigger's: nothing stored yet
//! (no `usage` row, no sum), no response named twice (the upsert merges its reports), no
//! negative count and no sum past the integer range (where `SQLite`'s arithmetic turns to
//! floating point). Any other batch is written row by row as always. A test writes random
//! batches both ways and compares the sums.

use std::collections::hash_map::Entry;

use cclive_core::fast_hash::{FastMap, FastSet, FastState};
use rusqlite::{Transaction, params};

/// The sums' stretch of time, as `0010`'s trigger computes it.
const QUARTER_MS: i64 = 900_000;
/// The width of a prompt band, as `0010`'s trigger computes it.
const PROMPT_BAND: i64 = 100_000;

/// One `usage` row as the writer binds it: what the table and the trigger see.
#[derive(Clone, Copy, Debug)]
pub(super) struct BoundUsage<'a> {
    pub(super) key: &'a str,
    pub(super) session_id: &'a str,
    pub(super) at_ms: i64,
    pub(super) model: Option<&'a str>,
    pub(super) input: i64,
    pub(super) output: i64,
    pub(super) cache_read: i64,
    pub(super) cache_creation: i64,
    pub(super) sidechain: bool,
    pub(super) cache_creation_1h: i64,
    pub(super) web_search_requests: i64,
    pub(super) fast: i64,
    pub(super) us_only: i64,
}

/// What one sum is keyed by (`usage_quarters`' primary key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct SumKey<'a> {
    quarter: i64,
    session_id: &'a str,
    model: Option<&'a str>,
    fast: bool,
    us_only: bool,
    prompt_band: i64,
}

/// One sum's figures, in `usage_quarters`' column order.
#[derive(Clone, Copy, Debug)]
struct Figures {
    responses: i64,
    first_ms: i64,
    last_ms: i64,
    /// input, output, cache read, cache creation, 1 h cache creation, web searches, fast
    /// responses, US-only responses.
    counts: [i64; 8],
    min_prompt: i64,
    max_prompt: i64,
}

/// The sums of rows that are all new, in their first row's order.
#[derive(Debug)]
struct QuarterSums<'a> {
    sums: Vec<(SumKey<'a>, Figures)>,
}

/// The sums `rows` make, or `None` when the trigger must make them: a response named twice
/// (the upsert merges its reports), a negative count (a damaged row's sum is marked) or a sum
/// past the integer range.
fn sum_new<'a>(rows: &[BoundUsage<'a>]) -> Option<QuarterSums<'a>> {
    let mut keys = FastSet::with_capacity_and_hasher(rows.len(), FastState::default());
    let mut index: FastMap<SumKey<'a>, usize> = FastMap::default();
    let mut sums: Vec<(SumKey<'a>, Figures)> = Vec::new();
    for row in rows {
        if !keys.insert(row.key) {
            return None;
        }
        let counts = [
            row.input,
            row.output,
            row.cache_read,
            row.cache_creation,
            row.cache_creation_1h,
            row.web_search_requests,
            row.fast,
            row.us_only,
        ];
        if counts.iter().any(|&n| n < 0) {
            return None;
        }
        let prompt = row
            .input
            .checked_add(row.cache_read)?
            .checked_add(row.cache_creation)?;
        let key = SumKey {
            quarter: row.at_ms.div_euclid(QUARTER_MS),
            session_id: row.session_id,
            model: row.model,
            fast: row.fast != 0,
            us_only: row.us_only != 0,
            prompt_band: (prompt.max(1) - 1) / PROMPT_BAND,
        };
        match index.entry(key) {
            Entry::Occupied(slot) => {
                let sum = &mut sums[*slot.get()].1;
                sum.responses += 1;
                sum.first_ms = sum.first_ms.min(row.at_ms);
                sum.last_ms = sum.last_ms.max(row.at_ms);
                for (total, n) in sum.counts.iter_mut().zip(counts) {
                    *total = total.checked_add(n)?;
                }
                sum.min_prompt = sum.min_prompt.min(prompt);
                sum.max_prompt = sum.max_prompt.max(prompt);
            }
            Entry::Vacant(slot) => {
                slot.insert(sums.len());
                sums.push((
                    key,
                    Figures {
                        responses: 1,
                        first_ms: row.at_ms,
                        last_ms: row.at_ms,
                        counts,
                        min_prompt: prompt,
                        max_prompt: prompt,
                    },
                ));
            }
        }
    }
    Some(QuarterSums { sums })
}

/// Writes `rows` in `tx` as a first batch (see the module docs) and returns true, or returns
/// false, having written nothing, when they are not one: the caller upserts them row by row.
pub(super) fn write_first(tx: &Transaction<'_>, rows: &[BoundUsage<'_>]) -> rusqlite::Result<bool> {
    if rows.is_empty() || !nothing_stored(tx)? {
        return Ok(false);
    }
    let Some(sums) = sum_new(rows) else {
        return Ok(false);
    };
    tx.execute("INSERT INTO usage_quarters_deferred VALUES (1)", [])?;
    // Copied with one statement (`sqlite/stage.rs`), the trigger held back.
    super::stage::USAGE.copy(
        tx,
        rows,
        super::write_usage,
        "INSERT INTO usage (
            key, session_id, at_ms, model, input, output, cache_read, cache_creation, sidechain,
            cache_creation_1h, web_search_requests, fast, us_only)
        SELECT * FROM temp.usage_staged ORDER BY rowid",
    )?;
    sums.store(tx)?;
    tx.execute("DELETE FROM usage_quarters_deferred", [])?;
    Ok(true)
}

/// True when nothing is summed or stored yet: the only state in which [`sum_new`]'s sums are
/// the trigger's (it would add to a stored sum; a stored row could be upserted).
/// Asked on every write that carries usage (the live writer's too): a cached statement and two
/// index probes.
fn nothing_stored(tx: &Transaction<'_>) -> rusqlite::Result<bool> {
    tx.prepare_cached(
        "SELECT NOT EXISTS (SELECT 1 FROM usage) AND NOT EXISTS (SELECT 1 FROM usage_quarters)",
    )?
    .query_row([], |row| row.get(0))
}

impl QuarterSums<'_> {
    /// Stores the sums in `tx`.
    fn store(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let mut insert = tx.prepare_cached(
            "INSERT INTO usage_quarters VALUES (
                ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                ?18, ?19, ?20, 0)",
        )?;
        for (key, sum) in &self.sums {
            let [i, o, cr, cc, cc1h, web, fast, us] = sum.counts;
            insert.execute(params![
                key.quarter,
                key.session_id,
                key.model.unwrap_or_default(),
                key.model.is_some(),
                key.fast,
                key.us_only,
                key.prompt_band,
                sum.responses,
                sum.first_ms,
                sum.last_ms,
                i,
                o,
                cr,
                cc,
                cc1h,
                web,
                fast,
                us,
                sum.min_prompt,
                sum.max_prompt,
            ])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use cclive_core::{SessionId, Tokens};
    use jiff::Timestamp;
    use proptest::prelude::*;

    use super::*;
    use crate::sqlite::tests::stored_sums as sums;
    use crate::{Batch, SqliteStore, Store, UsageRow};

    fn row(key: usize, session: u8, at_ms: i64, model: Option<&str>, n: [u64; 8]) -> UsageRow {
        UsageRow {
            key: format!("msg_{key}"),
            session_id: SessionId::new(["a", "b", "c"][usize::from(session % 3)]),
            at: Timestamp::from_millisecond(1_795_600_000_000 + at_ms).unwrap(),
            model: model.map(str::to_owned),
            tokens: Tokens {
                input: n[0],
                output: n[1],
                cache_read: n[2],
                cache_creation: n[3],
                cache_creation_1h: n[3].min(n[4]),
                web_search_requests: n[5],
                fast_responses: n[6],
                us_only_responses: n[7],
            },
            sidechain: false,
        }
    }

    /// How many times a stored sum was updated: the trigger upserts a second row of a sum into
    /// it; the one-pass sums insert each sum once.
    fn count_sum_updates(store: &SqliteStore) {
        store
            .conn()
            .execute_batch(
                "CREATE TEMP TABLE sum_updates (n INTEGER);
                 CREATE TEMP TRIGGER count_sum_updates AFTER UPDATE ON main.usage_quarters
                 BEGIN INSERT INTO sum_updates VALUES (1); END;",
            )
            .unwrap();
    }

    fn sum_updates(store: &SqliteStore) -> i64 {
        store
            .conn()
            .query_row("SELECT count(*) FROM sum_updates", [], |r| r.get(0))
            .unwrap()
    }

    fn write(store: &SqliteStore, usage: Vec<UsageRow>) {
        store
            .write(&Batch {
                usage,
                ..Batch::default()
            })
            .unwrap();
    }

    #[test]
    fn a_first_batch_is_summed_in_one_pass_and_later_ones_by_the_trigger() {
        let store = SqliteStore::open_in_memory().unwrap();
        count_sum_updates(&store);
        // Three responses of one sum (same quarter hour, session, model and class).
        let first: Vec<UsageRow> = [0, 1000, 2000]
            .into_iter()
            .enumerate()
            .map(|(k, at_ms)| row(k, 0, at_ms, Some("m"), [10, 1, 0, 0, 0, 0, 0, 0]))
            .collect();
        write(&store, first);
        assert_eq!(
            sum_updates(&store),
            0,
            "summed once, not upserted row by row"
        );
        let conn = store.conn();
        let sum: (i64, i64, i64) = conn
            .query_row(
                "SELECT responses, input, first_ms FROM usage_quarters",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(sum, (3, 30, 1_795_600_000_000));
        let deferred: i64 = conn
            .query_row("SELECT count(*) FROM usage_quarters_deferred", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(deferred, 0, "the trigger is not left held back");
        drop(conn);
        write(
            &store,
            vec![row(9, 0, 4000, Some("m"), [10, 1, 0, 0, 0, 0, 0, 0])],
        );
        assert_eq!(
            sum_updates(&store),
            1,
            "a later response is added by the trigger"
        );
    }

    #[test]
    fn what_the_one_pass_cannot_sum_exactly_is_left_to_the_trigger() {
        let big = u64::MAX / 2;
        let twice = vec![
            row(1, 0, 0, Some("m"), [10, 1, 0, 0, 0, 0, 0, 0]),
            row(1, 0, 5, Some("m"), [10, 2, 0, 0, 0, 0, 0, 0]),
        ];
        let past_the_range = vec![
            row(1, 0, 0, None, [0, big, 0, 0, 0, 0, 0, 0]),
            row(2, 0, 5, None, [0, big, 0, 0, 0, 0, 0, 0]),
        ];
        let prompt_past_the_range = vec![row(1, 0, 0, None, [big, 0, big, big, 0, 0, 0, 0])];
        for rows in [twice, past_the_range, prompt_past_the_range] {
            let bound: Vec<BoundUsage<'_>> = rows.iter().map(super::super::bound_usage).collect();
            assert!(sum_new(&bound).is_none(), "{rows:?}");
            // And the trigger sums them as it always did.
            let store = SqliteStore::open_in_memory().unwrap();
            write(&store, rows.clone());
            let trigger = SqliteStore::open_in_memory().unwrap();
            for row in rows {
                write(&trigger, vec![row]);
            }
            assert_eq!(sums(&store.conn()), sums(&trigger.conn()));
        }
    }

    fn rows() -> impl Strategy<Value = Vec<UsageRow>> {
        prop::collection::vec(
            (
                0..3_u8,
                // A few quarter hours, some before 1970 (the floor must hold below zero).
                prop_oneof![
                    0..4 * QUARTER_MS,
                    -1_795_600_000_000 - 2 * QUARTER_MS..-1_795_600_000_000 + QUARTER_MS
                ],
                prop_oneof![Just(None), Just(Some("")), Just(Some("claude-opus-4-1"))],
                // Prompts on both sides of the band edges.
                prop_oneof![0..400_u64, 99_990..100_010_u64, 199_990..200_010_u64],
                [0..400_u64, 0..200, 0..3, 0..3, 0..2, 0..3, 0..2],
            ),
            0..120,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(k, (session, at_ms, model, input, n))| {
                    row(
                        k,
                        session,
                        at_ms,
                        model,
                        [input, n[0], n[1], n[2], n[3], n[4], n[5], n[6]],
                    )
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A first batch's sums, made in one pass, are those the trigger makes of the same
        /// rows written one by one.
        #[test]
        fn a_first_batch_is_summed_as_the_trigger_sums_it(rows in rows()) {
            let one_pass = SqliteStore::open_in_memory().unwrap();
            count_sum_updates(&one_pass);
            write(&one_pass, rows.clone());
            prop_assert_eq!(sum_updates(&one_pass), 0);
            let by_trigger = SqliteStore::open_in_memory().unwrap();
            for row in rows {
                write(&by_trigger, vec![row]);
            }
            prop_assert_eq!(sums(&one_pass.conn()), sums(&by_trigger.conn()));
        }
    }
}
