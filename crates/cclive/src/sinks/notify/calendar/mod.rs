//! Calendar blocks over CalDAV: one more sink of the notifier, writing each session (or each
//! run of close sessions of one project) as one event in the user's own calendar.
//!
//! The monitor's callback only enqueues session notifications (the same bounded drop-oldest
//! queue as a webhook's, `notify::queue`); this sink's thread does the rest:
//! - folds each session's latest state into blocks ([`cclive_core::calendar::Planner`]: which
//!   sessions, merging, status);
//! - coalesces: a block's event is written at once when it appears and when it ends (or goes
//!   back to live), and so is a change after its end; while it runs, at most once per
//!   `update_interval` (a minute by default);
//! - writes the block as one `VEVENT` ([`cclive_core::ics::block_calendar`]) with a `PUT`
//!   ([`caldav`]): `If-None-Match: *` first, then `If-Match` with the last ETag;
//! - on no answer or a server error, keeps the block's newest state and tries again after the
//!   webhooks' backoff (0.5 s doubling to 30 s, with jitter) for as long as the monitor runs, so
//!   a calendar server that is down for a while loses no event; an answer not worth repeating
//!   (401, 403, 404) fails the write, which the next change tries again, no sooner than the
//!   update interval.
//!
//! Every write is a delivery in the sink's figures ([`super::stats`]: `/api/integrations`,
//! `/metrics`), its id the event's UID; a failure waiting for its retry shows as the sink's last
//! error at once. At shutdown, what is still unwritten is tried until the notifier's grace ends,
//! then counted as dropped.

pub mod caldav;
pub mod settings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cclive_core::SessionState;
use cclive_core::calendar::Planner;
use jiff::Timestamp;

use super::Delivery;
use super::event::EventName;
use super::queue::{Popped, Queue};
use super::settings::redact_url;
use super::stats::{DeliveryEntry, Outcome, SinkHandle, SinkKind, SinkReport, lock};
use super::webhook::{backoff, random_unit};
use caldav::{CalDavError, Client, Precondition};
pub use settings::CalendarSettings;

/// The notifications a calendar needs: every change of a session.
pub fn events() -> Vec<EventName> {
    vec![
        EventName::SessionStarted,
        EventName::StatusChanged,
        EventName::TurnFinished,
        EventName::SessionEnded,
        EventName::Progress,
    ]
}

/// One block's writing state.
#[derive(Debug)]
struct Pending {
    /// Its newest state is not on the server yet.
    dirty: bool,
    /// When to write it next.
    due: Instant,
    /// When a write was last tried, and whether the block was live then.
    last_try: Option<(Instant, bool)>,
    /// The server has it (so a later `PUT` replaces).
    written: bool,
    /// The server's ETag of what cclive wrote last.
    etag: Option<String>,
    /// Attempts of the write under way (0: none failed yet).
    attempts: u32,
    /// When its first attempt began.
    first_attempt: Option<Instant>,
    /// The notification that made it dirty last, and its session.
    event: EventName,
    session_id: Option<String>,
}

impl Pending {
    fn new(now: Instant) -> Pending {
        Pending {
            dirty: false,
            due: now,
            last_try: None,
            written: false,
            etag: None,
            attempts: 0,
            first_attempt: None,
            event: EventName::SessionStarted,
            session_id: None,
        }
    }
}

/// The sink's thread state.
struct Sink<'a> {
    settings: &'a CalendarSettings,
    client: Client,
    planner: Planner,
    pending: HashMap<String, Pending>,
    status: &'a Mutex<SinkReport>,
}

impl Sink<'_> {
    /// Folds one notification in and schedules its block's write.
    fn take(&mut self, delivery: &Delivery) {
        let Some(session) = session_of(delivery) else {
            return;
        };
        let Some(uid) = self.planner.apply(&session).map(str::to_owned) else {
            return;
        };
        let live = self
            .planner
            .block(&uid)
            .is_some_and(cclive_core::calendar::Block::is_live);
        let now = Instant::now();
        let p = self.pending.entry(uid).or_insert_with(|| Pending::new(now));
        p.dirty = true;
        p.event = delivery.event;
        p.session_id.clone_from(&delivery.session_id);
        if p.attempts > 0 {
            // Waiting for a retry: that comes first.
            return;
        }
        p.due = match p.last_try {
            // New, or started or stopped running since the last write: now.
            None => now,
            Some((_, was_live)) if was_live != live => now,
            // A finished block's late figures (e.g. Claude Code's own cost, read after the
            // end) go out at once too: they are rare, and they are the true ones.
            Some(_) if !live => now,
            Some((at, _)) => (at + self.settings.update_interval).max(now),
        };
    }

    /// When the next write is due.
    fn next_due(&self) -> Option<Instant> {
        self.pending
            .values()
            .filter(|p| p.dirty)
            .map(|p| p.due)
            .min()
    }

    /// Writes every block that is due.
    fn write_due(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.dirty && p.due <= now)
            .map(|(uid, _)| uid.clone())
            .collect();
        for uid in due {
            self.write(&uid);
        }
        let pending = &self.pending;
        for uid in self.planner.forget_finished(Timestamp::now(), &|uid| {
            pending.get(uid).is_some_and(|p| p.dirty)
        }) {
            self.pending.remove(&uid);
        }
    }

    /// One attempt at writing a block.
    fn write(&mut self, uid: &str) {
        let now_ts = Timestamp::now();
        let Some(p) = self.pending.get_mut(uid) else {
            return;
        };
        let Some(block) = self.planner.block(uid) else {
            p.dirty = false;
            return;
        };
        let live = block.is_live();
        if !self.planner.long_enough(uid, now_ts) {
            if live {
                // Look again once it may have lasted long enough.
                let left = self.settings.rules().min_duration - block.duration(now_ts);
                let left = Duration::try_from(left).unwrap_or_default();
                p.due = Instant::now() + left.max(Duration::from_secs(1));
            } else {
                p.dirty = false;
            }
            return;
        }
        let title = block.title(&self.settings.title);
        let ics = cclive_core::ics::block_calendar(
            block,
            &title,
            self.settings.link_base.as_deref(),
            now_ts,
        );
        let pre = match (&p.etag, p.written) {
            (Some(etag), _) => Precondition::Replace(etag.clone()),
            (None, false) => Precondition::Create,
            (None, true) => Precondition::Any,
        };
        let started = Instant::now();
        p.attempts += 1;
        p.first_attempt.get_or_insert(started);
        p.last_try = Some((started, live));
        lock(self.status).in_flight = true;
        let result = self.client.put(uid, &ics, &pre);
        let mut status = lock(self.status);
        status.in_flight = false;
        match result {
            Ok(written) => {
                p.written = true;
                p.etag = written.etag;
                p.dirty = false;
                status.finish(record(
                    uid,
                    p,
                    Outcome::Delivered,
                    Some(written.status),
                    None,
                ));
                p.attempts = 0;
                p.first_attempt = None;
            }
            Err(CalDavError::Changed) if pre != Precondition::Any => {
                // It exists already (written before a restart) or was edited on the server:
                // the event is cclive's, so write it again whatever is there.
                tracing::info!(
                    calendar = %self.settings.name,
                    uid,
                    "The calendar event changed on the server; writing cclive's figures again."
                );
                p.written = true;
                p.etag = None;
                p.due = Instant::now();
            }
            Err(e) if e.retryable() => {
                let wait = backoff(p.attempts, random_unit());
                tracing::debug!(
                    calendar = %self.settings.name,
                    uid,
                    attempt = p.attempts,
                    error = %e,
                    "Calendar write failed; retrying."
                );
                status.retries += 1;
                status.in_flight = true;
                status.last_error = Some(e.to_string());
                status.last_error_at = Some(Timestamp::now());
                p.due = Instant::now() + wait;
            }
            Err(e) => {
                tracing::warn!(
                    calendar = %self.settings.name,
                    url = %redact_url(&self.settings.url),
                    uid,
                    error = %e,
                    "Calendar write failed."
                );
                p.dirty = false;
                status.finish(record(
                    uid,
                    p,
                    Outcome::Failed,
                    e.status(),
                    Some(e.to_string()),
                ));
                p.attempts = 0;
                p.first_attempt = None;
            }
        }
        status.in_flight = self.pending.values().any(|p| p.dirty && p.attempts > 0);
    }

    /// At shutdown: writes what is still unwritten until `queue` is abandoned, then counts the
    /// rest as dropped.
    fn flush(&mut self, queue: &Queue<Arc<Delivery>>) {
        let now_ts = Timestamp::now();
        for (uid, p) in &mut self.pending {
            if !self.planner.long_enough(uid, now_ts) {
                // Too short to be written at all.
                p.dirty = false;
            } else if p.attempts == 0 {
                // No interval now: a live block's last figures go out.
                p.due = p.due.min(Instant::now());
            }
        }
        while let Some(due) = self.next_due() {
            if !queue.sleep_until(due) {
                break;
            }
            self.write_due();
        }
        let mut status = lock(self.status);
        status.in_flight = false;
        for (uid, p) in self.pending.iter().filter(|(_, p)| p.dirty) {
            status.drop_one(record(
                uid,
                p,
                Outcome::Dropped,
                None,
                Some("not written before shutdown".into()),
            ));
        }
    }
}

/// The delivery record of a block's write.
fn record(
    uid: &str,
    p: &Pending,
    outcome: Outcome,
    http: Option<u16>,
    error: Option<String>,
) -> DeliveryEntry {
    DeliveryEntry {
        id: uid.to_owned(),
        event: p.event.as_str().to_owned(),
        session_id: p.session_id.clone(),
        at: Timestamp::now(),
        attempts: p.attempts,
        outcome,
        http_status: http,
        exit_code: None,
        error,
        duration_ms: p.first_attempt.map_or(0, |t| {
            u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
        }),
    }
}

/// The session a notification is about (its payload's `session`).
fn session_of(delivery: &Delivery) -> Option<SessionState> {
    let mut payload: serde_json::Value = serde_json::from_slice(&delivery.body).ok()?;
    serde_json::from_value(payload.get_mut("session")?.take()).ok()
}

/// Starts a calendar's thread.
pub(crate) fn spawn(settings: CalendarSettings) -> std::io::Result<super::Worker> {
    let status = SinkReport::new(
        SinkKind::Calendar,
        settings.name.clone(),
        redact_url(&settings.url),
        super::event::names(&events()),
    );
    super::Worker::spawn(status, settings::QUEUE_SIZE, move |handle| {
        run(&settings, handle);
    })
}

fn run(settings: &CalendarSettings, handle: &SinkHandle) {
    let mut sink = Sink {
        settings,
        client: Client::new(settings),
        planner: Planner::new(settings.rules()),
        pending: HashMap::new(),
        status: &handle.status,
    };
    loop {
        match handle.queue.pop_until(sink.next_due()) {
            Popped::Item(delivery) => sink.take(&delivery),
            Popped::TimedOut => {}
            Popped::Closed => break,
        }
        sink.write_due();
    }
    sink.flush(&handle.queue);
    super::count_abandoned(&handle.queue, &handle.status);
}

#[cfg(test)]
mod tests {
    use cclive_core::{SessionId, Status, Update, UpdateKind};

    use super::*;
    use crate::sinks::notify::Payload;
    use crate::sinks::notify::settings::Secret;
    use settings::Auth;

    fn delivery(status: Status) -> Delivery {
        let mut session = SessionState::new(SessionId::new("s1"), Timestamp::now());
        session.status = status;
        session.cwd = Some("/w/app".into());
        let update = Update {
            kind: UpdateKind::Started,
            previous_status: None,
            session,
        };
        Delivery::new(&Payload::of_update(
            EventName::SessionStarted,
            &update,
            Timestamp::now(),
        ))
    }

    #[test]
    fn the_payload_gives_back_the_session() {
        let s = session_of(&delivery(Status::Active)).unwrap();
        assert_eq!(s.session_id.as_str(), "s1");
        assert_eq!(s.cwd.as_deref(), Some("/w/app"));
    }

    fn settings() -> CalendarSettings {
        CalendarSettings::new(
            "c",
            "http://127.0.0.1:9/cal",
            Auth::Basic {
                username: "u".into(),
                password: Secret::new("p"),
            },
        )
    }

    fn status() -> Mutex<SinkReport> {
        Mutex::new(SinkReport::new(
            SinkKind::Calendar,
            "c".into(),
            String::new(),
            vec![],
        ))
    }

    fn sink<'a>(settings: &'a CalendarSettings, status: &'a Mutex<SinkReport>) -> Sink<'a> {
        Sink {
            settings,
            client: Client::new(settings),
            planner: Planner::new(settings.rules()),
            pending: HashMap::new(),
            status,
        }
    }

    #[test]
    fn a_block_shorter_than_the_minimum_is_never_written() {
        let mut settings = settings();
        settings.min_duration = Duration::from_mins(5);
        let status = status();
        let mut sink = sink(&settings, &status);
        sink.take(&delivery(Status::Active));
        sink.write_due();
        let due = sink.next_due().expect("looked at again later");
        assert!(due > Instant::now() + Duration::from_mins(4), "{due:?}");
        // It ends after a moment: nothing to write, nothing tried.
        sink.take(&delivery(Status::Completed));
        sink.write_due();
        assert_eq!(sink.next_due(), None);
        let s = lock(&status);
        assert!(s.recent.is_empty() && s.retries == 0, "{s:?}");
    }

    #[test]
    fn updates_are_coalesced_but_the_end_is_written_at_once() {
        let settings = settings();
        let status = status();
        let mut sink = sink(&settings, &status);
        sink.take(&delivery(Status::Active));
        let now = Instant::now();
        assert!(
            sink.next_due().unwrap() <= now,
            "a new block is written at once"
        );
        // As if written a moment ago: the next live change waits for the interval.
        let p = sink.pending.get_mut("s1@cclive").unwrap();
        p.last_try = Some((now, true));
        p.dirty = false;
        sink.take(&delivery(Status::Active));
        assert!(sink.next_due().unwrap() >= now + Duration::from_secs(59));
        sink.take(&delivery(Status::Completed));
        assert!(
            sink.next_due().unwrap() <= Instant::now(),
            "the end goes at once"
        );
        let p = sink.pending.get_mut("s1@cclive").unwrap();
        p.last_try = Some((Instant::now(), false));
        p.dirty = false;
        sink.take(&delivery(Status::Completed));
        assert!(
            sink.next_due().unwrap() <= Instant::now(),
            "and so do late figures after the end"
        );
    }
}
