//! The ingest edge: `POST /collect` (browser beacons, public key) and `POST /api/v1/track`
//! (backend services, secret key). Each handler decodes and checks, then hands the batch to
//! [`Intake::accept`] (shared with the GraphQL `trackEvents` mutation), which answers 202 only
//! once Redis holds the job.
//!
//! Order of checks (cheapest first, so abuse costs us little): IP rate limit, body size and
//! encoding, JSON shape, project key, origin, batch size, project rate limit, then each event.

mod cookieless;
mod error;
mod intake;
mod keys;
mod limits;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

pub use cookieless::DailySalt;
pub use error::IngestError;
pub use intake::{validate_events, Accepted, Batch, Intake, Rejection};
pub use keys::{KeyKind, ProjectInfo, TTL as KEY_CACHE_TTL};

use crate::event::Dialect;
use crate::telemetry::names;

/// The ingest routes, with their own state: the [`Intake`] they hand batches to.
pub fn router(intake: Arc<Intake>) -> Router {
    // Room for the JSON framing around the largest allowed batch; the exact bound on the
    // decompressed body is enforced in `read_body`.
    let limit = DefaultBodyLimit::max(intake.settings().max_body_bytes + 1);
    Router::new()
        .route("/collect", post(collect).options(preflight))
        .route("/api/v1/track", post(track))
        .layer(limit)
        .with_state(intake)
}

#[derive(Deserialize)]
struct KeyQuery {
    key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BrowserBatch {
    key: Option<String>,
    events: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ServerBatch {
    Wrapped { events: Vec<Value> },
    List(Vec<Value>),
}

/// Answers CORS preflights. The origin itself is checked on the POST, once the key is known.
async fn preflight(headers: HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    if let Some(origin) = headers.get(header::ORIGIN) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, content-encoding"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

fn with_cors(mut resp: Response, origin: Option<&HeaderValue>) -> Response {
    if let Some(o) = origin {
        resp.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone());
        resp.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

#[tracing::instrument(name = "collect", skip_all)]
async fn collect(
    State(intake): State<Arc<Intake>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let origin = headers.get(header::ORIGIN).cloned();
    let result = collect_inner(&intake, peer, query, &headers, body).await;
    match result {
        Ok(a) => with_cors(
            (StatusCode::ACCEPTED, Json(a)).into_response(),
            origin.as_ref(),
        ),
        // A refused origin gets no CORS grant: the page cannot even read why.
        Err(e @ IngestError::OriginRefused(_)) => e.into_response(),
        Err(e) => with_cors(e.into_response(), origin.as_ref()),
    }
}

async fn collect_inner(
    intake: &Intake,
    peer: SocketAddr,
    query: KeyQuery,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Accepted, IngestError> {
    let ip = client_ip(intake, peer, headers);
    if !intake.allow_ip(ip) {
        return Err(IngestError::RateLimited {
            retry_after_secs: 1,
        });
    }
    let body = read_body(intake, headers, body).await?;
    let (key, events) = parse_browser_batch(&body)?;
    let key = key.or(query.key).ok_or_else(|| {
        IngestError::Malformed("missing project key (`key` in the body or ?key=)".into())
    })?;
    let project = intake.project(KeyKind::Public, &key).await?;
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let origin = origin.to_ascii_lowercase();
        if !project
            .allowed_origins
            .iter()
            .any(|a| a == &origin || a == "*")
        {
            metrics::counter!(names::INGEST_ORIGIN_REFUSED).increment(1);
            tracing::info!(%origin, project = %project.id, "beacon from an origin that is not allowed");
            return Err(IngestError::OriginRefused(origin));
        }
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| crate::event::bounded(s, 512));
    let batch = Batch {
        events,
        dialect: Dialect::Browser,
        ip: Some(ip),
        user_agent: ua,
        endpoint: "collect",
    };
    intake.accept(&project, batch).await
}

#[tracing::instrument(name = "track", skip_all)]
async fn track(
    State(intake): State<Arc<Intake>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let ip = client_ip(&intake, peer, &headers);
        if !intake.allow_ip(ip) {
            return Err(IngestError::RateLimited {
                retry_after_secs: 1,
            });
        }
        let secret = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(IngestError::UnknownKey)?;
        let body = read_body(&intake, &headers, body).await?;
        let events = parse_server_batch(&body)?;
        let project = intake.project(KeyKind::Secret, secret).await?;
        let batch = Batch {
            events,
            dialect: Dialect::Server,
            ip: None,
            user_agent: None,
            endpoint: "track",
        };
        intake.accept(&project, batch).await
    }
    .await;
    match result {
        Ok(a) => (StatusCode::ACCEPTED, Json(a)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Parses a browser batch body: `{"key": "...", "events": [...]}`. Pure: the fuzz target
/// calls it directly.
pub fn parse_browser_batch(body: &[u8]) -> Result<(Option<String>, Vec<Value>), IngestError> {
    let batch: BrowserBatch = serde_json::from_slice(body)
        .map_err(|e| IngestError::Malformed(format!("invalid batch: {e}")))?;
    Ok((batch.key, batch.events))
}

/// Parses a server-side batch body: `{"events": [...]}` or a bare array.
pub fn parse_server_batch(body: &[u8]) -> Result<Vec<Value>, IngestError> {
    let batch: ServerBatch = serde_json::from_slice(body).map_err(|e| {
        IngestError::Malformed(format!(
            "invalid batch: expected {{\"events\": [...]}} or a JSON array ({e})"
        ))
    })?;
    Ok(match batch {
        ServerBatch::Wrapped { events } | ServerBatch::List(events) => events,
    })
}

/// The client's IP as the trusted-proxy rule says ([`crate::client_ip`]); GraphQL's login
/// throttle and audit log use it too.
pub fn client_ip(intake: &Intake, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    intake
        .settings()
        .trusted_proxies
        .client_ip(peer.ip(), headers)
}

/// The request body, decompressed when gzip, bounded either way.
async fn read_body(
    intake: &Intake,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, IngestError> {
    let max = intake.settings().max_body_bytes;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            IngestError::TooLarge(max)
        } else {
            IngestError::Malformed(format!("cannot read body: {e}"))
        }
    })?;
    if body.len() > max {
        return Err(IngestError::TooLarge(max));
    }
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(mime.as_str(), "application/json" | "text/plain" | "") {
            return Err(IngestError::UnsupportedMediaType(mime));
        }
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("identity") => Ok(body),
        Some("gzip") => {
            // Small bodies inline; larger ones off the async runtime.
            if body.len() < 16 * 1024 {
                gunzip(&body, max)
            } else {
                tokio::task::spawn_blocking(move || gunzip(&body, max))
                    .await
                    .map_err(|_| IngestError::Unavailable)?
            }
        }
        Some(other) => Err(IngestError::Malformed(format!(
            "unsupported content-encoding {other:?}: send gzip or none"
        ))),
    }
}

fn gunzip(body: &[u8], max: usize) -> Result<Bytes, IngestError> {
    use std::io::Read;
    let mut out = Vec::with_capacity(body.len() * 4);
    // Read one byte past the bound to tell "exactly max" from "more": a gzip bomb stops here.
    let mut reader = flate2::read::GzDecoder::new(body).take(max as u64 + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|e| IngestError::Malformed(format!("invalid gzip body: {e}")))?;
    if out.len() > max {
        return Err(IngestError::TooLarge(max));
    }
    Ok(Bytes::from(out))
}
