//! `cclive hooks install|uninstall|status`: cclive's entries in Claude Code's `settings.json`.
//!
//! The edits themselves are pure ([`crate::claude_config::settings`]); this file owns the file handling
//! around them, where a user's settings can be lost: a file that does not parse is refused and
//! never overwritten; Claude Code's own lock (`settings.json.lock/`, a directory) is taken while
//! we read and write; a copy of the old bytes goes to `settings.json.cclive-backup-<time>` before
//! anything changes; the new text is written to a temp file in the same directory and renamed
//! over the old one (through a symlink, to its target), keeping the file's permissions (minus
//! group and other access once it holds the monitor's token); and an edit that changes nothing
//! writes nothing. With `CCLIVE_TOKEN` set, `install` writes the token where Claude Code's
//! senders take it from (`claude_config::token`) and says so.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::claude_config::settings::{
    self as claude_settings, Changes, EXCLUDED_EVENTS, Format, HookSpec, Mode, StatuslineChange,
    StatuslinePolicy, hook_command, hooks_url,
};
use crate::claude_config::telemetry::{self as claude_telemetry, TelemetryChange};
use crate::claude_config::token::{self as claude_token, TokenChange};
use crate::cli::{GlobalArgs, HooksAction, HooksArgs, HooksTargetArgs};
use crate::config::{Origin, Settings};
use crate::monitor::client as monitor_client;

/// How long `status` waits for the monitor's `/healthz`.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(200);
/// How long to wait for Claude Code's lock on settings.json.
const LOCK_WAIT: Duration = Duration::from_secs(3);
/// A lock older than this is stale (proper-lockfile's default, which Claude Code uses).
const LOCK_STALE: Duration = Duration::from_secs(10);

/// Runs `cclive hooks <action>`.
pub(super) fn run(args: &HooksArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
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
                global,
                mode,
                a.dry_run,
                Edit::Install {
                    statusline,
                    telemetry: a.telemetry,
                },
            )
        }
        HooksAction::Uninstall(a) => {
            edit(&a.target, global, Mode::Http, a.dry_run, Edit::Uninstall)
        }
        HooksAction::Status(a) => status(&a.target, global, a.json),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Edit {
    /// With the status line too when a policy is given (`--statusline`), and Claude Code's
    /// telemetry (`--telemetry`).
    Install {
        statusline: Option<StatuslinePolicy>,
        telemetry: bool,
    },
    /// Removes our status line and telemetry settings too, whenever they are there.
    Uninstall,
}

impl Edit {
    fn install(self) -> bool {
        matches!(self, Edit::Install { .. })
    }
}

fn resolve(
    target: &HooksTargetArgs,
    global: &GlobalArgs,
    mode: Mode,
) -> anyhow::Result<(Settings, HookSpec, String)> {
    let settings = Settings::from_process_listen(global, target.listen.as_deref())?;
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
    let statusline = claude_settings::statusline_command(exe, target.listen.as_deref());
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
    global: &GlobalArgs,
    mode: Mode,
    dry_run: bool,
    what: Edit,
) -> anyhow::Result<ExitCode> {
    let (settings, spec, statusline) = resolve(target, global, mode)?;
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

/// What [`edit_file`] did.
struct Outcome {
    changes: Changes,
    backup: Option<PathBuf>,
    /// The file existed but was not in the layout we write back (it has been normalized).
    reformatted: bool,
    created: bool,
    /// Entries left alone that look like another cclive's (see `claude_settings::lookalikes`).
    lookalikes: usize,
    /// What happened to `statusLine`.
    statusline: StatuslineChange,
    /// What happened to the telemetry variables in `env`.
    telemetry: TelemetryChange,
    /// What happened to the monitor's token in `env`.
    token: TokenChange,
}

/// What the entries cclive writes point at.
struct Targets<'a> {
    spec: &'a HookSpec,
    statusline: &'a str,
    /// The OTLP endpoint.
    telemetry: &'a str,
    /// The monitor's token, when one is configured.
    token: Option<&'a str>,
}

/// Reads `path` (missing = `{}`), installs or uninstalls, and writes the result back safely when
/// that changed anything.
fn edit_file(
    path: &Path,
    dry_run: bool,
    targets: &Targets<'_>,
    what: Edit,
) -> anyhow::Result<Outcome> {
    let Targets {
        spec, statusline, ..
    } = *targets;
    let real = real_path(path)?;
    // A dir that does not exist yet has no Claude Code writing in it.
    let dir_exists = real.parent().is_some_and(Path::is_dir);
    let _lock = if dry_run || !dir_exists {
        None
    } else {
        Some(SettingsLock::acquire(&real)?)
    };
    let original = match fs::read(&real) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let text = match &original {
        Some(bytes) => std::str::from_utf8(bytes).with_context(|| {
            format!(
                "{} is not UTF-8 text; it was left untouched",
                path.display()
            )
        })?,
        None => "",
    };
    let blank = text.trim().is_empty();
    let mut value: Value = if blank {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_str(text).with_context(|| {
            format!(
                "{} is not valid JSON, so cclive will not touch it; fix it and run this again",
                path.display()
            )
        })?
    };
    let format = if blank {
        Format::claude()
    } else {
        Format::detect(text)
    };
    let reformatted = !blank && format.render(&value) != text;
    let shape = || {
        format!(
            "{} has a shape cclive does not edit; it was left untouched",
            path.display()
        )
    };
    let changes = match what {
        Edit::Install { .. } => claude_settings::install(&mut value, spec),
        Edit::Uninstall => claude_settings::uninstall(&mut value, spec),
    }
    .with_context(shape)?;
    let statusline = match what {
        Edit::Install {
            statusline: None, ..
        } => Ok(StatuslineChange::Unchanged),
        Edit::Install {
            statusline: Some(policy),
            ..
        } => claude_settings::install_statusline(&mut value, statusline, policy),
        Edit::Uninstall => claude_settings::uninstall_statusline(&mut value, statusline),
    }
    .with_context(shape)?;
    if let StatuslineChange::Refused(theirs) = &statusline {
        bail!(
            "{} already has a status line (`{theirs}`); nothing was changed. Run again with \
             `--chain` to keep it (cclive's line runs it and shows its output after ours) or \
             `--force` to replace it (`cclive hooks uninstall` puts it back either way)",
            path.display()
        );
    }
    // Before the telemetry's uninstall: our OTLP headers are known by its endpoint.
    let mut token = match what {
        Edit::Install { .. } => TokenChange::default(),
        Edit::Uninstall => {
            claude_token::uninstall(&mut value, targets.telemetry).with_context(shape)?
        }
    };
    let telemetry = match what {
        Edit::Install {
            telemetry: false, ..
        } => Ok(TelemetryChange::Unchanged),
        Edit::Install {
            telemetry: true, ..
        } => claude_telemetry::install(&mut value, targets.telemetry),
        Edit::Uninstall => claude_telemetry::uninstall(&mut value, targets.telemetry),
    }
    .with_context(shape)?;
    if let TelemetryChange::Refused { name, theirs } = &telemetry {
        bail!(
            "{} already sets {name}={theirs:?} in \"env\" (Claude Code's telemetry goes elsewhere); \
             nothing was changed. Remove it there to send the telemetry to cclive, or keep yours \
             and leave out --telemetry",
            path.display()
        );
    }
    // After the telemetry's install: the OTLP headers go with cclive's endpoint.
    if let (Edit::Install { .. }, Some(secret)) = (what, targets.token) {
        token = claude_token::install(&mut value, secret, targets.telemetry).with_context(shape)?;
    }
    let mut outcome = Outcome {
        changes,
        backup: None,
        reformatted,
        created: original.is_none(),
        lookalikes: claude_settings::lookalikes(&value, spec),
        statusline,
        telemetry,
        token,
    };
    if (outcome.changes.is_empty()
        && !outcome.statusline.changed()
        && !outcome.telemetry.changed()
        && !outcome.token.changed())
        || dry_run
    {
        return Ok(outcome);
    }
    if let Some(bytes) = &original {
        outcome.backup = Some(write_backup(&real, bytes)?);
    }
    let dir = real.parent().context("settings.json has no directory")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let secret = targets.token.is_some() && what.install();
    write_atomically(&real, format.render(&value).as_bytes(), secret)?;
    Ok(outcome)
}

/// The file to read and replace: `path`, or its target when it is a symlink (a dotfiles
/// checkout); renaming over the link would turn it into a plain file.
fn real_path(path: &Path) -> anyhow::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path)
            .with_context(|| format!("following the symlink {}", path.display())),
        _ => Ok(path.to_path_buf()),
    }
}

/// Copies the old bytes next to the file, under a name no other backup has.
fn write_backup(real: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let name = real.file_name().map_or_else(
        || "settings.json".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    for n in 0u32..1000 {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let backup = real.with_file_name(format!("{name}.cclive-backup-{stamp}{suffix}"));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&backup);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("writing the backup {}", backup.display()));
            }
        };
        if let Ok(meta) = fs::metadata(real) {
            let _ = file.set_permissions(meta.permissions());
        }
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing the backup {}", backup.display()))?;
        return Ok(backup);
    }
    bail!("cannot find a free name for a backup of {}", real.display())
}

/// Writes `bytes` to a temp file beside `path` and renames it over `path`, keeping its
/// permissions (a new file gets 0600: settings may hold secrets in `env`); with `secret` (it
/// holds the monitor's token now) minus any access for group and others.
fn write_atomically(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    let dir = path.parent().context("settings.json has no directory")?;
    let mut mode = fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    if secret {
        mode &= 0o7700;
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".settings.json.cclive-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .context("setting the temp file's permissions")?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .context("writing the temp file")?;
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Claude Code's lock on a settings file (proper-lockfile: a `<file>.lock` directory), held
/// while we read and write it.
struct SettingsLock {
    dir: PathBuf,
}

impl SettingsLock {
    fn acquire(real: &Path) -> anyhow::Result<SettingsLock> {
        let mut name = real.as_os_str().to_owned();
        name.push(".lock");
        let dir = PathBuf::from(name);
        let started = Instant::now();
        loop {
            match fs::create_dir(&dir) {
                Ok(()) => return Ok(SettingsLock { dir }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = fs::metadata(&dir)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|a| a > LOCK_STALE) {
                        let _ = fs::remove_dir(&dir);
                        continue;
                    }
                    if started.elapsed() > LOCK_WAIT {
                        bail!(
                            "{} is locked ({} exists): Claude Code is writing it. Try again in a \
                             moment",
                            real.display(),
                            dir.display()
                        );
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("locking {}", real.display()));
                }
            }
        }
    }
}

impl Drop for SettingsLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.dir);
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
    global: &GlobalArgs,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let (settings, spec, statusline) = resolve(target, global, Mode::Http)?;
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
                statusline: claude_settings::statusline_status(
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

/// The parsed settings file; `None` when it does not exist.
fn read_settings(path: &Path) -> anyhow::Result<Option<Value>> {
    match fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Some(json!({}))),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not valid JSON", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
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
