//! Telling other programs what sessions do: outgoing webhooks, exec hooks and calendar blocks.
//!
//! The monitor calls a [`Callback`] with every [`Update`], on its own task, and must never wait.
//! So the callback built here only classifies the update into named events ([`event`]) and
//! pushes each payload onto the bounded queue of every sink that subscribed to it; a dedicated
//! thread per sink does the slow part: [`webhook`] POSTs with signatures, timeouts and retries,
//! [`exec`] runs `[[on_change]]` commands with the payload on stdin, [`calendar`] writes
//! `[[calendar]]` blocks over CalDAV. A full queue drops its
//! oldest entry and counts it ([`stats`]). The binary wires it in:
//!
//! ```ignore
//! let notifier = notify::Notifier::from_settings(&settings)?;
//! // PipelineConfig { callbacks: notifier.callbacks(), .. }
//! // … after the pipeline has stopped:
//! notifier.shutdown(Duration::from_secs(5)); // blocking: drains, then gives up
//! ```
//!
//! Nothing here touches the monitor's state or the store; sinks see payloads only.

pub mod calendar;
pub mod event;
pub mod exec;
mod queue;
pub mod settings;
pub mod stats;
pub mod webhook;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cclive_core::Update;
use cclive_core::blocks::BlockEvent;
use cclive_core::budget::BudgetAlert;

pub use event::{Classifier, EventName, Payload, Subject};
pub use settings::{ExecHookSettings, Secret, WebhookSettings};
pub use stats::{DeliveryEntry, NotifyStats, Outcome, SinkKind, SinkReport};

use crate::config::Settings;
use crate::monitor::pipeline::Callback;
use queue::Queue;
use stats::{SinkHandle, lock};

/// How long sinks may go on draining when their callbacks are dropped without a
/// [`Notifier::shutdown`] (see [`callbacks`]).
const DETACHED_GRACE: Duration = Duration::from_secs(10);

/// One payload on its way to the sinks that want it: serialized once, shared.
#[derive(Debug)]
pub struct Delivery {
    pub(crate) id: String,
    pub(crate) event: EventName,
    pub(crate) session_id: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) body: Arc<[u8]>,
}

impl Delivery {
    /// The delivery of `payload`.
    pub fn new(payload: &Payload) -> Delivery {
        Delivery {
            id: payload.id.clone(),
            event: payload.event,
            session_id: payload.session().map(|s| s.session_id.to_string()),
            status: payload.session().map(|s| s.status.as_str().to_owned()),
            body: Arc::from(payload.to_json()),
        }
    }
}

/// The record of a delivery that was never attempted.
pub(crate) fn unsent(delivery: &Delivery, why: &str) -> DeliveryEntry {
    DeliveryEntry {
        id: delivery.id.clone(),
        event: delivery.event.as_str().to_owned(),
        session_id: delivery.session_id.clone(),
        at: jiff::Timestamp::now(),
        attempts: 0,
        outcome: stats::Outcome::Dropped,
        http_status: None,
        exit_code: None,
        error: Some(why.to_owned()),
        duration_ms: 0,
    }
}

/// Counts what a sink's thread left in its queue at shutdown as dropped.
pub(crate) fn count_abandoned(queue: &Queue<Arc<Delivery>>, status: &std::sync::Mutex<SinkReport>) {
    let left = queue.drain();
    if left.is_empty() {
        return;
    }
    let mut status = lock(status);
    tracing::warn!(
        sink = %status.name,
        dropped = left.len(),
        "Shutdown came before these notifications were delivered."
    );
    for delivery in &left {
        status.drop_one(unsent(delivery, "dropped at shutdown"));
    }
}

/// A running sink: its queue and figures, and the thread that delivers.
pub(crate) struct Worker {
    pub(crate) handle: SinkHandle,
    pub(crate) thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts a sink's thread (named after its kind and name) with an empty queue of
    /// `queue_size`; `run` delivers from the handle's queue until it ends.
    pub(crate) fn spawn(
        status: SinkReport,
        queue_size: usize,
        run: impl FnOnce(&SinkHandle) + Send + 'static,
    ) -> std::io::Result<Worker> {
        let name = format!("{} {}", status.kind.as_str(), status.name);
        let handle = SinkHandle {
            status: Arc::new(std::sync::Mutex::new(status)),
            queue: Arc::new(Queue::new(queue_size)),
        };
        let thread = {
            let handle = handle.clone();
            std::thread::Builder::new()
                .name(name)
                .spawn(move || run(&handle))?
        };
        Ok(Worker {
            handle,
            thread: Some(thread),
        })
    }
}

/// A sink as the dispatcher sees it: what it wants, where to put it.
struct Route {
    events: Vec<EventName>,
    sink: SinkHandle,
}

/// What the callback holds: the classifier and every sink's queue.
struct Dispatch {
    classifier: Classifier,
    routes: Vec<Route>,
}

impl Dispatch {
    fn on_update(&self, update: &Update) {
        for event in self.classifier.events(update) {
            // Most updates are progress nobody asked for: build nothing for them.
            if self.routes.iter().any(|r| r.events.contains(&event)) {
                self.publish(&Payload::of_update(event, update, jiff::Timestamp::now()));
            }
        }
    }

    fn publish(&self, payload: &Payload) {
        let mut wanted = self
            .routes
            .iter()
            .filter(|r| r.events.contains(&payload.event))
            .peekable();
        if wanted.peek().is_none() {
            return;
        }
        let delivery = Arc::new(Delivery::new(payload));
        for route in wanted {
            if let Some(dropped) = route.sink.queue.push(delivery.clone()) {
                let mut status = lock(&route.sink.status);
                status.drop_one(unsent(&dropped, "queue full: dropped the oldest"));
                // Once, then every 100th: a receiver that hangs must not flood the log.
                if status.dropped % 100 == 1 {
                    tracing::warn!(
                        sink = %status.name,
                        dropped = status.dropped,
                        "Notifications pile up faster than they are delivered; dropping the oldest."
                    );
                }
            }
        }
    }

    fn close(&self, abandon_at: Instant) {
        for route in &self.routes {
            route.sink.queue.close(abandon_at);
        }
    }
}

impl Drop for Dispatch {
    fn drop(&mut self) {
        self.close(Instant::now() + DETACHED_GRACE);
    }
}

/// The running webhooks and exec hooks. See the module docs.
pub struct Notifier {
    dispatch: Arc<Dispatch>,
    threads: Vec<JoinHandle<()>>,
    stats: NotifyStats,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("sinks", &self.dispatch.routes.len())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Starts one delivery thread per webhook and per exec hook (none when both lists are
    /// empty).
    pub fn start(
        webhooks: &[WebhookSettings],
        hooks: &[ExecHookSettings],
    ) -> std::io::Result<Notifier> {
        Notifier::start_with_calendars(webhooks, hooks, &[])
    }

    /// Like [`Notifier::start`], plus one thread per `[[calendar]]`.
    pub fn start_with_calendars(
        webhooks: &[WebhookSettings],
        hooks: &[ExecHookSettings],
        calendars: &[calendar::CalendarSettings],
    ) -> std::io::Result<Notifier> {
        let mut routes = Vec::new();
        let mut threads = Vec::new();
        for settings in webhooks {
            let mut worker = webhook::spawn(settings.clone())?;
            threads.extend(worker.thread.take());
            routes.push(Route {
                events: settings.events.clone(),
                sink: worker.handle,
            });
        }
        let slots = Arc::new(exec::Slots::new(exec::MAX_CONCURRENT));
        for settings in hooks {
            let events = settings.events.clone();
            let mut worker = exec::spawn(settings.clone(), slots.clone())?;
            threads.extend(worker.thread.take());
            routes.push(Route {
                events,
                sink: worker.handle,
            });
        }
        for settings in calendars {
            let mut worker = calendar::spawn(settings.clone())?;
            threads.extend(worker.thread.take());
            routes.push(Route {
                events: calendar::events(),
                sink: worker.handle,
            });
        }
        let stats = NotifyStats::new(routes.iter().map(|r| r.sink.clone()).collect());
        Ok(Notifier {
            dispatch: Arc::new(Dispatch {
                classifier: Classifier::new(),
                routes,
            }),
            threads,
            stats,
        })
    }

    /// The notifier `settings` ask for (`[[webhook]]`, `[[on_change]]` and `[[calendar]]`).
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Notifier> {
        use anyhow::Context;
        Notifier::start_with_calendars(
            &settings.webhooks.value,
            &settings.on_change.value,
            &settings.calendars.value,
        )
        .context("starting the webhook, on_change and calendar threads")
    }

    /// True when no sink is configured.
    pub fn is_empty(&self) -> bool {
        self.dispatch.routes.is_empty()
    }

    /// The monitor callbacks that feed the sinks (none when no sink is configured). They only
    /// enqueue: they never block.
    pub fn callbacks(&self) -> Vec<Callback> {
        if self.is_empty() {
            return Vec::new();
        }
        let dispatch = self.dispatch.clone();
        let callback: Callback = Arc::new(move |update: &Update| dispatch.on_update(update));
        vec![callback]
    }

    /// Sends a payload that is not a monitor update (e.g. a budget alert) to every sink that
    /// subscribed to its event. Never blocks.
    pub fn publish(&self, payload: &Payload) {
        self.dispatch.publish(payload);
    }

    /// Sends a budget alert, as a `budget_threshold` notification. Never blocks.
    pub fn publish_budget_alert(&self, alert: &BudgetAlert) {
        self.dispatch.publish(&Payload::budget(alert));
    }

    /// A sink for the budget watcher (`budget_watch::Watch::alert_sinks`): each new
    /// alert becomes a `budget_threshold` notification. It only enqueues.
    pub fn alert_sink(&self) -> Arc<dyn Fn(&BudgetAlert) + Send + Sync> {
        let dispatch = self.dispatch.clone();
        Arc::new(move |alert: &BudgetAlert| dispatch.publish(&Payload::budget(alert)))
    }

    /// A sink for block changes (`budget_watch`'s block sinks): each becomes a `block_started`
    /// or `block_ended` notification. It only enqueues.
    pub fn block_sink(&self) -> Arc<dyn Fn(&BlockEvent) + Send + Sync> {
        let dispatch = self.dispatch.clone();
        Arc::new(move |block: &BlockEvent| dispatch.publish(&Payload::block(block)))
    }

    /// True when some sink subscribed to `event` (so nobody computes what nobody wants).
    pub fn wants(&self, event: EventName) -> bool {
        self.dispatch
            .routes
            .iter()
            .any(|r| r.events.contains(&event))
    }

    /// Every sink's figures (delivered, failed, dropped, recent deliveries), for the dashboard.
    pub fn stats(&self) -> NotifyStats {
        self.stats.clone()
    }

    /// Stops taking notifications, lets the sinks deliver what is queued for up to `grace`,
    /// then gives up on the rest (counted as dropped). Blocking: call it from a blocking thread
    /// after the monitor has stopped.
    pub fn shutdown(self, grace: Duration) {
        let deadline = Instant::now() + grace;
        self.dispatch.close(deadline);
        // A request in flight ends by its own timeout; do not wait for it past the grace.
        let slack = deadline + Duration::from_millis(200);
        while Instant::now() < slack && !self.threads.iter().all(JoinHandle::is_finished) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let busy = self.threads.iter().filter(|t| !t.is_finished()).count();
        if busy > 0 {
            tracing::warn!(
                busy,
                "Some notifications were still being delivered at shutdown; left behind."
            );
        }
    }

    /// The callbacks alone; the sinks' threads go on by themselves and stop (after draining,
    /// for at most 10 s) once every callback is dropped.
    pub fn into_callbacks(self) -> Vec<Callback> {
        self.callbacks()
    }
}

/// The monitor callbacks for the `[[webhook]]` and `[[on_change]]` entries of `settings`, with
/// detached delivery threads (see [`Notifier::into_callbacks`]). Prefer [`Notifier`] where
/// shutdown can wait for deliveries.
pub fn callbacks(settings: &Settings) -> anyhow::Result<Vec<Callback>> {
    Ok(Notifier::from_settings(settings)?.into_callbacks())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use cclive_core::{SessionId, SessionState, Status, UpdateKind};

    use super::*;

    fn update(kind: UpdateKind, status: Status) -> Update {
        let mut session = SessionState::new(SessionId::new("s1"), jiff::Timestamp::now());
        session.status = status;
        Update {
            kind,
            previous_status: None,
            session,
        }
    }

    /// A receiver that accepts connections and never answers.
    fn black_hole() -> (String, TcpListener) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        (format!("http://{}/", l.local_addr().unwrap()), l)
    }

    fn webhook(url: String, queue_size: usize) -> WebhookSettings {
        WebhookSettings {
            name: "w".into(),
            url,
            events: EventName::defaults(),
            secret: None,
            timeout: Duration::from_secs(5),
            max_attempts: 5,
            queue_size,
        }
    }

    #[test]
    fn the_callback_never_waits_and_overflow_drops_the_oldest() {
        let (url, _listener) = black_hole();
        let notifier = Notifier::start(&[webhook(url, 3)], &[]).unwrap();
        let callbacks = notifier.callbacks();
        assert_eq!(callbacks.len(), 1);
        let start = Instant::now();
        for _ in 0..20 {
            callbacks[0](&update(UpdateKind::Started, Status::Active));
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "enqueueing must not wait for the receiver"
        );
        let s = &notifier.stats().snapshot()[0];
        assert!(s.queued <= 3, "{s:?}");
        // 20 in; one may be in flight, at most 3 wait; the rest were dropped.
        assert!(s.dropped >= 16, "{s:?}");
        let start = Instant::now();
        notifier.shutdown(Duration::from_millis(100));
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn progress_is_not_sent_unless_asked_for() {
        let (url, _listener) = black_hole();
        let notifier = Notifier::start(&[webhook(url, 100)], &[]).unwrap();
        let callbacks = notifier.callbacks();
        callbacks[0](&update(UpdateKind::Progress, Status::Active));
        let s = &notifier.stats().snapshot()[0];
        assert_eq!((s.queued, s.dropped), (0, 0));
        notifier.shutdown(Duration::from_millis(50));
    }

    #[test]
    fn shutdown_delivers_what_is_queued() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let mut bodies = 0;
            for stream in listener.incoming().take(2) {
                let mut s = stream.unwrap();
                let mut buf = [0u8; 8192];
                let mut got = Vec::new();
                while !String::from_utf8_lossy(&got).contains('}') {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                bodies += 1;
                s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                    .unwrap();
            }
            bodies
        });
        let notifier = Notifier::start(&[webhook(url, 100)], &[]).unwrap();
        let callbacks = notifier.callbacks();
        callbacks[0](&update(UpdateKind::Started, Status::Active));
        callbacks[0](&update(UpdateKind::Ended, Status::Completed));
        let stats = notifier.stats();
        notifier.shutdown(Duration::from_secs(10));
        assert_eq!(server.join().unwrap(), 2);
        let s = &stats.snapshot()[0];
        assert_eq!((s.delivered, s.failed, s.dropped), (2, 0, 0), "{s:?}");
        assert_eq!(s.recent.len(), 2);
        assert_eq!(s.recent[0].event, EventName::SessionEnded.as_str());
    }

    #[test]
    fn budget_alerts_reach_the_sinks_that_asked_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let hook = |name: &str, events: Vec<EventName>| ExecHookSettings {
            name: name.into(),
            command: format!("cat > '{}/{name}.json'", dir.path().display()),
            events,
            timeout: Duration::from_secs(10),
        };
        let notifier = Notifier::start(
            &[],
            &[
                hook("budget", vec![EventName::BudgetThreshold]),
                hook(
                    "sessions",
                    EventName::defaults()
                        .into_iter()
                        .filter(|e| *e != EventName::BudgetThreshold)
                        .collect(),
                ),
            ],
        )
        .unwrap();
        let alert = BudgetAlert {
            project: None,
            period: cclive_core::budget::Period::Day,
            period_key: "2026-11-25".into(),
            period_start: "2026-11-25T00:00:00Z".parse().unwrap(),
            period_end: "2026-11-26T00:00:00Z".parse().unwrap(),
            threshold_percent: 80,
            limit_usd: 10.0,
            spent_usd: 8.1,
            percent: 81.0,
            projected_usd: 11.4,
            at: "2026-11-25T15:00:00Z".parse().unwrap(),
        };
        (notifier.alert_sink())(&alert);
        let stats = notifier.stats();
        notifier.shutdown(Duration::from_secs(10));
        let text = std::fs::read_to_string(dir.path().join("budget.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["event"], "budget_threshold");
        assert_eq!(json["at"], "2026-11-25T15:00:00Z");
        assert_eq!(json["budget"]["threshold_percent"], 80);
        assert_eq!(json["budget"]["period"], "day");
        assert!(json.get("session").is_none());
        assert!(!dir.path().join("sessions.json").exists());
        let s = stats.snapshot();
        assert_eq!((s[0].delivered, s[1].delivered), (1, 0));
    }

    #[test]
    fn no_sinks_no_callbacks() {
        let notifier = Notifier::start(&[], &[]).unwrap();
        assert!(notifier.is_empty());
        assert!(notifier.callbacks().is_empty());
        notifier.shutdown(Duration::from_millis(10));
    }
}
