//! Many sessions at once: folds events into [`SessionState`]s and says what changed.
//!
//! The monitor is the pure heart of every long-running part of cclive. Sources push [`Event`]s
//! in; each `apply` returns the [`Update`] that sinks (the store, the state file, callbacks, the
//! dashboard) act on. It also builds the state-file [`Snapshot`]. It holds no clock and does no
//! I/O; the caller passes `now` to [`Monitor::tick`] and [`Monitor::snapshot`].

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::event::Source;
use crate::event::{
    Event, EventKind, is_request_usage_key, is_telemetry_only_usage_key, usage_key_request,
};
use crate::ids::SessionId;
use crate::pricing::PriceTable;
use crate::session::{CountedUsage, SessionState, Status};

mod response_index;

use response_index::ResponseIndex;

/// What kind of change an [`Update`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateKind {
    /// The session was seen for the first time.
    Started,
    /// The status changed between two live states (e.g. `ACTIVE` → `IDLE`).
    StatusChanged,
    /// Figures changed; the status did not.
    Progress,
    /// The session reached a final status.
    Ended,
}

/// A change to one session, with its state after the change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Update {
    /// What changed.
    pub kind: UpdateKind,
    /// The status before, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<Status>,
    /// The session after the change.
    pub session: SessionState,
}

/// The state file's shape (the seed's `current_session.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The current session's status; `None` (serialized `INACTIVE`) when there is none.
    #[serde(with = "snapshot_status")]
    pub status: Option<Status>,
    /// When this snapshot was taken.
    pub updated_at: Timestamp,
    /// The current session: the most recently changed live one, else the last one to end.
    pub data: Option<SessionState>,
    /// Every live session (`ACTIVE` or `IDLE`).
    pub active_sessions: Vec<SessionState>,
    /// Pid of the cclive process that wrote this; a reader can tell a stale file by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_pid: Option<u32>,
    /// The official subscription limits, as Claude Code last reported them (status line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<crate::statusline::RateLimits>,
}

/// A snapshot's status as the seed's state file writes it: a [`Status`] name, or `INACTIVE`.
mod snapshot_status {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    use super::Status;

    /// The dashboard's word for "no session".
    const INACTIVE: &str = "INACTIVE";

    #[allow(clippy::ref_option, clippy::trivially_copy_pass_by_ref)] // serde passes `&field`.
    pub(super) fn serialize<S: Serializer>(
        status: &Option<Status>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(status.map_or(INACTIVE, Status::as_str))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Status>, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        if name.eq_ignore_ascii_case(INACTIVE) {
            return Ok(None);
        }
        Status::parse(&name)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("unknown status {name:?}")))
    }
}

impl Snapshot {
    /// The snapshot of a monitor that sees nothing.
    pub fn inactive(now: Timestamp) -> Self {
        Self {
            status: None,
            updated_at: now,
            data: None,
            active_sessions: Vec::new(),
            monitor_pid: None,
            rate_limits: None,
        }
    }
}

/// What [`Monitor::apply_for_store`] did: the update, and what a store writes for it.
#[derive(Debug)]
pub struct Applied<'a> {
    /// The update, when anything visible changed.
    pub update: Option<Update>,
    /// The response whose count changed, with the session that holds it.
    pub usage: Option<(&'a SessionState, CountedUsage<'a>)>,
    /// Placeholder keys (`req:<request id>`) merged into a message id: their rows go.
    pub retired_usage: Vec<String>,
}

/// What an applied event changed, before it becomes an [`Update`].
struct Changed {
    kind: UpdateKind,
    previous_status: Option<Status>,
    /// The session it changed (the owner a replayed response was rerouted to).
    session_id: SessionId,
}

/// What applying an event to a session did.
#[derive(Default)]
struct Outcome {
    /// What visibly changed, if anything.
    changed: Option<Changed>,
    /// Whether a usage report counted something new of its response
    /// ([`crate::session::Change::counted`]), visible or not.
    counted: bool,
}

/// Folds events of any number of sessions.
#[derive(Debug, Default)]
pub struct Monitor {
    sessions: BTreeMap<SessionId, SessionState>,
    prices: PriceTable,
    /// Which session each API response (usage key) belongs to: the first to report it (a
    /// resumed or forked session replays earlier responses under its own id; they stay counted
    /// once, where they first appeared); and the key each API request's response is counted
    /// under (telemetry knows a response only by its request id; transcripts know both ids and
    /// link the two).
    index: ResponseIndex,
    /// Placeholder keys merged into a message id since the last
    /// [`Monitor::take_retired_usage_keys`].
    retired_keys: Vec<String>,
}

impl Monitor {
    /// A monitor pricing estimates with `prices`.
    pub fn new(prices: PriceTable) -> Self {
        Self {
            sessions: BTreeMap::new(),
            prices,
            index: ResponseIndex::default(),
            retired_keys: Vec::new(),
        }
    }

    /// Applies one event. Returns the update when anything visible changed.
    pub fn apply(&mut self, event: &Event) -> Option<Update> {
        let changed = self.apply_change(event).changed?;
        self.update(&changed)
    }

    /// The update for a change: with a copy of the session's figures as they are now.
    fn update(&self, changed: &Changed) -> Option<Update> {
        Some(Update {
            kind: changed.kind,
            previous_status: changed.previous_status,
            session: self.sessions.get(&changed.session_id)?.figures(),
        })
    }

    /// Applies one event as [`Monitor::apply`] does; says what changed without copying the
    /// session (an import folds hundreds of thousands of events and publishes none).
    fn apply_change(&mut self, event: &Event) -> Outcome {
        // Unbelievable figures never count (they used to wrap sums): an input error instead.
        let screened = event.check().is_err().then(|| event.clone().screened());
        let event = screened.as_ref().unwrap_or(event);
        // Bad input alone says nothing believable about a session: it never makes one (a broken
        // or hostile payload naming an unknown session would show a phantom, with integrations
        // firing for it). It counts against a session some source announced.
        // Nor does a transient event (a stray streaming delta would be a session of nothing).
        if (event.kind.is_bad_input() || event.kind.is_transient())
            && !self.sessions.contains_key(&event.session_id)
        {
            return Outcome::default();
        }
        let linked = self.link_request(event);
        let event = linked.as_ref().unwrap_or(event);
        if let EventKind::Usage { key, .. } = &event.kind {
            let owner = self.index.claim(key, &event.session_id, &self.sessions);
            if owner != event.session_id && self.sessions.contains_key(&owner) {
                let rerouted = Event {
                    session_id: owner,
                    ..event.clone()
                };
                return self.apply_to_session(&rerouted);
            }
        }
        self.apply_to_session(event)
    }

    /// Applies one event as [`Monitor::apply`] does, and also says what a store must write
    /// for it: the response whose count changed (as the session holding it counts it) and the
    /// placeholder keys that went. A caller that keeps a per-response table needs nothing else
    /// from the monitor.
    pub fn apply_for_store(&mut self, event: &Event) -> Applied<'_> {
        self.apply_for_store_as(event, true)
    }

    /// As [`Monitor::apply_for_store`], without the update (never `Some`): for a caller that
    /// publishes nothing, as an import, which spares a copy of the session per event.
    pub fn count_for_store(&mut self, event: &Event) -> Applied<'_> {
        self.apply_for_store_as(event, false)
    }

    fn apply_for_store_as(&mut self, event: &Event, with_update: bool) -> Applied<'_> {
        let Outcome { changed, counted } = self.apply_change(event);
        let retired_usage = std::mem::take(&mut self.retired_keys);
        let mut usage = None;
        // A report that counted something new of its response — whether or not the session's
        // figures moved: Claude Code's own totals, once reported, already count a response
        // read after them (a sub-agent's file read later, a run resumed under the same id) —
        // or that linked a telemetry report to its message id (the merged count moves to the
        // message id's row; the placeholder's row goes).
        if let EventKind::Usage { key, .. } = &event.kind
            && (changed.is_some() || counted || !retired_usage.is_empty())
        {
            let key = self.usage_key(key);
            let holder = self
                .usage_owner(key)
                .and_then(|id| self.sessions.get(id))
                .or_else(|| {
                    changed
                        .as_ref()
                        .and_then(|c| self.sessions.get(&c.session_id))
                });
            usage = holder.and_then(|h| Some((h, h.counted_usage(key)?)));
        }
        let update = changed
            .filter(|_| with_update)
            .and_then(|changed| self.update(&changed));
        Applied {
            update,
            usage,
            retired_usage,
        }
    }

    /// The key a response reported under `key` is counted under: the message id once any
    /// source has linked a telemetry report's request id to it.
    pub fn usage_key<'a>(&'a self, key: &'a str) -> &'a str {
        usage_key_request(key)
            .and_then(|request| self.index.request_key(request, &self.sessions))
            .unwrap_or(key)
    }

    /// The session a response (by its counted key) belongs to, when the monitor knows it.
    pub fn usage_owner(&self, key: &str) -> Option<&SessionId> {
        self.index.owner(key, &self.sessions)
    }

    /// Placeholder keys (`req:<request id>`) that were merged into the response's message id
    /// since the last call: a store drops their rows (the message id's row holds the usage).
    pub fn take_retired_usage_keys(&mut self) -> Vec<String> {
        std::mem::take(&mut self.retired_keys)
    }

    /// Links request ids to message ids. Returns the event rewritten to the counted key when
    /// it names a response by a request id already linked; merges a placeholder count into the
    /// message id when a report first links the two.
    fn link_request(&mut self, event: &Event) -> Option<Event> {
        match &event.kind {
            EventKind::Usage {
                key,
                request_id: Some(request),
                ..
            } => {
                let Some(known) = self.index.settle_request(request, &self.sessions) else {
                    self.index.set_request_key(request, key);
                    return None;
                };
                if known == *key {
                    None
                } else if is_request_usage_key(key) {
                    // Telemetry after the transcript: count it under the message id.
                    let mut linked = event.clone();
                    if let EventKind::Usage { key, .. } = &mut linked.kind {
                        key.clone_from(&known);
                    }
                    Some(linked)
                } else {
                    if is_request_usage_key(&known) {
                        // Telemetry came first: its count moves to the message id.
                        self.index.set_request_key(request, key);
                        if let Some(owner) = self.index.remove_owner(&known) {
                            // Claimed before the merge counts it there: a session read back
                            // that holds it already keeps it.
                            self.index.claim(key, &owner, &self.sessions);
                            if let Some(session) = self.sessions.get_mut(&owner) {
                                session.merge_usage_key(&known, key, &self.prices);
                            }
                        }
                        self.retired_keys.push(known);
                    }
                    None
                }
            }
            EventKind::ApiResponseDone { message_id, .. } => {
                let key = self.usage_key(message_id);
                (key != message_id).then(|| {
                    let key = key.to_owned();
                    let mut linked = event.clone();
                    if let EventKind::ApiResponseDone { message_id, .. } = &mut linked.kind {
                        *message_id = key;
                    }
                    linked
                })
            }
            _ => None,
        }
    }

    fn apply_to_session(&mut self, event: &Event) -> Outcome {
        let mut kind = None;
        let session = self
            .sessions
            .entry(event.session_id.clone())
            .or_insert_with(|| {
                kind = Some(UpdateKind::Started);
                SessionState::new(event.session_id.clone(), event.at)
            });
        if let EventKind::SessionStarted { source, .. } = &event.kind
            && session.source == Source::Otel
            && *source != Source::Otel
        {
            // A local source takes over: the telemetry reports it cannot match are dropped.
            self.retired_keys.extend(
                session
                    .usage_by_key()
                    .filter(|u| is_telemetry_only_usage_key(u.key))
                    .map(|u| u.key.to_owned()),
            );
        }
        let change = session.apply(event, &self.prices);
        let kind = match (kind, change.status) {
            (Some(k), _) => Some(k),
            (None, Some((_, to))) if !to.is_live() => Some(UpdateKind::Ended),
            (None, Some(_)) => Some(UpdateKind::StatusChanged),
            (None, None) if change.metrics => Some(UpdateKind::Progress),
            (None, None) => None,
        };
        Outcome {
            changed: kind.map(|kind| Changed {
                kind,
                previous_status: change.status.map(|(from, _)| from),
                session_id: event.session_id.clone(),
            }),
            counted: change.counted,
        }
    }

    /// Advances the live durations of every live session to `now`.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Update> {
        self.sessions
            .values_mut()
            .filter_map(|s| {
                s.tick(now).then(|| Update {
                    kind: UpdateKind::Progress,
                    previous_status: None,
                    session: s.figures(),
                })
            })
            .collect()
    }

    /// Adds a session read back from a store (with its ledger restored), so events that follow
    /// a restart continue it instead of starting over. Its usage keys are claimed for it (where
    /// no session held before claims them), though not listed one by one until asked for
    /// (`monitor/response_index.rs`): a long session holds thousands.
    pub fn insert(&mut self, session: SessionState) {
        self.index.add(&session, &self.sessions);
        self.sessions.insert(session.session_id.clone(), session);
    }

    /// Records that the API response `key` belongs to `owner` (e.g. known from the store's usage
    /// table), so a replay of it under another session is not counted again.
    pub fn claim_usage(&mut self, key: &str, owner: &SessionId) {
        self.index.claim(key, owner, &self.sessions);
    }

    /// True when `event` only repeats what its session already holds
    /// ([`SessionState::repeats`]): an event log keeps it once, the first time.
    pub fn repeats(&self, event: &Event) -> bool {
        self.sessions
            .get(&event.session_id)
            .is_some_and(|s| s.repeats(event))
    }

    /// True when the monitor holds this session.
    pub fn contains(&self, id: &SessionId) -> bool {
        self.sessions.contains_key(id)
    }

    /// One session.
    pub fn session(&self, id: &SessionId) -> Option<&SessionState> {
        self.sessions.get(id)
    }

    /// A copy of one session for a store to write, with the changes of its ledger since the
    /// last copy handed over ([`SessionState::hand_over`]): the store writes those, not the
    /// whole ledger.
    pub fn hand_over(&mut self, id: &SessionId) -> Option<SessionState> {
        self.sessions.get_mut(id).map(SessionState::hand_over)
    }

    /// Every session this monitor has seen.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionState> {
        self.sessions.values()
    }

    /// Takes every session out (an import stores them and is done with the monitor: no copy).
    /// The responses of sessions read back that were never asked for go with them.
    pub fn take_sessions(&mut self) -> impl Iterator<Item = SessionState> + use<> {
        self.index.forget_unlisted();
        std::mem::take(&mut self.sessions).into_values()
    }

    /// Forgets finished sessions, keeping the `keep` most recently ended ones. (Their usage keys
    /// stay known, so a late replay of them is not counted again.)
    pub fn prune_finished(&mut self, keep: usize) {
        self.prune_finished_except(keep, |_| false);
    }

    /// Like [`Monitor::prune_finished`], never forgetting a session `changed_lately` names: a
    /// caller gives its store time to have written a session before it may be read back. That
    /// is the caller's clock, not the session's: a catch-up of history changes sessions whose
    /// every time is long past, and one forgotten before its write was committed would be read
    /// back without the change (and the next event's write would overwrite it).
    pub fn prune_finished_except(
        &mut self,
        keep: usize,
        changed_lately: impl Fn(&SessionId) -> bool,
    ) {
        let mut finished: Vec<(Timestamp, SessionId)> = self
            .sessions
            .values()
            .filter(|s| !s.status.is_live())
            .map(|s| (s.updated_at, s.session_id.clone()))
            .collect();
        if finished.len() <= keep {
            return;
        }
        finished.sort();
        let drop = finished.len() - keep;
        for (_, id) in finished.into_iter().take(drop) {
            if changed_lately(&id) {
                continue;
            }
            // Its responses stay known: listed before it goes.
            self.index.list_session(&id, &self.sessions);
            self.sessions.remove(&id);
        }
    }

    /// The state file's content at `now`. Its sessions carry their figures, not their ledgers
    /// ([`SessionState::figures`]): a snapshot lives on after the next change, and one that
    /// shared a long session's ledger made that change copy it.
    pub fn snapshot(&self, now: Timestamp) -> Snapshot {
        self.snapshot_as(now, SessionState::figures)
    }

    /// [`Monitor::snapshot`], each session in it as `view` copies it (the pipeline adds the
    /// responses the store may not hold yet, for the server's window totals). `view` must not
    /// share the ledger (see [`Monitor::snapshot`]).
    pub fn snapshot_as(
        &self,
        now: Timestamp,
        view: impl Fn(&SessionState) -> SessionState,
    ) -> Snapshot {
        let mut live: Vec<SessionState> = self
            .sessions
            .values()
            .filter(|s| s.status.is_live())
            .map(&view)
            .collect();
        live.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.session_id.cmp(&b.session_id))
        });
        let current = live.first().cloned().or_else(|| {
            self.sessions
                .values()
                .max_by_key(|s| (s.ended_at.unwrap_or(s.updated_at), s.updated_at))
                .map(&view)
        });
        Snapshot {
            status: current.as_ref().map(|s| s.status),
            updated_at: now,
            data: current,
            active_sessions: live,
            monitor_pid: None,
            rate_limits: self
                .sessions
                .values()
                .filter_map(|s| Some((s.rate_limits.as_ref()?, s.updated_at)))
                .max_by_key(|(limits, updated_at)| (limits.reported_at, *updated_at))
                .map(|(limits, _)| limits.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Mode;
    use crate::usage::Tokens;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn ev(id: &str, at: &str, kind: EventKind) -> Event {
        Event::new(SessionId::new(id), ts(at), kind)
    }

    fn started(id: &str, at: &str) -> Event {
        ev(
            id,
            at,
            EventKind::SessionStarted {
                mode: Mode::Print,
                command: Some("claude -p hi".into()),
                cwd: Some("/w".into()),
                project_path: None,
                session_type: None,
                source: Source::Wrapper,
            },
        )
    }

    /// A final response of `model` that wrote `output` tokens.
    fn output_usage(id: &str, at: &str, key: &str, model: &str, output: u64) -> Event {
        ev(
            id,
            at,
            EventKind::Usage {
                key: key.into(),
                request_id: None,
                reported_cost_usd: None,
                model: Some(model.into()),
                tokens: Tokens {
                    output,
                    ..Tokens::default()
                },
                is_final: true,
                sidechain: false,
            },
        )
    }

    #[test]
    fn updates_and_snapshots_hold_no_share_of_a_sessions_ledger() {
        let mut m = Monitor::default();
        let id = SessionId::new("a");
        m.apply(&started("a", "2026-11-25T10:00:00Z"));
        let usage =
            |key: &str| output_usage("a", "2026-11-25T10:00:01Z", key, "claude-opus-5-5", 5);
        let update = m.apply(&usage("msg_1")).unwrap();
        let ticked = m.tick(ts("2026-11-25T10:00:09Z"));
        let snapshot = m.snapshot(ts("2026-11-25T10:00:09Z"));
        let held = m.session(&id).unwrap();
        // Held on (a webhook's queue, the published snapshot), a share would make the
        // session's next change copy its whole ledger.
        assert_eq!(held.ledger_shares(), 1, "nothing else holds the ledger");
        assert_eq!(update.session.usage_by_key().len(), 0, "figures only");
        assert!(update.session.is_figures_only() && !held.is_figures_only());
        assert_eq!(update.session.tokens, held.tokens);
        assert_eq!(ticked.len(), 1);
        assert_eq!(
            snapshot.active_sessions[0].total_cost_usd,
            held.total_cost_usd
        );
        // A copy for the writer shares it (it is written, then dropped).
        let handed = m.hand_over(&id).unwrap();
        assert_eq!(handed.ledger_shares(), 2);
        assert_eq!(handed.usage_by_key().len(), 1);
        // The figures with the responses a store may not hold yet: those only.
        m.apply(&usage("msg_2"));
        let fresh = m
            .session(&id)
            .unwrap()
            .figures_with_usage(["msg_2", "msg_9"]);
        let keys: Vec<&str> = fresh.usage_by_key().map(|u| u.key).collect();
        assert_eq!(keys, ["msg_2"]);
    }

    #[test]
    fn an_absurd_usage_is_counted_as_an_input_error_not_summed() {
        let mut m = Monitor::default();
        m.apply(&started("a", "2026-11-25T10:00:00Z"));
        let usage = |key: &str, output| {
            output_usage("a", "2026-11-25T10:00:01Z", key, "claude-opus-5-5", output)
        };
        m.apply(&usage("msg_1", 5));
        m.apply(&usage("msg_2", u64::MAX));
        let s = m.session(&SessionId::new("a")).unwrap();
        assert_eq!(s.tokens.output, 5, "the absurd report is not summed");
        assert_eq!(s.input_errors, 1, "it is counted as bad input");
        assert!(
            s.total_cost_usd < 1.0,
            "no wrapped cost: {}",
            s.total_cost_usd
        );
    }

    #[test]
    fn counting_for_a_store_says_what_applying_for_it_says_without_the_update() {
        let usage = |id: &str, at: &str, key: &str, output| {
            output_usage(id, at, key, "claude-opus-4-1", output)
        };
        let events = [
            started("a", "2026-11-25T10:00:00Z"),
            usage("a", "2026-11-25T10:00:01Z", "msg_1", 5),
            started("b", "2026-11-25T10:01:00Z"),
            // A resumed session replays msg_1: it stays a's, rerouted there.
            usage("b", "2026-11-25T10:01:01Z", "msg_1", 7),
            usage("b", "2026-11-25T10:01:02Z", "msg_2", 3),
        ];
        let (mut applying, mut counting) = (Monitor::default(), Monitor::default());
        for event in &events {
            let applied = applying.apply_for_store(event);
            let said = (
                applied
                    .update
                    .as_ref()
                    .map(|u| u.session.session_id.clone()),
                applied
                    .usage
                    .map(|(h, u)| (h.session_id.clone(), u.key.to_owned(), u.tokens)),
            );
            let counted = counting.count_for_store(event);
            assert!(counted.update.is_none(), "no copy of the session");
            let usage = counted
                .usage
                .map(|(h, u)| (h.session_id.clone(), u.key.to_owned(), u.tokens));
            assert_eq!(usage, said.1, "{event:?}");
            if matches!(event.kind, EventKind::Usage { .. }) {
                assert!(said.0.is_some() && usage.is_some(), "{event:?}");
            }
        }
        let owner = |m: &Monitor| m.usage_owner("msg_1").cloned();
        assert_eq!(owner(&counting), Some(SessionId::new("a")));
        assert_eq!(owner(&applying), owner(&counting));
    }

    #[test]
    fn bad_input_alone_makes_no_session_but_counts_against_a_known_one() {
        let mut m = Monitor::default();
        let bad = |id: &str| {
            ev(
                id,
                "2026-11-25T10:00:01Z",
                EventKind::InputError {
                    source: "event".into(),
                    message: "bad usage".into(),
                },
            )
        };
        let unknown = ev(
            "ghost",
            "2026-11-25T10:00:01Z",
            EventKind::UnknownRecord {
                record_type: "hook/Nonsense".into(),
            },
        );
        assert!(m.apply(&bad("ghost")).is_none());
        assert!(m.apply(&unknown).is_none());
        assert!(!m.contains(&SessionId::new("ghost")), "no phantom session");
        m.apply(&started("a", "2026-11-25T10:00:00Z"));
        m.apply(&bad("a"));
        assert_eq!(m.session(&SessionId::new("a")).unwrap().input_errors, 1);
    }

    #[test]
    fn what_a_session_holds_already_is_a_repeat() {
        let mut m = Monitor::default();
        let tool = ev(
            "a",
            "2026-11-25T10:00:01Z",
            EventKind::ToolUse {
                tool_use_id: "toolu_1".into(),
                name: "Bash".into(),
                sidechain: false,
            },
        );
        let ended = ev(
            "a",
            "2026-11-25T10:00:02Z",
            EventKind::SessionEnded { reason: None },
        );
        let start = started("a", "2026-11-25T10:00:00Z");
        assert!(!m.repeats(&start), "an unknown session's start is news");
        m.apply(&start);
        assert!(m.repeats(&started("a", "2026-11-25T10:00:00Z")));
        assert!(!m.repeats(&tool));
        m.apply(&tool);
        assert!(m.repeats(&tool));
        assert!(!m.repeats(&ended));
        m.apply(&ended);
        assert!(m.repeats(&ended));
    }

    #[test]
    fn reports_start_progress_and_end() {
        let mut m = Monitor::default();
        let u = m.apply(&started("a", "2026-11-25T10:00:00Z")).unwrap();
        assert_eq!(u.kind, UpdateKind::Started);
        assert_eq!(u.session.status, Status::Active);

        let u = m
            .apply(&ev(
                "a",
                "2026-11-25T10:00:01Z",
                EventKind::ToolUse {
                    tool_use_id: "t1".into(),
                    name: "Bash".into(),
                    sidechain: false,
                },
            ))
            .unwrap();
        assert_eq!(u.kind, UpdateKind::Progress);

        let u = m
            .apply(&ev(
                "a",
                "2026-11-25T10:00:02Z",
                EventKind::ProcessExited {
                    code: Some(0),
                    signal: None,
                },
            ))
            .unwrap();
        assert_eq!(u.kind, UpdateKind::Ended);
        assert_eq!(u.previous_status, Some(Status::Active));
        assert_eq!(u.session.status, Status::Completed);
    }

    #[test]
    fn snapshot_lists_every_live_session_and_picks_the_latest() {
        let mut m = Monitor::default();
        assert_eq!(m.snapshot(ts("2026-11-25T10:00:00Z")).status, None);
        m.apply(&started("a", "2026-11-25T10:00:00Z"));
        m.apply(&started("b", "2026-11-25T10:00:05Z"));
        let snap = m.snapshot(ts("2026-11-25T10:00:06Z"));
        assert_eq!(snap.status, Some(Status::Active));
        assert_eq!(snap.active_sessions.len(), 2);
        assert_eq!(snap.data.unwrap().session_id.as_str(), "b");

        m.apply(&ev(
            "b",
            "2026-11-25T10:00:07Z",
            EventKind::ProcessExited {
                code: Some(0),
                signal: None,
            },
        ));
        let snap = m.snapshot(ts("2026-11-25T10:00:08Z"));
        assert_eq!(snap.active_sessions.len(), 1);
        assert_eq!(
            snap.data.unwrap().session_id.as_str(),
            "a",
            "a live session wins over a finished one"
        );

        m.apply(&ev(
            "a",
            "2026-11-25T10:00:09Z",
            EventKind::ProcessExited {
                code: Some(1),
                signal: None,
            },
        ));
        let snap = m.snapshot(ts("2026-11-25T10:00:10Z"));
        assert_eq!(
            snap.status,
            Some(Status::Failed),
            "the last session to end is shown"
        );
        assert!(snap.active_sessions.is_empty());
    }

    fn limits_reported(id: &str, at: &str, used: f64) -> Event {
        ev(
            id,
            at,
            EventKind::StatusLine {
                total_cost_usd: 0.1,
                duration_ms: None,
                duration_api_ms: None,
                lines_added: 0,
                lines_removed: 0,
                context_used_percentage: None,
                model: None,
                rate_limits: Some(crate::statusline::RateLimits {
                    five_hour: Some(crate::statusline::RateLimit {
                        used_percentage: used,
                        resets_at: None,
                    }),
                    seven_day: None,
                    reported_at: None,
                }),
            },
        )
    }

    #[test]
    fn the_snapshot_carries_the_latest_official_limits_with_their_time() {
        let mut m = Monitor::default();
        m.apply(&started("a", "2026-11-25T10:00:00Z"));
        m.apply(&started("b", "2026-11-25T10:00:00Z"));
        m.apply(&limits_reported("a", "2026-11-25T10:05:00Z", 40.0));
        m.apply(&limits_reported("b", "2026-11-25T10:01:00Z", 10.0));
        // `b` changed last, but `a`'s figures are the newer report.
        m.apply(&ev(
            "b",
            "2026-11-25T10:06:00Z",
            EventKind::Title { title: "t".into() },
        ));
        let limits = m.snapshot(ts("2026-11-25T10:07:00Z")).rate_limits.unwrap();
        assert_eq!(limits.five_hour.unwrap().used_percentage, 40.0);
        assert_eq!(limits.reported_at, Some(ts("2026-11-25T10:05:00Z")));
    }

    #[test]
    fn no_update_when_nothing_changed() {
        let mut m = Monitor::default();
        m.apply(&started("a", "2026-11-25T10:00:00Z"));
        let status = ev("a", "2026-11-25T10:00:00Z", EventKind::Other);
        assert!(m.apply(&status).is_none());
    }

    #[test]
    fn a_replayed_response_counts_once_where_it_first_appeared() {
        let mut m = Monitor::default();
        let usage = |id: &str, output| {
            ev(
                id,
                "2026-11-25T10:00:01Z",
                EventKind::Usage {
                    key: "msg_1:req_1".into(),
                    request_id: None,
                    reported_cost_usd: None,
                    model: Some("claude-sonnet-4-5".into()),
                    tokens: Tokens {
                        input: 100,
                        output,
                        ..Tokens::default()
                    },
                    is_final: false,
                    sidechain: false,
                },
            )
        };
        m.apply(&started("orig", "2026-11-25T10:00:00Z"));
        m.apply(&usage("orig", 10));
        m.apply(&started("resumed", "2026-11-25T11:00:00Z"));
        m.apply(&usage("resumed", 10));
        m.apply(&usage("resumed", 12));
        assert_eq!(
            m.session(&SessionId::new("orig")).unwrap().tokens.output,
            12
        );
        assert_eq!(
            m.session(&SessionId::new("resumed")).unwrap().tokens.output,
            0
        );
    }

    #[test]
    fn prune_keeps_live_sessions() {
        let mut m = Monitor::default();
        m.apply(&started("a", "2026-11-25T10:00:00Z"));
        m.apply(&started("b", "2026-11-25T10:00:01Z"));
        m.apply(&ev(
            "b",
            "2026-11-25T10:00:02Z",
            EventKind::ProcessExited {
                code: Some(0),
                signal: None,
            },
        ));
        m.prune_finished(0);
        assert_eq!(m.sessions().count(), 1);
        assert!(m.session(&SessionId::new("a")).is_some());
    }

    /// The state file keeps the seed's words: a status name, or `INACTIVE`.
    #[test]
    fn the_snapshot_status_is_written_and_read_as_the_seeds_words() {
        let mut snap = Snapshot::inactive(ts("2026-11-25T10:00:00Z"));
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(json["status"], "INACTIVE");
        assert_eq!(serde_json::from_value::<Snapshot>(json).unwrap(), snap);
        snap.status = Some(Status::Idle);
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(json["status"], "IDLE");
        assert_eq!(serde_json::from_value::<Snapshot>(json).unwrap(), snap);
        let mut bad = serde_json::to_value(&snap).unwrap();
        bad["status"] = "SLEEPING".into();
        assert!(serde_json::from_value::<Snapshot>(bad).is_err());
    }

    /// The state file (`current_session.json`) is read by the dashboard, the status line, the
    /// editor extension and users' scripts: its exact shape, for a live and an ended session.
    #[test]
    fn state_file_shape_snapshot() {
        // An unpriced model: the shape, not the price list, is under test.
        let mut m = Monitor::default();
        m.apply(&started("a", "2026-11-25T10:00:00Z"));
        m.apply(&ev(
            "a",
            "2026-11-25T10:00:02Z",
            EventKind::Usage {
                key: "msg_1".into(),
                request_id: Some("req_1".into()),
                reported_cost_usd: None,
                model: Some("claude-unpriced-test".into()),
                tokens: Tokens {
                    input: 1200,
                    output: 42,
                    cache_read: 5000,
                    cache_creation: 300,
                    ..Tokens::default()
                },
                is_final: true,
                sidechain: false,
            },
        ));
        m.apply(&started("b", "2026-11-25T09:00:00Z"));
        m.apply(&ev(
            "b",
            "2026-11-25T09:10:00Z",
            EventKind::SessionEnded { reason: None },
        ));
        let mut snapshot = m.snapshot(ts("2026-11-25T10:00:05Z"));
        snapshot.monitor_pid = Some(4242);
        insta::assert_json_snapshot!("state_file", snapshot);
        insta::assert_json_snapshot!(
            "state_file_inactive",
            Monitor::default().snapshot(ts("2026-11-25T10:00:05Z"))
        );
    }
}
