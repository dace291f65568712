//! The command line as the user typed it (clap). No defaults are resolved here: `config.rs`
//! merges these with the config file and the environment.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Live monitor for Claude Code sessions: cost, turns, tokens, history.
#[derive(Debug, Parser)]
#[command(name = "cclive", version, about, long_about = None)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// More log output on stderr (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Config file (default: $XDG_CONFIG_HOME/cclive/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// SQLite history database (default: $XDG_DATA_HOME/cclive/cclive.db).
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// The state file (default: $XDG_DATA_HOME/cclive/current_session.json).
    #[arg(long, global = true, value_name = "FILE")]
    pub state_file: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Claude Code and monitor it live: `cclive run -- -p "question"`.
    Run(RunArgs),
    /// Ask one question in print mode: short for `cclive run -- -p "question"`.
    Ask(AskArgs),
    /// Print the current state (the state file's object).
    Status(StatusArgs),
    /// List past sessions, newest first.
    Sessions(SessionsArgs),
    /// Print the effective configuration and where each value came from.
    Config(ConfigArgs),
}

/// Options of `cclive run` (and `ask`) about the session itself.
#[derive(Debug, Args, Clone, Default)]
pub struct SessionArgs {
    /// The project this session belongs to (default: the current directory).
    #[arg(long, value_name = "PATH")]
    pub project_path: Option<String>,
    /// A label for the session, e.g. "review" or "feature".
    #[arg(long, value_name = "TYPE")]
    pub session_type: Option<String>,
    /// The claude executable (default: $CLAUDE_BIN, else `claude` on PATH).
    #[arg(long, value_name = "PATH")]
    pub claude_bin: Option<PathBuf>,
}

/// `cclive run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Session options.
    #[command(flatten)]
    pub session: SessionArgs,
    /// Arguments for claude, after `--`.
    #[arg(last = true, value_name = "CLAUDE_ARGS")]
    pub claude_args: Vec<String>,
}

/// `cclive ask`.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// Session options.
    #[command(flatten)]
    pub session: SessionArgs,
    /// The question.
    #[arg(required = true)]
    pub question: Vec<String>,
    /// More arguments for claude, after `--` (e.g. `-- --model sonnet`).
    #[arg(last = true, value_name = "CLAUDE_ARGS")]
    pub claude_args: Vec<String>,
}

/// `cclive status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON (the state file's object).
    #[arg(long)]
    pub json: bool,
}

/// `cclive sessions`.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// How many sessions.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// `cclive config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the commented default config file instead.
    #[arg(long)]
    pub default: bool,
}
