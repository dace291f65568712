//! From transcript lines to events: the glue between a tailed file and the monitor.
//!
//! One [`TranscriptReader`] per file. It parses each complete line with
//! [`cclive_core::transcript`], announces each session the first time the file names it
//! (`SessionStarted` + `Init`), and gives timestamp-less records (`cost-state`, titles) the time
//! of the line before them — or, at the top of a file (1.0.x `summary` lines), of the first line
//! that has one: never the time of reading, which would make a session read from history last
//! until the import.
//! A line that cannot be read is counted and reported as an `InputError` event, never fatal.

use std::collections::HashSet;
use std::path::Path;

use cclive_core::transcript;
use cclive_core::{Event, EventKind, LineRef, SessionId};
use jiff::Timestamp;

/// Reads one transcript file's lines into events.
#[derive(Debug)]
pub struct TranscriptReader {
    /// The session the file is named after (`<session>.jsonl`), for records naming none.
    file_session: Option<SessionId>,
    announced: HashSet<SessionId>,
    last_at: Option<Timestamp>,
    /// Events of timestamp-less records read before any line had a time.
    waiting: Vec<(SessionId, EventKind)>,
    /// Lines that could not be read.
    pub malformed: u64,
    /// Lines read.
    pub lines: u64,
}

impl TranscriptReader {
    /// A reader for the transcript at `path`.
    pub fn new(path: &Path) -> Self {
        let file_session = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.starts_with("agent-"))
            .map(SessionId::new);
        Self {
            file_session,
            announced: HashSet::new(),
            last_at: None,
            waiting: Vec::new(),
            malformed: 0,
            lines: 0,
        }
    }

    /// Turns one complete line into events, appended to `out`. `now` is the time of an unreadable
    /// line's report when no earlier line had a time.
    pub fn line(&mut self, line: &LineRef<'_>, now: Timestamp, out: &mut Vec<Event>) {
        self.lines += 1;
        if line.oversized {
            self.malformed += 1;
            self.input_error(now, "a line longer than the limit was skipped", out);
            return;
        }
        let record = match transcript::parse_line(line.bytes) {
            Ok(Some(record)) => record,
            Ok(None) => return,
            Err(e) => {
                self.malformed += 1;
                self.input_error(
                    now,
                    &format!("an unreadable line at byte {} was skipped: {e}", line.start),
                    out,
                );
                return;
            }
        };
        let Some(file_session) = self
            .file_session
            .clone()
            .or_else(|| record.session_id().cloned())
        else {
            return;
        };
        let Some(fallback) = record.timestamp().or(self.last_at) else {
            // No time known yet: these wait for the first line that has one.
            self.waiting.extend(
                transcript::to_events_for_file(&record, &file_session)
                    .into_iter()
                    .map(|(session, _, kind)| (session, kind)),
            );
            return;
        };
        if let Some(at) = record.timestamp() {
            self.last_at = Some(self.last_at.map_or(at, |l| l.max(at)));
        }
        if let Some(meta) = record.session_meta()
            && self.announced.insert(meta.session_id.clone())
        {
            let at = record.timestamp().unwrap_or(fallback);
            for kind in meta.start_events() {
                out.push(Event::new(meta.session_id.clone(), at, kind));
            }
        }
        for (session_id, kind) in std::mem::take(&mut self.waiting) {
            out.push(Event::new(session_id, fallback, kind));
        }
        for (session_id, at, kind) in transcript::to_events_for_file(&record, &file_session) {
            out.push(Event::new(session_id, at.unwrap_or(fallback), kind));
        }
    }

    fn input_error(&self, now: Timestamp, message: &str, out: &mut Vec<Event>) {
        // Only for a session this file already announced: a garbage first line must not create a
        // session of its own.
        if let Some(session) = self
            .file_session
            .as_ref()
            .filter(|s| self.announced.contains(*s))
        {
            out.push(Event::new(
                session.clone(),
                self.last_at.unwrap_or(now),
                EventKind::InputError {
                    source: "transcript".into(),
                    message: message.to_owned(),
                },
            ));
        }
    }
}
