//! `cclive statusline` run as the real binary, the way Claude Code runs it: the payload of the
//! formats doc (§5) on stdin, one line on stdout, exit 0; a clear fallback line for garbage;
//! the store's figures, kept while nothing commits and read again after a commit; the cache
//! used while another run holds the lock; `--chain`; the payload handed to a running monitor
//! (its snapshot then carries the official limits, as `cclive budget` shows them); and
//! `cclive hooks install --statusline` with its byte-exact round trip. Timings are printed, never asserted (`scripts/bench-statusline.sh` measures).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cclive_core::{SessionId, SessionState, Tokens};
use cclive_store::{Batch, SqliteStore, Store, UsageRow};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::support::cclive::{World, cclive_bin, describe, wait_with_timeout};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The payload of the formats doc (2.1.332, after the first turn), with the official limits a
/// subscription adds.
const PAYLOAD: &str = r#"{"session_id":"sl-1","transcript_path":"/tmp/x/sl-1.jsonl","cwd":"/home/me/app","prompt_id":"p1",
 "effort":{"level":"medium"},"model":{"id":"claude-opus-5-5","display_name":"Opus 5.5"},
 "workspace":{"current_dir":"/home/me/app","project_dir":"/home/me/app","added_dirs":[]},"version":"2.1.332",
 "output_style":{"name":"default"},
 "cost":{"total_cost_usd":0.42,"total_duration_ms":16193,"total_api_duration_ms":10074,
         "total_lines_added":0,"total_lines_removed":0},
 "context_window":{"total_input_tokens":6500,"total_output_tokens":42,"context_window_size":1000000,
   "current_usage":{"input_tokens":1200,"output_tokens":42,"cache_creation_input_tokens":300,
   "cache_read_input_tokens":5000},"used_percentage":18,"remaining_percentage":82},
 "exceeds_200k_tokens":false,
 "prompt_cache":{"warm":true,"ttl":"5m","expires_at":1795612059,"requests":2,"misses":0,
   "hit_ratio":0.769,"cache_write_tokens":600},
 "fast_mode":false,"thinking":{"enabled":true},
 "rate_limits":{"five_hour":{"used_percentage":42.5,"resets_at":4102444800},
                "seven_day":{"used_percentage":7.2,"resets_at":4102444800}}}"#;

/// A world with a runtime dir of its own and, optionally, a budget.
struct Home {
    world: World,
    runtime: PathBuf,
}

impl Home {
    fn new(config: &str) -> Home {
        let world = World::new("http://127.0.0.1:9");
        let runtime = world.claude.home().join("run");
        std::fs::create_dir_all(&runtime).unwrap();
        let config_file = world.claude.home().join(".config/cclive/config.toml");
        std::fs::create_dir_all(config_file.parent().unwrap()).unwrap();
        std::fs::write(&config_file, config).unwrap();
        Home { world, runtime }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.world.cclive(args);
        cmd.env("XDG_RUNTIME_DIR", &self.runtime);
        cmd
    }

    /// `cclive <args>` with `input` on stdin: its output and how long it took.
    fn run(&self, args: &[&str], input: &[u8]) -> (Output, Duration) {
        let started = Instant::now();
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = wait_with_timeout(child, TIMEOUT);
        (out, started.elapsed())
    }

    /// The status line for `input`: exit 0, one line, nothing on stderr.
    fn line(&self, args: &[&str], input: &[u8]) -> String {
        let (out, took) = self.run(args, input);
        eprintln!("statusline took {took:?}");
        assert!(out.status.success(), "{}", describe(&out));
        assert!(out.stderr.is_empty(), "{}", describe(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.ends_with('\n'), "{text:?}");
        text.trim_end_matches('\n').to_owned()
    }

    /// `usd` of sonnet output ($15 per million tokens) at `at`, in a session.
    fn spend(&self, key: &str, usd: u64, at: Timestamp) {
        spend_in(&SqliteStore::open(&self.world.db).unwrap(), key, usd, at);
    }
}

/// [`Home::spend`] through a store already open.
fn spend_in(store: &SqliteStore, key: &str, usd: u64, at: Timestamp) {
    let mut state = SessionState::new(SessionId::new("stored"), at);
    state.project_path = Some("/home/me/app".into());
    store
        .write(&Batch {
            sessions: vec![state],
            usage: vec![UsageRow {
                key: key.into(),
                session_id: SessionId::new("stored"),
                at,
                model: Some("claude-sonnet-4-5".into()),
                tokens: Tokens {
                    output: usd * 1_000_000 / 15,
                    ..Tokens::default()
                },
                sidechain: false,
            }],
            ..Batch::default()
        })
        .unwrap();
}

#[test]
fn the_real_payload_gives_one_line_and_exit_0() {
    let home = Home::new("");
    let line = home.line(&["statusline"], PAYLOAD.as_bytes());
    assert_eq!(
        line, "$0.42 session · ctx 18% · 5h 42% · 7d 7% (official)",
        "no database yet: the payload's figures"
    );
}

#[test]
fn garbage_gets_a_clear_fallback_line_and_exit_0() {
    let home = Home::new("");
    for input in [&b"not json at all"[..], b"[1,2]", b"", b"{\"cost\": "] {
        let line = home.line(&["statusline"], input);
        assert_eq!(line, "cclive: no status (unreadable input)", "{input:?}");
    }
    let line = home.line(&["statusline"], b"{}");
    assert_eq!(line, "cclive: no figures yet");
}

/// Today's spend, the daily budget's share and the block come from the store (no transcript
/// is read: there is none).
#[test]
fn the_stores_figures_are_on_the_line() {
    let home = Home::new("[budget]\ndaily_usd = 10.0\ntimezone = \"UTC\"\n");
    let now = Timestamp::now();
    home.spend("m1", 6, now - jiff::SignedDuration::from_secs(1));
    let line = home.line(&["statusline"], PAYLOAD.as_bytes());
    eprintln!("{line}");
    assert!(
        line.starts_with("$0.42 session · $6.00 today · 60% daily · block "),
        "{line}"
    );
    assert!(
        line.contains(" left · ctx 18% · 5h 42% · 7d 7% (official)"),
        "{line}"
    );
}

/// A run that finds the store as the last run left it keeps the last figures without opening
/// it; a commit in between, through a connection that stays open (a monitor's: the store's
/// files stay as they are but for the WAL), shows on the next line.
#[test]
fn a_commit_by_a_monitor_holding_the_store_shows_on_the_next_line() {
    let home = Home::new("[budget]\ndaily_usd = 10.0\ntimezone = \"UTC\"\n");
    let monitor = SqliteStore::open(&home.world.db).unwrap();
    let now = Timestamp::now();
    spend_in(&monitor, "m1", 6, now - jiff::SignedDuration::from_secs(2));
    for _ in 0..2 {
        let line = home.line(&["statusline"], PAYLOAD.as_bytes());
        assert!(line.contains("$6.00 today · 60% daily · block "), "{line}");
    }
    spend_in(&monitor, "m2", 3, now - jiff::SignedDuration::from_secs(1));
    let line = home.line(&["statusline"], PAYLOAD.as_bytes());
    assert!(line.contains("$9.00 today · 90% daily · block "), "{line}");
}

/// A run that finds the lock taken (another status line still reading) does not wait for it
/// and does not read the store: it prints the last figures from the cache.
#[test]
fn a_run_that_finds_the_lock_taken_uses_the_last_figures() {
    let home = Home::new("[budget]\ndaily_usd = 10.0\ntimezone = \"UTC\"\n");
    home.spend(
        "m1",
        6,
        Timestamp::now() - jiff::SignedDuration::from_secs(2),
    );
    let first = home.line(&["statusline"], PAYLOAD.as_bytes());
    assert!(first.contains("$6.00 today"), "{first}");
    let lock = find(&home.runtime.join("cclive"), ".lock");
    let held = std::fs::OpenOptions::new().write(true).open(&lock).unwrap();
    held.lock().unwrap();
    // More spend, which a run reading the store would see.
    home.spend(
        "m2",
        3,
        Timestamp::now() - jiff::SignedDuration::from_secs(1),
    );
    let other = PAYLOAD.replace("\"total_cost_usd\":0.42", "\"total_cost_usd\":0.5");
    let second = home.line(&["statusline"], other.as_bytes());
    assert!(
        second.starts_with("$0.50 session · $6.00 today · 60% daily"),
        "{second}"
    );
    held.unlock().unwrap();
    let third = home.line(&["statusline"], other.as_bytes());
    assert!(third.contains("$9.00 today · 90% daily"), "{third}");
}

fn find(dir: &Path, suffix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no *{suffix} in {}", dir.display()))
}

#[test]
fn a_chained_status_line_gets_the_same_input_and_follows_ours() {
    let home = Home::new("");
    let theirs = "python3 -c 'import json,sys; print(\"theirs:\", json.load(sys.stdin)[\"model\"][\"display_name\"])'";
    let line = home.line(&["statusline", "--chain", theirs], PAYLOAD.as_bytes());
    assert_eq!(
        line,
        "$0.42 session · ctx 18% · 5h 42% · 7d 7% (official) | theirs: Opus 5.5"
    );
    // A chained command that fails or prints nothing leaves ours alone.
    let line = home.line(&["statusline", "--chain", "exit 3"], PAYLOAD.as_bytes());
    assert_eq!(line, "$0.42 session · ctx 18% · 5h 42% · 7d 7% (official)");
}

/// The payload reaches a running monitor: the session's running cost and the official limits
/// are in its snapshot, and `cclive budget` shows them labelled "official" beside the
/// estimates.
#[test]
fn the_payload_reaches_the_monitor_and_cclive_budget_shows_the_official_limits() {
    let home = Home::new("");
    home.spend(
        "m1",
        2,
        Timestamp::now() - jiff::SignedDuration::from_secs(60),
    );
    let watch = home.world.watch();
    let args = ["statusline", "--listen", watch.addr.as_str()];
    // The first runs may come before the monitor's intake is warm; the post has 10 ms.
    let deadline = Instant::now() + Duration::from_secs(20);
    let snapshot = loop {
        home.line(&args, PAYLOAD.as_bytes());
        let snapshot = get_json(&watch.addr, "/api/current-session");
        if snapshot["rate_limits"]["five_hour"]["used_percentage"] == 42.5 {
            break snapshot;
        }
        assert!(
            Instant::now() < deadline,
            "the monitor never got it: {snapshot:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let session = snapshot["active_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == "sl-1")
        .cloned()
        .unwrap_or_else(|| snapshot["data"].clone());
    assert_eq!(session["session_id"], "sl-1");
    assert_eq!(session["context_used_percentage"], 18.0);
    assert_eq!(snapshot["rate_limits"]["seven_day"]["used_percentage"], 7.2);

    let out = home
        .command(&["budget", "--json"])
        .env("CCLIVE_LISTEN", &watch.addr)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let limits = &v["rate_limits"];
    assert_eq!(limits["official"]["source"], "monitor", "{limits:#}");
    assert_eq!(limits["official"]["five_hour"]["used_percentage"], 42.5);
    assert!(limits["estimated"]["block"]["cost_usd"].as_f64().unwrap() > 1.99);
    let out = home
        .command(&["budget"])
        .env("CCLIVE_LISTEN", &watch.addr)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(text.contains("official: 42 % used, resets"), "{text}");
    assert!(text.contains("estimated: block"), "{text}");
    assert!(text.contains("official: 7 % used"), "{text}");
    drop(watch);

    // No monitor now: `cclive budget` still shows them, from the last status line run.
    let out = home
        .command(&["budget", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rate_limits"]["official"]["source"], "statusline");
}

fn get_json(addr: &str, path: &str) -> Value {
    use std::io::Read as _;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

// ---- cclive hooks install --statusline ----

const FIXTURE: &str = include_str!("../fixtures/settings/user-settings.json");

/// A Claude config dir with `settings.json` holding `text`.
struct Settings {
    home: Home,
    dir: PathBuf,
}

impl Settings {
    fn new(text: Option<&str>) -> Settings {
        let home = Home::new("");
        let dir = home.world.claude.home().join("claude-config");
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(text) = text {
            std::fs::write(dir.join("settings.json"), text).unwrap();
        }
        Settings { home, dir }
    }

    fn hooks(&self, args: &[&str]) -> Output {
        let mut cmd = self.home.command(&["hooks"]);
        cmd.args(args)
            .env("CLAUDE_CONFIG_DIR", &self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        wait_with_timeout(cmd.spawn().unwrap(), TIMEOUT)
    }

    fn read(&self) -> String {
        std::fs::read_to_string(self.dir.join("settings.json")).unwrap()
    }
}

/// The fixture (Claude Code's layout) with its status line's command replaced (`Some`) or its
/// status line removed (`None`).
fn fixture_with_status_line(command: Option<&str>) -> String {
    let mut v: Value = serde_json::from_str(FIXTURE).unwrap();
    let top = v.as_object_mut().unwrap();
    match command {
        Some(command) => top["statusLine"]["command"] = json!(command),
        None => {
            top.shift_remove("statusLine");
        }
    }
    let mut text = serde_json::to_string_pretty(&v).unwrap();
    text.push('\n');
    text
}

#[test]
fn install_statusline_sets_ours_and_uninstall_gives_the_file_back() {
    let original = fixture_with_status_line(None);
    let s = Settings::new(Some(&original));
    let out = s.hooks(&["install", "--statusline"]);
    assert!(out.status.success(), "{}", describe(&out));
    let installed: Value = serde_json::from_str(&s.read()).unwrap();
    let exe = cclive_bin().canonicalize().unwrap();
    assert_eq!(
        installed["statusLine"],
        json!({"type": "command", "command": format!("{} statusline", exe.display())})
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("the status line is `cclive statusline`"),
        "{said}"
    );
    let out = s.hooks(&["status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("status line: cclive's"));
    let out = s.hooks(&["uninstall"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(s.read(), original, "byte for byte");
}

/// The user's status line is never overwritten silently: refused without `--chain` or
/// `--force`; chained, it still runs (with the same input) after ours; uninstall puts it back
/// exactly.
#[test]
fn an_existing_status_line_is_refused_chained_or_replaced_and_given_back() {
    let theirs = "echo \"it's $(cat | head -c 1)\"";
    let original = fixture_with_status_line(Some(theirs));
    let s = Settings::new(Some(&original));
    let out = s.hooks(&["install", "--statusline"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--chain") && err.contains("--force"), "{err}");
    assert_eq!(s.read(), original, "refused: untouched");

    let out = s.hooks(&["install", "--statusline", "--chain"]);
    assert!(out.status.success(), "{}", describe(&out));
    let v: Value = serde_json::from_str(&s.read()).unwrap();
    assert_eq!(v["statusLine"]["padding"], 0);
    let command = v["statusLine"]["command"].as_str().unwrap().to_owned();
    assert!(command.contains(" statusline --chain '"), "{command}");
    // What Claude Code would run: through a shell, the payload on stdin.
    let mut child = home_shell(&s.home, &command);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(PAYLOAD.as_bytes())
        .unwrap();
    let out = wait_with_timeout(child, TIMEOUT);
    let line = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        line.trim_end(),
        "$0.42 session · ctx 18% · 5h 42% · 7d 7% (official) | it's {"
    );
    let out = s.hooks(&["uninstall"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(s.read(), original, "chained: given back byte for byte");

    let out = s.hooks(&["install", "--statusline", "--force"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(s.read().contains(" statusline --replaced '"));
    let out = s.hooks(&["uninstall"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(s.read(), original, "replaced: given back byte for byte");
}

fn home_shell(home: &Home, command: &str) -> std::process::Child {
    let mut cmd = Command::new("sh");
    home.world.claude.apply(&mut cmd);
    cmd.arg("-c")
        .arg(command)
        .env("CCLIVE_DB", &home.world.db)
        .env("CCLIVE_LISTEN", "127.0.0.1:9")
        .env("XDG_RUNTIME_DIR", &home.runtime)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_store_without_usage_still_prints_quickly_and_counts_zero() {
    let home = Home::new("");
    SqliteStore::open(&home.world.db)
        .unwrap()
        .checkpoints()
        .unwrap();
    let line = home.line(&["statusline"], PAYLOAD.as_bytes());
    assert_eq!(
        line,
        "$0.42 session · $0.00 today · ctx 18% · 5h 42% · 7d 7% (official)"
    );
}
