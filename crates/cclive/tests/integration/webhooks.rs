//! Outgoing webhooks end to end: a real `cclive watch` with `[[webhook]]` in its config file,
//! fed events through its `/api/events` intake, delivering to a receiver inside the test.
//!
//! What is pinned: the payload's shape and headers, the signature (recomputed here with the
//! secret), one retry after a 500 and no more, no retry storm, and a receiver that never answers
//! leaving the monitor's answers and its state file on time. `cclive webhooks test` is checked
//! against the same receiver.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::cclive::{World, describe, read_json, session_in};

const TIMEOUT: Duration = Duration::from_secs(30);
const SECRET: &str = "webhook-test-secret";

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Answer {
    Status(u16),
    /// Read the request, then never answer (until the test ends).
    Hang,
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) at: Instant,
    pub(crate) request_line: String,
    /// Lower-case names.
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: Vec<u8>,
}

impl Received {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// A webhook receiver on 127.0.0.1: one request per connection, answered as `script` says for
/// the n-th request (from 0).
pub(crate) struct Receiver {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub(crate) fn start(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/cclive", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script = Arc::new(script);
        {
            let (got, stop) = (got.clone(), stop.clone());
            listener.set_nonblocking(true).unwrap();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    let (got, stop, script) = (got.clone(), stop.clone(), script.clone());
                    std::thread::spawn(move || serve(stream, &got, &stop, &*script));
                }
            });
        }
        Receiver { url, got, stop }
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came; returns them all.
    pub(crate) fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {n} webhook requests, got {}: {:#?}",
                got.len(),
                got.iter().map(Received::json).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    mut stream: TcpStream,
    got: &Mutex<Vec<Received>>,
    stop: &AtomicBool,
    script: &(dyn Fn(usize) -> Answer + Send + Sync),
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let (head, body) = loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        raw.extend_from_slice(&buf[..n]);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.trim().parse().unwrap());
        if raw.len() >= end + 4 + length {
            break (head, raw[end + 4..end + 4 + length].to_vec());
        }
    };
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let n = {
        let mut got = got.lock().unwrap();
        got.push(Received {
            at: Instant::now(),
            request_line,
            headers,
            body,
        });
        got.len() - 1
    };
    match script(n) {
        Answer::Status(status) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {status} Whatever\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
        Answer::Hang => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Writes the world's config file (`$XDG_CONFIG_HOME/cclive/config.toml`).
pub(crate) fn write_config(world: &World, toml: &str) {
    let path = world.claude.home().join(".config/cclive/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, toml).unwrap();
}

/// One HTTP/1.1 exchange with the monitor; returns the status and the body.
pub(crate) fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// POSTs events (`(type, fields)`) for `session` to the monitor, stamped now.
pub(crate) fn send(addr: &str, session: &str, events: &[Value]) {
    let at = jiff::Timestamp::now().to_string();
    let list: Vec<Value> = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e["session_id"] = json!(session);
            e["at"] = json!(at);
            e
        })
        .collect();
    let (status, body) = http(
        addr,
        "POST",
        "/api/events",
        &serde_json::to_string(&list).unwrap(),
    );
    assert_eq!(status, 202, "{body}");
}

/// An interactive session's life: start, a prompt, a tool call, the reply done (IDLE), end.
pub(crate) fn interactive_session() -> Vec<Value> {
    vec![
        json!({"type": "session_started", "mode": "interactive", "source": "hook", "cwd": "/work/app"}),
        json!({"type": "prompt_submitted", "id": "p1", "preview": "fix the test"}),
        json!({"type": "tool_use", "tool_use_id": "toolu_1", "name": "Bash"}),
        json!({"type": "tool_result", "tool_use_id": "toolu_1", "is_error": false}),
        json!({"type": "turn_ended"}),
        json!({"type": "session_ended", "reason": "prompt_input_exit"}),
    ]
}

fn signature(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[test]
fn deliveries_are_signed_json_posts_of_the_event_and_the_session() {
    let receiver = Receiver::start(|_| Answer::Status(200));
    let world = World::new("http://127.0.0.1:9");
    write_config(
        &world,
        &format!(
            "[[webhook]]\nname = \"recv\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
            receiver.url
        ),
    );
    let watch = world.watch();
    send(&watch.addr, "sess-1", &interactive_session());

    let got = receiver.wait_for(5, TIMEOUT);
    std::thread::sleep(Duration::from_millis(300));
    let got_now = receiver.requests();
    assert_eq!(got_now.len(), 5, "no extra deliveries: {got_now:#?}");
    let events: Vec<String> = got
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "session_started",
            "turn_finished",
            "status_changed",
            "turn_finished",
            "session_ended"
        ],
        "in order, progress left out by default"
    );
    for r in &got {
        assert_eq!(r.request_line, "POST /hooks/cclive HTTP/1.1");
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(r.header("x-cclive-signature"), signature(&r.body));
        let body = r.json();
        assert_eq!(r.header("x-cclive-event"), body["event"]);
        assert_eq!(r.header("x-cclive-delivery"), body["id"]);
        assert_eq!(r.header("x-cclive-attempt"), "1");
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "event", "at", "previous_status", "session"]);
        assert_eq!(body["session"]["session_id"], "sess-1");
        assert_eq!(body["session"]["cwd"], "/work/app");
        let at: jiff::Timestamp = body["at"].as_str().unwrap().parse().unwrap();
        assert!(at <= jiff::Timestamp::now());
    }
    let status_changed = got[2].json();
    assert_eq!(status_changed["previous_status"], "ACTIVE");
    assert_eq!(status_changed["session"]["status"], "IDLE");
    let ended = got[4].json();
    assert_eq!(ended["previous_status"], "IDLE");
    assert_eq!(ended["session"]["status"], "COMPLETED");
    assert_eq!(ended["session"]["num_turns"], 2);
    assert_eq!(ended["session"]["tool_calls"]["Bash"], 1);
    assert!(got[0].json()["previous_status"].is_null());
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn a_500_is_retried_once_with_the_same_delivery_and_then_nothing_more() {
    let receiver = Receiver::start(|n| Answer::Status(if n == 0 { 500 } else { 200 }));
    let world = World::new("http://127.0.0.1:9");
    write_config(
        &world,
        &format!(
            "[[webhook]]\nurl = \"{}\"\nevents = [\"session_ended\"]\n",
            receiver.url
        ),
    );
    let watch = world.watch();
    send(&watch.addr, "sess-retry", &interactive_session());
    let got = receiver.wait_for(2, TIMEOUT);
    // Backoff is at least 0.25 s; give a storm the time to show, then count.
    std::thread::sleep(Duration::from_secs(2));
    let got_after = receiver.requests();
    assert_eq!(got_after.len(), 2, "exactly one retry: {got_after:#?}");
    assert_eq!(got[0].body, got[1].body, "the same payload");
    assert_eq!(
        got[0].header("x-cclive-delivery"),
        got[1].header("x-cclive-delivery")
    );
    assert_eq!(
        (
            got[0].header("x-cclive-attempt"),
            got[1].header("x-cclive-attempt")
        ),
        ("1", "2")
    );
    assert!(
        got[0].header("x-cclive-signature").is_empty(),
        "no secret, no signature"
    );
    let gap = got[1].at.duration_since(got[0].at);
    assert!(
        gap >= Duration::from_millis(200),
        "retried after a backoff, not at once: {gap:?}"
    );
    assert_eq!(got[1].json()["event"], "session_ended");
}

#[test]
fn a_receiver_that_never_answers_does_not_slow_the_monitor() {
    let receiver = Receiver::start(|_| Answer::Hang);
    let world = World::new("http://127.0.0.1:9");
    write_config(
        &world,
        &format!(
            "[[webhook]]\nurl = \"{}\"\nevents = [\"*\"]\ntimeout_secs = 20\nqueue_size = 10\n",
            receiver.url
        ),
    );
    let watch = world.watch();
    let started = Instant::now();
    for i in 0..20 {
        send(&watch.addr, &format!("sess-{i}"), &interactive_session());
        let asked = Instant::now();
        let (status, body) = http(&watch.addr, "GET", "/api/current-session", "");
        assert_eq!(status, 200, "{body}");
        // A monitor waiting on the receiver would take the 20 s timeout here.
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "{:?}",
            asked.elapsed()
        );
    }
    receiver.wait_for(1, TIMEOUT);
    // Every session ended, and the state file says so, while the first delivery still hangs.
    let state = world.wait_state(Duration::from_secs(10), "the last session ended", |s| {
        s["data"]["session_id"] == "sess-19" && s["data"]["status"] == "COMPLETED"
    });
    assert!(session_in(&state, "sess-19").is_some());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "everything above happened within the first request's timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(
        receiver.requests().len(),
        1,
        "one request at a time to a receiver that hangs"
    );
    // Shutdown does not wait for the hung request past its grace.
    let stopping = Instant::now();
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stopping.elapsed() < Duration::from_secs(15),
        "{:?}",
        stopping.elapsed()
    );
}

#[test]
fn webhooks_test_sends_a_signed_sample_and_reports_failures() {
    let ok = Receiver::start(|_| Answer::Status(204));
    let failing = Receiver::start(|_| Answer::Status(500));
    let world = World::new("http://127.0.0.1:9");
    write_config(
        &world,
        &format!(
            "[[webhook]]\nname = \"good\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n\n\
             [[webhook]]\nname = \"bad\"\nurl = \"{}\"\n",
            ok.url, failing.url
        ),
    );
    let out = world.run(&["webhooks", "test", "--name", "good"], TIMEOUT);
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ok    good (http://127.0.0.1:"), "{stdout}");
    assert!(
        !stdout.contains("/hooks/cclive"),
        "the URL's path is not shown: {stdout}"
    );
    let got = ok.wait_for(1, TIMEOUT);
    let body = got[0].json();
    assert_eq!(body["test"], true);
    assert_eq!(body["event"], "status_changed");
    assert_eq!(got[0].header("x-cclive-signature"), signature(&got[0].body));

    let out = world.run(&["webhooks", "test"], TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL  bad"), "{stdout}");
    assert!(stdout.contains("HTTP 500"), "{stdout}");
    assert_eq!(failing.requests().len(), 1, "a test is one attempt");

    let out = world.run(&["webhooks", "list"], TIMEOUT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("signed=yes"), "{stdout}");
    assert!(!stdout.contains(SECRET), "{stdout}");
    assert!(
        read_json(&world.state_file).is_none(),
        "a test touches no session"
    );
}

/// Waits until `/api/integrations` satisfies `done`; returns its answer.
pub(crate) fn wait_integrations(addr: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (status, body) = http(addr, "GET", "/api/integrations", "");
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "/api/integrations never got there: {answer:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_integrations_api_shows_a_failed_delivery_then_a_delivered_one_without_secrets() {
    // The receiver fails the first delivery's two attempts, then takes everything.
    let receiver = Receiver::start(|n| Answer::Status(if n < 2 { 503 } else { 200 }));
    let world = World::new("http://127.0.0.1:9");
    // A token in the query and a secret: neither may show.
    let url = format!("{}?token=query-secret-123", receiver.url);
    write_config(
        &world,
        &format!(
            "[[webhook]]\nname = \"recv\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n\
             events = [\"session_started\", \"session_ended\"]\nmax_attempts = 2\n\n\
             [[on_change]]\nname = \"log\"\ncommand = \"cat > /dev/null; echo token-in-args\"\n\
             events = [\"session_ended\"]\n"
        ),
    );
    let watch = world.watch();
    let (status, body) = http(&watch.addr, "GET", "/api/integrations", "");
    assert_eq!(status, 200, "{body}");
    let before: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(before["sinks"][0]["delivered"], 0);
    assert_eq!(before["sinks"][0]["recent"], json!([]));

    send(&watch.addr, "sess-int", &interactive_session());
    let answer = wait_integrations(&watch.addr, |a| {
        a["sinks"][0]["delivered"] == 1
            && a["sinks"][0]["failed"] == 1
            && a["sinks"][1]["delivered"] == 1
    });
    assert_eq!(receiver.requests().len(), 3, "two attempts, then one");
    let text = answer.to_string();
    for secret in [SECRET, "query-secret-123", "/hooks/cclive", "token-in-args"] {
        assert!(!text.contains(secret), "{secret} shows: {answer:#}");
    }
    let webhook = &answer["sinks"][0];
    assert_eq!(webhook["kind"], "webhook");
    assert_eq!(webhook["name"], "recv");
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    assert_eq!(webhook["target"], format!("http://127.0.0.1:{port}/…"));
    assert_eq!(webhook["dropped"], 0);
    assert_eq!(webhook["retries"], 1);
    assert_eq!(webhook["last_error"], "HTTP 503");
    assert_eq!(
        webhook["events"],
        json!(["session_started", "session_ended"])
    );
    let recent = webhook["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 2);
    // Newest first: the session's end went through; its start had failed.
    let (ended, started) = (&recent[0], &recent[1]);
    assert_eq!(ended["event"], "session_ended");
    assert_eq!(ended["outcome"], "delivered");
    assert_eq!(ended["http_status"], 200);
    assert_eq!(ended["attempts"], 1);
    assert_eq!(ended["session_id"], "sess-int");
    assert!(ended.get("error").is_none());
    assert_eq!(started["event"], "session_started");
    assert_eq!(started["outcome"], "failed");
    assert_eq!(started["http_status"], 503);
    assert_eq!(started["attempts"], 2);
    assert_eq!(started["error"], "HTTP 503");
    assert!(
        started["duration_ms"].as_u64().unwrap() >= 200,
        "the latency includes the backoff: {started}"
    );
    assert_eq!(
        ended["id"],
        receiver.requests()[2].header("x-cclive-delivery"),
        "the id the receiver got"
    );
    let at: jiff::Timestamp = ended["at"].as_str().unwrap().parse().unwrap();
    assert!(at <= jiff::Timestamp::now());

    let command = &answer["sinks"][1];
    assert_eq!(command["kind"], "on_change");
    assert_eq!(command["target"], "cat …", "the program only");
    assert_eq!(command["recent"][0]["exit_code"], 0);
    assert_eq!(command["recent"][0]["outcome"], "delivered");
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn a_new_five_hour_block_reaches_a_webhook_that_asked_for_blocks() {
    let receiver = Receiver::start(|_| Answer::Status(200));
    let world = World::new("http://127.0.0.1:9");
    write_config(
        &world,
        &format!(
            "[[webhook]]\nname = \"blocks\"\nurl = \"{}\"\nevents = [\"block\"]\n",
            receiver.url
        ),
    );
    let watch = world.watch();
    let tokens = json!({"input": 1000, "output": 200, "cache_read": 0, "cache_creation": 0});
    send(
        &watch.addr,
        "sess-block",
        &[
            json!({"type": "session_started", "mode": "print", "source": "test"}),
            json!({"type": "usage", "key": "msg_block_1", "model": "claude-sonnet-4-5", "tokens": tokens}),
        ],
    );
    let got = receiver.wait_for(1, TIMEOUT);
    let body = got[0].json();
    assert_eq!(body["event"], "block_started", "{body:#}");
    assert_eq!(got[0].header("x-cclive-event"), "block_started");
    assert!(body.get("session").is_none(), "{body:#}");
    let block = &body["block"];
    assert_eq!(block["change"], "started");
    assert_eq!(block["total_tokens"], 1200);
    assert_eq!(block["messages"], 1);
    assert_eq!(block["models"], json!(["claude-sonnet-4-5"]));
    let start: jiff::Timestamp = block["start"].as_str().unwrap().parse().unwrap();
    let end: jiff::Timestamp = block["end"].as_str().unwrap().parse().unwrap();
    let now = jiff::Timestamp::now();
    assert!(start <= now && now < end, "{block}");
    assert_eq!(start.as_second() % 3600, 0, "a block starts on the hour");
    assert_eq!(end.as_second() - start.as_second(), 5 * 3600);

    // More usage in the same block, and the session's end: nothing more for this webhook.
    send(
        &watch.addr,
        "sess-block",
        &[
            json!({"type": "usage", "key": "msg_block_2", "model": "claude-sonnet-4-5", "tokens": tokens}),
            json!({"type": "session_ended", "reason": "done"}),
        ],
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(receiver.requests().len(), 1, "the block started once");
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
}
