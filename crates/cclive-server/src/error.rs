//! The one error type of every handler, and how it becomes a response.
//!
//! Messages say what the client did wrong (4xx) or that the monitor is going away (503); they
//! never carry internal details or request content.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request body is not what the endpoint accepts.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The monitor is shutting down and takes no more events.
    #[error("the monitor is shutting down")]
    Unavailable,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}
