//! A small harness for running the real `cclive` binary against the real claude and the fake
//! API: temp HOME, temp database and state file, and helpers to read them back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::claude::{ClaudeEnv, claude_bin};

/// Path of the cclive binary under test.
pub fn cclive_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cclive"))
}

/// One isolated world: claude's temp HOME (from [`ClaudeEnv`]) plus cclive's files.
pub struct World {
    pub claude: ClaudeEnv,
    pub db: PathBuf,
    pub state_file: PathBuf,
}

impl World {
    /// A world whose claude talks to `base_url`.
    pub fn new(base_url: &str) -> World {
        let claude = ClaudeEnv::new(base_url);
        let db = claude.home().join("cclive-test.db");
        let state_file = claude.home().join("state/current_session.json");
        World {
            claude,
            db,
            state_file,
        }
    }

    /// `cclive <args>` with the world's environment; cwd = claude's work dir.
    pub fn cclive(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cclive_bin());
        self.claude.apply(&mut cmd);
        cmd.env("CLAUDE_BIN", claude_bin())
            .env("CLAUDE_SESSION_STATE_FILE", &self.state_file)
            .env("CCLIVE_DB", &self.db)
            .env_remove("CCLIVE_LOG")
            .current_dir(self.claude.work_dir())
            .stdin(Stdio::null())
            .args(args);
        cmd
    }

    /// Runs `cclive <args>` to the end (failing the test after `timeout`).
    pub fn run(&self, args: &[&str], timeout: Duration) -> Output {
        let child = self
            .cclive(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cclive");
        wait_with_timeout(child, timeout)
    }

    /// The state file, parsed.
    pub fn state(&self) -> Value {
        read_json(&self.state_file).expect("state file exists and parses")
    }

    /// `cclive sessions --json`, parsed.
    pub fn sessions(&self) -> Vec<Value> {
        let out = self.run(&["sessions", "--json"], Duration::from_secs(30));
        assert!(out.status.success(), "{}", describe(&out));
        serde_json::from_slice::<Value>(&out.stdout)
            .expect("sessions --json is JSON")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Reads and parses a JSON file; `None` when it does not exist yet. Panics when it exists but
/// does not parse: a reader must never see a half-written file.
pub fn read_json(path: &Path) -> Option<Value> {
    match std::fs::read(path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{} did not parse ({e}): {:?}",
                path.display(),
                String::from_utf8_lossy(&bytes)
            )
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// Waits for a child, killing it and failing after `timeout`. Output is read on threads so a
/// chatty child never blocks on a full pipe.
pub fn wait_with_timeout(mut child: std::process::Child, timeout: Duration) -> Output {
    use std::io::Read;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    assert!(
        !timed_out,
        "timed out after {timeout:?}\n{}",
        describe(&output)
    );
    output
}

/// Exit status, stdout and stderr, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
