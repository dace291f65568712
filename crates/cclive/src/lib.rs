//! cclive: a live monitor for Claude Code sessions.
//!
//! The binary's logic lives in this library so it can be tested and reused: [`SessionMonitor`]
//! runs claude under monitoring with callbacks (the seed's `ClaudeCodeSessionMonitor`), and
//! [`run`] is the whole command line. Layout:
//! - `cli` (what the user typed) → `config` (resolved [`config::Settings`]) → `cmd/<verb>`.
//! - `ingest/`: sources of events (the wrapped child). `pipeline`: the monitor service and its
//!   sinks (`writer` for SQLite, `state_file`). `render`: claude's output shown to the user.
//! - [`notify`]: webhooks and `[[on_change]]` commands fed by the monitor's callbacks.
//! - [`tui`]: `cclive top`, the terminal dashboard (state, view and data are public, so the
//!   screen can be tested on ratatui's `TestBackend`).
//!
//! Only this crate reads the environment, installs signal handlers and the tracing subscriber,
//! prints, or exits; the libraries below return values and errors.

#![cfg_attr(test, allow(clippy::float_cmp))]

mod budget_watch;
mod claude_settings;
mod claude_telemetry;
pub mod cli;
mod cmd;
pub mod config;
mod display;
pub mod errors;
mod hook_fallback;
mod hook_spool;
pub mod ingest;
mod logging;
mod monitor_client;
mod monitor_lock;
pub mod notify;
pub mod pipeline;
pub mod render;
mod session_events;
pub mod session_monitor;
pub mod state_file;
pub mod tui;
mod usage_records;
mod writer;

use std::process::ExitCode;

pub use cclive_core::blocks::{BlockChange, BlockEvent};
pub use cclive_core::budget::{Budget, BudgetAlert, Limits};
pub use cclive_core::{SessionState, Status, Update, UpdateKind};
pub use session_monitor::{RunOutcome, RunRequest, SessionMonitor, SessionMonitorBuilder};

/// Runs the command line; the only caller is `main`.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    // `top` owns the terminal: it logs to a file (see `cmd/top.rs`).
    if !matches!(cli.command, cli::Command::Top(_)) {
        logging::init(cli.global.verbose);
    }
    cmd::dispatch(cli)
}
