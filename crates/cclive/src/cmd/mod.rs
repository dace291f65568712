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

use crate::cli::{Cli, Command, GlobalArgs, TeamAction};
use crate::config::{ConfigError, Settings};

/// Runs the subcommand with the settings resolved once, here.
pub(crate) fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = cli.global;
    let settings = resolve(&global, &cli.command);
    match cli.command {
        // These take the outcome as it is: `config --default` needs no settings, and the hook
        // and the status line fail open (Claude Code must never see an error from them).
        Command::Config(args) => config::run(&args, settings),
        Command::Hook(args) => Ok(hook::run(&args, settings.as_ref())),
        Command::Statusline(args) => Ok(statusline::run(&args, settings.as_ref())),
        command => run_with(command, &settings?, &global),
    }
}

/// The settings for `command`: its `--listen` and session flags over the file and the
/// environment.
fn resolve(global: &GlobalArgs, command: &Command) -> Result<Settings, ConfigError> {
    let (listen, session) = match command {
        Command::Run(a) => (None, Some(&a.session)),
        Command::Ask(a) => (None, Some(&a.session)),
        Command::Watch(a) => (a.listen.as_deref(), None),
        Command::Top(a) => (a.listen.as_deref(), None),
        Command::Replay(a) => (a.listen.as_deref(), None),
        Command::Hook(a) => (a.listen.as_deref(), None),
        Command::Statusline(a) => (a.listen.as_deref(), None),
        Command::Hooks(a) => (a.action.target().listen.as_deref(), None),
        _ => (None, None),
    };
    Settings::from_process(global, session, listen)
}

fn run_with(
    command: Command,
    settings: &Settings,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run(args) => run::run(args, settings, global),
        Command::Ask(args) => run::ask(args, settings, global),
        Command::Status(args) => status::run(&args, settings, global),
        Command::Sessions(args) => sessions::run(&args, settings, global),
        Command::Import(args) => import::run(&args, settings),
        Command::Watch(args) => watch::run(&args, settings),
        Command::Dashboard(args) => dashboard::run(&args, settings),
        Command::Doctor(args) => Ok(doctor::run(&args, settings)),
        Command::Db(args) => db::run(&args, settings),
        Command::Report(args) => report::run(&args, settings, global),
        Command::Budget(args) => budget::run(&args, settings, global),
        Command::Hooks(args) => hooks::run(&args, settings),
        Command::Webhooks(args) => webhooks::run(&args, settings),
        Command::Calendar(args) => calendar::run(&args, settings),
        Command::Export(args) => export::run(&args, settings),
        Command::ImportEvents(args) => import_events::run(&args, settings),
        Command::Replay(args) => replay::run(&args, settings),
        Command::Top(args) => top::run(&args, settings, global),
        Command::Prices(args) => prices::run(&args, settings),
        Command::Server(args) => server::run(&args, settings),
        // The agent side (`team status`) reads the local database only.
        Command::Team(args) => match &args.action {
            TeamAction::Status(status) => team_status::run(status, settings),
            _ => team::run(&args, settings),
        },
        Command::Config(_) | Command::Hook(_) | Command::Statusline(_) => {
            unreachable!("dispatched before the settings are required")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::tests::source_lines_where;

    /// A command is a leaf (issue #10): no file under `cmd/` uses a sibling command — what two
    /// commands share lives in a library module they both call — and nothing outside `cmd/`
    /// reaches into a command (`lib.rs` calls the dispatch, nothing else).
    #[test]
    fn commands_are_leaves() {
        // The needles are built so that this test's own lines do not match them.
        let (crate_cmd, up) = (concat!("crate::", "cmd::"), concat!("super", "::"));
        let found = source_lines_where(|file, line| {
            let in_cmd = file.starts_with("cmd");
            // `super` of a file directly in `cmd/` is `cmd` itself: any path through it names a
            // sibling. Deeper files (`cmd/report/text.rs`) may use their own command.
            let top_level = file.parent() == Some(Path::new("cmd"));
            file != Path::new("lib.rs")
                && (line.contains(crate_cmd)
                    || (in_cmd && line.contains(&format!("{up}{up}")))
                    || (top_level && line.contains(up) && !line.contains(&format!("use {up}*;"))))
        });
        assert!(
            found.is_empty(),
            "commands must not use each other; move the shared part into a library module:\n{}",
            found.join("\n")
        );
    }
}
