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
    /// Register cclive for Claude Code's hook events in settings.json (install|uninstall|status).
    Hooks(HooksArgs),
    /// Hand one hook payload (stdin) to the monitor; what `hooks install --command` registers.
    Hook(HookArgs),
    /// Import every existing transcript into the history (idempotent; only new bytes are read).
    Import(ImportArgs),
    /// Run the monitor: follow every session live (transcripts, hooks, `cclive run`).
    Watch(WatchArgs),
    /// What cclive sees and what is wrong, on one screen.
    Doctor(DoctorArgs),
}

/// `cclive doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also read every transcript and report files with unreadable lines.
    #[arg(long)]
    pub scan: bool,
}

/// `cclive import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Reader threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `cclive watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Address to listen on for hooks and events (default 127.0.0.1:8501).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
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

/// `cclive hooks`.
#[derive(Debug, Args)]
pub struct HooksArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: HooksAction,
}

/// `cclive hooks install|uninstall|status`.
#[derive(Debug, Subcommand)]
pub enum HooksAction {
    /// Add cclive's hooks to settings.json (a backup is written first; running it again changes
    /// nothing).
    Install(HooksInstallArgs),
    /// Remove exactly the hooks `install` added.
    Uninstall(HooksEditArgs),
    /// Which events have cclive's hooks, and whether the monitor answers.
    Status(HooksStatusArgs),
}

/// Where `cclive hooks` looks.
#[derive(Debug, Args, Clone, Default)]
pub struct HooksTargetArgs {
    /// Only this Claude Code config dir (default: every existing one of $CLAUDE_CONFIG_DIR, else
    /// ~/.config/claude and ~/.claude).
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// The monitor's address the hooks point at (default: the `listen` setting).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// `cclive hooks install`.
#[derive(Debug, Args)]
pub struct HooksInstallArgs {
    /// Where.
    #[command(flatten)]
    pub target: HooksTargetArgs,
    /// Register `cclive hook` (a process per event, records even with no monitor running)
    /// instead of http hooks.
    #[arg(long)]
    pub command: bool,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `cclive hooks uninstall`.
#[derive(Debug, Args)]
pub struct HooksEditArgs {
    /// Where.
    #[command(flatten)]
    pub target: HooksTargetArgs,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `cclive hooks status`.
#[derive(Debug, Args)]
pub struct HooksStatusArgs {
    /// Where.
    #[command(flatten)]
    pub target: HooksTargetArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `cclive hook`.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// The monitor's address (default: the `listen` setting).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}
