//! `GET /api/integrations`: what the webhooks, `[[on_change]]` commands and `[[calendar]]`s did — per sink its
//! counts and its most recent deliveries — for the dashboard's Integrations panel.
//!
//! The types here are the one definition of a sink's figures: the binary's delivery threads
//! fill a [`SinkReport`] as they go ([`SinkReport::finish`]); there is no second copy of them.
//! The server delivers nothing and reads no configuration: the binary hands over an
//! [`IntegrationsSource`] (through [`crate::MetricSources`]) that reads its notifier's figures
//! as [`SinkReport`]s. What the source returns is shown as it is, so it must already be
//! redacted: a URL without its path, query or user info, a command by its program only; a
//! webhook secret is never part of a report. Without a source the answer is an empty list.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde::Serialize;

use crate::AppState;

/// Recent deliveries a [`SinkReport`] keeps.
pub const RECENT_DELIVERIES: usize = 50;

/// Reads every sink's report, in config order (webhooks first). Called per request; must not
/// block for long (the binary's reads a few mutexes).
pub type IntegrationsSource = Arc<dyn Fn() -> Vec<SinkReport> + Send + Sync>;

/// What kind of integration a sink is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// A `[[webhook]]`: an HTTP POST per notification.
    Webhook,
    /// An `[[on_change]]` command: run with the notification on stdin.
    OnChange,
    /// A `[[calendar]]`: session blocks written as events over CalDAV.
    Calendar,
}

impl SinkKind {
    /// `webhook` or `on_change`, as in the config file and the metrics' `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Webhook => "webhook",
            SinkKind::OnChange => "on_change",
            SinkKind::Calendar => "calendar",
        }
    }
}

/// How one delivery ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx answer, or exit code 0.
    Delivered,
    /// Given up: attempts exhausted, an answer not worth retrying, a failed command.
    Failed,
    /// Never (fully) tried: the queue overflowed and this was the oldest, or shutdown came.
    Dropped,
}

/// One delivery (all its attempts), newest first in [`SinkReport::recent`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliveryEntry {
    /// The notification's id (the webhook's `X-Cclive-Delivery`).
    pub id: String,
    /// When it ended (its last attempt, or when it was dropped).
    pub at: Timestamp,
    /// The event name (`session_ended`, `budget_threshold`, …).
    pub event: String,
    /// The session it was about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The last HTTP status a webhook answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// An on_change command's exit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed or was dropped (never a URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Attempts made (0: dropped before the first).
    pub attempts: u32,
    /// From the first attempt to the end of the last (latency, retries included).
    pub duration_ms: u64,
}

/// One webhook's or on_change command's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SinkReport {
    /// Webhook or on_change command.
    pub kind: SinkKind,
    /// Its configured name.
    pub name: String,
    /// Where it goes, redacted: `https://hooks.example.com/…`, or the command's program.
    pub target: String,
    /// The events it subscribed to.
    pub events: Vec<String>,
    /// Deliveries waiting in its queue now.
    pub queued: usize,
    /// A delivery is being made (or waits for its retry) now.
    pub in_flight: bool,
    /// Deliveries that succeeded.
    pub delivered: u64,
    /// Deliveries given up.
    pub failed: u64,
    /// Deliveries dropped unsent.
    pub dropped: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Attempts that ran out of time.
    pub timeouts: u64,
    /// The last failure's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<Timestamp>,
    /// The last success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivered_at: Option<Timestamp>,
    /// The most recent deliveries, newest first (at most [`RECENT_DELIVERIES`]).
    pub recent: Vec<DeliveryEntry>,
}

impl SinkReport {
    /// A sink that has delivered nothing yet.
    pub fn new(kind: SinkKind, name: String, target: String, events: Vec<String>) -> SinkReport {
        SinkReport {
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
            timeouts: 0,
            last_error: None,
            last_error_at: None,
            last_delivered_at: None,
            recent: Vec::new(),
        }
    }

    /// Records a finished delivery: its `outcome` says which counter it adds to; it becomes
    /// the newest of [`SinkReport::recent`] (which keeps at most [`RECENT_DELIVERIES`]).
    pub fn finish(&mut self, entry: DeliveryEntry) {
        match entry.outcome {
            Outcome::Delivered => {
                self.delivered += 1;
                self.last_delivered_at = Some(entry.at);
            }
            Outcome::Failed => {
                self.failed += 1;
                self.last_error.clone_from(&entry.error);
                self.last_error_at = Some(entry.at);
            }
            Outcome::Dropped => self.dropped += 1,
        }
        self.recent.insert(0, entry);
        self.recent.truncate(RECENT_DELIVERIES);
    }

    /// Records a delivery dropped unsent.
    pub fn drop_one(&mut self, mut entry: DeliveryEntry) {
        entry.outcome = Outcome::Dropped;
        self.finish(entry);
    }

    /// The counters `/metrics` exports.
    pub fn counts(&self) -> crate::DeliveryCounts {
        crate::DeliveryCounts {
            kind: self.kind.as_str().to_owned(),
            name: self.name.clone(),
            delivered: self.delivered,
            failed: self.failed,
            dropped: self.dropped,
            retries: self.retries,
            timeouts: self.timeouts,
        }
    }
}

/// The answer of `GET /api/integrations`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Integrations {
    /// Every webhook and on_change command, in config order; empty when none is configured.
    sinks: Vec<SinkReport>,
}

pub(crate) async fn integrations(State(state): State<AppState>) -> Json<Integrations> {
    let sinks = state
        .inner
        .metric_sources
        .integrations
        .as_ref()
        .map(|read| read())
        .unwrap_or_default();
    Json(Integrations { sinks })
}
