//! Claude Code hook payloads: the JSON a hook command reads on stdin, or an http hook's body.
//!
//! [`parse_payload`] reads one payload into a [`HookPayload`], keeping ids and metadata only: the
//! prompt becomes a preview, and tool inputs, tool responses and assistant messages are skipped
//! unread. [`to_events`] maps a payload onto the domain [`EventKind`]s. [`HOOK_EVENTS`] and
//! [`HOOK_EVENTS_1_0`] are the events `cclive hooks install` registers. Payloads carry no time:
//! the caller stamps events with when it received them. This module never reads files, env or the
//! clock (the one env fact that matters, `CLAUDE_CODE_ENTRYPOINT`, is the caller's to pass in
//! [`HookPayload::entrypoint`]).

use serde::Deserialize;

use crate::event::Source;
use crate::event::{Activity, EventKind, Mode};
use crate::ids::SessionId;
use crate::transcript::json_error;
use crate::transcript::lenient::{Bool, Head, Str, U64};

/// The events `cclive hooks install` registers with Claude Code 2.1.x: those [`to_events`] turns
/// into something. Every registered hook runs on Claude Code's critical path, so events that
/// carry nothing for cclive (`PostToolBatch`, `MessageDisplay`, `SubagentStart`, compaction, …)
/// are left out. `WorktreeCreate` must never be registered: a registered hook *replaces* Claude
/// Code's own git worktree creation.
pub const HOOK_EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "PermissionRequest",
    "PermissionDenied",
    "Notification",
    "Elicitation",
    "ElicitationResult",
    "Stop",
    "StopFailure",
    "PostModelSwitch",
    "SessionEnd",
];

/// The events to register with Claude Code 1.0.x, whose hooks are `PreToolUse, PostToolUse,
/// Notification, UserPromptSubmit, Stop, SubagentStop, PreCompact, SessionStart, SessionEnd`
/// (`SubagentStop` and `PreCompact` carry nothing for cclive and are left out). 1.0.x tool
/// payloads have no `tool_use_id`: its tool hooks only say the session is busy.
pub const HOOK_EVENTS_1_0: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Notification",
    "Stop",
    "SessionEnd",
];

/// What `waiting_for` says while a permission dialog is open (the registry's own words).
pub const WAITING_FOR_PERMISSION: &str = "permission prompt";

/// A hook event, as named in `hook_event_name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HookEvent {
    /// Before a tool runs.
    PreToolUse,
    /// After a tool succeeded.
    PostToolUse,
    /// After a tool failed.
    PostToolUseFailure,
    /// After a batch of parallel tool calls.
    PostToolBatch,
    /// Claude Code notifies the user (idle, permission needed, …).
    Notification,
    /// The user submitted a prompt.
    UserPromptSubmit,
    /// A prompt was expanded (slash command).
    UserPromptExpansion,
    /// A session started, resumed, or was compacted.
    SessionStart,
    /// A session ended.
    SessionEnd,
    /// A turn ended.
    Stop,
    /// A turn ended with an API error.
    StopFailure,
    /// A sub-agent started.
    SubagentStart,
    /// A sub-agent (or compaction) finished.
    SubagentStop,
    /// Before compaction.
    PreCompact,
    /// After compaction.
    PostCompact,
    /// Before `/model` switches.
    PreModelSwitch,
    /// After `/model` switched.
    PostModelSwitch,
    /// A permission dialog opened.
    PermissionRequest,
    /// A permission was denied.
    PermissionDenied,
    /// First-run setup.
    Setup,
    /// A teammate went idle.
    TeammateIdle,
    /// A task was created.
    TaskCreated,
    /// A task completed.
    TaskCompleted,
    /// An MCP server asks the user for input.
    Elicitation,
    /// The user answered an elicitation.
    ElicitationResult,
    /// Settings changed.
    ConfigChange,
    /// A git worktree is to be created (never registered by cclive).
    WorktreeCreate,
    /// A git worktree was removed.
    WorktreeRemove,
    /// CLAUDE.md or other instructions were loaded.
    InstructionsLoaded,
    /// The working directory changed.
    CwdChanged,
    /// A watched file changed.
    FileChanged,
    /// A directory was added to the workspace.
    DirectoryAdded,
    /// A message was displayed.
    MessageDisplay,
    /// Before a skill's shell command.
    PreSkillShellCommand,
    /// An event this cclive does not know.
    Unknown(String),
}

/// Every named [`HookEvent`] (all but `Unknown`), in Claude Code 2.1.332's order.
pub const ALL_HOOK_EVENTS: &[HookEvent] = &[
    HookEvent::PreToolUse,
    HookEvent::PostToolUse,
    HookEvent::PostToolUseFailure,
    HookEvent::PostToolBatch,
    HookEvent::Notification,
    HookEvent::UserPromptSubmit,
    HookEvent::UserPromptExpansion,
    HookEvent::SessionStart,
    HookEvent::SessionEnd,
    HookEvent::Stop,
    HookEvent::StopFailure,
    HookEvent::SubagentStart,
    HookEvent::SubagentStop,
    HookEvent::PreCompact,
    HookEvent::PostCompact,
    HookEvent::PreModelSwitch,
    HookEvent::PostModelSwitch,
    HookEvent::PermissionRequest,
    HookEvent::PermissionDenied,
    HookEvent::Setup,
    HookEvent::TeammateIdle,
    HookEvent::TaskCreated,
    HookEvent::TaskCompleted,
    HookEvent::Elicitation,
    HookEvent::ElicitationResult,
    HookEvent::ConfigChange,
    HookEvent::WorktreeCreate,
    HookEvent::WorktreeRemove,
    HookEvent::InstructionsLoaded,
    HookEvent::CwdChanged,
    HookEvent::FileChanged,
    HookEvent::DirectoryAdded,
    HookEvent::MessageDisplay,
    HookEvent::PreSkillShellCommand,
];

impl HookEvent {
    /// The event named `name` (`Unknown` for a name this cclive does not know).
    pub fn from_name(name: &str) -> HookEvent {
        ALL_HOOK_EVENTS
            .iter()
            .find(|e| e.as_str() == name)
            .cloned()
            .unwrap_or_else(|| HookEvent::Unknown(name.to_owned()))
    }

    /// The name Claude Code uses.
    pub fn as_str(&self) -> &str {
        match self {
            HookEvent::PreToolUse => "PreToolUse",
            HookEvent::PostToolUse => "PostToolUse",
            HookEvent::PostToolUseFailure => "PostToolUseFailure",
            HookEvent::PostToolBatch => "PostToolBatch",
            HookEvent::Notification => "Notification",
            HookEvent::UserPromptSubmit => "UserPromptSubmit",
            HookEvent::UserPromptExpansion => "UserPromptExpansion",
            HookEvent::SessionStart => "SessionStart",
            HookEvent::SessionEnd => "SessionEnd",
            HookEvent::Stop => "Stop",
            HookEvent::StopFailure => "StopFailure",
            HookEvent::SubagentStart => "SubagentStart",
            HookEvent::SubagentStop => "SubagentStop",
            HookEvent::PreCompact => "PreCompact",
            HookEvent::PostCompact => "PostCompact",
            HookEvent::PreModelSwitch => "PreModelSwitch",
            HookEvent::PostModelSwitch => "PostModelSwitch",
            HookEvent::PermissionRequest => "PermissionRequest",
            HookEvent::PermissionDenied => "PermissionDenied",
            HookEvent::Setup => "Setup",
            HookEvent::TeammateIdle => "TeammateIdle",
            HookEvent::TaskCreated => "TaskCreated",
            HookEvent::TaskCompleted => "TaskCompleted",
            HookEvent::Elicitation => "Elicitation",
            HookEvent::ElicitationResult => "ElicitationResult",
            HookEvent::ConfigChange => "ConfigChange",
            HookEvent::WorktreeCreate => "WorktreeCreate",
            HookEvent::WorktreeRemove => "WorktreeRemove",
            HookEvent::InstructionsLoaded => "InstructionsLoaded",
            HookEvent::CwdChanged => "CwdChanged",
            HookEvent::FileChanged => "FileChanged",
            HookEvent::DirectoryAdded => "DirectoryAdded",
            HookEvent::MessageDisplay => "MessageDisplay",
            HookEvent::PreSkillShellCommand => "PreSkillShellCommand",
            HookEvent::Unknown(name) => name,
        }
    }
}

impl std::fmt::Display for HookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One hook payload, reduced to ids and metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct HookPayload {
    /// `hook_event_name`.
    pub event: HookEvent,
    /// `session_id` (for sub-agent hooks: the parent's).
    pub session_id: SessionId,
    /// `transcript_path`: where the session's transcript is.
    pub transcript_path: Option<String>,
    /// `cwd` at the time of the hook.
    pub cwd: Option<String>,
    /// `prompt_id` (2.1.x): the same id as the transcript's `promptId`.
    pub prompt_id: Option<String>,
    /// `permission_mode`.
    pub permission_mode: Option<String>,
    /// `prompt` (UserPromptSubmit), shortened by [`crate::event::prompt_preview`].
    pub prompt_preview: Option<String>,
    /// `tool_name`.
    pub tool_name: Option<String>,
    /// `tool_use_id` (2.1.x; 1.0.x payloads have none): the same id as the transcript's.
    pub tool_use_id: Option<String>,
    /// `duration_ms` of a tool (PostToolUse, PostToolUseFailure).
    pub duration_ms: Option<u64>,
    /// `is_interrupt` (PostToolUseFailure): the user interrupted the tool.
    pub is_interrupt: bool,
    /// `source` (SessionStart: `startup`, `resume`, `clear`, `compact`; model switches).
    pub source: Option<String>,
    /// `model` (SessionStart, interactive only).
    pub model: Option<String>,
    /// `to_model` (PostModelSwitch).
    pub to_model: Option<String>,
    /// `reason` (SessionEnd: `other`, `prompt_input_exit`, …).
    pub reason: Option<String>,
    /// `notification_type` (Notification, 2.1.x: `idle_prompt`, `permission_prompt`, …).
    pub notification_type: Option<String>,
    /// `message` (Notification), shortened like a prompt preview.
    pub notification_message: Option<String>,
    /// `agent_id`: set when the hook fired inside a sub-agent.
    pub agent_id: Option<String>,
    /// `agent_type`.
    pub agent_type: Option<String>,
    /// `trigger` (compaction: `manual`, `auto`).
    pub trigger: Option<String>,
    /// `new_cwd` (CwdChanged).
    pub new_cwd: Option<String>,
    /// `cli` or `sdk-cli`. Not in the payload: a command hook's caller may fill it from the
    /// hook's env `CLAUDE_CODE_ENTRYPOINT`, which tells print mode (`sdk-cli`) from interactive.
    pub entrypoint: Option<String>,
}

impl HookPayload {
    /// Print mode for `sdk-cli`, else interactive (the hook payload alone cannot tell).
    pub fn mode(&self) -> Mode {
        match self.entrypoint.as_deref() {
            Some("sdk-cli") => Mode::Print,
            _ => Mode::Interactive,
        }
    }
}

/// Why a payload could not be read. The message never includes the payload's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not valid JSON.
    #[error("not valid JSON ({0})")]
    Json(String),
    /// Valid JSON, but not an object.
    #[error("a hook payload must be a JSON object")]
    NotAnObject,
    /// A field every payload has is missing (or not a string).
    #[error("the hook payload has no {0}")]
    Missing(&'static str),
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPayload<'a> {
    #[serde(borrow)]
    hook_event_name: Str<'a>,
    #[serde(borrow)]
    session_id: Str<'a>,
    #[serde(borrow)]
    transcript_path: Str<'a>,
    #[serde(borrow)]
    cwd: Str<'a>,
    #[serde(borrow)]
    prompt_id: Str<'a>,
    #[serde(borrow)]
    permission_mode: Str<'a>,
    #[serde(borrow)]
    prompt: Head<'a>,
    #[serde(borrow)]
    tool_name: Str<'a>,
    #[serde(borrow)]
    tool_use_id: Str<'a>,
    duration_ms: U64,
    is_interrupt: Bool,
    #[serde(borrow)]
    source: Str<'a>,
    #[serde(borrow)]
    model: Str<'a>,
    #[serde(borrow)]
    to_model: Str<'a>,
    #[serde(borrow)]
    reason: Str<'a>,
    #[serde(borrow)]
    notification_type: Str<'a>,
    #[serde(borrow)]
    message: Head<'a>,
    #[serde(borrow)]
    agent_id: Str<'a>,
    #[serde(borrow)]
    agent_type: Str<'a>,
    #[serde(borrow)]
    trigger: Str<'a>,
    #[serde(borrow)]
    new_cwd: Str<'a>,
    #[serde(borrow)]
    entrypoint: Str<'a>,
}

fn owned(s: &Str<'_>) -> Option<String> {
    s.0.as_deref().map(str::to_owned)
}

/// Parses one payload. Unknown fields and events are kept as far as they go; only a payload that
/// is not a JSON object with `hook_event_name` and `session_id` is an error.
pub fn parse_payload(bytes: &[u8]) -> Result<HookPayload, ParseError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ParseError::NotAnObject),
            Err(e) => Err(ParseError::Json(json_error(&e))),
        };
    }
    let raw: RawPayload<'_> = match serde_json::from_slice(bytes) {
        Ok(raw) => raw,
        // JavaScript writes lone surrogates (`\udce9`); such a payload reads lossily.
        Err(e) => {
            return match crate::lossy::without_lone_surrogates(bytes) {
                Some(repaired) => parse_payload(&repaired),
                None => Err(ParseError::Json(json_error(&e))),
            };
        }
    };
    let event = raw
        .hook_event_name
        .0
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(HookEvent::from_name)
        .ok_or(ParseError::Missing("hook_event_name"))?;
    let session_id = raw
        .session_id
        .0
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(SessionId::new)
        .ok_or(ParseError::Missing("session_id"))?;
    Ok(HookPayload {
        event,
        session_id,
        transcript_path: owned(&raw.transcript_path),
        cwd: owned(&raw.cwd),
        prompt_id: owned(&raw.prompt_id),
        permission_mode: owned(&raw.permission_mode),
        prompt_preview: raw.prompt.preview(),
        tool_name: owned(&raw.tool_name),
        tool_use_id: owned(&raw.tool_use_id),
        duration_ms: raw.duration_ms.0,
        is_interrupt: raw.is_interrupt.0.unwrap_or(false),
        source: owned(&raw.source),
        model: owned(&raw.model),
        to_model: owned(&raw.to_model),
        reason: owned(&raw.reason),
        notification_type: owned(&raw.notification_type),
        notification_message: raw.message.preview(),
        agent_id: owned(&raw.agent_id),
        agent_type: owned(&raw.agent_type),
        trigger: owned(&raw.trigger),
        new_cwd: owned(&raw.new_cwd),
        entrypoint: owned(&raw.entrypoint),
    })
}

fn activity(state: Activity) -> EventKind {
    EventKind::Activity {
        state,
        waiting_for: None,
        pid: None,
    }
}

fn waiting(what: &str) -> EventKind {
    EventKind::Activity {
        state: Activity::Waiting,
        waiting_for: Some(what.to_owned()),
        pid: None,
    }
}

/// The domain events a payload stands for (all for [`HookPayload::session_id`]).
///
/// | event | events |
/// |---|---|
/// | SessionStart (not `compact`) | `SessionStarted { source: "hook" }` (mode per [`HookPayload::mode`]), `Init` with the model when given, `Activity(Idle)` when known interactive |
/// | UserPromptSubmit | `PromptSubmitted { id: prompt_id }`, `Activity(Busy)` |
/// | PreToolUse | `ToolUse` (when it has a `tool_use_id`, 2.1.x), `Activity(Busy)` |
/// | PostToolUse / PostToolUseFailure | `ToolResult` (when it has a `tool_use_id`), `Activity(Busy)` (a permission dialog, if any, is over), or `Activity(Idle)` when the user interrupted |
/// | PermissionRequest | `Activity(Waiting, "permission prompt")` |
/// | PermissionDenied, ElicitationResult | `Activity(Busy)` |
/// | Elicitation | `Activity(Waiting, "elicitation")` |
/// | Notification | `idle_prompt` → `Activity(Idle)`; `permission_prompt` → `Activity(Waiting)`; 1.0.x (no type): by its message |
/// | Stop, StopFailure | `TurnEnded`, `Activity(Idle)` |
/// | PostModelSwitch | `Init` with the new model |
/// | SessionEnd | `SessionEnded { reason }` |
/// | unknown events | `UnknownRecord { record_type: "hook/<name>" }` |
/// | others | nothing |
pub fn to_events(p: &HookPayload) -> Vec<EventKind> {
    let sidechain = p.agent_id.is_some();
    match &p.event {
        HookEvent::SessionStart => {
            if p.source.as_deref() == Some("compact") {
                return Vec::new();
            }
            let mut events = vec![EventKind::SessionStarted {
                mode: p.mode(),
                command: None,
                cwd: p.cwd.clone(),
                project_path: None,
                session_type: None,
                source: Source::Hook,
            }];
            if p.model.is_some() {
                events.push(init(p, p.model.clone()));
            }
            if p.entrypoint.as_deref() == Some("cli") {
                events.push(activity(Activity::Idle));
            }
            events
        }
        HookEvent::UserPromptSubmit => vec![
            EventKind::PromptSubmitted {
                id: p.prompt_id.clone(),
                preview: p.prompt_preview.clone(),
            },
            activity(Activity::Busy),
        ],
        HookEvent::PreToolUse => {
            let mut events = Vec::with_capacity(2);
            if let Some(id) = &p.tool_use_id {
                events.push(EventKind::ToolUse {
                    tool_use_id: id.clone(),
                    name: p.tool_name.clone().unwrap_or_default(),
                    sidechain,
                });
            }
            events.push(activity(Activity::Busy));
            events
        }
        HookEvent::PostToolUse | HookEvent::PostToolUseFailure => {
            let mut events = Vec::with_capacity(2);
            if let Some(id) = &p.tool_use_id {
                events.push(EventKind::ToolResult {
                    tool_use_id: id.clone(),
                    is_error: p.event == HookEvent::PostToolUseFailure,
                    duration_ms: p.duration_ms,
                    sidechain,
                });
            }
            events.push(activity(if p.is_interrupt {
                Activity::Idle
            } else {
                Activity::Busy
            }));
            events
        }
        HookEvent::PermissionRequest => vec![waiting(WAITING_FOR_PERMISSION)],
        HookEvent::PermissionDenied | HookEvent::ElicitationResult => {
            vec![activity(Activity::Busy)]
        }
        HookEvent::Elicitation => vec![waiting("elicitation")],
        HookEvent::Notification => notification(p).into_iter().collect(),
        HookEvent::Stop | HookEvent::StopFailure => vec![
            EventKind::TurnEnded { duration_ms: None },
            activity(Activity::Idle),
        ],
        HookEvent::PostModelSwitch if p.to_model.is_some() => vec![init(p, p.to_model.clone())],
        HookEvent::SessionEnd => vec![EventKind::SessionEnded {
            reason: p.reason.clone(),
        }],
        HookEvent::Unknown(name) => vec![EventKind::UnknownRecord {
            record_type: format!("hook/{name}"),
        }],
        _ => Vec::new(),
    }
}

fn init(p: &HookPayload, model: Option<String>) -> EventKind {
    EventKind::Init {
        claude_session_id: p.session_id.as_str().to_owned(),
        model,
        cwd: p.cwd.clone(),
        claude_version: None,
    }
}

/// What a Notification says about the session. 2.1.x names the kind; 1.0.x only has the text
/// ("Claude is waiting for your input", "Claude needs your permission to use Bash").
fn notification(p: &HookPayload) -> Option<EventKind> {
    match p.notification_type.as_deref() {
        Some("idle_prompt") => Some(activity(Activity::Idle)),
        Some("permission_prompt") => Some(waiting(WAITING_FOR_PERMISSION)),
        Some("elicitation_dialog") => Some(waiting("elicitation")),
        Some(_) => None,
        None => {
            let message = p.notification_message.as_deref()?;
            if message.starts_with("Claude is waiting for your input") {
                Some(activity(Activity::Idle))
            } else if message.starts_with("Claude needs your permission") {
                Some(waiting(WAITING_FOR_PERMISSION))
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/hooks/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Every payload of a fixture file (one per line), by event name.
    fn payloads(name: &str) -> Vec<HookPayload> {
        fixture(name)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| parse_payload(l.as_bytes()).expect("fixture payloads parse"))
            .collect()
    }

    fn find(all: &[HookPayload], event: &HookEvent) -> HookPayload {
        all.iter()
            .find(|p| &p.event == event)
            .unwrap_or_else(|| panic!("no {event} in the fixture"))
            .clone()
    }

    #[test]
    fn there_are_34_known_events_and_names_round_trip() {
        assert_eq!(ALL_HOOK_EVENTS.len(), 34);
        for e in ALL_HOOK_EVENTS {
            assert_eq!(&HookEvent::from_name(e.as_str()), e);
        }
        assert_eq!(
            HookEvent::from_name("Teleported"),
            HookEvent::Unknown("Teleported".into())
        );
    }

    #[test]
    fn installed_events_are_known_and_never_worktree_create() {
        for name in HOOK_EVENTS.iter().chain(HOOK_EVENTS_1_0) {
            assert!(
                !matches!(HookEvent::from_name(name), HookEvent::Unknown(_)),
                "{name}"
            );
        }
        assert!(!HOOK_EVENTS.contains(&"WorktreeCreate"));
        let v1 = [
            "PreToolUse",
            "PostToolUse",
            "Notification",
            "UserPromptSubmit",
            "Stop",
            "SubagentStop",
            "PreCompact",
            "SessionStart",
            "SessionEnd",
        ];
        assert!(HOOK_EVENTS_1_0.iter().all(|e| v1.contains(e)));
    }

    #[test]
    fn every_2_1_payload_parses_and_keeps_no_content() {
        let all = payloads("payloads-2.1.332.jsonl");
        assert_eq!(all.len(), 20);
        for p in &all {
            assert_eq!(p.session_id.as_str().len(), 36, "{}", p.event);
            assert!(p.transcript_path.as_deref().is_some_and(|t| {
                std::path::Path::new(t)
                    .extension()
                    .is_some_and(|e| e == "jsonl")
            }));
        }
        let debug = format!("{all:?}");
        for secret in [
            "echo hi",
            "hello from fakeapi",
            "Hello from the fake API",
            "Exit code 3",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked into the payload");
        }
    }

    #[test]
    fn session_start_is_a_hook_sourced_start() {
        let all = payloads("payloads-2.1.332.jsonl");
        let p = find(&all, &HookEvent::SessionStart);
        assert_eq!(p.source.as_deref(), Some("startup"));
        assert_eq!(
            to_events(&p),
            vec![EventKind::SessionStarted {
                mode: Mode::Interactive,
                command: None,
                cwd: Some("/home/dev/cap/hooks-print-tools/work".into()),
                project_path: None,
                session_type: None,
                source: Source::Hook,
            }]
        );
        // With the entrypoint from the hook's env, print mode is known.
        let print = HookPayload {
            entrypoint: Some("sdk-cli".into()),
            ..p.clone()
        };
        assert!(matches!(
            to_events(&print)[0],
            EventKind::SessionStarted {
                mode: Mode::Print,
                ..
            }
        ));
        // Interactive start with a model: Init carries it, and the session waits for a prompt.
        let interactive = HookPayload {
            entrypoint: Some("cli".into()),
            model: Some("claude-opus-5-5".into()),
            ..p.clone()
        };
        let events = to_events(&interactive);
        assert!(
            matches!(&events[1], EventKind::Init { model: Some(m), .. } if m == "claude-opus-5-5")
        );
        assert!(matches!(
            events[2],
            EventKind::Activity {
                state: Activity::Idle,
                ..
            }
        ));
        // After /compact, SessionStart fires again: not a new start.
        let compact = HookPayload {
            source: Some("compact".into()),
            ..p
        };
        assert!(to_events(&compact).is_empty());
    }

    #[test]
    fn prompt_submit_starts_a_turn_with_the_transcript_prompt_id() {
        let all = payloads("payloads-2.1.332.jsonl");
        let p = find(&all, &HookEvent::UserPromptSubmit);
        assert_eq!(
            to_events(&p),
            vec![
                EventKind::PromptSubmitted {
                    id: Some("1e23ef10-eea3-45c0-ba25-116ccedc87e2".into()),
                    preview: Some("Please do the task.".into()),
                },
                activity(Activity::Busy),
            ]
        );
    }

    #[test]
    fn tool_hooks_carry_the_transcript_tool_use_id() {
        let all = payloads("payloads-2.1.332.jsonl");
        let pre = find(&all, &HookEvent::PreToolUse);
        assert_eq!(
            to_events(&pre),
            vec![
                EventKind::ToolUse {
                    tool_use_id: "toolu_fake_81d314c4e39649b1b33d".into(),
                    name: "Bash".into(),
                    sidechain: false,
                },
                activity(Activity::Busy),
            ]
        );
        let post = find(&all, &HookEvent::PostToolUse);
        assert_eq!(
            to_events(&post)[0],
            EventKind::ToolResult {
                tool_use_id: "toolu_fake_81d314c4e39649b1b33d".into(),
                is_error: false,
                duration_ms: Some(25),
                sidechain: false,
            }
        );
        let failed = find(&all, &HookEvent::PostToolUseFailure);
        assert_eq!(
            to_events(&failed),
            vec![
                EventKind::ToolResult {
                    tool_use_id: "toolu_fake_2c04dc83ed084794af8d".into(),
                    is_error: true,
                    duration_ms: Some(22),
                    sidechain: false,
                },
                activity(Activity::Busy),
            ]
        );
        let interrupted = HookPayload {
            is_interrupt: true,
            ..failed
        };
        assert_eq!(to_events(&interrupted)[1], activity(Activity::Idle));
    }

    #[test]
    fn sub_agent_tool_hooks_are_sidechain() {
        let all = payloads("payloads-2.1.332.jsonl");
        let sub = all
            .iter()
            .find(|p| p.event == HookEvent::PreToolUse && p.agent_id.is_some())
            .expect("a sub-agent PreToolUse");
        assert!(matches!(
            &to_events(sub)[0],
            EventKind::ToolUse { sidechain: true, name, .. } if name == "Bash"
        ));
    }

    #[test]
    fn permission_idle_stop_and_end() {
        let all = payloads("payloads-2.1.332.jsonl");
        assert_eq!(
            to_events(&find(&all, &HookEvent::PermissionRequest)),
            vec![waiting("permission prompt")]
        );
        assert_eq!(
            to_events(&find(&all, &HookEvent::Notification)),
            vec![activity(Activity::Idle)]
        );
        assert_eq!(
            to_events(&find(&all, &HookEvent::Stop)),
            vec![
                EventKind::TurnEnded { duration_ms: None },
                activity(Activity::Idle)
            ]
        );
        assert_eq!(
            to_events(&find(&all, &HookEvent::SessionEnd)),
            vec![EventKind::SessionEnded {
                reason: Some("other".into())
            }]
        );
        let switched = find(&all, &HookEvent::PostModelSwitch);
        assert!(matches!(
            &to_events(&switched)[0],
            EventKind::Init { model: Some(m), .. } if m == "claude-sonnet-5-5"
        ));
    }

    #[test]
    fn events_that_carry_nothing_give_nothing() {
        let all = payloads("payloads-2.1.332.jsonl");
        for event in [
            HookEvent::PostToolBatch,
            HookEvent::MessageDisplay,
            HookEvent::SubagentStart,
            HookEvent::SubagentStop,
            HookEvent::PreCompact,
            HookEvent::PostCompact,
            HookEvent::PreModelSwitch,
            HookEvent::CwdChanged,
            HookEvent::InstructionsLoaded,
        ] {
            assert!(to_events(&find(&all, &event)).is_empty(), "{event}");
        }
    }

    #[test]
    fn payloads_of_1_0_have_no_ids_and_still_mean_something() {
        let all = payloads("payloads-1.0.100.jsonl");
        assert_eq!(all.len(), 7);
        let pre = find(&all, &HookEvent::PreToolUse);
        assert_eq!(pre.tool_use_id, None);
        assert_eq!(to_events(&pre), vec![activity(Activity::Busy)]);
        let prompt = find(&all, &HookEvent::UserPromptSubmit);
        assert_eq!(
            to_events(&prompt)[0],
            EventKind::PromptSubmitted {
                id: None,
                preview: Some("Please run the tool.".into())
            }
        );
        let stop = find(&all, &HookEvent::Stop);
        assert_eq!(to_events(&stop).len(), 2);
    }

    #[test]
    fn notifications_of_1_0_are_read_by_their_text() {
        let p = parse_payload(
            br#"{"session_id":"s","hook_event_name":"Notification","message":"Claude needs your permission to use Bash"}"#,
        )
        .unwrap();
        assert_eq!(to_events(&p), vec![waiting("permission prompt")]);
        let p = parse_payload(
            br#"{"session_id":"s","hook_event_name":"Notification","message":"Something else"}"#,
        )
        .unwrap();
        assert!(to_events(&p).is_empty());
    }

    #[test]
    fn unknown_events_are_counted() {
        let p = parse_payload(
            br#"{"session_id":"s","hook_event_name":"Teleported","where":{"x":[1,2]}}"#,
        )
        .unwrap();
        assert_eq!(p.event, HookEvent::Unknown("Teleported".into()));
        assert_eq!(
            to_events(&p),
            vec![EventKind::UnknownRecord {
                record_type: "hook/Teleported".into()
            }]
        );
    }

    #[test]
    fn odd_field_types_read_as_absent() {
        let p = parse_payload(
            br#"{"session_id":"s","hook_event_name":"PostToolUse","tool_use_id":7,"duration_ms":"25","is_interrupt":"yes","prompt":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(p.tool_use_id, None);
        assert_eq!(p.duration_ms, None);
        assert!(!p.is_interrupt);
        assert_eq!(p.prompt_preview, None);
    }

    #[test]
    fn long_prompts_become_previews() {
        let prompt = format!("fix\\n  the bug {}", "x".repeat(100_000));
        let body = format!(
            r#"{{"session_id":"s","hook_event_name":"UserPromptSubmit","prompt":"{prompt}"}}"#
        );
        let p = parse_payload(body.as_bytes()).unwrap();
        let preview = p.prompt_preview.unwrap();
        assert!(preview.starts_with("fix the bug xxx"));
        assert!(preview.ends_with('…'));
        assert_eq!(
            preview.chars().count(),
            crate::event::PROMPT_PREVIEW_CHARS + 1
        );
    }

    #[test]
    fn bad_payloads_are_errors_without_content() {
        assert!(matches!(
            parse_payload(b"{\"session_id\":\"secret-value"),
            Err(ParseError::Json(_))
        ));
        assert_eq!(parse_payload(b"[1,2,3]"), Err(ParseError::NotAnObject));
        assert_eq!(parse_payload(b"null"), Err(ParseError::NotAnObject));
        assert_eq!(
            parse_payload(br#"{"session_id":"s"}"#),
            Err(ParseError::Missing("hook_event_name"))
        );
        assert_eq!(
            parse_payload(br#"{"hook_event_name":"Stop"}"#),
            Err(ParseError::Missing("session_id"))
        );
        let err =
            parse_payload(br#"{"hook_event_name":"Stop","session_id":"s","cwd":"a","cwd":"b"}"#)
                .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        let err = parse_payload(b"{\"session_id\":\"secret-value").unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
