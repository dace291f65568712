//! What every sink did: counters, the last error, and a ring of recent deliveries, shared
//! between the delivery threads (which write) and whoever shows them (the dashboard, later).
//!
//! Each sink owns one `Mutex<SinkStatus>`; writers hold it only to bump a counter or push a
//! record, never across a delivery. [`NotifyStats`] is the read handle: clone it freely and call
//! [`NotifyStats::snapshot`] for a consistent copy (JSON-ready).

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
    /// Delivered (2xx, or exit code 0).
    pub ok: bool,
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

    /// Records a finished delivery.
    pub(crate) fn finish(&mut self, record: DeliveryRecord) {
        if record.ok {
            self.delivered += 1;
            self.last_delivered_at = Some(record.at);
        } else {
            self.failed += 1;
            self.last_error.clone_from(&record.error);
            self.last_error_at = Some(record.at);
        }
        self.remember(record);
    }

    /// Records a delivery dropped unsent.
    pub(crate) fn drop_one(&mut self, record: DeliveryRecord) {
        self.dropped += 1;
        self.remember(record);
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
            ok,
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
        assert_eq!(s.last_error.as_deref(), Some("boom"));
    }
}
