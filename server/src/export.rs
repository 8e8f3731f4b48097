//! `GET /api/v1/export?projectId&from&to&format=csv|ndjson`: a project's raw events for analysts,
//! streamed.
//!
//! The handler checks everything before touching the database (parameters, then the bearer
//! token, its role and project), then pipes the `COPY` stream of [`storage::export`] into the
//! response body through a bounded channel: a task reads the stream and sends chunks of about
//! [`CHUNK_BYTES`], and waits when [`CHANNEL_CHUNKS`] are waiting for the client. A slow client
//! therefore slows the database's sending, and the server holds at most a few hundred KiB per
//! export whatever its size. [`MAX_RUNNING`] exports run at once (each holds a read connection
//! for its whole length); one more gets 429.
//!
//! Failures before the first byte are answered with a status and the contract's error JSON
//! (`{"error", "code"}`); a database failure after it cuts the response short (the chunked body
//! ends without its terminator), so a client never takes a partial file for a whole one.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::analytics::Range;
use crate::auth::revocation::Revocation;
use crate::auth::{Denied, JwtKeys, Role};
use crate::storage::export::{self, Format};
use crate::storage::{Db, StorageError};

/// Bytes gathered from the `COPY` stream (a message per row) before they are sent on.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks that may wait in the channel for the client.
pub const CHANNEL_CHUNKS: usize = 4;
/// Exports running at once.
pub const MAX_RUNNING: usize = 2;

/// The export endpoint's own state.
#[derive(Clone)]
pub struct ExportState {
    db: Db,
    jwt: JwtKeys,
    /// The same account checks as the GraphQL API: a disabled account's or signed-out token
    /// exports nothing.
    revocation: Arc<Revocation>,
    running: Arc<Semaphore>,
}

pub fn router(db: Db, jwt: JwtKeys, revocation: Arc<Revocation>) -> Router {
    let state = ExportState {
        db,
        jwt,
        revocation,
        running: Arc::new(Semaphore::new(MAX_RUNNING)),
    };
    Router::new()
        .route("/api/v1/export", get(download))
        .with_state(state)
}

/// Why an export was refused; `into_response` is the whole status policy.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("{MAX_RUNNING} exports are running; retry when one has finished")]
    Busy,
    #[error("internal error")]
    Storage(#[from] StorageError),
}

impl ExportError {
    fn code(&self) -> &'static str {
        match self {
            ExportError::BadRequest(_) => "bad_request",
            ExportError::Unauthenticated(_) => "unauthenticated",
            ExportError::Forbidden(_) => "forbidden",
            ExportError::Busy => "busy",
            ExportError::Storage(_) => "internal",
        }
    }
}

impl IntoResponse for ExportError {
    fn into_response(self) -> Response {
        let status = match &self {
            ExportError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ExportError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ExportError::Forbidden(_) => StatusCode::FORBIDDEN,
            ExportError::Busy => StatusCode::TOO_MANY_REQUESTS,
            ExportError::Storage(e) => {
                tracing::error!(error = %e, "export failed before its first byte");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let body = json!({ "error": self.to_string(), "code": self.code() });
        let mut resp = (status, Json(body)).into_response();
        match status {
            StatusCode::UNAUTHORIZED => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::TOO_MANY_REQUESTS => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
            }
            _ => {}
        }
        resp
    }
}

/// The parsed query string.
#[derive(Debug)]
struct Request {
    project: Uuid,
    range: Range,
    format: Format,
}

fn required<'a>(q: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ExportError> {
    q.get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ExportError::BadRequest(format!("`{name}` is required")))
}

fn time(q: &HashMap<String, String>, name: &str) -> Result<DateTime<Utc>, ExportError> {
    let v = required(q, name)?;
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ExportError::BadRequest(format!(
                "`{name}` must be an RFC 3339 time such as 2026-11-01T00:00:00Z"
            ))
        })
}

impl TryFrom<&HashMap<String, String>> for Request {
    type Error = ExportError;

    fn try_from(q: &HashMap<String, String>) -> Result<Self, ExportError> {
        let project = Uuid::parse_str(required(q, "projectId")?)
            .map_err(|_| ExportError::BadRequest("`projectId` must be a UUID".into()))?;
        let range = Range::new(time(q, "from")?, time(q, "to")?, Tz::UTC)
            .map_err(|e| ExportError::BadRequest(e.to_string()))?;
        let format = match q.get("format").map(|f| f.trim()) {
            None | Some("") | Some("csv") => Format::Csv,
            Some("ndjson") => Format::Ndjson,
            Some(other) => {
                return Err(ExportError::BadRequest(format!(
                    "unknown format `{other}`: use csv or ndjson"
                )))
            }
        };
        Ok(Self {
            project,
            range,
            format,
        })
    }
}

/// The caller must be an analyst (or admin) of the project.
async fn authorize(
    jwt: &JwtKeys,
    revocation: &Revocation,
    headers: &HeaderMap,
    project: Uuid,
) -> Result<(), ExportError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .ok_or_else(|| ExportError::Unauthenticated("send Authorization: Bearer <token>".into()))?;
    let principal = jwt
        .verify(token.trim())
        .map_err(|e| ExportError::Unauthenticated(e.to_string()))?;
    revocation
        .check(&principal)
        .await
        .map_err(ExportError::Unauthenticated)?;
    principal
        .require(Role::Analyst, Some(project))
        .map_err(|d| match d {
            Denied::Role => ExportError::Forbidden("raw events need the analyst role or above"),
            Denied::Project => ExportError::Forbidden("this project is not one of yours"),
            // JWTs are never a shared link's; kept exhaustive for when they could be.
            Denied::ReadOnly => ExportError::Forbidden("a shared link may only read the dashboard"),
        })
}

#[tracing::instrument(skip_all, fields(project))]
async fn download(
    State(state): State<ExportState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ExportError> {
    let req = Request::try_from(&query)?;
    tracing::Span::current().record("project", tracing::field::display(req.project));
    authorize(&state.jwt, &state.revocation, &headers, req.project).await?;
    let permit = state
        .running
        .clone()
        .try_acquire_owned()
        .map_err(|_| ExportError::Busy)?;
    let copy = export::stream(
        &state.db,
        req.project,
        req.range.from(),
        req.range.to(),
        req.format,
    )
    .await?;
    let (tx, mut rx) = mpsc::channel::<Result<Bytes, StorageError>>(CHANNEL_CHUNKS);
    tokio::spawn(pump(copy, tx, permit));
    let body = Body::from_stream(async_stream::stream! {
        while let Some(chunk) = rx.recv().await {
            yield chunk;
        }
    });
    let (content_type, ext) = match req.format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    let disposition = format!(
        "attachment; filename=\"sightline-{}-{}.{ext}\"",
        req.project,
        req.range.from().format("%Y%m%dT%H%M%SZ")
    );
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Moves the `COPY` stream into the channel in chunks of about [`CHUNK_BYTES`]; ends when the
/// stream does, on its first error (passed on, so the body fails), or when the client is gone
/// (the receiver dropped), which drops the stream and ends the `COPY`. Holds its export's permit.
async fn pump(
    mut copy: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, StorageError>>,
    tx: mpsc::Sender<Result<Bytes, StorageError>>,
    _permit: OwnedSemaphorePermit,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + 4096);
    while let Some(item) = copy.next().await {
        match item {
            Ok(rows) => {
                buf.extend_from_slice(&rows);
                if buf.len() >= CHUNK_BYTES {
                    let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES + 4096));
                    if tx.send(Ok(Bytes::from(full))).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "export cut short by the database");
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.send(Ok(Bytes::from(buf))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_query_string_is_parsed_and_refusals_say_what_is_wrong() {
        let id = "6f1c1b2e-4c7d-4a51-9a3e-0b8f0c6a2d11";
        let ok = Request::try_from(&query(&[
            ("projectId", id),
            ("from", "2026-11-01T00:00:00Z"),
            ("to", "2026-11-02T00:00:00+01:00"),
            ("format", "ndjson"),
        ]))
        .expect("a valid request");
        assert_eq!(ok.format, Format::Ndjson);
        assert_eq!(ok.range.to().to_rfc3339(), "2026-11-01T23:00:00+00:00");
        let refused = |pairs: &[(&str, &str)]| match Request::try_from(&query(pairs)) {
            Err(ExportError::BadRequest(m)) => m,
            other => panic!("not refused as a bad request: {other:?}"),
        };
        let from = ("from", "2026-11-01T00:00:00Z");
        let to = ("to", "2026-11-02T00:00:00Z");
        assert_eq!(refused(&[from, to]), "`projectId` is required");
        assert_eq!(
            refused(&[("projectId", "x"), from, to]),
            "`projectId` must be a UUID"
        );
        assert!(refused(&[("projectId", id), ("from", "yesterday"), to]).contains("RFC 3339"));
        assert_eq!(
            refused(&[("projectId", id), ("from", "2026-11-03T00:00:00Z"), to]),
            "range: `from` must be before `to`"
        );
        assert_eq!(
            refused(&[("projectId", id), from, to, ("format", "xml")]),
            "unknown format `xml`: use csv or ndjson"
        );
    }
}
