//! The server over real sockets: each test starts `cclive_server::serve` on an ephemeral
//! loopback port with an in-memory store, a monitor it plays itself (the intake channel, the
//! snapshot, the live hub), and talks HTTP to it with a raw client.

#![allow(
    clippy::unwrap_used,
    clippy::float_cmp,
    clippy::missing_panics_doc,
    missing_docs,
    unreachable_pub
)]

mod api;
mod client;
mod integrations;
mod otlp;
mod security;
mod stream;

use std::net::SocketAddr;
use std::sync::Arc;

use cclive_core::{Event, SessionId, SessionState, Snapshot, Update, UpdateKind};
use cclive_server::{AppState, LiveHub, MetricSources, Parts, ServerConfig};
use cclive_store::{SqliteStore, Store};
use jiff::Timestamp;
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// A running server and the monitor's side of its channels.
pub struct Server {
    pub addr: SocketAddr,
    pub store: Arc<SqliteStore>,
    pub snapshot: watch::Sender<Snapshot>,
    pub live: LiveHub,
    events: Mutex<mpsc::Receiver<Event>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn start() -> Server {
        Self::with(ServerConfig::default(), LiveHub::default()).await
    }

    pub async fn with(config: ServerConfig, live: LiveHub) -> Server {
        Self::with_sources(config, live, MetricSources::default()).await
    }

    /// With what the binary hands over besides the monitor's channels.
    pub async fn with_sources(
        config: ServerConfig,
        live: LiveHub,
        sources: MetricSources,
    ) -> Server {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let (events_tx, events_rx) = mpsc::channel(64);
        let (snapshot, snapshot_rx) = watch::channel(Snapshot::inactive(Timestamp::now()));
        let state = AppState::with_sources(
            Parts {
                events: events_tx,
                snapshot: snapshot_rx,
                live: live.clone(),
                store: store.clone() as Arc<dyn Store>,
                config,
            },
            sources,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(cclive_server::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            store,
            snapshot,
            live,
            events: Mutex::new(events_rx),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The events intake has sent the monitor so far.
    pub async fn received(&self) -> Vec<Event> {
        let mut rx = self.events.lock().await;
        let mut out = Vec::new();
        while let Ok(e) = rx.try_recv() {
            out.push(e);
        }
        out
    }

    /// Shuts down; returns how `serve` ended.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }

    /// Publishes a snapshot taken now.
    pub fn publish_snapshot(&self, mut snapshot: Snapshot) -> Snapshot {
        snapshot.updated_at = Timestamp::now();
        self.snapshot.send_replace(snapshot.clone());
        snapshot
    }
}

/// A live session started at `at`.
pub fn session(id: &str, at: &str) -> SessionState {
    SessionState::new(SessionId::new(id), at.parse().unwrap())
}

/// An update of `session`.
pub fn update(kind: UpdateKind, session: SessionState) -> Update {
    Update {
        kind,
        previous_status: None,
        session,
    }
}

/// The snapshot of a monitor whose only session is `s`, live.
pub fn live_snapshot(s: SessionState) -> Snapshot {
    let mut snap = Snapshot::inactive(Timestamp::now());
    snap.status = Some(s.status);
    snap.data = Some(s.clone());
    snap.active_sessions = vec![s];
    snap
}
