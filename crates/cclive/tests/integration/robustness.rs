//! Issue 12's defects, each proven fixed through the real binary: one monitor per data dir
//! (found wherever it listens), `cclive doctor` on optional parts.

use std::time::Duration;

use crate::support::cclive::{World, describe};

const TIMEOUT: Duration = Duration::from_mins(1);

#[test]
fn doctor_finds_the_monitor_wherever_it_listens_and_missing_hooks_are_a_warning() {
    let world = World::new("http://127.0.0.1:9");
    // The world's configured listen address is 127.0.0.1:9; the monitor listens elsewhere.
    let watch = world.watch();
    std::fs::create_dir_all(world.claude.home().join(".claude")).unwrap();
    let out = world.run(&["doctor"], TIMEOUT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("✔ monitor: running at http://{}", watch.addr)),
        "{}",
        describe(&out)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("! ") && l.contains("hooks: 0 of")),
        "missing hooks are a warning: {stdout}"
    );
    // Only the claude check may fail here (a missing pinned CLI): hooks never do.
    let problems = stdout.lines().filter(|l| l.starts_with('✘')).count();
    let claude_missing = stdout.lines().any(|l| l.starts_with("✘ claude:"));
    assert_eq!(problems, usize::from(claude_missing), "{stdout}");
    assert_eq!(out.status.success(), !claude_missing, "{}", describe(&out));
}

#[test]
fn a_hook_the_store_cannot_take_is_spooled_and_the_next_import_stores_it_once() {
    let world = World::new("http://127.0.0.1:9");
    let listen = format!("127.0.0.1:{}", crate::support::cclive::free_port());
    // The database cannot be opened (a directory stands where it should be).
    std::fs::create_dir_all(&world.db).unwrap();
    let sid = "22222222-2222-4333-8444-555555555555";
    let payload = format!(
        r#"{{"session_id":"{sid}","transcript_path":"/t/{sid}.jsonl","cwd":"/work/spooled","hook_event_name":"SessionStart","source":"startup"}}"#
    );
    crate::hook_record::hook(&world, &listen, &payload);
    let spool = world.db.with_file_name(format!(
        "{}.hook-spool",
        world.db.file_name().unwrap().to_string_lossy()
    ));
    assert!(
        std::fs::read_to_string(&spool).unwrap().contains(sid),
        "the event waits in the spool"
    );

    std::fs::remove_dir(&world.db).unwrap();
    for _ in 0..2 {
        let out = world.run(&["import", "--quiet"], TIMEOUT);
        assert!(out.status.success(), "{}", describe(&out));
    }
    let sessions = world.sessions();
    let ours: Vec<_> = sessions.iter().filter(|s| s["session_id"] == sid).collect();
    assert_eq!(ours.len(), 1, "{sessions:#?}");
    assert_eq!(ours[0]["cwd"], "/work/spooled");
    assert!(!spool.exists(), "drained");
    let out = world.run(&["export", sid], TIMEOUT);
    assert!(out.status.success(), "{}", describe(&out));
    let starts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"session_started\""))
        .count();
    assert_eq!(starts, 1, "stored once: {}", describe(&out));
}

#[test]
fn a_webhook_url_is_logged_by_scheme_and_host_only_even_at_vv() {
    let receiver = crate::webhooks::Receiver::start(|_| crate::webhooks::Answer::Status(204));
    let world = World::new("http://127.0.0.1:9");
    let url = format!(
        "{}/PATHSECRET99?api_key=QUERYSECRET55",
        receiver.url.trim_end_matches('/')
    );
    crate::webhooks::write_config(
        &world,
        &format!("[[webhook]]\nname = \"slack\"\nurl = \"{url}\"\n"),
    );
    let out = world
        .cclive(&["-vv", "webhooks", "test"])
        .env_remove("CCLIVE_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.is_empty());
    assert!(
        !all.contains("PATHSECRET99") && !all.contains("QUERYSECRET55"),
        "{all}"
    );
}
