//! OTLP/HTTP intake: `POST /v1/logs` and `POST /v1/metrics`, where Claude Code's own telemetry
//! exporter sends (`OTEL_EXPORTER_OTLP_ENDPOINT=http://<this server>`).
//!
//! Bodies are decoded and turned into events by [`cclive_core::otel`]; this file only reads the
//! HTTP side (content type, the sender's address) and answers as OTLP/HTTP says: 200 with an
//! empty `Export*ServiceResponse` in the request's encoding, 400 for a body that does not
//! decode (exporters do not retry it), 415 for an encoding OTLP/HTTP does not define. Access
//! is checked before: when the server has a token the exporter sends it, from this machine too
//! (`OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <token>"`, which `cclive hooks install
//! --telemetry` writes).
//!
//! It never logs a body: Claude Code's telemetry can carry prompts when the user opts in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cclive_core::otel::{self, Announced, Encoding, Sender, Translation};

use crate::{ApiError, AppState};

/// What the OTLP intake received: shared between the handlers (which add) and `/metrics`;
/// also which sessions it already announced to the monitor.
#[derive(Clone, Debug, Default)]
pub struct OtlpCounters {
    inner: Arc<OtlpCounts>,
    announced: Arc<Mutex<Announced>>,
}

#[derive(Debug, Default)]
struct OtlpCounts {
    exports: AtomicU64,
    events: AtomicU64,
    skipped: AtomicU64,
    rejected: AtomicU64,
}

/// A reading of [`OtlpCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OtlpCount {
    /// Exports accepted (logs and metrics).
    pub exports: u64,
    /// Events they became.
    pub events: u64,
    /// Records or points skipped (not Claude Code's, or naming no session).
    pub skipped: u64,
    /// Exports refused (undecodable, or an encoding OTLP/HTTP does not define).
    pub rejected: u64,
}

impl OtlpCounters {
    /// The counts so far.
    pub fn get(&self) -> OtlpCount {
        let c = &self.inner;
        OtlpCount {
            exports: c.exports.load(Ordering::Relaxed),
            events: c.events.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
        }
    }

    fn accepted(&self, t: &Translation) {
        let c = &self.inner;
        c.exports.fetch_add(1, Ordering::Relaxed);
        c.events.fetch_add(t.events.len() as u64, Ordering::Relaxed);
        c.skipped.fetch_add(t.skipped, Ordering::Relaxed);
    }

    fn rejected(&self) {
        self.inner.rejected.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Logs,
    Metrics,
}

/// `POST /v1/logs`.
pub(crate) async fn logs(state: State<AppState>, req: Request) -> Result<Response, ApiError> {
    intake(state, req, Signal::Logs).await
}

/// `POST /v1/metrics`.
pub(crate) async fn metrics(state: State<AppState>, req: Request) -> Result<Response, ApiError> {
    intake(state, req, Signal::Metrics).await
}

async fn intake(
    State(state): State<AppState>,
    req: Request,
    signal: Signal,
) -> Result<Response, ApiError> {
    let counters = &state.inner.otlp;
    let peer = crate::listener::peer_of(&req);
    let (parts, body) = req.into_parts();
    let encoding = match encoding(&parts.headers) {
        Ok(encoding) => encoding,
        Err(e) => {
            counters.rejected();
            return Err(e);
        }
    };
    let body: Bytes = axum::body::to_bytes(body, crate::routes::BODY_LIMIT)
        .await
        .map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
    // A session that reaches us from another machine is told apart by its host.
    let remote = peer
        .map(|p| p.ip())
        .filter(|ip| !ip.is_loopback())
        .map(|ip| ip.to_string());
    let sender = Sender {
        remote_host: remote.as_deref(),
        received_at: jiff::Timestamp::now(),
    };
    let translated = {
        let mut announced = counters
            .announced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match signal {
            Signal::Logs => otel::decode_logs(&body, encoding)
                .map(|request| otel::log_events(&request, sender, &mut announced)),
            Signal::Metrics => otel::decode_metrics(&body, encoding)
                .map(|request| otel::metric_events(&request, sender, &mut announced)),
        }
    };
    let translation = match translated {
        Ok(t) => t,
        Err(e) => {
            counters.rejected();
            tracing::debug!(bytes = body.len(), "Refused an OTLP export: {e}");
            return Err(ApiError::BadRequest(e.to_string()));
        }
    };
    counters.accepted(&translation);
    for event in translation.events {
        crate::routes::send(&state, event).await?;
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, encoding.content_type())],
        encoding.success_body(),
    )
        .into_response())
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    if let Some(coding) = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .filter(|c| !c.trim().eq_ignore_ascii_case("identity"))
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "compressed exports ({coding}) are not read: set OTEL_EXPORTER_OTLP_COMPRESSION=none"
        )));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Encoding::from_content_type(content_type).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "send OTLP as application/json or application/x-protobuf (got {content_type:?})"
        ))
    })
}
