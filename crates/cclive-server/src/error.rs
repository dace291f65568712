//! The one error type of every handler, and how it becomes a response.
//!
//! Messages say what the client did wrong (4xx) or that the server cannot answer now (5xx); they
//! never carry internal details (a store error is logged here and answered with a bare 500).
//! Every error body is `{"error": "<message>"}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cclive_core::store_failure::{StoreFailure, StoreFault};
use serde_json::json;

/// An error and its sources, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

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
    /// The server cannot answer now (the monitor is shutting down, the team database cannot
    /// be reached); worth retrying.
    #[error("the server cannot answer now; try again shortly")]
    Unavailable,
    /// Something failed on our side; details are in the server's log.
    #[error("internal error (see the cclive log)")]
    Internal,
}

impl ApiError {
    /// The answer to a store's failure, whichever store (the local history or the team
    /// database): by what it means ([`StoreFailure`]), never by the backend's error type.
    /// Failures on our side are logged and hidden behind [`ApiError::Internal`] or
    /// [`ApiError::Unavailable`].
    pub(crate) fn store(e: &impl StoreFault) -> Self {
        match e.failure() {
            StoreFailure::Unauthorized => ApiError::Unauthorized,
            StoreFailure::Forbidden(m) => ApiError::Forbidden(m.to_owned()),
            StoreFailure::Conflict(m) => ApiError::Conflict(m.to_owned()),
            StoreFailure::NotFound(m) => ApiError::NotFound(m.to_owned()),
            StoreFailure::Invalid(m) => ApiError::Unprocessable(m.to_owned()),
            StoreFailure::Unavailable => {
                tracing::warn!("The database cannot be reached: {}", chain(e));
                ApiError::Unavailable
            }
            StoreFailure::Internal => {
                tracing::error!("The store failed: {}", chain(e));
                ApiError::Internal
            }
        }
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

#[cfg(test)]
mod tests {
    use cclive_team_store::TeamStoreError;

    use super::*;

    /// Both stores' errors answer by what they mean, not by their type.
    #[test]
    fn a_store_failure_answers_by_what_it_means_whichever_the_store() {
        let status = |e: &dyn Fn() -> ApiError| e().status();
        assert_eq!(
            status(&|| ApiError::store(&TeamStoreError::Unauthorized)),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status(&|| ApiError::store(&TeamStoreError::Forbidden("no".into()))),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(&|| ApiError::store(&TeamStoreError::Conflict("bound".into()))),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(&|| ApiError::store(&TeamStoreError::Invalid("bad".into()))),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status(&|| ApiError::store(&TeamStoreError::Connect("down".into()))),
            StatusCode::SERVICE_UNAVAILABLE,
            "a database that cannot be reached is worth a retry"
        );
        let corrupt = cclive_store::StoreError::Corrupt {
            what: "state".into(),
            detail: "x".into(),
        };
        assert_eq!(
            status(&|| ApiError::store(&corrupt)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
