//! `cclive team status`: this machine's link to its team server, read from the local database
//! (the upload worker records there what the server acknowledged and the last error), so it
//! answers whether or not the monitor runs.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::cli::TeamStatusArgs;
use crate::config::Settings;

pub(super) fn run(args: &TeamStatusArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let state = match settings.open_existing_store()? {
        Some(store) => store.team_agent()?,
        None => None,
    };
    let upstream = settings.team.value.upstream_shown();
    let time = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string());
    if args.json {
        let value = serde_json::json!({
            "upstream": upstream,
            "share_prompts": settings.team.value.share_prompts,
            "machine_id": state.as_ref().map(|s| &s.machine_id),
            "enabled": state.as_ref().is_some_and(|s| s.enabled),
            "pending": state.as_ref().map_or(0, |s| s.pending),
            "acked_seq": state.as_ref().map_or(0, |s| s.acked_seq),
            "outbox_head": state.as_ref().map_or(0, |s| s.last_seq),
            "last_contact_at": state.as_ref().and_then(|s| time(s.last_contact_at)),
            "last_error": state.as_ref().and_then(|s| s.last_error.clone()),
            "last_error_at": state.as_ref().and_then(|s| time(s.last_error_at)),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "upstream      {}",
        upstream.as_deref().unwrap_or("(not configured)")
    );
    match &state {
        None => {
            let _ = writeln!(
                out,
                "machine id    (none yet: team mode was never on for {})",
                settings.db.value.display()
            );
            let _ = writeln!(
                out,
                "\nConnect this machine with `cclive watch --upstream URL --token-file FILE` \
                 (or [team] upstream and token_file in the config file)."
            );
        }
        Some(s) => {
            let _ = writeln!(out, "machine id    {}", s.machine_id);
            let _ = writeln!(
                out,
                "outbox        {}",
                if s.enabled {
                    "on"
                } else {
                    "off (the monitor last ran without team mode)"
                }
            );
            let _ = writeln!(out, "pending       {}", s.pending);
            let _ = writeln!(
                out,
                "acknowledged  up to #{} of #{}",
                s.acked_seq, s.last_seq
            );
            let _ = writeln!(
                out,
                "last contact  {}",
                time(s.last_contact_at).unwrap_or_else(|| "never".into())
            );
            match (&s.last_error, time(s.last_error_at)) {
                (Some(error), at) => {
                    let _ = writeln!(
                        out,
                        "last error    {error} ({})",
                        at.unwrap_or_else(|| "?".into())
                    );
                }
                (None, _) => {
                    let _ = writeln!(out, "last error    none");
                }
            }
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
