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
            // Never talk to a monitor the developer may run on the default port.
            .env("CCLIVE_LISTEN", "127.0.0.1:9")
            // A team agent retries an unreachable server at least every half second.
            .env("CCLIVE_TEAM_RETRY_MAX_MS", "500")
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

/// A running `cclive watch`, stopped (SIGTERM, then waited for) when dropped.
pub struct Watch {
    child: Option<std::process::Child>,
    pub addr: String,
}

impl Watch {
    /// Stops the monitor and returns its output.
    pub fn stop(mut self) -> Output {
        let child = self.child.take().expect("running");
        terminate(&child);
        wait_with_timeout(child, Duration::from_secs(30))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&child);
            let _ = child.wait();
        }
    }
}

fn terminate(child: &std::process::Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl World {
    /// The environment `cclive` runs with in this world, as `KEY=VALUE` pairs (for a shell).
    pub fn cclive_env(&self) -> Vec<(String, String)> {
        let mut vars = self.claude.vars();
        vars.push(("CLAUDE_BIN".into(), claude_bin().display().to_string()));
        vars.push((
            "CLAUDE_SESSION_STATE_FILE".into(),
            self.state_file.display().to_string(),
        ));
        vars.push(("CCLIVE_DB".into(), self.db.display().to_string()));
        vars.push(("CCLIVE_LISTEN".into(), "127.0.0.1:9".into()));
        vars
    }

    /// `cclive watch --listen <addr> <extra>` as the tests run it (log level from
    /// `$CCLIVE_TEST_LOG`, warnings by default; its log on the test's stderr), ready to spawn.
    pub fn watch_command(&self, addr: &str, extra: &[&str]) -> Command {
        let mut args = vec!["watch", "--listen", addr];
        args.extend_from_slice(extra);
        let mut cmd = self.cclive(&args);
        cmd.env(
            "CCLIVE_LOG",
            std::env::var("CCLIVE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        cmd
    }

    /// Starts `cclive watch` on a free port and waits until it answers.
    pub fn watch(&self) -> Watch {
        self.watch_with(&[])
    }

    /// Like [`World::watch`], with more arguments (e.g. `--upstream URL --token-file F`).
    pub fn watch_with(&self, extra: &[&str]) -> Watch {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = self
            .watch_command(&addr, extra)
            .spawn()
            .expect("spawn cclive watch");
        let watch = Watch {
            child: Some(child),
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(&watch.addr) {
                use std::io::{Read, Write};
                let _ = s.write_all(
                    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                );
                let mut body = String::new();
                let _ = s.read_to_string(&mut body);
                if body.contains("\"cclive\"") {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "cclive watch did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The file watcher starts right after the server; give it a moment.
        std::thread::sleep(Duration::from_millis(300));
        watch
    }

    /// Polls the state file until `pred` holds for it; returns it. Fails after `timeout`.
    pub fn wait_state(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = read_json(&self.state_file) {
                if pred(&v) {
                    return v;
                }
                assert!(
                    Instant::now() <= deadline,
                    "timed out waiting for {what}; state file:\n{v:#}"
                );
            } else if Instant::now() > deadline {
                panic!("timed out waiting for {what}; no state file");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// The session with `id` in a snapshot's `active_sessions`, else its `data` when it is that one.
pub fn session_in<'a>(state: &'a Value, id: &str) -> Option<&'a Value> {
    state["active_sessions"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["session_id"] == id))
        .or_else(|| Some(&state["data"]).filter(|d| d["session_id"] == id))
}
