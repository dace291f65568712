//! What the `SQLite` store adds to the [`Store`] specification: its file settings, schema
//! versions, several handles on one file, and rows damaged outside cclive.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cclive_core::{EventKind, SessionId, Status};
use proptest::prelude::{Just, Strategy, any, prop, prop_oneof};
use rusqlite::Connection;
use tempfile::TempDir;

use super::*;
use crate::migrations::LATEST;
use crate::tests::{assert_same, event, running, t};

/// Every stored quarter-hour sum (`0010`), in key order, each column as its typed value
/// (integers and reals apart): what the sums' tests compare.
pub(super) fn stored_sums(conn: &Connection) -> Vec<Vec<String>> {
    let mut stmt = conn
        .prepare("SELECT * FROM usage_quarters ORDER BY 1, 2, 3, 4, 5, 6, 7")
        .unwrap();
    let width = stmt.column_count();
    stmt.query_map([], |r| {
        (0..width)
            .map(|i| Ok(format!("{:?}", r.get_ref(i)?)))
            .collect::<rusqlite::Result<Vec<_>>>()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cclive.db");
    (dir, path)
}

fn pragma(store: &SqliteStore, name: &str) -> String {
    let conn = store.conn();
    conn.query_row(&format!("PRAGMA {name}"), [], |row| {
        let value: SqlValue = row.get(0)?;
        Ok(match value {
            SqlValue::Integer(i) => i.to_string(),
            SqlValue::Text(s) => s,
            other => format!("{other:?}"),
        })
    })
    .unwrap()
}

fn sid(id: &str) -> SessionId {
    SessionId::new(id)
}

#[test]
fn a_file_store_runs_in_wal_mode_with_the_agreed_settings() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(pragma(&store, "journal_mode"), "wal");
    assert_eq!(pragma(&store, "synchronous"), "1", "NORMAL");
    assert_eq!(pragma(&store, "busy_timeout"), "5000");
    assert_eq!(pragma(&store, "foreign_keys"), "1");
    assert_eq!(pragma(&store, "user_version"), LATEST.to_string());
}

#[test]
fn closing_leaves_a_small_wal_for_the_next_connection_and_checkpoints_a_big_one() {
    let (_dir, path) = temp_db();
    let wal = side_file(&path, "-wal");
    let store = SqliteStore::open(&path).unwrap();
    let (state, _) = running("s1", 0, "/p");
    store
        .write_batch(std::slice::from_ref(&state), &[])
        .unwrap();
    drop(store);
    assert!(
        wal.exists(),
        "a small WAL stays: no checkpoint, no fsync on closing"
    );
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.session(&sid("s1")).unwrap(), Some(state.clone()));
    // A transaction past the kept size (a cold import's) is checkpointed when the last
    // connection closes: the WAL is gone.
    reopened
        .conn()
        .execute_batch(
            "CREATE TABLE filler (b BLOB); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) \
             INSERT INTO filler SELECT zeroblob(65536) FROM n;",
        )
        .unwrap();
    assert!(std::fs::metadata(&wal).unwrap().len() > WAL_KEPT_ON_CLOSE);
    drop(reopened);
    assert!(!wal.exists(), "checkpointed and removed");
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.session(&sid("s1")).unwrap(), Some(state));
}

#[test]
fn path_names_the_file_and_is_none_in_memory() {
    let (_dir, path) = temp_db();
    assert_eq!(
        SqliteStore::open(&path).unwrap().path(),
        Some(path.as_path())
    );
    assert_eq!(SqliteStore::open_in_memory().unwrap().path(), None);
}

#[test]
fn open_creates_the_file_but_not_missing_directories() {
    let (dir, path) = temp_db();
    SqliteStore::open(&path).unwrap();
    assert!(path.is_file());

    let nested = dir.path().join("missing").join("cclive.db");
    let err = SqliteStore::open(&nested).unwrap_err();
    assert!(
        matches!(&err, StoreError::Open { path, .. } if *path == nested),
        "{err:?}"
    );
    assert!(!nested.parent().unwrap().exists());
}

#[test]
fn a_file_that_is_not_a_database_is_an_open_error() {
    let (_dir, path) = temp_db();
    std::fs::write(
        &path,
        "this is a text file, not a database, and long enough to have a header",
    )
    .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(&err, StoreError::Open { .. }), "{err:?}");
}

#[test]
fn reopening_keeps_the_data_and_migrates_nothing_again() {
    let (_dir, path) = temp_db();
    let (state, events) = running("s1", 0, "/p");
    SqliteStore::open(&path)
        .unwrap()
        .write_batch(std::slice::from_ref(&state), &events)
        .unwrap();

    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(pragma(&again, "user_version"), LATEST.to_string());
    assert_same(&again.session(&sid("s1")).unwrap().unwrap(), &state);
    assert_eq!(again.events(&sid("s1")).unwrap(), events);
}

#[test]
fn a_database_from_a_newer_cclive_is_refused_with_upgrade_advice() {
    let (_dir, path) = temp_db();
    drop(SqliteStore::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();

    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, supported } if supported == LATEST),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade cclive"), "{err}");
    let version: u32 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 99, "the newer database is left untouched");
}

#[test]
fn two_handles_on_one_file_see_what_the_other_committed() {
    let (_dir, path) = temp_db();
    let wrapper = SqliteStore::open(&path).unwrap();
    let reader = SqliteStore::open(&path).unwrap();

    let (mut state, events) = running("s1", 0, "/p");
    wrapper
        .write_batch(std::slice::from_ref(&state), &events)
        .unwrap();
    assert_same(&reader.session(&sid("s1")).unwrap().unwrap(), &state);
    assert_eq!(reader.events(&sid("s1")).unwrap(), events);

    state.status = Status::Completed;
    wrapper
        .write_batch(std::slice::from_ref(&state), &[])
        .unwrap();
    let listed = reader.sessions(&SessionQuery::default()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, Status::Completed);
}

#[test]
fn readers_do_not_wait_for_a_writer_and_see_only_committed_data() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).unwrap();
    let (state, _) = running("s1", 0, "/p");
    store
        .write_batch(std::slice::from_ref(&state), &[])
        .unwrap();

    // Another process is in the middle of a batch.
    let mut other = Connection::open(&path).unwrap();
    let tx = other
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    tx.execute("UPDATE sessions SET status = 'FAILED'", [])
        .unwrap();

    let seen = store.session(&sid("s1")).unwrap().unwrap();
    assert_eq!(seen.status, Status::Active);
    let failed = SessionQuery {
        status: Some(Status::Failed),
        ..SessionQuery::default()
    };
    assert!(store.sessions(&failed).unwrap().is_empty());
    tx.rollback().unwrap();
}

#[test]
fn a_writer_waits_for_another_process_batch_instead_of_failing() {
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).unwrap();

    // Another process holds the write lock for a while.
    let (locked, is_locked) = std::sync::mpsc::channel();
    let other_path = path.clone();
    let releaser = thread::spawn(move || {
        let mut other = Connection::open(other_path).unwrap();
        let tx = other
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        locked.send(()).unwrap();
        thread::sleep(Duration::from_millis(300));
        tx.commit().unwrap();
    });
    is_locked.recv().unwrap();

    let (state, events) = running("s1", 0, "/p");
    store
        .write_batch(std::slice::from_ref(&state), &events)
        .unwrap();
    releaser.join().unwrap();
    assert_eq!(store.events(&sid("s1")).unwrap(), events);
}

#[test]
fn two_handles_writing_at_once_both_get_every_batch_in() {
    let (_dir, path) = temp_db();
    let handles: Vec<Arc<SqliteStore>> = (0..2)
        .map(|_| Arc::new(SqliteStore::open(&path).unwrap()))
        .collect();
    let writers: Vec<_> = handles
        .iter()
        .enumerate()
        .map(|(n, store)| {
            let store = Arc::clone(store);
            thread::spawn(move || {
                let id = format!("writer-{n}");
                let (state, events) = running(&id, 0, "/p");
                for event in &events {
                    store
                        .write_batch(std::slice::from_ref(&state), std::slice::from_ref(event))
                        .unwrap();
                }
                events
            })
        })
        .collect();
    let written: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();

    for (n, events) in written.iter().enumerate() {
        assert_eq!(
            &handles[0].events(&sid(&format!("writer-{n}"))).unwrap(),
            events
        );
    }
    assert_eq!(
        handles[1].sessions(&SessionQuery::default()).unwrap().len(),
        2
    );
}

#[test]
fn the_columns_mirror_the_state() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (state, events) = running("s1", 0, "/work/app");
    store
        .write_batch(std::slice::from_ref(&state), &events)
        .unwrap();

    let conn = store.conn();
    let row: (
        String,
        String,
        String,
        String,
        i64,
        String,
        i64,
        i64,
        String,
    ) = conn
        .query_row(
            "SELECT status, mode, source, cost_source, started_at_ms, project_path, \
             tokens_input, tokens_cache_read, model FROM sessions",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "ACTIVE".into(),
            "print".into(),
            "wrapper".into(),
            "estimated".into(),
            state.started_at.as_millisecond(),
            "/work/app".into(),
            1200,
            5000,
            "claude-sonnet-4-5".into(),
        )
    );
    let cost: f64 = conn
        .query_row("SELECT total_cost_usd FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(cost.to_bits(), state.total_cost_usd.to_bits());
    let types: Vec<String> = conn
        .prepare("SELECT type FROM events ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(types[..3], ["session_started", "init", "prompt_submitted"]);
}

#[test]
fn a_corrupt_state_row_is_an_error_naming_the_session() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (state, _) = running("s-broken", 0, "/p");
    store.write_batch(&[state], &[]).unwrap();
    store
        .conn()
        .execute("UPDATE sessions SET state_json = '{\"session_id\": 7'", [])
        .unwrap();

    let err = store.session(&sid("s-broken")).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { what, .. } if what.contains("s-broken")),
        "{err:?}"
    );
    let err = store.sessions(&SessionQuery::default()).unwrap_err();
    assert!(err.to_string().contains("s-broken"), "{err}");
}

#[test]
fn a_corrupt_event_row_is_an_error_naming_the_session() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (state, events) = running("s-broken", 0, "/p");
    store.write_batch(&[state], &events).unwrap();
    store
        .conn()
        .execute("UPDATE events SET payload_json = 'null' WHERE id = 2", [])
        .unwrap();

    let err = store.events(&sid("s-broken")).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { what, .. }
            if what.contains("s-broken") && what.contains("event 2")),
        "{err:?}"
    );
}

#[test]
fn the_ledger_is_kept_beside_the_state() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (state, _) = running("s1", 0, "/p");
    store
        .write_batch(std::slice::from_ref(&state), &[])
        .unwrap();
    let ledger: String = store
        .conn()
        .query_row("SELECT whole_json FROM ledgers", [], |r| r.get(0))
        .unwrap();
    let ledger: Json = serde_json::from_str(&ledger).unwrap();
    assert_eq!(ledger, state.ledger_json());
    // Each response as an array in field order (`cclive_core`'s `session/counted_form.rs`).
    assert_eq!(
        ledger["usage"]["msg_1"][0], "claude-sonnet-4-5",
        "the usage of msg_1 is in it: {ledger}"
    );
}

#[test]
fn a_batch_big_enough_to_encode_on_several_threads_stores_every_session_whole() {
    let store = SqliteStore::open_in_memory().unwrap();
    let states: Vec<SessionState> = (0..=(PARALLEL_ENCODE_FROM * 2))
        .map(|n| running(&format!("s{n}"), i64::try_from(n).unwrap(), "/p").0)
        .collect();
    store.write_batch(&states, &[]).unwrap();
    for state in &states {
        assert_eq!(
            store.session(&state.session_id).unwrap().as_ref(),
            Some(state)
        );
    }
}

#[test]
fn a_few_long_sessions_are_encoded_on_several_threads_and_written_in_the_batchs_order() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut states: Vec<SessionState> = (0..6)
        .map(|n| running(&format!("s{n}"), n, "/p").0)
        .collect();
    // A batch is judged by the responses its sessions counted (their ledgers' length).
    states[1].api_requests = PARALLEL_ENCODE_FROM_RESPONSES;
    // The same session twice: the later state is the one stored, as on one thread.
    let mut later = states[0].clone();
    later.num_turns += 7;
    states.push(later.clone());
    store.write_batch(&states, &[]).unwrap();
    for state in &states[1..6] {
        assert_eq!(
            store.session(&state.session_id).unwrap().as_ref(),
            Some(state)
        );
    }
    assert_eq!(store.session(&sid("s0")).unwrap(), Some(later));
    // On as many threads as a bigger machine gives the encoding (all cores but the writer's),
    // whatever this one has: the rows come back in the batch's order.
    let rows = encode_sessions(&states, &store.journal, 3).unwrap();
    let ids: Vec<&SessionId> = rows.iter().map(|row| &row.state.session_id).collect();
    let batch_ids: Vec<&SessionId> = states.iter().map(|s| &s.session_id).collect();
    assert_eq!(ids, batch_ids);
    // However the threads took turns.
    assert_eq!(
        in_batch_order(vec![
            vec![(0, 'a'), (2, 'c'), (3, 'd')],
            vec![(1, 'b'), (4, 'e')]
        ]),
        ['a', 'b', 'c', 'd', 'e']
    );
}

#[test]
fn a_listing_leaves_the_ledger_out_and_a_single_read_brings_it() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (state, _) = running("s1", 0, "/p");
    store
        .write_batch(std::slice::from_ref(&state), &[])
        .unwrap();
    let listed = store.sessions(&SessionQuery::default()).unwrap();
    assert_same(&listed[0], &state);
    assert_ne!(listed[0], state, "no ledger in a listing");
    assert_eq!(store.session(&sid("s1")).unwrap().unwrap(), state);
}

#[test]
fn a_corrupt_ledger_is_an_error_naming_the_session() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (state, _) = running("s-broken", 0, "/p");
    store.write_batch(&[state], &[]).unwrap();
    store
        .conn()
        .execute("UPDATE ledgers SET whole_json = '{\"usage\": 7}'", [])
        .unwrap();

    let err = store.session(&sid("s-broken")).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { what, .. }
            if what.contains("ledger") && what.contains("s-broken")),
        "{err:?}"
    );
    assert_eq!(
        store.sessions(&SessionQuery::default()).unwrap().len(),
        1,
        "listings do not read it"
    );
}

#[test]
fn a_corrupt_usage_row_is_an_error_naming_the_response() {
    let store = SqliteStore::open_in_memory().unwrap();
    store
        .conn()
        .execute(
            "INSERT INTO usage VALUES ('msg_bad', 's1', 0, NULL, -1, 0, 0, 0, 0, 0, 0, 0, 0)",
            [],
        )
        .unwrap();
    let err = store.usage_rows(None, None).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { what, .. } if what.contains("msg_bad")),
        "{err:?}"
    );
    let err = store.usage_totals(&sid("s1")).unwrap_err();
    assert!(err.to_string().contains("s1"), "{err}");
}

#[test]
fn dev_and_inode_keep_every_bit() {
    let store = SqliteStore::open_in_memory().unwrap();
    let checkpoint = Checkpoint {
        path: PathBuf::from("/t/a.jsonl"),
        dev: u64::MAX,
        inode: (1 << 63) + 5,
        offset: 0,
        fingerprint: Some(7),
        length: Some(u64::MAX >> 1),
    };
    store
        .write(&Batch {
            checkpoints: vec![checkpoint.clone()],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.checkpoints().unwrap(), [checkpoint]);
}

#[cfg(unix)]
#[test]
fn a_checkpoint_path_that_is_not_utf8_fails_the_batch_before_writing() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let store = SqliteStore::open_in_memory().unwrap();
    let path = PathBuf::from(OsStr::from_bytes(b"/t/\xff.jsonl"));
    let (state, _) = running("s1", 0, "/p");
    let err = store
        .write(&Batch {
            sessions: vec![state],
            checkpoints: vec![Checkpoint {
                path: path.clone(),
                dev: 1,
                inode: 2,
                offset: 3,
                fingerprint: Some(7),
                length: None,
            }],
            ..Batch::default()
        })
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NonUtf8Path { path: p } if *p == path),
        "{err:?}"
    );
    assert!(store.session(&sid("s1")).unwrap().is_none());
    assert!(store.checkpoint(&path).unwrap().is_none());
}

/// The string `key` of a serialized value (an event's `type`).
fn text(value: &serde_json::Value, key: &str) -> String {
    value
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Stores `events` of session `old` row by row, as an old schema would.
fn insert_old_events(conn: &Connection, events: &[Event]) {
    for e in events {
        let json = serde_json::to_value(e).unwrap();
        conn.execute(
            "INSERT INTO events (session_id, at_ms, type, payload_json) VALUES ('old', ?1, ?2, ?3)",
            params![e.at.as_millisecond(), text(&json, "type"), json.to_string()],
        )
        .unwrap();
    }
}

/// A database file as a cclive with only schema version 1 left it: one session (state only),
/// its events and a checkpoint, written with that version's columns.
fn version_1_database(path: &Path) -> (SessionState, Vec<Event>) {
    let mut conn = Connection::open(path).unwrap();
    migrations::migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
    assert_eq!(migrations::user_version(&conn).unwrap(), 1);

    let (state, events) = running("old", 0, "/work/app");
    conn.execute(
        "INSERT INTO sessions (session_id, status, mode, source, started_at_ms, updated_at_ms,
            project_path, cost_source, duration_ms, duration_api_ms, num_turns, tokens_input,
            tokens_output, tokens_cache_read, tokens_cache_creation, state_json)
         VALUES ('old', 'ACTIVE', 'print', 'wrapper', ?1, ?2, '/work/app', 'estimated', 0, 0, 1,
            1200, 42, 5000, 300, ?3)",
        params![
            state.started_at.as_millisecond(),
            state.updated_at.as_millisecond(),
            serde_json::to_string(&state).unwrap(),
        ],
    )
    .unwrap();
    insert_old_events(&conn, &events);
    conn.execute(
        r#"INSERT INTO checkpoints (path, dev, inode, "offset", updated_at_ms)
           VALUES ('/t/old.jsonl', 2049, 77, 4096, 0)"#,
        [],
    )
    .unwrap();
    (state, events)
}

fn event_types(store: &SqliteStore, id: &str) -> Vec<String> {
    store
        .events(&sid(id))
        .unwrap()
        .iter()
        .map(|e| text(&serde_json::to_value(e).unwrap(), "type"))
        .collect()
}

#[test]
fn a_start_and_a_tool_call_two_writers_report_are_kept_once() {
    let (_dir, path) = temp_db();
    // `cclive run` writing on its own (no monitor answered) and a monitor reading the transcript.
    let wrapper = SqliteStore::open(&path).unwrap();
    let monitor = SqliteStore::open(&path).unwrap();
    let (state, events) = running("s1", 0, "/p");
    for store in [&wrapper, &monitor] {
        store
            .write_batch(std::slice::from_ref(&state), &events)
            .unwrap();
    }
    let types = event_types(&monitor, "s1");
    let count = |kind: &str| types.iter().filter(|t| *t == kind).count();
    for once in ["session_started", "tool_use", "tool_result"] {
        assert_eq!(count(once), 1, "{once} in {types:?}");
    }
    assert_eq!(
        count("usage"),
        2,
        "other reports are kept as they came: {types:?}"
    );
    assert_eq!(
        monitor.events(&sid("s1")).unwrap()[0],
        events[0],
        "the first one stays"
    );
}

#[test]
fn a_notice_is_claimed_once_whichever_handle_asks() {
    let (_dir, path) = temp_db();
    let wrapper = SqliteStore::open(&path).unwrap();
    let monitor = SqliteStore::open(&path).unwrap();
    assert!(wrapper.claim_notice(&sid("s1"), "session_ended").unwrap());
    assert!(!monitor.claim_notice(&sid("s1"), "session_ended").unwrap());
    assert!(!wrapper.claim_notice(&sid("s1"), "session_ended").unwrap());
    assert!(monitor.claim_notice(&sid("s1"), "session_started").unwrap());
    assert!(monitor.claim_notice(&sid("s2"), "session_ended").unwrap());
}

#[test]
fn duplicates_kept_before_version_7_go_when_it_is_applied() {
    let (_dir, path) = temp_db();
    let (_, events) = version_1_database(&path);
    // The same events again, as a second writer kept them then.
    insert_old_events(&Connection::open(&path).unwrap(), &events);
    let store = SqliteStore::open(&path).unwrap();
    let types = event_types(&store, "old");
    let count = |kind: &str| types.iter().filter(|t| *t == kind).count();
    assert_eq!(
        (
            count("session_started"),
            count("tool_use"),
            count("tool_result"),
            count("init")
        ),
        (1, 1, 1, 2),
        "{types:?}"
    );
    assert_eq!(
        store.events(&sid("old")).unwrap()[..events.len()],
        events[..]
    );
}

#[test]
fn a_version_1_database_is_upgraded_with_its_data_kept() {
    let (_dir, path) = temp_db();
    let (state, events) = version_1_database(&path);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(pragma(&store, "user_version"), LATEST.to_string());

    // The old data reads as before: the session without a ledger (replay its events for one).
    let stored = store.session(&sid("old")).unwrap().unwrap();
    assert_same(&stored, &state);
    let bare: SessionState = serde_json::from_value(serde_json::to_value(&state).unwrap()).unwrap();
    assert_eq!(stored, bare, "no ledger yet");
    assert_eq!(store.events(&sid("old")).unwrap(), events);
    assert_eq!(
        store.checkpoints().unwrap(),
        [Checkpoint {
            path: PathBuf::from("/t/old.jsonl"),
            dev: 2049,
            inode: 77,
            offset: 4096,
            fingerprint: None,
            length: None,
        }]
    );

    // The new tables and columns work.
    store
        .write(&Batch {
            sessions: vec![state.clone()],
            usage: vec![UsageRow {
                key: "msg_1".into(),
                session_id: sid("old"),
                at: t(4),
                model: Some("claude-sonnet-4-5".into()),
                tokens: state.tokens,
                sidechain: false,
            }],
            ..Batch::default()
        })
        .unwrap();
    assert_eq!(store.session(&sid("old")).unwrap().unwrap(), state);
    assert_eq!(store.usage_totals(&sid("old")).unwrap(), (state.tokens, 1));
}

/// A bijection on u64 (splitmix64's finalizer), for keys in no particular order.
fn scramble(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[test]
fn an_import_sized_batch_goes_in_as_one_transaction() {
    const SESSIONS: usize = 2_000;
    const RESPONSES: usize = 200_000;
    let (_dir, path) = temp_db();
    let store = SqliteStore::open(&path).unwrap();
    let sessions: Vec<SessionState> = (0..SESSIONS)
        .map(|n| running(&format!("s{n}"), 0, "/p").0)
        .collect();
    let usage: Vec<UsageRow> = (0..RESPONSES)
        .map(|n| UsageRow {
            // Random-looking, as API message ids are: inserts land all over the key index.
            key: format!("msg_{:016x}", scramble(n as u64)),
            session_id: sid(&format!("s{}", n % SESSIONS)),
            at: t(i64::try_from(n).unwrap()),
            model: Some("claude-sonnet-4-5".into()),
            tokens: cclive_core::Tokens {
                input: 3,
                output: 100,
                cache_read: 20_000,
                cache_creation: 500,
                ..Tokens::default()
            },
            sidechain: n % 7 == 0,
        })
        .collect();
    let batch = Batch {
        sessions,
        usage,
        ..Batch::default()
    };

    let started = Instant::now();
    store.write(&batch).unwrap();
    let first = started.elapsed();
    let started = Instant::now();
    store.write(&batch).unwrap();
    let again = started.elapsed();
    eprintln!(
        "{SESSIONS} sessions + {RESPONSES} usage rows in one batch: {first:?} new, {again:?} \
         all duplicates"
    );

    let count: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM usage", [], |r| r.get(0))
        .unwrap();
    assert_eq!(usize::try_from(count).unwrap(), RESPONSES);
    let per_session = RESPONSES / SESSIONS;
    let (tokens, responses) = store.usage_totals(&sid("s1")).unwrap();
    assert_eq!(responses, u64::try_from(per_session).unwrap());
    assert_eq!(tokens.output, 100 * responses);
}

#[test]
fn usage_events_do_not_fill_the_usage_table() {
    // Events and usage rows are separate parts of a batch: the writer decides what goes into each.
    let store = SqliteStore::open_in_memory().unwrap();
    let (state, _) = running("s1", 0, "/p");
    let usage_event = event(
        "s1",
        9,
        EventKind::Usage {
            key: "msg_9".into(),
            request_id: None,
            reported_cost_usd: None,
            model: None,
            tokens: cclive_core::Tokens::default(),
            is_final: true,
            sidechain: false,
        },
    );
    store
        .write_batch(&[state], std::slice::from_ref(&usage_event))
        .unwrap();
    assert!(store.usage_rows(None, None).unwrap().is_empty());
}

/// A version moves with every write, this handle's or another's (another process's works as
/// another connection does), and stays while only reads happen.
#[test]
fn the_version_moves_with_every_write_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let (mine, other) = (
        SqliteStore::open(&path).unwrap(),
        SqliteStore::open(&path).unwrap(),
    );
    let version = || mine.version().unwrap().expect("SQLite tells its version");
    let start = version();
    mine.sessions(&SessionQuery::default()).unwrap();
    other.sessions(&SessionQuery::default()).unwrap();
    assert_eq!(version(), start, "reads change nothing");
    let batch = |key: &str| Batch {
        usage: vec![UsageRow {
            key: key.into(),
            session_id: SessionId::new("s"),
            at: Timestamp::from_second(1_795_600_000).unwrap(),
            model: None,
            tokens: Tokens::default(),
            sidechain: false,
        }],
        ..Batch::default()
    };
    other.write(&batch("a")).unwrap();
    let after_other = version();
    assert_ne!(after_other, start, "another connection wrote");
    mine.write(&batch("b")).unwrap();
    assert_ne!(version(), after_other, "this handle wrote");
}

/// Usage rows of `len` reports drawn from a few responses, sessions, quarter hours and models:
/// the same response reported again, with other figures, by another session or at the same
/// time, and with or without its model.
fn usage_reports(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<UsageRow>> {
    prop::collection::vec(
        (
            0..30_usize,
            0..3_usize,
            0..4 * 900_000_i64,
            prop_oneof![Just(None), Just(Some("m1")), Just(Some("m2"))],
            [0..500_u64, 0..50, 0..3, 0..3],
            any::<bool>(),
        ),
        len,
    )
    .prop_map(|reports| {
        reports
            .into_iter()
            .map(|(key, session, at_ms, model, n, sidechain)| UsageRow {
                key: format!("msg_{key}"),
                session_id: SessionId::new(["a", "b", "c"][session]),
                // Whole minutes: reports of one response often share a time.
                at: Timestamp::from_millisecond(1_795_600_000_000 + at_ms / 60_000 * 60_000)
                    .unwrap(),
                model: model.map(str::to_owned),
                tokens: cclive_core::Tokens {
                    input: n[0],
                    output: n[1],
                    cache_read: n[2],
                    cache_creation: n[3],
                    ..cclive_core::Tokens::default()
                },
                sidechain,
            })
            .collect()
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    /// Many reports upserted from a stage in one statement (`sqlite/stage.rs`) store what
    /// the same reports upserted one by one store: each merged, in order, into the stored row
    /// and the reports before it, with the same quarter-hour sums.
    #[test]
    fn usage_upserted_from_a_stage_is_what_one_by_one_stores(
        stored in usage_reports(0..40),
        later in usage_reports(64..140),
    ) {
        let mut results = Vec::new();
        for staged in [false, true] {
            let store = SqliteStore::open_in_memory().unwrap();
            store.write(&Batch { usage: stored.clone(), ..Batch::default() }).unwrap();
            {
                let mut conn = store.conn();
                let tx = conn.transaction().unwrap();
                let bound: Vec<BoundUsage<'_>> = later.iter().map(bound_usage).collect();
                if staged {
                    upsert_usage_staged(&tx, &bound).unwrap();
                } else {
                    upsert_usage_one_by_one(&tx, &bound).unwrap();
                }
                tx.commit().unwrap();
            }
            let sums = stored_sums(&store.conn());
            results.push((store.usage_rows(None, None).unwrap(), sums));
        }
        proptest::prop_assert_eq!(&results[0], &results[1]);
    }
}
