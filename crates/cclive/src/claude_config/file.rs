//! Claude Code's `settings.json` on disk: reading it and writing an edit back where a user's
//! settings can be lost. A file that does not parse is refused and never overwritten; Claude
//! Code's own lock (`settings.json.lock/`, a directory) is taken while we read and write; a copy
//! of the old bytes goes to `settings.json.cclive-backup-<time>` before anything changes; the
//! new text is written to a temp file in the same directory and renamed over the old one
//! (through a symlink, to its target), keeping the file's permissions; and an edit that changes
//! nothing writes nothing; a file that holds the monitor's token loses group and other access.
//! The edits themselves are `settings`' and `telemetry`'s (pure); this
//! module never decides what to write, and never prints.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::format::Format;
use super::settings::{self as claude_settings, Changes, HookSpec};
use super::statusline::{StatuslineChange, StatuslinePolicy};
use super::telemetry::{self as claude_telemetry, TelemetryChange};
use super::token::{self as claude_token, TokenChange};

/// How long to wait for Claude Code's lock on settings.json.
const LOCK_WAIT: Duration = Duration::from_secs(3);
/// A lock older than this is stale (proper-lockfile's default, which Claude Code uses).
const LOCK_STALE: Duration = Duration::from_secs(10);

/// What `cclive hooks` does to a settings file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edit {
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
    pub(crate) fn install(self) -> bool {
        matches!(self, Edit::Install { .. })
    }
}

/// What [`edit_file`] did.
pub(crate) struct Outcome {
    pub(crate) changes: Changes,
    pub(crate) backup: Option<PathBuf>,
    /// The file existed but was not in the layout we write back (it has been normalized).
    pub(crate) reformatted: bool,
    pub(crate) created: bool,
    /// Entries left alone that look like another cclive's (see `claude_settings::lookalikes`).
    pub(crate) lookalikes: usize,
    /// What happened to `statusLine`.
    pub(crate) statusline: StatuslineChange,
    /// What happened to the telemetry variables in `env`.
    pub(crate) telemetry: TelemetryChange,
    /// What happened to the monitor's token in `env`.
    pub(crate) token: TokenChange,
}

/// What the entries cclive writes point at.
pub(crate) struct Targets<'a> {
    pub(crate) spec: &'a HookSpec,
    pub(crate) statusline: &'a str,
    /// The OTLP endpoint.
    pub(crate) telemetry: &'a str,
    /// The monitor's token, when one is configured.
    pub(crate) token: Option<&'a str>,
}

/// Reads `path` (missing = `{}`), installs or uninstalls, and writes the result back safely when
/// that changed anything.
pub(crate) fn edit_file(
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
        } => super::statusline::install_statusline(&mut value, statusline, policy),
        Edit::Uninstall => super::statusline::uninstall_statusline(&mut value, statusline),
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

/// The parsed settings file; `None` when it does not exist.
pub(crate) fn read_settings(path: &Path) -> anyhow::Result<Option<Value>> {
    match fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Some(json!({}))),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not valid JSON", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}
