//! cclive's HTTP server: what the monitor exposes on its (loopback by default) address.
//!
//! [`router`] builds the axum `Router` from an [`AppState`]; [`serve`] runs it on a listener the
//! caller bound, until the shutdown future resolves. This crate never spawns processes, reads
//! configuration or touches the terminal: the binary resolves everything into a
//! [`ServerConfig`] and hands over its channels.
//!
//! Layout:
//! - `routes`: the route table, the intake (`/api/hooks` for Claude Code's http hooks,
//!   `/api/events` for `cclive run`, `/api/session/webhook` for other tools) and `/healthz`.
//!   Intake becomes [`Event`]s sent to the monitor through a channel.
//! - `api`: the read side — `/api/current-session` (the state file's object), session history
//!   from the [`Store`], summaries and cost breakdowns (`aggregate`), a session's timeline
//!   and performance analytics (`timeline`, over the core's `turns` and `analytics`).
//! - `otlp`: `/v1/logs` and `/v1/metrics`, Claude Code's own telemetry (OTLP/HTTP, JSON or
//!   protobuf), decoded and turned into events by [`cclive_core::otel`].
//! - `stream`: `/api/stream`, server-sent events fed by the [`LiveHub`] the monitor publishes
//!   every [`Update`](cclive_core::Update) to.
//! - `metrics`: `/metrics` (Prometheus text format, budget use included) and `/calendar.ics`
//!   (iCalendar).
//! - `limits`: `/api/limits`, the dashboard's panel — the running 5-hour block, budgets and the
//!   official rate limits — from what the binary computes ([`LimitsSource`]) and the snapshot.
//! - `range`: the date ranges (`range=7d`, `from`/`to`) the summary, charts and listing share.
//! - `catch_up`: `/api/import`, the monitor's catch-up import's progress ([`ImportProgress`]):
//!   the server answers while the history is imported.
//! - `integrations`: `/api/integrations`, what webhooks and on_change commands did, as the
//!   binary reports it (already redacted).
//! - `access`: the Host (DNS rebinding), Origin (cross-site POSTs) and token checks every
//!   request passes first.
//! - `assets`: the dashboard's HTML, CSS and JS, embedded in the binary (no build step, no CDN).
//! - [`team`]: team mode's server (`cclive server`): the agent protocol, the team page and its
//!   API over the PostgreSQL team store, every route behind a user's token.
//! - [`ApiError`]: the one error type of every handler; it never leaks internals.

#![cfg_attr(test, allow(clippy::float_cmp))]

mod access;
mod aggregate;
mod api;
mod assets;
mod catch_up;
mod error;
mod integrations;
mod kept;
mod limits;
mod listener;
mod live;
mod metrics;
mod otlp;
mod range;
mod routes;
mod stream;
pub mod team;
mod timeline;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use cclive_core::{Event, PriceTable, Snapshot};
use cclive_store::Store;
use jiff::tz::TimeZone;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub use access::{Access, Token, TokenError};
pub use catch_up::{ImportProgress, ImportStatus};
pub use error::ApiError;
pub use integrations::{
    DeliveryEntry, IntegrationsSource, Outcome, RECENT_DELIVERIES, SinkKind, SinkReport,
};
pub use limits::{LimitsSource, PeriodSpend, UsageLimits};
pub use live::LiveHub;
pub use metrics::{BudgetSource, DeliveryCounts, DeliveryStats, IngestCounters, MetricSources};
pub use otlp::{OtlpCount, OtlpCounters};

/// How the server behaves, resolved by the binary.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Who may talk to the server.
    pub access: Access,
    /// How often the page refreshes itself while its live stream is down (the seed's
    /// `DASHBOARD_REFRESH_INTERVAL`).
    pub refresh_interval: Duration,
    /// Prices for the per-turn estimates of a session's timeline.
    pub prices: PriceTable,
    /// The time zone of "today", "this week" and days in charts when a request names none.
    pub time_zone: TimeZone,
    /// How long a keep-alive connection may wait for its next request before it is closed (a
    /// request in flight, such as a live stream, is never cut).
    pub idle_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            access: Access::loopback(),
            refresh_interval: Duration::from_secs(2),
            prices: PriceTable::builtin(),
            time_zone: TimeZone::UTC,
            idle_timeout: listener::IDLE_TIMEOUT,
        }
    }
}

/// What the server is given: the monitor's channels, the history, and its configuration.
pub struct Parts {
    /// Where intake sends events (to the monitor).
    pub events: mpsc::Sender<Event>,
    /// The monitor's current state (the state file's object).
    pub snapshot: watch::Receiver<Snapshot>,
    /// Every update the monitor makes, for the live stream.
    pub live: LiveHub,
    /// Session history.
    pub store: Arc<dyn Store>,
    /// Behaviour.
    pub config: ServerConfig,
}

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    events: mpsc::Sender<Event>,
    snapshot: watch::Receiver<Snapshot>,
    live: LiveHub,
    store: Arc<dyn Store>,
    config: ServerConfig,
    pages: assets::Pages,
    /// What `/metrics` and `/api/integrations` read besides the snapshot and the store.
    metric_sources: MetricSources,
    /// What the OTLP intake received.
    otlp: OtlpCounters,
    /// Set when the server shuts down, so the endless live streams end and the graceful
    /// shutdown can finish.
    closing: watch::Sender<bool>,
    /// `/api/costs` answers, until the store changes.
    kept_costs: kept::Kept,
}

impl AppState {
    /// State built from `parts`.
    pub fn new(parts: Parts) -> Self {
        Self::with_sources(parts, MetricSources::default())
    }

    /// State built from `parts`, with the binary's counters for `/metrics`.
    pub fn with_sources(parts: Parts, mut metric_sources: MetricSources) -> Self {
        let pages = assets::Pages::new(parts.config.refresh_interval);
        let otlp = OtlpCounters::default();
        metric_sources.otlp = Some(otlp.clone());
        Self {
            inner: Arc::new(Inner {
                events: parts.events,
                snapshot: parts.snapshot,
                live: parts.live,
                store: parts.store,
                config: parts.config,
                pages,
                metric_sources,
                otlp,
                closing: watch::channel(false).0,
                kept_costs: kept::Kept::default(),
            }),
        }
    }
}

/// The routes, behind the access checks.
pub fn router(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves; then live streams end and
/// in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.inner.closing.clone();
    let idle_timeout = state.inner.config.idle_timeout;
    let listener = listener::GuardedListener::new(
        listener,
        listener::MAX_CONNECTIONS,
        listener::HEADER_TIMEOUT,
    );
    listener::serve(listener, router(state), idle_timeout, async move {
        shutdown.await;
        closing.send_replace(true);
    })
    .await
}
