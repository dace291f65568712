//! cclive's hook entries in Claude Code's `settings.json`, as pure edits of a `serde_json::Value`.
//!
//! [`install`] adds one matcher group per event, `{"hooks": [<handler>]}`, after whatever the user
//! has; [`uninstall`] removes exactly the groups whose content equals what [`install`] writes for
//! the same [`HookSpec`] (never "anything mentioning cclive"), and the `hooks.<Event>` arrays and
//! the `hooks` object it emptied; [`status`] says what is there. Every other key, hook and the key
//! order (the workspace builds serde_json with `preserve_order`; removal uses `shift_remove`) is
//! kept. [`Format`] writes the text the way Claude Code does (`JSON.stringify(v, null, 2)` plus a
//! newline), so install + uninstall gives back a Claude-written file byte for byte. File I/O,
//! locking and backups live in `cmd/hooks.rs`; nothing here touches the disk.
//!
//! What Claude Code 2.1.332 accepts, read out of its binary (`claude.exe`, Bun-compiled JS):
//! - The http handler schema (`HttpHookSchema`): `{type:"http", url: string().url(), if?,
//!   timeout?: number().positive() /* seconds */, onFailure?: "continue"|"block" (default
//!   continue), headers?, allowedEnvVars?, statusMessage?, once?}`. It POSTs the payload with
//!   `Content-Type: application/json`, `maxRedirects: 0`, `validateStatus: () => true`; a non-2xx
//!   status or a transport error becomes a `hook_non_blocking_error`, a timeout cancels the hook
//!   (`aborted`), neither blocks. An empty 2xx body is read as `{}` ("HTTP hook returned empty
//!   body, treating as empty JSON object"): no decision, the action goes ahead.
//! - HTTP hooks are skipped for `SessionStart` and `Setup` ("HTTP hooks are not supported for
//!   SessionStart"; `fhl=["SessionStart","Setup"]`), so those two always get the command hook.
//! - Loopback targets are allowed ("Loopback (127.0.0.1, ::1) is allowed for local dev"); other
//!   private addresses are refused (`ERR_HTTP_HOOK_BLOCKED_ADDRESS`).
//! - Matchers: a group without `matcher` (or `"*"`, `".*"`) matches every query
//!   (`Ui=!qn.matcher||qn.matcher==="*"||qn.matcher===".*"`), so our groups have none.
//! - The command handler: `{type:"command", command, args?, timeout?, async?, onFailure?, …}`;
//!   `command` runs through a shell when `args` is absent (1.0.100 knows no `args`).
//!
//! Observed with the real 2.1.332 (`tests/integration/hooks_cli.rs`): with the endpoint answering
//! 204 a print run is unchanged; with nothing listening it still succeeds, but reports the hooks
//! as failed (a `hook_no_verdict` warning per tool call, a "stop hook problem" notification, the
//! SessionEnd error on stderr); with a listener that never answers each hook costs the 1 s
//! timeout (a two-tool-round print run took 6.7 s instead of 0.7 s). The schema would take a
//! fractional timeout; a whole second keeps a busy monitor from losing events.

use serde_json::{Map, Value, json};

/// Every hook event Claude Code 2.1.332 knows, in its own order (`var Oc=[…]`, formats doc §4).
/// 1.0.100 knows 9 of them; registering the others there is harmless (they never fire).
pub(crate) fn known_events() -> impl Iterator<Item = &'static str> {
    cclive_core::hook::ALL_HOOK_EVENTS
        .iter()
        .map(cclive_core::hook::HookEvent::as_str)
}

/// Events cclive never registers, because registering them changes what Claude Code does (every
/// other event's hook is a no-op when it answers an empty 2xx or exits 0 printing nothing).
pub(crate) const EXCLUDED_EVENTS: &[(&str, &str)] = &[
    (
        "WorktreeCreate",
        "a registered hook replaces git worktree creation",
    ),
    (
        "WorktreeRemove",
        "a registered hook replaces git worktree removal",
    ),
    (
        "FileChanged",
        "fires only for files named by a matcher, and a matcher starts a file watcher",
    ),
    (
        "MessageDisplay",
        "runs synchronously before every displayed text delta and carries message text",
    ),
];

/// Events whose http hooks Claude Code skips: they always get the command hook.
pub(crate) const COMMAND_ONLY_EVENTS: &[&str] = &["SessionStart", "Setup"];

/// The path of the monitor's hook endpoint.
pub(crate) const HOOKS_PATH: &str = "/api/hooks";

/// Seconds Claude Code waits for an http hook: a hung monitor costs at most this per event.
pub(crate) const HTTP_TIMEOUT_SECS: u64 = 1;

/// Seconds Claude Code waits for `cclive hook` (which bounds its own work far below this; this is
/// only the safety net for a stuck store).
pub(crate) const COMMAND_TIMEOUT_SECS: u64 = 2;

/// The events `install` registers: [`known_events`] minus [`EXCLUDED_EVENTS`]. That is more
/// than `cclive_core::hook::HOOK_EVENTS` (the events the monitor turns into something today), as
/// the feature asks: the rest cost a loopback POST each and are there when the monitor uses them.
pub(crate) fn installed_events() -> impl Iterator<Item = &'static str> {
    known_events().filter(|e| !EXCLUDED_EVENTS.iter().any(|(x, _)| x == e))
}

/// How cclive's hooks deliver payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    /// `"type": "http"`: Claude Code POSTs to the monitor; no process per event.
    Http,
    /// `"type": "command"`: Claude Code runs `cclive hook`, which records even with no monitor.
    Command,
}

/// What cclive's hook entries look like: the URL of the http handlers, the shell command of the
/// command handlers, and which of the two `install` uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HookSpec {
    /// The delivery `install` uses (`SessionStart` and `Setup` are always command hooks).
    pub(crate) mode: Mode,
    /// `http://<listen>/api/hooks`.
    pub(crate) url: String,
    /// The shell command, e.g. `/usr/local/bin/cclive hook`.
    pub(crate) command: String,
    /// The monitor has a token: the http handlers send it (`Authorization: Bearer
    /// $CCLIVE_TOKEN`, which Claude Code fills in from its `env`, where `hooks install` puts
    /// the token). The command handler needs nothing: `cclive hook` reads `CCLIVE_TOKEN`.
    pub(crate) token: bool,
}

/// The environment variable the http handlers' header names (and `cclive hook` reads).
pub(crate) const TOKEN_VAR: &str = "CCLIVE_TOKEN";

impl HookSpec {
    /// The http handler object.
    pub(crate) fn http_handler(&self) -> Value {
        Self::http_handler_for(&self.url, self.token)
    }

    /// The http handler for `url`, with the token's header or without.
    fn http_handler_for(url: &str, token: bool) -> Value {
        let mut handler = json!({"type": "http", "url": url, "timeout": HTTP_TIMEOUT_SECS});
        if token {
            handler["headers"] = json!({"Authorization": format!("Bearer ${TOKEN_VAR}")});
            handler["allowedEnvVars"] = json!([TOKEN_VAR]);
        }
        handler
    }

    /// The command handler object.
    pub(crate) fn command_handler(&self) -> Value {
        json!({"type": "command", "command": self.command, "timeout": COMMAND_TIMEOUT_SECS})
    }

    /// The delivery `install` uses for `event`.
    pub(crate) fn mode_for(&self, event: &str) -> Mode {
        if COMMAND_ONLY_EVENTS.contains(&event) {
            Mode::Command
        } else {
            self.mode
        }
    }

    /// The matcher group `install` writes for `event`.
    fn group_for(&self, event: &str) -> Value {
        let handler = match self.mode_for(event) {
            Mode::Http => self.http_handler(),
            Mode::Command => self.command_handler(),
        };
        json!({ "hooks": [handler] })
    }

    /// Which of our groups `group` is, if it is exactly one of them (an http one with or
    /// without the token's header: installing again with or without a token replaces it).
    fn owns(&self, group: &Value) -> Option<Mode> {
        let map = group.as_object().filter(|m| m.len() == 1)?;
        let [handler] = map.get("hooks")?.as_array()?.as_slice() else {
            return None;
        };
        if [false, true]
            .into_iter()
            .any(|token| *handler == Self::http_handler_for(&self.url, token))
        {
            Some(Mode::Http)
        } else if *handler == self.command_handler() {
            Some(Mode::Command)
        } else {
            None
        }
    }
}

/// The monitor's hook URL for a listen address (`0.0.0.0`/`[::]` become loopback: Claude Code
/// refuses non-loopback private targets, and the monitor answers on loopback too).
pub(crate) fn hooks_url(listen: &str) -> String {
    format!(
        "http://{}{HOOKS_PATH}",
        crate::monitor::client::connect_target(listen)
    )
}

/// `cclive hook` as a shell command for `exe` (single-quoted when it holds anything a shell
/// would read specially), plus `--listen <addr>` when one was given.
pub(crate) fn hook_command(exe: &str, listen: Option<&str>) -> String {
    let mut command = format!("{} hook", shell_quote(exe));
    if let Some(listen) = listen {
        command.push_str(" --listen ");
        command.push_str(&shell_quote(listen));
    }
    command
}

fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+-:,@%=".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `cclive statusline` as a shell command for `exe` (plus `--listen <addr>` when one was given):
/// what `hooks install --statusline` puts in `statusLine.command`, before any `--chain`.
pub(crate) fn statusline_command(exe: &str, listen: Option<&str>) -> String {
    let mut command = format!("{} statusline", shell_quote(exe));
    if let Some(listen) = listen {
        command.push_str(" --listen ");
        command.push_str(&shell_quote(listen));
    }
    command
}

/// What to do with a status line that is not ours (`hooks install --statusline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StatuslinePolicy {
    /// Leave it and say how to go on (`--chain`, `--force`).
    Refuse,
    /// Run it from ours: `cclive statusline --chain '<its command>'`.
    Chain,
    /// Replace it, keeping its command in ours (`--replaced '<it>'`, never run) for uninstall.
    Force,
}

/// What a status line edit did (or, for [`StatuslineChange::Refused`], would not do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StatuslineChange {
    /// Nothing to do.
    Unchanged,
    /// Ours was added where there was none.
    Added,
    /// Ours now runs the user's command and appends its output.
    Chained(String),
    /// Ours replaced the user's command (uninstall puts it back).
    Replaced(String),
    /// Ours replaced a status line that had no command to keep (uninstall cannot restore it;
    /// the backup has it).
    Overwritten,
    /// The user has a status line and neither `--chain` nor `--force` was given.
    Refused(String),
    /// Ours was removed (uninstall).
    Removed,
    /// Ours was removed and the user's command put back (uninstall).
    Restored(String),
}

impl StatuslineChange {
    /// True when the settings were changed.
    pub(crate) fn changed(&self) -> bool {
        !matches!(
            self,
            StatuslineChange::Unchanged | StatuslineChange::Refused(_)
        )
    }
}

/// A status line command that is ours.
#[derive(Debug, PartialEq, Eq)]
enum Ours {
    /// `base`: nothing was there before.
    Alone,
    /// `base --chain '<c>'` or `base --replaced '<c>'`: keeps the user's `c`.
    Keeps(String),
}

/// Whether `command` is ours for `base`, and what it keeps.
fn ours_keeps(base: &str, command: &str) -> Option<Ours> {
    let rest = command.strip_prefix(base)?;
    if rest.is_empty() {
        return Some(Ours::Alone);
    }
    let word = rest
        .strip_prefix(" --chain ")
        .or_else(|| rest.strip_prefix(" --replaced "))?;
    shell_unquote(word).map(Ours::Keeps)
}

/// The inverse of [`shell_quote`] for one word it wrote; `None` for anything else.
fn shell_unquote(word: &str) -> Option<String> {
    if !word.starts_with('\'') {
        return (shell_quote(word) == word).then(|| word.to_owned());
    }
    let mut out = String::new();
    let mut rest = word;
    loop {
        let inner = rest.strip_prefix('\'')?;
        let end = inner.find('\'')?;
        out.push_str(&inner[..end]);
        rest = &inner[end + 1..];
        if rest.is_empty() {
            break;
        }
        rest = rest.strip_prefix(r"\'")?;
        out.push('\'');
    }
    (shell_quote(&out) == word).then_some(out)
}

/// Sets `statusLine` to `cclive statusline` (`base`): adds it where there is none; a status line
/// of the user's is chained, replaced or left alone, by `policy`. Ours already there (in any
/// form) is left as it is. Only `statusLine.command` is written when the user had one, so its
/// other keys (`padding`, …) and the key's place stay. Idempotent.
pub(crate) fn install_statusline(
    settings: &mut Value,
    base: &str,
    policy: StatuslinePolicy,
) -> Result<StatuslineChange, ShapeError> {
    let top = settings.as_object_mut().ok_or(ShapeError::NotAnObject)?;
    let ours = json!({"type": "command", "command": base});
    let Some(current) = top.get_mut("statusLine") else {
        top.insert("statusLine".to_owned(), ours);
        return Ok(StatuslineChange::Added);
    };
    let command = current
        .as_object()
        .filter(|m| m.get("type").and_then(Value::as_str) == Some("command"))
        .and_then(|m| m.get("command"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if command
        .as_deref()
        .is_some_and(|c| ours_keeps(base, c).is_some())
    {
        return Ok(StatuslineChange::Unchanged);
    }
    let Some(command) = command else {
        return Ok(match policy {
            StatuslinePolicy::Force => {
                *current = ours;
                StatuslineChange::Overwritten
            }
            _ => StatuslineChange::Refused(current.to_string()),
        });
    };
    let (flag, change): (&str, fn(String) -> StatuslineChange) = match policy {
        StatuslinePolicy::Refuse => return Ok(StatuslineChange::Refused(command)),
        StatuslinePolicy::Chain => ("--chain", StatuslineChange::Chained),
        StatuslinePolicy::Force => ("--replaced", StatuslineChange::Replaced),
    };
    current["command"] = Value::String(format!("{base} {flag} {}", shell_quote(&command)));
    Ok(change(command))
}

/// Removes ours: the key goes when ours was alone, the user's command comes back when ours kept
/// one. A status line that is not ours (for `base`) is left alone.
pub(crate) fn uninstall_statusline(
    settings: &mut Value,
    base: &str,
) -> Result<StatuslineChange, ShapeError> {
    let top = settings.as_object_mut().ok_or(ShapeError::NotAnObject)?;
    let Some(current) = top.get_mut("statusLine") else {
        return Ok(StatuslineChange::Unchanged);
    };
    let kept = current
        .get("command")
        .and_then(Value::as_str)
        .filter(|_| current.get("type").and_then(Value::as_str) == Some("command"))
        .and_then(|c| ours_keeps(base, c));
    match kept {
        None => Ok(StatuslineChange::Unchanged),
        Some(Ours::Alone) => {
            top.shift_remove("statusLine");
            Ok(StatuslineChange::Removed)
        }
        Some(Ours::Keeps(previous)) => {
            current["command"] = Value::String(previous.clone());
            Ok(StatuslineChange::Restored(previous))
        }
    }
}

/// What `statusLine` holds, for `hooks status`.
pub(crate) fn statusline_status(settings: &Value, base: &str) -> String {
    let Some(current) = settings.get("statusLine") else {
        return "none".to_owned();
    };
    match current.get("command").and_then(Value::as_str) {
        Some(c) => match ours_keeps(base, c) {
            Some(Ours::Alone) => "cclive's".to_owned(),
            Some(Ours::Keeps(previous)) if c.contains(" --chain ") => {
                format!("cclive's, chaining `{previous}`")
            }
            Some(Ours::Keeps(_)) => {
                "cclive's (it replaced another; uninstall puts that back)".to_owned()
            }
            None => format!("another: `{c}`"),
        },
        None => "another (no command)".to_owned(),
    }
}

/// The settings file does not have the shape cclive can edit safely.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ShapeError {
    /// The top level is not a JSON object.
    #[error("the top level is not a JSON object")]
    NotAnObject,
    /// `hooks` is not an object.
    #[error("\"hooks\" is not a JSON object")]
    HooksNotAnObject,
    /// `hooks.<event>` is not an array.
    #[error("\"hooks.{0}\" is not a JSON array")]
    EventNotAnArray(String),
    /// `env` is not an object.
    #[error("\"env\" is not a JSON object")]
    EnvNotAnObject,
}

/// What an edit did, event by event.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Events that got a cclive entry.
    pub(crate) added: Vec<String>,
    /// Events that lost one (uninstall, or a switch between http and command delivery).
    pub(crate) removed: Vec<String>,
}

impl Changes {
    /// True when the value was left as it was.
    pub(crate) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Registers cclive for every event of [`installed_events`]: keeps an entry that is already
/// exactly right where it is, removes cclive entries of the other delivery (and from events
/// cclive no longer registers), and appends the missing ones. Idempotent.
pub(crate) fn install(settings: &mut Value, spec: &HookSpec) -> Result<Changes, ShapeError> {
    check_shape(settings)?;
    let mut changes = Changes::default();
    let wanted: Vec<&str> = installed_events().collect();
    // Stale entries first: ours, but not what this spec wants for that event (another
    // delivery, or the http handler with or without the token's header).
    if let Some(hooks) = hooks_mut(settings)? {
        let events: Vec<String> = hooks.keys().cloned().collect();
        for event in events {
            let want = wanted
                .contains(&event.as_str())
                .then(|| spec.group_for(&event));
            let removed = remove_groups(hooks, &event, |g| {
                spec.owns(g).is_some() && want.as_ref() != Some(g)
            });
            if removed {
                changes.removed.push(event);
            }
        }
    }
    for event in wanted {
        let present = settings["hooks"][event]
            .as_array()
            .is_some_and(|groups| groups.iter().any(|g| spec.owns(g).is_some()));
        if present {
            continue;
        }
        let groups = ensure_hooks(settings)?
            .entry(event.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        groups
            .as_array_mut()
            .ok_or_else(|| ShapeError::EventNotAnArray(event.to_owned()))?
            .push(spec.group_for(event));
        changes.added.push(event.to_owned());
    }
    Ok(changes)
}

/// Removes every cclive entry (http or command, for any event), then the `hooks.<Event>` arrays
/// this emptied and `hooks` itself if that emptied it. Arrays and objects that were already empty
/// stay.
pub(crate) fn uninstall(settings: &mut Value, spec: &HookSpec) -> Result<Changes, ShapeError> {
    check_shape(settings)?;
    let mut changes = Changes::default();
    let Some(hooks) = hooks_mut(settings)? else {
        return Ok(changes);
    };
    let events: Vec<String> = hooks.keys().cloned().collect();
    for event in events {
        if remove_groups(hooks, &event, |g| spec.owns(g).is_some()) {
            changes.removed.push(event);
        }
    }
    let emptied = !changes.removed.is_empty() && hooks.is_empty();
    if emptied && let Some(top) = settings.as_object_mut() {
        top.shift_remove("hooks");
    }
    Ok(changes)
}

/// Removes the groups of `hooks[event]` that `ours` accepts; drops the array if that emptied it.
/// Returns whether anything was removed.
fn remove_groups(
    hooks: &mut Map<String, Value>,
    event: &str,
    ours: impl Fn(&Value) -> bool,
) -> bool {
    let Some(groups) = hooks.get_mut(event).and_then(Value::as_array_mut) else {
        return false;
    };
    let before = groups.len();
    groups.retain(|g| !ours(g));
    let removed = groups.len() != before;
    if removed && groups.is_empty() {
        hooks.shift_remove(event);
    }
    removed
}

/// What one event has.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub(crate) struct EventStatus {
    /// The event name.
    pub(crate) event: &'static str,
    /// cclive's entries found for it (empty: missing).
    pub(crate) installed: Vec<Mode>,
    /// What `install` would register for it.
    pub(crate) expected: Mode,
    /// How many other (the user's) matcher groups it has.
    pub(crate) other_groups: usize,
}

/// cclive's entries per event of [`installed_events`].
pub(crate) fn status(settings: &Value, spec: &HookSpec) -> Vec<EventStatus> {
    installed_events()
        .map(|event| {
            let groups = settings["hooks"][event]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            let installed: Vec<Mode> = groups.iter().filter_map(|g| spec.owns(g)).collect();
            EventStatus {
                event,
                other_groups: groups.len() - installed.len(),
                installed,
                expected: spec.mode_for(event),
            }
        })
        .collect()
}

/// How many groups, in any event, look like a cclive entry but are not this spec's: written by a
/// cclive at another path or for another monitor address (`--listen`). They are never removed;
/// this only lets `status` and `uninstall` say why they stay.
pub(crate) fn lookalikes(settings: &Value, spec: &HookSpec) -> usize {
    let Some(hooks) = settings["hooks"].as_object() else {
        return 0;
    };
    hooks
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter(|g| spec.owns(g).is_none() && looks_like_cclive(g))
        .count()
}

/// A single-handler group without matcher that POSTs to `…/api/hooks` or runs `… hook …`.
fn looks_like_cclive(group: &Value) -> bool {
    let Some(map) = group.as_object().filter(|m| m.len() == 1) else {
        return false;
    };
    let Some([handler]) = map
        .get("hooks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    else {
        return false;
    };
    match handler["type"].as_str() {
        Some("http") => handler["url"]
            .as_str()
            .is_some_and(|u| u.ends_with(HOOKS_PATH)),
        Some("command") => handler["command"].as_str().is_some_and(|c| {
            c.contains("cclive") && (c.ends_with(" hook") || c.contains(" hook --listen "))
        }),
        _ => false,
    }
}

fn check_shape(settings: &Value) -> Result<(), ShapeError> {
    let top = settings.as_object().ok_or(ShapeError::NotAnObject)?;
    match top.get("hooks") {
        None => Ok(()),
        Some(Value::Object(hooks)) => {
            for (event, groups) in hooks {
                if !groups.is_array() && installed_events().any(|e| e == event) {
                    return Err(ShapeError::EventNotAnArray(event.clone()));
                }
            }
            Ok(())
        }
        Some(_) => Err(ShapeError::HooksNotAnObject),
    }
}

/// The `hooks` object, if there is one.
fn hooks_mut(settings: &mut Value) -> Result<Option<&mut Map<String, Value>>, ShapeError> {
    let top = settings.as_object_mut().ok_or(ShapeError::NotAnObject)?;
    match top.get_mut("hooks") {
        None => Ok(None),
        Some(Value::Object(hooks)) => Ok(Some(hooks)),
        Some(_) => Err(ShapeError::HooksNotAnObject),
    }
}

/// The `hooks` object, created (as the last key) when missing.
fn ensure_hooks(settings: &mut Value) -> Result<&mut Map<String, Value>, ShapeError> {
    ensure_object(settings, "hooks", ShapeError::HooksNotAnObject)
}

/// The top-level object `key` (`hooks`, `env`), created (as the last key) when missing;
/// `not_object` when it is something else.
pub(crate) fn ensure_object<'a>(
    settings: &'a mut Value,
    key: &str,
    not_object: ShapeError,
) -> Result<&'a mut Map<String, Value>, ShapeError> {
    settings
        .as_object_mut()
        .ok_or(ShapeError::NotAnObject)?
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or(not_object)
}

/// How a settings file is laid out: the indentation unit and whether it ends with a newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    indent: String,
    trailing_newline: bool,
}

impl Format {
    /// Claude Code's own: `JSON.stringify(settings, null, 2) + "\n"`.
    pub(crate) fn claude() -> Format {
        Format {
            indent: "  ".to_owned(),
            trailing_newline: true,
        }
    }

    /// The layout of `text`: the indentation of its first indented line (a settings file is an
    /// object, so that line is one level deep) and its final newline. One-line files get
    /// Claude Code's layout.
    pub(crate) fn detect(text: &str) -> Format {
        let indent = text.lines().skip(1).find_map(|line| {
            let unit: String = line
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            (!unit.is_empty() && unit.len() < line.len()).then_some(unit)
        });
        match indent {
            Some(indent) => Format {
                indent,
                trailing_newline: text.ends_with('\n'),
            },
            None => Format::claude(),
        }
    }

    /// `settings` as text in this layout.
    pub(crate) fn render(&self, settings: &Value) -> String {
        use serde::Serialize as _;
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(self.indent.as_bytes());
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        settings
            .serialize(&mut ser)
            .expect("a Value always serializes");
        let mut text = String::from_utf8(out).expect("serde_json writes UTF-8");
        if self.trailing_newline {
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mode: Mode) -> HookSpec {
        HookSpec {
            mode,
            url: hooks_url("127.0.0.1:8501"),
            command: hook_command("/opt/cclive/bin/cclive", None),
            token: false,
        }
    }

    fn user_settings() -> Value {
        json!({
            "model": "sonnet",
            "hooks": {
                "PreToolUse": [
                    {"matcher": "Bash", "hooks": [{"type": "command", "command": "audit.sh"}]}
                ],
                "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
                "CustomThing": "not ours"
            },
            "permissions": {"allow": ["Bash(ls:*)"]}
        })
    }

    #[test]
    fn the_event_list_matches_the_formats_doc() {
        assert_eq!(known_events().count(), 34);
        let installed: Vec<_> = installed_events().collect();
        assert_eq!(installed.len(), 30);
        for event in cclive_core::hook::HOOK_EVENTS
            .iter()
            .chain(cclive_core::hook::HOOK_EVENTS_1_0)
        {
            assert!(installed.contains(event), "the monitor uses {event}");
        }
        for event in [
            "SessionStart",
            "SessionEnd",
            "UserPromptSubmit",
            "Stop",
            "StopFailure",
            "SubagentStart",
            "SubagentStop",
            "PreToolUse",
            "PostToolUse",
            "PostToolUseFailure",
            "PermissionRequest",
            "Notification",
            "PreCompact",
        ] {
            assert!(installed.contains(&event), "{event}");
        }
        assert!(!installed.contains(&"WorktreeCreate"));
        assert!(!installed.contains(&"WorktreeRemove"));
    }

    #[test]
    fn install_adds_one_group_per_event_after_the_users() {
        let mut s = user_settings();
        let changes = install(&mut s, &spec(Mode::Http)).unwrap();
        assert_eq!(changes.added.len(), 30);
        assert!(changes.removed.is_empty());
        let pre = s["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(pre.len(), 2);
        assert_eq!(pre[0]["matcher"], "Bash");
        assert_eq!(
            pre[1],
            json!({"hooks": [{"type": "http", "url": "http://127.0.0.1:8501/api/hooks", "timeout": 1}]})
        );
        assert_eq!(
            s["hooks"]["SessionStart"][0]["hooks"][0],
            json!({"type": "command", "command": "/opt/cclive/bin/cclive hook", "timeout": 2}),
            "http hooks are not supported for SessionStart"
        );
        assert_eq!(s["hooks"]["CustomThing"], "not ours");
        assert!(s["hooks"].get("WorktreeCreate").is_none());
        let keys: Vec<_> = s.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["model", "hooks", "permissions"]);
    }

    #[test]
    fn install_is_idempotent_and_uninstall_restores_exactly() {
        let original = user_settings();
        let mut s = original.clone();
        install(&mut s, &spec(Mode::Http)).unwrap();
        let once = s.clone();
        assert!(install(&mut s, &spec(Mode::Http)).unwrap().is_empty());
        assert_eq!(s, once);
        let changes = uninstall(&mut s, &spec(Mode::Http)).unwrap();
        assert_eq!(changes.removed.len(), 30);
        assert_eq!(
            Format::claude().render(&s),
            Format::claude().render(&original)
        );
        assert!(uninstall(&mut s, &spec(Mode::Http)).unwrap().is_empty());
    }

    #[test]
    fn containers_we_created_go_and_the_users_stay() {
        let mut s = json!({"env": {"A": "1"}});
        install(&mut s, &spec(Mode::Command)).unwrap();
        uninstall(&mut s, &spec(Mode::Command)).unwrap();
        assert_eq!(s, json!({"env": {"A": "1"}}));

        let mut s = json!({"hooks": {}, "x": 1});
        install(&mut s, &spec(Mode::Http)).unwrap();
        uninstall(&mut s, &spec(Mode::Http)).unwrap();
        // An empty `hooks` the user had is indistinguishable from one we emptied: it goes.
        assert_eq!(s, json!({"x": 1}));

        let mut s = json!({"hooks": {"Stop": []}});
        assert!(uninstall(&mut s, &spec(Mode::Http)).unwrap().is_empty());
        assert_eq!(
            s,
            json!({"hooks": {"Stop": []}}),
            "untouched when nothing of ours is there"
        );
    }

    #[test]
    fn switching_delivery_replaces_our_entries_in_place_of_none_of_the_users() {
        let mut s = user_settings();
        install(&mut s, &spec(Mode::Http)).unwrap();
        let changes = install(&mut s, &spec(Mode::Command)).unwrap();
        assert_eq!(changes.removed.len(), 28, "SessionStart and Setup stay");
        assert_eq!(changes.added.len(), 28);
        let stop = s["hooks"]["Stop"].as_array().unwrap();
        assert_eq!(stop.len(), 2);
        assert_eq!(stop[1]["hooks"][0]["type"], "command");
        let st = status(&s, &spec(Mode::Command));
        assert!(st.iter().all(|e| e.installed == [Mode::Command]));
    }

    #[test]
    fn with_a_token_the_http_hooks_send_it_and_replace_the_ones_without() {
        let mut s = user_settings();
        install(&mut s, &spec(Mode::Http)).unwrap();
        let with_token = HookSpec {
            token: true,
            ..spec(Mode::Http)
        };
        let changes = install(&mut s, &with_token).unwrap();
        assert_eq!(
            changes.removed.len(),
            28,
            "the command hooks need no change"
        );
        assert_eq!(changes.added.len(), 28);
        let stop = s["hooks"]["Stop"].as_array().unwrap();
        assert_eq!(stop.len(), 2, "the user's group and ours, once");
        let handler = &stop[1]["hooks"][0];
        assert_eq!(handler["headers"]["Authorization"], "Bearer $CCLIVE_TOKEN");
        assert_eq!(handler["allowedEnvVars"], json!(["CCLIVE_TOKEN"]));
        assert!(install(&mut s, &with_token).unwrap().is_empty());
        // Either form is ours to remove.
        assert_eq!(
            uninstall(&mut s, &spec(Mode::Http)).unwrap().removed.len(),
            30
        );
    }

    #[test]
    fn uninstall_matches_exactly_what_we_write() {
        let ours = spec(Mode::Http);
        let mut s = json!({"hooks": {"Stop": [
            // Same URL but the user added a matcher: theirs now.
            {"matcher": "x", "hooks": [ours.http_handler()]},
            // Another cclive elsewhere.
            {"hooks": [{"type": "http", "url": "http://127.0.0.1:9999/api/hooks", "timeout": 1}]},
            {"hooks": [{"type": "command", "command": "cclive hook"}]},
            {"hooks": [ours.http_handler()]},
        ]}});
        let changes = uninstall(&mut s, &ours).unwrap();
        assert_eq!(changes.removed, ["Stop"]);
        assert_eq!(s["hooks"]["Stop"].as_array().unwrap().len(), 3);
        assert_eq!(
            lookalikes(&s, &ours),
            2,
            "the other address, and `cclive hook`"
        );
    }

    #[test]
    fn status_reports_each_event() {
        let mut s = user_settings();
        let st = status(&s, &spec(Mode::Http));
        assert!(st.iter().all(|e| e.installed.is_empty()));
        assert_eq!(
            st.iter()
                .find(|e| e.event == "PreToolUse")
                .unwrap()
                .other_groups,
            1
        );
        install(&mut s, &spec(Mode::Http)).unwrap();
        let st = status(&s, &spec(Mode::Http));
        assert!(st.iter().all(|e| e.installed == [e.expected]));
        assert_eq!(
            st.iter().find(|e| e.event == "Setup").unwrap().installed,
            [Mode::Command]
        );
    }

    #[test]
    fn shapes_we_cannot_edit_are_refused_untouched() {
        for (bad, err) in [
            (json!([]), ShapeError::NotAnObject),
            (json!({"hooks": []}), ShapeError::HooksNotAnObject),
            (
                json!({"hooks": {"Stop": {}}}),
                ShapeError::EventNotAnArray("Stop".into()),
            ),
        ] {
            let mut s = bad.clone();
            assert_eq!(install(&mut s, &spec(Mode::Http)).unwrap_err(), err);
            assert_eq!(uninstall(&mut s, &spec(Mode::Http)).unwrap_err(), err);
            assert_eq!(s, bad);
        }
    }

    #[test]
    fn urls_and_commands() {
        assert_eq!(hooks_url("0.0.0.0:8501"), "http://127.0.0.1:8501/api/hooks");
        assert_eq!(hooks_url("[::]:8501"), "http://[::1]:8501/api/hooks");
        assert_eq!(
            hooks_url("localhost:7000"),
            "http://localhost:7000/api/hooks"
        );
        assert_eq!(
            hook_command("/home/a b/it's/cclive", Some("127.0.0.1:9")),
            r"'/home/a b/it'\''s/cclive' hook --listen 127.0.0.1:9"
        );
    }

    const BASE: &str = "/opt/cclive/bin/cclive statusline";

    #[test]
    fn a_status_line_is_added_and_removed_where_there_was_none() {
        let original = user_settings();
        let mut s = original.clone();
        let change = install_statusline(&mut s, BASE, StatuslinePolicy::Refuse).unwrap();
        assert_eq!(change, StatuslineChange::Added);
        assert_eq!(s["statusLine"], json!({"type": "command", "command": BASE}));
        let again = install_statusline(&mut s, BASE, StatuslinePolicy::Chain).unwrap();
        assert_eq!(again, StatuslineChange::Unchanged, "idempotent");
        assert_eq!(statusline_status(&s, BASE), "cclive's");
        assert_eq!(
            uninstall_statusline(&mut s, BASE).unwrap(),
            StatuslineChange::Removed
        );
        assert_eq!(
            Format::claude().render(&s),
            Format::claude().render(&original)
        );
        assert_eq!(
            uninstall_statusline(&mut s, BASE).unwrap(),
            StatuslineChange::Unchanged
        );
    }

    /// The user's status line (with a quote in it and a padding) is refused without a policy,
    /// chained or replaced with one, and put back byte for byte by uninstall, with hooks too.
    #[test]
    fn the_users_status_line_is_kept_and_given_back_exactly() {
        let theirs = r#"bash -c 'echo "$(git branch --show-current)"' # it's mine"#;
        let mut original = user_settings();
        original.as_object_mut().unwrap().insert(
            "statusLine".into(),
            json!({"type": "command", "command": theirs, "padding": 0}),
        );
        let text = Format::claude().render(&original);

        let mut s = original.clone();
        let refused = install_statusline(&mut s, BASE, StatuslinePolicy::Refuse).unwrap();
        assert_eq!(refused, StatuslineChange::Refused(theirs.to_owned()));
        assert_eq!(s, original, "refusing changes nothing");

        for (policy, flag) in [
            (StatuslinePolicy::Chain, "--chain"),
            (StatuslinePolicy::Force, "--replaced"),
        ] {
            let mut s = original.clone();
            install(&mut s, &spec(Mode::Http)).unwrap();
            let change = install_statusline(&mut s, BASE, policy).unwrap();
            assert!(change.changed());
            let command = s["statusLine"]["command"].as_str().unwrap().to_owned();
            assert!(
                command.starts_with(&format!("{BASE} {flag} '")),
                "{command}"
            );
            assert_eq!(s["statusLine"]["padding"], 0, "the user's other keys stay");
            assert_eq!(
                install_statusline(&mut s, BASE, policy).unwrap(),
                StatuslineChange::Unchanged
            );
            assert_eq!(
                uninstall_statusline(&mut s, BASE).unwrap(),
                StatuslineChange::Restored(theirs.to_owned())
            );
            uninstall(&mut s, &spec(Mode::Http)).unwrap();
            assert_eq!(Format::claude().render(&s), text, "{policy:?}");
        }
    }

    #[test]
    fn only_our_exact_command_is_ours() {
        assert_eq!(ours_keeps(BASE, BASE), Some(Ours::Alone));
        assert_eq!(
            ours_keeps(BASE, &format!("{BASE} --chain 'a b'")),
            Some(Ours::Keeps("a b".into()))
        );
        assert_eq!(
            ours_keeps(BASE, &format!("{BASE} --replaced ok.sh")),
            Some(Ours::Keeps("ok.sh".into()))
        );
        assert_eq!(ours_keeps(BASE, &format!("{BASE} --chain 'a' b")), None);
        assert_eq!(ours_keeps(BASE, &format!("{BASE} --verbose")), None);
        assert_eq!(ours_keeps(BASE, "/other/cclive statusline"), None);
        for word in ["it's", "a'b'c", "'", "", "plain", "x y"] {
            assert_eq!(
                shell_unquote(&shell_quote(word)).as_deref(),
                Some(word),
                "{word:?}"
            );
        }
        let mut s =
            json!({"statusLine": {"type": "command", "command": "/other/cclive statusline"}});
        assert_eq!(
            uninstall_statusline(&mut s, BASE).unwrap(),
            StatuslineChange::Unchanged
        );
        assert_eq!(
            statusline_command("/a b/cclive", Some("127.0.0.1:9")),
            "'/a b/cclive' statusline --listen 127.0.0.1:9"
        );
    }

    #[test]
    fn a_status_line_without_a_command_is_only_overwritten_by_force() {
        let weird = json!({"statusLine": "echo hi"});
        let mut s = weird.clone();
        assert!(matches!(
            install_statusline(&mut s, BASE, StatuslinePolicy::Chain).unwrap(),
            StatuslineChange::Refused(_)
        ));
        assert_eq!(s, weird);
        assert_eq!(
            install_statusline(&mut s, BASE, StatuslinePolicy::Force).unwrap(),
            StatuslineChange::Overwritten
        );
        assert_eq!(s["statusLine"]["command"], BASE);
    }

    #[test]
    fn the_layout_is_claude_codes_or_the_files_own() {
        let value = json!({"a": {"b": [1, "é\u{1b}"]}, "c": [], "d": {}});
        let text = "{\n  \"a\": {\n    \"b\": [\n      1,\n      \"é\\u001b\"\n    ]\n  },\n  \"c\": [],\n  \"d\": {}\n}\n";
        assert_eq!(Format::claude().render(&value), text);
        assert_eq!(Format::detect(text), Format::claude());
        let tabs = "{\n\t\"a\": 1\n}";
        let format = Format::detect(tabs);
        assert_eq!(format.render(&json!({"a": 1})), tabs);
        assert_eq!(Format::detect("{}"), Format::claude());
        assert_eq!(Format::detect(""), Format::claude());
    }
}
