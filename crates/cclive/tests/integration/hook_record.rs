//! `cclive hook` with no monitor running records the session in the store itself, so command
//! hooks keep history even while nothing watches.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::support::cclive::{World, describe, free_port, wait_with_timeout};

pub(crate) fn hook(world: &World, listen: &str, payload: &str) {
    let mut child = world
        .cclive(&["hook", "--listen", listen])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .unwrap();
    let out = wait_with_timeout(child, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        out.stdout.is_empty(),
        "a hook prints nothing on stdout: {}",
        describe(&out)
    );
}

#[test]
fn hooks_without_a_monitor_record_start_turns_and_end() {
    let world = World::new("http://127.0.0.1:9");
    let listen = format!("127.0.0.1:{}", free_port());
    let sid = "11111111-2222-4333-8444-555555555555";
    let base =
        format!(r#""session_id":"{sid}","transcript_path":"/t/{sid}.jsonl","cwd":"/work/app""#);
    hook(
        &world,
        &listen,
        &format!(
            r#"{{{base},"hook_event_name":"SessionStart","source":"startup","model":"claude-opus-5-5"}}"#
        ),
    );
    hook(
        &world,
        &listen,
        &format!(
            r#"{{{base},"hook_event_name":"UserPromptSubmit","prompt":"fix the flaky test","prompt_id":"p1"}}"#
        ),
    );
    // The same prompt delivered twice (a retry) counts once.
    hook(
        &world,
        &listen,
        &format!(
            r#"{{{base},"hook_event_name":"UserPromptSubmit","prompt":"fix the flaky test","prompt_id":"p1"}}"#
        ),
    );
    hook(
        &world,
        &listen,
        &format!(
            r#"{{{base},"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{{"command":"ls"}},"tool_use_id":"toolu_1"}}"#
        ),
    );
    hook(
        &world,
        &listen,
        &format!(
            r#"{{{base},"hook_event_name":"PostToolUse","tool_name":"Bash","tool_use_id":"toolu_1","duration_ms":12,"tool_response":{{}}}}"#
        ),
    );
    hook(
        &world,
        &listen,
        &format!(r#"{{{base},"hook_event_name":"Stop","stop_hook_active":false}}"#),
    );
    let recorded = world.sessions();
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(recorded[0]["status"], "IDLE", "waiting for the next prompt");
    hook(
        &world,
        &listen,
        &format!(r#"{{{base},"hook_event_name":"SessionEnd","reason":"prompt_input_exit"}}"#),
    );
    let s = &world.sessions()[0];
    assert_eq!(s["session_id"], sid);
    assert_eq!(s["status"], "COMPLETED");
    assert_eq!(s["num_turns"], 2, "one prompt + one tool result");
    assert_eq!(s["tool_calls"]["Bash"], 1);
    assert_eq!(s["last_prompt"], "fix the flaky test");
    assert_eq!(s["cwd"], "/work/app");
}

#[test]
fn garbage_on_stdin_is_ignored_quietly() {
    let world = World::new("http://127.0.0.1:9");
    let listen = format!("127.0.0.1:{}", free_port());
    hook(&world, &listen, "this is not a hook payload");
    hook(&world, &listen, "");
    assert!(world.sessions().is_empty());
}
