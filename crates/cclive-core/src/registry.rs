//! Claude Code 2.1.x's registry of running sessions, `<config dir>/sessions/<pid>.json`, and the
//! `/proc` facts that tell a live entry from a stale one.
//!
//! Claude Code writes one file per running process, rewrites it on every status change and
//! deletes it on a clean exit; a SIGKILLed process leaves it behind (still saying `busy`), and a
//! pid may be reused. So an entry counts as alive only when its pid runs *and* that process
//! started when the entry says ([`liveness`]). Everything here is pure: the caller reads the
//! file, `/proc/<pid>/stat` and the pid namespace, and hands over their contents. Next to each
//! entry lies a `<pid>.<hash>.key` file holding a peer-messaging secret: [`parse_entry`] is for
//! `<pid>.json` only, and nothing here reads, keeps or exposes a `.key` file's content.

use jiff::Timestamp;
use serde::Deserialize;

use crate::event::Source;
use crate::event::{Activity, EventKind, Mode};
use crate::ids::SessionId;
use crate::transcript::json_error;
use crate::transcript::lenient::{Str, U64};

/// One `sessions/<pid>.json` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryEntry {
    /// The claude process (also the file name).
    pub pid: u32,
    /// The session it runs.
    pub session_id: SessionId,
    /// Its working directory.
    pub cwd: Option<String>,
    /// `startedAt`.
    pub started_at: Option<Timestamp>,
    /// `procStart`: field 22 (`starttime`, clock ticks since boot) of `/proc/<pid>/stat` when the
    /// process wrote the file. Guards against pid reuse.
    pub proc_start: Option<u64>,
    /// `status`: `busy`/`shell` → busy, `idle`, `waiting`. `None` on the first write (which has
    /// no status yet) and for statuses this cclive does not know.
    pub status: Option<Activity>,
    /// `waitingFor` (e.g. "permission prompt"), while `waiting`.
    pub waiting_for: Option<String>,
    /// `kind`: `interactive` (also for `-p`), `bg`, `daemon`, `daemon-worker`.
    pub kind: Option<String>,
    /// `entrypoint`: `cli` (interactive, bg) or `sdk-cli` (`-p` print mode).
    pub entrypoint: Option<String>,
    /// Claude Code's version.
    pub version: Option<String>,
    /// `pidDomain`: `linux:<machine-id>:<pid namespace>`; see [`pid_domain`].
    pub pid_domain: Option<String>,
    /// `statusUpdatedAt` (else `updatedAt`): when the status was written.
    pub status_updated_at: Option<Timestamp>,
    /// `name` (derived from the cwd, or a generated title for bg sessions).
    pub name: Option<String>,
    /// `jobId` (bg sessions).
    pub job_id: Option<String>,
}

impl RegistryEntry {
    /// Print mode for `sdk-cli`, else interactive.
    pub fn mode(&self) -> Mode {
        match self.entrypoint.as_deref() {
            Some("sdk-cli") => Mode::Print,
            _ => Mode::Interactive,
        }
    }

    /// True unless the entry names another machine or pid namespace than `ours` (an entry
    /// without `pidDomain` is taken to be ours). Pids of another domain mean nothing here.
    pub fn is_in_domain(&self, ours: &str) -> bool {
        self.pid_domain.as_deref().is_none_or(|d| d == ours)
    }
}

/// Whether an entry's process is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The process runs and started when the entry says; with the entry's status.
    Alive(Option<Activity>),
    /// No such process, or a different process under a reused pid, or an entry that does not
    /// say when its process started: the file is a leftover.
    Stale,
}

/// Why an entry could not be read. The message never includes the file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not valid JSON.
    #[error("not valid JSON ({0})")]
    Json(String),
    /// Valid JSON, but not an object.
    #[error("a sessions entry must be a JSON object")]
    NotAnObject,
    /// A field every entry has is missing or malformed.
    #[error("the sessions entry has no valid {0}")]
    Missing(&'static str),
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RawEntry<'a> {
    pid: U64,
    #[serde(borrow)]
    session_id: Str<'a>,
    #[serde(borrow)]
    cwd: Str<'a>,
    started_at: U64,
    proc_start: ProcStart,
    #[serde(borrow)]
    status: Str<'a>,
    #[serde(borrow)]
    waiting_for: Str<'a>,
    #[serde(borrow)]
    kind: Str<'a>,
    #[serde(borrow)]
    entrypoint: Str<'a>,
    #[serde(borrow)]
    version: Str<'a>,
    #[serde(borrow)]
    pid_domain: Str<'a>,
    updated_at: U64,
    status_updated_at: U64,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    job_id: Str<'a>,
}

/// `procStart`: a string of digits as Claude Code writes it (a number is accepted too); anything
/// else reads as absent.
#[derive(Default)]
struct ProcStart(Option<u64>);

impl<'de> Deserialize<'de> for ProcStart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ProcStart;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a process start time")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ProcStart(v.parse().ok()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ProcStart(Some(v)))
            }
            crate::transcript::lenient::absent_otherwise!(bool i64 f64 unit map seq);
        }
        d.deserialize_any(V)
    }
}

fn owned(s: &Str<'_>) -> Option<String> {
    s.0.as_deref().map(str::to_owned)
}

fn epoch_ms(ms: U64) -> Option<Timestamp> {
    Timestamp::from_millisecond(i64::try_from(ms.0?).ok()?).ok()
}

/// The [`Activity`] a registry `status` stands for.
pub fn activity_of(status: &str) -> Option<Activity> {
    match status {
        "busy" | "shell" => Some(Activity::Busy),
        "idle" => Some(Activity::Idle),
        "waiting" => Some(Activity::Waiting),
        _ => None,
    }
}

/// Parses the content of one `sessions/<pid>.json`. Never hand it a `.key` file.
pub fn parse_entry(bytes: &[u8]) -> Result<RegistryEntry, ParseError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ParseError::NotAnObject),
            Err(e) => Err(ParseError::Json(json_error(&e))),
        };
    }
    let raw = parse_raw(bytes)?;
    let pid = raw
        .pid
        .0
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or(ParseError::Missing("pid"))?;
    let session_id = raw
        .session_id
        .0
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(SessionId::new)
        .ok_or(ParseError::Missing("sessionId"))?;
    Ok(RegistryEntry {
        pid,
        session_id,
        cwd: owned(&raw.cwd),
        started_at: epoch_ms(raw.started_at),
        proc_start: raw.proc_start.0,
        status: raw.status.0.as_deref().and_then(activity_of),
        waiting_for: owned(&raw.waiting_for),
        kind: owned(&raw.kind),
        entrypoint: owned(&raw.entrypoint),
        version: owned(&raw.version),
        pid_domain: owned(&raw.pid_domain),
        status_updated_at: epoch_ms(raw.status_updated_at).or_else(|| epoch_ms(raw.updated_at)),
        name: owned(&raw.name),
        job_id: owned(&raw.job_id),
    })
}

fn parse_raw(bytes: &[u8]) -> Result<RawEntry<'_>, ParseError> {
    serde_json::from_slice(bytes).map_err(|e| ParseError::Json(json_error(&e)))
}

/// Field 22 (`starttime`) of the content of `/proc/<pid>/stat`. Field 2 (`comm`) is in
/// parentheses and may itself contain spaces and `)`, so fields are counted from the text after
/// the *last* `)`.
pub fn proc_start_time(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    // After `comm` come field 3 (`state`) … field 22 (`starttime`): the 20th of the rest.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// Whether `entry`'s process runs, given `observed_start`: what the caller read as
/// [`proc_start_time`] of `/proc/<entry.pid>/stat` (`None` when there is no such process).
pub fn liveness(entry: &RegistryEntry, observed_start: Option<u64>) -> Liveness {
    match (entry.proc_start, observed_start) {
        (Some(expected), Some(observed)) if expected == observed => Liveness::Alive(entry.status),
        _ => Liveness::Stale,
    }
}

/// The `pidDomain` of this machine and pid namespace, as Claude Code writes it, from the content
/// of `/etc/machine-id` and the target of the `/proc/self/ns/pid` link (e.g. `pid:[4026531836]`).
pub fn pid_domain(machine_id: &str, pid_namespace: &str) -> String {
    format!("linux:{}:{}", machine_id.trim(), pid_namespace.trim())
}

/// The domain events an entry stands for, given its liveness: an alive entry's status becomes
/// `Activity` (nothing before its first status write); a stale entry means the process died
/// without ending its session (`ProcessGone`). Starting the session (`SessionStarted` with
/// [`RegistryEntry::mode`], source `registry`) is [`start_event`]'s, for the caller to emit once.
pub fn to_events(entry: &RegistryEntry, liveness: Liveness) -> Vec<EventKind> {
    match liveness {
        Liveness::Alive(Some(state)) => vec![EventKind::Activity {
            state,
            waiting_for: if state == Activity::Waiting {
                entry.waiting_for.clone()
            } else {
                None
            },
            pid: Some(entry.pid),
        }],
        Liveness::Alive(None) => Vec::new(),
        Liveness::Stale => vec![EventKind::ProcessGone {
            pid: Some(entry.pid),
        }],
    }
}

/// `SessionStarted` for the session an entry names (source `registry`).
pub fn start_event(entry: &RegistryEntry) -> EventKind {
    EventKind::SessionStarted {
        mode: entry.mode(),
        command: None,
        cwd: entry.cwd.clone(),
        project_path: None,
        session_type: None,
        source: Source::Registry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/registry/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn killed() -> RegistryEntry {
        parse_entry(fixture("25255.json").as_bytes()).unwrap()
    }

    #[test]
    fn the_entry_a_sigkill_left_behind() {
        let e = killed();
        assert_eq!(e.pid, 25255);
        assert_eq!(
            e.session_id.as_str(),
            "5e83a0f2-739c-48e6-9c3a-d4a803b5eee8"
        );
        assert_eq!(
            e.cwd.as_deref(),
            Some("/home/dev/cap/interactive-kill9/work")
        );
        assert_eq!(
            e.started_at,
            Some(Timestamp::from_millisecond(1_795_611_838_322).unwrap())
        );
        assert_eq!(e.proc_start, Some(78541));
        assert_eq!(e.status, Some(Activity::Busy));
        assert_eq!(e.waiting_for, None);
        assert_eq!(e.kind.as_deref(), Some("interactive"));
        assert_eq!(e.entrypoint.as_deref(), Some("cli"));
        assert_eq!(e.mode(), Mode::Interactive);
        assert_eq!(e.version.as_deref(), Some("2.1.332"));
        assert_eq!(
            e.pid_domain.as_deref(),
            Some("linux:3d1219c7c4c5404aaa1f6d2a48adfda4:pid:[4026531836]")
        );
        assert_eq!(
            e.status_updated_at,
            Some(Timestamp::from_millisecond(1_795_611_843_365).unwrap())
        );
        assert_eq!(e.name.as_deref(), Some("work-1b"));
    }

    #[test]
    fn alive_only_when_the_same_process_still_runs() {
        let e = killed();
        assert_eq!(
            liveness(&e, Some(78541)),
            Liveness::Alive(Some(Activity::Busy))
        );
        // SIGKILL: the file says busy, but there is no process.
        assert_eq!(liveness(&e, None), Liveness::Stale);
        // The pid was reused by a process that started later.
        assert_eq!(liveness(&e, Some(99_999)), Liveness::Stale);
        let no_start = RegistryEntry {
            proc_start: None,
            ..e
        };
        assert_eq!(liveness(&no_start, Some(78541)), Liveness::Stale);
    }

    #[test]
    fn events_for_alive_and_stale_entries() {
        let e = killed();
        assert_eq!(
            to_events(&e, Liveness::Stale),
            vec![EventKind::ProcessGone { pid: Some(25255) }]
        );
        assert_eq!(
            to_events(&e, liveness(&e, Some(78541))),
            vec![EventKind::Activity {
                state: Activity::Busy,
                waiting_for: None,
                pid: Some(25255)
            }]
        );
        assert!(to_events(&e, Liveness::Alive(None)).is_empty());
        assert!(matches!(
            start_event(&e),
            EventKind::SessionStarted {
                mode: Mode::Interactive,
                source: Source::Registry,
                ..
            }
        ));
    }

    #[test]
    fn waiting_print_and_first_write_entries() {
        let waiting = parse_entry(fixture("waiting-print.json").as_bytes()).unwrap();
        assert_eq!(waiting.status, Some(Activity::Waiting));
        assert_eq!(waiting.waiting_for.as_deref(), Some("permission prompt"));
        assert_eq!(waiting.mode(), Mode::Print);
        assert_eq!(
            to_events(&waiting, Liveness::Alive(waiting.status)),
            vec![EventKind::Activity {
                state: Activity::Waiting,
                waiting_for: Some("permission prompt".into()),
                pid: Some(41000)
            }]
        );
        let first = parse_entry(fixture("first-write.json").as_bytes()).unwrap();
        assert_eq!(first.status, None);
        assert_eq!(first.status_updated_at, None);
        assert_eq!(liveness(&first, Some(1234)), Liveness::Alive(None));
    }

    #[test]
    fn statuses() {
        assert_eq!(activity_of("busy"), Some(Activity::Busy));
        assert_eq!(activity_of("shell"), Some(Activity::Busy));
        assert_eq!(activity_of("idle"), Some(Activity::Idle));
        assert_eq!(activity_of("waiting"), Some(Activity::Waiting));
        assert_eq!(activity_of("teleporting"), None);
    }

    #[test]
    fn start_time_is_field_22_counted_after_the_last_paren() {
        let stat = "78541 (claude) S 78530 78541 78530 34816 78541 4194304 20883 0 1 0 \
                    215 61 0 0 20 0 12 0 78541 75776000 49813 18446744073709551615 1 1 0 0 0 0 \
                    0 16781312 1073759976 0 0 0 17 3 0 0 0 0 0";
        assert_eq!(proc_start_time(stat), Some(78541));
        // A comm with spaces and a `)` of its own.
        let odd = "4242 (a) b) c d) R 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                   987654 1000 10 18446744073709551615";
        assert_eq!(proc_start_time(odd), Some(987_654));
        assert_eq!(proc_start_time("4242 (claude) S 1 2 3"), None);
        assert_eq!(proc_start_time("no parens at all"), None);
        assert_eq!(proc_start_time(""), None);
    }

    #[test]
    fn pid_domains() {
        let ours = pid_domain("3d1219c7c4c5404aaa1f6d2a48adfda4\n", "pid:[4026531836]");
        assert!(killed().is_in_domain(&ours));
        assert!(!killed().is_in_domain("linux:other:pid:[1]"));
    }

    #[test]
    fn bad_entries_are_errors_without_content() {
        assert_eq!(parse_entry(b"[1]"), Err(ParseError::NotAnObject));
        assert!(matches!(
            parse_entry(b"{\"pid\":1,\"cwd\":\"/secret"),
            Err(ParseError::Json(_))
        ));
        assert_eq!(
            parse_entry(br#"{"sessionId":"s","cwd":"/secret"}"#),
            Err(ParseError::Missing("pid"))
        );
        assert_eq!(
            parse_entry(br#"{"pid":12,"cwd":"/secret"}"#),
            Err(ParseError::Missing("sessionId"))
        );
        let e = parse_entry(br#"{"pid":12,"sessionId":"s","procStart":"x1","status":7}"#).unwrap();
        assert_eq!((e.proc_start, e.status), (None, None));
        for bad in [
            &b"{\"pid\":1,\"cwd\":\"/secret"[..],
            br#"{"pid":"/secret"}"#,
        ] {
            let err = parse_entry(bad).unwrap_err();
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }
}
