//! cclive's HTTP server: what the monitor exposes on its (loopback by default) address.
//!
//! [`router`] builds the axum `Router` from an [`AppState`]; [`serve`] runs it on a listener the
//! caller bound, until the shutdown future resolves. Intake: Claude Code's http hooks POST their
//! payloads to `/api/hooks`; `cclive run` and other tools POST events to `/api/events`. Both
//! become [`Event`]s sent to the monitor through a channel. Read side: `/api/current-session`
//! (the state file's object) and `/healthz`. This crate never spawns processes or touches the
//! terminal; every error response goes through [`ApiError`], which never leaks internals.

mod error;
mod routes;

use std::future::Future;
use std::sync::Arc;

use cclive_core::{Event, Snapshot};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub use error::ApiError;

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    events: mpsc::Sender<Event>,
    snapshot: watch::Receiver<Snapshot>,
}

impl AppState {
    /// State that sends intake to `events` and serves `snapshot` as the current state.
    pub fn new(events: mpsc::Sender<Event>, snapshot: watch::Receiver<Snapshot>) -> Self {
        Self {
            inner: Arc::new(Inner { events, snapshot }),
        }
    }
}

/// The routes.
pub fn router(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
