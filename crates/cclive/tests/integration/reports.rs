//! `cclive report`, run as the real binary over stores with known contents: a fixture store
//! written through `cclive-store` (midnight, zones, a DST week, breakdowns, reported session
//! costs, the JSON shape, the table width), and a corpus from `shared/tools/gen_corpus.py`
//! imported with `cclive import`, whose reports must equal the generator's ground truth.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cclive_core::{CostSource, SessionId, SessionState, Tokens};
use cclive_store::{Batch, SqliteStore, Store, UsageRow};
use jiff::Timestamp;
use serde_json::Value;
use tempfile::TempDir;

use crate::support::cclive::{cclive_bin, describe};

const SONNET: &str = "claude-sonnet-4-5";
const OPUS: &str = "claude-opus-4-1";

/// A temp HOME with a database; `cclive` runs see nothing of the real user's files.
pub(crate) struct Fixture {
    dir: TempDir,
    pub(crate) db: PathBuf,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("cclive-reports-")
            .tempdir()
            .unwrap();
        let db = dir.path().join("cclive.db");
        Fixture { dir, db }
    }

    /// The temp HOME.
    pub(crate) fn home(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn cclive(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cclive_bin());
        let home = self.dir.path();
        cmd.env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("CCLIVE_DB", &self.db)
            .env_remove("CCLIVE_CONFIG")
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("COLUMNS")
            .env_remove("NO_COLOR")
            .env_remove("FORCE_COLOR")
            .env_remove("CCLIVE_LOG")
            .args(args);
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let out = self.cclive(args).output().unwrap();
        assert!(out.status.success(), "cclive {args:?}: {}", describe(&out));
        out
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.run(&all);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} --json is not JSON ({e}): {}", describe(&out)))
    }

    pub(crate) fn text(&self, args: &[&str]) -> String {
        String::from_utf8(self.run(args).stdout).unwrap()
    }
}

/// One response of `output` tokens (and 1000 input) at `at`.
fn row(key: &str, session: &str, at: &str, model: &str, output: u64) -> UsageRow {
    let tokens = Tokens {
        input: 1000,
        output,
        ..Tokens::default()
    };
    response(key, session, at, model, tokens)
}

/// One response of `tokens` at `at`.
pub(crate) fn response(
    key: &str,
    session: &str,
    at: &str,
    model: &str,
    tokens: Tokens,
) -> UsageRow {
    UsageRow {
        key: key.into(),
        session_id: SessionId::new(session),
        at: at.parse().unwrap(),
        model: Some(model.into()),
        tokens,
        sidechain: false,
    }
}

fn session(id: &str, project: &str, at: &str) -> SessionState {
    let mut s = SessionState::new(SessionId::new(id), at.parse().unwrap());
    s.project_path = Some(project.into());
    s.cwd = Some(project.into());
    s
}

/// Sessions and responses with hand-checked figures:
/// - `night` (/w/app) crosses midnight UTC (23:50 → 00:10 on 2026-03-25/26);
/// - `dst` (/w/app) spans the Berlin DST change (Sunday 2026-03-29);
/// - `lib` (/w/lib) has Claude Code's reported total ($0.50) and an opus response.
fn fixture_store(f: &Fixture) {
    let store = SqliteStore::open(&f.db).unwrap();
    let mut lib = session("lib", "/w/lib", "2026-03-27T12:00:00Z");
    lib.total_cost_usd = 0.5;
    lib.cost_source = CostSource::Reported;
    lib.num_turns = 3;
    lib.duration_ms = 5_400_000;
    store
        .write(&Batch {
            sessions: vec![
                session("night", "/w/app", "2026-03-25T23:50:00Z"),
                session("dst", "/w/app", "2026-03-22T23:30:00Z"),
                lib,
            ],
            usage: vec![
                row("n1", "night", "2026-03-25T23:50:00Z", SONNET, 1000),
                row("n2", "night", "2026-03-26T00:10:00Z", SONNET, 1000),
                // Monday 00:30 CET, Sunday 23:30 CEST, Monday 00:30 CEST.
                row("d1", "dst", "2026-03-22T23:30:00Z", SONNET, 1000),
                row("d2", "dst", "2026-03-29T21:30:00Z", SONNET, 1000),
                row("d3", "dst", "2026-03-29T22:30:00Z", SONNET, 1000),
                row("l1", "lib", "2026-03-27T12:00:00Z", SONNET, 2000),
                row("l2", "lib", "2026-03-27T13:00:00Z", OPUS, 1000),
            ],
            ..Batch::default()
        })
        .unwrap();
}

fn periods(report: &Value) -> Vec<(String, u64)> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["period"].as_str().unwrap().to_owned(),
                r["messages"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn owned(rows: &[(&str, u64)]) -> Vec<(String, u64)> {
    rows.iter().map(|(p, n)| ((*p).to_owned(), *n)).collect()
}

/// The row of session `id` in a `report sessions` JSON.
fn session_row<'r>(report: &'r Value, id: &str) -> &'r Value {
    report["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["session_id"] == id))
        .unwrap_or_else(|| panic!("no row of session {id} in {report}"))
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-9
}

#[test]
fn a_session_that_crosses_midnight_counts_on_both_days() {
    let f = Fixture::new();
    fixture_store(&f);
    let mut args = vec!["report", "daily", "--tz", "UTC"];
    args.extend(["--since", "2026-03-25", "--until", "2026-03-26"]);
    let daily = f.json(&args);
    assert_eq!(
        periods(&daily),
        owned(&[("2026-03-25", 1), ("2026-03-26", 1)])
    );
    // 1000 input at $3 + 1000 output at $15 per million.
    assert!(close(&daily["rows"][0]["cost_usd"], 0.018));
    assert_eq!(daily["totals"]["messages"], 2);
    assert_eq!(daily["totals"]["total_tokens"], 4000);
    let sessions = f.json(&["report", "sessions", "--tz", "UTC"]);
    let night = session_row(&sessions, "night");
    assert_eq!(night["messages"], 2);
    assert_eq!(night["first_at"], "2026-03-25T23:50:00Z");
}

#[test]
fn the_zone_moves_responses_to_other_days() {
    let f = Fixture::new();
    fixture_store(&f);
    let utc = f.json(&["report", "daily", "--tz", "UTC"]);
    let tokyo = f.json(&["report", "daily", "--tz", "Asia/Tokyo"]);
    let la = f.json(&["report", "daily", "--tz", "America/Los_Angeles"]);
    // Midnight's two responses: 08:50 and 09:10 on the 26th in Tokyo; 16:50 and 17:10 on the
    // 25th in Los Angeles (PDT).
    let day = |r: &Value, d: &str| {
        periods(r)
            .into_iter()
            .find(|(p, _)| p == d)
            .map_or(0, |(_, n)| n)
    };
    assert_eq!((day(&utc, "2026-03-25"), day(&utc, "2026-03-26")), (1, 1));
    assert_eq!(
        (day(&tokyo, "2026-03-25"), day(&tokyo, "2026-03-26")),
        (0, 2)
    );
    assert_eq!((day(&la, "2026-03-25"), day(&la, "2026-03-26")), (2, 0));
    assert_eq!(tokyo["timezone"], "Asia/Tokyo");
    for r in [&utc, &tokyo, &la] {
        assert_eq!(
            r["totals"]["messages"], 7,
            "every zone counts everything once"
        );
    }
}

#[test]
fn a_dst_week_is_167_hours_and_cut_at_local_midnight() {
    let f = Fixture::new();
    fixture_store(&f);
    let weekly = f.json(&["report", "weekly", "--tz", "Europe/Berlin"]);
    assert_eq!(
        periods(&weekly),
        owned(&[("2026-03-23", 6), ("2026-03-30", 1)])
    );
    let week = &weekly["rows"][0];
    let hours = |r: &Value| {
        let ts = |k: &str| r[k].as_str().unwrap().parse::<Timestamp>().unwrap();
        (ts("end").as_second() - ts("start").as_second()) / 3600
    };
    assert_eq!(week["start"], "2026-03-22T23:00:00Z");
    assert_eq!(hours(week), 167);
    let sunday = f.json(&[
        "report",
        "weekly",
        "--tz",
        "Europe/Berlin",
        "--week-start",
        "sunday",
    ]);
    assert_eq!(
        periods(&sunday),
        owned(&[("2026-03-22", 5), ("2026-03-29", 2)])
    );
    assert_eq!(sunday["week_start"], "sunday");
    let daily = f.json(&["report", "daily", "--tz", "Europe/Berlin"]);
    let dst_day = daily["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["period"] == "2026-03-29")
        .unwrap();
    assert_eq!(hours(dst_day), 23);
}

#[test]
fn breakdown_splits_rows_by_model_in_json_and_text() {
    let f = Fixture::new();
    fixture_store(&f);
    let args = ["report", "daily", "--tz", "UTC", "--since", "2026-03-27"];
    let plain = f.json(&args);
    assert!(plain["rows"][0].get("breakdown").is_none());
    let mut with = args.to_vec();
    with.push("--breakdown");
    let split = f.json(&with);
    let day = &split["rows"][0];
    assert_eq!(day["period"], "2026-03-27");
    let models: Vec<&str> = day["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    // Opus: $0.015 + $0.075; sonnet: $0.003 + $0.030.
    assert_eq!(models, [OPUS, SONNET]);
    assert!(close(&day["breakdown"][0]["cost_usd"], 0.09));
    assert!(close(&day["breakdown"][1]["cost_usd"], 0.033));
    assert!(close(&day["cost_usd"], 0.123));
    let text = f.text(&with);
    assert!(text.contains("└ opus-4-1"), "{text}");
    assert!(text.contains("└ sonnet-4-5"), "{text}");
}

#[test]
fn sessions_and_projects_prefer_reported_totals() {
    let f = Fixture::new();
    fixture_store(&f);
    let sessions = f.json(&["report", "sessions", "--tz", "UTC"]);
    let lib = session_row(&sessions, "lib");
    assert_eq!(lib["cost_source"], "reported");
    assert!(close(&lib["cost_usd"], 0.5));
    assert!(close(&lib["estimated_cost_usd"], 0.123));
    assert_eq!(lib["project"], "/w/lib");
    // Turns and duration come from the history: Claude Code's own, else the responses' span.
    assert_eq!(lib["turns"], 3);
    assert_eq!(lib["duration_ms"], 5_400_000);
    let night = session_row(&sessions, "night");
    assert_eq!(night["turns"], 0);
    assert_eq!(night["duration_ms"], 20 * 60 * 1000);
    let projects = f.json(&["report", "projects", "--tz", "UTC"]);
    let rows: Vec<(&str, u64, &str)> = projects["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["project"].as_str().unwrap(),
                r["sessions"].as_u64().unwrap(),
                r["cost_source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [("/w/lib", 1, "reported"), ("/w/app", 2, "estimated")]
    );
    assert_eq!(projects["totals"]["cost_source"], "mixed");
    // A date range that holds all of a session keeps its reported total; one that cuts it
    // (the night session below) uses the estimate of the part inside.
    let cut = f.json(&[
        "report",
        "sessions",
        "--tz",
        "UTC",
        "--since",
        "2026-03-27",
        "--until",
        "2026-03-27",
        "--project",
        "lib",
    ]);
    assert_eq!(cut["rows"].as_array().unwrap().len(), 1);
    assert_eq!(
        cut["rows"][0]["cost_source"], "reported",
        "all of lib is on the 27th"
    );
    // A period report filtered by project reads the projects (unfiltered, it does not).
    let lib_days = f.json(&["report", "daily", "--tz", "UTC", "--project", "lib"]);
    let all_days = f.json(&["report", "daily", "--tz", "UTC"]);
    let messages = |r: &Value| r["totals"]["messages"].as_u64().unwrap();
    assert_eq!(
        messages(&lib_days),
        cut["rows"][0]["messages"].as_u64().unwrap()
    );
    assert!(messages(&lib_days) < messages(&all_days));
    let cut = f.json(&["report", "sessions", "--tz", "UTC", "--until", "2026-03-25"]);
    let night = session_row(&cut, "night");
    assert_eq!(night["messages"], 1);
    assert_eq!(night["cost_source"], "estimated");
}

#[test]
fn json_reports_have_the_documented_shape() {
    let f = Fixture::new();
    fixture_store(&f);
    let top = [
        "report",
        "timezone",
        "since",
        "until",
        "project",
        "week_start",
        "rows",
        "totals",
    ];
    for kind in [
        "daily", "weekly", "monthly", "sessions", "projects", "models",
    ] {
        let v = f.json(&["report", kind, "--tz", "UTC"]);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, top, "{kind}");
        assert_eq!(v["report"], kind);
        for field in [
            "input",
            "output",
            "cache_creation",
            "cache_read",
            "total_tokens",
            "messages",
            "estimated_cost_usd",
            "cost_usd",
            "cost_source",
        ] {
            assert!(
                v["rows"][0].get(field).is_some(),
                "{kind} rows lack {field}"
            );
        }
        assert_eq!(v["totals"]["messages"], 7, "{kind}");
    }
    let blocks = f.json(&["report", "blocks", "--tz", "UTC", "--token-limit", "max"]);
    assert_eq!(blocks["report"], "blocks");
    assert!(blocks["token_limit"].as_u64().is_some());
    let first = &blocks["rows"][0];
    assert_eq!(first["start"], "2026-03-22T23:00:00Z");
    assert_eq!(first["end"], "2026-03-23T04:00:00Z");
    assert_eq!(first["active"], false);
    assert!(first["live"].is_null());
}

#[test]
fn blocks_follow_the_five_hour_rule() {
    let f = Fixture::new();
    fixture_store(&f);
    let blocks = f.json(&["report", "blocks", "--tz", "UTC"]);
    let starts: Vec<(&str, u64)> = blocks["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap(),
                b["messages"].as_u64().unwrap(),
            )
        })
        .collect();
    // 23:50 and 00:10 share the 23:00 block; 12:00 and 13:00 share the 12:00 one; 21:30 and
    // 22:30 on the 29th share 21:00.
    assert_eq!(
        starts,
        [
            ("2026-03-22T23:00:00Z", 1),
            ("2026-03-25T23:00:00Z", 2),
            ("2026-03-27T12:00:00Z", 2),
            ("2026-03-29T21:00:00Z", 2),
        ]
    );
}

#[test]
fn tables_fit_the_terminal_and_end_with_totals() {
    let f = Fixture::new();
    fixture_store(&f);
    for kind in [
        "daily", "weekly", "monthly", "sessions", "projects", "models", "blocks",
    ] {
        for width in ["60", "100", "160"] {
            let out = f
                .cclive(&["report", kind, "--tz", "UTC", "--breakdown"])
                .env("COLUMNS", width)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", describe(&out));
            let text = String::from_utf8(out.stdout).unwrap();
            let limit: usize = width.parse().unwrap();
            for line in text
                .lines()
                .filter(|l| !l.starts_with('~') && !l.starts_with('!'))
            {
                assert!(
                    line.chars().count() <= limit,
                    "{kind} at {width} columns: {line:?}\n{text}"
                );
            }
            assert!(text.contains("Total"), "{kind}: {text}");
            assert!(text.contains('$'), "{kind}: {text}");
        }
    }
}

#[test]
fn no_database_is_an_empty_report_not_an_error() {
    let f = Fixture::new();
    let text = f.text(&["report", "daily"]);
    assert!(text.contains("No usage recorded"), "{text}");
    let v = f.json(&["report", "monthly", "--tz", "UTC"]);
    assert_eq!(v["rows"], Value::Array(Vec::new()));
    assert!(!f.db.exists(), "a report creates no database");
    let out = f
        .cclive(&["report", "daily", "--tz", "Mars/Olympus"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Mars/Olympus"));
    let out = f
        .cclive(&[
            "report",
            "daily",
            "--since",
            "2026-03-02",
            "--until",
            "2026-03-01",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

// --- The generated corpus -------------------------------------------------------------------

/// `shared/tools/gen_corpus.py`: beside the repository (CI), else `/work/shared`.
fn gen_corpus() -> PathBuf {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/gen_corpus.py");
    let fixed = PathBuf::from("/work/shared/tools/gen_corpus.py");
    [beside, fixed].into_iter().find(|p| p.is_file()).expect(
        "gen_corpus.py not found at CARGO_MANIFEST_DIR/../../../shared/tools/ nor \
             /work/shared/tools/: the shared folder must sit beside the repository",
    )
}

pub(crate) fn assert_row(what: &str, ours: &Value, truth: &Value) {
    for (mine, theirs) in [
        ("input", "input"),
        ("output", "output"),
        ("cache_creation", "cache_creation"),
        ("cache_read", "cache_read"),
        ("total_tokens", "total"),
        ("messages", "messages"),
    ] {
        assert_eq!(ours[mine], truth[theirs], "{what}: {mine}");
    }
    let cost = ours["estimated_cost_usd"].as_f64().unwrap();
    let expected = truth["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - expected).abs() <= 1e-6,
        "{what}: cost {cost} vs {expected}"
    );
}

/// Rows of a report by their key, checked against a ground-truth map of the same keys.
pub(crate) fn assert_rows(what: &str, report: &Value, key: &str, truth: &Value) {
    let rows = report["rows"].as_array().unwrap();
    let truth = truth.as_object().unwrap();
    let mut keys: Vec<&str> = rows.iter().map(|r| r[key].as_str().unwrap()).collect();
    keys.sort_unstable();
    let mut expected: Vec<&str> = truth.keys().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(keys, expected, "{what}: the same rows");
    for row in rows {
        let k = row[key].as_str().unwrap();
        assert_row(&format!("{what} {k}"), row, &truth[k]);
    }
}

/// A corpus of 60 sessions (both transcript formats, streamed snapshots, resumed sessions,
/// sidechains, malformed lines), imported, then reported: every day, model, session and
/// day × model, and the totals, equal the generator's ground truth (tokens and messages
/// exactly, cost within $0.000001).
#[test]
fn reports_over_a_generated_corpus_equal_its_ground_truth() {
    let f = Fixture::new();
    // The generator prices with its own (older, family-wide) table: the same rules as a user's
    // price file, read from beside the config file as `cclive prices sync` writes it.
    let config = f.dir.path().join(".config/cclive");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gen-corpus-prices.json"),
        config.join("prices.json"),
    )
    .unwrap();
    let corpus = f.dir.path().join("corpus");
    let out = Command::new("python3")
        .arg(gen_corpus())
        .args([
            "--size-mb",
            "20",
            "--sessions",
            "60",
            "--projects",
            "6",
            "--seed",
            "3",
        ])
        .arg("--out")
        .arg(&corpus)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "gen_corpus: {}", describe(&out));
    let truth: Value =
        serde_json::from_slice(&std::fs::read(corpus.join("ground-truth.json")).unwrap()).unwrap();

    let out = f
        .cclive(&["import", "--quiet", "--json"])
        .env("CLAUDE_CONFIG_DIR", &corpus)
        .output()
        .unwrap();
    assert!(out.status.success(), "import: {}", describe(&out));

    let daily = f.json(&["report", "daily", "--tz", "UTC", "--breakdown"]);
    assert_rows("day", &daily, "period", &truth["by_day"]);
    assert_row("totals", &daily["totals"], &truth["totals"]);
    for row in daily["rows"].as_array().unwrap() {
        let day = row["period"].as_str().unwrap();
        let mut split = serde_json::Map::new();
        for m in row["breakdown"].as_array().unwrap() {
            split.insert(m["model"].as_str().unwrap().to_owned(), m.clone());
        }
        assert_rows(
            &format!("day {day} by model"),
            &serde_json::json!({ "rows": split.values().collect::<Vec<_>>() }),
            "model",
            &truth["by_day_model"][day],
        );
    }
    let models = f.json(&["report", "models", "--tz", "UTC"]);
    assert_rows("model", &models, "model", &truth["by_model"]);
    let sessions = f.json(&["report", "sessions", "--tz", "UTC"]);
    assert_rows("session", &sessions, "session_id", &truth["by_session"]);
    for kind in ["weekly", "monthly", "projects", "blocks"] {
        let r = f.json(&["report", kind, "--tz", "UTC"]);
        assert_row(&format!("{kind} totals"), &r["totals"], &truth["totals"]);
    }
    // Another zone moves responses between days but keeps every one.
    let berlin = f.json(&["report", "daily", "--tz", "Europe/Berlin"]);
    assert_row("Berlin totals", &berlin["totals"], &truth["totals"]);
}

#[test]
fn report_sessions_ics_writes_the_calendar_of_the_sessions_in_range_and_project() {
    let f = Fixture::new();
    fixture_store(&f);
    let file = f.dir.path().join("sessions.ics");
    let out = f.run(&["report", "sessions", "--ics", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote 3 session(s)"));
    let ics = std::fs::read_to_string(&file).unwrap();
    assert!(
        ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"),
        "{ics}"
    );
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    assert_eq!(ics.matches("BEGIN:VEVENT\r\n").count(), 3);
    // Oldest first.
    let uids: Vec<&str> = ics
        .split("\r\n")
        .filter_map(|l| l.strip_prefix("UID:"))
        .collect();
    assert_eq!(uids, ["dst@cclive", "night@cclive", "lib@cclive"]);
    assert!(ics.contains("DTSTART:20260327T120000Z\r\n"));
    assert!(ics.contains("Cost: $0.5000 (reported by Claude Code)"));

    let out = f.run(&[
        "report",
        "sessions",
        "--project",
        "lib",
        "--since",
        "2026-03-26",
        "--ics",
        "-",
    ]);
    let ics = String::from_utf8(out.stdout).unwrap();
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 1);
    assert!(ics.contains("UID:lib@cclive\r\n"));

    let out = f
        .cclive(&["report", "daily", "--ics", "-"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("report sessions"));
}
