//! `cclive doctor`: one screen on what cclive sees and what is wrong.
//!
//! Claude found (and its version), the config dirs and their transcripts, hooks installed or
//! not, Claude Code's `cleanupPeriodDays` and what it is about to delete, whether a monitor
//! answers, the history database's size and health (`cclive db check`'s quick check), the price
//! table (and models the installed Claude Code knows that it lacks, sessions left unpriced), and
//! transcripts with unreadable lines.
//! Read-only: it changes nothing. Each finding says what to do about it.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use cclive_core::PriceTable;
use cclive_store::{SessionQuery, Store};

use crate::claude_config::settings::{self as claude_settings, HookSpec, Mode};
use crate::cli::DoctorArgs;
use crate::config::Settings;
use crate::ingest::discover;
use crate::ingest::tail::FileTail;
use crate::ingest::transcripts::TranscriptReader;
use crate::monitor::client as monitor_client;
use crate::monitor::session_monitor::resolve_claude;
use crate::output::display;

/// Claude Code's default transcript retention.
const DEFAULT_CLEANUP_DAYS: u64 = 30;

pub(super) fn run(args: &DoctorArgs, settings: &Settings) -> ExitCode {
    let mut screen = Screen::default();

    let claude = resolve_claude(settings.claude_bin.value.as_deref());
    match &claude {
        Ok(path) => {
            let version = claude_version(path).unwrap_or_else(|| "version unknown".into());
            screen.check(true, &format!("claude: {} ({version})", path.display()));
        }
        Err(e) => screen.check(false, &format!("claude: {e}")),
    }
    let prices = check_prices(&mut screen, settings, claude.ok().as_deref());

    let exe = std::env::current_exe().map_or_else(|_| "cclive".into(), |p| p.display().to_string());
    let spec = HookSpec {
        mode: Mode::Http,
        url: claude_settings::hooks_url(&settings.listen.value),
        command: claude_settings::hook_command(&exe, None),
        token: settings.monitor_token.is_some(),
    };
    let now = SystemTime::now();
    for dir in &settings.claude_config_dirs.value {
        if !dir.is_dir() {
            screen.info(&format!("· {}: not present", dir.display()));
            continue;
        }
        let (found, errors) = discover::transcripts(std::slice::from_ref(dir));
        let bytes: u64 = found.iter().map(|f| f.size).sum();
        screen.check(
            errors.is_empty(),
            &format!(
                "{}: {} transcripts, {}{}",
                dir.display(),
                found.len(),
                display::bytes(bytes),
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(", {} folders unreadable", errors.len())
                }
            ),
        );
        let settings_json = std::fs::read(dir.join("settings.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .unwrap_or_default();
        let status = claude_settings::status(&settings_json, &spec);
        let installed = status.iter().filter(|s| !s.installed.is_empty()).count();
        // Optional: without hooks cclive still works (registry, transcripts), so a warning.
        let hooks = format!("  hooks: {installed} of {} events registered", status.len());
        if installed == status.len() {
            screen.check(true, &hooks);
        } else {
            screen.warn(&format!(
                "{hooks} — run `cclive hooks install` for exact start and stop"
            ));
        }
        // Optional: a missing export is a hint, not a fault.
        let telemetry = crate::claude_config::telemetry::status(
            &settings_json,
            &crate::claude_config::telemetry::endpoint(&settings.listen.value),
        );
        screen.info(&format!(
            "  telemetry: {telemetry}{}",
            if telemetry == "none" {
                " — `cclive hooks install --telemetry` adds Claude Code's own cost per request"
            } else {
                ""
            }
        ));
        let days = settings_json["cleanupPeriodDays"]
            .as_u64()
            .unwrap_or(DEFAULT_CLEANUP_DAYS);
        let cutoff = now
            .checked_sub(Duration::from_secs(days * 86_400))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let old = found
            .iter()
            .filter(|f| {
                std::fs::metadata(&f.path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| m < cutoff)
            })
            .count();
        screen.info(&format!(
            "  cleanupPeriodDays: {days}{} — {old} transcripts are older and will be deleted by Claude Code{}",
            if settings_json["cleanupPeriodDays"].is_null() { " (default)" } else { "" },
            if old > 0 { "; cclive's history keeps their usage once imported (`cclive import`)" } else { "" }
        ));
        if args.scan {
            let mut bad = Vec::new();
            for f in &found {
                let n = malformed_lines(&f.path);
                if n > 0 {
                    bad.push((f.path.clone(), n));
                }
            }
            screen.check(
                bad.is_empty(),
                &format!("  unreadable lines: {} files have some", bad.len()),
            );
            for (path, n) in bad.iter().take(10) {
                screen.info(&format!("      {n:>5}  {}", path.display()));
            }
        }
    }

    // The monitor of this data dir, wherever it listens (its lock records where), else
    // whatever answers at the configured address.
    let running = crate::monitor::lock::running(&settings.db.value);
    let monitor_addr = running
        .as_ref()
        .and_then(crate::monitor::lock::MonitorRecord::addr)
        .unwrap_or_else(|| settings.listen.value.clone());
    if let Some(record) = running.as_ref().filter(|r| r.url.is_none()) {
        screen.check(true, &format!("monitor: running ({})", record.describe()));
    }
    match monitor_client::get(
        &monitor_addr,
        settings.client_token(),
        "/healthz",
        Duration::from_millis(300),
    ) {
        _ if running.as_ref().is_some_and(|r| r.url.is_none()) => {}
        Ok(r) if r.status == 200 && String::from_utf8_lossy(&r.body).contains("cclive") => {
            let pid = serde_json::from_slice::<serde_json::Value>(&r.body)
                .map(|v| v["pid"].to_string())
                .unwrap_or_default();
            screen.check(
                true,
                &format!("monitor: running at http://{monitor_addr} (pid {pid})"),
            );
        }
        Ok(r) if r.status == 401 && String::from_utf8_lossy(&r.body).contains("cclive") => screen
            .check(
                false,
                &format!(
                    "monitor: running at http://{monitor_addr}, but it wants its token: set \
                     CCLIVE_TOKEN to it (and run `cclive hooks install` again with it set)"
                ),
            ),
        Ok(_) => screen.check(
            false,
            &format!("monitor: something else answers at {monitor_addr}; pick another --listen"),
        ),
        Err(_) => match &running {
            Some(record) => screen.check(
                false,
                &format!(
                    "monitor: {} holds this data dir but does not answer; stop it and start \
                     `cclive watch` again",
                    record.describe()
                ),
            ),
            None => screen.info("· monitor: not running (start one with `cclive watch`)"),
        },
    }

    let db = &settings.db.value;
    if !db.exists() {
        screen.info(&format!(
            "· history: {} not created yet (`cclive import` or `cclive watch`)",
            db.display()
        ));
    } else if check_history(&mut screen, db) {
        match settings.open_existing_store() {
            Ok(Some(store)) => {
                let sessions = store.sessions(&SessionQuery::default());
                let size = file_size(db) + file_size(&db.with_extension("db-wal"));
                if let (Ok(all), Some(prices)) = (&sessions, &prices) {
                    check_unpriced(&mut screen, all, prices);
                }
                let sessions = sessions.map(|s| s.len());
                match sessions {
                    Ok(n) => screen.check(
                        true,
                        &format!(
                            "history: {} ({n} sessions, {})",
                            db.display(),
                            display::bytes(size)
                        ),
                    ),
                    Err(e) => screen.check(
                        false,
                        &format!("history: {} cannot be read: {e}", db.display()),
                    ),
                }
            }
            Ok(None) => {}
            Err(e) => screen.check(
                false,
                &format!(
                    "history: {e:#}{}",
                    crate::errors::hint_for(&e).map_or_else(String::new, |h| format!(" — {h}"))
                ),
            ),
        }
    }
    if !args.scan {
        screen
            .info("· run `cclive doctor --scan` to look for unreadable lines in every transcript");
    }
    print!("{}", screen.out);
    if screen.problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The history database's integrity (`cclive db check`'s quick check, read-only). False when it
/// is damaged or written by a newer cclive: then it is not opened.
fn check_history(screen: &mut Screen, db: &Path) -> bool {
    use cclive_store::check::{CheckDepth, Verdict, check};
    match check(db, CheckDepth::Quick) {
        Ok(r) if r.verdict.is_usable() => true,
        Ok(r) if r.verdict == Verdict::Busy => {
            screen.warn(&format!(
                "history: {} is locked by another process; its integrity was not checked",
                db.display()
            ));
            true
        }
        Ok(r) => {
            screen.check(
                false,
                &format!(
                    "history: {} is {} ({}) — {}",
                    db.display(),
                    if r.verdict == Verdict::Damaged {
                        "DAMAGED"
                    } else {
                        "not usable by this cclive"
                    },
                    r.problems.first().map_or("no detail", String::as_str),
                    display::db_advice(r.verdict, db)
                ),
            );
            false
        }
        Err(e) => {
            screen.check(false, &format!("history: {:#}", anyhow::Error::from(e)));
            false
        }
    }
}

/// The price table in use, and whether the installed Claude Code knows models it lacks.
fn check_prices(
    screen: &mut Screen,
    settings: &Settings,
    claude: Option<&Path>,
) -> Option<PriceTable> {
    let table = match settings.prices() {
        Ok(t) => t,
        Err(e) => {
            screen.check(false, &format!("prices: {e:#}"));
            return None;
        }
    };
    let origin = settings
        .user_prices_file()
        .map_or_else(|| "built-in".to_owned(), |p| p.display().to_string());
    let source = table.source.as_deref().unwrap_or("no source given");
    let installed = claude.map(crate::claude_config::price_catalog::installed_table);
    match installed {
        Some(Ok(installed)) => {
            let missing = table.missing_from(&installed);
            screen.check(
                missing.is_empty(),
                &if missing.is_empty() {
                    format!(
                        "prices: {origin} ({source}), {} models; the installed Claude Code knows no other",
                        table.models.len()
                    )
                } else {
                    format!(
                        "prices: {origin} ({source}) lacks {} models the installed Claude Code knows ({}) — their cost shows as unpriced; run `cclive prices sync`",
                        missing.len(),
                        missing.join(", ")
                    )
                },
            );
        }
        Some(Err(e)) => screen.info(&format!(
            "· prices: {origin} ({source}); the installed Claude Code's catalog was not read: {e:#}"
        )),
        None => screen.info(&format!("· prices: {origin} ({source})")),
    }
    Some(table)
}

/// Sessions in the history whose usage has no price, and how to price them.
fn check_unpriced(
    screen: &mut Screen,
    sessions: &[cclive_core::SessionState],
    prices: &PriceTable,
) {
    let mut models: Vec<&str> = sessions
        .iter()
        .flat_map(|s| s.unpriced_models.iter().map(String::as_str))
        .filter(|m| prices.lookup(m).is_none())
        .collect();
    let affected = sessions
        .iter()
        .filter(|s| !s.unpriced_models.is_empty())
        .count();
    models.sort_unstable();
    models.dedup();
    if affected > 0 {
        screen.check(
            false,
            &format!(
                "unpriced: {affected} sessions used models with no price ({}) — their cost is unknown, not $0; run `cclive prices sync` or add the models to your price file (`prices_file`; format: `cclive prices --json`)",
                models.join(", ")
            ),
        );
    }
}

/// The lines printed, and how many of them are problems.
#[derive(Default)]
struct Screen {
    out: String,
    problems: usize,
}

impl Screen {
    /// A finding: ✔ when fine, ✘ (a problem) when not.
    fn check(&mut self, ok: bool, text: &str) {
        let _ = writeln!(self.out, "{} {text}", if ok { "✔" } else { "✘" });
        if !ok {
            self.problems += 1;
        }
    }

    /// Something optional missing: ! , not a problem (the exit code stays 0).
    fn warn(&mut self, text: &str) {
        let _ = writeln!(self.out, "! {text}");
    }

    /// A neutral line.
    fn info(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }
}

fn claude_version(path: &Path) -> Option<String> {
    let mut child = std::process::Command::new(path)
        .arg("--version")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .stdin(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while child.try_wait().ok()?.is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn malformed_lines(path: &Path) -> u64 {
    let Ok(mut tail) = FileTail::open(path, None) else {
        return 0;
    };
    let mut reader = TranscriptReader::new(path);
    let mut sink = Vec::new();
    let now = jiff::Timestamp::now();
    loop {
        match tail.read_new(8 * 1024 * 1024, |l| {
            reader.line(l, now, &mut sink);
            sink.clear();
        }) {
            Ok(o) if o.more => {}
            _ => return reader.malformed,
        }
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
