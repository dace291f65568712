//! Usage reports: per-response usage records folded into days, weeks, months, sessions,
//! projects and models, with totals. (5-hour blocks are in [`crate::blocks`], budgets in
//! [`crate::budget`]; both build on the types here.)
//!
//! Everything is a pure function of its inputs: the caller reads the store, maps its usage into
//! [`UsageGroup`]s (responses summed per session, model, price class and quarter hour, with the
//! project of their session; a single [`UsageRecord`] is a group of one) and passes the time
//! zone, the range and the price table in. Nothing here reads a clock, the environment or a file, so the TUI,
//! the status line and the HTTP server can call the same functions the CLI does.
//!
//! Rules, in one place:
//! - **Days, weeks and months are cut in the report's zone** ([`ReportOptions::tz`]) from each
//!   response's own time, so a session that crosses midnight is split between the two days and
//!   a DST week is 167 or 169 hours long. `since`/`until` are inclusive local dates.
//! - **Cost per response is estimated** from the price table (`cost_source: "estimated"`);
//!   a model the table does not know costs 0 and is listed in `unpriced_models`. Responses of
//!   one price class are priced as their sum ([`PriceTable::cost_of_sum`]), which equals the
//!   sum of their prices up to float rounding, far below the nano-dollars figures show.
//! - **Where a whole session is the row** (sessions, and projects as sums of sessions), Claude
//!   Code's own reported total wins when it reported one and every usage record of the session is
//!   inside the report's filter (`cost_source: "reported"`); otherwise the estimate is used. A
//!   sum of both kinds is `"mixed"`. `estimated_cost_usd` is always the estimate, so the two can
//!   be compared.
//! - A project filter matches a record whose project path equals it or ends in `/NAME`
//!   ([`project_matches`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::ids::SessionId;
use crate::pricing::{ModelPrice, PriceTable};
use crate::usage::Tokens;

mod groups;
mod periods;
#[cfg(test)]
mod tests;

pub use groups::{ModelRow, ProjectRow, SessionRow, models, projects, sessions};
pub use periods::{Granularity, PeriodRow, daily, monthly, periods, weekly};

/// The name a record without a model is reported under.
pub const UNKNOWN_MODEL: &str = "<unknown>";

/// The usage of one API response, as reports consume it.
///
/// The binary builds these from the store's global (deduplicated) usage table, so one response
/// is one record, whichever sources reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageRecord {
    /// When the response was first seen.
    pub at: Timestamp,
    /// The session that owns it.
    pub session_id: SessionId,
    /// The owning session's project path (its `project_path`, else its `cwd`), when known.
    pub project: Option<String>,
    /// The model that answered, when known.
    pub model: Option<String>,
    /// Its tokens.
    pub tokens: Tokens,
}

/// Responses summed together, as every report but blocks consumes them: responses of one
/// session, one model and one price class ([`PriceTable::cost_of_sum`]: fast mode or not, US-only
/// or not, the long-prompt `prompt_above`), close enough in time that no local day boundary of
/// the report's zone falls between them ([`UsageGroup::is_within_a_day`]).
///
/// The store sums responses per UTC quarter hour, which every UTC offset in use is a multiple
/// of; a group of one response ([`UsageGroup::of_record`]) fits any zone. A report over groups
/// equals the report over their responses.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageGroup {
    /// The first response's time.
    pub first_at: Timestamp,
    /// The last response's time.
    pub last_at: Timestamp,
    /// The session that owns them.
    pub session_id: SessionId,
    /// The owning session's project path (its `project_path`, else its `cwd`), when known.
    pub project: Option<String>,
    /// The model that answered, when known.
    pub model: Option<String>,
    /// Their summed tokens (`fast_responses` and `us_only_responses` count the responses in
    /// fast mode and served in the US only: all of them or none).
    pub tokens: Tokens,
    /// How many responses.
    pub responses: u64,
    /// The largest of [`PriceTable::prompt_thresholds`] every prompt exceeds (`None`: none).
    pub prompt_above: Option<u64>,
}

impl UsageGroup {
    /// One response as a group of one; `thresholds` are the price table's
    /// [`PriceTable::prompt_thresholds`].
    pub fn of_record(record: &UsageRecord, thresholds: &[u64]) -> UsageGroup {
        UsageGroup {
            first_at: record.at,
            last_at: record.at,
            session_id: record.session_id.clone(),
            project: record.project.clone(),
            model: record.model.clone(),
            tokens: record.tokens,
            responses: 1,
            prompt_above: crate::pricing::prompt_above(&record.tokens, thresholds),
        }
    }

    /// True when all of the group's responses fall on one local date in `tz`, so reports can
    /// cut days, weeks and months by its first response. Always true for groups of one and for
    /// quarter hours in a zone whose offsets are multiples of 15 minutes (every zone since 1972).
    pub fn is_within_a_day(&self, tz: &TimeZone) -> bool {
        self.first_at == self.last_at
            || self.first_at.to_zoned_datetime(tz.clone()).date()
                == self.last_at.to_zoned_datetime(tz.clone()).date()
    }

    fn summed(&self) -> Summed<'_> {
        Summed {
            model: self.model.as_deref(),
            tokens: &self.tokens,
            responses: self.responses,
            prompt_above: self.prompt_above,
            first_at: self.first_at,
            last_at: self.last_at,
        }
    }
}

/// The stretch of time reports ask the store to sum usage per ([`UsageGroup`]): a quarter of an
/// hour, which no local midnight cuts in a zone whose UTC offsets are multiples of 15 minutes.
pub const QUARTER_HOUR_MS: i64 = 15 * 60 * 1000;

/// The stretch to sum per when a quarter hour does not fit the zone (a group crosses a local
/// midnight, [`UsageGroup::is_within_a_day`]): a second, since every UTC offset is a whole
/// number of seconds.
pub const SECOND_MS: i64 = 1000;

/// Each record as a group of one, in the price classes of `prices`.
pub fn groups_of(records: &[UsageRecord], prices: &PriceTable) -> Vec<UsageGroup> {
    let thresholds = prices.prompt_thresholds();
    records
        .iter()
        .map(|r| UsageGroup::of_record(r, &thresholds))
        .collect()
}

/// What [`Acc::add`] takes: a group of responses, or one record, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Summed<'a> {
    pub(crate) model: Option<&'a str>,
    pub(crate) tokens: &'a Tokens,
    pub(crate) responses: u64,
    pub(crate) prompt_above: Option<u64>,
    pub(crate) first_at: Timestamp,
    pub(crate) last_at: Timestamp,
}

/// The price table as one report uses it: each model's entry looked up once (a lookup parses
/// the model id), every sum priced by [`PriceTable::cost_of_sum`]'s rule.
pub(crate) struct Pricer<'a> {
    table: &'a PriceTable,
    thresholds: Vec<u64>,
    entries: HashMap<String, Option<&'a ModelPrice>>,
}

impl<'a> Pricer<'a> {
    pub(crate) fn new(table: &'a PriceTable) -> Self {
        Pricer {
            table,
            thresholds: table.prompt_thresholds(),
            entries: HashMap::new(),
        }
    }

    /// One record, summed alone.
    pub(crate) fn record<'r>(&self, record: &'r UsageRecord) -> Summed<'r> {
        Summed {
            model: record.model.as_deref(),
            tokens: &record.tokens,
            responses: 1,
            prompt_above: crate::pricing::prompt_above(&record.tokens, &self.thresholds),
            first_at: record.at,
            last_at: record.at,
        }
    }

    /// [`PriceTable::cost_of_sum`], with the model's entry remembered.
    pub(crate) fn cost(
        &mut self,
        model: &str,
        tokens: &Tokens,
        prompt_above: Option<u64>,
    ) -> Option<f64> {
        let entry = if let Some(entry) = self.entries.get(model) {
            *entry
        } else {
            let entry = self.table.lookup(model);
            self.entries.insert(model.to_owned(), entry);
            entry
        };
        entry.map(|price| price.cost_of_sum(tokens, prompt_above))
    }
}

/// What reports need to know about a session beyond its usage records.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionInfo {
    /// The session.
    pub session_id: SessionId,
    /// Its project path (`project_path`, else `cwd`).
    pub project: Option<String>,
    /// Claude Code's own total for the whole session, when it reported one.
    pub reported_cost_usd: Option<f64>,
}

/// The first day of a week.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeekStart {
    /// ISO weeks.
    #[default]
    Monday,
    /// US weeks.
    Sunday,
}

impl WeekStart {
    /// Parses `monday` or `sunday` (any case).
    pub fn parse(s: &str) -> Option<WeekStart> {
        match s.to_ascii_lowercase().as_str() {
            "monday" | "mon" => Some(WeekStart::Monday),
            "sunday" | "sun" => Some(WeekStart::Sunday),
            _ => None,
        }
    }

    /// `monday` or `sunday`.
    pub fn as_str(self) -> &'static str {
        match self {
            WeekStart::Monday => "monday",
            WeekStart::Sunday => "sunday",
        }
    }

    /// The first day of the week that contains `date`.
    pub fn week_of(self, date: Date) -> Date {
        let back = match self {
            WeekStart::Monday => date.weekday().to_monday_zero_offset(),
            WeekStart::Sunday => date.weekday().to_sunday_zero_offset(),
        };
        date.checked_sub(i64::from(back).days()).unwrap_or(date)
    }
}

/// Which records a report covers and how it cuts them.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOptions {
    /// The zone days, weeks and months are cut in.
    pub tz: TimeZone,
    /// First local date included.
    pub since: Option<Date>,
    /// Last local date included.
    pub until: Option<Date>,
    /// Only records of projects matching this ([`project_matches`]).
    pub project: Option<String>,
    /// Add a per-model breakdown to each row.
    pub breakdown: bool,
    /// Where weeks begin.
    pub week_start: WeekStart,
}

impl ReportOptions {
    /// Everything, cut in `tz`, weeks from Monday, no breakdown.
    pub fn new(tz: TimeZone) -> ReportOptions {
        ReportOptions {
            tz,
            since: None,
            until: None,
            project: None,
            breakdown: false,
            week_start: WeekStart::Monday,
        }
    }

    /// The instants `[since, until)` the date range covers, for a store query. Open ends are
    /// `None`.
    pub fn bounds(&self) -> (Option<Timestamp>, Option<Timestamp>) {
        let since = self.since.map(|d| start_of_day(d, &self.tz));
        let until = self
            .until
            .and_then(|d| d.tomorrow().ok())
            .map(|d| start_of_day(d, &self.tz));
        (since, until)
    }

    /// The local date of an instant in the report's zone.
    pub fn date_of(&self, at: Timestamp) -> Date {
        at.to_zoned_datetime(self.tz.clone()).date()
    }

    /// True when the record is inside the date range.
    pub fn in_range(&self, at: Timestamp) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let date = self.date_of(at);
        self.since.is_none_or(|s| date >= s) && self.until.is_none_or(|u| date <= u)
    }

    /// True when the record belongs to the filtered project (always, without a filter).
    pub fn in_project(&self, project: Option<&str>) -> bool {
        match &self.project {
            None => true,
            Some(wanted) => project.is_some_and(|p| project_matches(wanted, p)),
        }
    }

    /// True when the record passes every filter.
    pub fn matches(&self, record: &UsageRecord) -> bool {
        self.in_project(record.project.as_deref()) && self.in_range(record.at)
    }

    /// True when the group passes every filter (its responses lie within one local day, so its
    /// first decides).
    pub fn matches_group(&self, group: &UsageGroup) -> bool {
        self.in_project(group.project.as_deref()) && self.in_range(group.first_at)
    }

    /// The zone's name for output (`UTC`, `Europe/Berlin`; `local` when the system zone has no
    /// IANA name).
    pub fn tz_name(&self) -> String {
        tz_name(&self.tz)
    }
}

/// A zone's IANA name, or `local` when it has none.
pub fn tz_name(tz: &TimeZone) -> String {
    tz.iana_name().unwrap_or("local").to_owned()
}

/// The first instant of a local date (after a DST gap at midnight, the first instant that
/// exists).
pub fn start_of_day(date: Date, tz: &TimeZone) -> Timestamp {
    date.to_zoned_datetime(tz.clone())
        .and_then(|z| z.start_of_day())
        .map_or_else(
            |_| {
                // Only dates at the very ends of jiff's range fail; fall back to UTC.
                date.to_zoned_datetime(TimeZone::UTC)
                    .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp())
            },
            |z| z.timestamp(),
        )
}

/// A session's project, the one identity every surface names it by: the path `cclive run
/// --project-path` filed it under, else its working directory (the directory Claude Code's
/// `projects/<mangled cwd>/` transcripts are named after). Its name is [`project_name`]; a
/// filter matches it by either ([`project_matches`]).
pub fn project_of<'a>(project_path: Option<&'a str>, cwd: Option<&'a str>) -> Option<&'a str> {
    let known = |p: Option<&'a str>| p.filter(|p| !p.is_empty());
    known(project_path).or_else(|| known(cwd))
}

/// True when a project path matches a filter: the same path, or its last components equal the
/// filter (`app` — the name every surface shows — and `src/app` match `/home/me/src/app`;
/// `myapp` does not). Trailing slashes are ignored. The store's session filter is this rule in
/// SQL.
pub fn project_matches(filter: &str, project: &str) -> bool {
    let filter = filter.trim_end_matches('/');
    let project = project.trim_end_matches('/');
    if filter.is_empty() {
        return false;
    }
    project == filter
        || project
            .strip_suffix(filter)
            .is_some_and(|head| head.ends_with('/'))
}

/// A project path's last component (`/home/me/src/app` → `app`).
pub fn project_name(project: &str) -> &str {
    let trimmed = project.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Which report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportKind {
    /// Per local day.
    Daily,
    /// Per week.
    Weekly,
    /// Per calendar month.
    Monthly,
    /// Per session.
    Sessions,
    /// Per project.
    Projects,
    /// Per model.
    Models,
    /// Per 5-hour block.
    Blocks,
}

impl ReportKind {
    /// The lower-case name (as in the CLI and JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Daily => "daily",
            ReportKind::Weekly => "weekly",
            ReportKind::Monthly => "monthly",
            ReportKind::Sessions => "sessions",
            ReportKind::Projects => "projects",
            ReportKind::Models => "models",
            ReportKind::Blocks => "blocks",
        }
    }
}

/// Where a row's `cost_usd` comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostBasis {
    /// Claude Code's own totals.
    Reported,
    /// The price table.
    Estimated,
    /// A sum of reported and estimated figures.
    Mixed,
}

impl CostBasis {
    /// The basis of a sum of `self` and `other`.
    #[must_use]
    pub fn combine(self, other: CostBasis) -> CostBasis {
        if self == other {
            self
        } else {
            CostBasis::Mixed
        }
    }

    /// `reported`, `estimated` or `mixed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CostBasis::Reported => "reported",
            CostBasis::Estimated => "estimated",
            CostBasis::Mixed => "mixed",
        }
    }
}

/// Tokens, responses and the estimated cost of a group of records. The token field names are
/// cclive's public metric names; `total_tokens` is their sum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// Prompt-cache writes.
    pub cache_creation: u64,
    /// Prompt-cache reads.
    pub cache_read: u64,
    /// All four kinds.
    pub total_tokens: u64,
    /// API responses.
    pub messages: u64,
    /// Their cost from the price table, leaving unpriced models out; not a number (`null` in
    /// JSON) when there are responses and none of them could be priced: unknown, never $0.
    #[serde(deserialize_with = "crate::usage::null_as_nan")]
    pub estimated_cost_usd: f64,
    /// Responses that had a price (tells "nothing priced" from "priced at $0").
    #[serde(skip)]
    pub priced_messages: u64,
}

impl Usage {
    /// Adds `responses` responses of `tokens` in all, which cost `cost` (`None`: unpriced).
    pub fn add(&mut self, tokens: &Tokens, responses: u64, cost: Option<f64>) {
        self.input = self.input.saturating_add(tokens.input);
        self.output = self.output.saturating_add(tokens.output);
        self.cache_creation = self.cache_creation.saturating_add(tokens.cache_creation);
        self.cache_read = self.cache_read.saturating_add(tokens.cache_read);
        self.total_tokens = self.total_tokens.saturating_add(tokens.total());
        self.messages = self.messages.saturating_add(responses);
        if let Some(cost) = cost {
            self.estimated_cost_usd += cost;
            self.priced_messages = self.priced_messages.saturating_add(responses);
        }
    }

    /// Adds another group.
    pub fn merge(&mut self, other: &Usage) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_creation = self.cache_creation.saturating_add(other.cache_creation);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.total_tokens = self.total_tokens.saturating_add(other.total_tokens);
        self.messages += other.messages;
        if other.priced_messages > 0 {
            self.estimated_cost_usd += other.estimated_cost_usd;
            self.priced_messages += other.priced_messages;
        }
    }

    /// The estimated cost, `None` when there are responses and none could be priced.
    pub fn cost_usd(&self) -> Option<f64> {
        (self.messages == 0 || self.priced_messages > 0).then_some(self.estimated_cost_usd)
    }

    /// The four token counts.
    pub fn tokens(&self) -> Tokens {
        Tokens {
            input: self.input,
            output: self.output,
            cache_read: self.cache_read,
            cache_creation: self.cache_creation,
            ..Tokens::default()
        }
    }

    pub(crate) fn rounded(mut self) -> Usage {
        self.estimated_cost_usd = self.cost_usd().map_or(f64::NAN, round_usd);
        self
    }
}

/// One model's share of a row (`--breakdown`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelUsage {
    /// The model id ([`UNKNOWN_MODEL`] when unknown).
    pub model: String,
    /// Its figures.
    #[serde(flatten)]
    pub usage: Usage,
    /// Its estimated cost (the same as `estimated_cost_usd`; per-model costs are always
    /// estimates).
    #[serde(deserialize_with = "crate::usage::null_as_nan")]
    pub cost_usd: f64,
}

/// The totals row of a report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TotalsRow {
    /// The sums.
    #[serde(flatten)]
    pub usage: Usage,
    /// The sum of the rows' `cost_usd`.
    #[serde(deserialize_with = "crate::usage::null_as_nan")]
    pub cost_usd: f64,
    /// Where that sum comes from.
    pub cost_source: Option<CostBasis>,
    /// Every model seen.
    pub models: Vec<String>,
    /// Models the price table does not know (counted at $0).
    pub unpriced_models: Vec<String>,
}

/// A report: what was asked, the rows and the totals. This is the `--json` shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report<R> {
    /// Which report.
    pub report: ReportKind,
    /// The zone days were cut in.
    pub timezone: String,
    /// First local date included, if limited.
    pub since: Option<Date>,
    /// Last local date included, if limited.
    pub until: Option<Date>,
    /// The project filter, if any.
    pub project: Option<String>,
    /// Where weeks begin.
    pub week_start: WeekStart,
    /// The rows, in the report's order.
    pub rows: Vec<R>,
    /// Their totals.
    pub totals: TotalsRow,
    /// The blocks report's token limit per block, when one was asked for (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_limit: Option<u64>,
}

impl<R> Report<R> {
    pub(crate) fn new(
        kind: ReportKind,
        opts: &ReportOptions,
        rows: Vec<R>,
        totals: TotalsRow,
    ) -> Self {
        Report {
            report: kind,
            timezone: opts.tz_name(),
            since: opts.since,
            until: opts.until,
            project: opts.project.clone(),
            week_start: opts.week_start,
            rows,
            totals,
            token_limit: None,
        }
    }
}

/// A cost for sorting: an unknown one (NaN) below every known one.
pub(crate) fn known_cost(c: f64) -> f64 {
    if c.is_nan() { f64::NEG_INFINITY } else { c }
}

/// Rounds a dollar figure to nano-dollars, so JSON shows `0.5` and not `0.49999999999999994`.
pub fn round_usd(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

/// A group of records being summed: the usage, each model's share, unpriced models, and the
/// first and last times.
#[derive(Clone, Debug, Default)]
pub(crate) struct Acc {
    pub(crate) usage: Usage,
    pub(crate) by_model: BTreeMap<String, Usage>,
    pub(crate) unpriced: BTreeSet<String>,
    pub(crate) first_at: Option<Timestamp>,
    pub(crate) last_at: Option<Timestamp>,
}

impl Acc {
    pub(crate) fn add(&mut self, sum: Summed<'_>, prices: &mut Pricer<'_>) {
        let model = sum.model.unwrap_or(UNKNOWN_MODEL);
        let cost = prices.cost(model, sum.tokens, sum.prompt_above);
        if cost.is_none() && !self.unpriced.contains(model) {
            self.unpriced.insert(model.to_owned());
        }
        self.usage.add(sum.tokens, sum.responses, cost);
        if let Some(usage) = self.by_model.get_mut(model) {
            usage.add(sum.tokens, sum.responses, cost);
        } else {
            let mut usage = Usage::default();
            usage.add(sum.tokens, sum.responses, cost);
            self.by_model.insert(model.to_owned(), usage);
        }
        self.first_at = Some(self.first_at.map_or(sum.first_at, |t| t.min(sum.first_at)));
        self.last_at = Some(self.last_at.map_or(sum.last_at, |t| t.max(sum.last_at)));
    }

    pub(crate) fn models(&self) -> Vec<String> {
        self.by_model.keys().cloned().collect()
    }

    pub(crate) fn unpriced(&self) -> Vec<String> {
        self.unpriced.iter().cloned().collect()
    }

    /// The per-model rows, most expensive first (then by name).
    pub(crate) fn breakdown(&self) -> Vec<ModelUsage> {
        let mut rows: Vec<ModelUsage> = self
            .by_model
            .iter()
            .map(|(model, usage)| ModelUsage {
                model: model.clone(),
                usage: usage.rounded(),
                cost_usd: usage.cost_usd().map_or(f64::NAN, round_usd),
            })
            .collect();
        rows.sort_by(|a, b| {
            crate::report::known_cost(b.cost_usd)
                .total_cmp(&crate::report::known_cost(a.cost_usd))
                .then_with(|| a.model.cmp(&b.model))
        });
        rows
    }

    pub(crate) fn breakdown_if(&self, wanted: bool) -> Option<Vec<ModelUsage>> {
        wanted.then(|| self.breakdown())
    }
}

/// Sums rows into the totals row.
pub(crate) struct TotalsBuilder {
    usage: Usage,
    cost: f64,
    basis: Option<CostBasis>,
    models: BTreeSet<String>,
    unpriced: BTreeSet<String>,
    /// Some row had a known cost.
    priced: bool,
}

impl TotalsBuilder {
    pub(crate) fn new() -> Self {
        TotalsBuilder {
            usage: Usage::default(),
            cost: 0.0,
            basis: None,
            models: BTreeSet::new(),
            unpriced: BTreeSet::new(),
            priced: false,
        }
    }

    pub(crate) fn add(&mut self, acc: &Acc, cost: f64, basis: CostBasis) {
        self.usage.merge(&acc.usage);
        if cost.is_finite() {
            self.cost += cost;
            self.priced = true;
        }
        self.basis = Some(self.basis.map_or(basis, |b| b.combine(basis)));
        self.models.extend(acc.by_model.keys().cloned());
        self.unpriced.extend(acc.unpriced.iter().cloned());
    }

    pub(crate) fn finish(self) -> TotalsRow {
        TotalsRow {
            usage: self.usage.rounded(),
            cost_usd: if self.priced || self.usage.messages == 0 {
                round_usd(self.cost)
            } else {
                f64::NAN
            },
            cost_source: self.basis,
            models: self.models.into_iter().collect(),
            unpriced_models: self.unpriced.into_iter().collect(),
        }
    }
}

/// The first day of the month after the one starting at `first`.
pub(crate) fn next_month(first: Date) -> Date {
    first.checked_add(1.month()).unwrap_or(first)
}
