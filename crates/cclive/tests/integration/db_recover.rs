//! `cclive db check|recover` on a real damaged history: a generated corpus imported, garbage
//! written over pages of the database file; `db check` and `doctor` say so and name the fix,
//! `db recover` keeps the damaged file aside and rebuilds a history whose every day, session and
//! total equals the corpus's ground truth; and it refuses while a monitor runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::import_corpus::generate;
use crate::reports::{assert_row, assert_rows};
use crate::support::cclive::{World, describe};

/// The generator's own price table, so costs compare exactly (see `reports.rs`).
fn prices() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gen-corpus-prices.json")
}

fn cclive(world: &World, corpus: &Path, args: &[&str]) -> Command {
    let mut cmd = world.cclive(args);
    cmd.env("CLAUDE_CONFIG_DIR", corpus)
        .env("CCLIVE_PRICES_FILE", prices());
    cmd
}

fn run(world: &World, corpus: &Path, args: &[&str]) -> Output {
    cclive(world, corpus, args).output().unwrap()
}

fn json(world: &World, corpus: &Path, args: &[&str]) -> Value {
    let out = run(world, corpus, args);
    assert!(out.status.success(), "{args:?}: {}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)))
}

/// Garbage over two pages at three eighths, half and three quarters of the file: rows' pages.
/// The schema's pages come first (the migrations run on an empty file: pages up to ~30 here),
/// and a damaged schema leaves no row readable, which is another case than this test's.
fn damage(db: &Path) {
    // What the last import left in the WAL goes into the file first (a later checkpoint would
    // write good pages over the garbage).
    cclive_store::SqliteStore::open(db)
        .unwrap()
        .checkpoint_wal()
        .unwrap();
    let mut bytes = std::fs::read(db).unwrap();
    let pages = bytes.len() / 4096;
    assert!(
        pages > 20,
        "{pages} pages: too small to damage in the middle"
    );
    for first in [pages * 3 / 8, pages / 2, pages * 3 / 4] {
        let start = first * 4096;
        for (i, b) in bytes[start..start + 2 * 4096].iter_mut().enumerate() {
            *b = u8::try_from((i * 31) % 251).unwrap();
        }
    }
    std::fs::write(db, bytes).unwrap();
}

/// Files beside the database whose name starts with `<db>.corrupt-`.
fn kept_aside(db: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.corrupt-", db.file_name().unwrap().to_str().unwrap());
    let mut found: Vec<PathBuf> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with(&prefix) && !name.ends_with("-wal") && !name.ends_with("-shm")
        })
        .collect();
    found.sort();
    found
}

#[test]
fn a_damaged_history_is_named_by_check_and_doctor_and_recovered_to_the_ground_truth() {
    let world = World::new("http://127.0.0.1:9");
    let corpus = world.claude.home().join("corpus");
    let truth = generate(&corpus, 4, 7);
    json(&world, &corpus, &["import", "--json", "--quiet"]);
    let healthy = run(&world, &corpus, &["db", "check"]);
    assert!(healthy.status.success(), "{}", describe(&healthy));
    assert!(String::from_utf8_lossy(&healthy.stdout).contains("healthy"));

    damage(&world.db);
    let damaged = std::fs::read(&world.db).unwrap();
    let out = run(&world, &corpus, &["db", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DAMAGED") && text.contains("cclive db recover"),
        "{text}"
    );
    let out = run(&world, &corpus, &["db", "check", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "damaged", "{report:#}");
    assert!(!report["problems"].as_array().unwrap().is_empty());

    let doctor = run(&world, &corpus, &["doctor"]);
    assert!(!doctor.status.success(), "{}", describe(&doctor));
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("✘ history") && l.contains("cclive db recover")),
        "{text}"
    );
    // Whatever a command trips over in the damaged file, its error names the way forward.
    let listing = run(
        &world,
        &corpus,
        &["sessions", "--json", "--limit", "100000"],
    );
    if !listing.status.success() {
        assert!(
            String::from_utf8_lossy(&listing.stderr).contains("cclive db recover"),
            "{}",
            describe(&listing)
        );
    }
    assert_eq!(
        std::fs::read(&world.db).unwrap(),
        damaged,
        "nothing wrote to it"
    );

    let recovered = json(&world, &corpus, &["db", "recover", "--json"]);
    assert_eq!(recovered["verdict"], "healthy", "{recovered:#}");
    let aside = PathBuf::from(recovered["rescued"]["moved_to"].as_str().unwrap());
    assert_eq!(kept_aside(&world.db), std::slice::from_ref(&aside));
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        damaged,
        "the damaged file is kept as it was"
    );
    assert!(recovered["rescued"]["readable"].as_bool().unwrap());
    assert_eq!(recovered["import"]["files"], truth["files"]);

    let check = run(&world, &corpus, &["db", "check", "--full"]);
    assert!(check.status.success(), "{}", describe(&check));

    // Every day, session and total equals the ground truth again (tokens and messages
    // exactly, cost to the micro-dollar).
    let daily = json(
        &world,
        &corpus,
        &["report", "daily", "--tz", "UTC", "--json"],
    );
    assert_rows("day", &daily, "period", &truth["by_day"]);
    assert_row("totals", &daily["totals"], &truth["totals"]);
    let sessions = json(
        &world,
        &corpus,
        &["report", "sessions", "--tz", "UTC", "--json"],
    );
    assert_rows("session", &sessions, "session_id", &truth["by_session"]);
    let listed = json(
        &world,
        &corpus,
        &["sessions", "--json", "--limit", "100000"],
    );
    for s in listed.as_array().unwrap() {
        let id = s["session_id"].as_str().unwrap();
        let expected = &truth["by_session"][id];
        for k in ["input", "output", "cache_read", "cache_creation"] {
            assert_eq!(s["tokens"][k], expected[k], "{k} of session {id}");
        }
        assert_eq!(s["api_requests"], expected["messages"], "session {id}");
    }
    assert_eq!(
        listed.as_array().unwrap().len(),
        truth["by_session"].as_object().unwrap().len()
    );

    // A second recover of the now healthy database does nothing.
    let again = run(&world, &corpus, &["db", "recover"]);
    assert!(again.status.success(), "{}", describe(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to recover"));
    assert_eq!(kept_aside(&world.db), [aside]);
}

#[test]
fn db_recover_refuses_while_a_monitor_runs_and_check_works_beside_it() {
    let world = World::new("http://127.0.0.1:9");
    let watch = world.watch();
    let corpus = world.claude.home().join(".claude");

    let check = run(&world, &corpus, &["db", "check"]);
    assert!(check.status.success(), "{}", describe(&check));

    let out = run(&world, &corpus, &["db", "recover", "--force"]);
    assert!(!out.status.success(), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a monitor holds this data dir") && err.contains(&watch.addr),
        "{err}"
    );
    assert!(kept_aside(&world.db).is_empty(), "nothing was moved");
    drop(watch);

    // Once it is gone, a forced rebuild of the healthy database goes through.
    let out = run(&world, &corpus, &["db", "recover", "--force"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(kept_aside(&world.db).len(), 1);
}
