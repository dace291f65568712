//! The one integration-test binary: every test that runs the real `cclive` binary or the real
//! Claude Code CLI.

#![allow(clippy::unwrap_used, clippy::float_cmp)]

#[path = "../support/mod.rs"]
mod support;

mod budget_cli;
mod calendar;
mod ccusage_compat;
mod chaos;
mod config_cli;
mod dashboard_bench;
mod dashboard_browser;
mod dashboard_catch_up;
mod dashboard_e2e;
mod db_recover;
mod exec_hooks;
mod fake_api_smoke;
mod hook_record;
mod hooks_cli;
mod import_corpus;
mod misbehaving_claude;
mod one_session_everywhere;
mod otel_e2e;
mod prices_e2e;
mod replay;
mod report_text;
mod report_tools;
mod reports;
mod robustness;
mod run_e2e;
mod statusline;
mod team_e2e;
mod team_server;
mod token_e2e;
mod top;
mod vscode_extension;
mod watch_e2e;
mod webhooks;
