//! What every sink (webhook, exec hook, calendar) did: counters, the last error, and a ring of recent deliveries, shared
//! between the delivery threads (which write) and whoever shows them (`/metrics`, and the
//! dashboard's Integrations panel through `/api/integrations`).
//!
//! Each sink owns one `Mutex<SinkStatus>`; writers hold it only to bump a counter or push a
//! record, never across a delivery. [`NotifyStats`] is the read handle: clone it freely and call
//! [`NotifyStats::snapshot`] for a consistent copy (JSON-ready), or [`NotifyStats::reports`] for
//! the server's shape. A sink's `target` is redacted when the sink is made (a URL without its
//! path, query or user info; a command by its program), so nothing read here holds a secret.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use jiff::Timestamp;
use serde::Serialize;

use super::Delivery;
use super::event::EventName;
use super::queue::Queue;

/// Recent deliveries kept per sink.
pub const RECENT: usize = 50;

/// Webhook or exec hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// A `[[webhook]]`.
    Webhook,
    /// An `[[on_change]]` command.
    Exec,
    /// A `[[calendar]]` (CalDAV).
    Calendar,
}

/// How a delivery ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx answer, or exit code 0.
    Delivered,
    /// Given up after its attempts, refused, or the command failed.
    Failed,
    /// Never (fully) tried: dropped from a full queue, or left at shutdown.
    Dropped,
}

/// One finished delivery (all its attempts), or one that was given up.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliveryRecord {
    /// The payload's id.
    pub id: String,
    /// Its event.
    pub event: EventName,
    /// The session it was about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// When the last attempt ended.
    pub at: Timestamp,
    /// Attempts made.
    pub attempts: u32,
    /// Delivered, failed, or dropped.
    pub outcome: Outcome,
    /// The last HTTP status, or the command's exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    /// Why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Time from the first attempt to the end of the last.
    pub duration_ms: u64,
}

/// One sink's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SinkStatus {
    /// Webhook or exec hook.
    pub kind: SinkKind,
    /// Its configured name.
    pub name: String,
    /// The redacted URL, or the command.
    pub target: String,
    /// Events it subscribed to.
    pub events: Vec<EventName>,
    /// Deliveries waiting now.
    pub queued: usize,
    /// A delivery is being made (or waits for its retry) now.
    pub in_flight: bool,
    /// Deliveries that succeeded.
    pub delivered: u64,
    /// Deliveries that failed for good (attempts exhausted, or not worth retrying).
    pub failed: u64,
    /// Deliveries dropped unsent: the queue overflowed (the oldest goes), or shutdown came.
    pub dropped: u64,
    /// Extra attempts made after failures.
    pub retries: u64,
    /// Attempts that ran out of time (exec hooks: killed).
    pub timed_out: u64,
    /// The last failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<Timestamp>,
    /// The last success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivered_at: Option<Timestamp>,
    /// The most recent deliveries, oldest first (at most [`RECENT`]).
    pub recent: VecDeque<DeliveryRecord>,
}

impl SinkStatus {
    pub(crate) fn new(
        kind: SinkKind,
        name: String,
        target: String,
        events: Vec<EventName>,
    ) -> SinkStatus {
        SinkStatus {
            kind,
            name,
            target,
            events,
            queued: 0,
            in_flight: false,
            delivered: 0,
            failed: 0,
            dropped: 0,
            retries: 0,
            timed_out: 0,
            last_error: None,
            last_error_at: None,
            last_delivered_at: None,
            recent: VecDeque::new(),
        }
    }

    /// Records a finished delivery (its `outcome` says which counter it adds to).
    pub(crate) fn finish(&mut self, record: DeliveryRecord) {
        match record.outcome {
            Outcome::Delivered => {
                self.delivered += 1;
                self.last_delivered_at = Some(record.at);
            }
            Outcome::Failed => {
                self.failed += 1;
                self.last_error.clone_from(&record.error);
                self.last_error_at = Some(record.at);
            }
            Outcome::Dropped => self.dropped += 1,
        }
        self.remember(record);
    }

    /// Records a delivery dropped unsent.
    pub(crate) fn drop_one(&mut self, mut record: DeliveryRecord) {
        record.outcome = Outcome::Dropped;
        self.finish(record);
    }

    /// The server's view of this sink: its figures and its recent deliveries, newest first.
    pub fn report(&self) -> cclive_server::SinkReport {
        let kind = match self.kind {
            SinkKind::Webhook => cclive_server::SinkKind::Webhook,
            SinkKind::Exec => cclive_server::SinkKind::OnChange,
            SinkKind::Calendar => cclive_server::SinkKind::Calendar,
        };
        let recent = self
            .recent
            .iter()
            .rev()
            .map(|r| cclive_server::DeliveryEntry {
                id: r.id.clone(),
                at: r.at,
                event: r.event.as_str().to_owned(),
                session_id: r.session_id.clone(),
                outcome: match r.outcome {
                    Outcome::Delivered => cclive_server::Outcome::Delivered,
                    Outcome::Failed => cclive_server::Outcome::Failed,
                    Outcome::Dropped => cclive_server::Outcome::Dropped,
                },
                http_status: match self.kind {
                    SinkKind::Webhook | SinkKind::Calendar => {
                        r.status.and_then(|s| u16::try_from(s).ok())
                    }
                    SinkKind::Exec => None,
                },
                exit_code: match self.kind {
                    SinkKind::Webhook | SinkKind::Calendar => None,
                    SinkKind::Exec => r.status,
                },
                error: r.error.clone(),
                attempts: r.attempts,
                duration_ms: r.duration_ms,
            })
            .collect();
        cclive_server::SinkReport {
            kind,
            name: self.name.clone(),
            target: self.target.clone(),
            events: self.events.iter().map(|e| e.as_str().to_owned()).collect(),
            queued: self.queued,
            in_flight: self.in_flight,
            delivered: self.delivered,
            failed: self.failed,
            dropped: self.dropped,
            retries: self.retries,
            timeouts: self.timed_out,
            last_error: self.last_error.clone(),
            last_error_at: self.last_error_at,
            last_delivered_at: self.last_delivered_at,
            recent,
        }
    }

    fn remember(&mut self, record: DeliveryRecord) {
        if self.recent.len() >= RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(record);
    }
}

/// A sink's shared status and its queue (for its length).
#[derive(Clone)]
pub(crate) struct SinkHandle {
    pub(crate) status: Arc<Mutex<SinkStatus>>,
    pub(crate) queue: Arc<Queue<Arc<Delivery>>>,
}

impl SinkHandle {
    fn snapshot(&self) -> SinkStatus {
        let mut s = lock(&self.status).clone();
        s.queued = self.queue.len();
        s
    }
}

/// Read access to every sink's figures. Cheap to clone.
#[derive(Clone, Default)]
pub struct NotifyStats {
    sinks: Arc<Vec<SinkHandle>>,
}

impl std::fmt::Debug for NotifyStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyStats")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl NotifyStats {
    pub(crate) fn new(sinks: Vec<SinkHandle>) -> NotifyStats {
        NotifyStats {
            sinks: Arc::new(sinks),
        }
    }

    /// Every sink's figures now, webhooks first, in config order.
    pub fn snapshot(&self) -> Vec<SinkStatus> {
        self.sinks.iter().map(SinkHandle::snapshot).collect()
    }

    /// Every sink's figures in the server's shape (`/api/integrations`, `/metrics`).
    pub fn reports(&self) -> Vec<cclive_server::SinkReport> {
        self.sinks.iter().map(|s| s.snapshot().report()).collect()
    }
}

pub(crate) fn lock(status: &Mutex<SinkStatus>) -> std::sync::MutexGuard<'_, SinkStatus> {
    status.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ok: bool, n: usize) -> DeliveryRecord {
        DeliveryRecord {
            id: n.to_string(),
            event: EventName::SessionEnded,
            session_id: None,
            at: Timestamp::UNIX_EPOCH,
            attempts: 1,
            outcome: if ok {
                Outcome::Delivered
            } else {
                Outcome::Failed
            },
            status: None,
            error: (!ok).then(|| "boom".to_owned()),
            duration_ms: 0,
        }
    }

    #[test]
    fn counters_and_a_bounded_ring() {
        let mut s = SinkStatus::new(SinkKind::Webhook, "w".into(), "t".into(), vec![]);
        for n in 0..RECENT + 5 {
            s.finish(record(n % 2 == 0, n));
        }
        s.drop_one(record(false, 999));
        assert_eq!(s.recent.len(), RECENT);
        assert_eq!(s.recent.back().unwrap().id, "999");
        assert_eq!(s.delivered + s.failed, (RECENT + 5) as u64);
        assert_eq!(s.dropped, 1);
        assert_eq!(s.recent.back().unwrap().outcome, Outcome::Dropped);
        assert_eq!(s.last_error.as_deref(), Some("boom"));
    }

    /// What the dashboard gets: newest first, HTTP statuses for webhooks, exit codes for
    /// commands, each outcome as it was counted.
    #[test]
    fn reports_list_the_newest_first_with_each_outcome() {
        let mut s = SinkStatus::new(
            SinkKind::Webhook,
            "w".into(),
            "https://example.com/…".into(),
            vec![EventName::SessionEnded],
        );
        let mut failed = record(false, 1);
        failed.status = Some(503);
        failed.attempts = 3;
        s.finish(failed);
        let mut ok = record(true, 2);
        ok.status = Some(200);
        s.finish(ok);
        s.drop_one(record(false, 3));
        let r = s.report();
        assert_eq!((r.delivered, r.failed, r.dropped), (1, 1, 1));
        let ids: Vec<&str> = r.recent.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["3", "2", "1"]);
        assert_eq!(r.recent[0].outcome, cclive_server::Outcome::Dropped);
        assert_eq!(r.recent[1].http_status, Some(200));
        assert_eq!(r.recent[2].outcome, cclive_server::Outcome::Failed);
        assert_eq!(r.recent[2].http_status, Some(503));
        assert_eq!(r.recent[2].exit_code, None);
        assert_eq!(r.events, ["session_ended"]);

        let mut c = SinkStatus::new(SinkKind::Exec, "c".into(), "notify.sh …".into(), vec![]);
        let mut exited = record(false, 4);
        exited.status = Some(3);
        c.finish(exited);
        let r = c.report();
        assert_eq!(r.kind, cclive_server::SinkKind::OnChange);
        assert_eq!(
            (r.recent[0].exit_code, r.recent[0].http_status),
            (Some(3), None)
        );
    }
}
