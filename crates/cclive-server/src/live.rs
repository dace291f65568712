//! The live feed: every [`Update`] the monitor makes, fanned out to the dashboard's streams.
//!
//! The binary registers [`LiveHub::publish`] as a pipeline callback, so it runs on the monitor
//! task for each update, in order. It must stay quick: with no subscriber it only notes the
//! time; with subscribers it serializes the update once and hands the same bytes to all of them
//! through a bounded `broadcast` channel. A subscriber that falls behind loses the oldest
//! messages and is told so (the stream then sends a `resync` with the full state).
//!
//! Budget alerts travel the same way ([`LiveHub::publish_budget_alert`], the stream's `budget`
//! event, for editors and other clients that notify): they belong to no session and no
//! snapshot shows them, so they never move the stamp the snapshot is compared with.
//!
//! Each message carries the wall-clock time it was published (its stamp). The monitor's
//! snapshot is taken on the same task after the updates it includes, so "snapshot time ≥
//! stamp" means "the snapshot already shows this update". The stream uses that to start from a
//! snapshot that is not older than the last update, and to skip messages it already showed.

use std::sync::{Arc, Mutex, PoisonError};

use cclive_core::budget::BudgetAlert;
use cclive_core::{SessionId, Update};
use jiff::Timestamp;
use tokio::sync::broadcast;

/// One published update.
#[derive(Debug)]
pub(crate) struct LiveMessage {
    /// When it was published.
    pub(crate) stamp: Timestamp,
    /// Which session; `None` for a budget alert.
    pub(crate) session_id: Option<SessionId>,
    /// The stream's event name: `update` or `budget`.
    pub(crate) event: &'static str,
    /// The update as JSON (`{"kind", "previous_status"?, "session"}`), or the alert's,
    /// serialized once.
    pub(crate) json: Arc<str>,
}

/// Where the monitor publishes updates and the live streams subscribe. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LiveHub {
    inner: Arc<HubInner>,
}

#[derive(Debug)]
struct HubInner {
    tx: broadcast::Sender<Arc<LiveMessage>>,
    last: Mutex<Option<Timestamp>>,
}

impl LiveHub {
    /// A hub that keeps up to `capacity` messages for a slow subscriber before it lags.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(HubInner {
                tx: broadcast::channel(capacity.max(1)).0,
                last: Mutex::new(None),
            }),
        }
    }

    /// Publishes one update to every subscriber. Call it for every update, in order.
    pub fn publish(&self, update: &Update) {
        let stamp = Timestamp::now();
        *self
            .inner
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(stamp);
        if self.inner.tx.receiver_count() == 0 {
            return;
        }
        match serde_json::to_string(update) {
            Ok(json) => {
                let _ = self.inner.tx.send(Arc::new(LiveMessage {
                    stamp,
                    session_id: Some(update.session.session_id.clone()),
                    event: "update",
                    json: json.into(),
                }));
            }
            Err(e) => tracing::warn!("An update could not be serialized: {e}"),
        }
    }

    /// Publishes a budget threshold crossed (the stream's `budget` event). Streams limited to
    /// one session do not get it.
    pub fn publish_budget_alert(&self, alert: &BudgetAlert) {
        if self.inner.tx.receiver_count() == 0 {
            return;
        }
        match serde_json::to_string(alert) {
            Ok(json) => {
                let _ = self.inner.tx.send(Arc::new(LiveMessage {
                    stamp: Timestamp::now(),
                    session_id: None,
                    event: "budget",
                    json: json.into(),
                }));
            }
            Err(e) => tracing::warn!("A budget alert could not be serialized: {e}"),
        }
    }

    /// How many streams are subscribed.
    pub fn subscribers(&self) -> usize {
        self.inner.tx.receiver_count()
    }

    /// A new subscription, and the stamp of the last update published before it.
    pub(crate) fn subscribe(&self) -> (broadcast::Receiver<Arc<LiveMessage>>, Option<Timestamp>) {
        let rx = self.inner.tx.subscribe();
        let last = *self
            .inner
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (rx, last)
    }

    /// The stamp of the last update published.
    pub(crate) fn last_stamp(&self) -> Option<Timestamp> {
        *self
            .inner
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new(256)
    }
}
