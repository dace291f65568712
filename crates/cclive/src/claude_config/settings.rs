//! cclive's hook entries in Claude Code's `settings.json`, as pure edits of a `serde_json::Value`.
//!
//! [`install`] adds one matcher group per event, `{"hooks": [<handler>]}`, after whatever the user
//! has; [`uninstall`] removes exactly the groups whose content equals what [`install`] writes for
//! the same [`HookSpec`] (never "anything mentioning cclive"), and the `hooks.<Event>` arrays and
//! the `hooks` object it emptied; [`status`] says what is there. Every other key, hook and the key
//! order (the workspace builds serde_json with `preserve_order`; removal uses `shift_remove`) is
//! kept. `format::Format` writes the text the way Claude Code does, so install + uninstall gives
//! back a Claude-written file byte for byte; the `statusLine` entry is `statusline`'s. File I/O,
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
    cclive_command(exe, "hook", listen)
}

/// `exe verb [--listen <addr>]` as a shell command, each word quoted where a shell needs it.
pub(super) fn cclive_command(exe: &str, verb: &str, listen: Option<&str>) -> String {
    let mut command = format!("{} {verb}", shell_quote(exe));
    if let Some(listen) = listen {
        command.push_str(" --listen ");
        command.push_str(&shell_quote(listen));
    }
    command
}

pub(super) fn shell_quote(word: &str) -> String {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::claude_config::format::Format;

    /// The hooks `install` writes for `mode`, for the default monitor.
    pub(crate) fn spec(mode: Mode) -> HookSpec {
        HookSpec {
            mode,
            url: hooks_url("127.0.0.1:8501"),
            command: hook_command("/opt/cclive/bin/cclive", None),
            token: false,
        }
    }

    /// A user's settings with hooks and keys of their own.
    pub(crate) fn user_settings() -> Value {
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
}
