//! Usage per bucket of time, session, model and price class (`Store::usage_buckets`) from
//! `SQLite`: the stored quarter-hour sums (`0010_usage_quarters`) for the whole quarter hours of
//! the range, and rows from the covering time index (`0009`) for what the sums cannot answer —
//! the partial quarter hours at the range's ends, a sum whose prompts straddle a long-prompt
//! threshold asked for, one holding a negative count (a damaged row, reported as its read
//! reports it) and, past the integer range, everything.
//!
//! Both feed the one accumulator, [`Buckets`], in time order, so a bucket comes out the same
//! whichever way its responses were read (a test compares the two on random histories).

use cclive_core::pricing::prompt_class;
use jiff::Timestamp;
use rusqlite::types::{Type, ValueRef};
use rusqlite::{Connection, Row, params};

use super::tokens_of;
use crate::buckets::{Buckets, Sum};
use crate::{StoreError, UsageBucket};

/// The stored sums' stretch of time: a quarter hour, in milliseconds (`0010`).
const QUARTER_MS: i64 = 900_000;

/// Rows in `[?1, ?2)`, in time order: every column comes from the covering time index
/// `usage_by_time_priced` (`0009`), so the table itself is never read.
const SELECT_USAGE_TO_BUCKET: &str = "
    SELECT at_ms, session_id, model, input, output, cache_read, cache_creation,
        cache_creation_1h, web_search_requests, fast, us_only
    FROM usage WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms";

/// One session's rows in `[?1, ?2)` (a quarter hour), as [`SELECT_USAGE_TO_BUCKET`]. The unary
/// `+` keeps `SQLite` from choosing `usage_by_session` (every row of the session, then a sort)
/// over the time index (the quarter hour's few rows).
const SELECT_SESSION_USAGE_TO_BUCKET: &str = "
    SELECT at_ms, session_id, model, input, output, cache_read, cache_creation,
        cache_creation_1h, web_search_requests, fast, us_only
    FROM usage WHERE at_ms >= ?1 AND at_ms < ?2 AND +session_id = ?3 ORDER BY at_ms";

/// The stored sums of quarter hours `[?1, ?2)`, in time order.
const SELECT_QUARTERS: &str = "
    SELECT quarter, session_id, model, model_known, fast, us_only, responses, first_ms, last_ms,
        input, output, cache_read, cache_creation, cache_creation_1h, web_search_requests,
        fast_responses, us_only_responses, min_prompt, max_prompt, negative
    FROM usage_quarters WHERE quarter >= ?1 AND quarter < ?2
    ORDER BY quarter, session_id, model, model_known, fast, us_only, prompt_band";

/// See [`Store::usage_buckets`](crate::Store::usage_buckets).
pub(super) fn usage_buckets(
    conn: &Connection,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    bucket_ms: i64,
    prompt_thresholds: &[u64],
) -> Result<Vec<UsageBucket>, StoreError> {
    let thresholds = crate::ascending(prompt_thresholds);
    let since = since.map_or(i64::MIN, Timestamp::as_millisecond);
    let until = until.map_or(i64::MAX, Timestamp::as_millisecond);
    // A bucket of whole quarter hours is made of whole sums; any other is read from the rows.
    if bucket_ms > 0
        && bucket_ms % QUARTER_MS == 0
        && let Some(buckets) = from_quarters(conn, since, until, bucket_ms, &thresholds)?
    {
        return Ok(buckets);
    }
    let mut buckets = Buckets::new(bucket_ms, &thresholds);
    add_rows(conn, &mut buckets, since, until, None)?;
    buckets.finish()
}

/// The buckets from the stored sums and, where they cannot answer, the rows; `None` when a sum
/// is past the integer range (the caller reads every row then).
fn from_quarters(
    conn: &Connection,
    since: i64,
    until: i64,
    bucket_ms: i64,
    thresholds: &[u64],
) -> Result<Option<Vec<UsageBucket>>, StoreError> {
    // The whole quarter hours of the range: [first, end).
    let first = if since == i64::MIN {
        i64::MIN
    } else {
        since.div_euclid(QUARTER_MS) + i64::from(since.rem_euclid(QUARTER_MS) != 0)
    };
    let end = if until == i64::MAX {
        i64::MAX
    } else {
        until.div_euclid(QUARTER_MS)
    };
    let mut buckets = Buckets::new(bucket_ms, thresholds);
    if first >= end {
        add_rows(conn, &mut buckets, since, until, None)?;
        return buckets.finish().map(Some);
    }
    if since != i64::MIN {
        add_rows(conn, &mut buckets, since, first * QUARTER_MS, None)?;
    }
    let mut stmt = conn.prepare_cached(SELECT_QUARTERS)?;
    let mut rows = stmt.query([first, end])?;
    while let Some(row) = rows.next()? {
        let Some(stored) = StoredSum::read(row)? else {
            return Ok(None);
        };
        let classes = stored
            .prompts
            .map(|(min, max)| (prompt_class(min, thresholds), prompt_class(max, thresholds)));
        match classes {
            Some((low, high)) if low == high => {
                let what = || {
                    format!(
                        "usage of session {} in quarter hour {}",
                        stored.session_id, stored.quarter
                    )
                };
                let sum = Sum {
                    first_ms: stored.first_ms,
                    last_ms: stored.last_ms,
                    tokens: tokens_of(stored.counts, &what)?,
                    responses: stored.responses,
                    prompt_above: high,
                };
                buckets.add_sum(sum, &stored.session_id, stored.model.as_deref())?;
            }
            // Straddling a threshold, or damaged: its own rows.
            _ => {
                let group = Group {
                    session_id: &stored.session_id,
                    model: stored.model.as_deref(),
                    fast: stored.fast,
                    us_only: stored.us_only,
                };
                let from = stored.quarter * QUARTER_MS;
                add_rows(conn, &mut buckets, from, from + QUARTER_MS, Some(&group))?;
            }
        }
    }
    if until != i64::MAX {
        add_rows(conn, &mut buckets, end * QUARTER_MS, until, None)?;
    }
    buckets.finish().map(Some)
}

/// One stored sum as read.
struct StoredSum {
    quarter: i64,
    session_id: String,
    model: Option<String>,
    fast: bool,
    us_only: bool,
    responses: u64,
    first_ms: i64,
    last_ms: i64,
    counts: [i64; 8],
    /// The smallest and largest prompt; `None` when a row is damaged (a negative count).
    prompts: Option<(u64, u64)>,
}

impl StoredSum {
    /// The sum, or `None` when a figure is not an integer (a sum past the integer range).
    fn read(row: &Row<'_>) -> Result<Option<Self>, StoreError> {
        // Columns 4 (fast) to 19 (negative).
        let mut ints = [0_i64; 16];
        for (i, slot) in ints.iter_mut().enumerate() {
            match row.get_ref(i + 4)? {
                ValueRef::Integer(n) => *slot = n,
                _ => return Ok(None),
            }
        }
        let [
            fast,
            us_only,
            responses,
            first_ms,
            last_ms,
            counts @ ..,
            min,
            max,
            negative,
        ] = ints;
        let text = |i: usize| -> Result<String, StoreError> {
            Ok(row
                .get_ref(i)?
                .as_str()
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, e.into()))?
                .to_owned())
        };
        let model_known: i64 = row.get(3)?;
        let model = text(2)?;
        let prompts = match (u64::try_from(min), u64::try_from(max)) {
            (Ok(min), Ok(max)) if negative == 0 => Some((min, max)),
            _ => None,
        };
        Ok(Some(StoredSum {
            quarter: row.get(0)?,
            session_id: text(1)?,
            model: (model_known != 0).then_some(model),
            fast: fast != 0,
            us_only: us_only != 0,
            responses: u64::try_from(responses).unwrap_or_default(),
            first_ms,
            last_ms,
            counts,
            prompts,
        }))
    }
}

/// Which of a session's rows [`add_rows`] takes: one stored sum's.
struct Group<'a> {
    session_id: &'a str,
    model: Option<&'a str>,
    fast: bool,
    us_only: bool,
}

/// Adds the rows in `[from, to)` (only `group`'s, when given) to `buckets`, in time order.
fn add_rows(
    conn: &Connection,
    buckets: &mut Buckets<'_>,
    from: i64,
    to: i64,
    group: Option<&Group<'_>>,
) -> Result<(), StoreError> {
    let mut stmt;
    let mut rows = match group {
        None => {
            stmt = conn.prepare_cached(SELECT_USAGE_TO_BUCKET)?;
            stmt.query(params![from, to])?
        }
        Some(g) => {
            stmt = conn.prepare_cached(SELECT_SESSION_USAGE_TO_BUCKET)?;
            stmt.query(params![from, to, g.session_id])?
        }
    };
    while let Some(row) = rows.next()? {
        let at_ms: i64 = row.get(0)?;
        // Borrowed, not copied: only a new sum's first row allocates its names.
        let text = |i: usize| {
            row.get_ref(i)?
                .as_str_or_null()
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, e.into()))
        };
        let session_id = text(1)?.unwrap_or_default();
        let model = text(2)?;
        let (fast, us_only): (i64, i64) = (row.get(9)?, row.get(10)?);
        if let Some(g) = group
            && (g.model != model || g.fast != (fast != 0) || g.us_only != (us_only != 0))
        {
            continue;
        }
        let what = || format!("usage of session {session_id} at {at_ms} ms");
        let tokens = tokens_of(
            [
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
                row.get(8)?,
                fast,
                us_only,
            ],
            &what,
        )?;
        buckets.add(at_ms, session_id, model, &tokens)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cclive_core::{SessionId, Tokens};
    use proptest::prelude::*;

    use super::*;
    use crate::migrations::MIGRATIONS;
    use crate::sqlite::tests::stored_sums;
    use crate::{Batch, SqliteStore, Store, UsageRow};

    /// What a random history does: write a response (a new one, or again with other figures,
    /// as an upsert), or retire one.
    #[derive(Clone, Debug)]
    enum Op {
        Write(UsageRow),
        Retire(String),
    }

    fn row() -> impl Strategy<Value = UsageRow> {
        (
            0..24_u8,
            0..3_u8,
            // Around a few quarter hours, some before 1970 (the floor must hold below zero).
            prop_oneof![0..4 * QUARTER_MS, -2 * QUARTER_MS..QUARTER_MS],
            prop_oneof![
                Just(None),
                Just(Some(String::new())),
                Just(Some("claude-opus-4-1".to_owned())),
                Just(Some("claude-sonnet-4-5".to_owned())),
            ],
            // Prompts on both sides of small thresholds and of the band edges (100,000 …).
            prop_oneof![0..400_u64, 99_990..100_010_u64, 199_990..200_010_u64],
            [0..50_u64, 0..400, 0..200, 0..3, 0..2, 0..2, 0..2],
        )
            .prop_map(|(key, session, at_ms, model, input, n)| UsageRow {
                key: format!("msg_{key}"),
                session_id: SessionId::new(["a", "b", "c"][usize::from(session)]),
                at: Timestamp::from_millisecond(1_795_600_000_000 * i64::from(at_ms >= 0) + at_ms)
                    .unwrap(),
                model,
                tokens: Tokens {
                    input,
                    output: n[0],
                    cache_read: n[1],
                    cache_creation: n[2],
                    cache_creation_1h: n[2].min(n[3]),
                    web_search_requests: n[4],
                    fast_responses: n[5],
                    us_only_responses: n[6],
                },
                sidechain: false,
            })
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => row().prop_map(Op::Write),
            1 => (0..24_u8).prop_map(|k| Op::Retire(format!("msg_{k}"))),
        ]
    }

    /// The rows alone, as a backend without stored sums reads them.
    fn from_rows(
        store: &SqliteStore,
        since: i64,
        until: i64,
        bucket_ms: i64,
        thresholds: &[u64],
    ) -> Vec<UsageBucket> {
        let thresholds = crate::ascending(thresholds);
        let mut buckets = Buckets::new(bucket_ms, &thresholds);
        add_rows(&store.conn(), &mut buckets, since, until, None).unwrap();
        buckets.finish().unwrap()
    }

    /// The stored sums, and what the migration's own sum of the rows (its refresh, from
    /// scratch) makes of them now: the insert trigger's running sums against the recount.
    fn sums_and_fresh(store: &SqliteStore) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
        let conn = store.conn();
        let kept = stored_sums(&conn);
        let script = MIGRATIONS
            .iter()
            .find(|m| m.name == "0010_usage_quarters")
            .unwrap()
            .sql;
        let backfill = script
            .split("-- The history already stored, summed once")
            .nth(1)
            .and_then(|rest| rest.split_once('\n'))
            .map(|(_, statement)| statement)
            .unwrap();
        conn.execute_batch(&format!("DELETE FROM usage_quarters; {backfill}"))
            .unwrap();
        let fresh = stored_sums(&conn);
        (kept, fresh)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever was written, upserted and retired, the buckets read from the stored sums
        /// are those of the rows, for any range, bucket and thresholds; and the sums the
        /// triggers kept are what summing the rows afresh gives.
        #[test]
        fn the_stored_sums_answer_as_the_rows_do(
            ops in prop::collection::vec(op(), 1..60),
            since in prop::option::of(-3 * QUARTER_MS..5 * QUARTER_MS),
            until in prop::option::of(-QUARTER_MS..6 * QUARTER_MS),
            bucket_ms in prop_oneof![Just(QUARTER_MS), Just(4 * QUARTER_MS), Just(96 * QUARTER_MS), Just(1000)],
            thresholds in prop::collection::vec(
                prop_oneof![0..1000_u64, Just(100_000_u64), Just(200_000_u64), 99_995..100_005_u64],
                0..3,
            ),
        ) {
            let store = SqliteStore::open_in_memory().unwrap();
            for op in ops {
                let batch = match op {
                    Op::Write(row) => Batch { usage: vec![row], ..Batch::default() },
                    Op::Retire(key) => Batch { retired_usage: vec![key], ..Batch::default() },
                };
                store.write(&batch).unwrap();
            }
            let at = |ms: i64| Timestamp::from_millisecond(1_795_600_000_000 + ms).unwrap();
            let got = store
                .usage_buckets(since.map(at), until.map(at), bucket_ms, &thresholds)
                .unwrap();
            let bound = |t: Option<i64>, open| t.map_or(open, |ms| at(ms).as_millisecond());
            let expected = from_rows(
                &store,
                bound(since, i64::MIN),
                bound(until, i64::MAX),
                bucket_ms,
                &thresholds,
            );
            prop_assert_eq!(got, expected);
            let (kept, fresh) = sums_and_fresh(&store);
            prop_assert_eq!(kept, fresh);
        }
    }

    #[test]
    fn a_damaged_row_is_reported_as_reading_the_rows_reports_it() {
        let store = SqliteStore::open_in_memory().unwrap();
        store
            .conn()
            .execute(
                "INSERT INTO usage VALUES ('msg_bad', 's1', 0, NULL, -1, 0, 0, 0, 0, 0, 0, 0, 0)",
                [],
            )
            .unwrap();
        let err = store
            .usage_buckets(None, None, QUARTER_MS, &[])
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn a_sum_past_the_integer_range_is_read_from_the_rows() {
        let store = SqliteStore::open_in_memory().unwrap();
        for key in ["a", "b"] {
            store
                .conn()
                .execute(
                    "INSERT INTO usage VALUES (?1, 's1', 0, NULL, 0, 9000000000000000000, 0, 0, 0, 0, 0, 0, 0)",
                    [key],
                )
                .unwrap();
        }
        let stored: rusqlite::types::Value = store
            .conn()
            .query_row("SELECT output FROM usage_quarters", [], |r| r.get(0))
            .unwrap();
        assert!(
            matches!(stored, rusqlite::types::Value::Real(_)),
            "{stored:?}"
        );
        let buckets = store.usage_buckets(None, None, QUARTER_MS, &[]).unwrap();
        assert_eq!(buckets.len(), 1);
        assert_eq!(buckets[0].responses, 2);
        assert_eq!(buckets[0].tokens.output, 18_000_000_000_000_000_000_u64);
    }

    #[test]
    fn sums_straddling_a_threshold_are_split_by_their_rows() {
        let store = SqliteStore::open_in_memory().unwrap();
        let rows: Vec<UsageRow> = [("x", 50), ("y", 500)]
            .into_iter()
            .map(|(key, input)| UsageRow {
                key: key.into(),
                session_id: SessionId::new("s"),
                at: Timestamp::from_second(1_795_600_000).unwrap(),
                model: None,
                tokens: Tokens {
                    input,
                    ..Tokens::default()
                },
                sidechain: false,
            })
            .collect();
        store
            .write(&Batch {
                usage: rows,
                ..Batch::default()
            })
            .unwrap();
        let classes = |thresholds: &[u64]| -> Vec<(Option<u64>, u64)> {
            store
                .usage_buckets(None, None, QUARTER_MS, thresholds)
                .unwrap()
                .iter()
                .map(|b| (b.prompt_above, b.tokens.input))
                .collect()
        };
        assert_eq!(classes(&[100]), [(None, 50), (Some(100), 500)]);
        assert_eq!(
            classes(&[1000]),
            [(None, 550)],
            "one sum when no threshold splits it"
        );
        // Band edges (multiples of 100,000) keep such thresholds' classes apart in the sums.
        let big = UsageRow {
            key: "z".into(),
            session_id: SessionId::new("s"),
            at: Timestamp::from_second(1_795_600_000).unwrap(),
            model: None,
            tokens: Tokens {
                input: 100_001,
                ..Tokens::default()
            },
            sidechain: false,
        };
        store
            .write(&Batch {
                usage: vec![big],
                ..Batch::default()
            })
            .unwrap();
        let sums: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM usage_quarters", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sums, 2, "prompts 50 and 500 in band 0, 100,001 in band 1");
        assert_eq!(classes(&[100_000]), [(None, 550), (Some(100_000), 100_001)]);
    }
}
