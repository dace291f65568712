//! `cclive import`: read the whole existing history into the store.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::ImportArgs;
use crate::config::Settings;
use crate::ingest::import::{self, ImportOptions, ImportReport};
use crate::output::display;

/// Imports, then finalizes sessions whose claude is gone, and prints a report.
pub(super) fn run(args: &ImportArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = settings.open_store()?;
    let prices = settings.prices()?;
    let mut options = ImportOptions {
        progress: !args.quiet && std::io::stderr().is_terminal(),
        drain_hook_spool: Some(settings.db.value.clone()),
        // Sessions whose claude is gone end before they are stored, not read back after.
        finalize: true,
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
    // Sessions stored before (a monitor's, `cclive run`'s) whose claude is gone.
    let finalized = report.finalized
        + crate::ingest::liveness::finalize_stored(
            &settings.claude_config_dirs.value,
            &*store,
            &prices,
        )?;
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        v["finalized_sessions"] = finalized.into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", summary(&report));
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

/// "1 transcript", "329 transcripts".
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", display::count(n), if n == 1 { one } else { many })
}

/// What an import did, in one sentence: "329 transcripts, all up to date" when nothing was new
/// (a file whose last line is still unfinished is looked at again, yet brings nothing).
fn summary(report: &ImportReport) -> String {
    let took = display::duration_ms(report.elapsed_ms);
    let files = plural(report.files as u64, "transcript", "transcripts");
    if report.files == 0 {
        return format!("No transcripts found ({took}).");
    }
    if report.lines == 0 {
        return format!("{files}, all up to date: nothing new ({took}).");
    }
    format!(
        "{files}: read {} ({}) from {} in {took} ({} up to date); {}, {}.",
        plural(report.lines, "new line", "new lines"),
        display::bytes(report.bytes),
        plural(report.files_read as u64, "changed one", "changed ones"),
        display::count(report.files_unchanged as u64),
        plural(
            report.sessions as u64,
            "session updated",
            "sessions updated"
        ),
        plural(report.responses as u64, "API response", "API responses"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(files: usize, read: usize, lines: u64) -> ImportReport {
        ImportReport {
            files,
            files_read: read,
            files_unchanged: files - read,
            bytes: lines * 1000,
            lines,
            sessions: usize::from(lines > 0),
            responses: usize::try_from(lines / 2).unwrap(),
            elapsed_ms: 1200,
            ..ImportReport::default()
        }
    }

    #[test]
    fn an_import_that_finds_nothing_new_says_so() {
        // Nine files were looked at again (an unfinished last line), yet nothing changed.
        let text = summary(&report(329, 9, 0));
        assert!(
            text.starts_with("329 transcripts, all up to date"),
            "{text}"
        );
        assert!(!text.contains("Imported 9 of"), "{text}");
    }

    #[test]
    fn an_import_with_new_lines_counts_them_in_the_singular_too() {
        let text = summary(&report(2, 1, 1));
        assert!(text.contains("read 1 new line ("), "{text}");
        assert!(text.contains("from 1 changed one"), "{text}");
        assert!(text.contains("1 session updated"), "{text}");
        assert_eq!(summary(&report(0, 0, 0)), "No transcripts found (1.2 s).");
    }
}
