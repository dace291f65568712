//! `cclive import-events FILE [--replace]`: reads a session written by `cclive export` into the
//! history.
//!
//! The whole file is checked before anything is written: the header's format version, every
//! line's JSON, that every event names the exported session, and that the event count matches
//! the header (a truncated copy is refused). Then the session (with its ledger), its events and
//! its per-response usage go to the store in one batch. A session already in the history is
//! refused unless `--replace` (which removes the old one and its events first). Events of types
//! this cclive does not know are skipped and counted.

use std::io::{BufRead, BufReader, Read};
use std::process::ExitCode;

use anyhow::{Context, bail};
use cclive_core::{Event, EventKind, SessionState};
use cclive_store::{Batch, Store, UsageRow};

use crate::cli::ImportEventsArgs;
use crate::config::Settings;
use crate::history::export::{FORMAT_VERSION, Header};

/// A checked export, ready to store.
#[derive(Debug)]
pub(super) struct Parsed {
    pub(super) session: SessionState,
    pub(super) events: Vec<Event>,
    /// Events of unknown types, skipped.
    pub(super) skipped: usize,
}

/// Imports the file.
pub(super) fn run(args: &ImportEventsArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let parsed = if name == "-" {
        parse(std::io::stdin().lock(), "stdin")?
    } else {
        let file = std::fs::File::open(&args.file).with_context(|| format!("opening {name}"))?;
        parse(file, &name)?
    };
    let store = settings.open_store()?;
    let id = parsed.session.session_id.clone();
    if store.session(&id)?.is_some() {
        if !args.replace {
            bail!(
                "session {id} is already in the history; pass --replace to overwrite it with {name}"
            );
        }
        store
            .delete_session(&id)
            .with_context(|| format!("removing the old copy of session {id}"))?;
    }
    write(&*store, &parsed).with_context(|| format!("storing session {id}"))?;
    let s = &parsed.session;
    println!(
        "Imported session {id}: {} events, {}, ${:.4}, {} turns.",
        parsed.events.len(),
        s.status,
        s.total_cost_usd,
        s.num_turns
    );
    if parsed.skipped > 0 {
        eprintln!(
            "cclive: warning: skipped {} events of types this cclive does not know (written by a newer one?)",
            parsed.skipped
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads and checks an export. `name` names the input in errors.
pub(super) fn parse(input: impl Read, name: &str) -> anyhow::Result<Parsed> {
    let mut lines = BufReader::new(input).lines().enumerate();
    let header = loop {
        let Some((n, line)) = lines.next() else {
            bail!("{name} is empty: not a cclive export");
        };
        let line = line.with_context(|| format!("reading {name}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{name}:{}: not a cclive export (not JSON)", n + 1))?;
        let Some(version) = value
            .get("cclive_export")
            .and_then(serde_json::Value::as_u64)
        else {
            bail!(
                "{name}:{}: not a cclive export (the first line has no \"cclive_export\" version)",
                n + 1
            );
        };
        if version > u64::from(FORMAT_VERSION) {
            bail!(
                "{name} is export format {version}, written by a newer cclive; this one reads format {FORMAT_VERSION}"
            );
        }
        let header: Header = serde_json::from_value(value)
            .with_context(|| format!("{name}:{}: the export header is invalid", n + 1))?;
        break header;
    };
    let mut session = header.session;
    if !header.ledger.is_null() {
        session
            .restore_ledger(header.ledger)
            .with_context(|| format!("{name}: the session's ledger is invalid"))?;
    }
    let id = session.session_id.clone();
    let mut events = Vec::with_capacity(header.events);
    let mut skipped = 0;
    for (n, line) in lines {
        let line = line.with_context(|| format!("reading {name}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let event: Event = serde_json::from_str(&line)
            .with_context(|| format!("{name}:{}: not a cclive event", n + 1))?;
        if event.session_id != id {
            bail!(
                "{name}:{}: the event belongs to session {}, not to the exported session {id}",
                n + 1,
                event.session_id
            );
        }
        if event.kind == EventKind::Other {
            skipped += 1;
        } else {
            events.push(event);
        }
    }
    if events.len() + skipped != header.events {
        bail!(
            "{name} holds {} events but its header says {}: is the file complete?",
            events.len() + skipped,
            header.events
        );
    }
    Ok(Parsed {
        session,
        events,
        skipped,
    })
}

/// Stores a checked export in one batch: the session, its events, its per-response usage.
pub(super) fn write(store: &dyn Store, parsed: &Parsed) -> Result<(), cclive_store::StoreError> {
    let session = &parsed.session;
    let usage = UsageRow::of_session(session).collect();
    store.write(&Batch {
        sessions: vec![session.clone()],
        events: parsed.events.clone(),
        usage,
        ..Batch::default()
    })
}

#[cfg(test)]
mod tests {
    use cclive_core::{Mode, PriceTable, SessionId, Tokens};
    use cclive_store::SqliteStore;

    use super::*;

    fn session_and_events() -> (SessionState, Vec<Event>) {
        let id = SessionId::new("s1");
        let at = |s: i64| jiff::Timestamp::from_second(1_800_000_000 + s).unwrap();
        let kinds = vec![
            EventKind::SessionStarted {
                mode: Mode::Print,
                command: None,
                cwd: Some("/p".into()),
                project_path: None,
                session_type: None,
                source: "wrapper".into(),
            },
            EventKind::Usage {
                key: "msg_1".into(),
                request_id: None,
                reported_cost_usd: None,
                model: Some("claude-opus-5-5".into()),
                tokens: Tokens {
                    input: 10,
                    output: 5,
                    cache_read: 0,
                    cache_creation: 0,
                    ..Tokens::default()
                },
                is_final: true,
                sidechain: false,
            },
        ];
        let events: Vec<Event> = kinds
            .into_iter()
            .enumerate()
            .map(|(i, k)| Event::new(id.clone(), at(i64::try_from(i).unwrap()), k))
            .collect();
        let mut state = SessionState::new(id, at(0));
        for e in &events {
            state.apply(e, &PriceTable::builtin());
        }
        (state, events)
    }

    fn export(session: &SessionState, events: &[Event], count: usize) -> String {
        let header = Header {
            cclive_export: FORMAT_VERSION,
            cclive_version: "test".into(),
            exported_at: jiff::Timestamp::UNIX_EPOCH,
            events: count,
            session: session.clone(),
            ledger: session.ledger_json(),
        };
        let mut out = serde_json::to_string(&header).unwrap() + "\n";
        for e in events {
            out += &(serde_json::to_string(e).unwrap() + "\n");
        }
        out
    }

    #[test]
    fn an_export_round_trips_into_a_store_with_its_usage() {
        let (state, events) = session_and_events();
        let parsed = parse(export(&state, &events, 2).as_bytes(), "f").unwrap();
        assert_eq!(parsed.events, events);
        let store = SqliteStore::open_in_memory().unwrap();
        write(&store, &parsed).unwrap();
        let back = store.session(&state.session_id).unwrap().unwrap();
        assert_eq!(back, state);
        assert_eq!(store.events(&state.session_id).unwrap(), events);
        assert_eq!(store.usage_totals(&state.session_id).unwrap().1, 1);
        // The ledger came along: the same response reported again is not counted twice.
        let mut again = back.clone();
        again.apply(&events[1], &PriceTable::builtin());
        assert_eq!(again.tokens, state.tokens);
    }

    #[test]
    fn bad_exports_are_refused_with_the_line() {
        let (state, events) = session_and_events();
        let good = export(&state, &events, 2);
        let err = |text: &str| parse(text.as_bytes(), "f").unwrap_err().to_string();
        assert!(err("").contains("empty"));
        assert!(err("{\"a\":1}\n").contains("no \"cclive_export\""));
        assert!(err(&good.replace("\"cclive_export\":1", "\"cclive_export\":2")).contains("newer"));
        assert!(err(&export(&state, &events[..1], 2)).contains("is the file complete"));
        let foreign = good.replacen(
            "{\"session_id\":\"s1\",\"at\"",
            "{\"session_id\":\"s2\",\"at\"",
            1,
        );
        assert!(err(&foreign).contains("f:2: the event belongs to session s2"));
        assert!(err(&format!("{good}garbage\n")).contains("f:4: not a cclive event"));
    }

    #[test]
    fn unknown_event_types_are_skipped_and_counted() {
        let (state, events) = session_and_events();
        let text = export(&state, &events, 3)
            + "{\"session_id\":\"s1\",\"at\":\"2027-01-15T08:00:09Z\",\"type\":\"teleported\"}\n";
        let parsed = parse(text.as_bytes(), "f").unwrap();
        assert_eq!((parsed.events.len(), parsed.skipped), (2, 1));
    }
}
