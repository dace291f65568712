//! One file per subcommand; the dispatch `match` lives here and nowhere else.
//!
//! Cheap commands (`config`) return before anything expensive (opening the database) happens.

mod budget;
mod calendar;
mod config;
mod dashboard;
mod db;
mod doctor;
mod export;
mod hook;
mod hooks;
mod import;
mod import_events;
mod prices;
mod replay;
mod report;
mod run;
mod server;
mod sessions;
mod status;
mod statusline;
mod team;
mod team_status;
mod top;
mod watch;
mod webhooks;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cclive_core::PriceTable;
use cclive_store::SqliteStore;

use crate::cli::{Cli, Command};
use crate::config::Settings;

/// Runs the subcommand.
pub(crate) fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = cli.global;
    match cli.command {
        Command::Config(args) => config::run(&args, &global),
        Command::Run(args) => run::run(args, &global),
        Command::Ask(args) => run::ask(args, &global),
        Command::Status(args) => status::run(&args, &global),
        Command::Sessions(args) => sessions::run(&args, &global),
        Command::Import(args) => import::run(&args, &global),
        Command::Watch(args) => watch::run(&args, &global),
        Command::Dashboard(args) => dashboard::run(&args, &global),
        Command::Doctor(args) => doctor::run(&args, &global),
        Command::Db(args) => db::run(&args, &global),
        Command::Report(args) => report::run(&args, &global),
        Command::Budget(args) => budget::run(&args, &global),
        Command::Hooks(args) => hooks::run(&args, &global),
        Command::Hook(args) => Ok(hook::run(&args, &global)),
        Command::Webhooks(args) => webhooks::run(&args, &global),
        Command::Calendar(args) => calendar::run(&args, &global),
        Command::Export(args) => export::run(&args, &global),
        Command::ImportEvents(args) => import_events::run(&args, &global),
        Command::Replay(args) => replay::run(&args, &global),
        Command::Top(args) => top::run(&args, &global),
        Command::Statusline(args) => Ok(statusline::run(&args, &global)),
        Command::Prices(args) => prices::run(&args, &global),
        Command::Server(args) => server::run(&args, &global),
        Command::Team(args) => team::run(&args, &global),
    }
}

/// Opens (creating if needed) the history database, for modules outside `cmd`.
pub(crate) fn open_store_for(settings: &Settings) -> anyhow::Result<Arc<SqliteStore>> {
    open_store(settings)
}

/// Opens (creating if needed) the history database.
fn open_store(settings: &Settings) -> anyhow::Result<Arc<SqliteStore>> {
    let path = &settings.db.value;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let store = SqliteStore::open(path)
        .with_context(|| format!("opening the history database {}", path.display()))?;
    Ok(Arc::new(store))
}

/// Opens the history database only if it exists (read-only commands create nothing).
fn open_existing_store(settings: &Settings) -> anyhow::Result<Option<Arc<SqliteStore>>> {
    if Path::new(&settings.db.value).exists() {
        open_store(settings).map(Some)
    } else {
        Ok(None)
    }
}

/// The price table: the user's file if configured (else `prices.json` beside the config file,
/// where `cclive prices sync` writes, when present), else the built-in one.
pub(crate) fn load_prices(settings: &Settings) -> anyhow::Result<PriceTable> {
    match prices::user_file(settings) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the price table {}", path.display()))?;
            PriceTable::parse(&text)
                .with_context(|| format!("in the price table {}", path.display()))
        }
        None => Ok(PriceTable::builtin()),
    }
}
