//! Which session each API response belongs to, and which key each API request's response is
//! counted under: the monitor's two indexes over every session it holds, listed lazily for the
//! sessions it reads back.
//!
//! A session read back from a store brings every response it counted: a long one, thousands.
//! Listing each (its message id, its request id) in both indexes as the session came in was an
//! incremental import's largest single cost after reading the ledgers, though such an import
//! then touches a few of them. So a session read back is *unlisted*: its responses under
//! message ids are looked up in its own ledger when asked for (in the order the sessions came
//! in, as listing them in turn would have decided), and listed one by one as they are. Its
//! request ids are hashed into a small set, so a request id that is none of its own costs a
//! probe, not a walk of its ledger.
//!
//! What it answers is what listing every session as it came in would answer — the
//! `an_unlisted_session_answers_as_a_listed_one` property test below holds it to that. This
//! rests on what a ledger can lose: a response under a message id never leaves one (only
//! telemetry's own keys do: a placeholder merged into its message id, or a report dropped when
//! a local source takes over), so those keys are listed at once, and a session about to leave
//! the monitor, or to be replaced by another copy, is listed first.
//!
//! It owns these indexes only: never what a session counts (`session.rs`) nor when an event is
//! rerouted (the monitor).

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use crate::event::{is_request_usage_key, is_telemetry_only_usage_key};
use crate::fast_hash::{FastMap, FastSet, FastState};
use crate::ids::SessionId;
use crate::session::SessionState;

/// Sessions left unlisted at most; past them, the next insert lists them all (each lookup of
/// a key no index holds reads every unlisted session's ledger).
const MAX_UNLISTED: usize = 32;

/// The two indexes. Every method that reads an unlisted session's ledger takes the monitor's
/// sessions.
#[derive(Debug, Default)]
pub(super) struct ResponseIndex {
    /// Which session each API response (usage key) belongs to: the first to report it.
    owners: FastMap<String, SessionId>,
    /// The key each API request's response is counted under.
    request_keys: FastMap<String, String>,
    /// Sessions whose responses under message ids are not in the maps above, oldest first.
    unlisted: Vec<Unlisted>,
    /// Hashes request ids for [`Unlisted::requests`].
    hasher: FastState,
}

#[derive(Debug)]
struct Unlisted {
    id: SessionId,
    /// The hashes of the request ids of its responses under message ids.
    requests: FastSet<u64>,
}

type Sessions = BTreeMap<SessionId, SessionState>;

/// True for a key that can leave a ledger: telemetry's placeholder for a message id not known
/// yet, or a telemetry report that names no request.
fn can_leave(key: &str) -> bool {
    is_request_usage_key(key) || is_telemetry_only_usage_key(key)
}

impl ResponseIndex {
    /// The session `key` belongs to, when any holds it.
    pub(super) fn owner<'a>(&'a self, key: &str, sessions: &'a Sessions) -> Option<&'a SessionId> {
        self.owners
            .get(key)
            .or_else(|| self.unlisted_owner(key, sessions))
    }

    /// The first unlisted session (oldest first) that counts `key`.
    fn unlisted_owner<'a>(&'a self, key: &str, sessions: &Sessions) -> Option<&'a SessionId> {
        if can_leave(key) {
            return None; // listed as its session came in
        }
        self.unlisted.iter().map(|u| &u.id).find(|id| {
            sessions
                .get(*id)
                .is_some_and(|s| s.counted_usage(key).is_some())
        })
    }

    /// The owner of `key`: the session it belongs to, else `claimant`, which owns it from now.
    pub(super) fn claim(
        &mut self,
        key: &str,
        claimant: &SessionId,
        sessions: &Sessions,
    ) -> SessionId {
        if let Some(owner) = self.owners.get(key) {
            return owner.clone();
        }
        let owner = self
            .unlisted_owner(key, sessions)
            .unwrap_or(claimant)
            .clone();
        self.owners.insert(key.to_owned(), owner.clone());
        owner
    }

    /// Forgets the owner of `key`, a placeholder merged into its message id.
    pub(super) fn remove_owner(&mut self, key: &str) -> Option<SessionId> {
        debug_assert!(
            can_leave(key),
            "only telemetry's keys leave a ledger: {key}"
        );
        self.owners.remove(key)
    }

    /// The key the response to `request` is counted under, when any session knows.
    pub(super) fn request_key<'a>(
        &'a self,
        request: &str,
        sessions: &'a Sessions,
    ) -> Option<&'a str> {
        let listed = self.request_keys.get(request).map(String::as_str);
        // A message id listed wins; a placeholder gives way to an unlisted session's message id
        // (as listing that session would have replaced it).
        if listed.is_some_and(|key| !is_request_usage_key(key)) {
            return listed;
        }
        self.unlisted_request_key(request, sessions).or(listed)
    }

    /// The message id an unlisted session (oldest first) counts the response to `request`
    /// under.
    fn unlisted_request_key<'a>(&self, request: &str, sessions: &'a Sessions) -> Option<&'a str> {
        if self.unlisted.is_empty() {
            return None;
        }
        let hash = self.hasher.hash_one(request);
        self.unlisted
            .iter()
            .filter(|u| u.requests.contains(&hash))
            .filter_map(|u| sessions.get(&u.id))
            .find_map(|s| message_id_of(s, request))
    }

    /// [`ResponseIndex::request_key`], listed from now on.
    pub(super) fn settle_request(&mut self, request: &str, sessions: &Sessions) -> Option<String> {
        let key = self.request_key(request, sessions)?.to_owned();
        if self.request_keys.get(request) != Some(&key) {
            self.request_keys.insert(request.to_owned(), key.clone());
        }
        Some(key)
    }

    /// Counts the response to `request` under `key` from now on.
    pub(super) fn set_request_key(&mut self, request: &str, key: &str) {
        self.request_keys.insert(request.to_owned(), key.to_owned());
    }

    /// Takes in a session read back (before the monitor holds it). Telemetry's keys are listed
    /// now, as listing it whole would have; the rest stays in its ledger until asked for.
    pub(super) fn add(&mut self, session: &SessionState, sessions: &Sessions) {
        // Another copy of a session held: what the one held counted stays as it was listed.
        if let Some(i) = self
            .unlisted
            .iter()
            .position(|u| u.id == session.session_id)
        {
            self.list(i, sessions);
        }
        if self.unlisted.len() >= MAX_UNLISTED {
            self.list_all(sessions);
        }
        // Made at its size once (a long session has thousands), not doubled as it fills.
        let mut requests =
            FastSet::with_capacity_and_hasher(session.usage_by_key().len(), FastState::default());
        for usage in session.usage_by_key() {
            if can_leave(usage.key) {
                self.list_response(&session.session_id, usage.key, usage.request_id, sessions);
            } else if let Some(request) = usage.request_id {
                requests.insert(self.hasher.hash_one(request));
            }
        }
        self.unlisted.push(Unlisted {
            id: session.session_id.clone(),
            requests,
        });
    }

    /// Lists one response of `owner`'s as listing its session whole does: the first session to
    /// count a key owns it, and a request's message id replaces its placeholder.
    fn list_response(
        &mut self,
        owner: &SessionId,
        key: &str,
        request: Option<&str>,
        sessions: &Sessions,
    ) {
        self.claim(key, owner, sessions);
        if let Some(request) = request {
            match self.settle_request(request, sessions) {
                Some(known) if !is_request_usage_key(&known) || is_request_usage_key(key) => {}
                _ => self.set_request_key(request, key),
            }
        }
    }

    /// Lists the unlisted session `id`, if it is (it is about to leave the monitor).
    pub(super) fn list_session(&mut self, id: &SessionId, sessions: &Sessions) {
        if let Some(i) = self.unlisted.iter().position(|u| u.id == *id) {
            self.list(i, sessions);
        }
    }

    /// Forgets the unlisted sessions (the monitor lets go of every session it holds).
    pub(super) fn forget_unlisted(&mut self) {
        self.unlisted.clear();
    }

    /// Lists every unlisted session.
    pub(super) fn list_all(&mut self, sessions: &Sessions) {
        while !self.unlisted.is_empty() {
            self.list(0, sessions);
        }
    }

    /// Lists the `i`-th unlisted session as listing it when it came in would have: a key or
    /// a request an older unlisted session counts too stays that one's.
    fn list(&mut self, i: usize, sessions: &Sessions) {
        let id = self.unlisted[i].id.clone();
        if let Some(session) = sessions.get(&id) {
            let older = &self.unlisted[..i];
            let responses = session.usage_by_key().len();
            let mut owners = Vec::with_capacity(responses);
            let mut requests = Vec::with_capacity(responses);
            for usage in session.usage_by_key().filter(|u| !can_leave(u.key)) {
                if !self.owners.contains_key(usage.key) {
                    let older_owner = older.iter().map(|u| &u.id).find(|older| {
                        sessions
                            .get(*older)
                            .is_some_and(|s| s.counted_usage(usage.key).is_some())
                    });
                    owners.push((usage.key, older_owner.unwrap_or(&id).clone()));
                }
                if let Some(request) = usage.request_id
                    && self
                        .request_keys
                        .get(request)
                        .is_none_or(|known| is_request_usage_key(known))
                {
                    let hash = self.hasher.hash_one(request);
                    let older_key = older
                        .iter()
                        .filter(|u| u.requests.contains(&hash))
                        .filter_map(|u| sessions.get(&u.id))
                        .find_map(|s| message_id_of(s, request));
                    requests.push((request, older_key.unwrap_or(usage.key)));
                }
            }
            self.owners.reserve(owners.len());
            for (key, owner) in owners {
                self.owners.entry(key.to_owned()).or_insert(owner);
            }
            self.request_keys.reserve(requests.len());
            for (request, key) in requests {
                // The first message id found for a request stays, as in a listing one by one.
                match self.request_keys.get_mut(request) {
                    Some(known) if is_request_usage_key(known) => key.clone_into(known),
                    Some(_) => {}
                    None => {
                        self.request_keys.insert(request.to_owned(), key.to_owned());
                    }
                }
            }
        }
        self.unlisted.remove(i);
    }
}

/// The message id `session` counts the response to `request` under.
fn message_id_of<'a>(session: &'a SessionState, request: &str) -> Option<&'a str> {
    session
        .usage_by_key()
        .find(|usage| usage.request_id == Some(request) && !can_leave(usage.key))
        .map(|usage| usage.key)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use proptest::prelude::*;

    use super::super::Monitor;
    use crate::event::{Event, EventKind, Mode, Source};
    use crate::pricing::PriceTable;
    use crate::usage::Tokens;

    fn at(secs: u32) -> Timestamp {
        Timestamp::from_second(1_795_600_000 + i64::from(secs)).unwrap()
    }

    const SESSIONS: [&str; 6] = ["a", "b", "c", "d", "x", "y"];

    /// A usage report from a few small numbers: response `n` under its message id, its request's
    /// placeholder (telemetry's, which names its request) or a telemetry key of its own; its
    /// request id mostly its own (`req_n` goes with `msg_n`, as the API has it), in `stray`
    /// reports under a message id another's.
    fn usage(n: u8, m: u8, stray: bool) -> EventKind {
        let n = n % 10;
        let (key, request) = match m % 7 {
            0 => (format!("req:req_{n}"), Some(n)),
            1 => (
                format!("otel:{}", n % 4),
                (!m.is_multiple_of(5)).then_some(n),
            ),
            _ => (
                format!("msg_{n}"),
                (!m.is_multiple_of(5)).then_some(if stray { (n + 1) % 10 } else { n }),
            ),
        };
        EventKind::Usage {
            key,
            request_id: request.map(|r| format!("req_{r}")),
            reported_cost_usd: None,
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                input: u64::from(m % 3),
                output: u64::from(m % 4) + 1,
                ..Tokens::default()
            },
            is_final: true,
            sidechain: m.is_multiple_of(6),
        }
    }

    fn started(source: Source) -> EventKind {
        EventKind::SessionStarted {
            mode: Mode::Interactive,
            command: None,
            cwd: None,
            project_path: None,
            session_type: None,
            source,
        }
    }

    /// A session as a store reads it back: folded alone from `reports` (`(n, m)` as in
    /// [`usage`], never stray: a stored ledger names each request with its own message id).
    fn read_back(id: &str, telemetry: bool, reports: &[(u8, u8)]) -> crate::SessionState {
        let prices = PriceTable::builtin();
        let source = if telemetry {
            Source::Otel
        } else {
            Source::Transcript
        };
        let mut s = crate::SessionState::new(crate::SessionId::new(id), at(0));
        s.apply(
            &Event::new(s.session_id.clone(), at(0), started(source)),
            &prices,
        );
        for (i, &(n, m)) in reports.iter().enumerate() {
            let secs = u32::try_from(i).unwrap_or(0) + 1;
            s.apply(
                &Event::new(s.session_id.clone(), at(secs), usage(n, m, false)),
                &prices,
            );
        }
        s
    }

    /// What both monitors are asked, everything they can say about every key and request.
    fn answers(m: &Monitor) -> Vec<(String, Option<crate::SessionId>, String)> {
        (0..10)
            .flat_map(|n| {
                [
                    format!("msg_{n}"),
                    format!("req:req_{n}"),
                    format!("otel:{}", n % 4),
                ]
            })
            .map(|key| {
                let owner = m.usage_owner(&key).cloned();
                let counted = m.usage_key(&key).to_owned();
                (key, owner, counted)
            })
            .collect()
    }

    type Reports = Vec<(u8, u8)>;

    /// A session (or an update), with its ledger, as compared: its sums of costs to 12
    /// significant digits. Two monitors' ledgers hash with different seeds, so a cost summed
    /// over a ledger (telemetry's reports dropped) may differ in its last bit between them.
    fn as_compared(x: &impl serde::Serialize) -> serde_json::Value {
        fn round(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::Number(n) if n.is_f64() => {
                    let x = n.as_f64().unwrap_or_default();
                    let rounded: f64 = format!("{x:.11e}").parse().unwrap_or(x);
                    *v = serde_json::json!(rounded);
                }
                serde_json::Value::Array(items) => items.iter_mut().for_each(round),
                serde_json::Value::Object(fields) => fields.values_mut().for_each(round),
                _ => {}
            }
        }
        let mut v = serde_json::to_value(x).unwrap();
        round(&mut v);
        v
    }

    /// A session, its ledger included, as compared.
    fn session_compared(s: &crate::SessionState) -> serde_json::Value {
        serde_json::json!([as_compared(s), as_compared(&s.ledger_json())])
    }

    /// Keys retired together, in an order of no meaning (a ledger's).
    fn sorted(mut keys: Vec<String>) -> Vec<String> {
        keys.sort();
        keys
    }

    fn read_backs() -> impl Strategy<Value = Vec<(bool, Reports)>> {
        proptest::collection::vec(
            (
                any::<bool>(),
                proptest::collection::vec((any::<u8>(), any::<u8>()), 0..12),
            ),
            0..4,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn an_unlisted_session_answers_as_a_listed_one(
            stored in read_backs(),
            later in read_backs(),
            steps in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 0..40),
        ) {
            let prices = PriceTable::builtin();
            let mut lazy = Monitor::new(prices.clone());
            let mut listed = Monitor::new(prices);
            let insert = |lazy: &mut Monitor, listed: &mut Monitor, i: usize, s: &(bool, Reports)| {
                let session = read_back(SESSIONS[i % 4], s.0, &s.1);
                lazy.insert(session.clone());
                listed.insert(session);
                listed.index.list_all(&listed.sessions);
            };
            for (i, s) in stored.iter().enumerate() {
                insert(&mut lazy, &mut listed, i, s);
            }
            for (step, &(op, n, m)) in steps.iter().enumerate() {
                let id = crate::SessionId::new(SESSIONS[usize::from(n) % SESSIONS.len()]);
                let secs = 100 + u32::try_from(step).unwrap_or(0);
                let kind = match op % 12 {
                    // A session read back (again) midway.
                    0 if !later.is_empty() => {
                        let i = usize::from(n) % later.len();
                        insert(&mut lazy, &mut listed, i + usize::from(m), &later[i]);
                        continue;
                    }
                    1 => {
                        let key = format!("msg_{}", m % 10);
                        lazy.claim_usage(&key, &id);
                        listed.claim_usage(&key, &id);
                        prop_assert_eq!(answers(&lazy), answers(&listed));
                        continue;
                    }
                    2 => {
                        lazy.prune_finished(usize::from(m % 3));
                        listed.prune_finished(usize::from(m % 3));
                        prop_assert_eq!(answers(&lazy), answers(&listed));
                        continue;
                    }
                    3 => started(if m % 2 == 0 { Source::Otel } else { Source::Transcript }),
                    4 => EventKind::SessionEnded { reason: None },
                    5 => EventKind::ApiResponseDone {
                        message_id: if m % 2 == 0 {
                            format!("req:req_{}", n % 10)
                        } else {
                            format!("msg_{}", n % 10)
                        },
                        duration_ms: Some(5),
                    },
                    _ => usage(m, n, op % 12 == 6),
                };
                let event = Event::new(id, at(secs), kind);
                let from_lazy = lazy.apply_for_store(&event);
                let from_lazy = (
                    from_lazy.update.as_ref().map(|u| (as_compared(u), session_compared(&u.session))),
                    from_lazy.usage.map(|(s, c)| (s.session_id.clone(), format!("{c:?}"))),
                    sorted(from_lazy.retired_usage),
                );
                let from_listed = listed.apply_for_store(&event);
                let from_listed = (
                    from_listed.update.as_ref().map(|u| (as_compared(u), session_compared(&u.session))),
                    from_listed.usage.map(|(s, c)| (s.session_id.clone(), format!("{c:?}"))),
                    sorted(from_listed.retired_usage),
                );
                prop_assert_eq!(from_lazy, from_listed, "{:?}", event);
                prop_assert_eq!(answers(&lazy), answers(&listed), "after {:?}", event);
            }
            let lazy: Vec<_> = lazy.sessions().map(session_compared).collect();
            let listed: Vec<_> = listed.sessions().map(session_compared).collect();
            prop_assert_eq!(lazy, listed);
        }
    }
}
