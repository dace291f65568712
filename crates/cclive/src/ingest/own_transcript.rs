//! `cclive run` in interactive mode: following the wrapped session's own transcript and registry.
//!
//! Interactive claude owns the terminal, so its output cannot be read; what it writes to disk
//! can. cclive chose the session id (`--session-id`), so the transcript is
//! `<config dir>/projects/<any project>/<id>.jsonl` (created at the first prompt) and the
//! registry entry is the one naming that id. Both are checked every [`STEP`] while claude runs
//! and once more after it exits (the end-of-session `cost-state` is written at `/exit`).

use std::path::PathBuf;
use std::time::Duration;

use cclive_core::event::Activity;
use cclive_core::{Event, EventKind, SessionId};
use tokio_util::sync::CancellationToken;

use crate::ingest::tail::FileTail;
use crate::ingest::transcripts::TranscriptReader;
use crate::monitor::pipeline::EventSink;

/// How often the files are looked at.
pub const STEP: Duration = Duration::from_millis(250);

/// What to follow.
#[derive(Clone, Debug)]
pub struct OwnSession {
    /// Claude config dirs to look in.
    pub config_dirs: Vec<PathBuf>,
    /// The session's id.
    pub session_id: SessionId,
}

struct State {
    tail: Option<(FileTail, TranscriptReader)>,
    activity: Option<(Activity, Option<String>)>,
}

/// Follows until `stop`, then reads once more.
pub async fn follow(own: OwnSession, sink: EventSink, stop: CancellationToken) {
    let mut state = State {
        tail: None,
        activity: None,
    };
    loop {
        let stopping = stop.is_cancelled();
        step(&own, &mut state, &sink).await;
        if stopping {
            return;
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(STEP) => {}
        }
    }
}

async fn step(own: &OwnSession, state: &mut State, sink: &EventSink) {
    if state.tail.is_none()
        && let Some(path) = find_transcript(own)
        && let Ok(tail) = FileTail::open(&path, None)
    {
        state.tail = Some((tail, TranscriptReader::new(&path)));
    }
    if let Some((tail, reader)) = &mut state.tail {
        let mut events = Vec::new();
        let now = jiff::Timestamp::now();
        if let Err(e) = tail.read_new(u64::MAX, |line| reader.line(line, now, &mut events)) {
            tracing::debug!("Cannot read the session's transcript: {e}");
        }
        for event in events {
            sink.send(event).await;
        }
    }
    if let Some((activity, waiting_for, pid)) = registry_status(own)
        && state.activity.as_ref() != Some(&(activity, waiting_for.clone()))
    {
        state.activity = Some((activity, waiting_for.clone()));
        sink.send(Event::new(
            own.session_id.clone(),
            jiff::Timestamp::now(),
            EventKind::Activity {
                state: activity,
                waiting_for,
                pid: Some(pid),
            },
        ))
        .await;
    }
}

fn find_transcript(own: &OwnSession) -> Option<PathBuf> {
    let name = format!("{}.jsonl", own.session_id);
    own.config_dirs.iter().find_map(|dir| {
        std::fs::read_dir(dir.join("projects"))
            .ok()?
            .flatten()
            .map(|project| project.path().join(&name))
            .find(|p| p.is_file())
    })
}

fn registry_status(own: &OwnSession) -> Option<(Activity, Option<String>, u32)> {
    for dir in &own.config_dirs {
        let Ok(files) = std::fs::read_dir(dir.join("sessions")) else {
            continue;
        };
        for f in files.flatten() {
            let path = f.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(entry) = cclive_core::registry::parse_entry(&bytes) else {
                continue;
            };
            if entry.session_id == own.session_id {
                return entry
                    .status
                    .map(|s| (s, entry.waiting_for.clone(), entry.pid));
            }
        }
    }
    None
}
