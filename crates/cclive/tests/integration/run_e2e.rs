//! `cclive run` end to end: the real Claude Code CLI (pinned), driven through cclive against the
//! fake Messages API, with a real SQLite history and the real state file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cclive::{World, describe, read_json};
use crate::support::fake_api::{FakeApi, RequestKind, Scenario, TEXT_ANSWER};

const TIMEOUT: Duration = Duration::from_secs(90);

fn stdout_lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn sum_model_usage(result: &Value, key: &str) -> u64 {
    result["modelUsage"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| m[key].as_u64().unwrap())
        .sum()
}

#[test]
fn print_session_ends_completed_with_claudes_own_totals() {
    let api = FakeApi::start(Scenario::BashThenText);
    let world = World::new(&api.url());
    let out = world.run(
        &[
            "run",
            "--session-type",
            "e2e",
            "--",
            "-p",
            "Please do the task.",
            "--output-format",
            "stream-json",
            "--verbose",
            "--allowedTools",
            "Bash",
            "Write",
        ],
        TIMEOUT,
    );
    assert!(out.status.success(), "{}", describe(&out));

    // The user asked for stream-json: they get claude's lines, the result last.
    let lines = stdout_lines(&out);
    let result = lines.last().cloned().expect("output");
    assert_eq!(result["type"], "result", "{}", describe(&out));
    assert!(
        lines.iter().all(|l| l["type"] != "stream_event"),
        "partial messages were not asked for"
    );

    let state = world.state();
    let s = &state["data"];
    assert_eq!(state["status"], "COMPLETED");
    assert_eq!(s["status"], "COMPLETED");
    assert_eq!(
        s["total_cost_usd"], result["total_cost_usd"],
        "exactly what Claude Code reported"
    );
    assert!(s["total_cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(s["cost_source"], "reported");
    assert_eq!(s["num_turns"], result["num_turns"]);
    assert!(s["num_turns"].as_u64().unwrap() >= 2);
    assert_eq!(s["duration_ms"], result["duration_ms"]);
    assert_eq!(s["duration_api_ms"], result["duration_api_ms"]);
    assert_eq!(
        s["tokens"]["input"].as_u64().unwrap(),
        sum_model_usage(&result, "inputTokens")
    );
    assert_eq!(
        s["tokens"]["output"].as_u64().unwrap(),
        sum_model_usage(&result, "outputTokens")
    );
    assert_eq!(
        s["tokens"]["cache_read"].as_u64().unwrap(),
        sum_model_usage(&result, "cacheReadInputTokens")
    );
    assert_eq!(
        s["tokens"]["cache_creation"].as_u64().unwrap(),
        sum_model_usage(&result, "cacheCreationInputTokens")
    );
    assert_eq!(s["tool_calls"]["Bash"], 1);
    assert_eq!(s["session_type"], "e2e");
    assert_eq!(
        s["session_id"], result["session_id"],
        "cclive chose the session id claude used"
    );
    assert_eq!(s["model"], "claude-opus-5-5");
    assert!(
        s["command"]
            .as_str()
            .unwrap()
            .starts_with("claude -p 'Please do the task.'")
    );
    assert_eq!(
        s["project_path"].as_str().unwrap(),
        world
            .claude
            .work_dir()
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
    );
    assert!(s["efficiency"]["cost_per_turn"].as_f64().unwrap() > 0.0);
    assert!(s["efficiency"]["cache_hit_ratio"].as_f64().unwrap() > 0.0);
    assert!(state["active_sessions"].as_array().unwrap().is_empty());

    let sessions = world.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["session_id"], s["session_id"]);
    assert_eq!(sessions[0]["status"], "COMPLETED");
    assert_eq!(sessions[0]["total_cost_usd"], result["total_cost_usd"]);
}

#[test]
fn text_output_is_the_answer_and_ask_is_the_short_form() {
    let api = FakeApi::start(Scenario::Text);
    let world = World::new(&api.url());
    let out = world.run(&["ask", "say hi"], TIMEOUT);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{TEXT_ANSWER}\n"),
        "{}",
        describe(&out)
    );
    let s = &world.state()["data"];
    assert_eq!(s["status"], "COMPLETED");
    assert_eq!(s["last_prompt"], "say hi");
    assert_eq!(api.main_requests().len(), 1);
}

#[test]
fn json_output_is_the_single_result_object() {
    let api = FakeApi::start(Scenario::Text);
    let world = World::new(&api.url());
    let out = world.run(
        &["run", "--", "-p", "hi", "--output-format", "json"],
        TIMEOUT,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    assert_eq!(v["type"], "result");
    assert_eq!(v["result"], TEXT_ANSWER);
    assert_eq!(world.state()["data"]["total_cost_usd"], v["total_cost_usd"]);
}

/// While the slow answer streams, the state file says ACTIVE; a reader polling it the whole
/// time never sees a half-written file; afterwards it says COMPLETED.
#[test]
fn state_file_is_live_and_always_whole_during_a_slow_session() {
    let api = FakeApi::start_slow(Duration::from_secs(4));
    let world = World::new(&api.url());
    let child = world
        .cclive(&[
            "run",
            "--",
            "-p",
            "Please do the task.",
            "--allowedTools",
            "Bash",
            "Write",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let poller = {
        let (done, reads, path) = (done.clone(), reads.clone(), world.state_file.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                // read_json panics on a half-written file, failing the test.
                if read_json(&path).is_some() {
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    // Wait until the slow text answer is being streamed (the second main request).
    assert!(api.wait_until(TIMEOUT, |reqs| {
        reqs.iter().filter(|r| r.kind == RequestKind::Main).count() >= 2
    }));
    // The answer streams for 4 s: the state file shows the first response and its tool call
    // well before it ends.
    let mid = world.wait_state(TIMEOUT, "the first response and its tool call", |s| {
        s["data"]["tool_calls"]["Bash"] == 1
            && s["data"]["total_cost_usd"]
                .as_f64()
                .is_some_and(|c| c > 0.0)
    });
    assert_eq!(mid["status"], "ACTIVE", "{mid:#}");
    assert_eq!(mid["data"]["status"], "ACTIVE");
    assert_eq!(mid["active_sessions"].as_array().unwrap().len(), 1);
    assert_eq!(
        mid["data"]["cost_source"], "estimated",
        "no result yet: the running cost is an estimate"
    );
    assert!(
        mid["data"]["total_cost_usd"].as_f64().unwrap() > 0.0,
        "{mid:#}"
    );
    assert!(mid["data"]["tokens"]["input"].as_u64().unwrap() > 0);
    assert_eq!(mid["data"]["tool_calls"]["Bash"], 1);
    let d1 = mid["data"]["duration_ms"].as_u64().unwrap();
    // The duration keeps moving while the session runs.
    let later = world.wait_state(TIMEOUT, "a longer duration", |s| {
        s["data"]["duration_ms"].as_u64().is_some_and(|d2| d2 > d1)
    });
    assert_eq!(later["data"]["status"], "ACTIVE", "{later:#}");

    let started = Instant::now();
    let out = crate::support::cclive::wait_with_timeout(child, TIMEOUT);
    done.store(true, Ordering::Relaxed);
    poller
        .join()
        .expect("the poller never saw a half-written state file");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        reads.load(Ordering::Relaxed) > 100,
        "the poller really polled"
    );
    let end = world.state();
    assert_eq!(end["status"], "COMPLETED");
    assert_eq!(end["data"]["cost_source"], "reported");
    eprintln!(
        "slow session finished {:?} after mid-stream checks",
        started.elapsed()
    );
}

fn assert_fails_with(scenario: Scenario, status: &str) {
    let api = FakeApi::start(scenario);
    let world = World::new(&api.url());
    let out = world.run(&["run", "--", "-p", "Please do the task."], TIMEOUT);
    assert_eq!(
        out.status.code(),
        Some(1),
        "claude's exit code is cclive's\n{}",
        describe(&out)
    );
    let s = &world.state()["data"];
    assert_eq!(s["status"], "FAILED");
    let error = s["error"].as_str().unwrap_or_default();
    assert!(error.contains(status), "error text kept: {error:?}");
    assert_eq!(s["exit_code"], 1);
    let sessions = world.sessions();
    assert_eq!(sessions[0]["status"], "FAILED");
    assert_eq!(sessions[0]["error"], s["error"]);
}

#[test]
fn http_500_ends_failed_with_the_error_text() {
    assert_fails_with(Scenario::Error500, "500");
}

#[test]
fn http_529_ends_failed_with_the_error_text() {
    assert_fails_with(Scenario::Overloaded529, "529");
}

#[test]
fn sigterm_reaches_claude_and_the_session_ends_interrupted() {
    let api = FakeApi::start_slow(Duration::from_secs(20));
    let world = World::new(&api.url());
    let child = world
        .cclive(&[
            "run",
            "--",
            "-p",
            "Please do the task.",
            "--allowedTools",
            "Bash",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(api.wait_until(TIMEOUT, |reqs| {
        reqs.iter().filter(|r| r.kind == RequestKind::Main).count() >= 2
    }));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = crate::support::cclive::wait_with_timeout(child, Duration::from_secs(30));
    assert!(!out.status.success(), "{}", describe(&out));
    let s = &world.state()["data"];
    assert_eq!(s["status"], "INTERRUPTED", "{}", describe(&out));
    assert_eq!(world.sessions()[0]["status"], "INTERRUPTED");
}

#[test]
fn sessions_lists_every_run_newest_first() {
    let api = FakeApi::start(Scenario::Text);
    let world = World::new(&api.url());
    for q in ["first", "second"] {
        let out = world.run(&["ask", q], TIMEOUT);
        assert!(out.status.success(), "{}", describe(&out));
    }
    let sessions = world.sessions();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["last_prompt"], "second");
    assert_eq!(sessions[1]["last_prompt"], "first");
    let table = world.run(&["sessions"], TIMEOUT);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("START"), "{text}");
    assert_eq!(text.matches("COMPLETED").count(), 2, "{text}");
}

#[test]
fn the_library_calls_back_on_every_status_change() {
    use cclive::{RunRequest, SessionMonitor, Status, UpdateKind};
    use std::sync::Mutex;

    let api = FakeApi::start(Scenario::BashThenText);
    let world = World::new(&api.url());
    // The library runs claude from this process: the world's environment goes in the request.
    let seen: Arc<Mutex<Vec<(UpdateKind, Status)>>> = Arc::default();
    let monitor = {
        let seen = seen.clone();
        SessionMonitor::builder()
            .claude_bin(crate::support::claude::claude_bin())
            .state_file(world.state_file.clone())
            .on_update(move |u| seen.lock().unwrap().push((u.kind, u.session.status)))
            .build()
    };
    let inherited = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| {
            k.starts_with("ANTHROPIC_") || k.starts_with("CLAUDE") || k.starts_with("OTEL_")
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt
        .block_on(monitor.run(RunRequest {
            cwd: Some(world.claude.work_dir().to_path_buf()),
            env_remove: inherited,
            env: world.claude.vars(),
            ..RunRequest::new(["-p", "Please do the task.", "--allowedTools", "Bash"])
        }))
        .expect("run");
    assert_eq!(outcome.exit_code, 0);
    assert_eq!(outcome.session.status, Status::Completed);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.first(), Some(&(UpdateKind::Started, Status::Active)));
    let ended: Vec<_> = seen
        .iter()
        .filter(|(k, _)| *k == UpdateKind::Ended)
        .collect();
    assert_eq!(
        ended,
        [&(UpdateKind::Ended, Status::Completed)],
        "one ending, with its status: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(k, s)| *k == UpdateKind::Progress && *s == Status::Active),
        "live progress"
    );
    assert_eq!(seen.last().map(|(_, s)| *s), Some(Status::Completed));
}

/// A long first reply: while it streams (no assistant line, no result yet), the live session
/// already has its opening usage (input and cache tokens, the model) and an estimated cost; the
/// result then replaces the estimate without counting the response twice.
#[test]
fn a_long_first_reply_shows_its_figures_from_the_first_token() {
    let api = FakeApi::start_slow_text(Duration::from_secs(6));
    let world = World::new(&api.url());
    // The dashboard's monitor, which the wrapper hands its events to (the live card).
    let dashboard = crate::dashboard_e2e::Dashboard::start(&world, &[]);
    let child = world
        .cclive(&["run", "--", "-p", "Please do the task."])
        .env("CCLIVE_LISTEN", format!("127.0.0.1:{}", dashboard.port))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(api.wait_until(TIMEOUT, |reqs| {
        reqs.iter().any(|r| r.kind == RequestKind::Main)
    }));
    // Polled until the opening usage is there, well before the stream ends.
    let mid = world.wait_state(
        Duration::from_secs(4),
        "the opening usage while it streams",
        |s| s["data"]["tokens"]["input"].as_u64().is_some_and(|t| t > 0),
    );
    let data = &mid["data"];
    assert_eq!(data["status"], "ACTIVE", "{mid:#}");
    assert_eq!(data["cost_source"], "estimated");
    assert!(
        data["model"]
            .as_str()
            .is_some_and(|m| m.starts_with("claude-")),
        "{mid:#}"
    );
    assert!(
        data["total_cost_usd"].as_f64().is_some_and(|c| c > 0.0),
        "{mid:#}"
    );
    assert!(
        data["tokens"]["cache_read"].as_u64().is_some_and(|t| t > 0),
        "{mid:#}"
    );
    assert_eq!(data["api_requests"], 1);
    // The live card: the monitor's current session, still streaming.
    let deadline = Instant::now() + Duration::from_secs(4);
    let card = loop {
        let card = dashboard.get("/api/current-session").json();
        let session = if card["data"].is_object() {
            &card["data"]
        } else {
            &card
        };
        if session["tokens"]["input"].as_u64().is_some_and(|t| t > 0) {
            break session.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the live card has no figures yet: {card:#}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(card["status"], "ACTIVE", "{card:#}");
    assert!(
        card["model"]
            .as_str()
            .is_some_and(|m| m.starts_with("claude-")),
        "{card:#}"
    );
    assert!(
        card["total_cost_usd"].as_f64().is_some_and(|c| c > 0.0),
        "{card:#}"
    );
    // Its output grows with every delta (12 chunks of text over the stream): an estimate on
    // top of the counted tokens, seen rising at least twice before the final count.
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut seen: Vec<u64> = Vec::new();
    while seen.len() < 2 {
        let card = dashboard.get("/api/current-session").json();
        let streaming = card["data"]["streaming_output_tokens"]
            .as_u64()
            .unwrap_or(0);
        if streaming > seen.last().copied().unwrap_or(0) {
            seen.push(streaming);
        }
        assert!(
            Instant::now() < deadline,
            "the live output did not grow with the deltas (seen {seen:?}): {card:#}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let out = crate::support::cclive::wait_with_timeout(child, TIMEOUT);
    assert!(out.status.success(), "{}", describe(&out));
    let end = world.state();
    assert_eq!(end["data"]["cost_source"], "reported");
    assert_eq!(
        end["data"]["api_requests"], 1,
        "one response, counted once: {end:#}"
    );
    assert!(
        end["data"].get("streaming_output_tokens").is_none(),
        "the final count replaced the estimate: {end:#}"
    );
    assert!(
        end["data"]["tokens"]["output"].as_u64() > data["tokens"]["output"].as_u64(),
        "{end:#}"
    );
}
