//! The terminal reports as users see them, pinned as insta snapshots: every report at 80 and
//! 160 columns, plain (a pipe) and coloured (`--color always`), over a store with fixed
//! contents, in UTC. The blocks are long past, so none is active and the text does not depend
//! on the clock.

use std::fmt::Write as _;

use cclive_core::{CostSource, SessionId, SessionState, Status, Tokens};
use cclive_store::{Batch, SqliteStore, Store, UsageRow};

use super::reports::{Fixture, response};

const SONNET: &str = "claude-sonnet-4-5-20250929";
const OPUS: &str = "claude-opus-4-1-20250805";
const HAIKU: &str = "claude-haiku-4-5";

/// A response with every kind of token, `scale` times a typical one.
fn usage(key: &str, session: &str, at: &str, model: &str, scale: u64) -> UsageRow {
    let tokens = Tokens {
        input: 120 * scale,
        output: 3_400 * scale,
        cache_creation: 25_000 * scale,
        cache_read: 410_000 * scale,
        ..Tokens::default()
    };
    response(key, session, at, model, tokens)
}

fn session(id: &str, project: &str, at: &str, status: Status, turns: u64, ms: u64) -> SessionState {
    let mut s = SessionState::new(SessionId::new(id), at.parse().unwrap());
    s.project_path = Some(project.into());
    s.cwd = Some(project.into());
    s.status = status;
    s.num_turns = turns;
    s.duration_ms = ms;
    s.model = Some(SONNET.into());
    s
}

/// Three sessions over four days in two projects with long paths: a big one on opus and
/// sonnet (reported cost), a failed one, an interrupted one on haiku; blocks with gaps.
fn store(f: &Fixture) {
    let store = SqliteStore::open(&f.db).unwrap();
    let mut big = session(
        "a1b2c3d4-big",
        "/home/dev/src/github.com/acme/payments-service",
        "2026-05-04T08:00:00Z",
        Status::Completed,
        42,
        5_400_000,
    );
    big.total_cost_usd = 61.25;
    big.cost_source = CostSource::Reported;
    store
        .write(&Batch {
            sessions: vec![
                big,
                session(
                    "e5f6a7b8-failed",
                    "/home/dev/src/github.com/acme/web-frontend",
                    "2026-05-05T14:00:00Z",
                    Status::Failed,
                    3,
                    240_000,
                ),
                session(
                    "c9d0e1f2-interrupted",
                    "/home/dev/src/github.com/acme/web-frontend",
                    "2026-05-07T21:30:00Z",
                    Status::Interrupted,
                    7,
                    900_000,
                ),
            ],
            usage: vec![
                usage("b1", "a1b2c3d4-big", "2026-05-04T08:00:00Z", OPUS, 20),
                usage("b2", "a1b2c3d4-big", "2026-05-04T09:10:00Z", SONNET, 30),
                usage("b3", "a1b2c3d4-big", "2026-05-04T11:55:00Z", SONNET, 25),
                usage("f1", "e5f6a7b8-failed", "2026-05-05T14:00:00Z", SONNET, 1),
                usage(
                    "i1",
                    "c9d0e1f2-interrupted",
                    "2026-05-07T21:30:00Z",
                    HAIKU,
                    2,
                ),
                usage(
                    "i2",
                    "c9d0e1f2-interrupted",
                    "2026-05-07T23:50:00Z",
                    HAIKU,
                    1,
                ),
            ],
            ..Batch::default()
        })
        .unwrap();
}

/// Escape codes made visible, so a snapshot shows where colour starts and stops.
fn visible(text: &str) -> String {
    text.replace('\x1b', "⟨esc⟩")
}

fn run(f: &Fixture, args: &[&str], columns: &str) -> String {
    // `cclive sessions` shows times in the system zone: pinned too.
    let out = f
        .cclive(args)
        .env("COLUMNS", columns)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        crate::support::cclive::describe(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn terminal_reports_at_80_and_160_columns_plain_and_coloured() {
    let f = Fixture::new();
    store(&f);
    let reports: &[(&str, &[&str])] = &[
        ("daily", &["report", "daily", "-z", "UTC", "--breakdown"]),
        ("weekly", &["report", "weekly", "-z", "UTC"]),
        ("monthly", &["report", "monthly", "-z", "UTC"]),
        ("sessions", &["report", "sessions", "-z", "UTC"]),
        ("projects", &["report", "projects", "-z", "UTC"]),
        ("models", &["report", "models", "-z", "UTC"]),
        (
            "blocks",
            &["report", "blocks", "-z", "UTC", "--token-limit", "max"],
        ),
        ("session_list", &["sessions"]),
    ];
    for (name, args) in reports {
        let mut text = String::new();
        for columns in ["80", "160"] {
            let plain = run(&f, args, columns);
            let width: usize = columns.parse().unwrap();
            for line in plain.lines().filter(|l| !l.starts_with(['~', '*', '!'])) {
                assert!(
                    line.chars().count() <= width,
                    "{name} at {columns}: {line:?}\n{plain}"
                );
            }
            assert!(
                !plain.contains('\x1b'),
                "{name}: colour into a pipe\n{plain}"
            );
            let _ = write!(text, "── {columns} columns, plain ──\n{plain}");
            let mut coloured = args.to_vec();
            coloured.extend(["--color", "always"]);
            let painted = run(&f, &coloured, columns);
            assert!(
                painted.contains('\x1b'),
                "{name}: --color always\n{painted}"
            );
            let _ = write!(
                text,
                "── {columns} columns, --color always ──\n{}",
                visible(&painted)
            );
        }
        insta::assert_snapshot!(*name, text);
    }
}

#[test]
fn no_color_and_the_no_color_flag_turn_colour_off() {
    let f = Fixture::new();
    store(&f);
    let out = f
        .cclive(&["report", "daily", "--color", "auto"])
        .env("FORCE_COLOR", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        crate::support::cclive::describe(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    let out = f
        .cclive(&["report", "daily", "--no-color"])
        .env("FORCE_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        crate::support::cclive::describe(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
    let out = f
        .cclive(&["report", "daily"])
        .env("FORCE_COLOR", "1")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains('\x1b'));
}
