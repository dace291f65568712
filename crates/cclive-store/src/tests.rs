//! What every [`Store`] must do, written against the trait alone so the same specification can
//! run against each backend (only `SQLite` exists so far). Backend details — pragmas, migrations,
//! several handles on one file, corrupt rows — are specified beside the backend.

use cclive_core::{Event, EventKind, Mode, PriceTable, SessionId, SessionState, Status, Tokens};
use jiff::Timestamp;

use crate::{SessionQuery, SqliteStore, Store, StoreError};

/// The backend under test.
fn store() -> impl Store {
    SqliteStore::open_in_memory().unwrap()
}

/// `secs` seconds after a fixed instant.
pub(crate) fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_795_600_000 + secs).unwrap()
}

pub(crate) fn event(id: &str, secs: i64, kind: EventKind) -> Event {
    Event::new(SessionId::new(id), t(secs), kind)
}

/// What a wrapped `claude -p` in `project` reports, one second apart from `t(start)`: a start,
/// init, a prompt, one API response, a tool call and a retry. The session is still `ACTIVE`.
pub(crate) fn running(id: &str, start: i64, project: &str) -> (SessionState, Vec<Event>) {
    let kinds = vec![
        EventKind::SessionStarted {
            mode: Mode::Print,
            command: Some("claude -p 'fix the bug'".into()),
            cwd: Some(project.into()),
            project_path: Some(project.into()),
            session_type: Some("review".into()),
            source: "wrapper".into(),
        },
        EventKind::Init {
            claude_session_id: id.into(),
            model: Some("claude-sonnet-4-5".into()),
            cwd: Some(project.into()),
            claude_version: Some("2.1.332".into()),
        },
        EventKind::PromptSubmitted {
            id: None,
            preview: Some("fix the bug".into()),
        },
        EventKind::ApiRequest {
            message_id: Some("msg_1".into()),
        },
        EventKind::Usage {
            key: "msg_1".into(),
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                input: 1200,
                output: 42,
                cache_read: 5000,
                cache_creation: 300,
            },
            is_final: true,
            sidechain: false,
        },
        EventKind::ApiResponseDone {
            message_id: "msg_1".into(),
            duration_ms: Some(900),
        },
        EventKind::ToolUse {
            tool_use_id: "toolu_1".into(),
            name: "Bash".into(),
            sidechain: false,
        },
        EventKind::ToolResult {
            tool_use_id: "toolu_1".into(),
            is_error: false,
            duration_ms: Some(30),
            sidechain: false,
        },
        EventKind::ApiRetry {
            attempt: 1,
            error_status: Some(529),
            error: Some("overloaded".into()),
        },
    ];
    fold(id, start, kinds)
}

/// A session whose every optional field is set: resumed under another Claude Code id, an
/// unpriced model, unreadable and unknown input, and a failed ending with an exit code.
fn everything(id: &str) -> (SessionState, Vec<Event>) {
    let (_, mut events) = running(id, 0, "/work/app");
    let more = [
        EventKind::Init {
            claude_session_id: "resumed-from-elsewhere".into(),
            model: None,
            cwd: None,
            claude_version: None,
        },
        EventKind::Usage {
            key: "msg_2".into(),
            model: Some("claude-mystery-9".into()),
            tokens: Tokens {
                input: 10,
                output: 5,
                cache_read: 0,
                cache_creation: 0,
            },
            is_final: true,
            sidechain: true,
        },
        EventKind::InputError {
            source: "stream-json".into(),
            message: "not JSON".into(),
        },
        EventKind::UnknownRecord {
            record_type: "atis-latch".into(),
        },
        EventKind::Result {
            is_error: true,
            total_cost_usd: None,
            duration_ms: Some(12_345),
            duration_api_ms: Some(6_789),
            num_turns: Some(3),
            tokens: None,
            model: None,
            error: Some("API Error: 529 Overloaded".into()),
        },
        EventKind::ProcessExited {
            code: Some(1),
            signal: None,
        },
    ];
    let start = i64::try_from(events.len()).unwrap();
    events.extend(
        more.into_iter()
            .zip(start..)
            .map(|(kind, secs)| event(id, secs, kind)),
    );
    let state = replay(id, t(0), &events);
    (state, events)
}

/// The state `kinds`, one second apart from `t(start)`, fold into, and the events themselves.
pub(crate) fn fold(id: &str, start: i64, kinds: Vec<EventKind>) -> (SessionState, Vec<Event>) {
    let events: Vec<Event> = kinds
        .into_iter()
        .zip(start..)
        .map(|(kind, secs)| event(id, secs, kind))
        .collect();
    (replay(id, t(start), &events), events)
}

fn replay(id: &str, start: Timestamp, events: &[Event]) -> SessionState {
    let prices = PriceTable::builtin();
    let mut state = SessionState::new(SessionId::new(id), start);
    for e in events {
        state.apply(e, &prices);
    }
    state
}

/// A session of its own that started at `t(start)` with `status`, filed under `project`.
fn session(id: &str, start: i64, status: Status, project: &str) -> SessionState {
    let (mut state, _) = running(id, start, project);
    state.status = status;
    state
}

/// Two states are the same as far as storage goes: equal when serialized. (`SessionState`'s
/// working memory is not serialized, so `==` would compare that too.)
#[track_caller]
pub(crate) fn assert_same(actual: &SessionState, expected: &SessionState) {
    assert_eq!(
        serde_json::to_value(actual).unwrap(),
        serde_json::to_value(expected).unwrap()
    );
}

fn ids(sessions: &[SessionState]) -> Vec<&str> {
    sessions.iter().map(|s| s.session_id.as_str()).collect()
}

fn sid(id: &str) -> SessionId {
    SessionId::new(id)
}

#[test]
fn a_session_with_every_field_and_its_events_round_trips() {
    let store = store();
    let (state, events) = everything("s1");
    assert!(state.claude_session_id.is_some() && state.exit_code.is_some());
    assert!(!state.unpriced_models.is_empty() && state.efficiency.cache_hit_ratio.is_some());
    assert_eq!(state.status, Status::Failed);

    store
        .write_batch(std::slice::from_ref(&state), &events)
        .unwrap();

    let stored = store.session(&sid("s1")).unwrap().unwrap();
    assert_same(&stored, &state);
    assert_eq!(
        stored.total_cost_usd.to_bits(),
        state.total_cost_usd.to_bits()
    );
    assert_eq!(
        stored.started_at, state.started_at,
        "timestamps keep full precision"
    );
    assert_eq!(store.events(&sid("s1")).unwrap(), events);
}

#[test]
fn timestamps_below_a_millisecond_survive() {
    let store = store();
    let start = Timestamp::new(1_795_600_000, 123_456_789).unwrap();
    let state = SessionState::new(sid("s1"), start);
    let started = Event::new(
        sid("s1"),
        start,
        EventKind::PromptSubmitted {
            id: None,
            preview: None,
        },
    );
    store
        .write_batch(&[state], std::slice::from_ref(&started))
        .unwrap();
    assert_eq!(
        store.session(&sid("s1")).unwrap().unwrap().started_at,
        start
    );
    assert_eq!(store.events(&sid("s1")).unwrap(), [started]);
}

#[test]
fn figures_come_back_to_the_last_bit() {
    // Values whose shortest decimal form the default serde_json parser rounds the wrong way.
    let store = store();
    let (mut state, _) = running("s1", 0, "/p");
    state.total_cost_usd = 1_601_978.873_173_714_1;
    state.efficiency.output_tokens_per_minute = Some(990_946.071_703_714_3);
    state.efficiency.api_time_share = Some(0.1 + 0.2);
    store
        .write_batch(std::slice::from_ref(&state), &[])
        .unwrap();

    let stored = store.session(&sid("s1")).unwrap().unwrap();
    assert_eq!(
        stored.total_cost_usd.to_bits(),
        state.total_cost_usd.to_bits()
    );
    let bits = |s: &SessionState| s.efficiency.output_tokens_per_minute.map(f64::to_bits);
    assert_eq!(bits(&stored), bits(&state));
    assert_same(&stored, &state);
}

#[test]
fn a_session_never_written_is_none_and_has_no_events() {
    let store = store();
    assert!(store.session(&sid("nope")).unwrap().is_none());
    assert!(store.events(&sid("nope")).unwrap().is_empty());
    assert!(store.sessions(&SessionQuery::default()).unwrap().is_empty());
}

#[test]
fn an_empty_batch_is_fine() {
    store().write_batch(&[], &[]).unwrap();
}

#[test]
fn writing_a_session_again_replaces_it() {
    let store = store();
    let (mut state, events) = running("s1", 0, "/work/app");
    store
        .write_batch(std::slice::from_ref(&state), &events)
        .unwrap();

    let exited = event(
        "s1",
        60,
        EventKind::ProcessExited {
            code: Some(0),
            signal: None,
        },
    );
    state.apply(&exited, &PriceTable::builtin());
    state.project_path = Some("/work/other".into());
    store
        .write_batch(std::slice::from_ref(&state), std::slice::from_ref(&exited))
        .unwrap();

    let stored = store.session(&sid("s1")).unwrap().unwrap();
    assert_same(&stored, &state);
    assert_eq!(stored.status, Status::Completed);
    let listed = store.sessions(&SessionQuery::default()).unwrap();
    assert_eq!(ids(&listed), ["s1"], "one row per session");
    // The filter columns follow the new state too.
    let query = |project: &str| SessionQuery {
        project: Some(project.into()),
        ..SessionQuery::default()
    };
    assert!(store.sessions(&query("/work/app")).unwrap().is_empty());
    assert_eq!(store.sessions(&query("/work/other")).unwrap().len(), 1);
    let completed = SessionQuery {
        status: Some(Status::Completed),
        ..SessionQuery::default()
    };
    assert_eq!(store.sessions(&completed).unwrap().len(), 1);
}

#[test]
fn the_same_session_twice_in_one_batch_keeps_one_row_with_the_later_state() {
    let store = store();
    let (early, _) = running("s1", 0, "/work/app");
    let mut late = early.clone();
    late.status = Status::Idle;
    store.write_batch(&[early, late.clone()], &[]).unwrap();

    let listed = store.sessions(&SessionQuery::default()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_same(&listed[0], &late);
}

#[test]
fn events_come_back_in_the_order_they_were_appended() {
    let store = store();
    let (state, events) = running("s1", 0, "/work/app");
    let (first, rest) = events.split_at(4);
    store
        .write_batch(std::slice::from_ref(&state), first)
        .unwrap();
    store.write_batch(&[], rest).unwrap();
    // Appended later but stamped earlier (a slow source): append order wins, not time.
    let late = event(
        "s1",
        -30,
        EventKind::UnknownRecord {
            record_type: "x".into(),
        },
    );
    store.write_batch(&[], std::slice::from_ref(&late)).unwrap();

    let mut expected = events.clone();
    expected.push(late);
    assert_eq!(store.events(&sid("s1")).unwrap(), expected);
}

#[test]
fn events_of_other_sessions_are_not_mixed_in() {
    let store = store();
    let (a, a_events) = running("a", 0, "/p");
    let (b, b_events) = running("b", 0, "/p");
    let interleaved: Vec<Event> = a_events
        .iter()
        .zip(&b_events)
        .flat_map(|(x, y)| [x.clone(), y.clone()])
        .collect();
    store.write_batch(&[a, b], &interleaved).unwrap();
    assert_eq!(store.events(&sid("a")).unwrap(), a_events);
    assert_eq!(store.events(&sid("b")).unwrap(), b_events);
}

#[test]
fn an_event_for_a_session_never_written_fails_the_whole_batch() {
    let store = store();
    let (state, events) = running("s1", 0, "/p");
    let stray = event(
        "ghost",
        5,
        EventKind::PromptSubmitted {
            id: None,
            preview: None,
        },
    );
    let mut batch = events.clone();
    batch.push(stray);

    let err = store
        .write_batch(std::slice::from_ref(&state), &batch)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownSession { session_id } if session_id.as_str() == "ghost"),
        "{err:?}"
    );
    assert!(
        store.session(&sid("s1")).unwrap().is_none(),
        "nothing of the batch was written"
    );
    assert!(store.events(&sid("s1")).unwrap().is_empty());
}

#[test]
fn events_may_follow_in_later_batches_without_the_session() {
    let store = store();
    let (state, events) = running("s1", 0, "/p");
    store.write_batch(&[state], &[]).unwrap();
    store.write_batch(&[], &events).unwrap();
    assert_eq!(store.events(&sid("s1")).unwrap(), events);
}

/// Sessions started at t(10), t(20), t(20), t(30) in two projects with mixed statuses.
fn listing_store() -> impl Store {
    let store = store();
    let sessions = [
        session("old", 10, Status::Completed, "/work/app"),
        session("mid-b", 20, Status::Failed, "/work/lib"),
        session("mid-a", 20, Status::Completed, "/work/app"),
        session("new", 30, Status::Active, "/work/app"),
    ];
    store.write_batch(&sessions, &[]).unwrap();
    store
}

fn list(store: &impl Store, query: &SessionQuery) -> Vec<String> {
    store
        .sessions(query)
        .unwrap()
        .iter()
        .map(|s| s.session_id.to_string())
        .collect()
}

#[test]
fn listing_is_newest_first_and_ties_go_by_session_id() {
    let store = listing_store();
    assert_eq!(
        list(&store, &SessionQuery::default()),
        ["new", "mid-a", "mid-b", "old"]
    );
}

#[test]
fn limit_and_offset_page_through_the_listing() {
    let store = listing_store();
    let page = |limit, offset| SessionQuery {
        limit,
        offset,
        ..SessionQuery::default()
    };
    assert_eq!(list(&store, &page(Some(2), 0)), ["new", "mid-a"]);
    assert_eq!(list(&store, &page(Some(2), 2)), ["mid-b", "old"]);
    assert_eq!(list(&store, &page(Some(2), 4)), Vec::<String>::new());
    assert_eq!(
        list(&store, &page(None, 3)),
        ["old"],
        "an offset without a limit"
    );
    assert_eq!(list(&store, &page(Some(0), 0)), Vec::<String>::new());
    assert_eq!(list(&store, &page(Some(usize::MAX), 0)).len(), 4);
}

#[test]
fn status_filter() {
    let store = listing_store();
    let by = |status| SessionQuery {
        status: Some(status),
        ..SessionQuery::default()
    };
    assert_eq!(list(&store, &by(Status::Completed)), ["mid-a", "old"]);
    assert_eq!(list(&store, &by(Status::Active)), ["new"]);
    assert_eq!(list(&store, &by(Status::Interrupted)), Vec::<String>::new());
}

#[test]
fn project_filter_matches_the_path_exactly() {
    let store = listing_store();
    let by = |p: &str| SessionQuery {
        project: Some(p.into()),
        ..SessionQuery::default()
    };
    assert_eq!(list(&store, &by("/work/lib")), ["mid-b"]);
    assert_eq!(list(&store, &by("/work/app")), ["new", "mid-a", "old"]);
    assert_eq!(list(&store, &by("/work")), Vec::<String>::new());
}

#[test]
fn since_is_inclusive_and_until_is_exclusive() {
    let store = listing_store();
    let range = |since, until| SessionQuery {
        since,
        until,
        ..SessionQuery::default()
    };
    assert_eq!(
        list(&store, &range(Some(t(20)), None)),
        ["new", "mid-a", "mid-b"]
    );
    assert_eq!(list(&store, &range(None, Some(t(20)))), ["old"]);
    assert_eq!(
        list(&store, &range(Some(t(20)), Some(t(30)))),
        ["mid-a", "mid-b"]
    );
    assert_eq!(
        list(&store, &range(Some(t(31)), None)),
        Vec::<String>::new()
    );
}

#[test]
fn filters_combine_and_page_together() {
    let store = listing_store();
    let query = SessionQuery {
        status: Some(Status::Completed),
        project: Some("/work/app".into()),
        since: Some(t(0)),
        until: Some(t(30)),
        limit: Some(1),
        offset: 1,
    };
    assert_eq!(list(&store, &query), ["old"]);
}
