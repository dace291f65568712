//! `[[on_change]]` commands end to end: a real `cclive watch` runs them with the event JSON on
//! stdin; a command that hangs is killed at its timeout and does not hold up the next one.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cclive::{World, describe, read_json};
use crate::webhooks::{http, interactive_session, send, write_config};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Waits for `path` to hold JSON.
fn wait_json(path: &Path, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        // The command writes it with `>`: read it once it is complete (it ends in a newline).
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}: {text:?}", path.display()));
        }
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {timeout:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_on_change_command_gets_the_event_on_stdin() {
    let world = World::new("http://127.0.0.1:9");
    let out_dir = world.claude.home().join("hook-out");
    std::fs::create_dir_all(&out_dir).unwrap();
    write_config(
        &world,
        &format!(
            "[[on_change]]\nname = \"calendar\"\n\
             command = \"cat > '{dir}/'$CCLIVE_EVENT.json.tmp && mv '{dir}/'$CCLIVE_EVENT.json.tmp '{dir}/'$CCLIVE_EVENT.json\"\n\
             events = [\"session_started\", \"session_ended\"]\n",
            dir = out_dir.display()
        ),
    );
    let watch = world.watch();
    send(&watch.addr, "sess-exec", &interactive_session());

    let started = wait_json(&out_dir.join("session_started.json"), TIMEOUT);
    assert_eq!(started["event"], "session_started");
    assert_eq!(started["session"]["session_id"], "sess-exec");
    assert_eq!(started["session"]["status"], "ACTIVE");
    let ended = wait_json(&out_dir.join("session_ended.json"), TIMEOUT);
    assert_eq!(ended["event"], "session_ended");
    assert_eq!(ended["session"]["status"], "COMPLETED");
    assert_eq!(ended["previous_status"], "IDLE");
    assert_eq!(ended["session"]["num_turns"], 2);
    // Only what it subscribed to: stopping drains the notifier, so every command that was
    // due has run by then.
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["session_ended.json", "session_started.json"]);
}

#[test]
fn a_hung_command_is_killed_at_its_timeout_and_the_next_event_still_runs() {
    let world = World::new("http://127.0.0.1:9");
    let out_dir = world.claude.home().join("hook-out");
    std::fs::create_dir_all(&out_dir).unwrap();
    write_config(
        &world,
        &format!(
            "[[on_change]]\n\
             command = \"if [ $CCLIVE_EVENT = session_started ]; then sleep 60; fi; cat > '{dir}/'$CCLIVE_EVENT.json\"\n\
             events = [\"session_started\", \"session_ended\"]\n\
             timeout_secs = 1\n",
            dir = out_dir.display()
        ),
    );
    let watch = world.watch();
    let sent = Instant::now();
    send(&watch.addr, "sess-hang", &interactive_session());
    // The monitor goes on at once.
    let (status, _) = http(&watch.addr, "GET", "/api/current-session", "");
    assert_eq!(status, 200);
    world.wait_state(Duration::from_secs(10), "the session ended", |s| {
        s["data"]["session_id"] == "sess-hang" && s["data"]["status"] == "COMPLETED"
    });
    let ended = wait_json(&out_dir.join("session_ended.json"), TIMEOUT);
    assert_eq!(ended["event"], "session_ended");
    assert!(
        sent.elapsed() < Duration::from_secs(30),
        "the hung command was killed, not waited for: {:?}",
        sent.elapsed()
    );
    assert!(!out_dir.join("session_started.json").exists());
    assert!(read_json(&world.state_file).is_some());
    let out = watch.stop();
    assert!(out.status.success(), "{}", describe(&out));
}
