//! `cclive db check|recover`: whether the history database is sound, and the way forward from a
//! damaged one.
//!
//! `check` runs the store's read-only check and says what to do next. `recover` refuses while a
//! monitor holds the data dir (and holds the monitor lock itself, so none starts meanwhile),
//! has the store move the damaged file aside and rescue its readable rows, then re-reads the
//! transcripts still on disk and the hook spool through the normal import (its usage merge is
//! idempotent, so re-reading counts nothing twice) and drops the events that re-reading stored
//! again. It never deletes the damaged file.

use std::process::ExitCode;

use anyhow::{Context, bail};
use cclive_store::check::{self, CheckDepth, CheckReport, Verdict};
use cclive_store::recover::{self, RecoverReport};
use serde_json::json;

use crate::cli::{DbAction, DbArgs, DbCheckArgs, DbRecoverArgs};
use crate::config::Settings;
use crate::ingest::import::{self, ImportOptions, ImportReport};
use crate::monitor::lock::{self, Claim};
use crate::output::display;

/// The exit code of a check that could not finish because another process kept the database
/// locked (`EX_TEMPFAIL`: try again).
const EXIT_BUSY: u8 = 75;

pub(super) fn run(args: &DbArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    match &args.action {
        DbAction::Check(a) => run_check(a, settings),
        DbAction::Recover(a) => run_recover(a, settings),
    }
}

fn run_check(args: &DbCheckArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let depth = if args.full {
        CheckDepth::Full
    } else {
        CheckDepth::Quick
    };
    let report = check::check(&settings.db.value, depth)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&check_json(&report)?)?);
    } else {
        print!("{}", check_text(&report));
    }
    Ok(match report.verdict {
        Verdict::Healthy | Verdict::Missing => ExitCode::SUCCESS,
        Verdict::Busy => ExitCode::from(EXIT_BUSY),
        _ => ExitCode::from(1),
    })
}

/// `cclive db check --json`: the report and what to do next.
fn check_json(report: &CheckReport) -> serde_json::Result<serde_json::Value> {
    let mut v = serde_json::to_value(report)?;
    v["next"] = display::db_advice(report.verdict, &report.path).into();
    Ok(v)
}

fn check_text(report: &CheckReport) -> String {
    use std::fmt::Write as _;
    let db = report.path.display();
    let kind = if report.full { "full" } else { "quick" };
    let version = report
        .schema_version
        .map_or_else(|| "unknown".to_owned(), |v| v.to_string());
    let mut out = match report.verdict {
        Verdict::Healthy => format!(
            "✔ {db}: healthy ({kind} integrity check, foreign keys and schema version {version} \
             all fine)\n"
        ),
        Verdict::Missing => format!("· {db}: no database yet\n"),
        Verdict::Busy => format!("! {db}: busy, not checked\n"),
        Verdict::NewerSchema => format!(
            "✘ {db}: schema version {version}, newer than this cclive knows ({})\n",
            report.supported_version
        ),
        _ => format!("✘ {db}: DAMAGED ({kind} check found)\n"),
    };
    for problem in &report.problems {
        let _ = writeln!(out, "    {problem}");
    }
    if report.verdict != Verdict::Healthy {
        let _ = writeln!(
            out,
            "Next: {}.",
            display::db_advice(report.verdict, &report.path)
        );
    }
    out
}

fn run_recover(args: &DbRecoverArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let db = &settings.db.value;
    let before = check::check(db, CheckDepth::Quick)?;
    match before.verdict {
        Verdict::Missing => bail!("there is no history database at {}", db.display()),
        Verdict::NewerSchema => bail!(
            "{} was written by a newer cclive (schema version {}); upgrade cclive instead of \
             recovering it",
            db.display(),
            before.schema_version.unwrap_or_default()
        ),
        Verdict::Busy => bail!(
            "{} is locked by another process; stop the monitor and try again",
            db.display()
        ),
        Verdict::Healthy if !args.force => {
            println!(
                "{} passes the check: nothing to recover (`--force` rebuilds it anyway).",
                db.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    if args.dry_run {
        let survey = recover::survey(db)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&survey)?);
        } else {
            print!("{}", rescue_text(&survey, true));
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Held until the end: no monitor starts on the half-rebuilt database.
    let _lock = match lock::claim(db).context("taking the monitor lock")? {
        Claim::Acquired(lock) => lock,
        Claim::Held(record) => bail!(
            "a monitor holds this data dir ({}); stop it (Ctrl-C where it runs, or kill its \
             pid) and run `cclive db recover` again",
            record.map_or_else(|| "pid unknown".to_owned(), |r| r.describe())
        ),
    };
    // Before the file is moved aside: a bad price file must fail while nothing has changed.
    let prices = settings.prices()?;
    let (store, rescue) = recover::recover(db, jiff::Timestamp::now())?;
    let from_events =
        crate::history::rebuild::sessions_from_events(&store, &rescue.orphans, &prices)?;
    // Events stored from here on that repeat one stored before are re-reads.
    let mark = store.last_event_id()?;
    let options = ImportOptions {
        drain_hook_spool: Some(db.clone()),
        ..ImportOptions::default()
    };
    let moved = rescue
        .moved_to
        .as_ref()
        .map_or_else(String::new, |p| p.display().to_string());
    let imported = import::import(
        &settings.claude_config_dirs.value,
        &store,
        &prices,
        &options,
    )
    .with_context(|| format!("re-reading the transcripts (the damaged file is at {moved})"))?;
    let repeated = store
        .drop_repeated_events(mark)
        .context("dropping events stored twice")?;
    crate::ingest::liveness::finalize_stored(&settings.claude_config_dirs.value, &store, &prices)?;
    drop(store);
    let after = check::check(db, CheckDepth::Quick)?;
    if args.json {
        let v = json!({
            "rescued": rescue,
            "import": imported,
            "repeated_events_dropped": repeated,
            "sessions_rebuilt_from_events": from_events,
            "verdict": after.verdict,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", rescue_text(&rescue, false));
        if from_events > 0 {
            println!(
                "Rebuilt {from_events} sessions whose rows were lost from their {} stored events.",
                rescue.orphaned_events
            );
        }
        println!("{}", import_text(&imported));
        if after.verdict == Verdict::Healthy {
            println!("{} is ready: the check finds it healthy.", db.display());
        } else {
            print!("{}", check_text(&after));
        }
    }
    Ok(if after.verdict == Verdict::Healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn rescue_text(report: &RecoverReport, dry_run: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if let Some(aside) = &report.moved_to {
        let _ = writeln!(
            out,
            "The damaged database is kept at {} (delete it yourself once you no longer need it).",
            aside.display()
        );
    }
    if !report.readable {
        let _ = writeln!(
            out,
            "Nothing could be read from it: the history is rebuilt from the transcripts alone."
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{}",
        if dry_run {
            "Would rescue (a dry run: nothing moved or written):"
        } else {
            "Rescued from it:"
        }
    );
    for t in &report.tables {
        let _ = writeln!(
            out,
            "  {:<14} {:>9} rows{}",
            t.table,
            t.rescued,
            if t.lost > 0 {
                format!(", {} lost", t.lost)
            } else {
                String::new()
            }
        );
    }
    if report.orphaned_events > 0 {
        let _ = writeln!(
            out,
            "  {} events whose session row was lost: the session is rebuilt from them",
            report.orphaned_events
        );
    }
    out
}

fn import_text(report: &ImportReport) -> String {
    use std::fmt::Write as _;
    let mut text = format!(
        "Re-read {} transcripts ({} lines): {} sessions rebuilt or brought up to date, {} API \
         responses",
        report.files, report.lines, report.sessions, report.responses
    );
    if report.spooled_events > 0 {
        let _ = write!(
            text,
            "; {} hook events drained from the spool",
            report.spooled_events
        );
    }
    if !report.errors.is_empty() {
        let _ = write!(text, "; {} files unreadable", report.errors.len());
    }
    text.push('.');
    text
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn report(verdict: Verdict, problems: &[&str]) -> CheckReport {
        CheckReport {
            path: PathBuf::from("/home/me/.local/share/cclive/cclive.db"),
            verdict,
            schema_version: Some(6),
            supported_version: 6,
            full: false,
            problems: problems.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn the_check_report_keeps_its_json_shape() {
        let damaged = report(
            Verdict::Damaged,
            &["Tree 5 page 12 cell 0: invalid page number 4294967295"],
        );
        insta::assert_json_snapshot!("db_check_damaged", check_json(&damaged).unwrap());
        insta::assert_json_snapshot!(
            "db_check_healthy",
            check_json(&report(Verdict::Healthy, &[])).unwrap()
        );
    }

    #[test]
    fn a_damaged_verdict_says_to_recover_and_a_busy_one_to_wait() {
        let text = check_text(&report(Verdict::Damaged, &["page 12: garbage"]));
        assert!(
            text.contains("DAMAGED") && text.contains("page 12"),
            "{text}"
        );
        assert!(text.contains("cclive db recover"), "{text}");
        let text = check_text(&report(Verdict::Busy, &[]));
        assert!(text.contains("again in a moment"), "{text}");
        assert!(!text.contains("recover"), "{text}");
        let text = check_text(&report(Verdict::NewerSchema, &[]));
        assert!(text.contains("upgrade cclive"), "{text}");
    }
}
