//! One session's state, and how each [`Event`] changes it.
//!
//! This is the single place that decides status and metrics, whatever the source. Its rules:
//! - Status: `ACTIVE` from the start (a print-mode process's `idle` before its prompt is it
//!   starting, not a wait); the `result` decides `COMPLETED` or `FAILED`; a process
//!   that exits without a result is `COMPLETED` on exit code 0, `FAILED` otherwise; an interrupt
//!   (or death by signal) is `INTERRUPTED`. A finished session's status does not change again.
//! - Ending without a witness: a session that nothing vouches for any more (read from history,
//!   its process gone) ends at its last record, `INTERRUPTED` only when what was recorded last
//!   leaves a turn open (a prompt without an answer, a tool call or result the model never
//!   answered, an API error), `COMPLETED` otherwise: see [`SessionState::turn_open`].
//! - Exactness: Claude Code's own totals (the `result`) win over anything estimated here. Before
//!   they arrive, cost is estimated from the price table (`cost_source: "estimated"`).
//! - One API response counts once: usage reports are grouped by key and each group contributes
//!   the field-wise maximum of its reports (streaming snapshots only grow; duplicates are equal).
//!
//! It never reads a clock: every time comes from the event or from the caller.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::event::{Activity, Event, EventKind, Mode, Source, is_telemetry_only_usage_key};
use crate::fast_hash::{FastMap, FastSet};
use crate::ids::SessionId;
use crate::pricing::PriceTable;
use crate::prompts::PromptCount;
use crate::usage::Tokens;
use crate::usage_merge;

mod counted_form;
mod ledger_delta;
mod sized;

pub use ledger_delta::{LedgerMark, LedgerOrigin};

/// Characters of streamed output a token stands for, roughly (English text and code): only
/// for the live figure of a response still streaming, never for what is counted or priced.
const CHARS_PER_TOKEN: u64 = 4;

/// Where a session is in its life. Serialized upper case, as the seed's state file has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Claude is working.
    Active,
    /// An interactive session waits for the user.
    Idle,
    /// Ended normally.
    Completed,
    /// Ended with an error.
    Failed,
    /// Interrupted by the user or killed.
    Interrupted,
}

impl Status {
    /// `ACTIVE` or `IDLE`: the session is still running.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Active | Status::Idle)
    }

    /// The upper-case name used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Idle => "IDLE",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
            Status::Interrupted => "INTERRUPTED",
        }
    }

    /// Parses the upper-case name.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Active,
            Status::Idle,
            Status::Completed,
            Status::Failed,
            Status::Interrupted,
        ]
        .into_iter()
        .find(|status| status.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `total_cost_usd` is Claude Code's own figure or cclive's estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CostSource {
    /// Claude Code said it.
    Reported,
    /// Computed from tokens × the price table.
    #[default]
    Estimated,
}

/// Derived figures that tell how well a session used its money and time.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Efficiency {
    /// USD per turn.
    pub cost_per_turn: Option<f64>,
    /// Output tokens per minute of wall time.
    pub output_tokens_per_minute: Option<f64>,
    /// cache_read / (input + cache_read + cache_creation).
    pub cache_hit_ratio: Option<f64>,
    /// Share of wall time spent waiting for the API (0..=1); `None` while unknown (responses
    /// counted but no API time measured).
    pub api_time_share: Option<f64>,
}

/// Everything cclive knows about one session. Field names are the public metric names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// The session's id.
    pub session_id: SessionId,
    /// Claude Code's own id, when it differs or is not yet confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_session_id: Option<String>,
    /// Status.
    pub status: Status,
    /// Print or interactive.
    pub mode: Mode,
    /// What saw the session.
    pub source: Source,
    /// When it began.
    pub started_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// The command line.
    pub command: Option<String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Project the session is filed under.
    pub project_path: Option<String>,
    /// User label.
    pub session_type: Option<String>,
    /// Main model.
    pub model: Option<String>,
    /// Claude Code's version.
    pub claude_version: Option<String>,
    /// Preview of the last prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_prompt: Option<String>,
    /// A title (Claude Code's summary of the session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What a live session waits for (e.g. "permission prompt").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// The claude process, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Who ran it, when telemetry said (see [`EventKind::Origin`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The machine it ran on, when it is not this one (telemetry from another host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Context window used, in percent (from the status line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_used_percentage: Option<f64>,
    /// The official subscription limits, as last reported by Claude Code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<crate::statusline::RateLimits>,
    /// Total cost in USD: Claude Code's own where it reported one, else the estimate. Not a
    /// number (`null` in JSON) when the session has usage and none of it could be priced (every
    /// model unpriced): unknown, never $0. Read it with [`SessionState::cost_usd`].
    #[serde(deserialize_with = "crate::usage::null_as_nan")]
    pub total_cost_usd: f64,
    /// Reported or estimated.
    pub cost_source: CostSource,
    /// Models that had usage but no price (their cost is missing from an estimate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unpriced_models: Vec<String>,
    /// Wall time.
    pub duration_ms: u64,
    /// Time spent in API calls.
    pub duration_api_ms: u64,
    /// Turns, as Claude Code counts them (1 per prompt + 1 per tool result).
    pub num_turns: u64,
    /// Tokens by kind.
    pub tokens: Tokens,
    /// Output tokens of responses still streaming beyond what their usage says so far,
    /// estimated from the output streamed (about four characters a token) until each
    /// response's final usage arrives: live only, never in `tokens` nor in the cost. 0 when
    /// nothing streams.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub streaming_output_tokens: u64,
    /// API responses counted.
    pub api_requests: u64,
    /// Tool calls by tool name.
    pub tool_calls: BTreeMap<String, u64>,
    /// Tool calls that reported an error.
    pub tool_errors: u64,
    /// API retries.
    pub api_retries: u64,
    /// Lines of code added (Claude Code's count, at the end).
    #[serde(default)]
    pub lines_added: u64,
    /// Lines of code removed.
    #[serde(default)]
    pub lines_removed: u64,
    /// Efficiency figures.
    pub efficiency: Efficiency,
    /// claude's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Input lines that could not be read.
    #[serde(default)]
    pub input_errors: u64,
    /// Records of types cclive does not know.
    #[serde(default)]
    pub unknown_records: u64,
    /// Shared until changed: a copy of a session for the writer is a cheap clone, and the
    /// monitor's copy is copied only when it changes while that copy lives. Updates and
    /// snapshots carry none ([`SessionState::figures`]): they live on until the next change.
    #[serde(skip)]
    ledger: Arc<Ledger>,
    /// The keys of the ledger changed since a store read it or was handed it
    /// (`session/ledger_delta.rs`), beside the shared ledger so a copy of the ledger does not
    /// lose them; no part of what the session counts (a clone notes nothing).
    #[serde(skip)]
    ledger_changes: ledger_delta::Changes,
    /// True for a copy without the ledger ([`SessionState::figures`]): never to be stored.
    #[serde(skip)]
    figures_only: bool,
    /// Characters of output streamed so far per response still streaming: live only, not
    /// kept (a restarted monitor learns the final usage anyway). Beside the shared ledger, not
    /// in it: a delta comes dozens of times a second and must not copy a big ledger.
    #[serde(skip)]
    streaming: HashMap<String, u64>,
}

/// One API response's usage, as counted.
///
/// A stored ledger writes it as an array in this field order (`session/counted_form.rs`), and
/// serde's derived `Deserialize` reads an array by position: a new field goes last, with
/// `#[serde(default)]`, or stored ledgers stop reading.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
struct Counted {
    model: Option<String>,
    tokens: Tokens,
    /// Its priced cost, `None` when the model has no price.
    cost: Option<f64>,
    /// When it was first reported.
    #[serde(default)]
    first_at: Option<Timestamp>,
    /// True while every report came from a sub-agent.
    #[serde(default)]
    sidechain: bool,
    /// The API request id, when a report gave it (lets a restarted monitor link telemetry).
    #[serde(default)]
    request_id: Option<String>,
    /// Claude Code's own cost of this response (telemetry), which wins over `cost`.
    #[serde(default)]
    reported_cost: Option<f64>,
}

impl Counted {
    /// What this response adds to the session's cost: Claude Code's figure, else ours.
    fn cost_counted(&self) -> f64 {
        self.reported_cost.or(self.cost).unwrap_or(0.0)
    }
}

/// Money in picodollars (10⁻¹² USD). Every price per token is a whole number of them, so a
/// session's estimate summed in them is exact: the same whatever order its responses were
/// counted in — a monitor that followed the session, a catch-up in several steps, one import.
/// Summed as `f64`, the last bit depended on that order.
type Picodollars = i128;

/// `usd` to the nearest picodollar (a figure past `i128`'s range, no real cost, saturates).
#[allow(clippy::cast_possible_truncation)] // `as` saturates, and no cost comes near
fn picodollars(usd: f64) -> Picodollars {
    (usd * 1e12).round() as Picodollars
}

/// Working memory behind the public figures; not serialized. Running sums are kept up to date
/// per event, so applying an event costs the same however long the session is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct Ledger {
    /// Usage per response key.
    #[serde(deserialize_with = "sized::map")]
    usage: FastMap<String, Counted>,
    usage_sum: Tokens,
    /// The responses' costs summed ([`Counted::cost_counted`]), made from `exact_estimate`.
    estimate: f64,
    /// `estimate` in picodollars. Not stored: a ledger read back sums its responses again
    /// ([`Ledger::sum_costs`]).
    #[serde(skip)]
    exact_estimate: Picodollars,
    unpriced: BTreeSet<String>,
    #[serde(deserialize_with = "sized::set")]
    tool_uses: FastSet<String>,
    #[serde(deserialize_with = "sized::set")]
    tool_results: FastSet<String>,
    /// Prompts, each once whichever sources report it (stored as `prompts`, `prompt_ids`, …).
    #[serde(flatten)]
    prompts: PromptCount,
    main_tool_results: u64,
    /// A request announced without a message id yet (`system/status: requesting`).
    pending_request: Option<Timestamp>,
    open_requests: FastMap<String, Timestamp>,
    api_ms: u64,
    /// Responses whose API time is already in `api_ms` (two sources may time the same one).
    /// Ordered, so a stored ledger reads the same whatever the insertion order.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    timed: BTreeSet<String>,
    /// Responses counted whose cost Claude Code reported (telemetry).
    #[serde(skip_serializing_if = "is_zero")]
    reported_responses: u64,
    /// Retries counted, as `attempt:wait` (see [`EventKind::ApiRetry`]).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    retries: BTreeSet<String>,
    /// Telemetry's line-count data points already counted, and their sums.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    line_points: BTreeSet<String>,
    #[serde(skip_serializing_if = "is_zero")]
    telemetry_lines_added: u64,
    #[serde(skip_serializing_if = "is_zero")]
    telemetry_lines_removed: u64,
    interrupted: bool,
    /// The time of the newest event applied (the session's last record), liveness verdicts
    /// excepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_record_at: Option<Timestamp>,
    /// When the main-chain response the session's model was taken from was reported: an
    /// earlier one read later (another file, a later read) gives the model instead, so the
    /// model is the first response's whatever the read order. `None` when no response gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    model_from: Option<Timestamp>,
    /// What the newest records say of the current turn: true from a prompt (or busy) until
    /// its final answer (or idle).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    turn_open: bool,
    /// Claude Code's own totals, once reported.
    reported: Reported,
}

impl Ledger {
    /// Adds a response's cost (`usd`) to the estimate; a negative one takes it away.
    fn add_cost(&mut self, usd: f64) {
        self.exact_estimate = self.exact_estimate.saturating_add(picodollars(usd));
        self.estimate = self.exact_estimate as f64 / 1e12;
    }

    /// After the ledger was read back: the estimate summed again, exactly, from its responses.
    fn sum_costs(&mut self) {
        self.exact_estimate = self
            .usage
            .values()
            .map(|c| picodollars(c.cost_counted()))
            .fold(0, Picodollars::saturating_add);
        self.estimate = self.exact_estimate as f64 / 1e12;
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct Reported {
    cost: Option<f64>,
    duration_ms: Option<u64>,
    duration_api_ms: Option<u64>,
    num_turns: Option<u64>,
    tokens: Option<Tokens>,
}

impl Reported {
    /// True when what is reported already is newer than a `cost-state` reporting `cost` and
    /// `tokens`. Claude Code's totals only grow over a session's life (a resumed session's count
    /// its earlier runs too), and a resumed session's new transcript starts with a copy of
    /// earlier lines, an earlier `cost-state` among them: read after the last one (another
    /// file, read later or on another thread), that copy must not take the session's figures
    /// back to an earlier run's.
    fn outdates(&self, cost: f64, tokens: Option<&Tokens>) -> bool {
        let Some(reported) = self.cost else {
            return false;
        };
        let total = |t: Option<&Tokens>| t.map_or(0, Tokens::total);
        match cost.partial_cmp(&reported) {
            Some(Ordering::Less) => true,
            Some(Ordering::Equal) => total(tokens) < total(self.tokens.as_ref()),
            Some(Ordering::Greater) | None => false,
        }
    }
}

/// One usage report, as [`SessionState::count_usage`] takes it.
struct UsageReport<'a> {
    model: Option<&'a str>,
    tokens: &'a Tokens,
    request_id: Option<&'a str>,
    reported_cost: Option<f64>,
    at: Timestamp,
    sidechain: bool,
}

impl<'a> UsageReport<'a> {
    /// The report a usage event makes; `None` for any other event.
    fn of(event: &'a Event) -> Option<Self> {
        let EventKind::Usage {
            request_id,
            reported_cost_usd,
            model,
            tokens,
            sidechain,
            ..
        } = &event.kind
        else {
            return None;
        };
        Some(UsageReport {
            model: model.as_deref(),
            tokens,
            request_id: request_id.as_deref(),
            reported_cost: *reported_cost_usd,
            at: event.at,
            sidechain: *sidechain,
        })
    }

    /// What the one merge rule (`usage_merge`) reads of it.
    fn facts(&self) -> usage_merge::Report<'_> {
        usage_merge::Report {
            tokens: self.tokens,
            model: self.model,
            sidechain: self.sidechain,
            at: self.at,
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One API response's usage as a session counted it (see [`SessionState::usage_by_key`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CountedUsage<'a> {
    /// The API message id.
    pub key: &'a str,
    /// The model that answered.
    pub model: Option<&'a str>,
    /// The final tokens (field-wise maximum of every report).
    pub tokens: Tokens,
    /// When it was first reported.
    pub first_at: Timestamp,
    /// True while every report came from a sub-agent.
    pub sidechain: bool,
    /// The API request id, when a report gave it.
    pub request_id: Option<&'a str>,
}

/// What one `apply` changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Change {
    /// `(from, to)` when the status changed.
    pub status: Option<(Status, Status)>,
    /// True when any figure changed.
    pub metrics: bool,
    /// True when a usage report counted something new of its response (a count, its model,
    /// its time): what a per-response table holds of it changed, even when the session's
    /// figures did not (they are Claude Code's own totals, which count the response already).
    pub counted: bool,
}

impl SessionState {
    /// The session's cost in USD, `None` when it is unknown (usage, but no model of it priced).
    pub fn cost_usd(&self) -> Option<f64> {
        Some(self.total_cost_usd).filter(|c| c.is_finite())
    }

    /// A new `ACTIVE` session first seen at `at`.
    pub fn new(session_id: SessionId, at: Timestamp) -> Self {
        Self {
            session_id,
            claude_session_id: None,
            status: Status::Active,
            mode: Mode::default(),
            source: Source::Unknown,
            started_at: at,
            updated_at: at,
            ended_at: None,
            command: None,
            cwd: None,
            project_path: None,
            session_type: None,
            model: None,
            claude_version: None,
            last_prompt: None,
            title: None,
            waiting_for: None,
            pid: None,
            user: None,
            host: None,
            context_used_percentage: None,
            rate_limits: None,
            total_cost_usd: 0.0,
            cost_source: CostSource::Estimated,
            unpriced_models: Vec::new(),
            duration_ms: 0,
            duration_api_ms: 0,
            num_turns: 0,
            tokens: Tokens::default(),
            streaming_output_tokens: 0,
            api_requests: 0,
            tool_calls: BTreeMap::new(),
            tool_errors: 0,
            api_retries: 0,
            lines_added: 0,
            lines_removed: 0,
            efficiency: Efficiency::default(),
            exit_code: None,
            error: None,
            input_errors: 0,
            unknown_records: 0,
            ledger: Arc::default(),
            ledger_changes: ledger_delta::Changes::default(),
            figures_only: false,
            streaming: HashMap::new(),
        }
    }

    /// The session's figures without its working memory (the ledger, which a big session
    /// holds hundreds of KB of): what updates and snapshots carry. Held until the next change
    /// and later, a copy with the ledger would make the session copy its whole ledger at each
    /// change. Its ledger-reading methods ([`SessionState::usage_by_key`], …) see nothing.
    #[must_use]
    pub fn figures(&self) -> SessionState {
        let mut copy = self.clone();
        copy.ledger = Arc::default();
        copy.figures_only = true;
        copy
    }

    /// True for a copy made by [`SessionState::figures`]: its ledger is not the session's, and
    /// a store that wrote it would lose what the session counted.
    pub fn is_figures_only(&self) -> bool {
        self.figures_only
    }

    /// How many copies share this session's ledger (a change copies it while another does).
    #[cfg(test)]
    pub(crate) fn ledger_shares(&self) -> usize {
        Arc::strong_count(&self.ledger)
    }

    /// [`SessionState::figures`], with the counted usage of the responses `keys` names (those
    /// a store may not hold yet, for a reader that adds them to what it reads from the store).
    #[must_use]
    pub fn figures_with_usage<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> SessionState {
        let mut ledger = Ledger::default();
        for key in keys {
            if let Some((key, counted)) = self.ledger.usage.get_key_value(key) {
                ledger.usage.insert(key.clone(), counted.clone());
            }
        }
        let mut copy = self.figures();
        copy.ledger = Arc::new(ledger);
        copy
    }

    /// The working memory behind the figures (usage per response, tool and prompt ids, …) as
    /// JSON, for a store to keep beside the state: a session read back without it would start
    /// counting from nothing.
    pub fn ledger_json(&self) -> serde_json::Value {
        serde_json::to_value(&*self.ledger).unwrap_or(serde_json::Value::Null)
    }

    /// [`SessionState::ledger_json`] as JSON text, written straight from the ledger (a store
    /// keeps the text; going through a `Value` doubled the cost of storing a big session).
    /// `None` if it cannot be serialized.
    pub fn ledger_json_text(&self) -> Option<String> {
        serde_json::to_string(&*self.ledger).ok()
    }

    /// Restores what [`SessionState::ledger_json`] gave, so folding can go on after a restart.
    pub fn restore_ledger(&mut self, ledger: serde_json::Value) -> Result<(), serde_json::Error> {
        let mut ledger: Ledger = serde_json::from_value(ledger)?;
        ledger.sum_costs();
        self.ledger = Arc::new(ledger);
        // What a log noted was of the ledger replaced.
        self.ledger_changes = ledger_delta::Changes::default();
        Ok(())
    }

    /// Restores what [`SessionState::ledger_json_text`] gave, straight from the text (a big
    /// session's ledger read through a `Value` cost an incremental import a sixth of its time).
    pub fn restore_ledger_text(&mut self, ledger: &str) -> Result<(), serde_json::Error> {
        let mut ledger: Ledger = serde_json::from_str(ledger)?;
        ledger.sum_costs();
        self.ledger = Arc::new(ledger);
        // What a log noted was of the ledger replaced.
        self.ledger_changes = ledger_delta::Changes::default();
        Ok(())
    }

    /// The deduplicated usage of every API response counted so far.
    pub fn usage_by_key(&self) -> impl ExactSizeIterator<Item = CountedUsage<'_>> {
        self.ledger.usage.iter().map(|(k, c)| CountedUsage {
            key: k,
            model: c.model.as_deref(),
            tokens: c.tokens,
            first_at: c.first_at.unwrap_or(self.started_at),
            sidechain: c.sidechain,
            request_id: c.request_id.as_deref(),
        })
    }

    /// The counted usage of one response, by key.
    pub fn counted_usage(&self, key: &str) -> Option<CountedUsage<'_>> {
        let (k, c) = self.ledger.usage.get_key_value(key)?;
        Some(CountedUsage {
            key: k,
            model: c.model.as_deref(),
            tokens: c.tokens,
            first_at: c.first_at.unwrap_or(self.started_at),
            sidechain: c.sidechain,
            request_id: c.request_id.as_deref(),
        })
    }

    /// True when `event` only repeats what this session already holds: another source's (or a
    /// catch-up's) report of its start, of a tool call or result already counted, of an end
    /// after it ended, of totals older than those reported, or of a response's usage that
    /// counts nothing new (Claude Code 2.1 writes a response's final usage on the line of each
    /// of its content blocks). Applying
    /// it changes nothing, and the event log keeps it once: the first report is the one kept.
    /// Every source announces a session with `SessionStarted`, and only that sets the source,
    /// so a known source means a start was already applied.
    pub fn repeats(&self, event: &Event) -> bool {
        match &event.kind {
            // A replay plays a recorded log again, re-stamped in order and unlinked from
            // request ids: a report that was news when recorded may count nothing new in it,
            // and the replay keeps it all the same (it shows the log as it was).
            EventKind::Usage { key, .. } => {
                self.source != Source::Replay
                    && UsageReport::of(event)
                        .is_some_and(|report| self.counted_already(key, &report))
            }
            EventKind::SessionStarted { .. } => self.source != Source::Unknown,
            EventKind::SessionEnded { .. } => !self.status.is_live(),
            EventKind::CostState { .. } => self.outdated(event),
            EventKind::ToolUse { tool_use_id, .. } => self.ledger.tool_uses.contains(tool_use_id),
            EventKind::ToolResult { tool_use_id, .. } => {
                self.ledger.tool_results.contains(tool_use_id)
            }
            _ => false,
        }
    }

    /// True for a `cost-state` older than the totals Claude Code reported already: an earlier
    /// run's, copied into a resumed session's transcript (see [`Reported::outdates`]). It
    /// changes nothing: not the figures, not the end, not the last record's time.
    fn outdated(&self, event: &Event) -> bool {
        match &event.kind {
            EventKind::CostState {
                total_cost_usd,
                tokens,
                ..
            } => self
                .ledger
                .reported
                .outdates(*total_cost_usd, tokens.as_ref()),
            _ => false,
        }
    }

    /// The session's project path ([`crate::report::project_of`]: `project_path`, else `cwd`).
    pub fn project(&self) -> Option<&str> {
        crate::report::project_of(self.project_path.as_deref(), self.cwd.as_deref())
    }

    /// When the session's last record was written (its last event's time, whatever the source):
    /// where a session that nothing vouches for any more ends.
    pub fn last_record_at(&self) -> Timestamp {
        self.ledger
            .last_record_at
            .unwrap_or(self.updated_at)
            .max(self.started_at)
    }

    /// True when the newest records leave a turn open: a prompt not yet answered, a tool call or
    /// a tool result the model has not answered yet, an API error that ended the turn's
    /// requests; false once the turn's final answer (or an idle report) came. A session whose
    /// claude is gone mid-turn was cut off (`INTERRUPTED`); between turns it just ended.
    pub fn turn_open(&self) -> bool {
        self.ledger.turn_open
    }

    /// Applies one event. `prices` prices usage until Claude Code reports its own cost.
    pub fn apply(&mut self, event: &Event, prices: &PriceTable) -> Change {
        if self.outdated(event) {
            return Change::default();
        }
        let mut counted = false;
        let before_status = self.status;
        let before = self.public_figures();
        let at = event.at;
        self.note_turn(event);
        match &event.kind {
            EventKind::SessionStarted {
                mode,
                command,
                cwd,
                project_path,
                session_type,
                source,
            } => {
                // The first source to announce the session, a wrapper (it ran claude) and the
                // registry (Claude Code's own entrypoint) know the mode; a hook or a 1.0 line
                // cannot tell, and must not turn a print session interactive.
                // Telemetry cannot tell either, and names only what no local source saw: any
                // local source replaces it.
                let first = matches!(self.source, Source::Unknown | Source::Otel);
                if first || matches!(source, Source::Wrapper | Source::Registry) {
                    self.mode = *mode;
                }
                if first || *source == Source::Wrapper {
                    if self.source == Source::Otel && *source != Source::Otel {
                        self.drop_telemetry_only_usage();
                    }
                    self.source.clone_from(source);
                }
                fill(&mut self.command, command.as_ref());
                fill(&mut self.cwd, cwd.as_ref());
                fill(&mut self.project_path, project_path.as_ref());
                fill(&mut self.session_type, session_type.as_ref());
                if at < self.started_at {
                    self.started_at = at;
                }
            }
            EventKind::Init {
                claude_session_id,
                model,
                cwd,
                claude_version,
            } => {
                if claude_session_id != self.session_id.as_str() && !claude_session_id.is_empty() {
                    self.claude_session_id = Some(claude_session_id.clone());
                }
                if model.is_some() {
                    self.model.clone_from(model);
                }
                fill(&mut self.cwd, cwd.as_ref());
                fill(&mut self.claude_version, claude_version.as_ref());
            }
            EventKind::PromptSubmitted { id, preview } => {
                let (ledger, log) = self.ledger_noting();
                let new = ledger.prompts.record(id.as_deref(), preview.as_deref());
                if let Some(id) = id {
                    log.prompt_id(id);
                }
                if new {
                    if preview.is_some() {
                        self.last_prompt.clone_from(preview);
                    }
                    // A new prompt is new work: a waiting session is busy again, and a session
                    // that ended (then was resumed under the same id) is live again.
                    if self.status == Status::Idle
                        || (!self.status.is_live() && self.ended_at.is_some_and(|e| at > e))
                    {
                        self.revive(Status::Active);
                    }
                    self.waiting_for = None;
                } else if self.last_prompt.is_none() && preview.is_some() {
                    // Another report of a prompt counted already may still bring its text
                    // (telemetry redacts prompts; the transcript does not).
                    self.last_prompt.clone_from(preview);
                }
            }
            EventKind::ApiRequest { message_id } => match message_id {
                Some(id) => {
                    let started = self.ledger_mut().pending_request.take().unwrap_or(at);
                    self.ledger_mut()
                        .open_requests
                        .entry(id.clone())
                        .or_insert(started);
                }
                None => self.ledger_mut().pending_request = Some(at),
            },
            EventKind::Usage {
                key,
                model,
                sidechain,
                is_final,
                ..
            } => {
                if *is_final {
                    self.streaming.remove(key);
                }
                // A telemetry report that names no request cannot be matched with the local
                // sources' reports of the same response: it counts only where none exists.
                let unmatched = is_telemetry_only_usage_key(key) && self.source != Source::Otel;
                if !unmatched && let Some(report) = UsageReport::of(event) {
                    counted = self.count_usage(key, &report, prices);
                }
                let earlier = self.ledger.model_from.is_some_and(|from| at < from);
                if !sidechain && model.is_some() && (self.model.is_none() || earlier) {
                    self.model.clone_from(model);
                    self.ledger_mut().model_from = Some(at);
                }
            }
            EventKind::OutputStreamed { message_id, chars } => {
                // A response already done streams no more (a late or repeated line).
                if self.status.is_live() && !self.ledger.timed.contains(message_id) {
                    let streamed = self.streaming.entry(message_id.clone()).or_default();
                    *streamed = streamed.saturating_add(*chars);
                }
            }
            EventKind::ApiResponseDone {
                message_id,
                duration_ms,
            } => {
                self.streaming.remove(message_id);
                let (ledger, log) = self.ledger_noting();
                let started = ledger.open_requests.remove(message_id);
                let measured = started.map(|s| millis_between(s, at));
                // The wrapper times a response from its stream, telemetry reports its own
                // measurement of the same one: the first to arrive counts.
                if ledger.timed.insert(message_id.clone()) {
                    log.timed(message_id);
                    ledger.api_ms += duration_ms.or(measured).unwrap_or(0);
                }
            }
            EventKind::ToolUse {
                tool_use_id,
                name,
                sidechain,
            } => {
                let (ledger, log) = self.ledger_noting();
                if ledger.tool_uses.insert(tool_use_id.clone()) {
                    log.tool_use(tool_use_id);
                    *self.tool_calls.entry(name.clone()).or_insert(0) += 1;
                    // The model works on (an answer's text may have looked final before its
                    // tool call was written).
                    if !sidechain && self.status == Status::Idle && self.waiting_for.is_none() {
                        self.status = Status::Active;
                    }
                }
            }
            EventKind::ToolResult {
                tool_use_id,
                is_error,
                sidechain,
                ..
            } => {
                let (ledger, log) = self.ledger_noting();
                if ledger.tool_results.insert(tool_use_id.clone()) {
                    log.tool_result(tool_use_id);
                    if *is_error {
                        self.tool_errors += 1;
                    }
                    if !sidechain {
                        self.ledger_mut().main_tool_results += 1;
                    }
                }
            }
            EventKind::ApiRetry {
                attempt,
                retry_in_ms,
                ..
            } => {
                // The wrapper's stream and the transcript report each retry: once.
                let new = retry_in_ms.is_none_or(|wait| {
                    self.ledger_mut()
                        .retries
                        .insert(format!("{attempt}:{wait}"))
                });
                if new {
                    self.api_retries += 1;
                }
            }
            EventKind::Result {
                is_error,
                total_cost_usd,
                duration_ms,
                duration_api_ms,
                num_turns,
                tokens,
                model,
                error,
            } => {
                let r = &mut self.ledger_mut().reported;
                r.cost = total_cost_usd.or(r.cost);
                r.duration_ms = duration_ms.or(r.duration_ms);
                r.duration_api_ms = duration_api_ms.or(r.duration_api_ms);
                r.num_turns = num_turns.or(r.num_turns);
                r.tokens = tokens.or(r.tokens);
                if model.is_some() {
                    self.model.clone_from(model);
                }
                if *is_error {
                    self.error.clone_from(error);
                }
                let status = if *is_error {
                    Status::Failed
                } else {
                    Status::Completed
                };
                if status == Status::Failed && self.status == Status::Completed {
                    // Another source ended it first (the transcript's cost-state is written on
                    // every exit, a failed one too): the result says how it really went.
                    self.status = Status::Failed;
                } else {
                    self.finish(status, at);
                }
            }
            EventKind::Activity {
                state,
                waiting_for,
                pid,
            } => {
                if pid.is_some() {
                    self.pid = *pid;
                }
                self.waiting_for = if *state == Activity::Waiting {
                    Some(waiting_for.clone().unwrap_or_else(|| "user".to_owned()))
                } else {
                    None
                };
                let want = if *state == Activity::Busy {
                    Status::Active
                } else {
                    Status::Idle
                };
                // `claude -p` says `idle` while it starts, before it takes the prompt it was
                // given: no wait for anyone (a monitor that looked then showed a session
                // that had not begun as idle).
                let starting = self.mode == Mode::Print
                    && *state == Activity::Idle
                    && self.ledger.prompts.count() == 0;
                if starting {
                    // Neither a wait nor a change of status.
                } else if self.status.is_live() {
                    self.status = want;
                } else if self.ended_at.is_some_and(|e| at > e)
                    && self.ledger.reported.cost.is_none()
                {
                    // A live process says so after we thought it ended (e.g. a lost exit signal).
                    self.revive(want);
                }
            }
            EventKind::TurnEnded { .. } => {
                if self.status == Status::Active && self.mode == Mode::Interactive {
                    self.status = Status::Idle;
                }
            }
            EventKind::CostState {
                total_cost_usd,
                duration_api_ms,
                duration_ms,
                lines_added,
                lines_removed,
                tokens,
                model,
            } => {
                let r = &mut self.ledger_mut().reported;
                r.cost = Some(*total_cost_usd);
                r.duration_api_ms = duration_api_ms.or(r.duration_api_ms);
                r.duration_ms = duration_ms.filter(|d| *d > 0).or(r.duration_ms);
                r.tokens = tokens.or(r.tokens);
                self.lines_added = *lines_added;
                self.lines_removed = *lines_removed;
                if model.is_some() && self.model.is_none() {
                    self.model.clone_from(model);
                }
                // Claude Code writes it when the session ends.
                self.finish(Status::Completed, at);
            }
            EventKind::StatusLine {
                total_cost_usd,
                duration_ms: _,
                duration_api_ms,
                lines_added,
                lines_removed,
                context_used_percentage,
                model,
                rate_limits,
            } => {
                // Claude Code's own running figures; a later cost-state (the end) replaces them.
                let r = &mut self.ledger_mut().reported;
                if r.cost.is_none_or(|c| *total_cost_usd >= c) {
                    r.cost = Some(*total_cost_usd);
                    r.duration_api_ms = duration_api_ms.or(r.duration_api_ms);
                }
                self.lines_added = self.lines_added.max(*lines_added);
                self.lines_removed = self.lines_removed.max(*lines_removed);
                if context_used_percentage.is_some() {
                    self.context_used_percentage = *context_used_percentage;
                }
                if model.is_some() && self.model.is_none() {
                    self.model.clone_from(model);
                }
                if let Some(limits) = rate_limits {
                    let mut limits = limits.clone();
                    limits.reported_at.get_or_insert(at);
                    self.rate_limits = Some(limits);
                }
            }
            EventKind::Origin { user, host } => {
                if user.is_some() {
                    self.user.clone_from(user);
                }
                if host.is_some() {
                    self.host.clone_from(host);
                }
            }
            EventKind::LinesChanged {
                point,
                added,
                removed,
            } => {
                let (ledger, log) = self.ledger_noting();
                if ledger.line_points.insert(point.clone()) {
                    log.line_point(point);
                    ledger.telemetry_lines_added += added;
                    ledger.telemetry_lines_removed += removed;
                    let (added, removed) =
                        (ledger.telemetry_lines_added, ledger.telemetry_lines_removed);
                    // Claude Code's other counts (status line, cost-state) are totals of the
                    // same lines: the larger wins, never the sum.
                    self.lines_added = self.lines_added.max(added);
                    self.lines_removed = self.lines_removed.max(removed);
                }
            }
            EventKind::Title { title } => self.title = Some(title.clone()),
            EventKind::SessionEnded { .. } => self.finish(Status::Completed, at),
            EventKind::ProcessGone { .. } => {
                // Mid-turn means the work was cut off; between turns the user just left.
                let status = if self.ledger.turn_open {
                    Status::Interrupted
                } else {
                    Status::Completed
                };
                self.finish(status, at);
            }
            EventKind::Interrupted { .. } => {
                self.ledger_mut().interrupted = true;
            }
            EventKind::ProcessExited { code, signal } => {
                self.exit_code = *code;
                let status = if self.ledger.interrupted || signal.is_some() {
                    Status::Interrupted
                } else if *code == Some(0) {
                    Status::Completed
                } else {
                    if self.error.is_none() {
                        self.error = Some(match code {
                            Some(code) => {
                                format!("claude exited with code {code} without a result")
                            }
                            None => "claude ended without a result".to_owned(),
                        });
                    }
                    Status::Failed
                };
                self.finish(status, at);
            }
            EventKind::InputError { .. } => self.input_errors += 1,
            EventKind::UnknownRecord { .. } => self.unknown_records += 1,
            EventKind::Other => {}
        }
        if self.status.is_live() && self.ledger.interrupted {
            // Ctrl-C reached claude too; it is on its way out.
            self.status = Status::Interrupted;
            self.ended_at.get_or_insert(at);
        }
        if !self.status.is_live() {
            self.waiting_for = None;
            self.streaming.clear();
        }
        // A stream cut off (an API error mid-reply, then a retry under a new message id) never
        // gets its final usage: what ends a turn or retries ends every stream still open.
        if matches!(
            event.kind,
            EventKind::PromptSubmitted { .. }
                | EventKind::TurnEnded { .. }
                | EventKind::Result { .. }
                | EventKind::ApiRetry { .. }
        ) {
            self.streaming.clear();
        }
        self.streaming_output_tokens = self.streaming_estimate();
        self.recompute(at);
        let status = (before_status != self.status).then_some((before_status, self.status));
        let metrics = before != self.public_figures();
        if status.is_some() || metrics {
            self.updated_at = self.updated_at.max(at);
        }
        Change {
            status,
            metrics,
            counted,
        }
    }

    /// Moves live durations forward to `now`. Returns true when a figure changed.
    pub fn tick(&mut self, now: Timestamp) -> bool {
        if !self.status.is_live() {
            return false;
        }
        let before = (self.duration_ms, self.duration_api_ms);
        self.recompute(now);
        before != (self.duration_ms, self.duration_api_ms)
    }

    /// Counts one usage report of the response `key`: its tokens become the field-wise maximum
    /// of its reports, and the running sums move by the difference. False when the report
    /// counts nothing new (see [`Change::counted`]).
    fn count_usage(&mut self, key: &str, report: &UsageReport<'_>, prices: &PriceTable) -> bool {
        if self.counted_already(key, report) {
            return false; // a duplicate report: nothing to count, nothing to copy
        }
        let facts = report.facts();
        let session_model = self.model.clone();
        let (ledger, log) = self.ledger_noting();
        log.usage(key);
        let entry = ledger
            .usage
            .entry(key.to_owned())
            .or_insert_with(|| Counted {
                sidechain: report.sidechain,
                ..Counted::default()
            });
        let before = entry.tokens;
        let changed = (usage_merge::Kept {
            tokens: &mut entry.tokens,
            model: &mut entry.model,
            sidechain: &mut entry.sidechain,
            first_at: entry.first_at.get_or_insert(report.at),
        })
        .merge(&facts);
        if entry.request_id.is_none() {
            entry.request_id = report.request_id.map(str::to_owned);
        }
        let newly_reported = entry.reported_cost.is_none() && report.reported_cost.is_some();
        if !changed.tokens && !changed.model && !newly_reported {
            // Something else became known (an earlier time, the request id, a main-chain
            // report of a sub-agent's response).
            return true;
        }
        ledger.usage_sum.sub(&before);
        ledger.usage_sum.add(&entry.tokens);
        let cost_before = entry.cost_counted();
        if newly_reported {
            entry.reported_cost = report.reported_cost;
            ledger.reported_responses += 1;
        }
        let merged = entry.tokens;
        let priced_as = entry
            .model
            .as_deref()
            .or(session_model.as_deref())
            .unwrap_or("unknown");
        entry.cost = prices.cost(priced_as, &merged);
        let cost_now = entry.cost_counted();
        let unpriced =
            (entry.cost.is_none() && entry.reported_cost.is_none() && merged.total() > 0)
                .then(|| priced_as.to_owned());
        ledger.add_cost(-cost_before);
        ledger.add_cost(cost_now);
        if let Some(model) = unpriced {
            ledger.unpriced.insert(model);
        }
        true
    }

    /// Moves the response counted under `from` to `into` (the key every other source uses),
    /// merging it with what `into` already counted: telemetry reported a response under its
    /// request id before a source that knows both ids linked them. Returns true when `from`
    /// was counted here.
    pub fn merge_usage_key(&mut self, from: &str, into: &str, prices: &PriceTable) -> bool {
        if from == into || !self.ledger.usage.contains_key(from) {
            return false;
        }
        let (ledger, log) = self.ledger_noting();
        let Some(moved) = ledger.usage.remove(from) else {
            return false;
        };
        log.usage(from);
        ledger.usage_sum.sub(&moved.tokens);
        ledger.add_cost(-moved.cost_counted());
        if moved.reported_cost.is_some() {
            ledger.reported_responses -= 1;
        }
        if ledger.timed.remove(from) {
            ledger.timed.insert(into.to_owned());
            log.timed(from);
            log.timed(into);
        }
        let report = UsageReport {
            model: moved.model.as_deref(),
            tokens: &moved.tokens,
            request_id: moved.request_id.as_deref(),
            reported_cost: moved.reported_cost,
            at: moved.first_at.unwrap_or(self.started_at),
            sidechain: moved.sidechain,
        };
        // The figures follow at the next `apply` (the event that linked the two ids).
        self.count_usage(into, &report, prices);
        true
    }

    /// Forgets the usage of telemetry reports that named no request (see
    /// [`is_telemetry_only_usage_key`]): a local source now reports the same responses.
    fn drop_telemetry_only_usage(&mut self) {
        if !self
            .ledger
            .usage
            .keys()
            .any(|k| is_telemetry_only_usage_key(k))
        {
            return;
        }
        let (ledger, log) = self.ledger_noting();
        let keys: Vec<String> = ledger
            .usage
            .keys()
            .filter(|k| is_telemetry_only_usage_key(k))
            .cloned()
            .collect();
        for key in keys {
            if let Some(dropped) = ledger.usage.remove(&key) {
                log.usage(&key);
                log.timed(&key);
                ledger.usage_sum.sub(&dropped.tokens);
                ledger.add_cost(-dropped.cost_counted());
                if dropped.reported_cost.is_some() {
                    ledger.reported_responses -= 1;
                }
                ledger.timed.remove(&key);
            }
        }
    }

    /// The ledger, to change: copied first while a copy of the session for a store shares it,
    /// and noted as changed (`session/ledger_delta.rs`).
    fn ledger_mut(&mut self) -> &mut Ledger {
        self.ledger_noting().0
    }

    /// [`SessionState::ledger_mut`], with the change log to note the keys changed in.
    fn ledger_noting(&mut self) -> (&mut Ledger, &mut ledger_delta::Changes) {
        self.ledger_changes.touched();
        (Arc::make_mut(&mut self.ledger), &mut self.ledger_changes)
    }

    /// Keeps the last record's time and whether the newest records leave a turn open (see
    /// [`SessionState::turn_open`]). Only the newest records decide: a resumed session's replay
    /// of older lines, read later from another file, does not reopen a finished turn.
    fn note_turn(&mut self, event: &Event) {
        let at = event.at;
        let open = match &event.kind {
            // A verdict on liveness is no record of the session, nor is a transient event
            // (never stored; dozens a second: it must not copy a shared ledger either).
            EventKind::ProcessGone { .. } => return,
            kind if kind.is_transient() => return,
            EventKind::PromptSubmitted { .. } => Some(true),
            EventKind::ToolUse { sidechain, .. } | EventKind::ToolResult { sidechain, .. } => {
                (!sidechain).then_some(true)
            }
            EventKind::Activity { state, .. } => match state {
                Activity::Busy => Some(true),
                Activity::Idle => Some(false),
                Activity::Waiting => None,
            },
            EventKind::TurnEnded { .. }
            | EventKind::Result { .. }
            | EventKind::CostState { .. }
            | EventKind::SessionEnded { .. } => Some(false),
            _ => None,
        };
        if self.ledger.last_record_at.is_some_and(|last| at < last)
            || (self.ledger.last_record_at == Some(at)
                && open.is_none_or(|o| o == self.ledger.turn_open))
        {
            return;
        }
        let ledger = self.ledger_mut();
        ledger.last_record_at = Some(at);
        if let Some(open) = open {
            ledger.turn_open = open;
        }
    }

    /// Sets a terminal status once; a finished session keeps its first ending.
    fn finish(&mut self, status: Status, at: Timestamp) {
        if self.status.is_live() {
            self.status = if self.ledger.interrupted {
                Status::Interrupted
            } else {
                status
            };
            self.ended_at = Some(at);
        }
    }

    /// True when the response `key` is counted here and `report` would change nothing of it:
    /// no token count grows, no model, request id or reported cost becomes known, it is not
    /// a main-chain report of a sub-agent's response, and it is not earlier.
    fn counted_already(&self, key: &str, report: &UsageReport<'_>) -> bool {
        self.ledger.usage.get(key).is_some_and(|c| {
            c.first_at.is_some_and(|first_at| {
                usage_merge::is_duplicate(
                    &c.tokens,
                    c.model.as_deref(),
                    c.sidechain,
                    first_at,
                    &report.facts(),
                )
            }) && (c.request_id.is_some() || report.request_id.is_none())
                && (c.reported_cost.is_some() || report.reported_cost.is_none())
        })
    }

    /// Makes a finished session live again.
    fn revive(&mut self, status: Status) {
        self.status = status;
        self.ended_at = None;
        self.ledger_mut().interrupted = false;
        self.exit_code = None;
    }

    fn recompute(&mut self, now: Timestamp) {
        let reported = &self.ledger.reported;
        self.api_requests = self.ledger.usage.len() as u64;
        self.tokens = reported.tokens.unwrap_or(self.ledger.usage_sum);
        let usage = &self.ledger.usage;
        // Every response priced by Claude Code itself (telemetry): their sum is its figure.
        let all_reported =
            !usage.is_empty() && self.ledger.reported_responses == usage.len() as u64;
        if let Some(cost) = reported.cost {
            self.total_cost_usd = cost;
            self.cost_source = CostSource::Reported;
            self.unpriced_models.clear();
        } else if all_reported {
            self.total_cost_usd = self.ledger.estimate.max(0.0);
            self.cost_source = CostSource::Reported;
            self.unpriced_models.clear();
        } else {
            // Usage, but nothing of it priced: the cost is unknown, not zero.
            let unknown = self.ledger.estimate <= 0.0 && !self.ledger.unpriced.is_empty();
            self.total_cost_usd = if unknown {
                f64::NAN
            } else {
                self.ledger.estimate.max(0.0)
            };
            self.cost_source = CostSource::Estimated;
            if self.unpriced_models.len() != self.ledger.unpriced.len() {
                self.unpriced_models = self.ledger.unpriced.iter().cloned().collect();
            }
        }

        let end = self.ended_at.unwrap_or(now).max(self.started_at);
        self.duration_ms = reported
            .duration_ms
            .unwrap_or_else(|| millis_between(self.started_at, end));
        let open_ms: u64 = if self.status.is_live() {
            self.ledger
                .open_requests
                .values()
                .map(|s| millis_between(*s, now))
                .sum()
        } else {
            0
        };
        self.duration_api_ms = reported
            .duration_api_ms
            .unwrap_or(self.ledger.api_ms + open_ms);
        let prompts = self.ledger.prompts.count();
        let live_turns = if prompts + self.ledger.main_tool_results == 0 {
            0
        } else {
            prompts.max(1) + self.ledger.main_tool_results
        };
        self.num_turns = reported.num_turns.unwrap_or(live_turns);
        self.efficiency = self.compute_efficiency();
    }

    fn compute_efficiency(&self) -> Efficiency {
        let t = &self.tokens;
        let prompt_side = t
            .input
            .saturating_add(t.cache_read)
            .saturating_add(t.cache_creation);
        Efficiency {
            cost_per_turn: (self.num_turns > 0)
                .then(|| self.total_cost_usd / self.num_turns as f64),
            output_tokens_per_minute: (self.duration_ms > 0)
                .then(|| t.output as f64 * 60_000.0 / self.duration_ms as f64),
            cache_hit_ratio: (prompt_side > 0).then(|| t.cache_read as f64 / prompt_side as f64),
            // Responses but no API time measured (a transcript without timings): the share is
            // unknown ("–"), not 0 %.
            api_time_share: (self.duration_ms > 0
                && (self.duration_api_ms > 0 || self.api_requests == 0))
                .then(|| (self.duration_api_ms as f64 / self.duration_ms as f64).min(1.0)),
        }
    }

    /// Output tokens streamed beyond what each streaming response's usage says so far.
    fn streaming_estimate(&self) -> u64 {
        self.streaming
            .iter()
            .map(|(key, chars)| {
                let estimate = chars.div_ceil(CHARS_PER_TOKEN);
                let counted = self.ledger.usage.get(key).map_or(0, |c| c.tokens.output);
                estimate.saturating_sub(counted)
            })
            .sum()
    }

    /// The figures a change notification is about (excludes `updated_at`, durations that move
    /// with the clock, and the ledger). Taken before and after every event: the tool counts
    /// stand in by their number and total, not a copy of the map — a count only ever grows by
    /// one (`ToolCall`), so the total moves exactly when the map does.
    fn public_figures(&self) -> impl PartialEq + use<> {
        (
            (
                self.total_cost_usd.to_bits(),
                (self.num_turns, self.api_requests),
                (self.tokens, self.streaming_output_tokens),
                (
                    self.tool_calls.len(),
                    // Wrapping: restored counts can be anything; a step of one still shows.
                    self.tool_calls
                        .values()
                        .fold(0_u64, |t, n| t.wrapping_add(*n)),
                ),
            ),
            (
                self.tool_errors,
                self.api_retries,
                self.duration_api_ms,
                self.model.clone(),
            ),
            (
                self.error.clone(),
                self.last_prompt.clone(),
                self.title.clone(),
                self.waiting_for.clone(),
            ),
            (
                self.input_errors,
                self.unknown_records,
                self.exit_code,
                self.pid,
            ),
            (
                self.context_used_percentage.map(f64::to_bits),
                self.rate_limits.clone(),
                (self.lines_added, self.lines_removed),
                (self.user.clone(), self.host.clone()),
            ),
        )
    }
}

fn fill(slot: &mut Option<String>, value: Option<&String>) {
    if slot.is_none() {
        *slot = value.cloned();
    }
}

/// Whole milliseconds from `a` to `b`, 0 when `b` is earlier.
pub fn millis_between(a: Timestamp, b: Timestamp) -> u64 {
    let ms = b.as_millisecond() - a.as_millisecond();
    u64::try_from(ms).unwrap_or(0)
}

#[cfg(test)]
mod tests;
