//! `cclive sessions`: past sessions from the history database, newest first.

use std::process::ExitCode;

use cclive_store::{SessionQuery, Store};

use crate::cli::{GlobalArgs, SessionsArgs};
use crate::config::Settings;
use crate::output::display;
use crate::output::term::Term;

/// Lists sessions as a table or JSON.
pub(super) fn run(
    args: &SessionsArgs,
    settings: &Settings,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    let sessions = match settings.open_existing_store()? {
        Some(store) => store.sessions(&SessionQuery {
            limit: Some(args.limit),
            ..SessionQuery::default()
        })?,
        None => Vec::new(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&sessions)?);
    } else if sessions.is_empty() {
        println!("No sessions recorded yet. Run one with: cclive run -- -p \"your question\"");
    } else {
        crate::output::term::print(&display::sessions_table(&sessions, Term::stdout(global)))?;
    }
    Ok(ExitCode::SUCCESS)
}
