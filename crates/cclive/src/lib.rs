//! cclive: a live monitor for Claude Code sessions.
//!
//! The binary's logic lives in this library so it can be tested and reused: [`SessionMonitor`]
//! runs claude under monitoring with callbacks (the seed's `ClaudeCodeSessionMonitor`), and
//! [`run`] is the whole command line. Layout:
//! - `cli` (what the user typed) → `config` (resolved [`config::Settings`]) → `cmd/<verb>`.
//! - The folders read in the order data flows: [`ingest`] (sources: the wrapped child, tailed
//!   transcripts, hook payloads) → [`monitor`] (the pipeline, the store writer, the state file,
//!   the library face) → [`sinks`] (webhooks and `[[on_change]]` commands, budget watch) →
//!   `cmd/` (one leaf per subcommand). Beside them: `history/` (reading the store back for
//!   views), [`output`] (what the terminal shows), `claude_config/` (edits of Claude Code's
//!   `settings.json`), `team/` (team mode's agent side: the outbox uploader of `--upstream`).
//! - [`tui`]: `cclive top`, the terminal dashboard (state, view and data are public, so the
//!   screen can be tested on ratatui's `TestBackend`).
//!
//! Only this crate reads the environment, installs signal handlers and the tracing subscriber,
//! prints, or exits; the libraries below return values and errors.

#![cfg_attr(test, allow(clippy::float_cmp))]

mod budget;
mod claude_config;
pub mod cli;
mod cmd;
pub mod config;
#[cfg(test)]
mod config_fuzz_tests;
pub mod errors;
mod history;
pub mod ingest;
mod logging;
pub mod monitor;
pub mod output;
pub mod sinks;
mod team;
pub mod tui;

use std::process::ExitCode;

pub use cclive_core::blocks::{BlockChange, BlockEvent};
pub use cclive_core::budget::{Budget, BudgetAlert, Limits};
pub use cclive_core::{SessionState, Status, Update, UpdateKind};
pub use monitor::session_monitor::{RunOutcome, RunRequest, SessionMonitor, SessionMonitorBuilder};

/// Runs the command line; the only caller is `main`.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    // `top` owns the terminal: it logs to a file (see `cmd/top.rs`).
    if !matches!(cli.command, cli::Command::Top(_)) {
        logging::init(cli.global.verbose);
    }
    cmd::dispatch(cli)
}

#[cfg(test)]
pub(crate) mod tests {
    //! Checks of the source tree itself: the codemap in ARCHITECTURE.md is exact.

    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`, recursively, sorted.
    pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for entry in std::fs::read_dir(&d).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    todo.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }

    /// `path:line: text` of every line of this crate's sources (`src/`, paths relative to it)
    /// that `hit(path, line)` picks: what a rule about the source tree found against it.
    pub(crate) fn source_lines_where(hit: impl Fn(&Path, &str) -> bool) -> Vec<String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        for file in rust_files(&src) {
            let rel = file.strip_prefix(&src).unwrap();
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                if hit(rel, line) {
                    found.push(format!("{}:{}: {}", rel.display(), n + 1, line.trim()));
                }
            }
        }
        found
    }

    /// The workspace root (two levels above this crate).
    pub(crate) fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .unwrap()
            .to_path_buf()
    }

    /// ARCHITECTURE.md's codemap lists every module that exists and nothing that does not: each
    /// `- `path`` line under a `### crates/<crate>/src` heading names a file of that crate.
    #[test]
    fn the_codemap_lists_every_module_and_nothing_else() {
        let root = workspace_root();
        let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
        let mut listed = BTreeSet::new();
        let mut dir: Option<String> = None;
        for line in text.lines() {
            if let Some(heading) = line.strip_prefix("### ") {
                let heading = heading.trim().trim_matches('`');
                dir = (heading.starts_with("crates/") && heading.ends_with("/src"))
                    .then(|| heading.to_owned());
                continue;
            }
            if line.starts_with("## ") {
                dir = None;
            }
            let (Some(dir), Some(rest)) = (&dir, line.strip_prefix("- `")) else {
                continue;
            };
            if let Some(path) = rest.split('`').next() {
                listed.insert(format!("{dir}/{path}"));
            }
        }
        let mut present = BTreeSet::new();
        for krate in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
            let src = krate.path().join("src");
            if !src.is_dir() {
                continue;
            }
            for file in rust_files(&src) {
                let rel = file.strip_prefix(&root).unwrap();
                present.insert(rel.to_string_lossy().into_owned());
            }
        }
        let missing: Vec<&String> = present.difference(&listed).collect();
        let stale: Vec<&String> = listed.difference(&present).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "ARCHITECTURE.md's codemap is out of date.\nAdd (with what each owns): {missing:#?}\n\
             Remove (no such file): {stale:#?}"
        );
    }
}
