//! `cclive hooks install|uninstall|status`: cclive's entries in Claude Code's `settings.json`.
//!
//! A leaf: the edits are pure ([`crate::claude_config::settings`],
//! [`crate::claude_config::telemetry`]) and the careful file handling around them (lock,
//! backup, atomic replace) is [`crate::claude_config::file`]'s; this file picks the targets,
//! runs the edit for each config dir and says what happened.
//! With `CCLIVE_TOKEN` set, `install` writes the token where Claude Code's senders take it from
//! (`claude_config::token`) and says so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::claude_config::file::{Edit, Outcome, Targets, edit_file, read_settings};
use crate::claude_config::settings::{
    self as claude_settings, EXCLUDED_EVENTS, HookSpec, Mode, hook_command, hooks_url,
};
use crate::claude_config::statusline::{
    self as claude_statusline, StatuslineChange, StatuslinePolicy,
};
use crate::claude_config::telemetry::{self as claude_telemetry, TelemetryChange};
use crate::claude_config::token::TokenChange;
use crate::cli::{HooksAction, HooksArgs, HooksTargetArgs};
use crate::config::{Origin, Settings};
use crate::monitor::client as monitor_client;

/// How long `status` waits for the monitor's `/healthz`.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(200);
/// Runs `cclive hooks <action>`.
pub(super) fn run(args: &HooksArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    match &args.action {
        HooksAction::Install(a) => {
            let mode = if a.command { Mode::Command } else { Mode::Http };
            let statusline = a.statusline.then_some(if a.chain {
                StatuslinePolicy::Chain
            } else if a.force {
                StatuslinePolicy::Force
            } else {
                StatuslinePolicy::Refuse
            });
            edit(
                &a.target,
                settings,
                mode,
                a.dry_run,
                Edit::Install {
                    statusline,
                    telemetry: a.telemetry,
                },
            )
        }
        HooksAction::Uninstall(a) => {
            edit(&a.target, settings, Mode::Http, a.dry_run, Edit::Uninstall)
        }
        HooksAction::Status(a) => status(&a.target, settings, a.json),
    }
}

fn resolve(
    target: &HooksTargetArgs,
    settings: &Settings,
    mode: Mode,
) -> anyhow::Result<(Settings, HookSpec, String)> {
    let settings = settings.clone();
    let exe = std::env::current_exe().context("finding the cclive executable")?;
    let exe = exe.to_str().with_context(|| {
        format!(
            "the cclive executable's path is not UTF-8: {}",
            exe.display()
        )
    })?;
    let spec = HookSpec {
        mode,
        url: hooks_url(&settings.listen.value),
        command: hook_command(exe, target.listen.as_deref()),
        token: settings.monitor_token.is_some(),
    };
    let statusline = claude_statusline::statusline_command(exe, target.listen.as_deref());
    Ok((settings, spec, statusline))
}

/// The OTLP endpoint `--telemetry` points Claude Code at.
fn telemetry_endpoint(settings: &Settings) -> String {
    claude_telemetry::endpoint(&settings.listen.value)
}

/// The config dirs to work on: `--config-dir`, else every configured dir that exists. With
/// `create` and none existing, the one Claude Code would create (`$CLAUDE_CONFIG_DIR`'s first
/// entry, else `~/.claude`).
fn config_dirs(settings: &Settings, flag: Option<&Path>, create: bool) -> Vec<PathBuf> {
    if let Some(dir) = flag {
        return vec![dir.to_path_buf()];
    }
    let dirs = &settings.claude_config_dirs;
    let existing: Vec<PathBuf> = dirs.value.iter().filter(|d| d.is_dir()).cloned().collect();
    if !existing.is_empty() || !create {
        return existing;
    }
    let pick = match dirs.origin {
        Origin::Default => dirs.value.last(),
        _ => dirs.value.first(),
    };
    pick.cloned().into_iter().collect()
}

fn edit(
    target: &HooksTargetArgs,
    settings: &Settings,
    mode: Mode,
    dry_run: bool,
    what: Edit,
) -> anyhow::Result<ExitCode> {
    let (settings, spec, statusline) = resolve(target, settings, mode)?;
    let dirs = config_dirs(&settings, target.config_dir.as_deref(), what.install());
    if dirs.is_empty() {
        println!(
            "No Claude Code config dir exists ({}); nothing to do.",
            list(&settings.claude_config_dirs.value)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if what.install() && mode == Mode::Http {
        warn_unreachable(&settings.listen.value);
    }
    if what.install() && settings.monitor_token.is_none() {
        warn_token_needed(&settings.listen.value);
    }
    let mut failures = Vec::new();
    for dir in &dirs {
        let path = dir.join("settings.json");
        let targets = Targets {
            spec: &spec,
            statusline: &statusline,
            telemetry: &telemetry_endpoint(&settings),
            token: settings.client_token(),
        };
        let result = edit_file(&path, dry_run, &targets, what);
        match result {
            Ok(outcome) => print!("{}", describe(&path, &outcome, what, &spec, dry_run)),
            Err(e) if dirs.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("cclive: error: {e:#}");
                failures.push(path);
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {} settings files were left unchanged",
            failures.len(),
            dirs.len()
        );
    }
    if what.install() && !dry_run {
        match mode {
            Mode::Http => println!(
                "Claude Code now POSTs hook events to {} (a non-2xx answer or a {}s timeout never \
                 blocks it); SessionStart and Setup run `cclive hook` (Claude Code sends no http \
                 hooks for them). While nothing answers there, Claude Code carries on but reports \
                 the hooks as failed (a warning per tool call, \"stop hook problem\" after each \
                 turn); `--command` records events with no monitor running and stays quiet.",
                spec.url,
                claude_settings::HTTP_TIMEOUT_SECS
            ),
            Mode::Command => println!(
                "Claude Code now runs `{}` for each hook event; it hands the event to the monitor \
                 at {}, or records it when none runs.",
                spec.command, settings.listen.value
            ),
        }
        println!("Sessions started from now on use them. Undo with `cclive hooks uninstall`.");
    }
    Ok(ExitCode::SUCCESS)
}

/// A monitor that wants a token while none is set here would refuse every hook.
fn warn_token_needed(listen: &str) {
    if let Err(e @ monitor_client::ClientError::NeedsToken) =
        monitor_client::monitor_answers(listen, None, HEALTH_TIMEOUT)
    {
        eprintln!(
            "cclive: warning: {e}; run this again with it set, so that the hooks carry it (else \
             the monitor refuses them and `cclive hook` keeps the events for later)."
        );
    }
}

/// Claude Code refuses http hooks to private non-loopback addresses.
fn warn_unreachable(listen: &str) {
    let target = monitor_client::connect_target(listen);
    let loopback = match target.parse::<std::net::SocketAddr>() {
        Ok(addr) => addr.ip().is_loopback(),
        Err(_) => target.starts_with("localhost:"),
    };
    if !loopback {
        eprintln!(
            "cclive: warning: the monitor's address {listen} is not loopback; Claude Code refuses \
             http hooks to private addresses. Consider `--command`."
        );
    }
}

fn describe(path: &Path, o: &Outcome, what: Edit, spec: &HookSpec, dry_run: bool) -> String {
    let mut out = String::new();
    let (add, remove) = if dry_run {
        ("would add", "would remove")
    } else {
        ("added", "removed")
    };
    let p = path.display();
    statusline_note(&mut out, &o.statusline, &p.to_string(), dry_run);
    telemetry_note(&mut out, &o.telemetry, &p.to_string(), dry_run);
    token_note(&mut out, &o.token, &p.to_string(), dry_run);
    if o.changes.is_empty() {
        let state = match what {
            Edit::Install { .. } => "cclive's hooks are already installed",
            Edit::Uninstall => "no cclive hooks",
        };
        let _ = writeln!(
            out,
            "{p}: {state}; {}.",
            if o.statusline.changed() || o.telemetry.changed() || o.token.changed() {
                "no other change"
            } else {
                "nothing changed"
            }
        );
        lookalike_note(&mut out, o.lookalikes);
        return out;
    }
    if !o.changes.added.is_empty() {
        let (http, command): (Vec<&String>, Vec<&String>) = o
            .changes
            .added
            .iter()
            .partition(|e| spec.mode_for(e) == Mode::Http);
        let _ = write!(
            out,
            "{p}: {add} cclive's hooks for {} events",
            o.changes.added.len()
        );
        if !command.is_empty() && !http.is_empty() {
            let _ = write!(
                out,
                " ({} http, command for {})",
                http.len(),
                join(&command)
            );
        }
        let _ = writeln!(out, "{}.", if o.created { " (new file)" } else { "" });
    }
    if !o.changes.removed.is_empty() {
        let _ = writeln!(
            out,
            "{p}: {remove} cclive's hooks from {} events{}.",
            o.changes.removed.len(),
            if what.install() {
                " (the other delivery)"
            } else {
                ""
            }
        );
    }
    if let Some(backup) = &o.backup {
        let _ = writeln!(out, "  backup: {}", backup.display());
    }
    if o.reformatted {
        let _ = writeln!(
            out,
            "  note: the file is not in the layout cclive writes back; it {} normalized{}",
            if dry_run { "would be" } else { "was" },
            if o.backup.is_some() {
                " (the backup has the original)"
            } else {
                ""
            }
        );
    }
    if what.install() && !o.changes.added.is_empty() {
        let skipped: Vec<&str> = EXCLUDED_EVENTS.iter().map(|(e, _)| *e).collect();
        let _ = writeln!(
            out,
            "  not registered (they would change Claude Code): {}",
            skipped.join(", ")
        );
    }
    lookalike_note(&mut out, o.lookalikes);
    out
}

fn statusline_note(out: &mut String, change: &StatuslineChange, path: &str, dry_run: bool) {
    let is = if dry_run { "would be" } else { "is" };
    let text = match change {
        StatuslineChange::Unchanged | StatuslineChange::Refused(_) => return,
        StatuslineChange::Added => format!("the status line {is} `cclive statusline`"),
        StatuslineChange::Chained(theirs) => format!(
            "the status line {is} `cclive statusline`, running yours (`{theirs}`) and showing \
             its output after ours"
        ),
        StatuslineChange::Replaced(theirs) => format!(
            "the status line {is} `cclive statusline` instead of `{theirs}` (`cclive hooks \
             uninstall` puts it back)"
        ),
        StatuslineChange::Overwritten => format!(
            "the status line {is} `cclive statusline`; the one it replaced had no command to \
             keep (the backup has it)"
        ),
        StatuslineChange::Removed => format!("cclive's status line {is} removed"),
        StatuslineChange::Restored(theirs) => {
            format!("cclive's status line {is} removed and yours (`{theirs}`) back")
        }
    };
    let _ = writeln!(out, "{path}: {text}.");
}

fn telemetry_note(out: &mut String, change: &TelemetryChange, path: &str, dry_run: bool) {
    let text = match change {
        TelemetryChange::Unchanged | TelemetryChange::Refused { .. } => return,
        TelemetryChange::Added(names) => format!(
            "Claude Code's telemetry {} to cclive ({} set in \"env\")",
            if dry_run { "would go" } else { "goes" },
            names.join(", ")
        ),
        TelemetryChange::Removed(names) => format!(
            "cclive's telemetry settings {} removed ({})",
            if dry_run { "would be" } else { "are" },
            names.join(", ")
        ),
    };
    let _ = writeln!(out, "{path}: {text}.");
}

fn token_note(out: &mut String, change: &TokenChange, path: &str, dry_run: bool) {
    if !change.written.is_empty() {
        let _ = writeln!(
            out,
            "{path}: the monitor's token {} written in \"env\" ({}; the file is readable by you \
             only): the http hooks send it (Authorization: Bearer $CCLIVE_TOKEN), `cclive hook` \
             reads it{}.",
            if dry_run { "would be" } else { "is" },
            change.written.join(", "),
            if change.written.contains(&"OTEL_EXPORTER_OTLP_HEADERS") {
                ", the telemetry exporter sends it"
            } else {
                ""
            }
        );
    }
    if change.otlp_headers_theirs {
        let _ = writeln!(
            out,
            "{path}: note: OTEL_EXPORTER_OTLP_HEADERS in \"env\" is yours and was kept, so the \
             telemetry does not carry the monitor's token and is refused; add \
             Authorization=Bearer <token> to it."
        );
    }
    if !change.removed.is_empty() {
        let _ = writeln!(
            out,
            "{path}: the monitor's token {} removed from \"env\" ({}).",
            if dry_run { "would be" } else { "is" },
            change.removed.join(", ")
        );
    }
}

fn lookalike_note(out: &mut String, lookalikes: usize) {
    if lookalikes > 0 {
        let _ = writeln!(
            out,
            "  note: {lookalikes} hook entries look like cclive's but name another monitor address \
             or cclive executable; they are left alone (pass the `--listen` they were installed \
             with, or run this from that executable)"
        );
    }
}

/// One config dir in `status`.
#[derive(serde::Serialize)]
struct DirStatus {
    settings_file: PathBuf,
    exists: bool,
    events: Vec<claude_settings::EventStatus>,
    /// `none`, `cclive's`, `cclive's, chaining …`, `another: …`.
    statusline: String,
    /// Where Claude Code's telemetry goes: `none`, `cclive's`, `another: …`.
    telemetry: String,
    lookalikes: usize,
}

fn status(
    target: &HooksTargetArgs,
    settings: &Settings,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let (settings, spec, statusline) = resolve(target, settings, Mode::Http)?;
    let listen = &settings.listen.value;
    let health = monitor_client::monitor_answers(listen, settings.client_token(), HEALTH_TIMEOUT);
    let dirs = config_dirs(&settings, target.config_dir.as_deref(), false);
    let report: Vec<(PathBuf, anyhow::Result<DirStatus>)> = dirs
        .iter()
        .map(|dir| {
            let path = dir.join("settings.json");
            let read = read_settings(&path).map(|value| DirStatus {
                settings_file: path.clone(),
                exists: value.is_some(),
                events: claude_settings::status(value.as_ref().unwrap_or(&json!({})), &spec),
                statusline: claude_statusline::statusline_status(
                    value.as_ref().unwrap_or(&json!({})),
                    &statusline,
                ),
                telemetry: claude_telemetry::status(
                    value.as_ref().unwrap_or(&json!({})),
                    &telemetry_endpoint(&settings),
                ),
                lookalikes: value.map_or(0, |v| claude_settings::lookalikes(&v, &spec)),
            });
            (path, read)
        })
        .collect();
    if as_json {
        let dirs: Vec<Value> = report
            .iter()
            .map(|(path, r)| match r {
                Ok(dir) => serde_json::to_value(dir).unwrap_or_default(),
                Err(e) => json!({"settings_file": path, "error": format!("{e:#}")}),
            })
            .collect();
        let out = json!({
            "monitor": {
                "listen": listen,
                "hooks_url": spec.url,
                "answering": health.is_ok(),
                "error": health.as_ref().err().map(ToString::to_string),
            },
            "config_dirs": dirs,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    if report.is_empty() {
        let _ = writeln!(
            out,
            "No Claude Code config dir exists ({}).",
            list(&settings.claude_config_dirs.value)
        );
    }
    for (path, r) in &report {
        let _ = writeln!(out, "{}", path.display());
        match r {
            Err(e) => {
                let _ = writeln!(out, "  error: {e:#}");
            }
            Ok(dir) => status_text(&mut out, dir),
        }
    }
    match &health {
        Ok(()) => {
            let _ = writeln!(out, "monitor at {listen}: answering");
        }
        Err(e) => {
            let _ = writeln!(out, "monitor at {listen}: not answering ({e})");
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn status_text(out: &mut String, dir: &DirStatus) {
    if !dir.exists {
        let _ = writeln!(out, "  no settings.json: not installed");
        return;
    }
    let with = |mode: Mode| -> Vec<&str> {
        dir.events
            .iter()
            .filter(|e| e.installed.contains(&mode))
            .map(|e| e.event)
            .collect()
    };
    for (label, names) in [("http", with(Mode::Http)), ("command", with(Mode::Command))] {
        if !names.is_empty() {
            let _ = writeln!(out, "  {label} ({}): {}", names.len(), names.join(", "));
        }
    }
    let missing: Vec<&str> = dir
        .events
        .iter()
        .filter(|e| e.installed.is_empty())
        .map(|e| e.event)
        .collect();
    if missing.is_empty() {
        let _ = writeln!(out, "  all {} events installed", dir.events.len());
    } else {
        let _ = writeln!(out, "  missing ({}): {}", missing.len(), missing.join(", "));
    }
    let _ = writeln!(out, "  status line: {}", dir.statusline);
    let _ = writeln!(out, "  telemetry: {}", dir.telemetry);
    lookalike_note(out, dir.lookalikes);
}

fn list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
