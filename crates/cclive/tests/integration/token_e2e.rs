//! A monitor with a token wants it on every route, loopback included (behind a reverse proxy on
//! the same host every request is a loopback one), and this machine's senders carry it: the
//! real Claude Code after `cclive hooks install --telemetry` (http hooks, `cclive hook`, OTLP)
//! and `cclive run`.

use std::time::Duration;

use serde_json::{Value, json};

use super::dashboard_e2e::{Dashboard, Reply, http};
use super::otel_e2e::wait_session_by;
use crate::support::cclive::{World, describe};
use crate::support::fake_api::{FakeApi, Scenario};

const TIMEOUT: Duration = Duration::from_mins(1);
const TOKEN: &str = "loopback-token-0123456789";

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// `method path` on loopback, with the token or without.
fn call(
    dashboard: &Dashboard,
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: bool,
) -> Reply {
    let auth = bearer();
    let mut headers = vec![("Content-Type", "application/json")];
    if token {
        headers.push(("Authorization", auth.as_str()));
    }
    let body = body.map(|b| serde_json::to_vec(b).unwrap());
    http(dashboard.port, method, path, &headers, body.as_deref())
}

#[test]
fn with_a_token_every_intake_route_refuses_loopback_requests_without_it() {
    let world = World::new("http://127.0.0.1:9");
    let dashboard = Dashboard::start_with(&world, &[], Some(TOKEN));
    let now = jiff::Timestamp::now().to_string();
    let event = json!({"session_id": "tok-1", "at": now, "type": "session_started",
        "mode": "print", "source": "test"});
    let hook = json!({"session_id": "tok-2", "cwd": "/w", "hook_event_name": "Stop"});
    let otlp_logs = json!({"resourceLogs": []});
    let otlp_metrics = json!({"resourceMetrics": []});
    for (path, body) in [
        ("/api/hooks", &hook),
        ("/api/events", &event),
        ("/api/session/webhook", &event),
        ("/v1/logs", &otlp_logs),
        ("/v1/metrics", &otlp_metrics),
    ] {
        let refused = call(&dashboard, "POST", path, Some(body), false);
        assert_eq!(refused.status, 401, "POST {path} without the token");
        let taken = call(&dashboard, "POST", path, Some(body), true);
        assert!(
            (200..300).contains(&taken.status),
            "POST {path} with the token: {} {}",
            taken.status,
            taken.text()
        );
    }
    for path in ["/", "/healthz", "/api/sessions", "/api/stream", "/metrics"] {
        assert_eq!(
            call(&dashboard, "GET", path, None, false).status,
            401,
            "GET {path}"
        );
    }
    assert_eq!(
        call(&dashboard, "GET", "/api/sessions", None, true).status,
        200
    );
}

/// What Claude Code said went wrong with its hooks (a refused http hook is a non-blocking
/// error, reported per event).
fn hook_complaints(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| {
            l["tag"] == "hook_no_verdict"
                || l["key"] == "stop-hook-error"
                || (l["subtype"] == "hook_response" && l["outcome"] != "success")
                || l.to_string().contains("hook_non_blocking_error")
        })
        .cloned()
        .collect()
}

#[test]
fn after_hooks_install_the_real_claude_delivers_hooks_and_telemetry_to_a_monitor_with_a_token() {
    let api = FakeApi::start(Scenario::BashThenText);
    let world = World::new(&api.url());
    let dashboard = Dashboard::start_with(&world, &[], Some(TOKEN));
    let listen = format!("127.0.0.1:{}", dashboard.port);
    let config_dir = world.claude.claude_dir();
    let config_dir = config_dir.to_str().unwrap();
    let install = |token: Option<&str>| {
        let mut cmd = world.cclive(&[
            "hooks",
            "install",
            "--telemetry",
            "--listen",
            &listen,
            "--config-dir",
            config_dir,
        ]);
        cmd.env_remove("CCLIVE_TOKEN");
        if let Some(token) = token {
            cmd.env("CCLIVE_TOKEN", token);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        out
    };

    // Installed without the token, the hooks are refused: Claude Code says so.
    let out = install(None);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wants its token"),
        "{}",
        describe(&out)
    );
    let run = world.claude.run_print("Please run the command.", TIMEOUT);
    assert!(run.status.success(), "{}", run.diagnostics());
    assert!(
        !hook_complaints(&run.json_lines()).is_empty(),
        "a refused hook is reported: {}",
        run.diagnostics()
    );

    // Installed with it, everything arrives.
    let out = install(Some(TOKEN));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("the monitor's token is written")
            && said.contains("CCLIVE_TOKEN, OTEL_EXPORTER_OTLP_HEADERS"),
        "{said}"
    );
    let settings_path = world.claude.claude_dir().join("settings.json");
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings_path).unwrap()).unwrap();
    assert_eq!(settings["env"]["CCLIVE_TOKEN"], TOKEN);
    assert_eq!(
        settings["env"]["OTEL_EXPORTER_OTLP_HEADERS"],
        format!("Authorization=Bearer {TOKEN}")
    );
    let stop = settings["hooks"]["Stop"].as_array().unwrap();
    assert_eq!(stop.len(), 1, "replaced, not added: {stop:?}");
    assert_eq!(
        stop[0]["hooks"][0]["headers"]["Authorization"],
        "Bearer $CCLIVE_TOKEN"
    );
    let mode = {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(&settings_path)
            .unwrap()
            .permissions()
            .mode()
    };
    assert_eq!(mode & 0o077, 0, "a file holding a secret: {mode:o}");

    let run = world.claude.run_print("Please run the command.", TIMEOUT);
    assert!(run.status.success(), "{}", run.diagnostics());
    let complaints = hook_complaints(&run.json_lines());
    assert!(
        complaints.is_empty(),
        "{complaints:?}\n{}",
        run.diagnostics()
    );
    let id = run.result().unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Telemetry alone names the user; the SessionEnd hook alone gives the end's reason.
    let get = |path: &str| call(&dashboard, "GET", path, None, true);
    let s = wait_session_by(get, &id, "telemetry and the end", |s| {
        s["user"].is_string() && s["status"] == "COMPLETED"
    });
    assert_eq!(s["tool_calls"]["Bash"], 1, "{s:#}");
    let metrics = call(&dashboard, "GET", "/metrics", None, true).text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("cclive_otlp_exports_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    // The status may come from the live monitor before the writer stored the last events:
    // poll the stored events until both hooks' events are there, or the deadline says why not.
    let hooked = |events: &[Value]| {
        events
            .iter()
            .any(|e| e["type"] == "session_started" && e["source"] == "hook")
            && events
                .iter()
                .any(|e| e["type"] == "tool_result" && e["duration_ms"].is_u64())
    };
    let deadline = std::time::Instant::now() + TIMEOUT;
    let events = loop {
        let reply = call(
            &dashboard,
            "GET",
            &format!("/api/sessions/{id}/events"),
            None,
            true,
        );
        assert_eq!(reply.status, 200);
        let events = reply.json().as_array().cloned().unwrap_or_default();
        if hooked(&events) || std::time::Instant::now() > deadline {
            break events;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "session_started" && e["source"] == "hook"),
        "SessionStart through `cclive hook`: {events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "tool_result" && e["duration_ms"].is_u64()),
        "PostToolUse through an http hook (the transcript has no duration): {events:#?}"
    );
}
