//! The team outbox: filled only in team mode, in the data's own transaction (whoever writes),
//! one pending entry per entity with a growing seq, kept across restarts, pruned on ack.

use cclive_core::{EventKind, SessionId, Tokens};

use super::*;
use crate::tests::{event, running, t};
use crate::{Batch, Store, UsageRow};

fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cclive.db");
    (dir, path)
}

fn usage(key: &str, session: &str, secs: i64, output: u64) -> UsageRow {
    UsageRow {
        key: key.into(),
        session_id: SessionId::new(session),
        at: t(secs),
        model: Some("claude-sonnet-4-5".into()),
        tokens: Tokens {
            input: 10,
            output,
            cache_read: 0,
            cache_creation: 0,
            ..Tokens::default()
        },
        sidechain: false,
    }
}

/// A session with its events and one usage row, as the writer sends them.
fn batch(id: &str, start: i64) -> Batch {
    let (state, events) = running(id, start, "/work/app");
    Batch {
        sessions: vec![state],
        events,
        usage: vec![usage(&format!("msg_{id}"), id, start, 42)],
        ..Batch::default()
    }
}

/// The pending entries as (seq, short description), for readable assertions.
fn pending(store: &SqliteStore) -> Vec<(u64, String)> {
    store
        .pending_outbox(0, 10_000)
        .unwrap()
        .into_iter()
        .map(|e| {
            let what = match e.item {
                OutboxItem::Session(s) => format!("session {}", s.session_id),
                OutboxItem::Usage(u) => format!("usage {} out={}", u.key, u.tokens.output),
                OutboxItem::RetiredUsage(key) => format!("retired {key}"),
                OutboxItem::Event { event, .. } => format!("event {}", event.session_id),
                OutboxItem::Gone => "gone".into(),
            };
            (e.seq, what)
        })
        .collect()
}

fn kinds(store: &SqliteStore) -> Vec<String> {
    pending(store).into_iter().map(|(_, what)| what).collect()
}

#[test]
fn without_team_mode_nothing_is_queued() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.write(&batch("a", 0)).unwrap();
    assert_eq!(store.team_agent().unwrap(), None);
    assert!(pending(&store).is_empty());
}

#[test]
fn enabling_queues_the_history_sessions_then_usage_then_events_and_names_the_machine() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.write(&batch("a", 0)).unwrap();
    let events = store.events(&SessionId::new("a")).unwrap().len();
    let state = store.enable_team_outbox().unwrap();
    assert!(state.enabled);
    assert!(
        uuid::Uuid::parse_str(&state.machine_id).is_ok(),
        "{state:?}"
    );
    assert_eq!(state.pending, 2 + events as u64);
    let mut expected = vec!["session a".to_owned(), "usage msg_a out=42".to_owned()];
    expected.extend(std::iter::repeat_n("event a".to_owned(), events));
    assert_eq!(kinds(&store), expected);

    let again = store.enable_team_outbox().unwrap();
    assert_eq!(again.machine_id, state.machine_id);
    assert_eq!(
        again.pending, state.pending,
        "enabling again queues nothing more"
    );
}

#[test]
fn a_batch_and_its_entries_commit_together_or_not_at_all() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.enable_team_outbox().unwrap();
    // An event of a session that is nowhere fails the whole batch: no usage, no entries.
    let mut bad = batch("a", 0);
    bad.sessions.clear();
    assert!(store.write(&bad).is_err());
    assert!(pending(&store).is_empty());

    let good = batch("b", 10);
    let events = good.events.len();
    store.write(&good).unwrap();
    assert_eq!(pending(&store).len(), 2 + events);
}

#[test]
fn another_process_writing_the_same_file_queues_too() {
    let (_dir, path) = temp_db();
    let agent = SqliteStore::open(&path).unwrap();
    agent.enable_team_outbox().unwrap();
    // e.g. `cclive run` or `cclive import` while the monitor is down: it knows nothing of teams.
    let other = SqliteStore::open(&path).unwrap();
    other.write(&batch("a", 0)).unwrap();
    assert!(kinds(&agent).contains(&"session a".to_owned()));
    assert!(kinds(&agent).contains(&"usage msg_a out=42".to_owned()));
}

#[test]
fn a_change_moves_its_entity_to_the_end_with_a_higher_seq_and_a_same_report_queues_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.enable_team_outbox().unwrap();
    store
        .write(&Batch {
            usage: vec![usage("m1", "a", 0, 5), usage("m2", "a", 1, 5)],
            ..Batch::default()
        })
        .unwrap();
    let before = pending(&store);
    assert_eq!(before.len(), 2);
    // The same report again: no change, nothing queued.
    store
        .write(&Batch {
            usage: vec![usage("m1", "a", 0, 5)],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(pending(&store), before);
    // A grown snapshot: one entry for m1, after m2, with a higher seq.
    store
        .write(&Batch {
            usage: vec![usage("m1", "a", 0, 9)],
            ..Batch::default()
        })
        .unwrap();
    let after = pending(&store);
    assert_eq!(
        after.iter().map(|(_, w)| w.as_str()).collect::<Vec<_>>(),
        ["usage m2 out=5", "usage m1 out=9"]
    );
    assert!(after[1].0 > before[1].0);
}

#[test]
fn a_rewritten_session_is_pending_once_with_its_latest_state() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.enable_team_outbox().unwrap();
    let (mut state, _) = running("a", 0, "/p");
    store.write_batch(&[state.clone()], &[]).unwrap();
    state.num_turns = 7;
    store.write_batch(&[state.clone()], &[]).unwrap();
    let entries = store.pending_outbox(0, 100).unwrap();
    assert_eq!(entries.len(), 1);
    match &entries[0].item {
        OutboxItem::Session(s) => assert_eq!(s.num_turns, 7),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_retired_key_is_forwarded_as_retired() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.enable_team_outbox().unwrap();
    store
        .write(&Batch {
            usage: vec![usage("req:r1", "a", 0, 5)],
            ..Batch::default()
        })
        .unwrap();
    store
        .write(&Batch {
            usage: vec![usage("msg_1", "a", 0, 5)],
            retired_usage: vec!["req:r1".into()],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(kinds(&store), ["usage msg_1 out=5", "retired req:r1"]);
}

#[test]
fn pending_entries_the_machine_and_the_cursor_survive_a_restart() {
    let (_dir, path) = temp_db();
    let (machine, last) = {
        let store = SqliteStore::open(&path).unwrap();
        let state = store.enable_team_outbox().unwrap();
        store.write(&batch("a", 0)).unwrap();
        let last = pending(&store).last().unwrap().0;
        store.ack_outbox(2).unwrap();
        (state.machine_id, last)
    };
    let store = SqliteStore::open(&path).unwrap();
    let state = store.team_agent().unwrap().unwrap();
    assert_eq!(state.machine_id, machine);
    assert_eq!(state.acked_seq, 2);
    assert_eq!(state.last_seq, last);
    assert_eq!(state.pending, last - 2);
    assert_eq!(pending(&store).first().unwrap().0, 3);
    // Seqs go on growing after the restart, even past pruned ones.
    store.ack_outbox(last).unwrap();
    store.write(&batch("b", 10)).unwrap();
    assert!(pending(&store).iter().all(|(seq, _)| *seq > last));
}

#[test]
fn an_ack_prunes_what_it_covers_clears_the_error_and_never_moves_back() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.enable_team_outbox().unwrap();
    store.write(&batch("a", 0)).unwrap();
    let all = pending(&store);
    store.record_team_error("server unreachable").unwrap();
    let state = store.team_agent().unwrap().unwrap();
    assert_eq!(state.last_error.as_deref(), Some("server unreachable"));
    assert!(state.last_error_at.is_some());

    assert_eq!(store.ack_outbox(all[1].0).unwrap(), 2);
    let state = store.team_agent().unwrap().unwrap();
    assert_eq!(state.acked_seq, all[1].0);
    assert_eq!(state.pending, all.len() as u64 - 2);
    assert_eq!(state.last_error, None);
    assert!(state.last_contact_at.is_some());
    assert_eq!(pending(&store), all[2..]);

    store.ack_outbox(1).unwrap();
    assert_eq!(store.team_agent().unwrap().unwrap().acked_seq, all[1].0);
}

#[test]
fn disabling_drops_the_backlog_and_stops_queuing_enabling_again_queues_everything() {
    let store = SqliteStore::open_in_memory().unwrap();
    let machine = store.enable_team_outbox().unwrap().machine_id;
    store.write(&batch("a", 0)).unwrap();
    store.disable_team_outbox().unwrap();
    assert!(pending(&store).is_empty());
    store.write(&batch("b", 10)).unwrap();
    assert!(pending(&store).is_empty());
    let state = store.enable_team_outbox().unwrap();
    assert_eq!(state.machine_id, machine);
    let kinds = kinds(&store);
    assert!(kinds.contains(&"session a".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"session b".to_owned()), "{kinds:?}");
}

#[test]
fn requeue_sends_the_whole_history_again_after_what_is_pending() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.enable_team_outbox().unwrap();
    store.write(&batch("a", 0)).unwrap();
    let last = pending(&store).last().unwrap().0;
    store.ack_outbox(last).unwrap();
    assert!(pending(&store).is_empty());
    store.requeue_team_outbox().unwrap();
    let again = pending(&store);
    assert_eq!(again.len() as u64, last);
    assert!(again.iter().all(|(seq, _)| *seq > last));
    assert_eq!(store.team_agent().unwrap().unwrap().acked_seq, 0);
}

#[test]
fn a_deleted_session_and_its_events_are_gone_and_can_be_forgotten() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.enable_team_outbox().unwrap();
    store.write(&batch("a", 0)).unwrap();
    store.delete_session(&SessionId::new("a")).unwrap();
    let entries = store.pending_outbox(0, 100).unwrap();
    let gone: Vec<u64> = entries
        .iter()
        .filter(|e| e.item == OutboxItem::Gone)
        .map(|e| e.seq)
        .collect();
    assert_eq!(gone.len(), entries.len() - 1, "all but the usage row");
    store.forget_outbox(&gone).unwrap();
    assert_eq!(kinds(&store), ["usage msg_a out=42"]);
}

#[test]
fn pending_reads_page_by_seq() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.enable_team_outbox().unwrap();
    store.write(&batch("a", 0)).unwrap();
    let all = pending(&store);
    let first = store.pending_outbox(0, 3).unwrap();
    let rest = store.pending_outbox(first[2].seq, 100).unwrap();
    assert_eq!(first.len() + rest.len(), all.len());
    assert_eq!(rest[0].seq, all[3].0);
    let event = store
        .pending_outbox(0, 100)
        .unwrap()
        .into_iter()
        .find_map(|e| match e.item {
            OutboxItem::Event { id, event } => Some((id, event)),
            _ => None,
        })
        .unwrap();
    assert!(event.0 > 0);
    assert_eq!(*event.1, event_of(&store, "a")[0]);
}

fn event_of(store: &SqliteStore, id: &str) -> Vec<cclive_core::Event> {
    store.events(&SessionId::new(id)).unwrap()
}

#[test]
fn an_event_is_queued_after_the_session_of_its_batch() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.enable_team_outbox().unwrap();
    let (state, _) = running("a", 0, "/p");
    store
        .write_batch(&[state], &[event("a", 1, EventKind::Other)])
        .unwrap();
    assert_eq!(kinds(&store), ["session a", "event a"]);
}
