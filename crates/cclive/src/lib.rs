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

// Transitional aliases for the old flat paths (`crate::pipeline`, `crate::notify`, …), so code
// written on other branches before the folders moved still compiles after a merge. Phase 2 of
// issue #10 removes them once nothing uses them.
#[allow(unused_imports)]
pub(crate) use claude_config::{settings as claude_settings, telemetry as claude_telemetry};
#[allow(unused_imports)]
pub(crate) use history::{session_events, usage_records};
#[allow(unused_imports)]
pub(crate) use ingest::hook_fallback;
#[allow(unused_imports)]
pub(crate) use monitor::{client as monitor_client, pipeline, session_monitor, state_file, writer};
#[allow(unused_imports)]
pub(crate) use output::display;
#[doc(no_inline)]
pub use output::render;
#[allow(unused_imports)]
pub(crate) use sinks::budget_watch;
#[doc(no_inline)]
pub use sinks::notify;

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
