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

use std::process::ExitCode;

use crate::cli::{Cli, Command, TeamAction};

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
        // The agent side (`team status`) reads the local database only.
        Command::Team(args) => match &args.action {
            TeamAction::Status(status) => team_status::run(status, &global),
            _ => team::run(&args, &global),
        },
    }
}
