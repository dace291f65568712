//! cclive's persistence: session history behind one [`Store`] trait.
//!
//! The binary's writer task hands finished [`Batch`]es (session states with their ledgers,
//! events, per-response [`UsageRow`]s and tailer [`Checkpoint`]s) to [`Store::write`], which
//! commits each in one transaction; `cclive sessions`, reports, the live monitor and the server
//! read them back through the other methods. [`SqliteStore`] is the embedded default (one file,
//! WAL, safe to share between a wrapper that writes and a command that reads).
//!
//! This crate owns the schema, its append-only migrations and every SQL statement. It must never
//! leak SQL (or `rusqlite` types, apart from the source of a [`StoreError`]) out of the crate, and
//! it never logs, prints or reads configuration: callers choose the path and handle the errors.
//!
//! Layout:
//! - [`Store`], [`Batch`], [`UsageRow`], [`Checkpoint`], [`SessionQuery`], [`SessionOrder`]:
//!   what callers use; [`SessionSummary`], [`UsageSum`] and budget alerts for reports and budgets.
//! - `sqlite`: [`SqliteStore`], rows to and from domain values (`sqlite/reports.rs`: the report and
//!   budget queries; `sqlite/stamp.rs`: [`SqliteStore::commit_stamp`], whether a file took a
//!   commit, told without opening it).
//! - [`OutboxEntry`], [`TeamAgentState`]: the team outbox (`sqlite/outbox.rs`: its SQL), filled by
//!   the schema in the data's own transactions while team mode is on.
//! - `migrations`: the schema scripts (`src/migrations/NNNN_name.sql`) and the runner.
//! - [`check()`](check::check) and [`recover()`](recover::recover): whether a database file is
//!   sound, and the rescue of a damaged one's readable rows into a fresh file (`cclive db`).
//! - [`StoreError`]: what can go wrong, by consequence.

use std::path::{Path, PathBuf};

use cclive_core::budget::BudgetAlert;
use cclive_core::{CostSource, CountedUsage, Event, SessionId, SessionState, Status, Tokens};
use jiff::Timestamp;

mod buckets;
pub mod check;
mod error;
mod migrations;
mod outbox;
pub mod recover;
mod sqlite;

pub use error::StoreError;
pub use outbox::{OutboxEntry, OutboxItem, TeamAgentState};
pub use sqlite::SqliteStore;

/// Where sessions, their events, per-response usage and the tailer's checkpoints are kept.
///
/// Implementations are shared between tasks (`Send + Sync`) and must let several processes use
/// the same storage at once. Every method is a short blocking call; async callers run it on a
/// blocking thread.
pub trait Store: Send + Sync {
    /// Writes everything `batch` carries in ONE transaction: either all of it is stored or none
    /// of it.
    ///
    /// - `sessions` are inserted or replaced (by `session_id`), each with its ledger; when a
    ///   session appears twice, the later entry wins.
    /// - `events` are appended. Each must belong to a session that is already stored or is in
    ///   `sessions`; otherwise the batch fails with [`StoreError::UnknownSession`].
    /// - `usage` rows are merged into the global per-response table by [`UsageRow::key`] (see
    ///   [`UsageRow`] for the rule), so a response counts once however often and by whichever
    ///   session it is reported. They need no stored session: their session may be stored
    ///   earlier, later, or never.
    /// - `checkpoints` replace the stored checkpoint of the same path. Being in the same
    ///   transaction, a checkpoint is never committed without the data read before it.
    /// - `retired_usage` keys are deleted from the usage table after the rows above are merged:
    ///   a response first reported under a placeholder key (telemetry's request id) and then
    ///   linked to its message id is kept under the message id alone.
    fn write(&self, batch: &Batch) -> Result<(), StoreError>;

    /// [`write`](Store::write)s a batch of sessions and events only (they are copied into a
    /// [`Batch`]; callers with a `Batch` at hand call `write` directly).
    fn write_batch(&self, sessions: &[SessionState], events: &[Event]) -> Result<(), StoreError> {
        self.write(&Batch {
            sessions: sessions.to_vec(),
            events: events.to_vec(),
            ..Batch::default()
        })
    }

    /// One session, as last written, with its ledger; `None` when it was never stored.
    ///
    /// The ledger (`SessionState`'s private working memory: usage per response, tool and prompt
    /// ids, …) is restored, so the state can go on folding events after a restart without
    /// counting any twice. A session last written by a cclive older than schema version 2 comes
    /// back without one (empty, as a new state has): replay its [`events`](Store::events) into
    /// a fresh state instead to keep folding it.
    fn session(&self, id: &SessionId) -> Result<Option<SessionState>, StoreError>;

    /// One session WITHOUT its ledger: fine to show, not to fold events into. A long session's
    /// ledger is hundreds of KB of JSON that a page showing the session never needs.
    ///
    /// The default reads the whole session.
    fn session_to_show(&self, id: &SessionId) -> Result<Option<SessionState>, StoreError> {
        self.session(id)
    }

    /// Newest first (by `started_at` desc, then `session_id`).
    ///
    /// Ties on the start time are broken by ascending session id, so pages are stable. For speed
    /// the states may come back WITHOUT their ledger: fine to show, not to fold events into;
    /// read a session with [`session`](Store::session) before applying events to it.
    fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionState>, StoreError>;

    /// Like [`sessions`](Store::sessions), in `order`; ties are broken by the listing's own
    /// order (newest first, then ascending session id), so pages are stable. The default sorts
    /// the whole filtered listing in memory; backends override it to sort where the data is.
    fn sessions_sorted(
        &self,
        query: &SessionQuery,
        order: SessionOrder,
    ) -> Result<Vec<SessionState>, StoreError> {
        if order == SessionOrder::default() {
            return self.sessions(query);
        }
        let mut all = self.sessions(&SessionQuery {
            limit: None,
            offset: 0,
            ..query.clone()
        })?;
        // A stable sort keeps the listing's order among equals.
        all.sort_by(|a, b| order.compare(a, b));
        Ok(all
            .into_iter()
            .skip(query.offset)
            .take(query.limit.unwrap_or(usize::MAX))
            .collect())
    }

    /// How many sessions match `query`'s filters (its `limit` and `offset` are ignored). The
    /// default counts a listing; backends override it with a cheaper count.
    fn count_sessions(&self, query: &SessionQuery) -> Result<u64, StoreError> {
        let all = self.sessions(&SessionQuery {
            limit: None,
            offset: 0,
            ..query.clone()
        })?;
        Ok(all.len() as u64)
    }

    /// A session's events in the order they were appended.
    fn events(&self, id: &SessionId) -> Result<Vec<Event>, StoreError>;

    /// Removes a session and its events, in one transaction; true when it was stored. Its usage
    /// rows stay: they are the global per-response history reports are built from, and a
    /// response keeps counting once (e.g. `cclive import-events --replace` writes the session
    /// again, and its usage merges into the same rows). Backends that cannot delete return
    /// [`StoreError::Unsupported`].
    fn delete_session(&self, id: &SessionId) -> Result<bool, StoreError> {
        let _ = id;
        Err(StoreError::Unsupported {
            what: "deleting a session",
        })
    }

    /// The tokens of the API responses this session owns (first reported), sub-agents'
    /// included, and how many responses that is. Zero for a session with no usage.
    fn usage_totals(&self, session_id: &SessionId) -> Result<(Tokens, u64), StoreError>;

    /// Claims the integrations' `notice` (e.g. `session_ended`) of a session for the caller:
    /// true the first time anyone claims it, false ever after (another process, or this one
    /// before a restart, fired it). The default claims everything (a store that cannot tell).
    fn claim_notice(&self, session_id: &SessionId, notice: &str) -> Result<bool, StoreError> {
        let _ = (session_id, notice);
        Ok(true)
    }

    /// The session that owns the stored API response `key` (where it was first reported), or
    /// `None` when no response is stored under that key. A point lookup: what an incremental
    /// import asks for each response it reads, instead of loading the whole usage table.
    ///
    /// The default reads every row; backends override it with a keyed query.
    fn usage_owner(&self, key: &str) -> Result<Option<SessionId>, StoreError> {
        Ok(self
            .usage_rows(None, None)?
            .into_iter()
            .find(|row| row.key == key)
            .map(|row| row.session_id))
    }

    /// [`Store::usage_owner`] of each of `keys`, in their order: what a catch-up's reader asks
    /// for a batch of lines at once, so a backend answers them in one read transaction instead
    /// of one per key.
    fn usage_owners(&self, keys: &[&str]) -> Result<Vec<Option<SessionId>>, StoreError> {
        keys.iter().map(|key| self.usage_owner(key)).collect()
    }

    /// Every usage row with `since <= at < until` (either bound may be open), ordered by time,
    /// then key.
    fn usage_rows(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Vec<UsageRow>, StoreError>;

    /// The times of the usage rows with `since <= at < until` (either bound may be open), in
    /// order: what 5-hour block boundaries need, without reading the rows themselves.
    ///
    /// The default reads [`usage_rows`](Store::usage_rows); backends override it with a query
    /// that only touches the time index.
    fn usage_times(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Vec<Timestamp>, StoreError> {
        Ok(self
            .usage_rows(since, until)?
            .into_iter()
            .map(|row| row.at)
            .collect())
    }

    /// Every stored checkpoint, by path.
    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;

    /// The checkpoint of one file; `None` when it was never read.
    fn checkpoint(&self, path: &Path) -> Result<Option<Checkpoint>, StoreError>;

    /// Every stored session's figures that reports need (project, reported cost), read without
    /// decoding whole states; in no particular order.
    ///
    /// The default reads the full listing; backends override it with a narrow query.
    fn session_summaries(&self) -> Result<Vec<SessionSummary>, StoreError> {
        Ok(self
            .sessions(&SessionQuery::default())?
            .iter()
            .map(SessionSummary::of_state)
            .collect())
    }

    /// The usage with `since <= at < until` (either bound may be open), summed per project
    /// (the owning session's `project_path`, else its `cwd`; `None` for a session never stored),
    /// model and price class (fast mode or not, US-only or not, the largest of
    /// `prompt_thresholds` the prompt exceeds), ordered by project, model, then class: what
    /// budgets and the status line need, fast. Each sum is priced right by
    /// [`PriceTable::cost_of_sum`](cclive_core::PriceTable::cost_of_sum) with its
    /// [`prompt_above`](UsageSum::prompt_above); pass
    /// [`PriceTable::prompt_thresholds`](cclive_core::PriceTable::prompt_thresholds).
    ///
    /// The default sums [`usage_rows`](Store::usage_rows); backends override it with one indexed
    /// query.
    fn usage_sums(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        prompt_thresholds: &[u64],
    ) -> Result<Vec<UsageSum>, StoreError> {
        let projects: std::collections::HashMap<SessionId, Option<String>> = self
            .session_summaries()?
            .into_iter()
            .map(|s| (s.session_id.clone(), s.project().map(str::to_owned)))
            .collect();
        let thresholds = ascending(prompt_thresholds);
        let mut sums: std::collections::BTreeMap<SumClass, UsageSum> =
            std::collections::BTreeMap::new();
        for row in self.usage_rows(since, until)? {
            let project = projects.get(&row.session_id).cloned().flatten();
            let fast = row.tokens.fast_responses > 0;
            let us_only = row.tokens.us_only_responses > 0;
            let above = cclive_core::pricing::prompt_above(&row.tokens, &thresholds);
            let sum = sums
                .entry((project.clone(), row.model.clone(), fast, us_only, above))
                .or_insert_with(|| UsageSum {
                    project,
                    model: row.model.clone(),
                    tokens: Tokens::default(),
                    responses: 0,
                    prompt_above: above,
                });
            sum.tokens.add(&row.tokens);
            sum.responses += 1;
        }
        Ok(sums.into_values().collect())
    }

    /// The usage with `since <= at < until` (either bound may be open), summed per bucket of
    /// time (the `bucket_ms`-long stretches from the Unix epoch: a report passes a quarter hour,
    /// which no local midnight of any zone in use cuts), session, model and price class (fast
    /// mode or not, US-only or not, the largest of `prompt_thresholds` the prompt exceeds),
    /// ordered by bucket, then session, model and class: what reports by day, model, session and
    /// project need, in a few thousand sums rather than one row per response. Each sum is
    /// priced right by [`PriceTable::cost_of_sum`](cclive_core::PriceTable::cost_of_sum).
    ///
    /// The default sums [`usage_rows`](Store::usage_rows); backends override it with a narrower
    /// read.
    fn usage_buckets(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        bucket_ms: i64,
        prompt_thresholds: &[u64],
    ) -> Result<Vec<UsageBucket>, StoreError> {
        let thresholds = ascending(prompt_thresholds);
        let mut buckets = buckets::Buckets::new(bucket_ms, &thresholds);
        for row in self.usage_rows(since, until)? {
            buckets.add(
                row.at.as_millisecond(),
                row.session_id.as_str(),
                row.model.as_deref(),
                &row.tokens,
            )?;
        }
        buckets.finish()
    }

    /// Records a budget alert unless one with the same identity (scope, period, period key,
    /// threshold) is already stored. True when it was new: the caller announces only those, so
    /// each threshold fires once per period, across restarts and processes.
    ///
    /// A backend without an alert table returns [`StoreError::Unsupported`].
    fn record_alert(&self, alert: &BudgetAlert) -> Result<bool, StoreError> {
        let _ = alert;
        Err(StoreError::Unsupported {
            what: "budget alerts",
        })
    }

    /// The budget alerts raised at or after `since` (all with `None`), oldest first.
    ///
    /// A backend without an alert table returns [`StoreError::Unsupported`].
    fn alerts(&self, since: Option<Timestamp>) -> Result<Vec<BudgetAlert>, StoreError> {
        let _ = since;
        Err(StoreError::Unsupported {
            what: "budget alerts",
        })
    }

    /// Which state of the data a read now sees: equal versions mean nothing was written in
    /// between, through this handle or any other (another process's included), so an answer
    /// computed from the earlier read still holds. A write may change it without changing
    /// anything read (it only ever says "maybe changed"). `None` when the backend cannot tell:
    /// nothing read from it may then be kept.
    fn version(&self) -> Result<Option<StoreVersion>, StoreError> {
        Ok(None)
    }
}

/// What [`Store::version`] returns: compared, never interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StoreVersion {
    /// Rows this handle changed since it opened.
    own: u64,
    /// Commits of other handles this one has seen.
    others: u64,
}

impl StoreVersion {
    /// A version from what a backend counts: its own changes and others' commits.
    pub fn new(own: u64, others: u64) -> Self {
        StoreVersion { own, others }
    }
}

/// Everything one [`Store::write`] commits together.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Latest states, inserted or replaced by `session_id`.
    pub sessions: Vec<SessionState>,
    /// Events to append, in order.
    pub events: Vec<Event>,
    /// Per-response usage to merge.
    pub usage: Vec<UsageRow>,
    /// How far files have been read, as of the data in this batch.
    pub checkpoints: Vec<Checkpoint>,
    /// Usage keys whose rows are dropped (their response is counted under another key).
    pub retired_usage: Vec<String>,
}

impl Batch {
    /// True when the batch carries nothing.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
            && self.events.is_empty()
            && self.usage.is_empty()
            && self.checkpoints.is_empty()
            && self.retired_usage.is_empty()
    }
}

/// The usage of one API response, as kept in the global usage table.
///
/// One response counts once, whichever source reports it and however often. When a row with
/// the same `key` is already stored, the two merge:
/// - `tokens`: the field-wise maximum (streaming snapshots only grow; duplicates are equal);
/// - `model`: the stored one, unless it is unknown;
/// - `sidechain`: true only while every report said so (a main-chain report wins);
/// - `session_id` and `at`: those of the earlier report (the session the response first
///   appeared in); on a tie the stored row keeps them.
///
/// Times are stored, compared and read back at millisecond precision.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageRow {
    /// The API message id.
    pub key: String,
    /// The session that owns the response.
    pub session_id: SessionId,
    /// When the response was seen.
    pub at: Timestamp,
    /// The model that answered, when known.
    pub model: Option<String>,
    /// Its tokens.
    pub tokens: Tokens,
    /// A sub-agent's response.
    pub sidechain: bool,
}

impl UsageRow {
    /// The row of one response as the session `session_id` counted it: the one way a counted
    /// response becomes a stored row.
    pub fn counted(session_id: &SessionId, usage: &CountedUsage<'_>) -> Self {
        Self {
            key: usage.key.to_owned(),
            session_id: session_id.clone(),
            at: usage.first_at,
            model: usage.model.map(str::to_owned),
            tokens: usage.tokens,
            sidechain: usage.sidechain,
        }
    }

    /// The rows of every response `session` counted.
    pub fn of_session(session: &SessionState) -> impl Iterator<Item = Self> + '_ {
        session
            .usage_by_key()
            .map(|u| Self::counted(&session.session_id, &u))
    }
}

/// How far the transcript tailer has read one file.
///
/// `dev` and `inode` identify the file, so a file replaced under the same path is read again
/// from the start. The path must be valid UTF-8 ([`StoreError::NonUtf8Path`] otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The file.
    pub path: PathBuf,
    /// The device it is on.
    pub dev: u64,
    /// Its inode.
    pub inode: u64,
    /// Bytes read and committed, from the start of the file.
    pub offset: u64,
    /// A fingerprint of the bytes the offset vouches for (the file's head and the bytes just
    /// before the offset): a file rewritten in place to at least that length no longer matches.
    /// `None` when unknown (written by an older cclive): not checked.
    pub fingerprint: Option<u64>,
    /// The file's length when it was last read: the offset plus an unfinished last line, if any
    /// (a writer that crashed mid-line leaves one for good). A file whose length is still this
    /// has nothing new. `None` when unknown (written by an older cclive): the offset stands in.
    pub length: Option<u64>,
}

impl Checkpoint {
    /// The length of the file when it was last read (see [`Checkpoint::length`]).
    pub fn length_read(&self) -> u64 {
        self.length.unwrap_or(self.offset).max(self.offset)
    }
}

/// A session's figures, as [`Store::session_summaries`] reads them.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSummary {
    /// The session.
    pub session_id: SessionId,
    /// The project it is filed under.
    pub project_path: Option<String>,
    /// Its working directory.
    pub cwd: Option<String>,
    /// Its status.
    pub status: Status,
    /// When it began.
    pub started_at: Timestamp,
    /// Its last change.
    pub updated_at: Timestamp,
    /// Its main model.
    pub model: Option<String>,
    /// Its total cost (`None` only if it was not a finite number).
    pub total_cost_usd: Option<f64>,
    /// Whether Claude Code reported that total or cclive estimated it.
    pub cost_source: CostSource,
}

impl SessionSummary {
    /// The summary of a full state.
    pub fn of_state(s: &SessionState) -> SessionSummary {
        SessionSummary {
            session_id: s.session_id.clone(),
            project_path: s.project_path.clone(),
            cwd: s.cwd.clone(),
            status: s.status,
            started_at: s.started_at,
            updated_at: s.updated_at,
            model: s.model.clone(),
            total_cost_usd: Some(s.total_cost_usd).filter(|c| c.is_finite()),
            cost_source: s.cost_source,
        }
    }

    /// The session's project ([`cclive_core::report::project_of`]).
    pub fn project(&self) -> Option<&str> {
        cclive_core::report::project_of(self.project_path.as_deref(), self.cwd.as_deref())
    }

    /// Claude Code's own total, when it reported one.
    pub fn reported_cost_usd(&self) -> Option<f64> {
        self.total_cost_usd
            .filter(|_| self.cost_source == CostSource::Reported)
    }
}

/// Usage summed by project, model and price class ([`Store::usage_sums`]).
#[derive(Clone, Debug, PartialEq)]
pub struct UsageSum {
    /// The owning sessions' project path (`project_path`, else `cwd`); `None` when unknown.
    pub project: Option<String>,
    /// The model, when known.
    pub model: Option<String>,
    /// The summed tokens.
    pub tokens: Tokens,
    /// How many responses.
    pub responses: u64,
    /// The largest of the thresholds asked for that every summed response's prompt exceeds
    /// (`None`: none): the sum's long-prompt class, for
    /// [`PriceTable::cost_of_sum`](cclive_core::PriceTable::cost_of_sum).
    pub prompt_above: Option<u64>,
}

/// The usage of one session, model and price class within one bucket of time
/// ([`Store::usage_buckets`]).
#[derive(Clone, Debug, PartialEq)]
pub struct UsageBucket {
    /// The first response's time.
    pub first_at: Timestamp,
    /// The last response's time.
    pub last_at: Timestamp,
    /// The session that owns the responses.
    pub session_id: SessionId,
    /// The model, when known.
    pub model: Option<String>,
    /// The summed tokens.
    pub tokens: Tokens,
    /// How many responses.
    pub responses: u64,
    /// The largest of the thresholds asked for that every summed response's prompt exceeds
    /// (`None`: none): the sum's long-prompt class, for
    /// [`PriceTable::cost_of_sum`](cclive_core::PriceTable::cost_of_sum).
    pub prompt_above: Option<u64>,
}

impl UsageBucket {
    /// This sum as a report's group, filed under `project`.
    pub fn into_group(self, project: Option<String>) -> cclive_core::report::UsageGroup {
        cclive_core::report::UsageGroup {
            project,
            first_at: self.first_at,
            last_at: self.last_at,
            session_id: self.session_id,
            model: self.model,
            tokens: self.tokens,
            responses: self.responses,
            prompt_above: self.prompt_above,
        }
    }
}

/// The usage in `[since, until)` as the reports' groups, each inside one local day of `tz`:
/// summed per quarter hour (no local midnight falls inside one in any zone in use), or per
/// second when `tz`'s offsets cut a quarter hour. `project` files each session's sums. The one
/// rule `cclive report` and the dashboard's charts read usage by.
pub fn usage_groups(
    store: &dyn Store,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    tz: &jiff::tz::TimeZone,
    prompt_thresholds: &[u64],
    project: &dyn Fn(&SessionId) -> Option<String>,
) -> Result<Vec<cclive_core::report::UsageGroup>, StoreError> {
    use cclive_core::report::{QUARTER_HOUR_MS, SECOND_MS};
    let mut groups = Vec::new();
    for bucket_ms in [QUARTER_HOUR_MS, SECOND_MS] {
        groups = store
            .usage_buckets(since, until, bucket_ms, prompt_thresholds)?
            .into_iter()
            .map(|b| {
                let filed = project(&b.session_id);
                b.into_group(filed)
            })
            .collect::<Vec<_>>();
        if groups.iter().all(|g| g.is_within_a_day(tz)) {
            break;
        }
    }
    Ok(groups)
}

/// What one usage sum of the default [`Store::usage_sums`] shares: project, model, fast mode,
/// US-only serving, long-prompt class.
type SumClass = (Option<String>, Option<String>, bool, bool, Option<u64>);

/// `thresholds` ascending, each once.
pub(crate) fn ascending(thresholds: &[u64]) -> Vec<u64> {
    let mut sorted = thresholds.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

/// Which sessions [`Store::sessions`] returns. The default returns all of them.
///
/// Filters combine with AND. Times are compared at millisecond precision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionQuery {
    /// At most this many sessions; `None` for no limit.
    pub limit: Option<usize>,
    /// Skip this many sessions first (for paging, with `limit`).
    pub offset: usize,
    /// Only sessions with this status.
    pub status: Option<Status>,
    /// Only live sessions (`ACTIVE` or `IDLE`), e.g. for the monitor to re-check at start.
    pub live_only: bool,
    /// Only sessions of this project ([`cclive_core::report::project_of`]), named by its path
    /// or its last component, as [`cclive_core::report::project_matches`] decides.
    pub project: Option<String>,
    /// Only sessions that used this model: their main model, or any API response of theirs
    /// (sub-agents' included) answered by it.
    pub model: Option<String>,
    /// Only sessions that started at or after this time.
    pub since: Option<Timestamp>,
    /// Only sessions that started strictly before this time.
    pub until: Option<Timestamp>,
}

/// What [`Store::sessions_sorted`] orders by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SortKey {
    /// When the session began (the listing's own order).
    #[default]
    StartedAt,
    /// `total_cost_usd`.
    Cost,
    /// `duration_ms`.
    Duration,
    /// `num_turns`.
    Turns,
    /// Total tokens (all four kinds).
    Tokens,
    /// The project path (sessions without one last).
    Project,
    /// The main model (sessions without one last).
    Model,
    /// The status name.
    Status,
}

/// An order for [`Store::sessions_sorted`]: a key and a direction. The default is the
/// listing's own order, newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionOrder {
    /// What to sort by.
    pub key: SortKey,
    /// Largest (or latest, or last alphabetically) first.
    pub descending: bool,
}

impl Default for SessionOrder {
    fn default() -> Self {
        Self {
            key: SortKey::StartedAt,
            descending: true,
        }
    }
}

impl SessionOrder {
    /// How two sessions compare in this order, before ties are broken. Sessions without a
    /// project or model come last in either direction.
    pub fn compare(&self, a: &SessionState, b: &SessionState) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        fn text(a: Option<&String>, b: Option<&String>, descending: bool) -> Ordering {
            match (a, b) {
                (Some(a), Some(b)) if descending => b.cmp(a),
                (Some(a), Some(b)) => a.cmp(b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        }
        let ascending = match self.key {
            SortKey::StartedAt => a.started_at.cmp(&b.started_at),
            SortKey::Cost => a.total_cost_usd.total_cmp(&b.total_cost_usd),
            SortKey::Duration => a.duration_ms.cmp(&b.duration_ms),
            SortKey::Turns => a.num_turns.cmp(&b.num_turns),
            SortKey::Tokens => a.tokens.total().cmp(&b.tokens.total()),
            SortKey::Status => a.status.as_str().cmp(b.status.as_str()),
            SortKey::Project => {
                return text(
                    a.project_path.as_ref(),
                    b.project_path.as_ref(),
                    self.descending,
                );
            }
            SortKey::Model => return text(a.model.as_ref(), b.model.as_ref(), self.descending),
        };
        if self.descending {
            ascending.reverse()
        } else {
            ascending
        }
    }
}

#[cfg(test)]
mod tests;
