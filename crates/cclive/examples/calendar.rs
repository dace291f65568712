//! A calendar-style integration, like the seed's `calendar_callback`: while Claude Code works,
//! the session's calendar block says IN PROGRESS; when it ends, the block gets its real end time,
//! its outcome and its cost. The 5-hour usage block the run opens gets an event of its own
//! (`on_block`), so the calendar shows until when the subscription meters this stretch of work.
//!
//! The "calendar" here is an iCalendar file (`claude-calendar.ics`, or `$CALENDAR_FILE`) that any
//! calendar app can import or subscribe to; a real integration would call its calendar's API in
//! the same places. It uses cclive's library callbacks plus the same event names webhooks and
//! `[[on_change]]` commands get (`cclive::sinks::notify::Classifier`). Blocks are read from a history;
//! this example keeps an in-memory one, so every run opens a block (cclive's own database would
//! know a block that already runs).
//!
//! ```sh
//! cargo run --example calendar -- -p "say hi"
//! ```
//!
//! The same without writing Rust: an `[[on_change]]` command in `~/.config/cclive/config.toml`
//! gets the event JSON on stdin (see docs/integrations.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cclive::sinks::notify::{Classifier, EventName};
use cclive::{BlockChange, BlockEvent, RunRequest, SessionMonitor, SessionState, Status};

/// One block in the calendar.
#[derive(Clone, Debug)]
struct Block {
    summary: String,
    start: jiff::Timestamp,
    end: Option<jiff::Timestamp>,
    status: &'static str,
    description: String,
}

impl Block {
    /// The block for a session that just started.
    fn started(s: &SessionState) -> Block {
        Block {
            summary: format!(
                "Claude Code: {}",
                s.last_prompt
                    .as_deref()
                    .or(s.project_path.as_deref())
                    .unwrap_or("session")
            ),
            start: s.started_at,
            end: None,
            status: "IN PROGRESS",
            description: String::new(),
        }
    }

    fn update(&mut self, s: &SessionState) {
        if let Some(prompt) = &s.last_prompt {
            self.summary = format!("Claude Code: {prompt}");
        }
        self.description = format!(
            "{} turns, ${:.4} ({:?}), {} output tokens",
            s.num_turns, s.total_cost_usd, s.cost_source, s.tokens.output
        );
        if !s.status.is_live() {
            self.end = s.ended_at.or(Some(s.updated_at));
            self.status = match s.status {
                Status::Completed => "DONE",
                Status::Failed => "FAILED",
                _ => "INTERRUPTED",
            };
        }
    }
}

impl Block {
    /// The event of a 5-hour usage block: the whole five hours.
    fn usage(b: &BlockEvent) -> Block {
        Block {
            summary: "Claude usage block (5 h)".into(),
            start: b.span.start,
            // Its span is known from the start: the five hours, not "until now".
            end: Some(b.span.end),
            status: if b.change == BlockChange::Ended {
                "BLOCK OVER"
            } else {
                "BLOCK"
            },
            description: format!(
                "until {}; so far {} tokens, ${:.4} estimated",
                b.span.end, b.total_tokens, b.cost_usd
            ),
        }
    }
}

/// The calendar: blocks by session, written out whole after every change.
struct Calendar {
    path: PathBuf,
    blocks: BTreeMap<String, Block>,
}

impl Calendar {
    fn write(&self) -> std::io::Result<()> {
        let stamp = |t: jiff::Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
        let mut ics = String::from(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cclive//calendar example//EN\r\n",
        );
        for (id, b) in &self.blocks {
            // A block in progress runs until now, as far as the calendar can tell.
            let end = b.end.unwrap_or_else(jiff::Timestamp::now).max(b.start);
            let _ = write!(
                ics,
                "BEGIN:VEVENT\r\nUID:{id}@cclive\r\nDTSTAMP:{now}\r\nDTSTART:{start}\r\n\
                 DTEND:{end}\r\nSUMMARY:[{status}] {summary}\r\nDESCRIPTION:{description}\r\n\
                 STATUS:{ical_status}\r\nEND:VEVENT\r\n",
                now = stamp(jiff::Timestamp::now()),
                start = stamp(b.start),
                end = stamp(end),
                status = b.status,
                summary = escape(&b.summary),
                description = escape(&b.description),
                ical_status = if b.end.is_some() {
                    "CONFIRMED"
                } else {
                    "TENTATIVE"
                },
            );
        }
        ics += "END:VCALENDAR\r\n";
        let tmp = self.path.with_extension("ics.tmp");
        std::fs::write(&tmp, ics)?;
        std::fs::rename(tmp, &self.path)
    }
}

/// iCalendar TEXT escaping.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let claude_args: Vec<String> = std::env::args().skip(1).collect();
    let path = std::env::var_os("CALENDAR_FILE")
        .map_or_else(|| PathBuf::from("claude-calendar.ics"), PathBuf::from);
    let calendar = Arc::new(Mutex::new(Calendar {
        path: path.clone(),
        blocks: BTreeMap::new(),
    }));
    let classifier = Classifier::new();

    let history: Arc<dyn cclive_store::Store> =
        Arc::new(cclive_store::SqliteStore::open_in_memory()?);
    let monitor = SessionMonitor::builder()
        .store(history)
        .on_block({
            let calendar = calendar.clone();
            move |b| {
                let mut cal = calendar
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                cal.blocks
                    .insert(format!("block-{}", b.span.start), Block::usage(b));
                println!(
                    "[calendar] 5-hour block {:?} ({} → {})",
                    b.change, b.span.start, b.span.end
                );
                if let Err(e) = cal.write() {
                    eprintln!("[calendar] cannot write {}: {e}", cal.path.display());
                }
            }
        })
        .on_update({
            let calendar = calendar.clone();
            move |update| {
                // The callback runs on the monitor's task: do little, never block for long. (A
                // calendar behind a network API would get a channel and a worker thread, as
                // cclive's own webhooks do.)
                for payload in classifier.classify(update, jiff::Timestamp::now()) {
                    let s = &update.session;
                    let id = s.session_id.to_string();
                    let mut cal = calendar
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match payload.event {
                        EventName::SessionStarted => {
                            cal.blocks.insert(id.clone(), Block::started(s));
                            println!("[calendar] {id}: block marked IN PROGRESS");
                        }
                        EventName::TurnFinished | EventName::StatusChanged => {
                            if let Some(b) = cal.blocks.get_mut(&id) {
                                b.update(s);
                            }
                        }
                        EventName::SessionEnded => {
                            let block = cal
                                .blocks
                                .entry(id.clone())
                                .or_insert_with(|| Block::started(s));
                            block.update(s);
                            println!(
                                "[calendar] {id}: block marked {} ({})",
                                block.status, block.description
                            );
                        }
                        // Blocks come through `on_block`; budget alerts through `on_budget`.
                        _ => continue,
                    }
                    if let Err(e) = cal.write() {
                        eprintln!("[calendar] cannot write {}: {e}", cal.path.display());
                    }
                }
            }
        })
        .build();
    let outcome = monitor.run(RunRequest::new(claude_args)).await?;
    println!(
        "[calendar] done: exit {}, ${:.4}; calendar in {}",
        outcome.exit_code,
        outcome.session.total_cost_usd,
        path.display()
    );
    std::process::exit(i32::from(outcome.exit_code));
}
