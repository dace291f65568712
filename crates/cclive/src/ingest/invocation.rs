//! Planning the claude command line: what the user asked for, and what cclive adds to see it.
//!
//! In print mode cclive needs `--output-format stream-json --verbose --include-partial-messages`
//! to follow the session live, while the user must still get the output format they asked for;
//! the plan remembers that so the renderer can give it back. cclive also picks the session id up
//! front (`--session-id`), unless the user resumes or picks one, so every source names the same
//! session. Pure: no process is started here.

/// The output the user asked claude for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserOutput {
    /// Plain text (the default).
    Text,
    /// One JSON object (or, with `--verbose`, one JSON array of every message).
    Json,
    /// stream-json lines, passed through.
    StreamJson,
}

/// The command line to run and what the user asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// Arguments for claude, cclive's additions included.
    pub args: Vec<String>,
    /// True for `-p`/`--print`.
    pub print: bool,
    /// The output format the user asked for.
    pub user_output: UserOutput,
    /// The user passed `--verbose`.
    pub user_verbose: bool,
    /// The user asked for `--include-partial-messages` themselves.
    pub user_partial: bool,
    /// The session id claude will use, when cclive knows it up front.
    pub session_id: Option<String>,
    /// The prompt given with `-p`, when there is one.
    pub prompt: Option<String>,
}

/// Options of claude that take a value, so the value is not mistaken for the prompt.
const VALUE_OPTIONS: &[&str] = &[
    "--output-format",
    "--input-format",
    "--model",
    "--fallback-model",
    "--permission-mode",
    "--session-id",
    "--settings",
    "--append-system-prompt",
    "--system-prompt",
    "--max-turns",
    "--agents",
    "--agent",
    "--setting-sources",
    "--json-schema",
    "--max-budget-usd",
    "--name",
    "--effort",
    "--betas",
    "--debug-file",
];

impl Invocation {
    /// Plans the run of `user_args`; `new_session_id` is used unless the user resumes,
    /// continues, or names a session.
    pub fn plan(user_args: &[String], new_session_id: &str) -> Invocation {
        let mut args = Vec::with_capacity(user_args.len() + 6);
        let mut print = false;
        let mut user_output = UserOutput::Text;
        let mut user_verbose = false;
        let mut user_partial = false;
        let mut session_id = None;
        let mut resumes = false;
        let mut prompt = None;

        let mut iter = user_args.iter().peekable();
        while let Some(arg) = iter.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
                _ => (arg.as_str(), None),
            };
            match name {
                "-p" | "--print" => {
                    print = true;
                    args.push(arg.clone());
                    if let Some(next) = iter.peek()
                        && !next.starts_with('-')
                    {
                        prompt = Some((*next).clone());
                        args.push((*next).clone());
                        iter.next();
                    }
                }
                "--output-format" => {
                    // Remembered, not passed: cclive asks for stream-json and renders this.
                    let value = inline.or_else(|| iter.next().cloned()).unwrap_or_default();
                    user_output = match value.as_str() {
                        "json" => UserOutput::Json,
                        "stream-json" => UserOutput::StreamJson,
                        _ => UserOutput::Text,
                    };
                }
                "--verbose" => {
                    user_verbose = true;
                    args.push(arg.clone());
                }
                "--include-partial-messages" => {
                    user_partial = true;
                    args.push(arg.clone());
                }
                "--session-id" => {
                    let value = inline.clone().or_else(|| iter.peek().map(|s| (*s).clone()));
                    session_id = value;
                    args.push(arg.clone());
                    if inline.is_none()
                        && let Some(v) = iter.next()
                    {
                        args.push(v.clone());
                    }
                }
                "-r" | "--resume" | "-c" | "--continue" | "--fork-session" | "--from-pr"
                | "--teleport" => {
                    resumes = true;
                    args.push(arg.clone());
                }
                _ if VALUE_OPTIONS.contains(&name) && inline.is_none() => {
                    args.push(arg.clone());
                    if let Some(v) = iter.next() {
                        args.push(v.clone());
                    }
                }
                _ => args.push(arg.clone()),
            }
        }

        if print {
            args.extend(["--output-format".into(), "stream-json".into()]);
            if !user_verbose {
                args.push("--verbose".into());
            }
            if !user_partial {
                args.push("--include-partial-messages".into());
            }
        }
        if session_id.is_none() && !resumes {
            session_id = Some(new_session_id.to_owned());
            args.extend(["--session-id".into(), new_session_id.to_owned()]);
        }
        Invocation {
            args,
            print,
            user_output,
            user_verbose,
            user_partial,
            session_id,
            prompt,
        }
    }

    /// The command line as shown in history: `claude` and the user's arguments, shell-quoted,
    /// at most `max_chars` characters (the prompt may be long and is the user's content).
    pub fn display_command(user_args: &[String], max_chars: usize) -> String {
        let mut out = String::from("claude");
        for arg in user_args {
            out.push(' ');
            if !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                out.push_str(arg);
            } else {
                out.push('\'');
                out.push_str(&arg.replace('\'', r"'\''"));
                out.push('\'');
            }
        }
        if out.chars().count() > max_chars {
            let mut cut: String = out.chars().take(max_chars.saturating_sub(1)).collect();
            cut.push('…');
            cut
        } else {
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn print_mode_gets_stream_json_and_a_session_id() {
        let plan = Invocation::plan(&s(&["-p", "hello there", "--allowedTools", "Bash"]), "sid");
        assert!(plan.print);
        assert_eq!(plan.user_output, UserOutput::Text);
        assert_eq!(plan.prompt.as_deref(), Some("hello there"));
        assert_eq!(plan.session_id.as_deref(), Some("sid"));
        assert_eq!(
            plan.args,
            s(&[
                "-p",
                "hello there",
                "--allowedTools",
                "Bash",
                "--output-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
                "--session-id",
                "sid"
            ])
        );
    }

    #[test]
    fn the_users_output_format_is_remembered_not_passed() {
        for (args, want) in [
            (s(&["-p", "q", "--output-format", "json"]), UserOutput::Json),
            (
                s(&["-p", "q", "--output-format=stream-json", "--verbose"]),
                UserOutput::StreamJson,
            ),
            (
                s(&["--print", "--output-format", "text", "q"]),
                UserOutput::Text,
            ),
        ] {
            let plan = Invocation::plan(&args, "sid");
            assert_eq!(plan.user_output, want, "{args:?}");
            assert_eq!(
                plan.args
                    .iter()
                    .filter(|a| a.contains("output-format"))
                    .count(),
                1
            );
            assert_eq!(plan.args.iter().filter(|a| *a == "--verbose").count(), 1);
        }
    }

    #[test]
    fn users_partial_messages_are_kept() {
        let plan = Invocation::plan(&s(&["-p", "q", "--include-partial-messages"]), "sid");
        assert!(plan.user_partial);
        assert_eq!(
            plan.args
                .iter()
                .filter(|a| *a == "--include-partial-messages")
                .count(),
            1
        );
    }

    #[test]
    fn resuming_or_naming_a_session_is_respected() {
        let plan = Invocation::plan(&s(&["--resume", "abc", "-p", "q"]), "sid");
        assert_eq!(plan.session_id, None);
        assert!(!plan.args.contains(&"sid".to_owned()));
        let plan = Invocation::plan(&s(&["--session-id", "mine", "-p", "q"]), "sid");
        assert_eq!(plan.session_id.as_deref(), Some("mine"));
        assert_eq!(plan.args.iter().filter(|a| *a == "--session-id").count(), 1);
    }

    #[test]
    fn interactive_mode_is_left_alone_but_for_the_session_id() {
        let plan = Invocation::plan(&s(&["--model", "sonnet"]), "sid");
        assert!(!plan.print);
        assert_eq!(plan.args, s(&["--model", "sonnet", "--session-id", "sid"]));
    }

    #[test]
    fn display_command_quotes_and_truncates() {
        assert_eq!(
            Invocation::display_command(&s(&["-p", "it's fine"]), 100),
            r"claude -p 'it'\''s fine'"
        );
        let long = Invocation::display_command(&s(&["-p", &"x".repeat(500)]), 50);
        assert_eq!(long.chars().count(), 50);
    }
}
