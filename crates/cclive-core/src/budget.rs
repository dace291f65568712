//! Budgets: spend per day, week and month against configured limits, the thresholds crossed,
//! projections, and the alerts and hard limit that follow from them.
//!
//! Pure like the rest of the core: the caller passes the usage records (or sums), `now`, the
//! zone and the price table; nothing here reads a clock or the store. The binary's monitor calls
//! [`evaluate`] and [`alerts`] after updates and records each alert in the store, which decides
//! whether it is new (once per threshold per period, across restarts); `cclive budget` prints
//! [`evaluate`]'s statuses and `--check` uses [`check`]; `cclive hook` uses [`hard_limit`].
//!
//! Rules:
//! - Periods are cut in the budget's zone: a day from local midnight, a week from
//!   [`Budget::week_start`], a month from the 1st ([`window`]); DST days are 23 or 25 hours.
//! - Spend is the **estimated** cost of each response in the window (the price table), because
//!   Claude Code's reported totals cover whole sessions, which cross period boundaries.
//! - Thresholds are [`THRESHOLDS`] (50, 80, 100 %) of each limit; a status's [`Level`] says
//!   which was crossed. The projection extends the pace so far (spend / time elapsed, counting at
//!   least one hour) to the end of the period.
//! - A project limit applies to every project path that matches its key
//!   ([`crate::report::project_matches`]: the path itself or its last component).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::pricing::PriceTable;
use crate::report::{
    UsageGroup, UsageRecord, WeekStart, next_month, project_matches, start_of_day,
};
use crate::usage::Tokens;

/// The thresholds, in percent of a limit, that raise an alert once per period.
pub const THRESHOLDS: [u8; 3] = [50, 80, 100];

/// The exit code of `cclive budget --check` at or over 80 % of a limit.
pub const CHECK_WARNING: u8 = 10;
/// The exit code of `cclive budget --check` at or over 100 % of a limit.
pub const CHECK_EXCEEDED: u8 = 11;

const HOUR_MS: i64 = 3_600_000;

/// A budget period.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// A local day.
    #[default]
    Day,
    /// A week from the week start.
    Week,
    /// A calendar month.
    Month,
}

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Period; 3] = [Period::Day, Period::Week, Period::Month];

    /// `day`, `week` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// `daily`, `weekly` or `monthly`.
    pub fn adjective(self) -> &'static str {
        match self {
            Period::Day => "daily",
            Period::Week => "weekly",
            Period::Month => "monthly",
        }
    }

    /// Parses `day`/`daily`, `week`/`weekly`, `month`/`monthly`.
    pub fn parse(s: &str) -> Option<Period> {
        match s.to_ascii_lowercase().as_str() {
            "day" | "daily" => Some(Period::Day),
            "week" | "weekly" => Some(Period::Week),
            "month" | "monthly" => Some(Period::Month),
            _ => None,
        }
    }
}

/// One occurrence of a period: `[start, end)` and a key naming it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Which period.
    pub period: Period,
    /// `2026-09-03` (a day), `2026-08-31` (a week: its first day), `2026-09` (a month).
    pub key: String,
    /// Its first instant.
    pub start: Timestamp,
    /// The first instant of the next one.
    pub end: Timestamp,
}

impl Window {
    /// Its length in milliseconds.
    pub fn length_ms(&self) -> i64 {
        self.end.as_millisecond() - self.start.as_millisecond()
    }

    /// True when `at` lies in it.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.start <= at && at < self.end
    }
}

/// The window of `period` that contains `now`, cut in `tz`.
pub fn window(period: Period, now: Timestamp, tz: &TimeZone, week_start: WeekStart) -> Window {
    let today = now.to_zoned_datetime(tz.clone()).date();
    let (first, next, key): (Date, Date, String) = match period {
        Period::Day => (today, today.tomorrow().unwrap_or(today), today.to_string()),
        Period::Week => {
            let first = week_start.week_of(today);
            let next = first.checked_add(jiff::ToSpan::days(7)).unwrap_or(first);
            (first, next, first.to_string())
        }
        Period::Month => {
            let first = today.first_of_month();
            (
                first,
                next_month(first),
                format!("{:04}-{:02}", first.year(), first.month()),
            )
        }
    };
    Window {
        period,
        key,
        start: start_of_day(first, tz),
        end: start_of_day(next, tz),
    }
}

/// Limits of one scope, in USD; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Per local day.
    pub daily_usd: Option<f64>,
    /// Per week.
    pub weekly_usd: Option<f64>,
    /// Per calendar month.
    pub monthly_usd: Option<f64>,
    /// A hard limit on the spend of the [`Budget::block_period`]: once reached, `cclive hook`
    /// refuses new prompts. Off when `None`.
    pub block_at_usd: Option<f64>,
}

impl Limits {
    /// The limit of one period.
    pub fn for_period(&self, period: Period) -> Option<f64> {
        match period {
            Period::Day => self.daily_usd,
            Period::Week => self.weekly_usd,
            Period::Month => self.monthly_usd,
        }
    }

    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        self.daily_usd.is_none()
            && self.weekly_usd.is_none()
            && self.monthly_usd.is_none()
            && self.block_at_usd.is_none()
    }
}

/// Every limit: the global ones, per project, and how periods are cut.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Limits on all usage.
    pub limits: Limits,
    /// Limits per project, by key (a project path, or its last component).
    pub projects: BTreeMap<String, Limits>,
    /// The period `block_at_usd` applies to (default: the day).
    pub block_period: Period,
    /// Where weeks begin.
    pub week_start: WeekStart,
}

impl Budget {
    /// True when no limit at all is set.
    pub fn is_empty(&self) -> bool {
        self.limits.is_empty() && self.projects.values().all(Limits::is_empty)
    }

    /// True when some `block_at_usd` is set.
    pub fn has_hard_limit(&self) -> bool {
        self.limits.block_at_usd.is_some()
            || self.projects.values().any(|l| l.block_at_usd.is_some())
    }

    /// Every scope with its limits: global first (`None`), then projects by key.
    pub fn scopes(&self) -> impl Iterator<Item = (Option<&str>, &Limits)> {
        std::iter::once((None, &self.limits))
            .chain(self.projects.iter().map(|(k, l)| (Some(k.as_str()), l)))
    }

    /// The keys of the project limits that apply to a project path.
    pub fn project_keys<'a>(&'a self, project: &'a str) -> impl Iterator<Item = &'a str> {
        self.projects
            .keys()
            .map(String::as_str)
            .filter(move |key| project_matches(key, project))
    }
}

/// Estimated spend in one window, in total and per project path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spend {
    /// Everything.
    pub total_usd: f64,
    /// Per project path (usage of sessions with no known project is only in the total).
    pub by_project: BTreeMap<String, f64>,
    /// Models the price table does not know (counted at $0).
    pub unpriced_models: BTreeSet<String>,
}

impl Spend {
    /// Adds the usage of one response.
    pub fn add(
        &mut self,
        project: Option<&str>,
        model: Option<&str>,
        tokens: &Tokens,
        prices: &PriceTable,
    ) {
        let model = model.unwrap_or(crate::report::UNKNOWN_MODEL);
        self.count(project, model, tokens, prices.cost(model, tokens));
    }

    /// Adds a sum of responses of one project, model and price class (a store's usage sums):
    /// `prompt_above` is the class's long-prompt threshold (see
    /// [`PriceTable::cost_of_sum`]). A sum priced as one response would cross the long-prompt
    /// threshold that none of its responses crossed.
    pub fn add_sum(
        &mut self,
        project: Option<&str>,
        model: Option<&str>,
        tokens: &Tokens,
        prompt_above: Option<u64>,
        prices: &PriceTable,
    ) {
        let model = model.unwrap_or(crate::report::UNKNOWN_MODEL);
        let cost = prices.cost_of_sum(model, tokens, prompt_above);
        self.count(project, model, tokens, cost);
    }

    fn count(&mut self, project: Option<&str>, model: &str, tokens: &Tokens, cost: Option<f64>) {
        let cost = cost.unwrap_or_else(|| {
            if tokens.total() > 0 {
                self.unpriced_models.insert(model.to_owned());
            }
            0.0
        });
        self.total_usd += cost;
        if let Some(project) = project {
            *self.by_project.entry(project.to_owned()).or_default() += cost;
        }
    }

    /// The spend of the records in `window`.
    pub fn of_records(records: &[UsageRecord], window: &Window, prices: &PriceTable) -> Spend {
        let mut spend = Spend::default();
        for r in records.iter().filter(|r| window.contains(r.at)) {
            spend.add(r.project.as_deref(), r.model.as_deref(), &r.tokens, prices);
        }
        spend
    }

    /// The spend of the groups in `window`. A group lies within one local day of the zone the
    /// window is cut in ([`UsageGroup::is_within_a_day`], which the store's groups keep), and a
    /// window is whole days, so a group is in it or out of it whole.
    /// Each model is looked up in the price table once (a check prices thousands of sums of a
    /// few models).
    pub fn of_groups(groups: &[UsageGroup], window: &Window, prices: &PriceTable) -> Spend {
        let mut spend = Spend::default();
        let mut rates = crate::report::Pricer::new(prices);
        for g in groups.iter().filter(|g| window.contains(g.first_at)) {
            let model = g.model.as_deref().unwrap_or(crate::report::UNKNOWN_MODEL);
            let cost = rates.cost(model, &g.tokens, g.prompt_above);
            spend.count(g.project.as_deref(), model, &g.tokens, cost);
        }
        spend
    }

    /// The spend of a scope: everything (`None`), or the projects matching a key.
    pub fn of_scope(&self, key: Option<&str>) -> f64 {
        match key {
            None => self.total_usd,
            Some(key) => self
                .by_project
                .iter()
                .filter(|(project, _)| project_matches(key, project))
                .map(|(_, cost)| cost)
                .sum(),
        }
    }
}

/// How close a scope is to a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Under 50 %.
    Ok,
    /// At or over 50 %.
    Notice,
    /// At or over 80 % (a gauge turns amber).
    Warning,
    /// At or over 100 % (red).
    Exceeded,
}

impl Level {
    /// The level of `spent` against `limit`.
    pub fn of(spent: f64, limit: f64) -> Level {
        let at = |pct: u8| reached(spent, limit, pct);
        if at(100) {
            Level::Exceeded
        } else if at(80) {
            Level::Warning
        } else if at(50) {
            Level::Notice
        } else {
            Level::Ok
        }
    }

    /// `ok`, `notice`, `warning`, `exceeded`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Exceeded => "exceeded",
        }
    }
}

/// `spent` is at or over `pct` % of `limit` (compared without dividing, so exactly 80 % is 80 %).
fn reached(spent: f64, limit: f64, pct: u8) -> bool {
    spent * 100.0 >= limit * f64::from(pct)
}

/// One scope's spend in the current window of one period, against its limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetStatus {
    /// The project key, `None` for the global limit.
    pub project: Option<String>,
    /// Which period.
    pub period: Period,
    /// The window's key (`2026-09-03`, `2026-08-31`, `2026-09`).
    pub period_key: String,
    /// When the window began.
    pub start: Timestamp,
    /// When it ends.
    pub end: Timestamp,
    /// The limit.
    pub limit_usd: f64,
    /// Estimated spend so far.
    pub spent_usd: f64,
    /// `spent_usd / limit_usd * 100`.
    pub percent: f64,
    /// The spend at the end of the window at the pace so far.
    pub projected_usd: f64,
    /// `projected_usd / limit_usd * 100`.
    pub projected_percent: f64,
    /// The highest threshold reached.
    pub level: Level,
}

impl BudgetStatus {
    /// The thresholds reached, lowest first.
    pub fn crossed(&self) -> impl Iterator<Item = u8> + '_ {
        THRESHOLDS
            .into_iter()
            .filter(|t| reached(self.spent_usd, self.limit_usd, *t))
    }

    /// `daily budget` or `daily budget of project app`.
    pub fn label(&self) -> String {
        scope_label(self.period, self.project.as_deref())
    }
}

fn scope_label(period: Period, project: Option<&str>) -> String {
    match project {
        None => format!("{} budget", period.adjective()),
        Some(p) => format!("{} budget of project {p}", period.adjective()),
    }
}

/// The spend so far extended to the end of the window at the same pace. The pace counts at least
/// one hour of elapsed time, so the first minutes of a period do not project absurd figures.
pub fn project_to_end(spent: f64, window: &Window, now: Timestamp) -> f64 {
    let now_ms = now
        .as_millisecond()
        .clamp(window.start.as_millisecond(), window.end.as_millisecond());
    let elapsed = (now_ms - window.start.as_millisecond()).max(HOUR_MS.min(window.length_ms()));
    let remaining = window.end.as_millisecond() - now_ms;
    if elapsed <= 0 {
        return spent;
    }
    spent + spent / elapsed as f64 * remaining as f64
}

/// The status of every limit set, global first then by project key, each by period (day, week,
/// month). `records` must cover at least the longest window with a limit (the binary reads
/// from the earliest window start).
pub fn evaluate(
    budget: &Budget,
    records: &[UsageRecord],
    now: Timestamp,
    tz: &TimeZone,
    prices: &PriceTable,
) -> Vec<BudgetStatus> {
    evaluate_with(budget, now, tz, |window| {
        Spend::of_records(records, window, prices)
    })
}

/// [`evaluate`] over the store's sums of the responses ([`UsageGroup`]s, each within a local
/// day of `tz`): the same figures from a few thousand sums instead of every response of a
/// month.
pub fn evaluate_groups(
    budget: &Budget,
    groups: &[UsageGroup],
    now: Timestamp,
    tz: &TimeZone,
    prices: &PriceTable,
) -> Vec<BudgetStatus> {
    evaluate_with(budget, now, tz, |window| {
        Spend::of_groups(groups, window, prices)
    })
}

fn evaluate_with(
    budget: &Budget,
    now: Timestamp,
    tz: &TimeZone,
    spend_in: impl Fn(&Window) -> Spend,
) -> Vec<BudgetStatus> {
    let mut out = Vec::new();
    for period in Period::ALL {
        if budget.scopes().all(|(_, l)| l.for_period(period).is_none()) {
            continue;
        }
        let window = window(period, now, tz, budget.week_start);
        let spend = spend_in(&window);
        for (key, limits) in budget.scopes() {
            if let Some(limit) = limits.for_period(period) {
                out.push(status(key, limit, spend.of_scope(key), &window, now));
            }
        }
    }
    out.sort_by(|a, b| {
        a.project
            .cmp(&b.project)
            .then_with(|| a.period.cmp(&b.period))
    });
    out
}

fn status(
    project: Option<&str>,
    limit: f64,
    spent: f64,
    window: &Window,
    now: Timestamp,
) -> BudgetStatus {
    let projected = project_to_end(spent, window, now);
    let pct = |v: f64| if limit > 0.0 { v / limit * 100.0 } else { 0.0 };
    BudgetStatus {
        project: project.map(str::to_owned),
        period: window.period,
        period_key: window.key.clone(),
        start: window.start,
        end: window.end,
        limit_usd: limit,
        spent_usd: crate::report::round_usd(spent),
        percent: round2(pct(spent)),
        projected_usd: crate::report::round_usd(projected),
        projected_percent: round2(pct(projected)),
        level: Level::of(spent, limit),
    }
}

/// A threshold crossed: the domain value the monitor prints and records, and notification
/// sinks (webhooks, exec hooks) subscribe to. Identified by
/// `(project, period, period_key, threshold_percent)`; the store keeps one of each, which is what
/// makes an alert fire once per threshold per period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BudgetAlert {
    /// The project key, `None` for the global limit.
    pub project: Option<String>,
    /// Which period.
    pub period: Period,
    /// The window's key.
    pub period_key: String,
    /// When the window began.
    pub period_start: Timestamp,
    /// When it ends.
    pub period_end: Timestamp,
    /// 50, 80 or 100.
    pub threshold_percent: u8,
    /// The limit.
    pub limit_usd: f64,
    /// The spend when the alert was raised.
    pub spent_usd: f64,
    /// `spent_usd / limit_usd * 100`.
    pub percent: f64,
    /// The projection to the end of the window.
    pub projected_usd: f64,
    /// When it was raised.
    pub at: Timestamp,
}

impl BudgetAlert {
    /// `global` or `project:<key>`: the scope column of the store's alert table.
    pub fn scope(&self) -> String {
        self.project
            .as_ref()
            .map_or_else(|| "global".to_owned(), |p| format!("project:{p}"))
    }

    /// The level this threshold stands for.
    pub fn level(&self) -> Level {
        match self.threshold_percent {
            100.. => Level::Exceeded,
            80.. => Level::Warning,
            _ => Level::Notice,
        }
    }

    /// One line for a terminal or a notification, e.g. `daily budget 2026-09-03: $8.12 of $10.00
    /// (81 %) reached the 80 % threshold; $11.40 projected by the end of the day`.
    pub fn message(&self) -> String {
        let mut out = format!(
            "{} {}: {} of {} ({:.0} %) reached the {} % threshold",
            scope_label(self.period, self.project.as_deref()),
            self.period_key,
            usd(self.spent_usd),
            usd(self.limit_usd),
            self.percent.floor(),
            self.threshold_percent,
        );
        if self.threshold_percent < 100 {
            let _ = write!(
                out,
                "; {} projected by the end of the {}",
                usd(self.projected_usd),
                self.period.as_str()
            );
        }
        out
    }
}

/// Every threshold each status has reached, as alerts raised at `now`. Whether one is new is the
/// store's decision (it remembers those already raised).
pub fn alerts(statuses: &[BudgetStatus], now: Timestamp) -> Vec<BudgetAlert> {
    statuses
        .iter()
        .flat_map(|s| {
            s.crossed().map(move |threshold| BudgetAlert {
                project: s.project.clone(),
                period: s.period,
                period_key: s.period_key.clone(),
                period_start: s.start,
                period_end: s.end,
                threshold_percent: threshold,
                limit_usd: s.limit_usd,
                spent_usd: s.spent_usd,
                percent: s.percent,
                projected_usd: s.projected_usd,
                at: now,
            })
        })
        .collect()
}

/// The outcome of `cclive budget --check`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// 0 under 80 % of every limit, [`CHECK_WARNING`] at or over 80 %, [`CHECK_EXCEEDED`] at or
    /// over 100 % (of any limit, any period).
    pub exit_code: u8,
    /// One line saying why.
    pub line: String,
}

/// The `--check` verdict: the worst status decides the exit code and the line names it.
pub fn check(statuses: &[BudgetStatus]) -> Check {
    let Some(worst) = statuses.iter().max_by(|a, b| {
        a.level
            .cmp(&b.level)
            .then_with(|| a.percent.total_cmp(&b.percent))
    }) else {
        return Check {
            exit_code: 0,
            line: "OK: no budget limits are configured".to_owned(),
        };
    };
    let (exit_code, word) = match worst.level {
        Level::Exceeded => (CHECK_EXCEEDED, "EXCEEDED"),
        Level::Warning => (CHECK_WARNING, "WARNING"),
        Level::Ok | Level::Notice => (0, "OK"),
    };
    let line = format!(
        "{word}: {} {} at {:.0} % ({} of {}; {} projected)",
        worst.label(),
        worst.period_key,
        worst.percent.floor(),
        usd(worst.spent_usd),
        usd(worst.limit_usd),
        usd(worst.projected_usd),
    );
    Check { exit_code, line }
}

/// A hard limit (`block_at_usd`) that is reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HardLimit {
    /// The project key whose limit it is, `None` for the global one.
    pub project: Option<String>,
    /// The period it applies to.
    pub period: Period,
    /// The window's key.
    pub period_key: String,
    /// When the window ends (new prompts are allowed again).
    pub until: Timestamp,
    /// The limit.
    pub limit_usd: f64,
    /// The spend.
    pub spent_usd: f64,
}

impl HardLimit {
    /// What a refused prompt is told (the caller adds how to change the setting).
    pub fn message(&self) -> String {
        let scope = match &self.project {
            None => String::new(),
            Some(p) => format!(" of project {p}"),
        };
        format!(
            "cclive budget: the {} spend{scope} ({} on {}) has reached the hard limit \
             block_at_usd = {}; new prompts are refused until the {} ends",
            self.period.adjective(),
            usd(self.spent_usd),
            self.period_key,
            usd(self.limit_usd),
            self.period.as_str(),
        )
    }
}

/// The first hard limit reached for a prompt in `project` (its cwd): the global `block_at_usd`,
/// then those of the project keys that match it. `spend` is the spend in `window` (the window of
/// [`Budget::block_period`]).
pub fn hard_limit(
    budget: &Budget,
    project: Option<&str>,
    spend: &Spend,
    window: &Window,
) -> Option<HardLimit> {
    let hit = |key: Option<&str>, limit: f64| {
        let used = spend.of_scope(key);
        reached(used, limit, 100).then(|| HardLimit {
            project: key.map(str::to_owned),
            period: window.period,
            period_key: window.key.clone(),
            until: window.end,
            limit_usd: limit,
            spent_usd: crate::report::round_usd(used),
        })
    };
    if let Some(found) = budget.limits.block_at_usd.and_then(|l| hit(None, l)) {
        return Some(found);
    }
    let project = project?;
    budget.project_keys(project).find_map(|key| {
        budget.projects[key]
            .block_at_usd
            .and_then(|l| hit(Some(key), l))
    })
}

/// `$8.12`, `$0.0163`, `$1,234.50`.
pub fn usd(v: f64) -> String {
    if !v.is_finite() {
        // An unknown cost (nothing of it priced), never shown as $0.
        return "unpriced".to_owned();
    }
    if v != 0.0 && v.abs() < 1.0 {
        return format!("${v:.4}");
    }
    let text = format!("{:.2}", v.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}${grouped}.{frac}", if v < 0.0 { "-" } else { "" })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests;
