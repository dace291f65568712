//! What changed of a session's ledger since a store last had it: written as a short delta,
//! applied back exactly.
//!
//! A store writes a session whenever it changes. Written whole, a long session's ledger (every
//! response it counted, every tool id: 383 KB for a session of 1,500 responses) was encoded and
//! written again for each new line, so a change cost what the session held, not what changed.
//! Instead a session notes the keys of its long collections that change ([`Changes`]), and a
//! store writes the delta they give: the responses added or changed, the ids (and telemetry's
//! line-count points) added or gone, and the ledger's small fields whole. Applied to the stored
//! ledger, the delta gives the ledger back exactly (a property test below).
//!
//! What a log notes is relative to a point a store knows:
//! - a read: a store that read the session asks it to note what changes from there
//!   ([`SessionState::track_ledger_changes`], with where it was read: [`LedgerOrigin`]);
//! - a hand-over: a monitor hands its writer a copy of the session with the log so far
//!   ([`SessionState::hand_over`]) and goes on with a new log that follows it ([`LedgerMark`]).
//!   A store that wrote the copy knows the mark it wrote, so the next copy's log, following
//!   that mark, holds exactly what changed since.
//!
//! Nothing here keeps a copy of a ledger to compare with later: the monitor's ledger is shared
//! only while a copy for the writer lives, so a change costs what changed, not a copy of the
//! session (it was 22 % of a line's cost for a session of 1,459 responses, and the comparison
//! with the copy 14 %).
//!
//! It owns the delta's form and the log only; it never decides when a store writes a delta or
//! the whole ledger (`cclive-store`'s journal does), and never changes what a ledger counts.

use std::collections::{BTreeSet, HashSet};
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::{Counted, Ledger, Reported, SessionState};
use crate::fast_hash::{FastMap, FastSet};
use crate::prompts::PromptsWithoutIds;
use crate::usage::Tokens;

/// What a store said of the stored ledger a session was read from ([`SessionState::
/// track_ledger_changes`]); the session keeps it for the store and never reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerOrigin {
    /// Which store read it, in the store's own terms (a delta is only for that store).
    pub store: u64,
    /// The store's version of the ledger read.
    pub seq: i64,
    /// Deltas stored since its whole text, and their bytes.
    pub deltas: u32,
    /// Bytes of those deltas.
    pub delta_bytes: usize,
    /// Bytes of its whole text.
    pub whole_bytes: usize,
}

/// One point of a session's ledger: a change log (unique in the process) and how many changes
/// it had noted. Two copies of a session with the same mark hold the same ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LedgerMark {
    /// The log's id.
    pub log: u64,
    /// Changes noted in it so far.
    pub version: u64,
}

/// Ids of change logs: unique in the process, so a store never takes one log for another.
static NEXT_LOG: AtomicU64 = AtomicU64::new(1);

/// Keys a change log notes at most; past them it stops (the next write is whole): a session
/// read and then written on for hours without a hand-over would otherwise note its whole
/// ledger again.
const MAX_NOTED: usize = 20_000;

/// The keys of a ledger's long collections changed since the log started, while one is kept.
/// No part of the session's value: two sessions are equal whatever they noted.
///
/// A clone notes nothing (a store cannot tell two copies' changes apart under one log); a copy
/// that carries the log on is made by [`SessionState::hand_over`] only.
#[derive(Debug, Default)]
pub(super) struct Changes(Option<Box<ChangeLog>>);

impl Clone for Changes {
    fn clone(&self) -> Self {
        Changes(None)
    }
}

#[derive(Debug, Default)]
struct ChangeLog {
    id: u64,
    /// Changes noted (any change of the ledger, a small field's too).
    version: u64,
    /// Where the log starts: a read from a store …
    origin: Option<LedgerOrigin>,
    /// … or the end of the log handed over before it.
    follows: Option<LedgerMark>,
    /// Changes of earlier logs taken in ([`SessionState::take_in`]).
    earlier_changes: bool,
    noted: usize,
    usage: FastSet<String>,
    tool_uses: FastSet<String>,
    tool_results: FastSet<String>,
    timed: FastSet<String>,
    prompt_ids: FastSet<String>,
    line_points: FastSet<String>,
}

impl ChangeLog {
    fn new(origin: Option<LedgerOrigin>, follows: Option<LedgerMark>) -> Box<Self> {
        Box::new(ChangeLog {
            id: NEXT_LOG.fetch_add(1, Ordering::Relaxed),
            origin,
            follows,
            ..ChangeLog::default()
        })
    }

    fn mark(&self) -> LedgerMark {
        LedgerMark {
            log: self.id,
            version: self.version,
        }
    }
}

impl PartialEq for Changes {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Changes {
    /// Something of the ledger changed.
    pub(super) fn touched(&mut self) {
        if let Some(log) = &mut self.0 {
            log.version += 1;
        }
    }

    pub(super) fn usage(&mut self, key: &str) {
        self.note(key, |log| &mut log.usage);
    }

    pub(super) fn tool_use(&mut self, id: &str) {
        self.note(id, |log| &mut log.tool_uses);
    }

    pub(super) fn tool_result(&mut self, id: &str) {
        self.note(id, |log| &mut log.tool_results);
    }

    pub(super) fn timed(&mut self, key: &str) {
        self.note(key, |log| &mut log.timed);
    }

    pub(super) fn prompt_id(&mut self, id: &str) {
        self.note(id, |log| &mut log.prompt_ids);
    }

    pub(super) fn line_point(&mut self, point: &str) {
        self.note(point, |log| &mut log.line_points);
    }

    fn note(&mut self, key: &str, set: impl FnOnce(&mut ChangeLog) -> &mut FastSet<String>) {
        let Some(log) = &mut self.0 else { return };
        if log.noted >= MAX_NOTED {
            self.0 = None;
            return;
        }
        log.version += 1;
        let set = set(log);
        if !set.contains(key) {
            set.insert(key.to_owned());
            log.noted += 1;
        }
    }
}

impl SessionState {
    /// Starts noting what changes of the ledger, as read from a store at `origin`: the store
    /// can then write the change as a delta ([`SessionState::ledger_delta_text`]). Call right
    /// after the ledger is read.
    pub fn track_ledger_changes(&mut self, origin: LedgerOrigin) {
        self.ledger_changes = Changes(Some(ChangeLog::new(Some(origin), None)));
    }

    /// A copy of the session for a store to write, with what its log noted; this session goes
    /// on noting in a new log that follows the copy's (see the module comment). A session
    /// that noted nothing hands over a log that starts there: the copy is written whole, the
    /// changes after it as a delta.
    #[must_use = "the copy carries the log: dropped, the next copy is written whole"]
    pub fn hand_over(&mut self) -> SessionState {
        let log = self
            .ledger_changes
            .0
            .take()
            .unwrap_or_else(|| ChangeLog::new(None, None));
        let next = ChangeLog::new(None, Some(log.mark()));
        let mut copy = self.clone();
        copy.ledger_changes = Changes(Some(log));
        self.ledger_changes = Changes(Some(next));
        copy
    }

    /// Takes in what `earlier`, a copy handed over before this one and never written, noted:
    /// this copy's delta then goes on from where the earlier one's did (a writer that could
    /// not write the earlier copy, or had both queued, writes the later with both logs). A
    /// copy this one does not follow is left out: the write is whole.
    pub fn take_in(&mut self, earlier: SessionState) {
        let (Some(log), Some(mut before)) = (&mut self.ledger_changes.0, earlier.ledger_changes.0)
        else {
            return;
        };
        if log.follows != Some(before.mark()) {
            return;
        }
        log.follows = before.follows;
        log.origin = before.origin;
        log.earlier_changes |= before.version > 0 || before.earlier_changes;
        log.noted += before.noted;
        for (mine, theirs) in [
            (&mut log.usage, &mut before.usage),
            (&mut log.tool_uses, &mut before.tool_uses),
            (&mut log.tool_results, &mut before.tool_results),
            (&mut log.timed, &mut before.timed),
            (&mut log.prompt_ids, &mut before.prompt_ids),
            (&mut log.line_points, &mut before.line_points),
        ] {
            mine.extend(theirs.drain());
        }
    }

    /// Where the ledger was read from, while its changes since are noted.
    pub fn ledger_origin(&self) -> Option<LedgerOrigin> {
        self.ledger_changes.0.as_ref().and_then(|log| log.origin)
    }

    /// The point of the ledger now, while its changes are noted.
    pub fn ledger_mark(&self) -> Option<LedgerMark> {
        self.ledger_changes.0.as_ref().map(|log| log.mark())
    }

    /// The point the log starts from, when it follows a hand-over.
    pub fn ledger_follows(&self) -> Option<LedgerMark> {
        self.ledger_changes.0.as_ref().and_then(|log| log.follows)
    }

    /// True when anything of the ledger changed since the log started (true too when nothing
    /// is noted: then nothing is known).
    pub fn ledger_changed_since_log_start(&self) -> bool {
        self.ledger_changes
            .0
            .as_ref()
            .is_none_or(|log| log.version > 0 || log.earlier_changes)
    }

    /// What changed of the ledger since the log started, as JSON text for
    /// [`SessionState::apply_ledger_delta_text`] on the ledger as it was there; `None` when
    /// nothing is noted or it cannot be serialized.
    pub fn ledger_delta_text(&self) -> Option<String> {
        let log = self.ledger_changes.0.as_ref()?;
        serde_json::to_string(&Delta::noted(&self.ledger, log)).ok()
    }

    /// Applies a delta that [`SessionState::ledger_delta_text`] gave against the ledger this
    /// session holds now. On an error the ledger is unchanged. Nothing is noted of it.
    pub fn apply_ledger_delta_text(&mut self, delta: &str) -> Result<(), serde_json::Error> {
        let delta: DeltaRead = serde_json::from_str(delta)?;
        let ledger = std::sync::Arc::make_mut(&mut self.ledger);
        let mut next = delta.rest;
        next.usage = std::mem::take(&mut ledger.usage);
        for key in &delta.usage_gone {
            next.usage.remove(key);
        }
        next.usage.extend(delta.usage);
        next.tool_uses = delta
            .tool_uses
            .applied(std::mem::take(&mut ledger.tool_uses));
        next.tool_results = delta
            .tool_results
            .applied(std::mem::take(&mut ledger.tool_results));
        next.timed = delta.timed.applied(std::mem::take(&mut ledger.timed));
        *next.prompts.ids_mut() = delta
            .prompt_ids
            .applied(std::mem::take(ledger.prompts.ids_mut()));
        // A delta written before line points went by difference has them whole in `rest`
        // (they are never taken out: a whole set there is the set).
        if next.line_points.is_empty() {
            next.line_points = delta
                .line_points
                .applied(std::mem::take(&mut ledger.line_points));
        }
        next.sum_costs();
        *ledger = next;
        self.ledger_changes = Changes::default();
        Ok(())
    }
}

/// A delta as written: the long collections by difference, every other field whole.
#[derive(Serialize)]
struct Delta<'a> {
    rest: Rest<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    usage: Vec<(&'a String, &'a Counted)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    usage_gone: Vec<&'a String>,
    #[serde(skip_serializing_if = "Change::is_empty")]
    tool_uses: Change<&'a String>,
    #[serde(skip_serializing_if = "Change::is_empty")]
    tool_results: Change<&'a String>,
    #[serde(skip_serializing_if = "Change::is_empty")]
    timed: Change<&'a String>,
    #[serde(skip_serializing_if = "Change::is_empty")]
    prompt_ids: Change<&'a String>,
    #[serde(skip_serializing_if = "Change::is_empty")]
    line_points: Change<&'a String>,
}

/// A delta as read back.
#[derive(Deserialize)]
struct DeltaRead {
    /// Read as a ledger whose long collections are empty (they are not in `rest`).
    rest: Ledger,
    #[serde(default)]
    usage: Vec<(String, Counted)>,
    #[serde(default)]
    usage_gone: Vec<String>,
    #[serde(default)]
    tool_uses: Change<String>,
    #[serde(default)]
    tool_results: Change<String>,
    #[serde(default)]
    timed: Change<String>,
    #[serde(default)]
    prompt_ids: Change<String>,
    #[serde(default)]
    line_points: Change<String>,
}

/// What was added to a set and what left it.
#[derive(Serialize, Deserialize)]
#[serde(default)]
struct Change<T> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    added: Vec<T>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gone: Vec<T>,
}

impl<T> Default for Change<T> {
    fn default() -> Self {
        Change {
            added: Vec::new(),
            gone: Vec::new(),
        }
    }
}

impl<T> Change<T> {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.gone.is_empty()
    }
}

/// A set that a delta can name the difference of.
trait Set<T>: IntoIterator<Item = T> + Extend<T> {
    fn has(&self, item: &T) -> bool;
    fn take_out(&mut self, item: &T);
}

impl<T: Eq + Hash, S: BuildHasher> Set<T> for HashSet<T, S> {
    fn has(&self, item: &T) -> bool {
        self.contains(item)
    }
    fn take_out(&mut self, item: &T) {
        self.remove(item);
    }
}

impl<T: Ord> Set<T> for BTreeSet<T> {
    fn has(&self, item: &T) -> bool {
        self.contains(item)
    }
    fn take_out(&mut self, item: &T) {
        self.remove(item);
    }
}

impl<'a> Change<&'a String> {
    /// The noted `keys` that are in `now` (added, or there again) and those that are not.
    fn noted<S: Set<String>>(keys: &'a FastSet<String>, now: &S) -> Self {
        let (added, gone) = keys.iter().partition(|key| now.has(key));
        Change { added, gone }
    }
}

impl Change<String> {
    fn applied<S: Set<String>>(self, mut set: S) -> S {
        for id in &self.gone {
            set.take_out(id);
        }
        set.extend(self.added);
        set
    }
}

impl<'a> Delta<'a> {
    /// The delta against the ledger where `log` started, from the keys noted since (a key
    /// noted that ends as it was is named again: harmless).
    fn noted(now: &'a Ledger, log: &'a ChangeLog) -> Self {
        let (mut usage, mut usage_gone) = (Vec::new(), Vec::new());
        for key in &log.usage {
            match now.usage.get_key_value(key) {
                Some(entry) => usage.push(entry),
                None => usage_gone.push(key),
            }
        }
        Delta {
            rest: Rest::of(now),
            usage,
            usage_gone,
            tool_uses: Change::noted(&log.tool_uses, &now.tool_uses),
            tool_results: Change::noted(&log.tool_results, &now.tool_results),
            timed: Change::noted(&log.timed, &now.timed),
            prompt_ids: Change::noted(&log.prompt_ids, now.prompts.ids()),
            line_points: Change::noted(&log.line_points, &now.line_points),
        }
    }
}

/// Every field of a ledger but its long collections (the prompt ids among them), under the
/// ledger's own names (so it reads back as a [`Ledger`] with those collections empty).
#[derive(Serialize)]
struct Rest<'a> {
    usage_sum: &'a Tokens,
    estimate: f64,
    unpriced: &'a BTreeSet<String>,
    #[serde(flatten)]
    prompts: PromptsWithoutIds<'a>,
    main_tool_results: u64,
    pending_request: &'a Option<jiff::Timestamp>,
    open_requests: &'a FastMap<String, jiff::Timestamp>,
    api_ms: u64,
    reported_responses: u64,
    retries: &'a BTreeSet<String>,
    telemetry_lines_added: u64,
    telemetry_lines_removed: u64,
    interrupted: bool,
    last_record_at: &'a Option<jiff::Timestamp>,
    model_from: &'a Option<jiff::Timestamp>,
    turn_open: bool,
    reported: &'a Reported,
}

impl<'a> Rest<'a> {
    fn of(ledger: &'a Ledger) -> Self {
        // Every field named: a field added to `Ledger` does not compile until it has a place
        // here (whole) or in `Delta` (by difference).
        let Ledger {
            usage: _,
            usage_sum,
            estimate,
            exact_estimate: _,
            unpriced,
            tool_uses: _,
            tool_results: _,
            prompts,
            main_tool_results,
            pending_request,
            open_requests,
            api_ms,
            timed: _,
            reported_responses,
            retries,
            // By difference (in `Delta`): a day of telemetry's line counts is hundreds.
            line_points: _,
            telemetry_lines_added,
            telemetry_lines_removed,
            interrupted,
            last_record_at,
            model_from,
            turn_open,
            reported,
        } = ledger;
        Rest {
            usage_sum,
            estimate: *estimate,
            unpriced,
            prompts: prompts.without_ids(),
            main_tool_results: *main_tool_results,
            pending_request,
            open_requests,
            api_ms: *api_ms,
            reported_responses: *reported_responses,
            retries,
            telemetry_lines_added: *telemetry_lines_added,
            telemetry_lines_removed: *telemetry_lines_removed,
            interrupted: *interrupted,
            last_record_at,
            model_from,
            turn_open: *turn_open,
            reported,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::event::{Event, EventKind};
    use crate::ids::SessionId;
    use crate::pricing::PriceTable;

    fn at(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_795_600_000 + secs).unwrap()
    }

    /// One of the events that change a ledger, from a few small numbers: responses (some
    /// reported again with more tokens, some under a request id first, some by telemetry
    /// alone), tool calls and their results, prompts, retries, request timing, line counts, and
    /// a start by telemetry or a local source (which drops telemetry's own responses).
    fn event(kind: u8, n: u8, m: u8) -> EventKind {
        let key = format!("msg_{}", n % 12);
        match kind % 10 {
            0 | 1 => EventKind::Usage {
                key: if m.is_multiple_of(5) {
                    format!("req:req_{}", n % 12)
                } else if m.is_multiple_of(11) {
                    format!("otel:{}", n % 12)
                } else {
                    key
                },
                request_id: Some(format!("req_{}", n % 12)),
                reported_cost_usd: m.is_multiple_of(7).then_some(0.25),
                model: Some(["claude-sonnet-4-5", "claude-opus-4-1"][usize::from(m % 2)].into()),
                tokens: Tokens {
                    input: u64::from(m) * 10,
                    output: u64::from(n) + u64::from(m),
                    cache_read: u64::from(m % 3) * 1000,
                    ..Tokens::default()
                },
                is_final: m.is_multiple_of(3),
                sidechain: m.is_multiple_of(4),
            },
            2 => EventKind::ToolUse {
                tool_use_id: format!("toolu_{}", n % 16),
                name: "Bash".into(),
                sidechain: false,
            },
            3 => EventKind::ToolResult {
                tool_use_id: format!("toolu_{}", n % 16),
                is_error: m.is_multiple_of(5),
                duration_ms: None,
                sidechain: m.is_multiple_of(2),
            },
            4 => EventKind::PromptSubmitted {
                id: m.is_multiple_of(2).then(|| format!("p{}", n % 6)),
                preview: Some(format!("prompt {}", n % 6)),
            },
            5 => EventKind::ApiRetry {
                attempt: u32::from(n % 3) + 1,
                error_status: Some(529),
                error: None,
                retry_in_ms: Some(u64::from(m) * 100),
            },
            6 => EventKind::ApiRequest {
                message_id: Some(key),
            },
            // Timed under a placeholder or telemetry's key too (merged or dropped later).
            7 => EventKind::ApiResponseDone {
                message_id: match m % 3 {
                    0 => format!("req:req_{}", n % 12),
                    1 => format!("otel:{}", n % 12),
                    _ => key,
                },
                duration_ms: Some(u64::from(m) * 3),
            },
            8 if m.is_multiple_of(2) => EventKind::LinesChanged {
                point: format!("point {}", n % 5),
                added: u64::from(m),
                removed: 1,
            },
            9 => EventKind::SessionStarted {
                mode: crate::event::Mode::Interactive,
                command: None,
                cwd: None,
                project_path: None,
                session_type: None,
                source: if m.is_multiple_of(2) {
                    crate::event::Source::Otel
                } else {
                    crate::event::Source::Transcript
                },
            },
            _ => EventKind::TurnEnded { duration_ms: None },
        }
    }

    /// Folds `events`; `(kind, n, _)` with `kind % 23 == 22` merges response `n`'s placeholder
    /// key into its message id, as the monitor does when a source links the two.
    fn folded(events: &[(u8, u8, u8)], state: &mut SessionState) {
        let prices = PriceTable::builtin();
        for (i, &(kind, n, m)) in events.iter().enumerate() {
            if kind % 23 == 22 {
                let (from, into) = (format!("req:req_{}", n % 12), format!("msg_{}", n % 12));
                state.merge_usage_key(&from, &into, &prices);
                continue;
            }
            let secs = i64::try_from(i).unwrap_or(0);
            let event = Event::new(SessionId::new("s"), at(secs), event(kind, n, m));
            state.apply(&event, &prices);
        }
    }

    /// A session folded from `events`.
    fn session_of(events: &[(u8, u8, u8)]) -> SessionState {
        let mut state = SessionState::new(SessionId::new("s"), at(0));
        folded(events, &mut state);
        state
    }

    /// A session folded from `events`, and the same session as a store reads it back from its
    /// ledger's text.
    fn written_and_read(events: &[(u8, u8, u8)]) -> (SessionState, SessionState) {
        let written = session_of(events);
        let mut read = written.clone();
        read.restore_ledger_text(&written.ledger_json_text().unwrap())
            .unwrap();
        (written, read)
    }

    /// Every response (msg_0 … msg_11) and tool call (toolu_0 … toolu_15), with its result.
    fn every_response_and_tool_call() -> SessionState {
        let all: Vec<(u8, u8, u8)> = (0..16u8)
            .flat_map(|n| [(0, n, 1), (2, n, 1), (3, n, 1)])
            .collect();
        session_of(&all)
    }

    /// Up to 40 events for [`folded`].
    fn events() -> impl Strategy<Value = Vec<(u8, u8, u8)>> {
        proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..40)
    }

    proptest! {
        // Merges and drops of keys timed before the read are rare draws: more cases.
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_changes_noted_since_a_read_give_the_ledger_back(
            before in events(),
            after in events(),
        ) {
            // Two reads of the stored session: one goes on, one stays as stored.
            let (_, mut read) = written_and_read(&before);
            let mut stored = read.clone();
            let pristine = read.clone();
            let origin = LedgerOrigin { store: 7, seq: 3, deltas: 1, delta_bytes: 10, whole_bytes: 99 };
            read.track_ledger_changes(origin);
            prop_assert_eq!(read.ledger_origin(), Some(origin));
            prop_assert!(!read.ledger_changed_since_log_start());
            folded(&after, &mut read);
            let delta = read.ledger_delta_text().unwrap();
            stored.apply_ledger_delta_text(&delta).unwrap();
            prop_assert_eq!(&*stored.ledger, &*read.ledger);
            // "Unchanged" is never said of a changed ledger.
            if !read.ledger_changed_since_log_start() {
                prop_assert_eq!(&*read.ledger, &*pristine.ledger);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn each_hand_over_gives_what_changed_since_the_one_written_before(
            steps in proptest::collection::vec((events(), any::<bool>()), 1..6),
        ) {
            // A monitor folds, hands a copy over, folds on …; a writer writes a copy, or keeps
            // it (a failed write, a queue) and takes it into the next one; a store applies each
            // written copy's delta to what it stored of the copy before.
            let mut monitor = session_of(&[]);
            let mut stored = monitor.hand_over();
            let mut stored_mark = stored.ledger_mark();
            let mut queued: Option<SessionState> = None;
            for (step, written) in &steps {
                folded(step, &mut monitor);
                let mut copy = monitor.hand_over();
                if let Some(earlier) = queued.take() {
                    copy.take_in(earlier);
                }
                if !written {
                    queued = Some(copy);
                    continue;
                }
                prop_assert_eq!(copy.ledger_follows(), stored_mark, "the logs chain");
                // "Unchanged" is never said of a changed ledger.
                if !copy.ledger_changed_since_log_start() {
                    prop_assert_eq!(&*copy.ledger, &*stored.ledger);
                }
                let delta = copy.ledger_delta_text().unwrap();
                stored.apply_ledger_delta_text(&delta).unwrap();
                prop_assert_eq!(&*stored.ledger, &*copy.ledger);
                stored_mark = copy.ledger_mark();
            }
        }
    }

    #[test]
    fn a_copy_takes_in_only_the_copy_it_follows() {
        let mut s = session_of(&[(0, 1, 1)]);
        let first = s.hand_over();
        folded(&[(0, 2, 1)], &mut s);
        let second = s.hand_over();
        folded(&[(0, 3, 1)], &mut s);
        let mut third = s.hand_over();
        // Not the copy before it: nothing taken in, the log still follows `second`.
        third.take_in(first.clone());
        assert_eq!(third.ledger_follows(), second.ledger_mark());
        third.take_in(second);
        assert_eq!(third.ledger_follows(), first.ledger_mark());
        let delta = third.ledger_delta_text().unwrap();
        assert!(
            delta.contains("\"msg_2\"") && delta.contains("\"msg_3\""),
            "{delta}"
        );
        // A copy that noted nothing itself still tells of what it took in.
        let mut fourth = s.hand_over();
        assert!(!fourth.ledger_changed_since_log_start());
        fourth.take_in(third);
        assert!(fourth.ledger_changed_since_log_start());
    }

    #[test]
    fn a_clone_notes_nothing_and_a_ledger_copied_because_it_was_shared_notes_on() {
        let mut s = session_of(&[(0, 1, 1)]);
        s.track_ledger_changes(LedgerOrigin::default());
        let clone = s.clone();
        assert_eq!(clone.ledger_mark(), None, "a clone is no copy for a store");
        let mark = s.ledger_mark();
        folded(&[(0, 2, 1)], &mut s);
        assert_ne!(s.ledger_mark(), mark);
        assert_eq!(
            s.ledger_origin(),
            Some(LedgerOrigin::default()),
            "still noting"
        );
        assert!(s.ledger_delta_text().unwrap().contains("\"msg_2\""));
        assert_eq!(
            clone.ledger.usage.len(),
            1,
            "the clone's ledger stays as it was"
        );
    }

    #[test]
    fn a_session_read_without_tracking_notes_nothing() {
        let s = session_of(&[(0, 1, 1), (2, 1, 1)]);
        assert_eq!(s.ledger_origin(), None);
        assert_eq!(s.ledger_mark(), None);
        assert!(s.ledger_changed_since_log_start(), "nothing known: changed");
        assert_eq!(s.ledger_delta_text(), None);
    }

    #[test]
    fn a_hand_over_starts_a_log_that_follows_the_copy() {
        let mut s = session_of(&[(0, 1, 1)]);
        let first = s.hand_over();
        assert_eq!(
            first.ledger_follows(),
            None,
            "nothing noted before: written whole"
        );
        assert_eq!(s.ledger_follows(), first.ledger_mark());
        assert!(!s.ledger_changed_since_log_start());
        folded(&[(0, 2, 1)], &mut s);
        let second = s.hand_over();
        assert_eq!(second.ledger_follows(), first.ledger_mark());
        assert!(second.ledger_changed_since_log_start());
        let delta = second.ledger_delta_text().unwrap();
        assert!(delta.contains("\"msg_2\""), "the change is in it: {delta}");
        assert!(
            !delta.contains("\"msg_1\""),
            "what came before is not: {delta}"
        );
        // Logs are never taken for one another.
        assert_ne!(
            first.ledger_mark().unwrap().log,
            second.ledger_mark().unwrap().log
        );
    }

    #[test]
    fn changes_noted_since_a_read_name_what_changed_only() {
        let mut s = every_response_and_tool_call();
        s.track_ledger_changes(LedgerOrigin::default());
        folded(&[(0, 3, 41)], &mut s);
        assert!(s.ledger_changed_since_log_start());
        let delta = s.ledger_delta_text().unwrap();
        assert!(delta.contains("\"msg_3\""), "the change is in it: {delta}");
        for unchanged in ["\"msg_4\"", "toolu_"] {
            assert!(!delta.contains(unchanged), "{unchanged} is not: {delta}");
        }
        assert!(delta.len() < s.ledger_json_text().unwrap().len());
        // A ledger that noted more keys than it may stops noting: its next write is whole.
        for i in 0..=MAX_NOTED {
            s.ledger_changes.tool_use(&format!("toolu_x{i}"));
        }
        assert_eq!(s.ledger_origin(), None);
        assert_eq!(s.ledger_mark(), None);
    }

    #[test]
    fn line_points_go_by_difference_and_a_delta_with_them_whole_still_reads() {
        let mut s = session_of(&[(8, 1, 2)]);
        s.track_ledger_changes(LedgerOrigin::default());
        let mut stored = s.clone();
        folded(&[(8, 2, 2)], &mut s);
        let mut delta: serde_json::Value =
            serde_json::from_str(&s.ledger_delta_text().unwrap()).unwrap();
        assert_eq!(
            delta["line_points"],
            serde_json::json!({"added": ["point 2"]})
        );
        assert!(
            delta["rest"].get("line_points").is_none(),
            "not whole: {delta}"
        );
        // As a cclive before this wrote it: the set whole in `rest`.
        delta.as_object_mut().unwrap().remove("line_points");
        delta["rest"]["line_points"] = serde_json::json!(["point 1", "point 2"]);
        stored.apply_ledger_delta_text(&delta.to_string()).unwrap();
        assert_eq!(&*stored.ledger, &*s.ledger);
        assert_eq!(stored.ledger.line_points.len(), 2);
    }

    #[test]
    fn a_delta_that_does_not_read_leaves_the_ledger_as_it_was() {
        let mut s = every_response_and_tool_call();
        let before = s.clone();
        assert!(s.apply_ledger_delta_text("{\"rest\": 3}").is_err());
        assert_eq!(s, before);
    }
}
