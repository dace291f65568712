//! What cclive does when claude misbehaves: garbage output, a crash, death by a signal, or no
//! claude at all. A stand-in script plays claude here, because the real CLI cannot be made to
//! crash on demand; everything else (the cclive binary, SQLite, the state file) is real.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::support::cclive::{World, describe};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Writes an executable `claude` stand-in running `body` under sh.
fn stub(world: &World, body: &str) -> PathBuf {
    let path = world.claude.home().join("stub-claude");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn run_stub(world: &World, stub: &PathBuf, args: &[&str]) -> std::process::Output {
    let mut all = vec!["run", "--"];
    all.extend_from_slice(args);
    let mut cmd = world.cclive(&all);
    cmd.env("CLAUDE_BIN", stub)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    crate::support::cclive::wait_with_timeout(cmd.spawn().unwrap(), TIMEOUT)
}

#[test]
fn garbage_and_a_crash_are_recorded_not_fatal() {
    let world = World::new("http://127.0.0.1:9");
    let claude = stub(
        &world,
        r#"
echo '{"type":"system","subtype":"init","session_id":"x","model":"claude-sonnet-4-5"}'
echo 'this is not json'
echo '{"type":"brand_new_line_type","payload":{"a":1}}'
echo '{"type":"assistant","message":{"id":"msg_1","model":"claude-sonnet-4-5","usage":{"input_tokens":1000,"output_tokens":10},"content":[]}}'
printf '{"type":"assistant","message":{"id":"msg_2"'
exit 3"#,
    );
    let out = run_stub(&world, &claude, &["-p", "hi"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "claude's exit code is passed on\n{}",
        describe(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        describe(&out)
    );
    let s = &world.state()["data"];
    assert_eq!(s["status"], "FAILED");
    assert_eq!(s["exit_code"], 3);
    assert_eq!(s["error"], "claude exited with code 3 without a result");
    assert_eq!(
        s["input_errors"], 2,
        "the garbage line and the cut-off last line"
    );
    assert_eq!(s["unknown_records"], 1);
    assert_eq!(s["tokens"]["input"], 1000, "what was readable still counts");
    assert_eq!(s["cost_source"], "estimated");
    assert_eq!(world.sessions()[0]["status"], "FAILED");
}

#[test]
fn a_claude_killed_by_a_signal_is_interrupted() {
    let world = World::new("http://127.0.0.1:9");
    let claude = stub(&world, "kill -9 $$");
    let out = run_stub(&world, &claude, &["-p", "hi"]);
    assert_eq!(out.status.code(), Some(128 + 9), "{}", describe(&out));
    assert_eq!(world.state()["data"]["status"], "INTERRUPTED");
}

#[test]
fn interactive_mode_records_start_end_and_the_session_id() {
    let world = World::new("http://127.0.0.1:9");
    let args_file = world.claude.home().join("args.txt");
    let claude = stub(
        &world,
        &format!(
            "printf '%s\\n' \"$@\" > '{}'; sleep 0.3; exit 0",
            args_file.display()
        ),
    );
    let out = run_stub(&world, &claude, &["--model", "sonnet"]);
    assert!(out.status.success(), "{}", describe(&out));
    let args = std::fs::read_to_string(&args_file).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        &args[..3],
        &["--model", "sonnet", "--session-id"],
        "user args untouched, a session id added"
    );
    let s = &world.state()["data"];
    assert_eq!(s["session_id"], args[3]);
    assert_eq!(s["mode"], "interactive");
    assert_eq!(s["status"], "COMPLETED");
    assert!(s["duration_ms"].as_u64().unwrap() >= 300);
    assert!(s["ended_at"].is_string());
}

#[test]
fn missing_claude_is_one_clear_line_and_exit_127() {
    let world = World::new("http://127.0.0.1:9");
    let mut cmd = world.cclive(&["ask", "hi"]);
    cmd.env("CLAUDE_BIN", world.claude.home().join("no-such-claude"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = crate::support::cclive::wait_with_timeout(cmd.spawn().unwrap(), TIMEOUT);
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("npm install -g @anthropic-ai/claude-code"),
        "{err}"
    );

    let mut cmd = world.cclive(&["ask", "hi"]);
    cmd.env_remove("CLAUDE_BIN")
        .env("PATH", "/nonexistent")
        .stderr(std::process::Stdio::piped());
    let out = crate::support::cclive::wait_with_timeout(cmd.spawn().unwrap(), TIMEOUT);
    assert_eq!(out.status.code(), Some(127), "{}", describe(&out));
}

#[test]
fn status_and_config_work_on_a_fresh_machine() {
    let world = World::new("http://127.0.0.1:9");
    let out = world.run(&["status", "--json"], TIMEOUT);
    assert!(out.status.success(), "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "INACTIVE");
    assert!(world.sessions().is_empty());
    let out = world.run(&["config"], TIMEOUT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("env CLAUDE_SESSION_STATE_FILE"), "{text}");
    assert!(text.contains("env CCLIVE_DB"), "{text}");
}
