//! The route table, and the intake handlers (what other programs send the monitor).
//!
//! Intake: `/api/hooks` takes Claude Code's hook payloads as they come and answers 204 with an
//! empty body (Claude Code reads an empty 2xx as "carry on"); `/api/events` takes cclive's own
//! event JSON from `cclive run`; `/api/session/webhook` (the seed's webhook) takes the same
//! event JSON from any other tool, checked strictly, with a 4xx that says what is wrong;
//! `/v1/logs` and `/v1/metrics` take Claude Code's telemetry (OTLP/HTTP, see `otlp`).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use cclive_core::{Event, EventKind, SessionId};
use serde_json::{Value, json};

use crate::{
    ApiError, AppState, access, api, assets, catch_up, integrations, limits, metrics, otlp, stream,
};

/// Largest body accepted (hook payloads carry tool inputs and outputs).
pub(crate) const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Most events one webhook call may carry.
const WEBHOOK_MAX_EVENTS: usize = 1000;
/// Longest session id the webhook accepts.
const MAX_SESSION_ID: usize = 200;

/// Every API path (for the OpenAPI document's test).
#[cfg(test)]
pub(crate) const API_PATHS: &[&str] = &[
    "/healthz",
    "/api/current-session",
    "/api/sessions",
    "/api/sessions/{id}",
    "/api/sessions/{id}/events",
    "/api/sessions/{id}/timeline",
    "/api/sessions/{id}/analytics",
    "/api/summary",
    "/api/costs",
    "/api/limits",
    "/api/budget",
    "/api/stream",
    "/api/session/webhook",
    "/api/hooks",
    "/api/events",
    "/api/openapi.json",
    "/metrics",
    "/calendar.ics",
    "/api/integrations",
    "/api/import",
    "/v1/logs",
    "/v1/metrics",
];

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/current-session", get(api::current_session))
        .route("/api/sessions", get(api::sessions))
        .route("/api/sessions/{id}", get(api::session))
        .route("/api/sessions/{id}/events", get(api::events))
        .route("/api/sessions/{id}/timeline", get(api::session_timeline))
        .route("/api/sessions/{id}/analytics", get(api::session_analytics))
        .route("/api/summary", get(api::summary))
        .route("/api/costs", get(api::costs))
        .route("/api/limits", get(limits::limits))
        .route("/api/budget", get(api::budget))
        .route("/api/stream", get(stream::stream))
        .route("/api/session/webhook", post(webhook))
        .route("/api/hooks", post(hooks))
        .route("/api/events", post(events))
        .route("/api/openapi.json", get(assets::openapi))
        .route("/metrics", get(metrics::metrics))
        .route("/calendar.ics", get(metrics::calendar))
        .route("/api/integrations", get(integrations::integrations))
        .route("/api/import", get(catch_up::import))
        .route("/v1/logs", post(otlp::logs))
        .route("/v1/metrics", post(otlp::metrics))
        .route("/", get(assets::dashboard_page))
        .route("/sessions/{id}", get(assets::session_page))
        .route("/assets/{name}", get(assets::asset))
        .route("/favicon.ico", get(assets::favicon))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), access::guard))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

async fn healthz() -> Json<Value> {
    Json(
        json!({ "ok": true, "service": "cclive", "version": env!("CARGO_PKG_VERSION"), "pid": std::process::id() }),
    )
}

/// A Claude Code hook payload. Answers 204 with an empty body: Claude Code reads a hook's
/// answer as a decision, and an empty 2xx is "carry on".
async fn hooks(State(state): State<AppState>, body: Bytes) -> Result<StatusCode, ApiError> {
    let payload =
        cclive_core::hook::parse_payload(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let at = jiff::Timestamp::now();
    let session_id: SessionId = payload.session_id.clone();
    for kind in cclive_core::hook::to_events(&payload) {
        send(&state, Event::new(session_id.clone(), at, kind)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// One event object or an array of them.
fn event_list(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("not JSON: {e}")))?;
    match value {
        Value::Array(items) => Ok(items),
        single @ Value::Object(_) => Ok(vec![single]),
        _ => Err(ApiError::BadRequest(
            "expected an event object or an array of them".into(),
        )),
    }
}

/// Events in cclive's own JSON (one object or an array), e.g. from `cclive run`.
async fn events(State(state): State<AppState>, body: Bytes) -> Result<StatusCode, ApiError> {
    let list = event_list(&body)?;
    let mut parsed = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let event: Event = serde_json::from_value(item)
            .map_err(|e| ApiError::BadRequest(format!("event {i}: {e}")))?;
        if event.session_id.as_str().is_empty() {
            return Err(ApiError::BadRequest(format!("event {i}: empty session_id")));
        }
        parsed.push(event);
    }
    for event in parsed {
        send(&state, event).await?;
    }
    Ok(StatusCode::ACCEPTED)
}

/// The seed's webhook: session events from other tools, in cclive's event JSON. Everything is
/// checked before anything is applied: one bad event refuses the whole call.
async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the events as application/json (got {content_type:?})"
        )));
    }
    let list = event_list(&body)?;
    if list.is_empty() {
        return Err(ApiError::Unprocessable("no events".into()));
    }
    if list.len() > WEBHOOK_MAX_EVENTS {
        return Err(ApiError::Unprocessable(format!(
            "at most {WEBHOOK_MAX_EVENTS} events per call"
        )));
    }
    let latest = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24))
        .unwrap_or(jiff::Timestamp::MAX);
    let mut parsed = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let kind = item.get("type").and_then(Value::as_str).map(str::to_owned);
        let event: Event = serde_json::from_value(item)
            .map_err(|e| ApiError::Unprocessable(format!("event {i}: {e}")))?;
        let id = event.session_id.as_str();
        if id.is_empty() || id.len() > MAX_SESSION_ID || id.chars().any(char::is_control) {
            return Err(ApiError::Unprocessable(format!(
                "event {i}: session_id must be 1 to {MAX_SESSION_ID} printable characters"
            )));
        }
        if matches!(event.kind, EventKind::Other) {
            return Err(ApiError::Unprocessable(format!(
                "event {i}: unknown type {:?}",
                kind.unwrap_or_default()
            )));
        }
        if let Err(e) = event.check() {
            return Err(ApiError::Unprocessable(format!("event {i}: {e}")));
        }
        if event.at > latest {
            return Err(ApiError::Unprocessable(format!(
                "event {i}: `at` is more than a day in the future"
            )));
        }
        parsed.push(event);
    }
    let accepted = parsed.len();
    for event in parsed {
        send(&state, event).await?;
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": accepted }))))
}

pub(crate) async fn send(state: &AppState, event: Event) -> Result<(), ApiError> {
    state
        .inner
        .events
        .send(event)
        .await
        .map_err(|_| ApiError::Unavailable)
}
