//! `cclive status`: the current state, from the state file.

use std::process::ExitCode;

use cclive_core::Snapshot;

use crate::cli::{GlobalArgs, StatusArgs};
use crate::config::Settings;
use crate::monitor::state_file;
use crate::output::display;
use crate::output::term::Term;

/// Prints the state file's object (JSON) or a readable summary.
pub(super) fn run(
    args: &StatusArgs,
    settings: &Settings,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    let path = &settings.state_file.value;
    let snapshot =
        state_file::read(path)?.unwrap_or_else(|| Snapshot::inactive(jiff::Timestamp::now()));
    let live = snapshot.data.as_ref().is_some_and(|s| s.status.is_live());
    if live && snapshot.monitor_pid.is_some_and(|pid| !process_alive(pid)) {
        eprintln!(
            "cclive: warning: the cclive process that wrote {} (pid {}) is gone; the session may have ended unseen",
            path.display(),
            snapshot.monitor_pid.unwrap_or_default()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&snapshot)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", display::status_text(&snapshot, Term::stdout(global)));
    Ok(ExitCode::SUCCESS)
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
