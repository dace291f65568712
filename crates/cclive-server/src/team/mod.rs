//! Team mode's HTTP side: what `cclive server` serves on top of the PostgreSQL team store.
//!
//! [`router`] builds the routes from a [`TeamState`]: the agent protocol (`/api/team/v1/cursor`,
//! `/api/team/v1/push`, see `cclive_core::team`), the dashboard's reads (`/api/team/v1/overview`,
//! `/api/team/v1/spend`), its live stream (`/api/team/v1/stream`) and the team page (`/`,
//! sharing the local dashboard's CSS and helpers under `/assets/`).
//!
//! EVERY route needs a user's token (`Authorization: Bearer cct_…`, the `cclive_token` cookie, or
//! `?token=` on a page, which sets the cookie and redirects), loopback included, because behind a
//! reverse proxy on the same host every request looks local (the local monitor's rule too, once it
//! has a token). The Host and Origin checks of the local server apply too. The token's user is attached
//! to the request; handlers scope every read by its role and attribute every push to it.
//!
//! This module never touches SQL (the store does) and never logs tokens, bodies or queries.

mod alerts;
mod api;
mod live;
mod tls;

pub use alerts::AlertSink;

pub use tls::{TlsError, acceptor as tls_acceptor};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};
use cclive_core::PriceTable;
use cclive_team_store::TeamStore;
use jiff::tz::TimeZone;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::access::{self, Access};
use crate::{ApiError, assets};

/// Largest push body accepted; a larger one gets 413 and the agent halves its batch.
pub const PUSH_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// How the team server behaves, resolved by the binary.
#[derive(Clone, Debug)]
pub struct TeamConfig {
    /// The Host names it answers to (its token field is unused: users' tokens are checked).
    pub access: Access,
    /// Prices for the spend figures.
    pub prices: PriceTable,
    /// The time zone of "today", "this week" and "this month".
    pub time_zone: TimeZone,
}

/// What the team handlers share. Cheap to clone.
#[derive(Clone)]
pub struct TeamState {
    inner: Arc<Inner>,
}

struct Inner {
    store: TeamStore,
    config: TeamConfig,
    /// Where budget alerts go, and how often budgets are checked at most.
    alerts: Option<(AlertSink, std::time::Duration)>,
    /// A tick per applied push: the live stream tells pages to read again.
    changes: broadcast::Sender<()>,
    closing: watch::Sender<bool>,
}

impl TeamState {
    /// State over `store`.
    pub fn new(store: TeamStore, config: TeamConfig) -> TeamState {
        Self::with_alerts(store, config, None)
    }

    /// State whose budgets are checked after pushes (at most once per `every`), each threshold
    /// crossed going to `sink` once per month.
    pub fn with_alerts(
        store: TeamStore,
        config: TeamConfig,
        alerts: Option<(AlertSink, std::time::Duration)>,
    ) -> TeamState {
        TeamState {
            inner: Arc::new(Inner {
                store,
                config,
                alerts,
                changes: broadcast::channel(64).0,
                closing: watch::channel(false).0,
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &TeamStore {
        &self.inner.store
    }
}

/// The team routes, behind the access checks.
pub fn router(state: TeamState) -> Router {
    Router::new()
        .route("/api/team/v1/cursor", get(api::cursor))
        .route(
            "/api/team/v1/push",
            post(api::push).layer(DefaultBodyLimit::max(PUSH_BODY_LIMIT)),
        )
        .route("/api/team/v1/overview", get(api::overview))
        .route("/api/team/v1/spend", get(api::spend))
        .route("/api/team/v1/whoami", get(api::whoami))
        .route("/api/team/v1/stream", get(live::stream))
        .route("/healthz", get(api::healthz))
        .route("/", get(assets::team_page))
        .route("/assets/{name}", get(assets::asset))
        .route("/favicon.ico", get(assets::favicon))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route on this team server".into())
}

/// Serves `router(state)` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: TeamState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.inner.closing.clone();
    start_budget_watch(&state);
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            closing.send_replace(true);
        })
        .await
}

/// Like [`serve`], over HTTPS with `acceptor` (see [`tls_acceptor`]).
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: TeamState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.inner.closing.clone();
    start_budget_watch(&state);
    let listener = tls::TlsListener::new(listener, acceptor)?;
    axum::serve(listener, router(state).into_make_service())
        .with_graceful_shutdown(async move {
            shutdown.await;
            closing.send_replace(true);
        })
        .await
}

fn start_budget_watch(state: &TeamState) {
    if let Some((sink, every)) = state.inner.alerts.clone() {
        tokio::spawn(alerts::watch(state.clone(), sink, every));
    }
}

/// Host, Origin, then the user's token; then the handler; then the common headers.
async fn guard(State(state): State<TeamState>, mut req: Request, next: Next) -> Response {
    let mut response = match check(&state, &mut req).await {
        Err(refusal) => refusal.into_response(),
        Ok(Some(redirect)) => redirect,
        Ok(None) => next.run(req).await,
    };
    access::secure_headers(&mut response);
    response
}

/// `Ok(Some(_))`: a page opened with `?token=` (cookie set, token dropped from the address).
async fn check(state: &TeamState, req: &mut Request) -> Result<Option<Response>, ApiError> {
    let config = &state.inner.config;
    let headers = req.headers();
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::Forbidden("the request has no Host header".into()))?;
    if !config.access.host_allowed(host) {
        return Err(ApiError::Forbidden(format!(
            "this server does not answer to the host {host:?}; start it with --public-host"
        )));
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        access::check_origin(headers, host)?;
    }
    let path = req.uri().path().to_owned();
    let (token, from_query) = match access::header_token(headers) {
        Some(t) => (t.to_owned(), false),
        None => match access::query_token(req.uri().query()) {
            Some(t) => (t.to_owned(), true),
            None => return Err(ApiError::Unauthorized),
        },
    };
    let principal = state
        .inner
        .store
        .authenticate(&token)
        .await
        .map_err(|e| ApiError::store(&e))?;
    if from_query && req.method() == Method::GET && !path.starts_with("/api/") {
        return Ok(Some(access::redirect_with_cookie(
            &path,
            req.uri().query(),
            &token,
        )));
    }
    req.extensions_mut().insert(principal);
    Ok(None)
}
