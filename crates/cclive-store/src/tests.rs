//! What every [`Store`] must do, written against the trait alone so the same specification can
//! run against each backend (only `SQLite` exists so far). Backend details — pragmas, migrations,
//! several handles on one file, corrupt rows — are specified beside the backend.

use std::path::{Path, PathBuf};

use cclive_core::{Event, EventKind, Mode, PriceTable, SessionId, SessionState, Status, Tokens};
use jiff::Timestamp;

use crate::{Batch, Checkpoint, SessionQuery, SqliteStore, Store, StoreError, UsageRow};

mod reports;

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
            request_id: None,
            reported_cost_usd: None,
            model: Some("claude-sonnet-4-5".into()),
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
            retry_in_ms: Some(520),
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
            request_id: None,
            reported_cost_usd: None,
            model: Some("claude-mystery-9".into()),
            tokens: Tokens {
                input: 10,
                output: 5,
                cache_read: 0,
                cache_creation: 0,
                ..Tokens::default()
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

/// Two states are the same as far as a listing goes: equal when serialized. (`SessionState`'s
/// working memory, the ledger, is not serialized, so `==` compares that too; listings may leave
/// it out.)
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
    assert_eq!(stored, state, "the ledger came back too");
    // To show it, the same session without its ledger: every shown field, no working memory.
    let shown = store.session_to_show(&sid("s1")).unwrap().unwrap();
    assert_same(&shown, &state);
    assert_eq!(shown.usage_by_key().count(), 0);
    assert!(state.usage_by_key().count() > 0);
    assert!(store.session_to_show(&sid("nope")).unwrap().is_none());
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
fn deleting_a_session_takes_its_events_and_leaves_its_usage_and_the_others() {
    let store = store();
    let (a, a_events) = running("a", 0, "/p");
    let (b, b_events) = running("b", 100, "/p");
    let mut batch = Batch {
        sessions: vec![a, b],
        events: a_events,
        usage: vec![usage("msg_a", "a", 1, [1, 2, 3, 4])],
        ..Batch::default()
    };
    batch.events.extend(b_events.clone());
    store.write(&batch).unwrap();
    assert!(store.delete_session(&sid("a")).unwrap());
    assert!(store.session(&sid("a")).unwrap().is_none());
    assert!(store.events(&sid("a")).unwrap().is_empty());
    assert_eq!(store.events(&sid("b")).unwrap().len(), b_events.len());
    assert_eq!(usage_of(&store, "msg_a").session_id, sid("a"));
    assert!(!store.delete_session(&sid("a")).unwrap(), "already gone");
}

#[test]
fn an_empty_batch_is_fine() {
    let store = store();
    store.write_batch(&[], &[]).unwrap();
    store.write(&Batch::default()).unwrap();
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
fn the_project_filter_takes_the_name_or_the_path_of_the_project_or_the_cwd() {
    let store = store();
    let (wrapped, _) = running("wrapped", 0, "/work/app");
    // A plain `claude` run or an import: no project path, only its cwd.
    let (mut plain, _) = running("plain", 1, "/home/me/src/app/");
    plain.project_path = None;
    let (mut other, _) = running("other", 2, "/home/me/src/myapp");
    other.project_path = None;
    // `--project-path` overrides the cwd.
    let (mut filed, _) = running("filed", 3, "/tmp/scratch");
    filed.project_path = Some("/home/me/src/app".into());
    store
        .write_batch(&[wrapped, plain, other, filed], &[])
        .unwrap();
    let listed = |project: &str| {
        let found = store
            .sessions(&SessionQuery {
                project: Some(project.into()),
                ..SessionQuery::default()
            })
            .unwrap();
        let mut found: Vec<String> = ids(&found).into_iter().map(str::to_owned).collect();
        found.sort();
        found
    };
    assert_eq!(listed("app"), ["filed", "plain", "wrapped"]);
    assert_eq!(listed("/home/me/src/app"), ["filed", "plain"]);
    assert_eq!(listed("/home/me/src/app/"), ["filed", "plain"]);
    assert_eq!(listed("myapp"), ["other"]);
    assert_eq!(listed("scratch"), Vec::<String>::new());
    assert_eq!(
        listed("src/app"),
        ["filed", "plain"],
        "a path's tail is a path too"
    );
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

/// A catch-up's hundreds of events take another way into the store than a live writer's few
/// (`sqlite/stage.rs`); the rules are the same.
#[test]
fn a_big_batch_of_events_keeps_their_order_each_tool_call_once_and_fails_whole_on_a_stranger() {
    let store = store();
    let (state, events) = running("s1", 0, "/p");
    let tool_use = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::ToolUse { .. }))
        .cloned()
        .unwrap();
    let many: Vec<Event> = (0..100)
        .map(|i| {
            let kind = EventKind::UnknownRecord {
                record_type: format!("r{i}"),
            };
            // Stamped out of order: the batch's order is what is kept.
            event("s1", 200 - i, kind)
        })
        .collect();
    let mut batch = events.clone();
    batch.extend(many.iter().cloned());
    batch.push(tool_use);

    let mut with_stranger = batch.clone();
    with_stranger.push(event(
        "ghost",
        5,
        EventKind::PromptSubmitted {
            id: None,
            preview: None,
        },
    ));
    let err = store
        .write_batch(std::slice::from_ref(&state), &with_stranger)
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownSession { session_id } if session_id.as_str() == "ghost"),
        "{err:?}"
    );
    assert!(store.session(&sid("s1")).unwrap().is_none());
    assert!(store.events(&sid("s1")).unwrap().is_empty());

    store.write_batch(&[state], &batch).unwrap();
    let mut expected = events;
    expected.extend(many);
    assert_eq!(
        store.events(&sid("s1")).unwrap(),
        expected,
        "the tool call once"
    );
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
fn model_filter_matches_the_main_model_or_any_response() {
    let store = listing_store();
    let mut main = session("main-haiku", 40, Status::Completed, "/work/app");
    main.model = Some("claude-haiku-4-5".into());
    store.write_batch(&[main], &[]).unwrap();
    let mut sub = usage("m1", "mid-b", 21, [1, 1, 0, 0]);
    sub.model = Some("claude-haiku-4-5".into());
    write_usage(&store, &[sub, usage("m2", "old", 11, [1, 1, 0, 0])]);
    let by = |m: &str| SessionQuery {
        model: Some(m.into()),
        ..SessionQuery::default()
    };
    assert_eq!(
        list(&store, &by("claude-haiku-4-5")),
        ["main-haiku", "mid-b"]
    );
    assert_eq!(store.count_sessions(&by("claude-haiku-4-5")).unwrap(), 2);
    assert_eq!(
        list(&store, &by("claude-sonnet-4-5")),
        ["new", "mid-a", "mid-b", "old"],
        "their main model"
    );
    assert_eq!(list(&store, &by("gpt")), Vec::<String>::new());
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
        live_only: false,
        project: Some("/work/app".into()),
        model: Some("claude-sonnet-4-5".into()),
        since: Some(t(0)),
        until: Some(t(30)),
        limit: Some(1),
        offset: 1,
    };
    assert_eq!(list(&store, &query), ["old"]);
}

#[test]
fn live_only_lists_the_active_and_idle_sessions() {
    let store = store();
    let sessions = [
        session("active", 50, Status::Active, "/work/app"),
        session("idle", 40, Status::Idle, "/work/lib"),
        session("completed", 30, Status::Completed, "/work/app"),
        session("failed", 20, Status::Failed, "/work/app"),
        session("interrupted", 10, Status::Interrupted, "/work/app"),
    ];
    store.write_batch(&sessions, &[]).unwrap();
    let live = SessionQuery {
        live_only: true,
        ..SessionQuery::default()
    };
    assert_eq!(list(&store, &live), ["active", "idle"]);
    // It combines with the other filters like any of them.
    let live_in_app = SessionQuery {
        project: Some("/work/app".into()),
        ..live.clone()
    };
    assert_eq!(list(&store, &live_in_app), ["active"]);
    let live_and_completed = SessionQuery {
        status: Some(Status::Completed),
        ..live.clone()
    };
    assert_eq!(list(&store, &live_and_completed), Vec::<String>::new());
    let live_and_idle = SessionQuery {
        status: Some(Status::Idle),
        ..live
    };
    assert_eq!(list(&store, &live_and_idle), ["idle"]);
}

// --- The ledger ---------------------------------------------------------------------------------

/// The events of `events` that carry something counted once per id: usage and tool calls.
fn counted_once(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::Usage { .. } | EventKind::ToolUse { .. } | EventKind::ToolResult { .. }
            )
        })
        .cloned()
        .collect()
}

fn apply_all(state: &mut SessionState, events: &[Event]) {
    let prices = PriceTable::builtin();
    for e in events {
        state.apply(e, &prices);
    }
}

/// The figures a second report of the same response or tool call must not move.
fn counted(
    state: &SessionState,
) -> (
    Tokens,
    u64,
    std::collections::BTreeMap<String, u64>,
    u64,
    u64,
) {
    (
        state.tokens,
        state.api_requests,
        state.tool_calls.clone(),
        state.num_turns,
        state.total_cost_usd.to_bits(),
    )
}

#[test]
fn a_session_read_back_goes_on_folding_without_counting_anything_twice() {
    let store = store();
    let (state, events) = running("s1", 0, "/p");
    store
        .write_batch(std::slice::from_ref(&state), &events)
        .unwrap();

    // After a restart, the tailer reads the same reports again from its last checkpoint.
    let again = counted_once(&events);
    assert!(again.len() >= 3, "usage, a tool call and its result");
    let mut stored = store.session(&sid("s1")).unwrap().unwrap();
    assert_eq!(stored, state, "the ledger came back with the state");
    apply_all(&mut stored, &again);
    assert_eq!(counted(&stored), counted(&state));

    // The check is not vacuous: a state without its ledger counts the tool call again.
    let mut bare: SessionState =
        serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
    apply_all(&mut bare, &again);
    assert_ne!(counted(&bare), counted(&state));

    // What is new is still counted.
    let (_, more) = fold(
        "s1",
        20,
        vec![EventKind::ToolUse {
            tool_use_id: "toolu_2".into(),
            name: "Bash".into(),
            sidechain: false,
        }],
    );
    apply_all(&mut stored, &more);
    assert_eq!(stored.tool_calls.get("Bash"), Some(&2));
}

#[test]
fn a_later_write_replaces_the_ledger_too() {
    let store = store();
    let (mut state, events) = running("s1", 0, "/p");
    store
        .write_batch(std::slice::from_ref(&state), &events)
        .unwrap();
    let (_, more) = fold(
        "s1",
        20,
        vec![EventKind::Usage {
            key: "msg_2".into(),
            request_id: None,
            reported_cost_usd: None,
            model: Some("claude-sonnet-4-5".into()),
            tokens: tokens([10, 20, 0, 0]),
            is_final: true,
            sidechain: false,
        }],
    );
    apply_all(&mut state, &more);
    store
        .write_batch(std::slice::from_ref(&state), &more)
        .unwrap();

    let mut stored = store.session(&sid("s1")).unwrap().unwrap();
    assert_eq!(stored, state);
    assert_eq!(stored.api_requests, 2);
    apply_all(&mut stored, &more);
    assert_eq!(counted(&stored), counted(&state));
}

// --- Usage --------------------------------------------------------------------------------------

fn tokens([input, output, cache_read, cache_creation]: [u64; 4]) -> Tokens {
    Tokens {
        input,
        output,
        cache_read,
        cache_creation,
        ..Tokens::default()
    }
}

/// A report of response `key` in `session` at `t(secs)`.
fn usage(key: &str, session: &str, secs: i64, counts: [u64; 4]) -> UsageRow {
    UsageRow {
        key: key.into(),
        session_id: sid(session),
        at: t(secs),
        model: Some("claude-sonnet-4-5".into()),
        tokens: tokens(counts),
        sidechain: false,
    }
}

fn write_usage(store: &impl Store, rows: &[UsageRow]) {
    store
        .write(&Batch {
            usage: rows.to_vec(),
            ..Batch::default()
        })
        .unwrap();
}

fn all_usage(store: &impl Store) -> Vec<UsageRow> {
    store.usage_rows(None, None).unwrap()
}

/// The one stored row of `key`.
fn usage_of(store: &impl Store, key: &str) -> UsageRow {
    let rows: Vec<UsageRow> = all_usage(store)
        .into_iter()
        .filter(|r| r.key == key)
        .collect();
    assert_eq!(rows.len(), 1, "one row per response: {rows:?}");
    rows.into_iter().next().unwrap()
}

#[test]
fn usage_rows_round_trip() {
    let store = store();
    let rows = [
        usage("msg_1", "s1", 10, [1200, 42, 5000, 300]),
        UsageRow {
            model: None,
            sidechain: true,
            ..usage("msg_2", "s2", 11, [1, 2, 3, 4])
        },
    ];
    write_usage(&store, &rows);
    assert_eq!(all_usage(&store), rows);
}

#[test]
fn the_owners_of_stored_responses_come_in_the_order_asked() {
    let store = store();
    write_usage(
        &store,
        &[
            usage("msg_1", "s1", 10, [1, 2, 3, 4]),
            usage("msg_2", "s2", 11, [1, 2, 3, 4]),
        ],
    );
    let owners = store.usage_owners(&["msg_2", "msg_new", "msg_1"]).unwrap();
    assert_eq!(owners, [Some(sid("s2")), None, Some(sid("s1"))]);
    assert_eq!(store.usage_owner("msg_1").unwrap(), Some(sid("s1")));
    assert_eq!(store.usage_owners(&[]).unwrap(), []);
}

#[test]
fn a_response_reported_again_keeps_the_field_wise_maximum() {
    let store = store();
    // A streaming snapshot, then the final report; a later, partial report lacks the cache.
    write_usage(&store, &[usage("msg_1", "s1", 10, [1200, 1, 5000, 300])]);
    write_usage(&store, &[usage("msg_1", "s1", 11, [1200, 42, 5000, 300])]);
    write_usage(&store, &[usage("msg_1", "s1", 12, [1200, 40, 0, 0])]);

    let row = usage_of(&store, "msg_1");
    assert_eq!(row.tokens, tokens([1200, 42, 5000, 300]));
    assert_eq!(row.at, t(10), "the first report's time");
    assert_eq!(
        store.usage_totals(&sid("s1")).unwrap(),
        (tokens([1200, 42, 5000, 300]), 1)
    );
}

#[test]
fn a_response_belongs_to_the_session_it_first_appeared_in() {
    let store = store();
    let counts = [100, 10, 0, 0];
    // A resumed session's transcript repeats the original's responses, and may be read first.
    write_usage(&store, &[usage("msg_1", "resumed", 60, counts)]);
    write_usage(&store, &[usage("msg_1", "original", 5, counts)]);
    let row = usage_of(&store, "msg_1");
    assert_eq!((row.session_id.as_str(), row.at), ("original", t(5)));

    // A later report does not take it over, and neither does one at the same time.
    write_usage(&store, &[usage("msg_1", "later", 90, counts)]);
    write_usage(&store, &[usage("msg_1", "same-time", 5, counts)]);
    let row = usage_of(&store, "msg_1");
    assert_eq!((row.session_id.as_str(), row.at), ("original", t(5)));

    assert_eq!(
        store.usage_totals(&sid("original")).unwrap(),
        (tokens(counts), 1)
    );
    for other in ["resumed", "later", "same-time"] {
        assert_eq!(
            store.usage_totals(&sid(other)).unwrap(),
            (Tokens::default(), 0),
            "{other}"
        );
    }
}

#[test]
fn the_owner_and_the_maximum_are_decided_independently() {
    let store = store();
    // The earlier report is the smaller snapshot: the owner comes from it, the tokens do not.
    write_usage(&store, &[usage("msg_1", "b", 20, [100, 42, 0, 0])]);
    write_usage(&store, &[usage("msg_1", "a", 10, [100, 1, 0, 0])]);
    let row = usage_of(&store, "msg_1");
    assert_eq!(row.session_id.as_str(), "a");
    assert_eq!(row.at, t(10));
    assert_eq!(row.tokens, tokens([100, 42, 0, 0]));
}

#[test]
fn a_main_chain_report_wins_over_sidechain_reports() {
    let store = store();
    let report = |key: &str, sidechain| UsageRow {
        sidechain,
        ..usage(key, "s1", 10, [1, 1, 0, 0])
    };
    write_usage(
        &store,
        &[
            report("side-then-main", true),
            report("main-then-side", false),
        ],
    );
    write_usage(
        &store,
        &[
            report("side-then-main", false),
            report("main-then-side", true),
        ],
    );
    write_usage(
        &store,
        &[report("side-only", true), report("side-only", true)],
    );

    assert!(!usage_of(&store, "side-then-main").sidechain);
    assert!(!usage_of(&store, "main-then-side").sidechain);
    assert!(usage_of(&store, "side-only").sidechain);
}

#[test]
fn the_first_known_model_stays() {
    let store = store();
    let report = |key: &str, model: Option<&str>| UsageRow {
        model: model.map(str::to_owned),
        ..usage(key, "s1", 10, [1, 1, 0, 0])
    };
    write_usage(
        &store,
        &[
            report("unknown-then-known", None),
            report("a-then-b", Some("claude-a")),
            report("a-then-unknown", Some("claude-a")),
        ],
    );
    write_usage(
        &store,
        &[
            report("unknown-then-known", Some("claude-b")),
            report("a-then-b", Some("claude-b")),
            report("a-then-unknown", None),
        ],
    );
    let model = |key| usage_of(&store, key).model;
    assert_eq!(model("unknown-then-known").as_deref(), Some("claude-b"));
    assert_eq!(model("a-then-b").as_deref(), Some("claude-a"));
    assert_eq!(model("a-then-unknown").as_deref(), Some("claude-a"));
}

#[test]
fn the_same_usage_written_again_changes_nothing() {
    let store = store();
    let rows = vec![
        usage("msg_1", "s1", 10, [1200, 42, 5000, 300]),
        usage("msg_2", "s1", 20, [10, 5, 6000, 0]),
        usage("msg_3", "s2", 30, [7, 8, 9, 10]),
    ];
    write_usage(&store, &rows);
    let totals = |id| store.usage_totals(&sid(id)).unwrap();
    let before = (totals("s1"), totals("s2"), all_usage(&store));
    assert_eq!(before.0, (tokens([1210, 47, 11_000, 300]), 2));
    assert_eq!(before.1, (tokens([7, 8, 9, 10]), 1));

    // Again in a later batch, and twice within one batch.
    write_usage(&store, &rows);
    let mut twice = rows.clone();
    twice.extend(rows.iter().cloned());
    write_usage(&store, &twice);
    assert_eq!((totals("s1"), totals("s2"), all_usage(&store)), before);
}

#[test]
fn usage_needs_no_stored_session() {
    let store = store();
    // A session stored earlier, one in the same batch, one never stored.
    let (earlier, _) = running("earlier", 0, "/p");
    store.write_batch(&[earlier], &[]).unwrap();
    let (same_batch, _) = running("same-batch", 0, "/p");
    store
        .write(&Batch {
            sessions: vec![same_batch],
            usage: vec![
                usage("msg_1", "earlier", 10, [1, 0, 0, 0]),
                usage("msg_2", "same-batch", 10, [2, 0, 0, 0]),
                usage("msg_3", "never-stored", 10, [3, 0, 0, 0]),
            ],
            ..Batch::default()
        })
        .unwrap();
    for (id, input) in [("earlier", 1), ("same-batch", 2), ("never-stored", 3)] {
        assert_eq!(store.usage_totals(&sid(id)).unwrap().0.input, input, "{id}");
    }
    assert!(store.session(&sid("never-stored")).unwrap().is_none());
}

/// A store of four responses written out of time order, two of them at the same time.
fn store_of_four_rows_out_of_order() -> impl Store {
    let store = store();
    write_usage(
        &store,
        &[
            usage("msg_c", "s1", 30, [1, 0, 0, 0]),
            usage("msg_b", "s1", 20, [1, 0, 0, 0]),
            usage("msg_a", "s2", 20, [1, 0, 0, 0]),
            usage("msg_d", "s2", 10, [1, 0, 0, 0]),
        ],
    );
    store
}

#[test]
fn usage_rows_come_in_time_order_since_inclusive_until_exclusive() {
    let store = store_of_four_rows_out_of_order();
    let keys = |since, until| -> Vec<String> {
        store
            .usage_rows(since, until)
            .unwrap()
            .into_iter()
            .map(|r| r.key)
            .collect()
    };
    assert_eq!(
        keys(None, None),
        ["msg_d", "msg_a", "msg_b", "msg_c"],
        "ties by key"
    );
    assert_eq!(keys(Some(t(20)), None), ["msg_a", "msg_b", "msg_c"]);
    assert_eq!(keys(None, Some(t(20))), ["msg_d"]);
    assert_eq!(keys(Some(t(20)), Some(t(30))), ["msg_a", "msg_b"]);
    assert_eq!(keys(Some(t(31)), None), Vec::<String>::new());
}

#[test]
fn usage_times_are_the_rows_times_in_order() {
    let store = store_of_four_rows_out_of_order();
    assert_eq!(
        store.usage_times(None, None).unwrap(),
        [t(10), t(20), t(20), t(30)]
    );
    assert_eq!(
        store.usage_times(Some(t(20)), Some(t(30))).unwrap(),
        [t(20), t(20)]
    );
    assert_eq!(store.usage_times(Some(t(31)), None).unwrap(), []);
    // The default (from the rows) agrees with the backend's own query.
    let rows = |since, until| -> Vec<Timestamp> {
        store
            .usage_rows(since, until)
            .unwrap()
            .into_iter()
            .map(|r| r.at)
            .collect()
    };
    for (since, until) in [(None, None), (Some(t(15)), None), (None, Some(t(20)))] {
        assert_eq!(store.usage_times(since, until).unwrap(), rows(since, until));
    }
}

// --- Checkpoints and batches --------------------------------------------------------------------

fn checkpoint(path: &str, inode: u64, offset: u64) -> Checkpoint {
    Checkpoint {
        path: PathBuf::from(path),
        dev: 2049,
        inode,
        offset,
        fingerprint: Some(7),
        length: Some(offset + 10),
    }
}

#[test]
fn checkpoints_round_trip_and_the_last_write_of_a_path_wins() {
    let store = store();
    assert!(store.checkpoints().unwrap().is_empty());
    assert!(store.checkpoint(Path::new("/t/a.jsonl")).unwrap().is_none());

    let write = |checkpoints: Vec<Checkpoint>| {
        store
            .write(&Batch {
                checkpoints,
                ..Batch::default()
            })
            .unwrap();
    };
    write(vec![
        checkpoint("/t/b.jsonl", 7, 100),
        checkpoint("/t/a.jsonl", 5, 10),
        checkpoint("/t/a.jsonl", 5, 20),
    ]);
    assert_eq!(
        store.checkpoints().unwrap(),
        [
            checkpoint("/t/a.jsonl", 5, 20),
            checkpoint("/t/b.jsonl", 7, 100)
        ],
        "by path, the later entry of a batch wins"
    );

    // The file was replaced (a new inode) and read again from the start.
    write(vec![checkpoint("/t/b.jsonl", 8, 3)]);
    assert_eq!(
        store.checkpoint(Path::new("/t/b.jsonl")).unwrap(),
        Some(checkpoint("/t/b.jsonl", 8, 3))
    );
    assert_eq!(
        store.checkpoint(Path::new("/t/a.jsonl")).unwrap(),
        Some(checkpoint("/t/a.jsonl", 5, 20))
    );
}

#[test]
fn a_batch_commits_its_sessions_events_usage_and_checkpoints_together() {
    let store = store();
    let (state, events) = running("s1", 0, "/p");
    let rows = vec![usage("msg_1", "s1", 4, [1200, 42, 5000, 300])];
    let checkpoints = vec![checkpoint("/t/s1.jsonl", 5, 4096)];
    store
        .write(&Batch {
            sessions: vec![state.clone()],
            events: events.clone(),
            usage: rows.clone(),
            checkpoints: checkpoints.clone(),
            retired_usage: Vec::new(),
        })
        .unwrap();
    assert_eq!(store.session(&sid("s1")).unwrap(), Some(state));
    assert_eq!(store.events(&sid("s1")).unwrap(), events);
    assert_eq!(all_usage(&store), rows);
    assert_eq!(store.checkpoints().unwrap(), checkpoints);
}

#[test]
fn a_retired_placeholder_key_leaves_the_response_counted_once_under_its_message_id() {
    let store = store();
    // Telemetry reported the response under its request id first...
    write_usage(
        &store,
        &[usage("req:req_1", "s1", 1, [1200, 42, 5000, 300])],
    );
    // ...then the transcript linked it to its message id: one batch upserts the message id's
    // row and retires the placeholder (even when the placeholder's row is in the same batch).
    store
        .write(&Batch {
            usage: vec![
                usage("req:req_1", "s1", 1, [1200, 42, 5000, 300]),
                usage("msg_1", "s1", 2, [1200, 42, 5000, 300]),
            ],
            retired_usage: vec!["req:req_1".into()],
            ..Batch::default()
        })
        .unwrap();
    let rows = all_usage(&store);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].key, "msg_1");
    // Retiring a key never stored is not an error.
    store
        .write(&Batch {
            retired_usage: vec!["req:unknown".into()],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(all_usage(&store).len(), 1);
}

#[test]
fn a_failed_batch_leaves_neither_its_usage_nor_its_checkpoint_behind() {
    let store = store();
    // What an earlier batch committed.
    write_usage(&store, &[usage("msg_0", "s0", 0, [5, 5, 0, 0])]);
    store
        .write(&Batch {
            checkpoints: vec![checkpoint("/t/s1.jsonl", 5, 100)],
            ..Batch::default()
        })
        .unwrap();
    let usage_before = all_usage(&store);
    let checkpoints_before = store.checkpoints().unwrap();

    let (state, mut events) = running("s1", 0, "/p");
    events.push(event(
        "ghost",
        30,
        EventKind::PromptSubmitted {
            id: None,
            preview: None,
        },
    ));
    let err = store
        .write(&Batch {
            sessions: vec![state],
            events,
            usage: vec![
                usage("msg_0", "s0", 0, [9, 9, 9, 9]),
                usage("msg_1", "s1", 4, [1200, 42, 5000, 300]),
            ],
            checkpoints: vec![
                checkpoint("/t/s1.jsonl", 5, 4096),
                checkpoint("/t/other.jsonl", 6, 10),
            ],
            retired_usage: vec!["msg_0".into()],
        })
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownSession { session_id } if session_id.as_str() == "ghost"),
        "{err:?}"
    );
    assert_eq!(
        all_usage(&store),
        usage_before,
        "no usage row added or merged"
    );
    assert_eq!(
        store.checkpoints().unwrap(),
        checkpoints_before,
        "no checkpoint moved or added"
    );
    assert!(store.session(&sid("s1")).unwrap().is_none());
    assert!(store.events(&sid("s1")).unwrap().is_empty());
}

/// Only the required methods, delegated: the trait's default methods (`sessions_sorted`,
/// `count_sessions`, the summaries and sums) run against it, so a backend's own versions can
/// be held to them.
struct Defaults<S>(S);

impl<S: Store> Store for Defaults<S> {
    fn write(&self, batch: &Batch) -> Result<(), StoreError> {
        self.0.write(batch)
    }
    fn session(&self, id: &SessionId) -> Result<Option<SessionState>, StoreError> {
        self.0.session(id)
    }
    fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionState>, StoreError> {
        self.0.sessions(query)
    }
    fn events(&self, id: &SessionId) -> Result<Vec<Event>, StoreError> {
        self.0.events(id)
    }
    fn usage_totals(&self, session_id: &SessionId) -> Result<(Tokens, u64), StoreError> {
        self.0.usage_totals(session_id)
    }
    fn usage_rows(
        &self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Vec<UsageRow>, StoreError> {
        self.0.usage_rows(since, until)
    }
    fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.0.checkpoints()
    }
    fn checkpoint(&self, path: &Path) -> Result<Option<Checkpoint>, StoreError> {
        self.0.checkpoint(path)
    }
}

/// Sessions with distinct and tied figures, some without a project or model.
fn sortable_store() -> impl Store {
    let store = store();
    let mut sessions = Vec::new();
    for (i, (id, cost, turns, project, model)) in [
        ("a", 0.50, 3, Some("/work/b"), Some("claude-opus-5-5")),
        ("b", 0.10, 7, Some("/work/a"), None),
        ("c", 0.50, 1, None, Some("claude-haiku-4-5")),
        ("d", 2.00, 7, Some("/work/a"), Some("claude-sonnet-4-5")),
        ("e", 0.00, 0, Some("/work/c"), Some("claude-opus-5-5")),
    ]
    .into_iter()
    .enumerate()
    {
        let start = [10, 20, 20, 30, 40][i];
        let mut s = session(id, start, Status::Completed, project.unwrap_or("/x"));
        s.project_path = project.map(str::to_owned);
        s.model = model.map(str::to_owned);
        s.total_cost_usd = cost;
        s.num_turns = turns;
        s.duration_ms = turns * 1000 + u64::try_from(i).unwrap();
        s.status = [Status::Completed, Status::Failed, Status::Active][i % 3];
        sessions.push(s);
    }
    store.write_batch(&sessions, &[]).unwrap();
    store
}

#[test]
fn sorted_listings_agree_with_the_default_in_every_order_and_page() {
    use crate::{SessionOrder, SortKey};
    let sqlite = sortable_store();
    let all = sqlite.sessions(&SessionQuery::default()).unwrap();
    let fallback = Defaults(sortable_store());
    for key in [
        SortKey::StartedAt,
        SortKey::Cost,
        SortKey::Duration,
        SortKey::Turns,
        SortKey::Tokens,
        SortKey::Project,
        SortKey::Model,
        SortKey::Status,
    ] {
        for descending in [true, false] {
            let order = SessionOrder { key, descending };
            for (limit, offset) in [(None, 0), (Some(2), 0), (Some(2), 2), (Some(10), 4)] {
                let query = SessionQuery {
                    limit,
                    offset,
                    ..SessionQuery::default()
                };
                let ours = sqlite.sessions_sorted(&query, order).unwrap();
                let theirs = fallback.sessions_sorted(&query, order).unwrap();
                assert_eq!(ids(&ours), ids(&theirs), "{order:?} {limit:?} {offset}");
            }
        }
    }
    let by = |key, descending| {
        ids(&sqlite
            .sessions_sorted(&SessionQuery::default(), SessionOrder { key, descending })
            .unwrap())
        .join(",")
    };
    assert_eq!(by(SortKey::Cost, true), "d,c,a,b,e", "ties: newest first");
    assert_eq!(by(SortKey::Cost, false), "e,b,c,a,d");
    assert_eq!(
        by(SortKey::Project, false),
        "d,b,a,e,c",
        "no project comes last"
    );
    assert_eq!(
        by(SortKey::Project, true),
        "e,a,d,b,c",
        "no project comes last"
    );
    assert_eq!(by(SortKey::Model, true), "d,e,a,c,b");
    assert_eq!(ids(&all).join(","), by(SortKey::StartedAt, true));
}

#[test]
fn counting_ignores_the_page_and_applies_the_filters() {
    let store = sortable_store();
    let fallback = Defaults(sortable_store());
    let queries = [
        SessionQuery::default(),
        SessionQuery {
            limit: Some(1),
            offset: 3,
            ..SessionQuery::default()
        },
        SessionQuery {
            project: Some("/work/a".into()),
            ..SessionQuery::default()
        },
        SessionQuery {
            status: Some(Status::Completed),
            since: Some(t(20)),
            ..SessionQuery::default()
        },
        SessionQuery {
            live_only: true,
            ..SessionQuery::default()
        },
    ];
    let counts: Vec<u64> = queries
        .iter()
        .map(|q| store.count_sessions(q).unwrap())
        .collect();
    assert_eq!(counts, [5, 5, 2, 1, 1]);
    for q in &queries {
        assert_eq!(
            store.count_sessions(q).unwrap(),
            fallback.count_sessions(q).unwrap()
        );
    }
}
