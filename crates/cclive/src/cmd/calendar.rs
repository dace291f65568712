//! `cclive calendar test`: check each `[[calendar]]` without waiting for a session.
//!
//! For each calendar it checks that the URL is a calendar collection the credentials may use
//! (`PROPFIND`), writes a test event (marked as a test, one attempt) and deletes it again, and
//! says for each step what went wrong if it did: refused credentials (401), no such collection
//! (404), not a calendar, or no server answering. Exit code 1 when any failed.

use std::process::ExitCode;

use anyhow::bail;
use cclive_core::calendar::{Planner, Rules};
use cclive_core::{SessionId, SessionState, Status};

use crate::cli::{CalendarAction, CalendarArgs};
use crate::config::Settings;
use crate::sinks::notify::calendar::CalendarSettings;
use crate::sinks::notify::calendar::caldav::{CalDavError, Client, Precondition};
use crate::sinks::notify::settings::redact_url;

/// Runs the subcommand.
pub(super) fn run(args: &CalendarArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    match &args.action {
        CalendarAction::Test(a) => test(a.name.as_deref(), settings),
    }
}

fn test(name: Option<&str>, settings: &Settings) -> anyhow::Result<ExitCode> {
    let targets: Vec<&CalendarSettings> = settings
        .calendars
        .value
        .iter()
        .filter(|c| name.is_none_or(|n| n == c.name))
        .collect();
    if targets.is_empty() {
        match name {
            Some(name) => bail!(
                "no [[calendar]] named {name:?} in {}",
                settings.config_file.value.display()
            ),
            None => bail!(
                "no [[calendar]] in {}; add one (see `cclive config --default`)",
                settings.config_file.value.display()
            ),
        }
    }
    let mut failed = 0;
    for calendar in targets {
        let shown = format!("{} ({})", calendar.name, redact_url(&calendar.url));
        match check(calendar) {
            Ok(()) => println!("ok    {shown}: wrote and deleted a test event"),
            Err((step, e)) => {
                failed += 1;
                println!("FAIL  {shown}: {step}: {e}");
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The three steps; the first failure with the step it failed at.
fn check(calendar: &CalendarSettings) -> Result<(), (&'static str, CalDavError)> {
    let client = Client::new(calendar);
    client
        .check_collection()
        .map_err(|e| ("checking the calendar", e))?;
    let now = jiff::Timestamp::now();
    let id = format!("cclive-test-{}", uuid::Uuid::new_v4());
    let mut session = SessionState::new(SessionId::new(&id), now);
    session.status = Status::Completed;
    session.ended_at = Some(now + jiff::SignedDuration::from_mins(1));
    session.cwd = Some("cclive calendar test".into());
    let mut planner = Planner::new(Rules::default());
    let uid = planner.apply(&session).unwrap_or_default().to_owned();
    let Some(block) = planner.block(&uid) else {
        unreachable!("the planner takes every session without a project filter")
    };
    let ics = cclive_core::ics::block_calendar(block, "cclive test event", None, now);
    let written = client
        .put(&uid, &ics, &Precondition::Create)
        .map_err(|e| ("writing a test event", e))?;
    client
        .delete(&uid, written.etag.as_deref())
        .map_err(|e| ("deleting the test event", e))?;
    Ok(())
}
