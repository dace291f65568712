//! A real CalDAV server for the calendar tests: Radicale (pinned, installed into a virtualenv
//! in the test cache by `scripts/test-setup.sh`), run on 127.0.0.1 on a free port with a
//! throw-away storage folder and htpasswd (plain) authentication.
//!
//! [`Radicale::stop`] and [`Radicale::start_again`] take the server down and bring it back on
//! the same port with the same storage (the "calendar server down for a while" tests). Reading
//! back is a plain `GET` of the calendar collection (Radicale answers with every event in one
//! calendar), parsed with the `icalendar` crate. It never talks to anything but 127.0.0.1.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use icalendar::{Calendar, CalendarComponent, Component, Event};
use tempfile::TempDir;

use super::cclive::free_port;

/// The Radicale version the tests pin (as `scripts/test-setup.sh` installs it).
pub const RADICALE_VERSION: &str = "3.9.0";
/// The test user.
pub const USER: &str = "alice";
/// Their password.
pub const PASSWORD: &str = "calendar-pass-123";

/// The tests' cache folder: `$CCLIVE_TEST_CACHE`, else `${XDG_CACHE_HOME:-$HOME/.cache}/cclive-test`.
pub fn test_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("CCLIVE_TEST_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("neither XDG_CACHE_HOME nor HOME is set")
        .join("cclive-test")
}

/// The pinned `radicale` program.
pub fn radicale_bin() -> PathBuf {
    let bin = test_cache()
        .join(format!("radicale-{RADICALE_VERSION}"))
        .join("bin/radicale");
    assert!(
        bin.is_file(),
        "Radicale {RADICALE_VERSION} is missing at {}: run scripts/test-setup.sh",
        bin.display()
    );
    bin
}

/// A running Radicale; stopped (and its storage removed) when dropped.
pub struct Radicale {
    child: Option<Child>,
    pub port: u16,
    dir: TempDir,
}

impl Radicale {
    /// Starts a server with one user ([`USER`] / [`PASSWORD`]) and waits until it answers.
    pub fn start() -> Radicale {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("users"), format!("{USER}:{PASSWORD}\n")).unwrap();
        let mut server = Radicale {
            child: None,
            port: free_port(),
            dir,
        };
        server.start_again();
        server
    }

    /// (Re)starts the server on the same port and storage; waits until it answers.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "already running");
        let root = self.dir.path();
        let config = root.join("config");
        std::fs::write(
            &config,
            format!(
                "[server]\nhosts = 127.0.0.1:{port}\n\
                 [auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n\
                 htpasswd_encryption = plain\ndelay = 0\n\
                 [storage]\nfilesystem_folder = {storage}\n\
                 [rights]\ntype = owner_only\n[web]\ntype = none\n\
                 [logging]\nlevel = error\n",
                port = self.port,
                users = root.join("users").display(),
                storage = root.join("collections").display(),
            ),
        )
        .unwrap();
        let child = Command::new(radicale_bin())
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn radicale");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("radicale exited at start: {status}");
            }
            if self.request("OPTIONS", &format!("/{USER}/"), "").is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "radicale did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The URL of the user's calendar `name` (a collection, ending in `/`).
    pub fn calendar_url(&self, name: &str) -> String {
        format!("{}/{USER}/{name}/", self.base())
    }

    /// One request as the test user; the status and body.
    pub fn request(&self, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
        use base64::Engine as _;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base()))
            .header("Authorization", format!("Basic {auth}"))
            .header("Content-Type", "application/xml")
            .body(body.to_owned())
            .unwrap();
        let mut response = agent.run(request).map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok((status, text))
    }

    /// Creates the calendar `name` (MKCALENDAR); returns its URL.
    pub fn make_calendar(&self, name: &str) -> String {
        let (status, body) = self
            .request("MKCALENDAR", &format!("/{USER}/{name}/"), "")
            .unwrap();
        assert_eq!(status, 201, "MKCALENDAR: {body}");
        self.calendar_url(name)
    }

    /// Every event in the calendar `name`, read back with a GET of the collection.
    pub fn events(&self, name: &str) -> Vec<Event> {
        let (status, body) = self
            .request("GET", &format!("/{USER}/{name}/"), "")
            .unwrap();
        assert_eq!(status, 200, "GET calendar: {body}");
        if body.trim().is_empty() {
            return Vec::new();
        }
        let calendar: Calendar = body.parse().unwrap_or_else(|e| panic!("{e}: {body}"));
        calendar
            .components
            .into_iter()
            .filter_map(|c| match c {
                CalendarComponent::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// Polls the calendar `name` until `done` holds for its events; returns them. Fails after
    /// `timeout`.
    pub fn wait_events(
        &self,
        name: &str,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[Event]) -> bool,
    ) -> Vec<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events(name);
            if done(&events) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; events: {:#?}",
                events.iter().map(describe).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An event's UID, summary, status and description, for failure messages.
pub fn describe(e: &Event) -> String {
    format!(
        "{:?} {:?} {:?} {:?}",
        e.get_uid(),
        e.get_summary(),
        e.property_value("X-CCLIVE-STATUS"),
        e.get_description()
    )
}
