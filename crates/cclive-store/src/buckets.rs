//! Usage summed per stretch of time, session, model and price class: the one accumulator behind
//! `Store::usage_buckets`, fed rows in time order by the default implementation and by `SQLite`.
//!
//! The default reads them from [`Store::usage_rows`](crate::Store::usage_rows); `SQLite` feeds it
//! its stored quarter-hour sums (`0010`) where they answer, and rows from its covering time index
//! (`0009`) where they don't, so the table itself is never read.
//!
//! Why in Rust and not `GROUP BY`: `SQLite` groups by sorting every row into a temporary B-tree,
//! which on a 32,596-response history cost more than reading the rows themselves; rows that come
//! in time order close each bucket as the next begins, so the sums cost one pass and no sort.
//! The price class is `pricing::prompt_above`, the core's own rule, not a copy in SQL.

use cclive_core::pricing::prompt_above;
use cclive_core::{SessionId, Tokens};
use jiff::Timestamp;

use crate::{StoreError, UsageBucket};

/// One open sum of the current bucket.
struct Open {
    session_id: String,
    model: Option<String>,
    fast: bool,
    us_only: bool,
    prompt_above: Option<u64>,
    first_ms: i64,
    last_ms: i64,
    tokens: Tokens,
    responses: u64,
}

/// Responses already summed: what [`Buckets::add_sum`] takes.
#[derive(Clone, Copy)]
pub(crate) struct Sum {
    pub(crate) first_ms: i64,
    pub(crate) last_ms: i64,
    pub(crate) tokens: Tokens,
    pub(crate) responses: u64,
    /// The class every summed response is in.
    pub(crate) prompt_above: Option<u64>,
}

/// Sums rows into [`UsageBucket`]s; see the module docs.
pub(crate) struct Buckets<'t> {
    bucket_ms: i64,
    thresholds: &'t [u64],
    current: Option<i64>,
    open: Vec<Open>,
    done: Vec<UsageBucket>,
}

impl<'t> Buckets<'t> {
    /// Buckets of `bucket_ms` (at least 1) from the Unix epoch; `thresholds` ascending.
    pub(crate) fn new(bucket_ms: i64, thresholds: &'t [u64]) -> Self {
        Buckets {
            bucket_ms: bucket_ms.max(1),
            thresholds,
            current: None,
            open: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Adds one response. Rows should come in time order: a bucket seen again after another
    /// one is summed apart (still right, only in more pieces).
    pub(crate) fn add(
        &mut self,
        at_ms: i64,
        session_id: &str,
        model: Option<&str>,
        tokens: &Tokens,
    ) -> Result<(), StoreError> {
        let above = prompt_above(tokens, self.thresholds);
        self.add_sum(
            Sum {
                first_ms: at_ms,
                last_ms: at_ms,
                tokens: *tokens,
                responses: 1,
                prompt_above: above,
            },
            session_id,
            model,
        )
    }

    /// Adds a sum of responses of one price class within one bucket (a stored quarter hour's),
    /// in time order as [`add`](Self::add).
    pub(crate) fn add_sum(
        &mut self,
        sum: Sum,
        session_id: &str,
        model: Option<&str>,
    ) -> Result<(), StoreError> {
        let bucket = sum.first_ms.div_euclid(self.bucket_ms);
        if self.current != Some(bucket) {
            self.close()?;
            self.current = Some(bucket);
        }
        let fast = sum.tokens.fast_responses > 0;
        let us_only = sum.tokens.us_only_responses > 0;
        let found = self.open.iter_mut().find(|o| {
            o.session_id == session_id
                && o.model.as_deref() == model
                && o.fast == fast
                && o.us_only == us_only
                && o.prompt_above == sum.prompt_above
        });
        match found {
            Some(open) => {
                open.tokens.add(&sum.tokens);
                open.responses += sum.responses;
                open.first_ms = open.first_ms.min(sum.first_ms);
                open.last_ms = open.last_ms.max(sum.last_ms);
            }
            None => self.open.push(Open {
                session_id: session_id.to_owned(),
                model: model.map(str::to_owned),
                fast,
                us_only,
                prompt_above: sum.prompt_above,
                first_ms: sum.first_ms,
                last_ms: sum.last_ms,
                tokens: sum.tokens,
                responses: sum.responses,
            }),
        }
        Ok(())
    }

    /// The sums, by bucket, then session, model and class.
    pub(crate) fn finish(mut self) -> Result<Vec<UsageBucket>, StoreError> {
        self.close()?;
        Ok(self.done)
    }

    fn close(&mut self) -> Result<(), StoreError> {
        self.open.sort_by(|a, b| {
            (&a.session_id, &a.model, a.fast, a.us_only, a.prompt_above).cmp(&(
                &b.session_id,
                &b.model,
                b.fast,
                b.us_only,
                b.prompt_above,
            ))
        });
        for open in self.open.drain(..) {
            let time = |ms: i64| {
                Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt {
                    what: format!("usage of session {}", open.session_id),
                    detail: e.to_string(),
                })
            };
            self.done.push(UsageBucket {
                first_at: time(open.first_ms)?,
                last_at: time(open.last_ms)?,
                session_id: SessionId::new(open.session_id),
                model: open.model,
                tokens: open.tokens,
                responses: open.responses,
                prompt_above: open.prompt_above,
            });
        }
        Ok(())
    }
}
