//! The one error type of every handler, and how it becomes a response.
//!
//! Messages say what the client did wrong (4xx) or that the server cannot answer now (5xx); they
//! never carry internal details (a store error is logged here and answered with a bare 500).
//! Every error body is `{"error": "<message>"}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed (not JSON, a bad query parameter).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request is well-formed but its content is refused (an unknown event type).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// The body is not in a media type the endpoint accepts.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// No such thing.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request lacks the server's token, or carries a wrong one.
    #[error("this cclive server needs its token: send `Authorization: Bearer <token>`")]
    Unauthorized,
    /// The request is refused whoever sends it (a foreign Host or Origin).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The request conflicts with what is stored (a machine id bound to another user).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The body is larger than the server accepts.
    #[error("the request body is too large; send smaller batches")]
    PayloadTooLarge,
    /// The monitor is shutting down and takes no more events.
    #[error("the monitor is shutting down")]
    Unavailable,
    /// Something failed on our side; details are in the server's log.
    #[error("internal error (see the cclive log)")]
    Internal,
}

impl ApiError {
    /// Logs a store failure and hides it behind [`ApiError::Internal`].
    pub(crate) fn store(e: &cclive_store::StoreError) -> Self {
        tracing::error!("Reading the history failed: {e}");
        ApiError::Internal
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status(), Json(json!({ "error": self.to_string() }))).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"cclive\""),
            );
        }
        response
    }
}
