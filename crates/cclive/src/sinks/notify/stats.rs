//! What every sink (webhook, exec hook, calendar) did: counters, the last error, and a ring of
//! recent deliveries, shared between the delivery threads (which write) and whoever shows them
//! (`/metrics`, and the dashboard's Integrations panel through `/api/integrations`).
//!
//! The figures' type is the API's own [`SinkReport`] (defined once, in `cclive-server`); this
//! module owns only how the threads share it. Each sink owns one `Mutex<SinkReport>`; writers
//! hold it only to bump a counter or push a record, never across a delivery. [`NotifyStats`] is
//! the read handle: clone it freely and call [`NotifyStats::snapshot`] for a consistent copy. A
//! sink's `target` is redacted when the sink is made (a URL without its path, query or user
//! info; a command by its program), so nothing read here holds a secret. It must never hold a
//! secret nor block a delivery thread for longer than a counter update.

use std::sync::{Arc, Mutex, PoisonError};

pub use cclive_server::{DeliveryEntry, Outcome, SinkKind, SinkReport};

use super::Delivery;
use super::queue::Queue;

/// A sink's shared status and its queue (for its length).
#[derive(Clone)]
pub(crate) struct SinkHandle {
    pub(crate) status: Arc<Mutex<SinkReport>>,
    pub(crate) queue: Arc<Queue<Arc<Delivery>>>,
}

impl SinkHandle {
    fn snapshot(&self) -> SinkReport {
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

    /// Every sink's figures now, webhooks first, in config order (`/api/integrations`,
    /// `/metrics`).
    pub fn snapshot(&self) -> Vec<SinkReport> {
        self.sinks.iter().map(SinkHandle::snapshot).collect()
    }
}

pub(crate) fn lock(status: &Mutex<SinkReport>) -> std::sync::MutexGuard<'_, SinkReport> {
    status.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use cclive_server::RECENT_DELIVERIES;
    use jiff::Timestamp;

    use super::*;

    fn record(ok: bool, n: usize) -> DeliveryEntry {
        DeliveryEntry {
            id: n.to_string(),
            event: "session_ended".to_owned(),
            session_id: None,
            at: Timestamp::UNIX_EPOCH,
            attempts: 1,
            outcome: if ok {
                Outcome::Delivered
            } else {
                Outcome::Failed
            },
            http_status: None,
            exit_code: None,
            error: (!ok).then(|| "boom".to_owned()),
            duration_ms: 0,
        }
    }

    #[test]
    fn counters_and_a_bounded_ring_newest_first() {
        let mut s = SinkReport::new(SinkKind::Webhook, "w".into(), "t".into(), vec![]);
        for n in 0..RECENT_DELIVERIES + 5 {
            s.finish(record(n % 2 == 0, n));
        }
        s.drop_one(record(false, 999));
        assert_eq!(s.recent.len(), RECENT_DELIVERIES);
        assert_eq!(s.recent[0].id, "999");
        assert_eq!(s.recent[1].id, (RECENT_DELIVERIES + 4).to_string());
        assert_eq!(s.delivered + s.failed, (RECENT_DELIVERIES + 5) as u64);
        assert_eq!(s.dropped, 1);
        assert_eq!(s.recent[0].outcome, Outcome::Dropped);
        assert_eq!(s.last_error.as_deref(), Some("boom"));
    }
}
