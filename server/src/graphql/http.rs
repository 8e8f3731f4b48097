//! GraphQL over HTTP, as the GraphQL-over-HTTP spec says (and its audit suite, `serverAudits`
//! of the `graphql-http` npm package, checks: `tests-interop/graphql-http-audit.mjs`).
//!
//! - **Media type** (the `Accept` header): `application/graphql-response+json` when the client
//!   names it (and prefers it at least as much as `application/json`); `application/json` when
//!   the client names only that, sends `*/*` or `application/*`, or sends no `Accept` at all;
//!   406 when it accepts neither.
//! - **Requests**: `POST` with `Content-Type: application/json` (UTF-8), a JSON object with
//!   `query` (a string) and optional `operationName` (string), `variables` and `extensions`
//!   (objects), each of which may be null. `GET` with the same parameters in the URL query
//!   (`variables` and `extensions` as JSON text) runs queries only: a mutation over `GET` gets
//!   405 with `Allow: POST`. A `GET` without `query` from a browser (`Accept` naming
//!   `text/html`) gets the IDE instead (see `super::ide`).
//! - **Status codes**: a request that is not a well-formed GraphQL-over-HTTP request (no or an
//!   unsupported content type, a body that is not JSON, a missing or mistyped parameter) gets a
//!   4xx whatever the media type: 400, or 415 for a content type other than JSON. A GraphQL
//!   *request error* (the document does not parse or validate, the variables do not coerce, the
//!   operation is unknown or a subscription) is answered without a `data` entry, with 400 under
//!   `application/graphql-response+json` and 200 under `application/json` (what the spec asks
//!   for legacy clients). Once execution starts the status is 200, field errors or not.
//!
//! Authentication is the same for every request: `Authorization: Bearer <jwt>`, the dashboard's
//! session cookie or a shared link's `X-Sightline-Share` token (`super::session`) becomes the
//! [`Caller`] in the request's data; resolvers decide (errors carry `extensions.code`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Request, ServerError};
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::context::{Caller, ClientIp};
use super::session::{self, Credential};
use super::Transport;

/// The peer address axum's `into_make_service_with_connect_info` records (absent in a router
/// served without it).
pub(super) type Peer = Option<axum::Extension<ConnectInfo<std::net::SocketAddr>>>;

/// The two media types a GraphQL response goes out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: status codes tell request errors (400) from
    /// execution results (200).
    GraphQLResponse,
    /// `application/json`: every GraphQL result is 200 (legacy clients read only the body).
    Json,
}

impl MediaType {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// One media range of an `Accept` header: `type/subtype`, lower-cased, and its weight.
struct Range<'a> {
    essence: String,
    charset: Option<&'a str>,
    q: f32,
}

fn ranges(accept: &str) -> impl Iterator<Item = Range<'_>> {
    accept.split(',').filter_map(|part| {
        let mut pieces = part.split(';');
        let essence = pieces.next()?.trim().to_ascii_lowercase();
        if essence.is_empty() {
            return None;
        }
        let (mut q, mut charset) = (1.0_f32, None);
        for p in pieces {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim().trim_matches('"'));
            if k.eq_ignore_ascii_case("q") {
                // An unreadable weight counts as "not acceptable" rather than as a preference.
                q = v
                    .parse::<f32>()
                    .ok()
                    .filter(|q| q.is_finite())
                    .unwrap_or(0.0);
            } else if k.eq_ignore_ascii_case("charset") {
                charset = Some(v);
            }
        }
        Some(Range {
            essence,
            charset,
            q,
        })
    })
}

/// The weight `accept` gives `media` (`type/subtype`) and how specifically it was named (3 for
/// the exact type, 2 for `type/*`, 1 for `*/*`, 0 when no range matches): the most specific
/// matching range decides, as RFC 9110 says. A range asking for a charset other than UTF-8 does
/// not match.
fn weight(accept: &str, media: &str) -> (f32, u8) {
    let family = media.split('/').next().unwrap_or_default();
    let mut best = (0.0, 0);
    for r in ranges(accept) {
        if r.charset
            .is_some_and(|c| !c.eq_ignore_ascii_case("utf-8") && !c.eq_ignore_ascii_case("utf8"))
        {
            continue;
        }
        let specificity = if r.essence == media {
            3
        } else if r.essence.strip_suffix("/*") == Some(family) {
            2
        } else if r.essence == "*/*" {
            1
        } else {
            0
        };
        if specificity > best.1 {
            best = (r.q.clamp(0.0, 1.0), specificity);
        }
    }
    best
}

/// The media type of the response to a client that sent `accept` (None: 406).
///
/// `application/graphql-response+json` when the client names it with a weight at least that of
/// `application/json`; `application/json` when the client names only that, reaches it through a
/// wildcard (`*/*`, `application/*`), or sends no `Accept` (the spec's rule until its
/// "watershed", so that legacy clients keep getting what they read).
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let accept = match accept.map(str::trim) {
        None | Some("") => return Some(MediaType::Json),
        Some(a) => a,
    };
    let (gr_q, gr_named) = weight(accept, "application/graphql-response+json");
    let (json_q, _) = weight(accept, "application/json");
    if gr_q > 0.0 && (gr_q > json_q || (gr_q == json_q && gr_named == 3)) {
        Some(MediaType::GraphQLResponse)
    } else if json_q > 0.0 {
        Some(MediaType::Json)
    } else {
        None
    }
}

/// Whether a `GET` without a `query` parameter is a browser asking for the IDE: its `Accept`
/// names `text/html` (a browser's navigation does; GraphQL clients do not).
pub fn wants_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        let (q, named) = weight(a, "text/html");
        named == 3 && q > 0.0
    })
}

/// Set by [`MarkExecution`] when an operation starts executing: a response without it answers a
/// request error (parsing, validation, variable coercion, unknown operation), which carries no
/// `data` entry and, under `application/graphql-response+json`, a 400.
#[derive(Clone, Default)]
struct Executed(Arc<AtomicBool>);

/// The schema extension that sets [`Executed`] (in `super::builder`). async-graphql answers
/// request errors and field errors alike with `data: null`; this tells them apart.
pub struct MarkExecution;

impl ExtensionFactory for MarkExecution {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(MarkExecution)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for MarkExecution {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        if let Some(executed) = ctx.data_opt::<Executed>() {
            executed.0.store(true, Ordering::Relaxed);
        }
        next.run(ctx, operation_name).await
    }
}

/// The URL parameters of a `GET` (`variables` and `extensions` are JSON text).
#[derive(Deserialize)]
pub struct GetParams {
    pub query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// `GET /graphql?query=...`: queries only. `params` is the parsed URL query (its failure, a
/// 400).
pub(super) async fn get(
    t: &Transport,
    peer: Peer,
    headers: &HeaderMap,
    params: Result<Query<GetParams>, String>,
) -> Response {
    let Some(media) = negotiate(accept(headers)) else {
        return not_acceptable();
    };
    let Query(params) = match params {
        Ok(p) => p,
        Err(why) => return http_error(media, StatusCode::BAD_REQUEST, why),
    };
    let mut body = serde_json::Map::new();
    if let Some(q) = params.query {
        body.insert("query".into(), Value::String(q));
    }
    if let Some(name) = params.operation_name {
        body.insert("operationName".into(), Value::String(name));
    }
    for (key, text) in [
        ("variables", params.variables),
        ("extensions", params.extensions),
    ] {
        let Some(text) = text else { continue };
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => {
                body.insert(key.into(), v);
            }
            Err(e) => {
                return http_error(
                    media,
                    StatusCode::BAD_REQUEST,
                    format!("{key} is not JSON: {e}"),
                )
            }
        }
    }
    match request_from_json(Value::Object(body)) {
        Ok(req) => run(t, peer, headers, media, Method::GET, req).await,
        Err(why) => http_error(media, StatusCode::BAD_REQUEST, why),
    }
}

/// `POST /graphql` with a JSON body (bounded by `SIGHTLINE_GRAPHQL_MAX_BODY_BYTES`, see
/// `crate::edge::body_limit`: a body over it is a 413).
pub(super) async fn post(
    State(t): State<Arc<Transport>>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(media) = negotiate(accept(&headers)) else {
        return not_acceptable();
    };
    if let Err((status, why)) = check_content_type(&headers) {
        return http_error(media, status, why);
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return http_error(media, e.status(), e.body_text()),
    };
    if body.is_empty() {
        return http_error(
            media,
            StatusCode::BAD_REQUEST,
            "the request body is empty: send a JSON object with `query`".into(),
        );
    }
    let value = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => v,
        Err(e) => {
            return http_error(
                media,
                StatusCode::BAD_REQUEST,
                format!("the request body is not JSON: {e}"),
            )
        }
    };
    match request_from_json(value) {
        Ok(req) => run(&t, peer, &headers, media, Method::POST, req).await,
        Err(why) => http_error(media, StatusCode::BAD_REQUEST, why),
    }
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// A `POST` must say `Content-Type: application/json` (charset UTF-8 or none).
fn check_content_type(headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err((
            StatusCode::BAD_REQUEST,
            "Content-Type is missing: send application/json".into(),
        ));
    };
    let text = value.to_str().unwrap_or_default();
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let utf8 = parts.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            let v = v.trim().trim_matches('"');
            v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    });
    if essence.eq_ignore_ascii_case("application/json") && utf8 {
        Ok(())
    } else {
        Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type {text:?}: send application/json (UTF-8)"),
        ))
    }
}

/// The GraphQL request in a JSON object: `query` must be there (a string), `operationName` a
/// string, `variables` and `extensions` objects; each optional one may be null. Batches (JSON
/// arrays) are not supported. The message of an `Err` is the client's.
fn request_from_json(value: Value) -> Result<Request, String> {
    let Value::Object(fields) = &value else {
        return Err(
            "the request must be a JSON object (batched requests are not supported)".into(),
        );
    };
    if fields.get("query").is_none_or(Value::is_null) {
        return Err("the request has no `query`".into());
    }
    serde_json::from_value::<Request>(value).map_err(|e| format!("invalid request: {e}"))
}

/// Runs a well-formed request (with the caller from `Authorization`) and answers as `media`
/// says.
async fn run(
    t: &Transport,
    peer: Peer,
    headers: &HeaderMap,
    media: MediaType,
    method: Method,
    mut req: Request,
) -> Response {
    // Parsed here (and kept in the request, so not parsed twice) to see the operation's kind.
    let name = req.operation_name.clone();
    let kind = match req.parsed_query() {
        Ok(doc) => operation_kind(&doc.operations, name.as_deref()),
        Err(e) => return request_error(media, StatusCode::BAD_REQUEST, vec![e], BTreeMap::new()),
    };
    match kind {
        Some(OperationType::Mutation) if method == Method::GET => {
            let mut resp = request_error(
                media,
                StatusCode::METHOD_NOT_ALLOWED,
                vec![ServerError::new(
                    "mutations are not allowed over GET: use POST",
                    None,
                )],
                BTreeMap::new(),
            );
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return resp;
        }
        Some(OperationType::Subscription) => {
            return request_error(
                media,
                StatusCode::BAD_REQUEST,
                vec![ServerError::new(
                    "subscriptions are served over WebSocket at /graphql/ws",
                    None,
                )],
                BTreeMap::new(),
            )
        }
        _ => {}
    }
    let caller = match session::credential(headers) {
        Credential::Share(token) => Caller::from_share_link(&t.share_links, token).await,
        Credential::Authorization(h) => Caller::authenticate(&t.jwt, &t.revocation, Some(h)).await,
        Credential::Cookie(token) => Caller::from_session(&t.jwt, &t.revocation, token).await,
        Credential::CookieWithoutCsrf => Caller::Invalid(format!(
            "the session cookie counts only with the {} header (the dashboard sends it)",
            session::CSRF_HEADER
        )),
        Credential::None => Caller::Anonymous,
    };
    let ip = ClientIp(peer.map(|axum::Extension(ConnectInfo(addr))| t.client_ip(addr, headers)));
    let executed = Executed::default();
    let execution = t
        .schema
        .execute(req.data(caller).data(ip).data(executed.clone()));
    // The per-request deadline: dropping the execution cancels its queries.
    let Ok(resp) = tokio::time::timeout(t.settings.request_timeout, execution).await else {
        return deadline_passed(media, t.settings.request_timeout);
    };
    if !executed.0.load(Ordering::Relaxed) {
        return request_error(media, StatusCode::BAD_REQUEST, resp.errors, resp.extensions);
    }
    let mut out = json_response(media, StatusCode::OK, &resp);
    let h = out.headers_mut();
    if resp.is_ok() {
        if let Some(v) = resp
            .cache_control
            .value()
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            h.insert(header::CACHE_CONTROL, v);
        }
    }
    h.extend(resp.http_headers);
    out
}

/// The kind of the operation the request selects, when it selects one (async-graphql reports
/// the rest: an unknown name, a missing name among several operations).
fn operation_kind(ops: &DocumentOperations, name: Option<&str>) -> Option<OperationType> {
    match (ops, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(map), Some(name)) => map.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(map), None) if map.len() == 1 => {
            map.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// A GraphQL request error: `errors` (and `extensions`), no `data`. `status` is what
/// `application/graphql-response+json` gets (400, or 405 for a mutation over GET);
/// `application/json` gets 200, except for 405 (the method is wrong whatever the media type).
fn request_error(
    media: MediaType,
    status: StatusCode,
    errors: Vec<ServerError>,
    extensions: BTreeMap<String, async_graphql::Value>,
) -> Response {
    let status = match media {
        MediaType::Json if status == StatusCode::BAD_REQUEST => StatusCode::OK,
        _ => status,
    };
    let mut body = json!({ "errors": errors });
    if !extensions.is_empty() {
        body["extensions"] = serde_json::to_value(&extensions).unwrap_or_default();
    }
    json_response(media, status, &body)
}

/// A request that is not a well-formed GraphQL-over-HTTP request: a 4xx in either media type.
fn http_error(media: MediaType, status: StatusCode, message: String) -> Response {
    json_response(
        media,
        status,
        &json!({ "errors": [{ "message": message }] }),
    )
}

/// The request ran past `SIGHTLINE_REQUEST_TIMEOUT_MS`: a result with no data and code TIMEOUT
/// (execution had started, so 200, as for any field error).
fn deadline_passed(media: MediaType, deadline: std::time::Duration) -> Response {
    metrics::counter!(crate::telemetry::names::GRAPHQL_QUERIES_REFUSED).increment(1);
    let error: async_graphql::Error = super::error::ApiError::Timeout(format!(
        "the request took longer than {} ms",
        deadline.as_millis()
    ))
    .into();
    let error = error.into_server_error(async_graphql::Pos::default());
    json_response(
        media,
        StatusCode::OK,
        &json!({ "data": null, "errors": [error] }),
    )
}

/// 406: the client accepts neither JSON media type. Told in `application/json`, which every
/// GraphQL client reads.
fn not_acceptable() -> Response {
    let mut resp = http_error(
        MediaType::Json,
        StatusCode::NOT_ACCEPTABLE,
        "this endpoint answers application/graphql-response+json or application/json".into(),
    );
    resp.headers_mut().insert(
        header::ACCEPT,
        HeaderValue::from_static("application/graphql-response+json, application/json"),
    );
    resp
}

fn json_response(media: MediaType, status: StatusCode, body: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(body).unwrap_or_else(|e| {
        serde_json::to_vec(&json!({ "errors": [{ "message": format!("response: {e}") }] }))
            .unwrap_or_default()
    });
    let mut resp = (status, Body::from(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, media.content_type());
    h.insert(header::VARY, HeaderValue::from_static("accept"));
    resp
}

/// Parses the URL query of a `GET`.
pub(super) fn get_params(uri: &Uri) -> Result<Query<GetParams>, String> {
    Query::<GetParams>::try_from_uri(uri).map_err(|e| e.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_graphql_response_json_only_when_named() {
        use MediaType::*;
        let cases: &[(Option<&str>, Option<MediaType>)] = &[
            (None, Some(Json)),
            (Some(""), Some(Json)),
            (Some("application/json"), Some(Json)),
            (Some("*/*"), Some(Json)),
            (Some("application/*"), Some(Json)),
            (
                Some("application/graphql-response+json"),
                Some(GraphQLResponse),
            ),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                Some(GraphQLResponse),
            ),
            (
                Some("application/json, application/graphql-response+json"),
                Some(GraphQLResponse),
            ),
            (
                Some("application/json, application/graphql-response+json;q=0.5"),
                Some(Json),
            ),
            (Some("application/json, multipart/mixed"), Some(Json)),
            (
                Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                Some(Json),
            ),
            (Some("application/json;q=0, */*"), Some(GraphQLResponse)),
            (Some("text/html"), None),
            (Some("application/json;q=0"), None),
            (Some("application/json; charset=latin1"), None),
            (Some("Application/JSON; charset=UTF-8"), Some(Json)),
        ];
        for (accept, want) in cases {
            assert_eq!(negotiate(*accept), *want, "{accept:?}");
        }
    }

    #[test]
    fn browsers_want_html() {
        assert!(wants_html(Some(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!wants_html(Some("*/*")));
        assert!(!wants_html(Some("application/json")));
        assert!(!wants_html(Some("text/html;q=0")));
        assert!(!wants_html(None));
    }

    #[test]
    fn request_parameters_are_checked() {
        assert!(request_from_json(json!({"query": "{ a }"})).is_ok());
        assert!(request_from_json(
            json!({"query": "{ a }", "variables": null, "operationName": null, "extensions": null})
        )
        .is_ok());
        for bad in [
            json!({"notquery": "{ a }"}),
            json!({"query": null}),
            json!([{"query": "{ a }"}]),
            json!("{ a }"),
            json!({"query": 0}),
            json!({"query": false}),
            json!({"query": ["x"]}),
            json!({"query": {"obj": "ect"}}),
            json!({"query": "{ a }", "operationName": 0}),
            json!({"query": "{ a }", "variables": "string"}),
            json!({"query": "{ a }", "variables": ["array"]}),
            json!({"query": "{ a }", "extensions": false}),
        ] {
            assert!(request_from_json(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_type_must_be_json() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(v).expect("header value"),
            );
            check_content_type(&h).map_err(|(s, _)| s)
        };
        assert_eq!(with("application/json"), Ok(()));
        assert_eq!(with("application/json; charset=utf-8"), Ok(()));
        assert_eq!(with("Application/JSON;charset=\"UTF-8\""), Ok(()));
        assert_eq!(
            with("application/json; charset=latin1"),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert_eq!(with("text/plain"), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        assert_eq!(
            check_content_type(&HeaderMap::new()).map_err(|(s, _)| s),
            Err(StatusCode::BAD_REQUEST)
        );
    }
}
