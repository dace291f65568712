//! Outbox entries → team protocol items: what a machine shares with its team.
//!
//! Figures, states, models, projects and event metadata are shared. Prompt previews, titles and
//! command lines are NOT, unless the user set `share_prompts = true`: they are removed here, the
//! one place an item is built, both from sessions and from the events that carry them.

use cclive_core::Event;
use cclive_core::team::{EventItem, ItemBody, PushItem, SessionItem, UsageItem};
use cclive_store::{OutboxEntry, OutboxItem};
use serde_json::Value;

/// Event fields that hold what the user typed or Claude Code titled, by event type.
const PRIVATE_EVENT_FIELDS: &[(&str, &str)] = &[
    ("session_started", "command"),
    ("prompt_submitted", "preview"),
    ("title", "title"),
];

/// The push item of one entry; `None` for an entry that points at nothing
/// ([`OutboxItem::Gone`]).
pub(crate) fn push_item(entry: &OutboxEntry, share_prompts: bool) -> Option<PushItem> {
    let body = match &entry.item {
        OutboxItem::Session(state) => ItemBody::Session {
            // The entry's seq only grows with each change: the session's revision.
            session: SessionItem::of_state(state, entry.seq, share_prompts),
        },
        OutboxItem::Usage(row) => ItemBody::Usage {
            usage: UsageItem {
                message_id: row.key.clone(),
                session_id: row.session_id.as_str().to_owned(),
                first_seen_ms: row.at.as_millisecond(),
                model: row.model.clone(),
                tokens: row.tokens,
                sidechain: row.sidechain,
            },
        },
        OutboxItem::RetiredUsage(key) => ItemBody::RetiredUsage {
            message_id: key.clone(),
        },
        OutboxItem::Event { id, event } => ItemBody::Event {
            event: event_item(*id, event, share_prompts),
        },
        _ => return None,
    };
    Some(PushItem {
        seq: entry.seq,
        body,
    })
}

/// An event as the team sees it: its type and payload, private fields removed unless shared.
fn event_item(id: i64, event: &Event, share_prompts: bool) -> EventItem {
    let mut data = serde_json::to_value(&event.kind).unwrap_or(Value::Null);
    let kind = match data.as_object_mut().and_then(|o| o.remove("type")) {
        Some(Value::String(kind)) => kind,
        _ => "other".to_owned(),
    };
    if !share_prompts && let Some(fields) = data.as_object_mut() {
        for (event_kind, field) in PRIVATE_EVENT_FIELDS {
            if kind == *event_kind {
                fields.remove(*field);
            }
        }
    }
    EventItem {
        id: id.to_string(),
        session_id: event.session_id.as_str().to_owned(),
        at_ms: event.at.as_millisecond(),
        kind,
        data,
    }
}

#[cfg(test)]
mod tests {
    use cclive_core::{EventKind, Mode, SessionId, SessionState, Tokens};
    use cclive_store::UsageRow;
    use jiff::Timestamp;

    use super::*;

    fn at() -> Timestamp {
        Timestamp::from_millisecond(1_795_600_000_000).unwrap()
    }

    fn event(kind: EventKind) -> OutboxEntry {
        OutboxEntry {
            seq: 9,
            item: OutboxItem::Event {
                id: 4,
                event: Box::new(Event::new(SessionId::new("s"), at(), kind)),
            },
        }
    }

    fn data(entry: &OutboxEntry, share: bool) -> (String, Value) {
        match push_item(entry, share).unwrap().body {
            ItemBody::Event { event } => {
                assert_eq!((event.id.as_str(), event.session_id.as_str()), ("4", "s"));
                assert_eq!(event.at_ms, 1_795_600_000_000);
                (event.kind, event.data)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prompts_titles_and_command_lines_stay_home_unless_shared() {
        let prompt = event(EventKind::PromptSubmitted {
            id: Some("p1".into()),
            preview: Some("delete the prod database".into()),
        });
        let start = event(EventKind::SessionStarted {
            mode: Mode::Print,
            command: Some("claude -p 'secret'".into()),
            cwd: Some("/work/app".into()),
            project_path: None,
            session_type: None,
            source: "wrapper".into(),
        });
        let title = event(EventKind::Title {
            title: "Secret plans".into(),
        });
        for entry in [&prompt, &start, &title] {
            let (_, private) = data(entry, false);
            let text = private.to_string();
            for secret in ["prod database", "secret", "Secret plans"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
        let (kind, private) = data(&prompt, false);
        assert_eq!(kind, "prompt_submitted");
        assert_eq!(private["id"], "p1", "the id is metadata");
        let (_, started) = data(&start, false);
        assert_eq!(started["cwd"], "/work/app");
        assert_eq!(data(&prompt, true).1["preview"], "delete the prod database");
        assert_eq!(data(&title, true).1["title"], "Secret plans");
        assert_eq!(data(&start, true).1["command"], "claude -p 'secret'");
    }

    #[test]
    fn usage_sessions_and_retired_keys_carry_their_figures_and_gone_entries_nothing() {
        let usage = OutboxEntry {
            seq: 3,
            item: OutboxItem::Usage(UsageRow {
                key: "msg_1".into(),
                session_id: SessionId::new("s"),
                at: at(),
                model: Some("claude-sonnet-4-5".into()),
                tokens: Tokens {
                    input: 1,
                    output: 2,
                    cache_read: 3,
                    cache_creation: 4,
                    ..Tokens::default()
                },
                sidechain: true,
            }),
        };
        let item = push_item(&usage, false).unwrap();
        assert_eq!(item.seq, 3);
        let ItemBody::Usage { usage } = item.body else {
            panic!()
        };
        assert_eq!(usage.message_id, "msg_1");
        assert_eq!(usage.first_seen_ms, 1_795_600_000_000);
        assert_eq!(usage.tokens.cache_creation, 4);
        assert!(usage.sidechain);

        let mut state = SessionState::new(SessionId::new("s"), at());
        state.last_prompt = Some("hello".into());
        let session = OutboxEntry {
            seq: 17,
            item: OutboxItem::Session(Box::new(state)),
        };
        let ItemBody::Session { session } = push_item(&session, false).unwrap().body else {
            panic!()
        };
        assert_eq!(session.revision, 17, "the seq is the revision");
        assert_eq!(session.last_prompt, None);

        let retired = OutboxEntry {
            seq: 5,
            item: OutboxItem::RetiredUsage("req:r".into()),
        };
        assert!(matches!(
            push_item(&retired, false).unwrap().body,
            ItemBody::RetiredUsage { message_id } if message_id == "req:r"
        ));
        let gone = OutboxEntry {
            seq: 6,
            item: OutboxItem::Gone,
        };
        assert_eq!(push_item(&gone, false), None);
    }
}
