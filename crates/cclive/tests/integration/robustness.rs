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
