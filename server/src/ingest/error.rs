//! The ingest error type; its `IntoResponse` is the whole status-code policy of the endpoints.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::Rejection;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Malformed(String),
    #[error("no valid events in the batch")]
    NothingValid(Vec<Rejection>),
    #[error("unknown project key")]
    UnknownKey,
    #[error("origin {0} is not allowed for this project")]
    OriginRefused(String),
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("batch has {got} events; at most {max} are allowed")]
    TooManyEvents { got: usize, max: usize },
    #[error("unsupported content type {0:?}: send application/json or text/plain")]
    UnsupportedMediaType(String),
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("queue full, retry later")]
    QueueFull,
    #[error("temporarily unavailable")]
    Unavailable,
}

impl IngestError {
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Malformed(_) => "malformed",
            IngestError::NothingValid(_) => "invalid_events",
            IngestError::UnknownKey => "unknown_key",
            IngestError::OriginRefused(_) => "origin",
            IngestError::TooLarge(_) => "too_large",
            IngestError::TooManyEvents { .. } => "too_many_events",
            IngestError::UnsupportedMediaType(_) => "media_type",
            IngestError::RateLimited { .. } => "rate_limited",
            IngestError::QueueFull => "queue_full",
            IngestError::Unavailable => "unavailable",
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let (status, retry_after) = match &self {
            IngestError::Malformed(_) | IngestError::NothingValid(_) => {
                (StatusCode::BAD_REQUEST, None)
            }
            IngestError::UnknownKey => (StatusCode::UNAUTHORIZED, None),
            IngestError::OriginRefused(_) => (StatusCode::FORBIDDEN, None),
            IngestError::TooLarge(_) | IngestError::TooManyEvents { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, None)
            }
            IngestError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, None),
            IngestError::RateLimited { retry_after_secs } => {
                (StatusCode::TOO_MANY_REQUESTS, Some(*retry_after_secs))
            }
            IngestError::QueueFull => (StatusCode::SERVICE_UNAVAILABLE, Some(2)),
            IngestError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, Some(1)),
        };
        metrics::counter!(crate::telemetry::names::INGEST_REJECTED, "reason" => self.reason())
            .increment(1);
        let mut body = json!({ "error": self.to_string(), "code": self.reason() });
        if let IngestError::NothingValid(rejected) = &self {
            body["rejected"] = json!(rejected);
        }
        let mut resp = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
