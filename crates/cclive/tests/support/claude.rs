//! Finding and running the real, pinned Claude Code CLI in end-to-end tests.
//!
//! It owns the location of the pinned binary ([`claude_bin`], installed by
//! `scripts/test-setup.sh`), the isolated environment a claude child runs in ([`ClaudeEnv`]: a
//! temp `HOME`, a temp work dir, `ANTHROPIC_BASE_URL` pointing at a `FakeApi`, nothing inherited
//! from the developer's own Claude Code setup), and a blocking runner with a timeout
//! ([`run_with_timeout`]). It never talks to the real API and never touches the real `~/.claude`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The Claude Code version the tests pin.
pub const CLAUDE_VERSION: &str = "2.1.332";
/// The API key given to claude (the fake accepts anything).
pub const TEST_API_KEY: &str = "sk-ant-test";
/// Env var overriding the claude binary used by the tests.
pub const CLAUDE_BIN_ENV: &str = "CCLIVE_TEST_CLAUDE";
/// The default timeout for one print-mode run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(1);

/// Env var name prefixes removed from a claude child's inherited environment, so a developer's
/// (or an enclosing Claude Code session's) settings cannot leak into a test.
const CLEARED_PREFIXES: &[&str] = &["ANTHROPIC_", "CLAUDE", "OTEL_"];
/// Proxy variables removed too: the fake listens on loopback.
const CLEARED_PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// The pinned claude binary: `$CCLIVE_TEST_CLAUDE` if set, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/cclive-test/claude-code-<CLAUDE_VERSION>/node_modules/.bin/claude`.
///
/// # Panics
/// If the binary does not exist (run `scripts/test-setup.sh`).
pub fn claude_bin() -> PathBuf {
    let path = if let Some(path) = std::env::var_os(CLAUDE_BIN_ENV).filter(|v| !v.is_empty()) {
        PathBuf::from(path)
    } else {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .expect("neither XDG_CACHE_HOME nor HOME is set");
        cache
            .join("cclive-test")
            .join(format!("claude-code-{CLAUDE_VERSION}"))
            .join("node_modules/.bin/claude")
    };
    assert!(
        path.is_file(),
        "the pinned Claude Code {CLAUDE_VERSION} binary is missing at {}: run scripts/test-setup.sh \
         (or set {CLAUDE_BIN_ENV} to a claude binary)",
        path.display()
    );
    path
}

/// An isolated environment for one claude child: a temp `HOME` and a temp work dir, both
/// removed on drop, and the env vars pointing claude at a fake API.
#[derive(Debug)]
pub struct ClaudeEnv {
    home: TempDir,
    work: TempDir,
    /// `home.path()` and `work.path()` canonicalized: claude keys projects by the real path.
    home_path: PathBuf,
    work_path: PathBuf,
    base_url: String,
}

impl ClaudeEnv {
    /// Creates the temp `HOME` (with `.config`, `.local/share`, `.cache` inside) and work dir
    /// for a claude that talks to `base_url` (e.g. `FakeApi::url()`).
    pub fn new(base_url: &str) -> ClaudeEnv {
        let home = tempfile::Builder::new()
            .prefix("cclive-home-")
            .tempdir()
            .expect("create temp HOME");
        let work = tempfile::Builder::new()
            .prefix("cclive-work-")
            .tempdir()
            .expect("create temp work dir");
        let home_path = home.path().canonicalize().expect("canonicalize temp HOME");
        let work_path = work.path().canonicalize().expect("canonicalize work dir");
        for dir in [".config", ".local/share", ".cache"] {
            std::fs::create_dir_all(home_path.join(dir)).expect("create XDG dir in temp HOME");
        }
        ClaudeEnv {
            home,
            work,
            home_path,
            work_path,
            base_url: base_url.to_owned(),
        }
    }

    /// The temp `HOME`.
    pub fn home(&self) -> &Path {
        &self.home_path
    }

    /// `$HOME/.claude`, where claude writes transcripts, sessions, ….
    pub fn claude_dir(&self) -> PathBuf {
        self.home_path.join(".claude")
    }

    /// The temp work dir, to be claude's current dir.
    pub fn work_dir(&self) -> &Path {
        &self.work_path
    }

    /// The `ANTHROPIC_BASE_URL` given to claude.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The env vars a claude child gets (on top of the cleaned inherited environment).
    pub fn vars(&self) -> Vec<(String, String)> {
        let home = self.home_path.display().to_string();
        let inside = |sub: &str| self.home_path.join(sub).display().to_string();
        vec![
            ("HOME".to_owned(), home),
            ("ANTHROPIC_BASE_URL".to_owned(), self.base_url.clone()),
            ("ANTHROPIC_API_KEY".to_owned(), TEST_API_KEY.to_owned()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".to_owned(),
                "1".to_owned(),
            ),
            ("DISABLE_AUTOUPDATER".to_owned(), "1".to_owned()),
            ("CLAUDE_CODE_MAX_RETRIES".to_owned(), "0".to_owned()),
            ("XDG_CONFIG_HOME".to_owned(), inside(".config")),
            ("XDG_DATA_HOME".to_owned(), inside(".local/share")),
            ("XDG_CACHE_HOME".to_owned(), inside(".cache")),
            ("NO_PROXY".to_owned(), "127.0.0.1,localhost".to_owned()),
        ]
    }

    /// Removes inherited `ANTHROPIC_*`, `CLAUDE*`, `OTEL_*` and proxy variables from `cmd`,
    /// then sets [`ClaudeEnv::vars`].
    pub fn apply(&self, cmd: &mut Command) {
        for (name, _) in std::env::vars_os() {
            if Self::is_cleared(&name) {
                cmd.env_remove(&name);
            }
        }
        for name in CLEARED_PROXY_VARS {
            cmd.env_remove(name);
        }
        cmd.envs(self.vars());
    }

    fn is_cleared(name: &OsString) -> bool {
        name.to_str()
            .is_some_and(|n| CLEARED_PREFIXES.iter().any(|p| n.starts_with(p)))
    }

    /// A `Command` for the pinned claude with `args`: env applied, current dir = the work dir,
    /// stdin null.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(claude_bin());
        cmd.args(args)
            .current_dir(&self.work_path)
            .stdin(Stdio::null());
        self.apply(&mut cmd);
        cmd
    }

    /// `claude -p <prompt> --output-format stream-json --verbose --allowedTools Bash Write`, as a
    /// user runs it, ready to spawn.
    pub fn print_command(&self, prompt: &str) -> Command {
        self.command([
            "-p",
            prompt,
            "--output-format",
            "stream-json",
            "--verbose",
            "--allowedTools",
            "Bash",
            "Write",
        ])
    }

    /// Runs [`ClaudeEnv::print_command`] and waits for it (killing it after `timeout`, which
    /// fails the test).
    pub fn run_print(&self, prompt: &str, timeout: Duration) -> ClaudeRun {
        run_with_timeout(self.print_command(prompt), timeout)
    }

    /// Writes `$HOME/.claude.json` so that interactive claude starts without onboarding, the
    /// API-key approval prompt or the trust dialog for the work dir (formats doc §7, as in
    /// `claude-code-captures/interactive`). `customApiKeyResponses.approved` holds the last
    /// 20 characters of the key.
    pub fn seed_interactive(&self) {
        let key = TEST_API_KEY;
        let key_suffix = &key[key.len().saturating_sub(20)..];
        let work = self.work_path.display().to_string();
        let config = json!({
            "hasCompletedOnboarding": true,
            "lastOnboardingVersion": CLAUDE_VERSION,
            "theme": "dark",
            "customApiKeyResponses": {"approved": [key_suffix], "rejected": []},
            "projects": {
                work: {
                    "hasTrustDialogAccepted": true,
                    "allowedTools": [],
                    "hasCompletedProjectOnboarding": true,
                },
            },
        });
        let text = serde_json::to_string_pretty(&config).expect("serialize .claude.json");
        std::fs::write(self.home_path.join(".claude.json"), text).expect("write ~/.claude.json");
    }

    /// Keeps the temp dirs on disk (for debugging a failed test) and returns their paths.
    pub fn keep(self) -> (PathBuf, PathBuf) {
        let _ = self.home.keep();
        let _ = self.work.keep();
        (self.home_path, self.work_path)
    }
}

/// The outcome of one finished claude run.
#[derive(Debug)]
pub struct ClaudeRun {
    /// The exit status.
    pub status: ExitStatus,
    /// Everything claude wrote to stdout.
    pub stdout: String,
    /// Everything claude wrote to stderr.
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl ClaudeRun {
    /// The stdout lines parsed as JSON (non-JSON lines are skipped).
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The last stdout line as JSON, if it is a `type: result` line.
    pub fn result(&self) -> Option<Value> {
        let last = self.stdout.lines().rev().find(|l| !l.trim().is_empty())?;
        let value: Value = serde_json::from_str(last).ok()?;
        (value["type"] == "result").then_some(value)
    }

    /// A human-readable account of the run (status, time, stderr, the stdout tail) for
    /// assertion messages.
    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "claude exit status: {}", self.status);
        let _ = writeln!(out, "elapsed: {:?}", self.elapsed);
        let _ = writeln!(out, "--- claude stderr ---\n{}", self.stderr);
        let lines: Vec<&str> = self.stdout.lines().collect();
        let tail = &lines[lines.len().saturating_sub(8)..];
        let _ = writeln!(out, "--- claude stdout (last {} lines) ---", tail.len());
        for line in tail {
            let short: String = line.chars().take(600).collect();
            let _ = writeln!(out, "{short}");
        }
        out
    }
}

/// Spawns `cmd` in its own process group with stdout and stderr captured and waits for it.
///
/// # Panics
/// If it cannot be spawned, or if it runs longer than `timeout` (its whole process group, tool
/// children included, is killed first; the panic message holds what it printed).
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> ClaudeRun {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = wait_with_deadline(&mut child, started + timeout);
    let elapsed = started.elapsed();
    let (stdout, stderr) = (join_drain(stdout), join_drain(stderr));
    match status {
        Some(status) => ClaudeRun {
            status,
            stdout,
            stderr,
            elapsed,
        },
        None => panic!(
            "claude did not finish within {timeout:?} and was killed\n--- stderr ---\n{stderr}\n\
             --- stdout ---\n{stdout}"
        ),
    }
}

/// Waits for `child` until `deadline`; kills and reaps it and returns `None` past the deadline.
fn wait_with_deadline(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().expect("wait for claude") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            // The group leader's pid is the group id (`process_group(0)`).
            if let Ok(pgid) = i32::try_from(child.id()) {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

type Drain = std::thread::JoinHandle<String>;

/// Reads a pipe to its end on a helper thread (so a full pipe never blocks the child).
fn drain(mut pipe: impl Read + Send + 'static) -> Drain {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The pipe's content. If a grandchild still holds the pipe open after claude exited, this
/// waits until it closes it too.
fn join_drain(drain: Drain) -> String {
    drain
        .join()
        .unwrap_or_else(|_| "<pipe reader panicked>".to_owned())
}
