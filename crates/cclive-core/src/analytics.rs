//! Performance analytics: where a session's time and money went, from its turns
//! ([`crate::turns`]) and its state. The session page's "Performance" section and
//! `cclive report tools` (many sessions, [`ToolsReport`]) are both built from [`analyze`].
//!
//! Rules, in one place:
//! - **Time split.** Wall time is the session's `duration_ms`. API time is its `duration_api_ms`
//!   (Claude Code's own figure, else measured from stream-json). Tool time is the union of the
//!   main thread's tool calls (call to result), so parallel calls are not counted twice and a
//!   sub-agent's calls, which run inside its `Task` call, are not added again. Waiting for the
//!   user (interactive sessions only) runs from the session's start to the first prompt, from
//!   each turn's end (Claude Code's Stop/`turn_duration`, else its last API or tool event) to
//!   the next prompt, and from the last turn's reported end to the end of the wall time. The
//!   rest is "other" (Claude Code's own work, streaming text, permission prompts). A sub-agent's
//!   API time also lies inside its `Task` call, so the parts can add up to more than the wall
//!   time: shares are taken of the larger of the two, and never exceed 100 % together.
//! - **Tools.** Every call counts once (by id), sub-agents' included; means and maxima are over
//!   the calls whose duration is known. A session whose events are gone (imported totals only)
//!   contributes its per-tool call counts without durations.
//! - **Cache.** From the session's tokens: hit ratio `cache_read / (input + cache_read +
//!   cache_creation)` and cache reads per cache write.
//! - **Cost per line** is the session's cost over the lines Claude Code says it added and
//!   removed (`cost-state`, the status line); none when it reported no lines.
//! - **Costliest turns** are priced per response with the price table (estimates).
//!
//! Pure: no clock, no I/O. Prompts appear only as the previews the events carry.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::event::{Event, Mode};
use crate::pricing::PriceTable;
use crate::report::{ReportOptions, round_usd};
use crate::session::{CostSource, SessionState};
use crate::turns::{self, Turn, millis_between};
use crate::usage::Tokens;

/// How many slowest calls and costliest turns a session's analytics lists.
pub const TOP: usize = 5;
/// How many slowest calls a tools report lists.
pub const REPORT_TOP: usize = 10;

/// Where the wall time went, in milliseconds and as shares (0..=1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TimeSplit {
    /// Wall time.
    pub wall_ms: u64,
    /// In API calls.
    pub api_ms: u64,
    /// Running tools (main thread, overlapping calls once).
    pub tool_ms: u64,
    /// Waiting for the user between turns (interactive sessions).
    pub waiting_ms: u64,
    /// The rest of the wall time.
    pub other_ms: u64,
    /// Shares of `max(wall, api + tools + waiting)`; `None` when that is 0.
    pub api_share: Option<f64>,
    /// Tools' share.
    pub tool_share: Option<f64>,
    /// Waiting's share.
    pub waiting_share: Option<f64>,
    /// The rest's share.
    pub other_share: Option<f64>,
}

impl TimeSplit {
    /// A split of `wall_ms` into its parts; "other" is what they leave.
    pub fn new(wall_ms: u64, api_ms: u64, tool_ms: u64, waiting_ms: u64) -> TimeSplit {
        let parts = api_ms + tool_ms + waiting_ms;
        let other_ms = wall_ms.saturating_sub(parts);
        let whole = wall_ms.max(parts);
        let share = |v: u64| (whole > 0).then(|| v as f64 / whole as f64);
        TimeSplit {
            wall_ms,
            api_ms,
            tool_ms,
            waiting_ms,
            other_ms,
            api_share: share(api_ms),
            tool_share: share(tool_ms),
            waiting_share: share(waiting_ms),
            other_share: share(other_ms),
        }
    }

    /// The sum of two splits.
    #[must_use]
    pub fn plus(&self, other: &TimeSplit) -> TimeSplit {
        TimeSplit::new(
            self.wall_ms + other.wall_ms,
            self.api_ms + other.api_ms,
            self.tool_ms + other.tool_ms,
            self.waiting_ms + other.waiting_ms,
        )
    }
}

/// One tool's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolStats {
    /// The tool's name.
    pub name: String,
    /// Calls.
    pub calls: u64,
    /// Calls that reported an error.
    pub errors: u64,
    /// `errors / calls`.
    pub error_rate: f64,
    /// Calls whose duration is known.
    pub timed_calls: u64,
    /// Their summed duration.
    pub total_ms: u64,
    /// Their mean duration; `None` when none is known.
    pub mean_ms: Option<u64>,
    /// The longest; `None` when none is known.
    pub max_ms: Option<u64>,
}

impl ToolStats {
    fn new(name: &str) -> ToolStats {
        ToolStats {
            name: name.to_owned(),
            calls: 0,
            errors: 0,
            error_rate: 0.0,
            timed_calls: 0,
            total_ms: 0,
            mean_ms: None,
            max_ms: None,
        }
    }

    fn add_call(&mut self, is_error: bool, duration_ms: Option<u64>) {
        self.calls += 1;
        self.errors += u64::from(is_error);
        if let Some(ms) = duration_ms {
            self.timed_calls += 1;
            self.total_ms += ms;
            self.max_ms = Some(self.max_ms.map_or(ms, |m| m.max(ms)));
        }
        self.derive();
    }

    fn merge(&mut self, other: &ToolStats) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.timed_calls += other.timed_calls;
        self.total_ms += other.total_ms;
        self.max_ms = match (self.max_ms, other.max_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.derive();
    }

    fn derive(&mut self) {
        self.error_rate = if self.calls > 0 {
            self.errors as f64 / self.calls as f64
        } else {
            0.0
        };
        // `None` without a timed call.
        self.mean_ms = self.total_ms.checked_div(self.timed_calls);
    }
}

/// Most-used first, then by name.
fn sort_by_use(tools: &mut [ToolStats]) {
    tools.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
}

/// One tool call among the slowest.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlowCall {
    /// The session it ran in (in a report across sessions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The turn it ran in.
    pub turn: u32,
    /// The tool.
    pub name: String,
    /// The `toolu_…` id.
    pub tool_use_id: String,
    /// When it was asked for.
    pub started_at: Timestamp,
    /// How long it ran.
    pub duration_ms: u64,
    /// True when it failed.
    pub is_error: bool,
    /// True inside a sub-agent.
    pub sidechain: bool,
}

/// Slowest first, then oldest.
fn sort_slowest(calls: &mut Vec<SlowCall>, keep: usize) {
    calls.sort_by(|a, b| {
        b.duration_ms
            .cmp(&a.duration_ms)
            .then_with(|| a.started_at.cmp(&b.started_at))
    });
    calls.truncate(keep);
}

/// How well the prompt cache worked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CacheEfficiency {
    /// Uncached input tokens.
    pub input: u64,
    /// Input tokens read from the cache.
    pub cache_read: u64,
    /// Input tokens written to the cache.
    pub cache_creation: u64,
    /// `cache_read / (input + cache_read + cache_creation)`; `None` without input.
    pub hit_ratio: Option<f64>,
    /// Tokens read from the cache per token written to it; `None` when nothing was written.
    pub reads_per_write: Option<f64>,
}

impl CacheEfficiency {
    /// The figures of a token count.
    pub fn of(tokens: &Tokens) -> CacheEfficiency {
        let all_input = tokens
            .input
            .saturating_add(tokens.cache_read)
            .saturating_add(tokens.cache_creation);
        CacheEfficiency {
            input: tokens.input,
            cache_read: tokens.cache_read,
            cache_creation: tokens.cache_creation,
            hit_ratio: (all_input > 0).then(|| tokens.cache_read as f64 / all_input as f64),
            reads_per_write: (tokens.cache_creation > 0)
                .then(|| tokens.cache_read as f64 / tokens.cache_creation as f64),
        }
    }

    fn tokens(&self) -> Tokens {
        Tokens {
            input: self.input,
            output: 0,
            cache_read: self.cache_read,
            cache_creation: self.cache_creation,
            ..Tokens::default()
        }
    }
}

/// What a changed line of code cost.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CostPerLine {
    /// Lines added (Claude Code's count).
    pub lines_added: u64,
    /// Lines removed.
    pub lines_removed: u64,
    /// The cost they are divided into.
    pub cost_usd: f64,
    /// `cost_usd / (lines_added + lines_removed)`.
    pub usd_per_line: f64,
}

impl CostPerLine {
    /// `None` when no line changed.
    pub fn new(lines_added: u64, lines_removed: u64, cost_usd: f64) -> Option<CostPerLine> {
        let lines = lines_added + lines_removed;
        (lines > 0).then(|| CostPerLine {
            lines_added,
            lines_removed,
            cost_usd: round_usd(cost_usd),
            usd_per_line: round_usd(cost_usd / lines as f64),
        })
    }
}

/// One of the costliest turns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TurnCost {
    /// Its index (1 for the first prompt; 0 before it).
    pub index: u32,
    /// The prompt's preview, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// When it started.
    pub started_at: Timestamp,
    /// Its cost: a share of Claude Code's total, or estimated (see
    /// [`SessionAnalytics::turn_cost_source`]).
    pub cost_usd: f64,
    /// Its tokens.
    pub tokens: Tokens,
    /// API responses.
    pub api_requests: u64,
    /// Tool calls.
    pub tool_calls: u64,
    /// From its first to its last event.
    pub duration_ms: u64,
}

/// A session's performance analytics (`/api/sessions/{id}/analytics`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionAnalytics {
    /// The session.
    pub session_id: String,
    /// Print or interactive (only interactive sessions wait for the user).
    pub mode: Mode,
    /// Turns found in its events.
    pub turns: u64,
    /// How many recorded events it was built from (0: figures from the totals only).
    pub events: u64,
    /// Where the time went.
    pub time: TimeSplit,
    /// Per tool, most used first.
    pub tools: Vec<ToolStats>,
    /// The slowest calls, slowest first.
    pub slowest_calls: Vec<SlowCall>,
    /// The prompt cache.
    pub cache: CacheEfficiency,
    /// The session's cost and whether Claude Code reported it.
    pub cost_usd: f64,
    /// `reported` or `estimated`.
    pub cost_source: CostSource,
    /// Cost per changed line; `None` when no lines were reported.
    pub cost_per_line: Option<CostPerLine>,
    /// The costliest turns, costliest first.
    pub costliest_turns: Vec<TurnCost>,
    /// What the turns' costs are: `reported` when Claude Code's total is shared among the
    /// turns by their estimated costs (every response of the session is in them), else
    /// `estimated` (the price table's).
    pub turn_cost_source: crate::session::CostSource,
}

/// The analytics of one session from its recorded events (in stored order), listing [`TOP`]
/// slowest calls and costliest turns.
pub fn analyze(session: &SessionState, events: &[Event], prices: &PriceTable) -> SessionAnalytics {
    analyze_top(session, events, prices, TOP)
}

/// [`analyze`], listing `top` slowest calls and costliest turns (a report across sessions
/// needs more of each session's calls than its page shows).
pub fn analyze_top(
    session: &SessionState,
    events: &[Event],
    prices: &PriceTable,
    top: usize,
) -> SessionAnalytics {
    let turns = turns::build(events, session.model.as_deref(), prices);
    let wall_ms = session.duration_ms;
    let waiting_ms = if session.mode == Mode::Interactive {
        waiting_ms(session, &turns)
    } else {
        0
    };
    let time = TimeSplit::new(
        wall_ms,
        session.duration_api_ms,
        tool_ms(&turns),
        waiting_ms,
    );
    SessionAnalytics {
        session_id: session.session_id.to_string(),
        mode: session.mode,
        turns: turns::count(&turns),
        events: events.len() as u64,
        time,
        tools: tool_stats(session, &turns),
        slowest_calls: slowest_calls(&turns, top),
        cache: CacheEfficiency::of(&session.tokens),
        cost_usd: round_usd(session.total_cost_usd),
        cost_source: session.cost_source,
        cost_per_line: CostPerLine::new(
            session.lines_added,
            session.lines_removed,
            session.total_cost_usd,
        ),
        costliest_turns: costliest_turns(&turns, top, turns::reported_cost_scale(session, &turns)),
        turn_cost_source: if turns::reported_cost_scale(session, &turns).is_some() {
            crate::session::CostSource::Reported
        } else {
            crate::session::CostSource::Estimated
        },
    }
}

/// The union of the main thread's finished tool calls, in milliseconds.
fn tool_ms(turns: &[Turn]) -> u64 {
    let mut spans: Vec<(i64, i64)> = turns
        .iter()
        .flat_map(|t| &t.tools)
        .filter(|c| !c.sidechain)
        .filter_map(|c| {
            let start = c.started_at.as_millisecond();
            let ms = i64::try_from(c.duration_ms?).ok()?;
            Some((start, start.saturating_add(ms)))
        })
        .collect();
    spans.sort_unstable();
    let mut total = 0i64;
    let mut open: Option<(i64, i64)> = None;
    for (start, end) in spans {
        open = match open {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += e - s;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = open {
        total += e - s;
    }
    u64::try_from(total).unwrap_or(0)
}

/// Time an interactive session spent waiting for its user (see the module's rules).
fn waiting_ms(session: &SessionState, turns: &[Turn]) -> u64 {
    let mut waiting = 0;
    // Since when the session has been waiting for a prompt: from its start, then from each
    // turn's end.
    let mut idle_since = Some(session.started_at);
    for turn in turns {
        // Only a prompt ends a wait; the model's next round after a tool result is work.
        if turn.prompted
            && let Some(since) = idle_since
        {
            waiting += millis_between(since, turn.started_at);
        }
        idle_since = match (turn.ended_at, turn.last_work_at) {
            (Some(end), _) => Some(end),
            (None, Some(work)) => Some(work),
            // Turn 0 without work: still waiting for the first prompt.
            (None, None) if turn.index == 0 => idle_since,
            (None, None) => Some(turn.last_at),
        };
    }
    // After a turn Claude Code said was over, the rest of the wall time waited for the user
    // (who then left). Without that report, the session may have been cut off mid-turn.
    if let Some(end) = turns.last().and_then(|t| t.ended_at) {
        let wall_end_ms = session.started_at.as_millisecond()
            + i64::try_from(session.duration_ms).unwrap_or(i64::MAX);
        waiting += u64::try_from(wall_end_ms - end.as_millisecond()).unwrap_or(0);
    }
    waiting
}

fn tool_stats(session: &SessionState, turns: &[Turn]) -> Vec<ToolStats> {
    let mut by_name: BTreeMap<&str, ToolStats> = BTreeMap::new();
    for call in turns.iter().flat_map(|t| &t.tools) {
        by_name
            .entry(&call.name)
            .or_insert_with(|| ToolStats::new(&call.name))
            .add_call(call.is_error == Some(true), call.duration_ms);
    }
    if by_name.is_empty() {
        // No events (an imported session's totals): its call counts, without durations.
        for (name, calls) in &session.tool_calls {
            let mut stats = ToolStats::new(name);
            stats.calls = *calls;
            stats.derive();
            by_name.insert(name, stats);
        }
    }
    let mut tools: Vec<ToolStats> = by_name.into_values().collect();
    sort_by_use(&mut tools);
    tools
}

fn slowest_calls(turns: &[Turn], keep: usize) -> Vec<SlowCall> {
    let mut calls: Vec<SlowCall> = turns
        .iter()
        .flat_map(|t| t.tools.iter().map(move |c| (t.index, c)))
        .filter_map(|(turn, c)| {
            Some(SlowCall {
                session_id: None,
                turn,
                name: c.name.clone(),
                tool_use_id: c.tool_use_id.clone(),
                started_at: c.started_at,
                duration_ms: c.duration_ms?,
                is_error: c.is_error == Some(true),
                sidechain: c.sidechain,
            })
        })
        .collect();
    sort_slowest(&mut calls, keep);
    calls
}

fn costliest_turns(turns: &[Turn], keep: usize, scale: Option<f64>) -> Vec<TurnCost> {
    let mut costly: Vec<&Turn> = turns.iter().filter(|t| t.cost_usd > 0.0).collect();
    costly.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then_with(|| a.index.cmp(&b.index))
    });
    costly
        .into_iter()
        .take(keep)
        .map(|t| TurnCost {
            index: t.index,
            prompt: t.prompt.clone(),
            started_at: t.started_at,
            cost_usd: round_usd(t.cost_usd * scale.unwrap_or(1.0)),
            tokens: t.tokens,
            api_requests: t.api_requests,
            tool_calls: t.tools.len() as u64,
            duration_ms: t.duration_ms(),
        })
        .collect()
}

/// Tool calls summed over every tool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ToolTotals {
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub errors: u64,
    /// `errors / calls` (0 without calls).
    pub error_rate: f64,
    /// Calls whose duration is known.
    pub timed_calls: u64,
    /// Their summed duration (sub-agents' and parallel calls each counted).
    pub total_ms: u64,
}

/// `cclive report tools`: tool use and where the time went, over the sessions that started in
/// the report's range and project. The `--json` shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolsReport {
    /// Always `tools`.
    pub report: &'static str,
    /// The zone the dates are read in.
    pub timezone: String,
    /// First local date included (by the session's start), if limited.
    pub since: Option<Date>,
    /// Last local date included, if limited.
    pub until: Option<Date>,
    /// The project filter, if any.
    pub project: Option<String>,
    /// Sessions counted.
    pub sessions: u64,
    /// Of which had recorded events (the others count their tool calls without durations, and
    /// no turns).
    pub sessions_with_events: u64,
    /// One row per tool, most used first.
    pub rows: Vec<ToolStats>,
    /// Every tool together.
    pub totals: ToolTotals,
    /// Where the time of every session went, summed.
    pub time: TimeSplit,
    /// The prompt cache over every session.
    pub cache: CacheEfficiency,
    /// The cost of the sessions that reported changed lines, over those lines; `None` when
    /// none did.
    pub cost_per_line: Option<CostPerLine>,
    /// The slowest calls of every session, slowest first.
    pub slowest_calls: Vec<SlowCall>,
}

impl ToolsReport {
    /// An empty report for `opts` (its zone, range and project are echoed).
    pub fn new(opts: &ReportOptions) -> ToolsReport {
        ToolsReport {
            report: "tools",
            timezone: opts.tz_name(),
            since: opts.since,
            until: opts.until,
            project: opts.project.clone(),
            sessions: 0,
            sessions_with_events: 0,
            rows: Vec::new(),
            totals: ToolTotals::default(),
            time: TimeSplit::default(),
            cache: CacheEfficiency::default(),
            cost_per_line: None,
            slowest_calls: Vec::new(),
        }
    }

    /// True when a session belongs in the report: it started inside the range, in the project.
    pub fn includes(opts: &ReportOptions, session: &SessionState) -> bool {
        opts.in_range(session.started_at)
            && opts.in_project(session.project_path.as_deref().or(session.cwd.as_deref()))
    }

    /// Adds one session's analytics.
    pub fn add(&mut self, a: &SessionAnalytics) {
        self.sessions += 1;
        self.sessions_with_events += u64::from(a.events > 0);
        for tool in &a.tools {
            match self.rows.iter_mut().find(|r| r.name == tool.name) {
                Some(row) => row.merge(tool),
                None => self.rows.push(tool.clone()),
            }
        }
        sort_by_use(&mut self.rows);
        let t = &mut self.totals;
        for tool in &a.tools {
            t.calls += tool.calls;
            t.errors += tool.errors;
            t.timed_calls += tool.timed_calls;
            t.total_ms += tool.total_ms;
        }
        t.error_rate = if t.calls > 0 {
            t.errors as f64 / t.calls as f64
        } else {
            0.0
        };
        self.time = self.time.plus(&a.time);
        let mut tokens = self.cache.tokens();
        tokens.add(&a.cache.tokens());
        self.cache = CacheEfficiency::of(&tokens);
        if let Some(c) = a.cost_per_line {
            let (added, removed, cost) = self.cost_per_line.map_or((0, 0, 0.0), |p| {
                (p.lines_added, p.lines_removed, p.cost_usd)
            });
            self.cost_per_line = CostPerLine::new(
                added + c.lines_added,
                removed + c.lines_removed,
                cost + c.cost_usd,
            );
        }
        self.slowest_calls
            .extend(a.slowest_calls.iter().map(|c| SlowCall {
                session_id: Some(a.session_id.clone()),
                ..c.clone()
            }));
        sort_slowest(&mut self.slowest_calls, REPORT_TOP);
    }
}

#[cfg(test)]
mod tests;
