//! The routes and their handlers.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use cclive_core::{Event, SessionId, Snapshot};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// Largest body accepted (hook payloads carry tool inputs and outputs).
const BODY_LIMIT: usize = 16 * 1024 * 1024;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/current-session", get(current_session))
        .route("/api/hooks", post(hooks))
        .route("/api/events", post(events))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn healthz() -> Json<Value> {
    Json(
        json!({ "ok": true, "service": "cclive", "version": env!("CARGO_PKG_VERSION"), "pid": std::process::id() }),
    )
}

async fn current_session(State(state): State<AppState>) -> Json<Snapshot> {
    Json(state.inner.snapshot.borrow().clone())
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

/// Events in cclive's own JSON (one object or an array), e.g. from `cclive run`.
async fn events(State(state): State<AppState>, body: Bytes) -> Result<StatusCode, ApiError> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("not JSON: {e}")))?;
    let list = match value {
        Value::Array(items) => items,
        single @ Value::Object(_) => vec![single],
        _ => {
            return Err(ApiError::BadRequest(
                "expected an event object or an array of them".into(),
            ));
        }
    };
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

async fn send(state: &AppState, event: Event) -> Result<(), ApiError> {
    state
        .inner
        .events
        .send(event)
        .await
        .map_err(|_| ApiError::Unavailable)
}
