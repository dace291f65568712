//! `cclive budget` (with `--check`'s exit codes) and the `block_at_usd` prompt gate of
//! `cclive hook`, run as the real binary over a store with known spend; and the real, pinned
//! Claude Code refusing a prompt once the hard limit is reached.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cclive_core::{SessionId, SessionState, Tokens};
use cclive_store::{Batch, SqliteStore, Store, UsageRow};
use jiff::Timestamp;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::cclive::{cclive_bin, describe};
use crate::support::claude::{ClaudeEnv, DEFAULT_TIMEOUT, run_with_timeout};
use crate::support::fake_api::{FakeApi, Scenario};

/// A port nothing listens on, so `cclive hook` never reaches a monitor of the machine.
fn dead_listen() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// A temp HOME with a config file (`$XDG_CONFIG_HOME/cclive/config.toml`) and a database
/// (`$XDG_DATA_HOME/cclive/cclive.db`), where cclive looks by default: what `cclive hook`
/// finds when Claude Code runs it.
struct Home {
    dir: TempDir,
    listen: String,
}

impl Home {
    fn new(config: &str) -> Home {
        let dir = tempfile::Builder::new()
            .prefix("cclive-budget-")
            .tempdir()
            .unwrap();
        let home = Home {
            dir,
            listen: dead_listen(),
        };
        let path = home.config();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("listen = \"{}\"\n{config}", home.listen)).unwrap();
        std::fs::create_dir_all(home.db().parent().unwrap()).unwrap();
        home
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join(".config/cclive/config.toml")
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join(".local/share/cclive/cclive.db")
    }

    fn cclive(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cclive_bin());
        apply_home(&mut cmd, self.dir.path());
        cmd.args(args);
        cmd
    }

    /// Sonnet responses in project `project` costing `usd` in all (output at $15 per million),
    /// at `at`.
    fn spend(&self, key: &str, project: &str, usd: f64, at: Timestamp) {
        let store = SqliteStore::open(&self.db()).unwrap();
        let session = format!("session-{key}");
        let mut state = SessionState::new(SessionId::new(session.clone()), at);
        state.project_path = Some(project.into());
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let output = (usd / 15.0 * 1_000_000.0).round() as u64;
        store
            .write(&Batch {
                sessions: vec![state],
                usage: vec![UsageRow {
                    key: key.into(),
                    session_id: SessionId::new(session),
                    at,
                    model: Some("claude-sonnet-4-5".into()),
                    tokens: Tokens {
                        output,
                        ..Tokens::default()
                    },
                    sidechain: false,
                }],
                ..Batch::default()
            })
            .unwrap();
    }

    /// `cclive hook` with `payload` on stdin.
    fn hook(&self, payload: &Value) -> Output {
        let mut child = self
            .cclive(&["hook"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(payload.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

/// cclive's view of a temp HOME: its XDG dirs, nothing inherited that points elsewhere.
fn apply_home(cmd: &mut Command, home: &Path) {
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env_remove("CCLIVE_CONFIG")
        .env_remove("CCLIVE_DB")
        .env_remove("CCLIVE_LISTEN")
        .env_remove("CCLIVE_LOG")
        .env_remove("CLAUDE_CONFIG_DIR")
        .env_remove("COLUMNS");
}

const DAILY_10: &str = "[budget]\ndaily_usd = 10.0\nmonthly_usd = 1000.0\ntimezone = \"UTC\"\n";

/// Under 80 %: 0; at or over 80 %: 10; at or over 100 %: 11; each with one line.
#[test]
fn budget_check_exits_by_the_highest_threshold() {
    for (usd, code, word) in [
        (5.25, 0, "OK"),
        (8.25, 10, "WARNING"),
        (12.0, 11, "EXCEEDED"),
    ] {
        let home = Home::new(DAILY_10);
        home.spend("m1", "/w/app", usd, Timestamp::now());
        let out = home.cclive(&["budget", "--check"]).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "${usd}: {}", describe(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with(word), "{text}");
        assert!(text.contains("daily budget"), "{text}");
    }
    // No limits, no database: fine for CI.
    let home = Home::new("");
    let out = home.cclive(&["budget", "--check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn budget_shows_spend_limits_and_projections() {
    let home = Home::new(
        "[budget]\ndaily_usd = 10.0\nweekly_usd = 40.0\nblock_at_usd = 30.0\ntimezone = \"UTC\"\n\
         [budget.projects.app]\ndaily_usd = 4.0\n",
    );
    home.spend("m1", "/w/app", 4.5, Timestamp::now());
    home.spend("m2", "/w/lib", 3.75, Timestamp::now());
    let out = home.cclive(&["budget", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["timezone"], "UTC");
    let statuses: Vec<(Value, &str, f64, &str)> = v["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["project"].clone(),
                s["period"].as_str().unwrap(),
                s["spent_usd"].as_f64().unwrap(),
                s["level"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (Value::Null, "day", 8.25, "warning"),
            (Value::Null, "week", 8.25, "ok"),
            (json!("app"), "day", 4.5, "exceeded"),
        ]
    );
    assert_eq!(v["check"]["exit_code"], 11);
    assert_eq!(v["hard_limit"]["limit_usd"], 30.0);
    assert_eq!(v["hard_limit"]["reached"], false);
    let text = String::from_utf8(
        home.cclive(&["budget"])
            .env("COLUMNS", "80")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for needle in [
        "all",
        "day ",
        "week ",
        "app",
        "$8.25",
        "$10.00",
        "82 %",
        "exceeded",
        "block_at_usd $30.00",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
}

fn prompt(cwd: &str) -> Value {
    json!({
        "session_id": "b7f0c2d4-0000-4000-8000-000000000001",
        "transcript_path": "/tmp/none.jsonl",
        "cwd": cwd,
        "hook_event_name": "UserPromptSubmit",
        "prompt": "one more thing",
        "prompt_id": "p-1",
        "permission_mode": "default",
    })
}

/// Under the hard limit the prompt goes through (exit 0, nothing printed); at the limit it is
/// refused with exit code 2 and the reason on stderr, naming the setting to change; other
/// events are never refused.
#[test]
fn the_hook_refuses_prompts_once_block_at_usd_is_reached() {
    let home = Home::new(
        "[budget]\nblock_at_usd = 10.0\ntimezone = \"UTC\"\n[budget.projects.app]\nblock_at_usd = 3.0\n",
    );
    home.spend("m1", "/w/lib", 6.0, Timestamp::now());
    let out = home.hook(&prompt("/w/lib"));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        describe(&out)
    );

    // The project limit: $3.75 spent in app, $3.00 allowed.
    home.spend("m2", "/w/app", 3.75, Timestamp::now());
    let out = home.hook(&prompt("/w/app"));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    let reason = String::from_utf8(out.stderr).unwrap();
    assert!(reason.contains("block_at_usd = $3.00"), "{reason}");
    assert!(reason.contains("[budget.projects.\"app\"]"), "{reason}");
    assert!(
        reason.contains(&home.config().display().to_string()),
        "{reason}"
    );
    // lib is still under both limits.
    assert_eq!(home.hook(&prompt("/w/lib")).status.code(), Some(0));

    // The global limit: $13.50 in all.
    home.spend("m3", "/w/lib", 3.75, Timestamp::now());
    let out = home.hook(&prompt("/w/lib"));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("block_at_usd in [budget]"));

    let mut other = prompt("/w/lib");
    other["hook_event_name"] = json!("PreToolUse");
    let out = home.hook(&other);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // Yesterday's spend does not count against today's limit.
    let fresh = Home::new("[budget]\nblock_at_usd = 10.0\ntimezone = \"UTC\"\n");
    let yesterday = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(25))
        .unwrap();
    fresh.spend("old", "/w/lib", 50.0, yesterday);
    assert_eq!(fresh.hook(&prompt("/w/lib")).status.code(), Some(0));
}

/// The real Claude Code runs `cclive hook` for UserPromptSubmit; over the hard limit the prompt
/// never reaches the API and the user sees cclive's reason.
#[test]
fn real_claude_does_not_send_a_prompt_refused_by_the_hard_limit() {
    let api = FakeApi::start(Scenario::Text);
    let env = ClaudeEnv::new(&api.url());
    let home = env.home();
    // The config and database where `cclive hook` (run by claude, with claude's HOME and XDG
    // dirs) looks.
    let config = home.join(".config/cclive/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!(
            "listen = \"{}\"\n[budget]\nblock_at_usd = 1.0\ntimezone = \"UTC\"\n",
            dead_listen()
        ),
    )
    .unwrap();
    let settings = env.claude_dir().join("settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    let hook = json!({"hooks": {"UserPromptSubmit": [{"hooks": [
        {"type": "command", "command": format!("{} hook", cclive_bin().display())}
    ]}]}});
    std::fs::write(&settings, hook.to_string()).unwrap();

    // Claude passes its environment to hooks: nothing of ours may point cclive elsewhere.
    let print = |prompt: &str| {
        let mut cmd = env.command(["-p", prompt, "--output-format", "stream-json", "--verbose"]);
        for var in ["CCLIVE_CONFIG", "CCLIVE_DB", "CCLIVE_LISTEN", "CCLIVE_LOG"] {
            cmd.env_remove(var);
        }
        run_with_timeout(cmd, DEFAULT_TIMEOUT)
    };

    // Under the limit: the prompt goes through.
    let run = print("Say hi.");
    assert!(run.status.success(), "{}", run.diagnostics());
    assert_eq!(api.main_requests().len(), 1, "{}", run.diagnostics());

    // Over it: refused before any request.
    let db = home.join(".local/share/cclive/cclive.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let store = SqliteStore::open(&db).unwrap();
    store
        .write(&Batch {
            usage: vec![UsageRow {
                key: "msg_spent".into(),
                session_id: SessionId::new("earlier"),
                at: Timestamp::now(),
                model: Some("claude-sonnet-4-5".into()),
                tokens: Tokens {
                    output: 100_000, // $1.50
                    ..Tokens::default()
                },
                sidechain: false,
            }],
            ..Batch::default()
        })
        .unwrap();
    drop(store);
    let run = print("Say hi again.");
    eprintln!("{}", run.diagnostics());
    assert_eq!(
        api.main_requests().len(),
        1,
        "the refused prompt must not reach the API\n{}",
        run.diagnostics()
    );
    let all = format!("{}\n{}", run.stdout, run.stderr);
    assert!(
        all.contains("block_at_usd"),
        "claude shows cclive's reason\n{}",
        run.diagnostics()
    );
}

#[test]
fn a_reader_that_goes_away_is_no_error() {
    // `cclive budget | head -0`: the pipe is closed before cclive writes its table.
    let home = Home::new("[budget]\ndaily_usd = 10.0\ntimezone = \"UTC\"\n");
    home.spend("m1", "/w/app", 4.5, Timestamp::now());
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = home
        .cclive(&["budget"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}
