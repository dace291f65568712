//! `GET /api/team/v1/stream`: a server-sent `changed` event whenever a push changed something,
//! so the team page reads its overview again (within a second of the agent's push).
//!
//! The events carry no data: each page re-reads `/api/team/v1/overview` with its own token, so
//! the stream never shows anyone data their role does not allow. A connection first gets one
//! `changed` (with a `retry` hint), then one per push; a client that fell behind gets a single
//! `changed` for everything it missed. The stream ends when the server shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::{broadcast, watch};

use super::TeamState;

const RETRY: Duration = Duration::from_secs(1);

struct Connection {
    rx: broadcast::Receiver<()>,
    closing: watch::Receiver<bool>,
    started: bool,
}

pub(crate) async fn stream(
    State(state): State<TeamState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let connection = Connection {
        rx: state.inner.changes.subscribe(),
        closing: state.inner.closing.subscribe(),
        started: false,
    };
    // Behind a reverse proxy an idle stream would be cut: a comment every 15 s keeps it open.
    Sse::new(futures_util::stream::unfold(connection, next)).keep_alive(KeepAlive::default())
}

fn changed() -> SseEvent {
    SseEvent::default().event("changed").data("{}")
}

async fn next(mut c: Connection) -> Option<(Result<SseEvent, Infallible>, Connection)> {
    if *c.closing.borrow() {
        return None;
    }
    if !c.started {
        c.started = true;
        return Some((Ok(changed().retry(RETRY)), c));
    }
    let got = tokio::select! {
        got = c.rx.recv() => Some(got),
        _ = c.closing.wait_for(|closing| *closing) => None,
    };
    match got? {
        Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
            // Several pushes at once are one re-read.
            while let Ok(()) | Err(broadcast::error::TryRecvError::Lagged(_)) = c.rx.try_recv() {}
            Some((Ok(changed()), c))
        }
        Err(broadcast::error::RecvError::Closed) => None,
    }
}
