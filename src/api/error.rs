//! API errors: one JSON shape, `{ "error": { "code": "...", "message": "..." } }`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::error;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or path segment that cannot be used; names it.
    #[error("invalid parameter `{param}`: {reason}")]
    BadParameter { param: String, reason: String },
    /// A request body that cannot be used.
    #[error("invalid request body: {0}")]
    BadBody(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("this newsd serves the archive read-only (`newsd serve`); changes go through `newsd run` or the CLI")]
    ReadOnly,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("not ready: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Store(#[from] StoreError),
}

impl ApiError {
    pub fn bad_param(param: &str, reason: impl Into<String>) -> Self {
        ApiError::BadParameter {
            param: param.to_owned(),
            reason: reason.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadParameter { .. } => (StatusCode::BAD_REQUEST, "bad_parameter"),
            ApiError::BadBody(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::ReadOnly => (StatusCode::METHOD_NOT_ALLOWED, "read_only"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::Store(StoreError::FeedNotFound(_)) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Store(StoreError::ConfigManaged(_)) => (StatusCode::CONFLICT, "config_feed"),
            ApiError::Store(StoreError::EmptySearch | StoreError::SearchSyntax { .. }) => {
                (StatusCode::BAD_REQUEST, "bad_parameter")
            }
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    fn message(&self) -> String {
        match self {
            // Search errors come from `q`: name it like any bad parameter.
            ApiError::Store(StoreError::EmptySearch) => "invalid parameter `q`: empty query".into(),
            ApiError::Store(StoreError::SearchSyntax { query, reason }) => {
                format!("invalid parameter `q`: {reason} (in full-text query {query:?})")
            }
            ApiError::Store(e @ (StoreError::FeedNotFound(_) | StoreError::ConfigManaged(_))) => {
                e.to_string()
            }
            // Details of internal failures go to the log, not to clients.
            ApiError::Store(_) => "internal error; see the newsd log".to_owned(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            error!(error = %self, "API request failed");
        }
        let body = serde_json::json!({ "error": { "code": code, "message": self.message() } });
        let mut resp = (status, axum::Json(body)).into_response();
        match self {
            ApiError::Unauthorized(_) => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::ReadOnly => {
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            }
            _ => {}
        }
        resp
    }
}
