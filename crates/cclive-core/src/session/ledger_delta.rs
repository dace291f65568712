//! What changed of a session's ledger since a base: written as a short delta, applied back
//! exactly.
//!
//! A store writes a session whenever it changes. Written whole, a long session's ledger (every
//! response it counted, every tool id: 383 KB for a session of 1,500 responses) was encoded and
//! written again for each new line, so a change cost what the session held, not what changed.
//! A store that remembers the ledger it last wrote ([`LedgerBase`]) writes only the
//! difference: the responses added or changed, the ids added or gone, and the ledger's small
//! fields whole. Applied to the base, the delta gives the ledger back exactly
//! (`apply(base, delta(base, now)) == now`, a property test below).
//!
//! A store that did not write a session but read it (a catch-up import, a monitor started on
//! a stored history) has no base: keeping one would copy the ledger at its first change. It
//! asks the session to note what changes instead ([`SessionState::track_ledger_changes`]):
//! the keys of the long collections touched since the read ([`Changes`]), from which the same
//! delta is made without a base and without comparing the whole ledger.
//!
//! It owns the delta's form only; it never decides when a store writes a delta or the whole
//! ledger (`cclive-store`'s journal does), and never changes what a ledger counts.

use std::collections::{BTreeSet, HashSet};
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Counted, Ledger, Reported, SessionState};
use crate::fast_hash::{FastMap, FastSet};
use crate::prompts::PromptsWithoutIds;
use crate::usage::Tokens;

/// A ledger as a store last wrote it: a shared reference, no copy. While a store holds
/// one, the session copies its ledger before changing it, so the base stays what was stored.
#[derive(Clone, Debug, Default)]
pub struct LedgerBase(Arc<Ledger>);

impl SessionState {
    /// The ledger as it is now, for a store to diff later changes against.
    pub fn ledger_base(&self) -> LedgerBase {
        LedgerBase(Arc::clone(&self.ledger))
    }

    /// True when the ledger is still `base` (nothing counted since): the same shared ledger.
    /// A changed ledger is always a new one while `base` holds the old, so this never says
    /// "unchanged" wrongly.
    pub fn ledger_is(&self, base: &LedgerBase) -> bool {
        Arc::ptr_eq(&self.ledger, &base.0)
    }

    /// What changed of the ledger since `base`, as JSON text for
    /// [`SessionState::apply_ledger_delta_text`]; `None` if it cannot be serialized.
    pub fn ledger_delta_text(&self, base: &LedgerBase) -> Option<String> {
        serde_json::to_string(&Delta::between(&base.0, &self.ledger)).ok()
    }

    /// Applies a delta that [`SessionState::ledger_delta_text`] gave against the ledger this
    /// session holds now. On an error the ledger is unchanged.
    pub fn apply_ledger_delta_text(&mut self, delta: &str) -> Result<(), serde_json::Error> {
        let delta: DeltaRead = serde_json::from_str(delta)?;
        let ledger = Arc::make_mut(&mut self.ledger);
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
        next.sum_costs();
        *ledger = next;
        Ok(())
    }
}

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

/// Keys a change log notes at most; past them it stops (the next write is whole): a session
/// read and then written on for hours would otherwise note its whole ledger again.
const MAX_NOTED: usize = 20_000;

/// The keys of a ledger's long collections changed since a store read it, while the store
/// asked for them. No part of the ledger's value: two ledgers are equal whatever they noted.
///
/// A copy of the ledger notes nothing: a ledger is copied when it changes while shared, with a
/// store's base (that store then knows the ledger it wrote) or with a monitor's snapshots
/// (copying the noted keys at every change would cost what noting saves). Such a ledger's
/// next write without a base is whole, as before noting.
#[derive(Debug, Default)]
pub(super) struct Changes(Option<Box<ChangeLog>>);

impl Clone for Changes {
    fn clone(&self) -> Self {
        Changes(None)
    }
}

#[derive(Clone, Debug, Default)]
struct ChangeLog {
    origin: LedgerOrigin,
    /// Anything changed (a small field too).
    touched: bool,
    noted: usize,
    usage: FastSet<String>,
    tool_uses: FastSet<String>,
    tool_results: FastSet<String>,
    timed: FastSet<String>,
    prompt_ids: FastSet<String>,
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
            log.touched = true;
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

    fn note(&mut self, key: &str, set: impl FnOnce(&mut ChangeLog) -> &mut FastSet<String>) {
        let Some(log) = &mut self.0 else { return };
        if log.noted >= MAX_NOTED {
            self.0 = None;
            return;
        }
        log.touched = true;
        let set = set(log);
        if !set.contains(key) {
            set.insert(key.to_owned());
            log.noted += 1;
        }
    }
}

impl SessionState {
    /// Starts noting what changes of the ledger, as read from a store at `origin`: the store
    /// can then write the change as a delta ([`SessionState::ledger_delta_text_since_origin`])
    /// though it keeps no base. Call right after the ledger is read (it is not shared yet).
    pub fn track_ledger_changes(&mut self, origin: LedgerOrigin) {
        Arc::make_mut(&mut self.ledger).changes = Changes(Some(Box::new(ChangeLog {
            origin,
            ..ChangeLog::default()
        })));
    }

    /// Where the ledger was read from, while its changes are noted.
    pub fn ledger_origin(&self) -> Option<LedgerOrigin> {
        self.ledger.changes.0.as_ref().map(|log| log.origin)
    }

    /// True when anything of the ledger changed since it was read at its origin (true too when
    /// nothing is noted: then nothing is known).
    pub fn ledger_changed_since_origin(&self) -> bool {
        self.ledger.changes.0.as_ref().is_none_or(|log| log.touched)
    }

    /// What changed of the ledger since it was read at its origin, as the text
    /// [`SessionState::ledger_delta_text`] gives against a base of the ledger read; `None`
    /// when nothing is noted or it cannot be serialized.
    pub fn ledger_delta_text_since_origin(&self) -> Option<String> {
        let log = self.ledger.changes.0.as_ref()?;
        serde_json::to_string(&Delta::noted(&self.ledger, log)).ok()
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
    /// What `now` added to `base` and what left it.
    fn between<S>(base: &'a S, now: &'a S) -> Self
    where
        &'a S: IntoIterator<Item = &'a String>,
        S: Set<String>,
    {
        Change {
            added: now.into_iter().filter(|id| !base.has(id)).collect(),
            gone: base.into_iter().filter(|id| !now.has(id)).collect(),
        }
    }

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
    fn between(base: &'a Ledger, now: &'a Ledger) -> Self {
        Delta {
            rest: Rest::of(now),
            usage: now
                .usage
                .iter()
                .filter(|(key, counted)| base.usage.get(*key) != Some(*counted))
                .collect(),
            usage_gone: base
                .usage
                .keys()
                .filter(|key| !now.usage.contains_key(*key))
                .collect(),
            tool_uses: Change::between(&base.tool_uses, &now.tool_uses),
            tool_results: Change::between(&base.tool_results, &now.tool_results),
            timed: Change::between(&base.timed, &now.timed),
            prompt_ids: Change::between(base.prompts.ids(), now.prompts.ids()),
        }
    }

    /// The delta against the ledger read at `log`'s origin, from the keys noted since: what
    /// [`Delta::between`] gives, bar keys noted that end as they were (named again, harmless).
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
    line_points: &'a BTreeSet<String>,
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
            line_points,
            telemetry_lines_added,
            telemetry_lines_removed,
            interrupted,
            last_record_at,
            model_from,
            turn_open,
            reported,
            changes: _,
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
            line_points,
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
        #[test]
        fn a_delta_applied_to_its_base_gives_the_ledger_back(
            before in events(),
            after in events(),
        ) {
            // What the store read back: the base as its text reads.
            let (mut now, mut stored) = written_and_read(&before);
            let base = now.ledger_base();
            folded(&after, &mut now);
            let delta = now.ledger_delta_text(&base).unwrap();
            stored.apply_ledger_delta_text(&delta).unwrap();
            prop_assert_eq!(&*stored.ledger, &*now.ledger);
            // "Unchanged" is never said of a changed ledger.
            if now.ledger_is(&base) {
                prop_assert_eq!(&*now.ledger, &*base.0);
            }
            prop_assert!(!after.is_empty() || now.ledger_is(&base));
        }
    }

    proptest! {
        // Merges and drops of keys timed before the read are rare draws: more cases.
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_changes_noted_since_a_read_give_the_same_ledger_as_a_base(
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
            prop_assert!(!read.ledger_changed_since_origin());
            folded(&after, &mut read);
            let delta = read.ledger_delta_text_since_origin().unwrap();
            stored.apply_ledger_delta_text(&delta).unwrap();
            prop_assert_eq!(&*stored.ledger, &*read.ledger);
            // "Unchanged" is never said of a changed ledger.
            if !read.ledger_changed_since_origin() {
                prop_assert_eq!(&*read.ledger, &*pristine.ledger);
            }
        }
    }

    #[test]
    fn a_ledger_copied_because_it_was_shared_notes_nothing_more() {
        let mut s = session_of(&[(0, 1, 1)]);
        s.track_ledger_changes(LedgerOrigin::default());
        let snapshot = s.clone();
        folded(&[(0, 2, 1)], &mut s);
        assert_eq!(
            s.ledger_origin(),
            None,
            "copied at the change: written whole next"
        );
        assert_eq!(snapshot.ledger_origin(), Some(LedgerOrigin::default()));
    }

    #[test]
    fn a_session_read_without_tracking_notes_nothing() {
        let s = session_of(&[(0, 1, 1), (2, 1, 1)]);
        assert_eq!(s.ledger_origin(), None);
        assert!(s.ledger_changed_since_origin(), "nothing known: changed");
        assert_eq!(s.ledger_delta_text_since_origin(), None);
    }

    #[test]
    fn changes_noted_since_a_read_name_what_changed_only() {
        let mut s = every_response_and_tool_call();
        s.track_ledger_changes(LedgerOrigin::default());
        folded(&[(0, 3, 41)], &mut s);
        assert!(s.ledger_changed_since_origin());
        let delta = s.ledger_delta_text_since_origin().unwrap();
        assert!(delta.contains("\"msg_3\""), "the change is in it: {delta}");
        for unchanged in ["\"msg_4\"", "toolu_"] {
            assert!(!delta.contains(unchanged), "{unchanged} is not: {delta}");
        }
        // A ledger that noted more keys than it may stops noting: its next write is whole.
        for i in 0..=MAX_NOTED {
            s.ledger_mut().changes.tool_use(&format!("toolu_x{i}"));
        }
        assert_eq!(s.ledger_origin(), None);
    }

    #[test]
    fn an_unchanged_ledger_is_its_base_and_a_changed_one_is_not() {
        let mut s = session_of(&[(0, 1, 1), (2, 1, 1)]);
        let base = s.ledger_base();
        assert!(s.ledger_is(&base));
        folded(&[(0, 2, 1)], &mut s);
        assert!(!s.ledger_is(&base), "a change copies the shared ledger");
        assert_eq!(base.0.usage.len(), 1, "the base stays as it was");
    }

    #[test]
    fn a_delta_holds_what_changed_not_the_whole_ledger() {
        let mut s = every_response_and_tool_call();
        let base = s.ledger_base();
        // msg_3 reported again, with more tokens.
        folded(&[(0, 3, 41)], &mut s);
        let delta = s.ledger_delta_text(&base).unwrap();
        assert!(delta.contains("\"msg_3\""), "the change is in it: {delta}");
        for unchanged in ["\"msg_4\"", "toolu_"] {
            assert!(!delta.contains(unchanged), "{unchanged} is not: {delta}");
        }
        assert!(delta.len() < s.ledger_json_text().unwrap().len());
        // A delta that does not read leaves the ledger as it was.
        let before = s.clone();
        assert!(s.apply_ledger_delta_text("{\"rest\": 3}").is_err());
        assert_eq!(s, before);
    }
}
