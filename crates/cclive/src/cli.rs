//! The command line as the user typed it (clap). No defaults are resolved here:
//! `config/settings.rs` merges these with the config file and the environment.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, FromArgMatches as _, Parser, Subcommand};

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

impl Cli {
    /// This process's command line. `cclive statusline …`, what Claude Code runs after every
    /// turn, is parsed by a command line that knows only that subcommand and the global
    /// options: building every subcommand's arguments was a sixth of a status line run.
    /// Anything that one does not take (help, a typo, an option before the subcommand) goes
    /// through the whole command line, which words the answer.
    pub fn from_process() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        Cli::statusline_from(&args).unwrap_or_else(|| Cli::parse_from(args))
    }

    /// `args` parsed as `cclive statusline …`, when they are that and clap takes them.
    fn statusline_from(args: &[OsString]) -> Option<Cli> {
        if args.get(1).is_none_or(|a| a != "statusline") {
            return None;
        }
        let statusline = StatuslineArgs::augment_args(clap::Command::new("statusline"));
        let matches = GlobalArgs::augment_args(clap::Command::new("cclive"))
            .subcommand(statusline)
            .try_get_matches_from(args)
            .ok()?;
        let global = GlobalArgs::from_arg_matches(&matches).ok()?;
        let (_, sub) = matches.subcommand()?;
        let command = Command::Statusline(StatuslineArgs::from_arg_matches(sub).ok()?);
        Some(Cli { global, command })
    }
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
    /// Colour in the terminal's text: `auto` (when stdout is a terminal and `NO_COLOR` is not
    /// set), `always` or `never`.
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    pub color: Option<ColorArg>,
    /// The same as `--color never` (ccusage's flag).
    #[arg(long, global = true, conflicts_with = "color")]
    pub no_color: bool,
}

/// When to colour text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorArg {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always, even into a pipe.
    Always,
    /// Never.
    Never,
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
    /// Run the monitor with its live web dashboard (http://127.0.0.1:8501).
    Dashboard(DashboardArgs),
    /// What cclive sees and what is wrong, on one screen.
    Doctor(DoctorArgs),
    /// The history database: `check` its integrity; `recover` a damaged one (kept aside).
    Db(DbArgs),
    /// Usage reports: daily, weekly, monthly, sessions, projects, models, 5-hour blocks; tools.
    Report(ReportArgs),
    /// Spend against the `[budget]` limits with projections; `--check` for scripts and CI.
    Budget(BudgetArgs),
    /// Outgoing webhooks: send a sample to each configured one (`test`), or list them.
    Webhooks(WebhooksArgs),
    /// Calendar blocks over CalDAV: write and delete a test event in each `[[calendar]]`.
    Calendar(CalendarArgs),
    /// Write one session (its final state and every recorded event) as JSON lines.
    Export(ExportArgs),
    /// Read a session written by `cclive export` into the history.
    ImportEvents(ImportEventsArgs),
    /// Play a recorded session again into the running monitor, as a new session marked
    /// "replay", with its original timing scaled by --speed.
    Replay(ReplayArgs),
    /// A live terminal dashboard: sessions, the 5-hour block, budgets, history (q quits).
    Top(TopArgs),
    /// One line for Claude Code's `statusLine` setting (reads its JSON on stdin); see
    /// `cclive hooks install --statusline`.
    Statusline(StatuslineArgs),
    /// The price table in use (source, version, every model's rates); `sync` reads the
    /// installed Claude Code's own prices into your price file.
    Prices(PricesArgs),
    /// Team mode's central server on PostgreSQL: the team dashboard and the agents' pushes.
    Server(ServerArgs),
    /// Team mode: users and their tokens, budgets (on the server's database); this machine's
    /// link to its team server (`status`).
    Team(TeamArgs),
}

/// `cclive server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The team database (default: the `[server] database_url` setting).
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on (default: `[server] listen`, else 127.0.0.1:8601).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// A host name users reach the server by (behind a reverse proxy: its public name);
    /// repeatable. Requests naming any other host are refused (DNS rebinding).
    #[arg(long, value_name = "HOST")]
    pub public_host: Vec<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// Where the team database is.
#[derive(Debug, Args, Clone, Default)]
pub struct DatabaseArgs {
    /// PostgreSQL connection string (`postgres://user:pass@host/db` or `host=… dbname=…`).
    /// Default: `$CCLIVE_DATABASE_URL`, else the config file's `[server] database_url`.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

/// `cclive team`.
#[derive(Debug, Args)]
pub struct TeamArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TeamAction,
}

/// `cclive team …`.
#[derive(Debug, Subcommand)]
pub enum TeamAction {
    /// Users of the team server: add (prints their token once), list, revoke.
    User(TeamUserArgs),
    /// Monthly budgets per team or per person.
    Budget(TeamBudgetArgs),
    /// This machine's link to its team server: machine id, what is pending, what the server
    /// acknowledged, the last error.
    Status(TeamStatusArgs),
}

/// `cclive team user`.
#[derive(Debug, Args)]
pub struct TeamUserArgs {
    /// The team database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: TeamUserAction,
}

/// `cclive team user add|list|revoke`.
#[derive(Debug, Subcommand)]
pub enum TeamUserAction {
    /// Add a user and print their token (shown once; only its hash is stored).
    Add {
        /// Their email.
        email: String,
        /// Their team (created when new).
        #[arg(long)]
        team: String,
        /// member (own data), lead (their team's), admin (everything).
        #[arg(long, default_value = "member", value_parser = ["member", "lead", "admin"])]
        role: String,
        /// Print JSON (`{"email", "team", "role", "token"}`).
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a user: every token of theirs is refused from now on; their data stays.
    Revoke {
        /// Their email.
        email: String,
    },
}

/// `cclive team budget`.
#[derive(Debug, Args)]
pub struct TeamBudgetArgs {
    /// The team database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: TeamBudgetAction,
}

/// `cclive team budget set|list`.
#[derive(Debug, Subcommand)]
pub enum TeamBudgetAction {
    /// Set a monthly budget for a team or a person.
    Set {
        /// The team.
        #[arg(long, conflicts_with = "user", required_unless_present = "user")]
        team: Option<String>,
        /// The person (email).
        #[arg(long)]
        user: Option<String>,
        /// USD per calendar month.
        #[arg(long, value_name = "USD")]
        monthly_usd: f64,
    },
    /// List budgets.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `cclive prices`.
#[derive(Debug, Args)]
pub struct PricesArgs {
    /// Print JSON (the table itself).
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do (default: show the table in use).
    #[command(subcommand)]
    pub action: Option<PricesAction>,
}

/// `cclive prices <action>`.
#[derive(Debug, Subcommand)]
pub enum PricesAction {
    /// Read the model catalog of the installed Claude Code (offline, from its package) into the
    /// price file (`prices_file`, else ~/.config/cclive/prices.json).
    Sync {
        /// The claude executable to read (default: the `claude_bin` setting, else PATH).
        #[arg(long, value_name = "PATH")]
        claude: Option<PathBuf>,
        /// Write here instead of the price file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `cclive top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The monitor to follow (default: the `listen` setting). When none answers there, `top`
    /// runs the monitor itself.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Run the monitor in this process even when one answers at the listen address.
    #[arg(long)]
    pub own_monitor: bool,
    /// Measure the 5-hour block against a plan's limits (claude-monitor's: pro, max5, max20,
    /// or custom); `l` changes it on the screen.
    #[arg(long, value_name = "PLAN", value_parser = parse_plan)]
    pub plan: Option<cclive_core::plans::Plan>,
    /// custom: the token limit per block (input + output; default: the 90th percentile of
    /// your finished blocks).
    #[arg(long, value_name = "TOKENS")]
    pub plan_tokens: Option<u64>,
    /// custom: the cost limit per block, in USD (default 50).
    #[arg(long, value_name = "USD")]
    pub plan_cost: Option<f64>,
}

/// `--plan`: a plan name.
fn parse_plan(s: &str) -> Result<cclive_core::plans::Plan, String> {
    cclive_core::plans::Plan::parse(s)
        .ok_or_else(|| format!("{s:?} is not a plan; use pro, max5, max20 or custom"))
}

/// `cclive statusline`.
#[derive(Debug, Args)]
pub struct StatuslineArgs {
    /// The monitor's address (default: the `listen` setting).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Also run this (your previous) status line command with the same input, and append its
    /// output to ours.
    #[arg(long, value_name = "COMMAND")]
    pub chain: Option<String>,
    /// The status line that `hooks install --statusline --force` replaced, kept so `hooks
    /// uninstall` can put it back. Never run.
    #[arg(long, value_name = "COMMAND", hide = true)]
    pub replaced: Option<String>,
}

/// `cclive calendar`.
#[derive(Debug, Args)]
pub struct CalendarArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CalendarAction,
}

/// `cclive calendar test`.
#[derive(Debug, Subcommand)]
pub enum CalendarAction {
    /// Check each configured calendar: write a test event, delete it, and say what went wrong
    /// if that failed (credentials, URL, not a calendar, server down). Exit code 1 when any
    /// failed.
    Test(CalendarTestArgs),
}

/// `cclive calendar test`.
#[derive(Debug, Args)]
pub struct CalendarTestArgs {
    /// Only the calendar with this name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// `cclive webhooks`.
#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: WebhooksAction,
}

/// `cclive webhooks test|list`.
#[derive(Debug, Subcommand)]
pub enum WebhooksAction {
    /// Send a sample payload (marked `"test": true`) to every configured webhook, once each,
    /// and say how each answered. Exit code 1 when any failed.
    Test(WebhooksTestArgs),
    /// The configured webhooks and on_change commands (URLs shown without their path).
    List(WebhooksListArgs),
}

/// `cclive webhooks test`.
#[derive(Debug, Args)]
pub struct WebhooksTestArgs {
    /// Only the webhook with this name.
    #[arg(long, value_name = "NAME", conflicts_with = "url")]
    pub name: Option<String>,
    /// Send to this URL instead of the configured webhooks (unsigned).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The sample's event (default: status_changed).
    #[arg(long, value_name = "EVENT", default_value = "status_changed")]
    pub event: String,
    /// Also run every on_change command with the sample.
    #[arg(long)]
    pub on_change: bool,
}

/// `cclive webhooks list`.
#[derive(Debug, Args)]
pub struct WebhooksListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `cclive export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The session (its id, or a unique prefix of it).
    pub session: String,
    /// JSON lines: a header line with the session, then one event per line (the default and,
    /// for now, the only format).
    #[arg(long)]
    pub jsonl: bool,
    /// Write here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `cclive import-events`.
#[derive(Debug, Args)]
pub struct ImportEventsArgs {
    /// A file written by `cclive export` (`-` for stdin).
    pub file: PathBuf,
    /// Replace the session (and its events) when the history already has it.
    #[arg(long)]
    pub replace: bool,
}

/// `cclive replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recorded session (its id, or a unique prefix of it).
    pub session: String,
    /// How much faster than the original to play (e.g. 10); 1 keeps the original timing.
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Longest pause between two events, in seconds after scaling (skips long idle stretches).
    #[arg(long, value_name = "SECS", value_parser = parse_speed)]
    pub max_gap: Option<f64>,
    /// The monitor's address (default: the `listen` setting).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// A positive, finite number.
fn parse_speed(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1_000_000.0 => Ok(v),
        _ => Err(format!("expected a positive number, got {raw:?}")),
    }
}

/// `cclive doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also read every transcript and report files with unreadable lines.
    #[arg(long)]
    pub scan: bool,
}

/// `cclive db`.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: DbAction,
}

/// `cclive db check|recover`.
#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Check the database's integrity (read-only, fine next to a running monitor); exits 1 when
    /// it is damaged, 75 when another process kept it locked.
    Check(DbCheckArgs),
    /// Rebuild a damaged database: keep it aside as `<db>.corrupt-<time>`, copy every row that
    /// still reads into a fresh one, then re-read the transcripts still on disk and the hook
    /// spool. Stop the monitor first.
    Recover(DbRecoverArgs),
}

/// `cclive db check`.
#[derive(Debug, Args)]
pub struct DbCheckArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The full integrity check (indexes too; slower on a big history).
    #[arg(long)]
    pub full: bool,
}

/// `cclive db recover`.
#[derive(Debug, Args)]
pub struct DbRecoverArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Only say what would be rescued; move and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rebuild even a database the check finds healthy.
    #[arg(long)]
    pub force: bool,
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
    /// A secret every request must carry (needed to listen off loopback). Default:
    /// `$CCLIVE_TOKEN`.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Team mode: where to forward what this monitor stores.
    #[command(flatten)]
    pub upstream: UpstreamArgs,
}

/// Team mode flags of the monitor commands (they win over `[team]` in the config file).
#[derive(Debug, Default, Args)]
pub struct UpstreamArgs {
    /// Also forward sessions and usage to this team server (`cclive server`), e.g.
    /// `https://team.example.com`.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    /// The file holding this machine's team token (from `cclive team user add`).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// `cclive dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Port to serve on (default: the `listen` setting's, 8501).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Address or host name to bind (default: the `listen` setting's, 127.0.0.1). Anything but
    /// loopback needs --token.
    #[arg(long, value_name = "HOST")]
    pub bind: Option<String>,
    /// Open the dashboard in the browser.
    #[arg(long)]
    pub open: bool,
    /// A secret every request must carry (needed off loopback; at least 16 characters).
    /// Default: `$CCLIVE_TOKEN`.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Team mode: where to forward what this monitor stores.
    #[command(flatten)]
    pub upstream: UpstreamArgs,
}

/// `cclive team status`.
#[derive(Debug, Args)]
pub struct TeamStatusArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
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

impl HooksAction {
    /// The settings.json (and `--listen`) the action is about.
    pub fn target(&self) -> &HooksTargetArgs {
        match self {
            HooksAction::Install(a) => &a.target,
            HooksAction::Uninstall(a) => &a.target,
            HooksAction::Status(a) => &a.target,
        }
    }
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
#[allow(
    clippy::struct_excessive_bools,
    reason = "each is a flag the user types; clap fills them"
)]
#[derive(Debug, Args)]
pub struct HooksInstallArgs {
    /// Where.
    #[command(flatten)]
    pub target: HooksTargetArgs,
    /// Register `cclive hook` (a process per event, records even with no monitor running)
    /// instead of http hooks.
    #[arg(long)]
    pub command: bool,
    /// Also set Claude Code's status line to `cclive statusline` (cost, today, budget, block,
    /// context, official limits).
    #[arg(long)]
    pub statusline: bool,
    /// With --statusline, when you already have a status line: keep it, run from ours (its
    /// output follows ours).
    #[arg(long, requires = "statusline", conflicts_with = "force")]
    pub chain: bool,
    /// With --statusline, when you already have a status line: replace it (`hooks uninstall`
    /// puts it back).
    #[arg(long, requires = "statusline")]
    pub force: bool,
    /// Also turn on Claude Code's own telemetry (OpenTelemetry, in `settings.env`) and send it
    /// to the monitor: its own cost of every API request, tool timings.
    #[arg(long)]
    pub telemetry: bool,
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

/// `cclive report`.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // independent switches, each one user flag
pub struct ReportArgs {
    /// Which report.
    #[arg(value_enum)]
    pub kind: ReportKindArg,
    /// First day included (YYYY-MM-DD or YYYYMMDD, in the report's zone).
    #[arg(short, long, value_name = "YYYY-MM-DD")]
    pub since: Option<String>,
    /// Last day included (YYYY-MM-DD or YYYYMMDD, in the report's zone).
    #[arg(short, long, value_name = "YYYY-MM-DD")]
    pub until: Option<String>,
    /// daily, weekly, monthly: only the last N days, weeks or months, this one included (1 is
    /// today, this week or this month).
    #[arg(long, value_name = "N", conflicts_with = "since")]
    pub last: Option<u32>,
    /// The zone days and weeks are cut in (IANA name; default: the system zone).
    #[arg(
        short = 'z',
        long,
        visible_alias = "timezone",
        value_name = "Area/City"
    )]
    pub tz: Option<String>,
    /// Only this project: its path, or its last component.
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// A line per model inside each row.
    #[arg(short, long)]
    pub breakdown: bool,
    /// Print JSON (field names in docs/reports.md).
    #[arg(short, long)]
    pub json: bool,
    /// The JSON's shape: cclive's own, or ccusage's (`{daily: [...], totals}`, camelCase) for
    /// tools built on ccusage. Implies --json.
    #[arg(long, value_enum, value_name = "SHAPE")]
    pub json_format: Option<JsonFormatArg>,
    /// Row order: `asc` the report's usual order (docs/reports.md), `desc` reversed.
    #[arg(short, long, value_enum, value_name = "ORDER")]
    pub order: Option<OrderArg>,
    /// Only the columns that matter (period, models, total tokens, cost), for narrow terminals
    /// and screenshots.
    #[arg(long)]
    pub compact: bool,
    /// Accepted for ccusage's users: cclive always prices from its local price table.
    #[arg(short = 'O', long, hide = true)]
    pub offline: bool,
    /// The first day of a week.
    #[arg(long, value_enum, value_name = "DAY")]
    pub week_start: Option<WeekStartArg>,
    /// blocks: a token limit per block, as a number or `max` (the highest finished block).
    #[arg(short, long, value_name = "N|max")]
    pub token_limit: Option<String>,
    /// blocks: only the active block.
    #[arg(short, long)]
    pub active: bool,
    /// blocks: only the last 3 days' blocks (the active one included).
    #[arg(short, long)]
    pub recent: bool,
    /// blocks: a block's length in hours (default 5, Claude's window).
    #[arg(short = 'n', long, value_name = "HOURS")]
    pub session_length: Option<f64>,
    /// sessions: write them as an iCalendar file instead of the table (one event per session;
    /// `-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub ics: Option<std::path::PathBuf>,
    /// Read the team server's history instead of this machine's (`models` and `projects`, per
    /// person; what your role may see). Needs --token-file or CCLIVE_TEAM_TOKEN.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// A file holding your team token (with --server).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub token_file: Option<std::path::PathBuf>,
}

/// The shape of `report --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JsonFormatArg {
    /// cclive's own (docs/reports.md).
    Cclive,
    /// ccusage 20's.
    Ccusage,
}

/// The order of a report's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OrderArg {
    /// The report's usual order.
    Asc,
    /// Reversed.
    Desc,
}

/// The reports of `cclive report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKindArg {
    /// Per day.
    Daily,
    /// Per week.
    Weekly,
    /// Per calendar month.
    Monthly,
    /// Per session.
    Sessions,
    /// Per project.
    Projects,
    /// Per model.
    Models,
    /// Per 5-hour block (subscription windows).
    Blocks,
    /// Per tool: most used, slowest, error rates; time in the API vs tools vs waiting for you.
    Tools,
}

/// The first day of a week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WeekStartArg {
    /// ISO weeks.
    Monday,
    /// US weeks.
    Sunday,
}

impl From<WeekStartArg> for cclive_core::report::WeekStart {
    fn from(arg: WeekStartArg) -> Self {
        match arg {
            WeekStartArg::Monday => cclive_core::report::WeekStart::Monday,
            WeekStartArg::Sunday => cclive_core::report::WeekStart::Sunday,
        }
    }
}

/// `cclive budget`.
#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// Print one line and exit 0 under 80 % of every limit, 10 at or over 80 %, 11 at or over
    /// 100 % (any period).
    #[arg(long)]
    pub check: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// The zone periods are cut in (default: `[budget] timezone`, else the system zone).
    #[arg(long, value_name = "Area/City")]
    pub tz: Option<String>,
    /// The first day of a week (default: `[budget] week_start`, else monday).
    #[arg(long, value_enum, value_name = "DAY")]
    pub week_start: Option<WeekStartArg>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status line's own parse gives what the whole command line gives, and leaves
    /// everything else (help, errors, other subcommands) to it.
    #[test]
    fn the_status_lines_parse_agrees_with_the_whole_command_line() {
        let taken: &[&[&str]] = &[
            &["cclive", "statusline"],
            &[
                "cclive",
                "statusline",
                "--chain",
                "echo hi",
                "--listen",
                "127.0.0.1:9",
            ],
            &[
                "cclive",
                "statusline",
                "-vv",
                "--db",
                "/x.db",
                "--config=/c.toml",
            ],
            &[
                "cclive",
                "statusline",
                "--replaced",
                "old",
                "--no-color",
                "--state-file",
                "s",
            ],
            &["cclive", "statusline", "--color", "always"],
        ];
        for args in taken {
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            let whole = Cli::try_parse_from(&args).unwrap();
            let ours = Cli::statusline_from(&args).unwrap();
            assert_eq!(format!("{ours:?}"), format!("{whole:?}"), "{args:?}");
        }
        let left: &[&[&str]] = &[
            &["cclive"],
            &["cclive", "status"],
            &["cclive", "-v", "statusline"],
            &["cclive", "statusline", "--help"],
            &["cclive", "statusline", "--version"],
            &["cclive", "statusline", "--bogus"],
            &["cclive", "statusline", "extra"],
            &["cclive", "statusline", "--color", "blue"],
            &["cclive", "statusline", "--color", "never", "--no-color"],
        ];
        for args in left {
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            assert!(Cli::statusline_from(&args).is_none(), "{args:?}");
        }
    }
}
