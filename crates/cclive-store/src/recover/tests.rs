//! `check` and `recover` on real `SQLite` files: healthy, with garbage written over pages, not a
//! database at all.

use std::path::Path;

use cclive_core::{SessionId, Tokens};

use super::*;
use crate::check::{CheckDepth, Verdict, check};
use crate::tests::{running, t};
use crate::{Batch, SessionQuery, Store, UsageRow};

/// Tables of the schema that are deliberately not copied (see the module comment).
/// `checkpoints`: see the module comment of `recover.rs`; `usage_quarters`: the sums of `usage`,
/// which its triggers (`0010`) make again as the rows are copied; `usage_quarters_deferred`
/// (`0011`): empty outside a writer's transaction.
const NOT_COPIED: &[&str] = &["checkpoints", "usage_quarters", "usage_quarters_deferred"];

/// Sessions written by [`fill`].
const SESSIONS: usize = 300;

/// A database at `path` with [`SESSIONS`] sessions, their events and one usage row each,
/// closed (so everything is in the main file, the WAL checkpointed away).
pub(crate) fn fill(path: &Path) {
    let store = SqliteStore::open(path).unwrap();
    let mut batch = Batch::default();
    for i in 0..SESSIONS {
        let id = format!("session-{i:04}");
        let (state, events) = running(&id, i64::try_from(i).unwrap() * 60, "/work/app");
        batch.sessions.push(state);
        batch.events.extend(events);
        batch.usage.push(UsageRow {
            key: format!("msg_{i:04}"),
            session_id: SessionId::new(&id),
            at: t(i64::try_from(i).unwrap() * 60),
            model: Some("claude-sonnet-4-5".into()),
            tokens: Tokens {
                input: 100,
                output: 10,
                ..Tokens::default()
            },
            sidechain: false,
        });
    }
    store.write(&batch).unwrap();
}

/// Writes garbage over three stretches of pages in the middle of the file (never page 1, the
/// header and schema).
pub(crate) fn damage(path: &Path) {
    // What the writer left in the WAL goes into the file first (a later checkpoint would
    // write good pages over the garbage).
    crate::SqliteStore::open(path)
        .unwrap()
        .checkpoint_wal()
        .unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let pages = bytes.len() / 4096;
    assert!(
        pages > 40,
        "{pages} pages: too small to damage in the middle"
    );
    for (n, first) in [pages / 4, pages / 2, pages * 3 / 4]
        .into_iter()
        .enumerate()
    {
        let start = first * 4096;
        for (i, b) in bytes[start..start + 2 * 4096].iter_mut().enumerate() {
            *b = u8::try_from((i * 31 + n * 7) % 251).unwrap();
        }
    }
    std::fs::write(path, bytes).unwrap();
}

fn rows(report: &RecoverReport, table: &str) -> (u64, u64) {
    let t = report.tables.iter().find(|t| t.table == table).unwrap();
    (t.rescued, t.lost)
}

#[test]
fn a_healthy_database_passes_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cclive.db");
    fill(&db);
    for depth in [CheckDepth::Quick, CheckDepth::Full] {
        let report = check(&db, depth).unwrap();
        assert_eq!(report.verdict, Verdict::Healthy, "{report:?}");
        assert!(report.problems.is_empty(), "{report:?}");
        assert_eq!(report.schema_version, Some(crate::migrations::LATEST));
    }
    let missing = check(&dir.path().join("none.db"), CheckDepth::Quick).unwrap();
    assert_eq!(missing.verdict, Verdict::Missing);
    assert!(
        !dir.path().join("none.db").exists(),
        "the check creates nothing"
    );
}

#[test]
fn garbage_over_some_pages_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cclive.db");
    fill(&db);
    damage(&db);
    let before = std::fs::read(&db).unwrap();
    let report = check(&db, CheckDepth::Quick).unwrap();
    assert_eq!(report.verdict, Verdict::Damaged, "{report:?}");
    assert!(!report.problems.is_empty());
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the check writes nothing"
    );
}

#[test]
fn a_file_that_is_not_a_database_is_damaged_and_recovers_to_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cclive.db");
    std::fs::write(&db, vec![0x42; 64 * 1024]).unwrap();
    assert_eq!(
        check(&db, CheckDepth::Quick).unwrap().verdict,
        Verdict::Damaged
    );
    let (store, report) = recover(&db, t(0)).unwrap();
    assert!(!report.readable);
    assert_eq!(report.totals(), (0, 0));
    assert!(store.sessions(&SessionQuery::default()).unwrap().is_empty());
    let aside = report.moved_to.unwrap();
    assert_eq!(std::fs::read(aside).unwrap(), vec![0x42; 64 * 1024]);
    drop(store);
    assert_eq!(
        check(&db, CheckDepth::Quick).unwrap().verdict,
        Verdict::Healthy
    );
}

#[test]
fn a_schema_missing_a_table_is_damaged_and_a_newer_one_is_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cclive.db");
    drop(SqliteStore::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("DROP TABLE budget_alerts").unwrap();
    let report = check(&db, CheckDepth::Quick).unwrap();
    assert_eq!(report.verdict, Verdict::Damaged);
    assert!(
        report.problems.iter().any(|p| p.contains("budget_alerts")),
        "{report:?}"
    );
    conn.pragma_update(None, "user_version", crate::migrations::LATEST + 1)
        .unwrap();
    drop(conn);
    assert_eq!(
        check(&db, CheckDepth::Quick).unwrap().verdict,
        Verdict::NewerSchema
    );
}

#[test]
fn recover_keeps_the_damaged_file_aside_and_rescues_the_readable_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cclive.db");
    fill(&db);
    damage(&db);
    let damaged = std::fs::read(&db).unwrap();

    let dry = survey(&db).unwrap();
    assert_eq!(
        std::fs::read(&db).unwrap(),
        damaged,
        "a dry run changes nothing"
    );
    assert!(dry.moved_to.is_none());

    let (store, report) = recover(&db, t(0)).unwrap();
    assert!(report.readable);
    assert_eq!(
        report.tables, dry.tables,
        "the dry run saw what recover did"
    );
    let aside = report.moved_to.clone().unwrap();
    assert_eq!(
        aside.file_name().unwrap().to_str().unwrap(),
        "cclive.db.corrupt-20261125T094640Z"
    );
    assert_eq!(std::fs::read(&aside).unwrap(), damaged, "kept as it was");

    let sessions = store.sessions(&SessionQuery::default()).unwrap();
    let (rescued, lost) = rows(&report, "sessions");
    assert_eq!(sessions.len() as u64, rescued);
    let (events, events_lost) = rows(&report, "events");
    let (usage, usage_lost) = rows(&report, "usage");
    // Something was rescued and something lost, and every row is accounted for.
    let total = SESSIONS as u64;
    assert!(rescued > 0 && usage > 0 && events > 0, "{report:?}");
    // The events of lost sessions are handed back to rebuild them from, not copied.
    assert!(report.orphaned_events > 0, "{report:?}");
    assert_eq!(report.orphans.len() as u64, report.orphaned_events);
    assert_eq!(report.orphaned_events, dry.orphaned_events);
    for orphan in &report.orphans {
        assert!(
            !sessions.iter().any(|s| s.session_id == orphan.session_id),
            "{orphan:?} has its session"
        );
    }
    assert!(lost + events_lost + usage_lost > 0, "{report:?}");
    assert_eq!(rescued + lost, total, "{report:?}");
    assert_eq!(usage + usage_lost, total, "{report:?}");
    // Every rescued session reads back whole, with its ledger and its events.
    for s in &sessions {
        let full = store.session(&s.session_id).unwrap().unwrap();
        assert_eq!(full.tokens.output, 42);
        assert!(store.events(&s.session_id).is_ok());
    }
    drop(store);
    assert_eq!(
        check(&db, CheckDepth::Full).unwrap().verdict,
        Verdict::Healthy
    );

    // Recovering again keeps the first aside file and picks a new name.
    let (_, again) = recover(&db, t(0)).unwrap();
    assert_ne!(again.moved_to.unwrap(), aside);
    assert!(aside.exists());
}

#[test]
fn events_stored_again_after_a_recover_are_dropped_once_and_new_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("cclive.db")).unwrap();
    let (state, events) = running("s1", 0, "/work/app");
    store.write_batch(&[state], &events).unwrap();
    let mark = store.last_event_id().unwrap();
    assert_eq!(mark, i64::try_from(events.len()).unwrap());
    // A re-read stores the same events again, and one that is new.
    let mut again = events.clone();
    again.push(crate::tests::event(
        "s1",
        999,
        cclive_core::EventKind::PromptSubmitted {
            id: None,
            preview: Some("later".into()),
        },
    ));
    store.write_batch(&[], &again).unwrap();
    // The store refuses a repeated start or tool call at once (`0007_once`); the rest go here.
    let refused = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                cclive_core::EventKind::SessionStarted { .. }
                    | cclive_core::EventKind::ToolUse { .. }
                    | cclive_core::EventKind::ToolResult { .. }
            )
        })
        .count();
    assert_eq!(
        store.drop_repeated_events(mark).unwrap(),
        (events.len() - refused) as u64
    );
    let kept = store.events(&SessionId::new("s1")).unwrap();
    assert_eq!(kept.len(), events.len() + 1);
    assert_eq!(&kept[..events.len()], &events[..]);
    assert_eq!(store.drop_repeated_events(mark).unwrap(), 0);
}

#[test]
fn every_table_of_the_schema_is_copied_or_deliberately_left_out() {
    let store = SqliteStore::open_in_memory().unwrap();
    let conn = store.conn();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in &tables {
        assert!(
            COPIED.contains(&table.as_str()) || NOT_COPIED.contains(&table.as_str()),
            "{table}: copy it in a recover, or say why not"
        );
    }
    assert_eq!(tables.len(), COPIED.len() + NOT_COPIED.len());
}

#[test]
fn a_database_another_process_keeps_locked_is_busy_not_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cclive.db");
    fill(&db);
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    let report = check(&db, CheckDepth::Quick).unwrap();
    assert_eq!(report.verdict, Verdict::Busy, "{report:?}");
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    assert_eq!(
        check(&db, CheckDepth::Quick).unwrap().verdict,
        Verdict::Healthy
    );
}
