//! `cclive dashboard` as a user runs it: the real binary on a free port. A second one says
//! where the first is; an address off loopback needs a token; an event sent to the monitor
//! reaches a live-stream subscriber through the whole pipeline (the delay is printed, not
//! asserted). Also the small blocking HTTP and SSE clients the browser test and the bench use.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::cclive::{World, describe, free_port, wait_with_timeout};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A running `cclive dashboard`, stopped (SIGTERM, then waited for) when dropped.
pub(crate) struct Dashboard {
    child: Option<Child>,
    pub(crate) port: u16,
}

impl Dashboard {
    /// `cclive dashboard --port <free> <extra>` in `world`, once it answers `/healthz`.
    pub(crate) fn start(world: &World, extra: &[&str]) -> Dashboard {
        Self::start_with(world, extra, None)
    }

    /// On a given port (e.g. the one a stopped dashboard had).
    pub(crate) fn start_on(world: &World, port: u16, extra: &[&str]) -> Dashboard {
        Self::spawn(world, port, extra, None, &[])
    }

    pub(crate) fn start_with(world: &World, extra: &[&str], token: Option<&str>) -> Dashboard {
        Self::spawn(world, free_port(), extra, token, &[])
    }

    /// With more environment variables.
    pub(crate) fn start_env(world: &World, extra: &[&str], env: &[(&str, &str)]) -> Dashboard {
        Self::spawn(world, free_port(), extra, None, env)
    }

    fn spawn(
        world: &World,
        port: u16,
        extra: &[&str],
        token: Option<&str>,
        env: &[(&str, &str)],
    ) -> Dashboard {
        let port_arg = port.to_string();
        let mut args = vec!["dashboard", "--port", &port_arg];
        args.extend_from_slice(extra);
        let mut cmd = world.cclive(&args);
        cmd.env(
            "CCLIVE_LOG",
            std::env::var("CCLIVE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env_remove("CCLIVE_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        if let Some(token) = token {
            cmd.env("CCLIVE_TOKEN", token);
        }
        cmd.envs(env.iter().copied());
        let child = cmd.spawn().expect("spawn cclive dashboard");
        let dashboard = Dashboard {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let headers: Vec<(&str, String)> = token
                .map(|t| vec![("Authorization", format!("Bearer {t}"))])
                .unwrap_or_default();
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            if try_http(port, "GET", "/healthz", &headers, None).is_ok_and(|r| r.status == 200) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "cclive dashboard did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The file watcher starts right after the server; give it a moment.
        std::thread::sleep(Duration::from_millis(300));
        dashboard
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub(crate) fn get(&self, path: &str) -> Reply {
        http(self.port, "GET", path, &[], None)
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> Reply {
        http(
            self.port,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(&serde_json::to_vec(body).unwrap()),
        )
    }

    /// Stops it; returns what it printed.
    pub(crate) fn stop(mut self) -> std::process::Output {
        let child = self.child.take().expect("running");
        terminate(&child);
        wait_with_timeout(child, TIMEOUT)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&child);
            let _ = child.wait();
        }
    }
}

fn terminate(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request to 127.0.0.1:`port` (`Host: 127.0.0.1:<port>`, as cclive's own clients send).
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    try_http(port, method, path, headers, body).expect("HTTP exchange")
}

pub(crate) fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(n);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    if let Some(body) = body {
        head.push_str("Content-Length: ");
        head.push_str(&body.len().to_string());
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(body) = body {
        stream.write_all(body)?;
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let mut body = raw[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok(Reply { status, head, body })
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 || raw.len() < line_end + 2 + size {
            break;
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[(line_end + 4 + size).min(raw.len())..];
    }
    out
}

/// A blocking `/api/stream` reader: `(event, data)` pairs.
pub(crate) struct Sse {
    stream: TcpStream,
    /// Raw bytes not yet de-chunked (the headers first).
    raw: Vec<u8>,
    head_done: bool,
    /// De-chunked event text not yet parsed.
    text: String,
}

impl Sse {
    pub(crate) fn open(port: u16) -> Sse {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let request = format!(
            "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).unwrap();
        Sse {
            stream,
            raw: Vec::new(),
            head_done: false,
            text: String::new(),
        }
    }

    /// Moves complete chunks from `raw` to `text`.
    fn dechunk(&mut self) {
        if !self.head_done {
            let Some(end) = self.raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                return;
            };
            let head = String::from_utf8_lossy(&self.raw[..end]).into_owned();
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            self.raw.drain(..end + 4);
            self.head_done = true;
        }
        while let Some(line_end) = self.raw.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&self.raw[..line_end]).trim(), 16)
                    .unwrap_or(0);
            if self.raw.len() < line_end + 2 + size + 2 {
                return;
            }
            let chunk =
                String::from_utf8_lossy(&self.raw[line_end + 2..line_end + 2 + size]).into_owned();
            self.text.push_str(&chunk);
            self.raw.drain(..line_end + 2 + size + 2);
        }
    }

    /// How many events arrived and were not read yet (waiting 200 ms for stragglers).
    pub(crate) fn count_pending(&mut self) -> usize {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut chunk = [0u8; 16384];
        while let Ok(n) = self.stream.read(&mut chunk) {
            if n == 0 {
                break;
            }
            self.raw.extend_from_slice(&chunk[..n]);
        }
        self.dechunk();
        self.text.matches("\n\n").count()
    }

    /// The next event, or panics after `timeout`.
    pub(crate) fn next(&mut self, timeout: Duration) -> (String, Value) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        v.trim().clone_into(&mut name);
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !data.is_empty() {
                    return (name, serde_json::from_str(&data).expect("JSON data"));
                }
                continue;
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .expect("an event in time");
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 16384];
            let n = self.stream.read(&mut chunk).expect("an event in time");
            assert!(n > 0, "the stream closed");
            self.raw.extend_from_slice(&chunk[..n]);
            self.dechunk();
        }
    }
}

#[test]
fn the_dashboard_serves_its_page_and_api_and_a_second_one_says_where_the_first_is() {
    let world = World::new("http://127.0.0.1:9");
    let dashboard = Dashboard::start(&world, &["--bind", "127.0.0.1"]);
    let page = dashboard.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/assets/dashboard.js"));
    assert!(
        page.head
            .to_ascii_lowercase()
            .contains("content-security-policy: default-src 'none'")
    );
    assert_eq!(
        dashboard.get("/api/current-session").json()["status"],
        "INACTIVE"
    );
    assert_eq!(dashboard.get("/api/sessions").json()["total"], 0);

    // Hooks keep working: 204, empty body.
    let hook = json!({"session_id": "h1", "cwd": "/w", "hook_event_name": "Stop"});
    let r = dashboard.post("/api/hooks", &hook);
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());

    let port = dashboard.port.to_string();
    // One monitor per data dir: a second dashboard points to the first instead of starting.
    let second = world.run(&["dashboard", "--port", &free_port().to_string()], TIMEOUT);
    assert!(second.status.success(), "{}", describe(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!(
            "a monitor already runs for {} (pid {} at http://127.0.0.1:{port}/); its dashboard is at http://127.0.0.1:{port}/",
            world.db.display(),
            dashboard.pid()
        )),
        "{stderr}"
    );
    let out = dashboard.stop();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn an_address_off_loopback_needs_a_token_and_then_every_request_carries_it() {
    let world = World::new("http://127.0.0.1:9");
    let port = free_port().to_string();
    let out = world.run(
        &["dashboard", "--bind", "0.0.0.0", "--port", &port],
        TIMEOUT,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("without a token") && stderr.contains("--token"),
        "{stderr}"
    );
    let out = world.run(
        &[
            "dashboard",
            "--bind",
            "0.0.0.0",
            "--port",
            &port,
            "--token",
            "short",
        ],
        TIMEOUT,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16"));

    let token = "a-long-enough-token-1234";
    let dashboard = Dashboard::start_with(&world, &["--bind", "0.0.0.0"], Some(token));
    assert_eq!(dashboard.get("/api/sessions").status, 401);
    assert_eq!(dashboard.get("/").status, 401);
    let bearer = format!("Bearer {token}");
    let r = http(
        dashboard.port,
        "GET",
        "/api/sessions",
        &[("Authorization", &bearer)],
        None,
    );
    assert_eq!(r.status, 200);
    // This machine's hooks need it too (see token_e2e.rs).
    let hook = json!({"session_id": "h1", "cwd": "/w", "hook_event_name": "Stop"});
    assert_eq!(dashboard.post("/api/hooks", &hook).status, 401);
    let body = serde_json::to_vec(&hook).unwrap();
    let r = http(
        dashboard.port,
        "POST",
        "/api/hooks",
        &[("Authorization", &bearer)],
        Some(&body),
    );
    assert_eq!(r.status, 204);

    let port = dashboard.port.to_string();
    let second = world.run(&["dashboard", "--port", &port], TIMEOUT);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("its dashboard is at http://127.0.0.1:{port}/")),
        "{stderr}"
    );
}

#[test]
fn watch_and_dashboard_share_the_monitor_and_its_rules() {
    let world = World::new("http://127.0.0.1:9");
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let out = world.run(&["watch", "--listen", &listen], TIMEOUT);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without a token"));
    let watch = world.watch();
    let port: u16 = watch.addr.rsplit(':').next().unwrap().parse().unwrap();
    let r = http(port, "GET", "/", &[], None);
    assert_eq!(r.status, 200, "`cclive watch` serves the page too");
    // One monitor per data dir, wherever the second would listen: it says which one runs.
    let elsewhere = format!("127.0.0.1:{}", free_port());
    let second = world.run(&["watch", "--listen", &elsewhere], TIMEOUT);
    assert!(!second.status.success(), "{}", describe(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("a cclive monitor already runs for")
            && stderr.contains(&format!("at http://{}/", watch.addr)),
        "{}",
        describe(&second)
    );
}

#[test]
fn an_event_reaches_a_stream_subscriber_through_the_whole_monitor() {
    let world = World::new("http://127.0.0.1:9");
    let dashboard = Dashboard::start(&world, &[]);
    let mut sse = Sse::open(dashboard.port);
    let (first, state) = sse.next(TIMEOUT);
    assert_eq!(first, "snapshot");
    assert_eq!(state["status"], "INACTIVE");

    let now = || jiff::Timestamp::now().to_string();
    let started = json!({
        "session_id": "sse-1", "at": now(), "type": "session_started",
        "mode": "print", "source": "test", "command": "claude -p hi"
    });
    let sent = Instant::now();
    assert_eq!(dashboard.post("/api/events", &started).status, 202);
    let (name, update) = sse.next(TIMEOUT);
    let first_delay = sent.elapsed();
    assert_eq!(name, "update");
    assert_eq!(update["kind"], "started");
    assert_eq!(update["session"]["session_id"], "sse-1");
    assert_eq!(update["session"]["status"], "ACTIVE");

    let mut delays = vec![first_delay];
    for i in 1..=30 {
        let prompt = json!({
            "session_id": "sse-1", "at": now(), "type": "prompt_submitted", "id": format!("p{i}")
        });
        let sent = Instant::now();
        assert_eq!(dashboard.post("/api/events", &prompt).status, 202);
        loop {
            let (name, update) = sse.next(TIMEOUT);
            // The monitor's one-second tick may interleave a progress update.
            if name == "update" && update["session"]["num_turns"] == i {
                delays.push(sent.elapsed());
                break;
            }
        }
    }
    let ended = json!({"session_id": "sse-1", "at": now(), "type": "process_exited", "code": 0});
    assert_eq!(dashboard.post("/api/session/webhook", &ended).status, 202);
    loop {
        let (name, update) = sse.next(TIMEOUT);
        if name == "update" && update["kind"] == "ended" {
            assert_eq!(update["session"]["status"], "COMPLETED");
            break;
        }
    }
    delays.sort();
    eprintln!(
        "event → monitor → SSE client over {} changes: p50 {:?}, p90 {:?}, max {:?}",
        delays.len(),
        delays[delays.len() / 2],
        delays[delays.len() * 9 / 10],
        delays[delays.len() - 1]
    );
}

#[test]
fn open_starts_the_browser_with_xdg_open_and_never_waits_for_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let world = World::new("http://127.0.0.1:9");
    let bin = tempfile::tempdir().unwrap();
    let opened = bin.path().join("opened");
    let script = bin.path().join("xdg-open");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '%s' \"$1\" > \"$(dirname \"$0\")/opened.tmp\"\n\
         mv \"$(dirname \"$0\")/opened.tmp\" \"$(dirname \"$0\")/opened\"\nsleep 2\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dashboard = Dashboard::start_env(&world, &["--open"], &[("PATH", &path)]);
    let deadline = Instant::now() + TIMEOUT;
    while !opened.exists() {
        assert!(Instant::now() < deadline, "xdg-open was not run");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_to_string(&opened).unwrap(), dashboard.url());
    // The dashboard answered while the "browser" was still running.
    assert_eq!(dashboard.get("/healthz").status, 200);
}

#[test]
fn without_xdg_open_it_prints_where_the_page_is() {
    use std::io::BufRead as _;
    let world = World::new("http://127.0.0.1:9");
    let empty = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let mut child = world
        .cclive(&["dashboard", "--port", &port, "--open"])
        .env("PATH", empty.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let want = format!("cclive: open http://127.0.0.1:{port}/ in your browser");
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line == want => break,
            Ok(line) => seen.push(line),
            Err(
                std::sync::mpsc::RecvTimeoutError::Timeout
                | std::sync::mpsc::RecvTimeoutError::Disconnected,
            ) => {
                panic!("never printed {want:?}; printed {seen:#?}")
            }
        }
    }
    terminate(&child);
    let _ = child.wait();
}

/// The value of the `/metrics` sample `name{labels}` (labels as written, in order), 0 if absent.
fn metric(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().expect("a number"))
}

#[test]
fn metrics_counters_move_after_a_session_and_the_calendar_shows_it() {
    let world = World::new("http://127.0.0.1:9");
    let dashboard = Dashboard::start(&world, &[]);
    let before = dashboard.get("/metrics");
    assert_eq!(before.status, 200);
    let before = before.text();
    for line in before.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let kind = rest.split(' ').nth(1).expect("a type");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
        } else if !line.starts_with("# HELP ") {
            let value = line.rsplit(' ').next().expect("a value");
            assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{line}");
        }
    }
    assert!(before.contains("# TYPE cclive_ingest_lines_total counter"));
    assert_eq!(
        metric(&before, "cclive_active_sessions{status=\"ACTIVE\"}"),
        0.0
    );

    let now = || jiff::Timestamp::now().to_string();
    let events = json!([
        {"session_id": "m-1", "at": now(), "type": "session_started", "mode": "print",
         "source": "test", "command": "claude -p hi", "cwd": "/w/metrics"},
        {"session_id": "m-1", "at": now(), "type": "prompt_submitted", "id": "p1"},
        {"session_id": "m-1", "at": now(), "type": "prompt_submitted", "id": "p2"},
    ]);
    assert_eq!(dashboard.post("/api/events", &events).status, 202);
    let deadline = Instant::now() + TIMEOUT;
    let turns = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("cclive_turns_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum::<f64>()
    };
    loop {
        let text = dashboard.get("/metrics").text();
        if turns(&text) == 2.0 {
            assert_eq!(
                metric(&text, "cclive_active_sessions{status=\"ACTIVE\"}"),
                1.0
            );
            break;
        }
        assert!(Instant::now() < deadline, "turns did not move:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ics = dashboard.get("/calendar.ics");
    assert_eq!(ics.status, 200);
    assert!(ics.text().contains("UID:m-1@cclive\r\n"), "{}", ics.text());
}

/// Issue #16: the liveness probe's own look into `sessions/` was reported back by inotify as a
/// change there, which poked the probe again: an idle monitor woke itself ten times a second.
#[test]
fn an_idle_monitor_with_a_session_registry_does_not_wake_itself() {
    let world = World::new("http://127.0.0.1:9");
    std::fs::create_dir_all(world.claude.claude_dir().join("sessions")).unwrap();
    let dashboard = Dashboard::start(&world, &[]);
    let probes = || {
        metric(
            &dashboard.get("/metrics").text(),
            "cclive_liveness_probes_total",
        )
    };
    let deadline = Instant::now() + TIMEOUT;
    while probes() < 1.0 {
        assert!(Instant::now() < deadline, "the probe never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = probes();
    // A counting window, not synchronisation: nothing happens in it, so nothing should run
    // (the probe's idle interval is 30 s; the bug ran it ~20 times here).
    std::thread::sleep(Duration::from_secs(2));
    let runs = probes() - before;
    assert!(runs <= 1.0, "{runs} probe runs in 2 idle seconds");
}
