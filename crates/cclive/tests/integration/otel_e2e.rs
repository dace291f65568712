//! Claude Code's own telemetry, end to end: the real pinned CLI exports OTLP/HTTP (JSON and
//! protobuf) to a running `cclive dashboard` while the dashboard also follows its transcript.
//! The session shows Claude Code's cost and each API response counts once, in the live state
//! and in the stored history. A claude whose files the dashboard cannot see (another machine,
//! as far as cclive can tell) appears through telemetry alone, with its user and host.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::dashboard_e2e::{Dashboard, Reply};
use crate::support::cclive::{World, describe, wait_with_timeout};
use crate::support::claude::ClaudeEnv;
use crate::support::fake_api::{FakeApi, RequestKind, Scenario};

const TIMEOUT: Duration = Duration::from_mins(1);

/// Runs `claude -p` (a Bash call, then text) in `env` with telemetry sent to `port` in
/// `protocol`; returns its `result` line.
fn run_with_telemetry(env: &ClaudeEnv, port: u16, protocol: &str, extra: &[(&str, &str)]) -> Value {
    let mut cmd = env.command([
        "-p",
        "Please do the task.",
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "Bash",
        "Write",
    ]);
    cmd.env("CLAUDE_CODE_ENABLE_TELEMETRY", "1")
        .env("OTEL_METRICS_EXPORTER", "otlp")
        .env("OTEL_LOGS_EXPORTER", "otlp")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        .env("OTEL_LOGS_EXPORT_INTERVAL", "1000")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = wait_with_timeout(cmd.spawn().expect("spawn claude"), TIMEOUT);
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "result")
        .unwrap_or_else(|| panic!("no result line: {}", describe(&out)))
}

/// Polls `/api/sessions/{id}` until `pred` holds.
fn wait_session(
    dashboard: &Dashboard,
    id: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    wait_session_by(|path| dashboard.get(path), id, what, pred)
}

/// Polls `/api/sessions/{id}`, fetched with `get`, until `pred` holds.
pub(crate) fn wait_session_by(
    get: impl Fn(&str) -> Reply,
    id: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let reply = get(&format!("/api/sessions/{id}"));
        if reply.status == 200 {
            let v = reply.json();
            let s = if v.get("session").is_some() {
                v["session"].clone()
            } else {
                v
            };
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {s:#}"
            );
        } else {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: HTTP {}",
                reply.status
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn main_requests(api: &FakeApi) -> u64 {
    api.requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Main)
        .count() as u64
}

fn close(a: &Value, b: &Value) -> bool {
    (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-9
}

#[test]
fn telemetry_and_the_transcript_of_one_session_count_each_response_once() {
    for protocol in ["http/json", "http/protobuf"] {
        let api = FakeApi::start(Scenario::BashThenText);
        let world = World::new(&api.url());
        let dashboard = Dashboard::start(&world, &[]);
        let result = run_with_telemetry(&world.claude, dashboard.port, protocol, &[]);
        let id = result["session_id"].as_str().unwrap();
        let responses = main_requests(&api);
        assert_eq!(responses, 2, "a Bash call, then the answer");

        // Telemetry is the only source that names the user: its arrival is visible.
        let s = wait_session(&dashboard, id, "telemetry and the end", |s| {
            s["user"].is_string() && s["status"] == "COMPLETED"
        });
        assert_ne!(
            s["source"], "otel",
            "{protocol}: telemetry does not take over a session seen locally"
        );
        assert!(s.get("host").is_none(), "{protocol}: this machine");
        assert_eq!(s["cost_source"], "reported", "{protocol}");
        assert!(
            close(&s["total_cost_usd"], &result["total_cost_usd"]),
            "{protocol}: {} vs Claude Code's {}",
            s["total_cost_usd"],
            result["total_cost_usd"]
        );
        assert_eq!(
            s["api_requests"], responses,
            "{protocol}: each response once"
        );
        assert_eq!(s["tool_calls"]["Bash"], 1, "{protocol}");
        assert_eq!(s["num_turns"], result["num_turns"], "{protocol}");

        // The stored per-response usage, which reports add up, holds each response once too.
        let metrics = dashboard.get("/metrics");
        let text = String::from_utf8_lossy(&metrics.body).into_owned();
        let exports = text
            .lines()
            .find_map(|l| l.strip_prefix("cclive_otlp_exports_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no OTLP export counter in:\n{text}"));
        assert!(exports >= 1.0, "{protocol}: {exports}");
        drop(dashboard);
        let out = world.run(&["report", "sessions", "--json"], TIMEOUT);
        assert!(out.status.success(), "{}", describe(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let row = report["rows"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["session_id"] == id))
            .unwrap_or_else(|| panic!("{protocol}: session not in the report: {report:#}"));
        assert_eq!(
            row["messages"], responses,
            "{protocol}: the stored usage holds each response once: {row:#}"
        );
        assert_eq!(row["output"], s["tokens"]["output"], "{protocol}: {row:#}");
    }
}

#[test]
fn a_session_this_machine_cannot_see_appears_through_telemetry_with_its_user_and_host() {
    let api = FakeApi::start(Scenario::BashThenText);
    // The dashboard follows `world`'s Claude Code files; claude runs with another HOME, as on
    // another machine, and only its telemetry reaches the dashboard.
    let world = World::new(&api.url());
    let elsewhere = ClaudeEnv::new(&api.url());
    let dashboard = Dashboard::start(&world, &[]);
    let result = run_with_telemetry(
        &elsewhere,
        dashboard.port,
        "http/protobuf",
        &[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "host.name=build-box,user.email=dev@example.com",
        )],
    );
    let id = result["session_id"].as_str().unwrap();
    let s = wait_session(&dashboard, id, "the remote session with its cost", |s| {
        s["api_requests"] == 2 && s["host"].is_string()
    });
    assert_eq!(s["source"], "otel");
    assert_eq!(s["mode"], "print", "from its requests' query source");
    assert_eq!(s["host"], "build-box");
    assert_eq!(s["user"], "dev@example.com");
    assert_eq!(s["claude_version"], "2.1.332");
    assert_eq!(s["cost_source"], "reported");
    assert!(
        close(&s["total_cost_usd"], &result["total_cost_usd"]),
        "{} vs Claude Code's {}",
        s["total_cost_usd"],
        result["total_cost_usd"]
    );
    assert_eq!(s["tool_calls"]["Bash"], 1);
    assert_eq!(
        s["tokens"]["output"], result["usage"]["output_tokens"],
        "tokens as Claude Code reported them: {s:#}"
    );
}

#[test]
fn hooks_install_telemetry_sends_claude_codes_own_telemetry_to_the_dashboard() {
    let api = FakeApi::start(Scenario::BashThenText);
    let world = World::new(&api.url());
    let dashboard = Dashboard::start(&world, &[]);
    let listen = format!("127.0.0.1:{}", dashboard.port);
    let claude_dir = world.claude.claude_dir();
    let dir = claude_dir.to_str().unwrap();
    let out = world.run(
        &[
            "hooks",
            "install",
            "--telemetry",
            "--listen",
            &listen,
            "--config-dir",
            dir,
        ],
        TIMEOUT,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("telemetry goes to cclive"), "{said}");
    let settings: Value =
        serde_json::from_slice(&std::fs::read(claude_dir.join("settings.json")).unwrap()).unwrap();
    assert_eq!(
        settings["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"],
        format!("http://{listen}")
    );

    // A plain run, with no telemetry variables of its own: settings.json turns the export on.
    let run = world.claude.run_print("Please do the task.", TIMEOUT);
    assert!(run.status.success(), "{}", run.diagnostics());
    let result = run.result().unwrap();
    let id = result["session_id"].as_str().unwrap();
    let s = wait_session(&dashboard, id, "telemetry from settings.json", |s| {
        s["user"].is_string() && s["cost_source"] == "reported"
    });
    assert!(close(&s["total_cost_usd"], &result["total_cost_usd"]));
    assert_eq!(s["api_requests"], 2);

    let out = world.run(
        &["hooks", "status", "--listen", &listen, "--config-dir", dir],
        TIMEOUT,
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("telemetry: cclive's"),
        "{}",
        describe(&out)
    );
    let out = world.run(
        &[
            "hooks",
            "uninstall",
            "--listen",
            &listen,
            "--config-dir",
            dir,
        ],
        TIMEOUT,
    );
    assert!(out.status.success(), "{}", describe(&out));
    let settings: Value =
        serde_json::from_slice(&std::fs::read(claude_dir.join("settings.json")).unwrap()).unwrap();
    assert!(settings.get("env").is_none(), "{settings:#}");
}
