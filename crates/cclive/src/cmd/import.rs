//! `cclive import`: read the whole existing history into the store.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::{GlobalArgs, ImportArgs};
use crate::config::Settings;
use crate::ingest::import::{self, ImportOptions};
use crate::output::display;

/// Imports, then finalizes sessions whose claude is gone, and prints a report.
pub(super) fn run(args: &ImportArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_process(global, None)?;
    let store = super::open_store(&settings)?;
    let prices = super::load_prices(&settings)?;
    let mut options = ImportOptions {
        progress: !args.quiet && std::io::stderr().is_terminal(),
        drain_hook_spool: Some(settings.db.value.clone()),
        ..ImportOptions::default()
    };
    if let Some(t) = args.threads {
        options.threads = t.max(1);
    }
    let report = import::import(
        &settings.claude_config_dirs.value,
        &*store,
        &prices,
        &options,
    )?;
    let finalized = crate::ingest::liveness::finalize_stored(
        &settings.claude_config_dirs.value,
        &*store,
        &prices,
    )?;
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["finalized_sessions"] = finalized.into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "Imported {} of {} transcripts ({} unchanged) in {}: {} read, {} lines, {} sessions, {} API responses.",
            report.files_read,
            report.files,
            report.files_unchanged,
            display::duration_ms(report.elapsed_ms),
            display::bytes(report.bytes),
            display::count(report.lines),
            report.sessions,
            report.responses,
        );
        if report.malformed > 0 {
            println!(
                "Skipped {} unreadable lines (see `cclive doctor`).",
                report.malformed
            );
        }
        for e in &report.errors {
            eprintln!("cclive: warning: could not read {e}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
