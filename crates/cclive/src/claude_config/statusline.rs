//! cclive's `statusLine` entry in Claude Code's `settings.json`, as pure edits of a
//! `serde_json::Value`: added where there is none, a user's own chained, replaced or left alone
//! (by policy) and given back exactly on uninstall. It never touches the disk (that is
//! `file`'s) and never edits the `hooks` (that is `settings`').

use serde_json::{Value, json};

use super::settings::{ShapeError, cclive_command, shell_quote};

/// `cclive statusline` as a shell command for `exe` (plus `--listen <addr>` when one was given):
/// what `hooks install --statusline` puts in `statusLine.command`, before any `--chain`.
pub(crate) fn statusline_command(exe: &str, listen: Option<&str>) -> String {
    cclive_command(exe, "statusline", listen)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claude_config::format::Format;
    use crate::claude_config::settings::tests::{spec, user_settings};
    use crate::claude_config::settings::{Mode, install, uninstall};

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
}
