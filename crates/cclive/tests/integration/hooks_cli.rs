//! `cclive hooks install|uninstall|status` and `cclive hook`, run as the real binary against a
//! temp `HOME` and `CLAUDE_CONFIG_DIR`.
//!
//! The settings fixture is in Claude Code's own layout (`JSON.stringify(s, null, 2)` + newline)
//! and holds user hooks and settings, so "uninstall gives back the file" is a byte comparison.
//! `cclive hook` is run with nothing listening and against a listener that never answers: it
//! must exit 0 and print nothing. Its timings are printed, not asserted (numbers belong in
//! benchmarks); the only bound asserted catches a hang. The last tests run the real, pinned
//! Claude Code with the installed hooks.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::cclive::{cclive_bin, describe, wait_with_timeout};
use crate::support::claude::{ClaudeEnv, DEFAULT_TIMEOUT};
use crate::support::fake_api::{FakeApi, Scenario};

const FIXTURE: &str = include_str!("../fixtures/settings/user-settings.json");
const INVALID: &str = include_str!("../fixtures/settings/invalid.json");
const TIMEOUT: Duration = Duration::from_secs(30);
/// Not the budget (20 ms for the exchange): only a bound that catches a hang.
const HANG: Duration = Duration::from_secs(2);

/// The events `install` registers, and the two that are always command hooks.
const COMMAND_ONLY: &[&str] = &["SessionStart", "Setup"];
const NEVER: &[&str] = &[
    "WorktreeCreate",
    "WorktreeRemove",
    "FileChanged",
    "MessageDisplay",
];

/// A temp HOME with a Claude config dir, and the address of a port where nothing listens.
struct Home {
    dir: TempDir,
    config_dir: PathBuf,
    listen: String,
}

impl Home {
    fn new() -> Home {
        let home = tempfile::Builder::new()
            .prefix("cclive-hooks-")
            .tempdir()
            .unwrap();
        let config_dir = home.path().join("claude-config");
        std::fs::create_dir_all(&config_dir).unwrap();
        Home {
            dir: home,
            config_dir,
            listen: free_port(),
        }
    }

    fn with_settings(text: &str) -> Home {
        let home = Home::new();
        std::fs::write(home.settings(), text).unwrap();
        home
    }

    fn settings(&self) -> PathBuf {
        self.config_dir.join("settings.json")
    }

    fn read(&self) -> String {
        std::fs::read_to_string(self.settings()).unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.read()).unwrap()
    }

    fn backups(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&self.config_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("settings.json.cclive-backup-")
            })
            .collect();
        found.sort();
        found
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cclive_bin());
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("CCLIVE_") || name.starts_with("CLAUDE") || name.starts_with("XDG_")
            {
                cmd.env_remove(name);
            }
        }
        let home = self.dir.path();
        cmd.env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("CLAUDE_CONFIG_DIR", &self.config_dir)
            .env("CCLIVE_LISTEN", &self.listen)
            .current_dir(home)
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_with_timeout(child, TIMEOUT)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "cclive {args:?}\n{}", describe(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// `cclive hook` with `payload` on stdin: its output and how long it took.
    fn hook(&self, payload: &[u8]) -> (Output, Duration) {
        let started = Instant::now();
        let mut child = self
            .command(&["hook"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(payload).unwrap();
        let out = wait_with_timeout(child, TIMEOUT);
        (out, started.elapsed())
    }
}

/// An address on loopback where nothing listens (bound, then released).
fn free_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// The absolute path of the cclive under test, as `current_exe` reports it.
fn exe() -> String {
    std::fs::canonicalize(cclive_bin())
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn payload(event: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "session_id": "3f1c0b8e-8d0e-4c1e-9a51-2f0c3d4e5f60",
        "transcript_path": "/tmp/x.jsonl",
        "cwd": "/tmp",
        "hook_event_name": event,
    }))
    .unwrap()
}

/// The (single-handler) groups cclive owns in `hooks.<event>`.
fn ours(settings: &Value, event: &str) -> Vec<Value> {
    settings["hooks"][event]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .filter(|g| g.get("matcher").is_none())
                .filter_map(|g| g["hooks"].as_array().filter(|h| h.len() == 1))
                .map(|h| h[0].clone())
                .filter(|h| {
                    h["url"].as_str().is_some_and(|u| u.ends_with("/api/hooks"))
                        || h["command"].as_str().is_some_and(|c| c.ends_with(" hook"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn install_twice_then_uninstall_gives_back_the_users_file_byte_for_byte() {
    let home = Home::with_settings(FIXTURE);
    let original: Value = serde_json::from_str(FIXTURE).unwrap();

    let said = home.ok(&["hooks", "install"]);
    eprintln!("{said}");
    let installed = home.read();
    let after = home.json();
    // Every user setting is still there, unchanged and in its place.
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&after), keys(&original));
    for (key, value) in original.as_object().unwrap() {
        if key != "hooks" {
            assert_eq!(&after[key], value, "{key}");
        }
    }
    // The user's hooks come first, untouched; ours follow.
    let pre = after["hooks"]["PreToolUse"].as_array().unwrap();
    assert_eq!(
        pre[..2],
        original["hooks"]["PreToolUse"].as_array().unwrap()[..]
    );
    assert_eq!(after["hooks"]["Stop"][0], original["hooks"]["Stop"][0]);
    let url = format!("http://{}/api/hooks", home.listen);
    assert_eq!(
        ours(&after, "PreToolUse"),
        [json!({"type": "http", "url": url, "timeout": 1})]
    );
    for event in COMMAND_ONLY {
        assert_eq!(
            ours(&after, event),
            [json!({"type": "command", "command": format!("{} hook", exe()), "timeout": 2})],
            "{event}: Claude Code sends no http hooks for it"
        );
    }
    for event in NEVER {
        assert!(
            after["hooks"].get(*event).is_none(),
            "{event} must not be registered"
        );
    }
    let registered = after["hooks"].as_object().unwrap().len();
    assert_eq!(registered, 30);
    assert!(said.contains("backup:"), "{said}");
    let backups = home.backups();
    assert_eq!(backups.len(), 1);
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), FIXTURE);

    let said = home.ok(&["hooks", "install"]);
    assert!(said.contains("nothing changed"), "{said}");
    assert_eq!(home.read(), installed, "a second install changes nothing");
    assert_eq!(home.backups().len(), 1, "and writes no backup");

    let said = home.ok(&["hooks", "uninstall"]);
    eprintln!("{said}");
    assert_eq!(
        home.read(),
        FIXTURE,
        "uninstall removes exactly what install added"
    );
    let backups = home.backups();
    assert_eq!(backups.len(), 2);
    assert!(
        backups
            .iter()
            .any(|b| std::fs::read_to_string(b).unwrap() == installed)
    );
    let said = home.ok(&["hooks", "uninstall"]);
    assert!(said.contains("nothing changed"), "{said}");
    assert_eq!(home.read(), FIXTURE);
}

#[test]
fn invalid_json_is_refused_and_left_untouched() {
    let home = Home::with_settings(INVALID);
    for args in [&["hooks", "install"][..], &["hooks", "uninstall"][..]] {
        let out = home.run(args);
        assert!(!out.status.success(), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is not valid JSON"), "{err}");
        assert_eq!(home.read(), INVALID);
        assert!(home.backups().is_empty());
    }
    let out = home.ok(&["hooks", "status"]);
    assert!(out.contains("not valid JSON"), "{out}");
}

#[test]
fn command_mode_registers_this_executable_and_switching_back_replaces_it() {
    let home = Home::with_settings(FIXTURE);
    home.ok(&["hooks", "install", "--command"]);
    let settings = home.json();
    let handler = json!({"type": "command", "command": format!("{} hook", exe()), "timeout": 2});
    assert!(Path::new(&exe()).is_absolute());
    for (event, _) in settings["hooks"].as_object().unwrap() {
        assert_eq!(
            ours(&settings, event),
            std::slice::from_ref(&handler),
            "{event}"
        );
    }

    home.ok(&["hooks", "install"]);
    let settings = home.json();
    assert_eq!(ours(&settings, "Stop").len(), 1);
    assert_eq!(ours(&settings, "Stop")[0]["type"], "http");
    home.ok(&["hooks", "uninstall"]);
    assert_eq!(home.read(), FIXTURE);
}

#[test]
fn a_missing_settings_file_is_created_in_claude_codes_layout() {
    let home = Home::new();
    let out = home.ok(&["hooks", "install", "--dry-run"]);
    assert!(out.contains("would add"), "{out}");
    assert!(!home.settings().exists(), "a dry run writes nothing");

    home.ok(&["hooks", "install"]);
    let text = home.read();
    assert!(
        text.starts_with("{\n  \"hooks\": {\n    \"PreToolUse\": [\n"),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
    assert!(home.backups().is_empty(), "nothing to back up");
    home.ok(&["hooks", "uninstall"]);
    assert_eq!(home.read(), "{}\n");
}

#[test]
fn status_says_what_is_installed_and_whether_the_monitor_answers() {
    let home = Home::with_settings(FIXTURE);
    let status = |home: &Home| -> Value {
        serde_json::from_str(&home.ok(&["hooks", "status", "--json"])).unwrap()
    };
    let before = status(&home);
    let events = before["config_dirs"][0]["events"].as_array().unwrap();
    assert_eq!(events.len(), 30);
    assert!(events.iter().all(|e| e["installed"] == json!([])));
    assert_eq!(before["monitor"]["answering"], false);

    home.ok(&["hooks", "install"]);
    let monitor = Listener::start(Answer::Health);
    let mut home = home;
    home.listen.clone_from(&monitor.addr);
    // The listen address changed, so the http entries are not ours any more: status says so.
    let moved = status(&home);
    assert_eq!(moved["monitor"]["answering"], true);
    let stop = moved["config_dirs"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "Stop")
        .unwrap()
        .clone();
    assert_eq!(stop["installed"], json!([]));
    assert_eq!(moved["config_dirs"][0]["lookalikes"], 28);
    let text = home.ok(&["hooks", "status"]);
    assert!(text.contains("answering"), "{text}");
    assert!(text.contains("missing (28)"), "{text}");
    assert!(
        text.contains("28 hook entries look like cclive's"),
        "{text}"
    );
    // Uninstall leaves them, and says why.
    let said = home.ok(&["hooks", "uninstall"]);
    assert!(
        said.contains("28 hook entries look like cclive's"),
        "{said}"
    );
}

#[test]
fn hook_exits_0_at_once_when_no_monitor_runs() {
    let home = Home::new();
    let (out, elapsed) = home.hook(&payload("Stop"));
    eprintln!("cclive hook, nothing listening: {elapsed:?} (process start included)");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "a hook's stdout is its answer");
    assert!(elapsed < HANG, "{elapsed:?}");
}

#[test]
fn hook_exits_0_within_its_budget_when_the_monitor_never_answers() {
    let mut home = Home::new();
    let silent = Listener::start(Answer::Never);
    home.listen.clone_from(&silent.addr);
    let (out, elapsed) = home.hook(&payload("PreToolUse"));
    eprintln!("cclive hook, monitor never answers: {elapsed:?} (process start included)");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(out.stdout.is_empty());
    assert!(elapsed < HANG, "{elapsed:?}");
    assert_eq!(silent.accepted(), 1, "it did try the monitor");
}

#[test]
fn hook_hands_the_payload_to_the_monitor_as_it_came() {
    let mut home = Home::new();
    let monitor = Listener::start(Answer::NoContent);
    home.listen.clone_from(&monitor.addr);
    let sent = payload("UserPromptSubmit");
    let (out, elapsed) = home.hook(&sent);
    eprintln!("cclive hook, monitor answers 204: {elapsed:?}");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(out.stdout.is_empty());
    let got = monitor.requests();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].head.starts_with("POST /api/hooks HTTP/1.1\r\n"),
        "{}",
        got[0].head
    );
    assert_eq!(got[0].body, sent);
}

/// With http hooks installed, the real Claude Code POSTs its payloads to the monitor's URL and
/// finishes normally; `SessionStart` comes through `cclive hook`. With nothing listening, the
/// run still succeeds.
#[test]
fn real_claude_posts_hooks_to_the_monitor_and_does_not_need_it() {
    let api = FakeApi::start(Scenario::BashThenText);
    let env = ClaudeEnv::new(&api.url());
    let monitor = Listener::start(Answer::NoContent);
    let install = Command::new(cclive_bin())
        .env("HOME", env.home())
        .env("XDG_CONFIG_HOME", env.home().join(".config"))
        .env("XDG_DATA_HOME", env.home().join(".local/share"))
        .env_remove("CLAUDE_CONFIG_DIR")
        .env_remove("CCLIVE_LISTEN")
        .args([
            "hooks",
            "install",
            "--listen",
            &monitor.addr,
            "--config-dir",
        ])
        .arg(env.claude_dir())
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", describe(&install));

    let run = env.run_print("Please run the command.", DEFAULT_TIMEOUT);
    eprintln!("{}", run.diagnostics());
    assert!(run.status.success());
    assert_eq!(run.result().unwrap()["is_error"], false);
    // An empty 2xx is a clean no-op: no warning, no hook error.
    let complaints: Vec<Value> = run
        .json_lines()
        .into_iter()
        .filter(|l| {
            l["tag"] == "hook_no_verdict"
                || l["key"] == "stop-hook-error"
                || (l["subtype"] == "hook_response" && l["outcome"] != "success")
        })
        .collect();
    assert!(complaints.is_empty(), "{complaints:?}");
    // `hooks install` itself asks the monitor's /healthz whether it wants a token.
    let requests: Vec<Request> = monitor
        .requests()
        .into_iter()
        .filter(|r| r.head.starts_with("POST "))
        .collect();
    let events: Vec<String> = requests
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            v["hook_event_name"].as_str().unwrap().to_owned()
        })
        .collect();
    eprintln!("hook events received: {events:?}");
    for event in [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "Stop",
        "SessionEnd",
    ] {
        assert!(
            events.iter().any(|e| e == event),
            "{event} missing: {events:?}"
        );
    }
    let with_agent = requests
        .iter()
        .filter(|r| r.head.to_ascii_lowercase().contains("user-agent: cclive/"))
        .count();
    assert_eq!(
        with_agent, 1,
        "only SessionStart comes through `cclive hook`"
    );
    drop(monitor);

    let run = env.run_print("Please run the command.", DEFAULT_TIMEOUT);
    eprintln!("with no monitor: {:?}\n{}", run.elapsed, run.diagnostics());
    assert!(run.status.success());
    assert_eq!(run.result().unwrap()["is_error"], false);
}

/// How the test listener answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Accept, read, never answer (a hung monitor).
    Never,
    /// `204 No Content`, as the monitor answers hooks.
    NoContent,
    /// The monitor's `/healthz`.
    Health,
}

struct Request {
    head: String,
    body: Vec<u8>,
}

/// A loopback HTTP listener on a thread; stops when dropped.
struct Listener {
    addr: String,
    stop: Arc<AtomicBool>,
    accepted: Arc<Mutex<usize>>,
    requests: Arc<Mutex<Vec<Request>>>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    fn start(answer: Answer) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(Mutex::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, accepted, requests) = (stop.clone(), accepted.clone(), requests.clone());
            std::thread::spawn(move || {
                let mut held = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            *accepted.lock().unwrap() += 1;
                            stream.set_nonblocking(false).unwrap();
                            if answer == Answer::Never {
                                held.push(stream);
                                continue;
                            }
                            let requests = requests.clone();
                            std::thread::spawn(move || serve(stream, answer, &requests));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        Listener {
            addr,
            stop,
            accepted,
            requests,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }

    fn requests(&self) -> Vec<Request> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut stream: TcpStream, answer: Answer, requests: &Mutex<Vec<Request>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let (head, body) = loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).into_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if raw.len() >= end + 4 + length {
                break (head, raw[end + 4..end + 4 + length].to_vec());
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    };
    let response = if answer == Answer::NoContent {
        "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_owned()
    } else {
        let body = r#"{"ok":true,"service":"cclive"}"#;
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
    };
    requests.lock().unwrap().push(Request { head, body });
    let _ = stream.write_all(response.as_bytes());
}
