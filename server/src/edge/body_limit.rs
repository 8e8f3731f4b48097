//! Request bodies are bounded on every route, before any of them is read: a request whose
//! `Content-Length` is over the route's limit gets 413 at once (nothing of its body is read),
//! and a body without a length (chunked) is read through axum's limit ([`DefaultBodyLimit`]),
//! which stops at the limit. One multi-gigabyte POST from anyone on the internet therefore
//! costs at most the limit in memory.
//!
//! Limits: ingest has its own (`SIGHTLINE_INGEST_MAX_BODY_BYTES`, checked again after gzip),
//! `/graphql` has `SIGHTLINE_GRAPHQL_MAX_BODY_BYTES`, and every other route (static files,
//! operations endpoints, the WebSocket upgrade) [`OTHER_ROUTES`], as none of them reads a body.

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

/// The limit of routes that take no body.
pub const OTHER_ROUTES: usize = 64 * 1024;

/// How a route tells a client that its body was too large.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// The REST endpoints' error object (the API contract, `ingest::IngestError`):
    /// `{"error": "...", "code": "too_large"}`.
    Contract,
    /// A GraphQL-over-HTTP error: `{"errors": [{"message": "...", "extensions": {"code":
    /// "PAYLOAD_TOO_LARGE"}}]}`.
    GraphQL,
}

/// `router` with its bodies bounded by `max` bytes, answered in `shape` when over.
pub fn limit(router: Router, max: usize, shape: Shape) -> Router {
    router
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            check_length(req, next, max, shape)
        }))
        .layer(DefaultBodyLimit::max(max))
}

async fn check_length(req: Request, next: Next, max: usize, shape: Shape) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        metrics::counter!(crate::telemetry::names::HTTP_BODY_TOO_LARGE).increment(1);
        return too_large(max, shape);
    }
    next.run(req).await
}

/// The 413 response of `shape`. The connection is closed after it: the unread body is not
/// drained.
pub fn too_large(max: usize, shape: Shape) -> Response {
    let message = format!("request body is larger than {max} bytes");
    let body = match shape {
        Shape::Contract => json!({ "error": message, "code": "too_large" }),
        Shape::GraphQL => json!({
            "errors": [{ "message": message, "extensions": { "code": "PAYLOAD_TOO_LARGE" } }]
        }),
    };
    let mut resp = (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}
