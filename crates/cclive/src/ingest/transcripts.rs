//! From transcript lines to events: the glue between a tailed file and the monitor.
//!
//! One [`TranscriptReader`] per file. It parses each complete line with
//! [`cclive_core::transcript`], announces each session the first time the file names it
//! (`SessionStarted` + `Init`), and gives timestamp-less records (`cost-state`, titles) the time
//! of the line before them — or, at the top of a file (1.0.x `summary` lines), of the first line
//! that has one: never the time of reading, which would make a session read from history last
//! until the import. A read that continues a file (a catch-up, a monitor started again) may find
//! only such records, the last lines of a session that ended since (`last-prompt`,
//! `cost-state`): they take the file's modification time, when they were written
//! ([`TranscriptReader::end_of_data`]), instead of waiting for a line that never comes.
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
    /// Whether the first line read started past the file's first byte (the read continues the
    /// file); `None` before any line.
    continues: Option<bool>,
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
            continues: None,
            malformed: 0,
            lines: 0,
        }
    }

    /// Turns one complete line into events, appended to `out`. `now` is the time of an unreadable
    /// line's report when no earlier line had a time.
    pub fn line(&mut self, line: &LineRef<'_>, now: Timestamp, out: &mut Vec<Event>) {
        self.lines += 1;
        self.continues.get_or_insert(line.start > 0);
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

    /// Called at the end of what the file holds now, `written_at` its modification time. When
    /// this read continues the file and the records still waiting for a time end a session
    /// (its `last-prompt` and `cost-state`, written as it ended), they are the last lines
    /// written, and take that time. Others keep waiting for a line with a time, as at the top
    /// of a file: a file of `summary` lines alone (1.0), read in two parts or one, is no
    /// session.
    pub fn end_of_data(&mut self, written_at: Option<Timestamp>, out: &mut Vec<Event>) {
        let ends_a_session = self
            .waiting
            .iter()
            .any(|(_, kind)| matches!(kind, EventKind::CostState { .. }));
        if !ends_a_session || self.continues != Some(true) {
            return;
        }
        let Some(at) = written_at else { return };
        for (session_id, kind) in self.waiting.drain(..) {
            out.push(Event::new(session_id, at, kind));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `lines` to `reader` as the file's bytes from `offset` on.
    fn read(reader: &mut TranscriptReader, offset: u64, lines: &[&str]) -> Vec<Event> {
        let mut out = Vec::new();
        let mut start = offset;
        for line in lines {
            let end = start + line.len() as u64 + 1;
            let line = LineRef {
                start,
                end,
                bytes: line.as_bytes(),
                oversized: false,
            };
            reader.line(&line, Timestamp::UNIX_EPOCH, &mut out);
            start = end;
        }
        out
    }

    const LAST_PROMPT: &str = r#"{"type":"last-prompt","sessionId":"s1","lastPrompt":"done?"}"#;
    const COST_STATE: &str =
        r#"{"type":"cost-state","sessionId":"s1","totalCostUSD":0.5,"modelUsage":{}}"#;
    const SUMMARY: &str = r#"{"type":"summary","summary":"Fix the build","leafUuid":"u1"}"#;

    #[test]
    fn a_continued_files_last_timeless_lines_take_the_time_the_file_was_written() {
        let written: Timestamp = "2026-11-25T13:00:00Z".parse().unwrap();
        let mut reader = TranscriptReader::new(Path::new("/p/s1.jsonl"));
        assert!(read(&mut reader, 4096, &[LAST_PROMPT, COST_STATE]).is_empty());
        let mut out = Vec::new();
        reader.end_of_data(Some(written), &mut out);
        assert!(
            out.iter()
                .any(|e| matches!(e.kind, EventKind::CostState { .. })),
            "{out:?}"
        );
        assert!(
            out.iter()
                .all(|e| e.at == written && e.session_id.as_str() == "s1")
        );
        // Handed out once.
        let mut again = Vec::new();
        reader.end_of_data(Some(written), &mut again);
        assert!(again.is_empty());
    }

    #[test]
    fn a_file_of_summaries_alone_is_no_session_however_it_is_read() {
        for offset in [0, 4096] {
            let mut reader = TranscriptReader::new(Path::new("/p/s1.jsonl"));
            assert!(read(&mut reader, offset, &[SUMMARY, SUMMARY]).is_empty());
            let mut out = Vec::new();
            reader.end_of_data(Some(Timestamp::UNIX_EPOCH), &mut out);
            assert!(out.is_empty(), "from byte {offset}: {out:?}");
        }
    }

    #[test]
    fn a_sessions_end_at_the_top_of_a_file_waits_for_a_line_with_a_time() {
        let mut reader = TranscriptReader::new(Path::new("/p/s1.jsonl"));
        assert!(read(&mut reader, 0, &[LAST_PROMPT, COST_STATE]).is_empty());
        let mut out = Vec::new();
        reader.end_of_data(Some(Timestamp::UNIX_EPOCH), &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
