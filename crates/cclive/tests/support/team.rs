//! Team mode harness: a fresh PostgreSQL database (from `cclive-pg-test`'s throw-away cluster),
//! users made with the real `cclive team user add`, and the real `cclive server` on a free port.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cclive::{cclive_bin, free_port, wait_with_timeout};

/// A new, empty team database (blocking; starts the cluster on first use).
pub fn fresh_database(test: &str) -> String {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(cclive_pg_test::fresh_database(test))
}

/// `cclive <args>` for team commands: an empty HOME and config, the database in the env.
pub fn team_command(database_url: &str, home: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(cclive_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("CCLIVE_DATABASE_URL", database_url)
        .stdin(Stdio::null())
        .args(args);
    cmd
}

/// A running `cclive server` (terminated when dropped).
pub struct TeamServer {
    child: Option<Child>,
    /// The arguments after `--listen ADDR`, for [`TeamServer::restart`].
    extra: Vec<String>,
    pub port: u16,
    pub database_url: String,
    pub home: tempfile::TempDir,
}

impl TeamServer {
    /// Starts `cclive server` on `database_url` and waits until it answers.
    pub fn start(database_url: &str) -> TeamServer {
        let home = tempfile::tempdir().expect("home");
        Self::start_in(database_url, home, &[])
    }

    /// Like [`TeamServer::start`], with extra arguments and a given HOME.
    pub fn start_in(database_url: &str, home: tempfile::TempDir, extra: &[&str]) -> TeamServer {
        Self::start_on(database_url, home, free_port(), extra)
    }

    /// Like [`TeamServer::start_in`], on a given port (e.g. one an agent already points at).
    pub fn start_on(
        database_url: &str,
        home: tempfile::TempDir,
        port: u16,
        extra: &[&str],
    ) -> TeamServer {
        let mut server = TeamServer {
            child: None,
            extra: extra.iter().map(|&a| a.to_owned()).collect(),
            port,
            database_url: database_url.to_owned(),
            home,
        };
        server.restart();
        server
    }

    /// Starts the server again (after [`TeamServer::kill`]) on the same port and database, and
    /// waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let listen = format!("127.0.0.1:{}", self.port);
        let mut args = vec!["server", "--listen", &listen];
        args.extend(self.extra.iter().map(String::as_str));
        let child = team_command(&self.database_url, self.home.path(), &args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cclive server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_mins(1);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cclive server did not come up on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `cclive team user add EMAIL --team TEAM --role ROLE --json` → the token.
    pub fn add_user(&self, email: &str, team: &str, role: &str) -> String {
        let out = self.team(&[
            "team", "user", "add", email, "--team", team, "--role", role, "--json",
        ]);
        assert!(out.status.success(), "{}", super::cclive::describe(&out));
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v["token"].as_str().expect("token").to_owned()
    }

    /// Runs a `cclive team …` command on this server's database.
    pub fn team(&self, args: &[&str]) -> Output {
        let child = team_command(&self.database_url, self.home.path(), args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cclive team");
        wait_with_timeout(child, Duration::from_mins(1))
    }

    /// `GET <path>` (e.g. `/api/team/v1/spend`) with `token`'s bearer, as JSON.
    pub fn get_json(&self, token: &str, path: &str) -> Value {
        let text = ureq::get(format!("{}{path}", self.url()))
            .header("Authorization", format!("Bearer {}", token.trim()))
            .call()
            .expect("the team server answers")
            .body_mut()
            .read_to_string()
            .expect("a body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server (SIGTERM) and returns its output.
    pub fn stop(mut self) -> Output {
        let child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        wait_with_timeout(child, Duration::from_secs(30))
    }

    /// The HOME the server runs with.
    pub fn home_path(&self) -> PathBuf {
        self.home.path().to_owned()
    }
}

impl Drop for TeamServer {
    fn drop(&mut self) {
        self.kill();
    }
}
