//! `GET /api/stream`: every change as server-sent events.
//!
//! A connection first gets `snapshot` (the full current state, the state file's object, with a
//! `retry` hint so a browser reconnects within a second after a restart), then one `update` per
//! change (`{"kind", "previous_status"?, "session"}`), and `budget` for each budget threshold
//! crossed (the alert's JSON). A client that falls behind gets `resync`
//! (the full state again) instead of the updates it missed. `?session=<id>` limits updates to
//! one session (the session page), without budget alerts.
//!
//! Nothing here runs on a timer: a connection sleeps until the monitor publishes or the server
//! shuts down (then the stream ends, so the graceful shutdown is not held up by open pages).
//! There are no keep-alive comments; on loopback a dead peer is noticed at the next write.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, Sse};
use cclive_core::{SessionId, Snapshot};
use futures_util::Stream;
use jiff::Timestamp;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

use crate::AppState;
use crate::live::{LiveHub, LiveMessage};

/// How long a new connection waits for the monitor to publish a snapshot that includes the
/// last update before it settles for the one it has.
const FRESH_WAIT: Duration = Duration::from_secs(1);
/// What the browser waits before reconnecting.
const RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
pub(crate) struct StreamQuery {
    session: Option<String>,
}

struct Connection {
    hub: LiveHub,
    rx: broadcast::Receiver<Arc<LiveMessage>>,
    snapshots: watch::Receiver<Snapshot>,
    closing: watch::Receiver<bool>,
    /// Messages stamped before this are in the snapshot the client has.
    shown_until: Timestamp,
    session: Option<SessionId>,
    started: bool,
}

pub(crate) async fn stream(
    State(state): State<AppState>,
    Query(query): Query<StreamQuery>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let inner = &state.inner;
    let (rx, _) = inner.live.subscribe();
    let connection = Connection {
        hub: inner.live.clone(),
        rx,
        snapshots: inner.snapshot.clone(),
        closing: inner.closing.subscribe(),
        shown_until: Timestamp::UNIX_EPOCH,
        session: query.session.map(SessionId::new),
        started: false,
    };
    tracing::debug!(
        subscribers = inner.live.subscribers(),
        "A live stream opened."
    );
    Sse::new(futures_util::stream::unfold(connection, next))
}

async fn next(mut c: Connection) -> Option<(Result<SseEvent, Infallible>, Connection)> {
    if *c.closing.borrow() {
        return None;
    }
    if !c.started {
        c.started = true;
        let event = snapshot_event(&mut c, "snapshot").await.retry(RETRY);
        return Some((Ok(event), c));
    }
    loop {
        let received = tokio::select! {
            received = c.rx.recv() => received,
            _ = c.closing.changed() => return None,
        };
        match received {
            Ok(message) => {
                let shown = message.session_id.is_some() && message.stamp < c.shown_until;
                if shown
                    || c.session
                        .as_ref()
                        .is_some_and(|s| message.session_id.as_ref() != Some(s))
                {
                    continue;
                }
                let event = SseEvent::default()
                    .event(message.event)
                    .data(message.json.as_ref());
                return Some((Ok(event), c));
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "A live stream fell behind; resyncing.");
                let event = snapshot_event(&mut c, "resync").await;
                return Some((Ok(event), c));
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

/// The full state as an event named `name`, from a snapshot that already includes every update
/// published before now.
async fn snapshot_event(c: &mut Connection, name: &str) -> SseEvent {
    let snapshot = fresh_snapshot(&c.hub, &mut c.snapshots).await;
    c.shown_until = snapshot.updated_at;
    SseEvent::default()
        .event(name)
        .json_data(&snapshot)
        .unwrap_or_else(|_| SseEvent::default().event(name).data("null"))
}

/// The monitor's snapshot once it is at least as new as the last published update (it follows
/// within the state file's throttle, 50 ms); after [`FRESH_WAIT`], whatever it is.
pub(crate) async fn fresh_snapshot(
    hub: &LiveHub,
    snapshots: &mut watch::Receiver<Snapshot>,
) -> Snapshot {
    let wanted = hub.last_stamp();
    let deadline = tokio::time::Instant::now() + FRESH_WAIT;
    loop {
        let snapshot = snapshots.borrow_and_update().clone();
        if wanted.is_none_or(|w| snapshot.updated_at >= w) {
            return snapshot;
        }
        match tokio::time::timeout_at(deadline, snapshots.changed()).await {
            Ok(Ok(())) => {}
            _ => return snapshots.borrow().clone(),
        }
    }
}
