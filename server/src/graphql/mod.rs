//! The GraphQL API (async-graphql): schema assembly and the HTTP/WebSocket transport.
//!
//! HTTP follows the GraphQL-over-HTTP spec ([`http`]); subscriptions go over WebSocket.
//! Resolvers authorize first ([`context::authorize`]), then call `storage` or `analytics`; they
//! hold no SQL. Errors carry `extensions.code` ([`error::ApiError`]).

pub mod audit;
pub mod context;
pub mod error;
pub mod http;
pub mod limits;
pub mod mutation;
pub mod one_login;
pub mod query;
pub mod read_only;
pub mod session;
pub mod share;
pub mod subscription;
pub mod types;
pub mod ws;

use std::sync::Arc;

use async_graphql::{Schema, SchemaBuilder};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::config::ApiSettings;
pub use context::ApiContext;
use context::ClientIp;
use mutation::MutationRoot;
use query::QueryRoot;
use subscription::SubscriptionRoot;

pub type ApiSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .limit_depth(12)
        .limit_complexity(2000)
        .extension(http::MarkExecution)
        .extension(one_login::OneLogin)
        .extension(read_only::ReadOnly)
}

/// The schema, holding the API's handles for its resolvers, with the per-project cap on
/// running queries ([`limits`]); introspection only where the IDE is on.
pub fn build_schema(api: ApiContext, settings: &ApiSettings) -> ApiSchema {
    let b = builder()
        .data(api)
        .extension(limits::QueryLimits::new(settings.queries_per_project));
    if settings.ide {
        b.finish()
    } else {
        b.disable_introspection().finish()
    }
}

/// The schema's SDL (what `docs/schema.graphql` holds); needs no handles.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// What the GraphQL transport needs per request.
struct Transport {
    schema: ApiSchema,
    /// The token check of each request or socket (the same keys the resolvers issue with).
    jwt: crate::auth::JwtKeys,
    /// Limits, deadlines and the IDE switch.
    settings: ApiSettings,
    /// Ingest's client-IP rule (trusted proxies), shared so both edges agree.
    intake: Arc<crate::ingest::Intake>,
    /// Account tokens' revocation check (the resolvers' own handle).
    revocation: Arc<crate::auth::revocation::Revocation>,
    /// Shared links' check (the resolvers' own handle).
    share_links: Arc<crate::auth::share::ShareLinks>,
}

impl Transport {
    fn client_ip(&self, peer: std::net::SocketAddr, headers: &HeaderMap) -> std::net::IpAddr {
        crate::ingest::client_ip(&self.intake, peer, headers)
    }
}

/// GraphQL over HTTP on `/graphql` (`POST`, and `GET` for queries; a browser's `GET` without a
/// query gets the IDE), subscriptions on `/graphql/ws`, with their own state.
pub fn router(api: ApiContext, settings: &ApiSettings) -> Router {
    let jwt = api.jwt.clone();
    let intake = api.intake.clone();
    let revocation = api.revocation.clone();
    let share_links = api.share_links.clone();
    let transport = Arc::new(Transport {
        schema: build_schema(api, settings),
        jwt,
        settings: settings.clone(),
        intake,
        revocation,
        share_links,
    });
    Router::new()
        .route("/graphql", get(get_graphql).post(http::post))
        .route("/graphql/ws", get(websocket))
        .route("/graphql/ide/{file}", get(ide_file))
        .with_state(transport)
}

/// `GET /graphql`: the IDE for a browser that asks for no query (404 in production), a query
/// over GET ([`http::get`]) for everyone else.
async fn get_graphql(
    State(t): State<Arc<Transport>>,
    peer: http::Peer,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let params = http::get_params(&uri);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let asks_no_query = params.as_ref().is_ok_and(|p| p.query.is_none());
    if asks_no_query && http::wants_html(accept) {
        let mut resp = ide(&t);
        resp.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept"));
        return resp;
    }
    http::get(&t, peer, &headers, params).await
}

/// The IDE's page: the server's own files (no CDN), only where `SIGHTLINE_GRAPHIQL=true`
/// (never in production). 404 otherwise, as if there were none.
fn ide(t: &Transport) -> Response {
    if !t.settings.ide {
        return ide_off();
    }
    Html(include_str!("ide/index.html")).into_response()
}

fn ide_off() -> Response {
    (
        StatusCode::NOT_FOUND,
        "the GraphQL IDE is off (SIGHTLINE_GRAPHIQL=true turns it on outside production)",
    )
        .into_response()
}

/// The IDE's script and style sheet.
async fn ide_file(
    State(t): State<Arc<Transport>>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    if !t.settings.ide {
        return ide_off();
    }
    let (body, content_type) = match file.as_str() {
        "ide.js" => (include_str!("ide/ide.js"), "text/javascript; charset=utf-8"),
        "ide.css" => (include_str!("ide/ide.css"), "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Subscriptions over WebSocket, with the guards of [`ws`]. The token comes in
/// `connection_init`, or from the dashboard's session cookie when the handshake comes from the
/// server's own origin ([`session`]).
async fn websocket(
    State(t): State<Arc<Transport>>,
    peer: http::Peer,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let ip = ClientIp(peer.map(|axum::Extension(ConnectInfo(a))| t.client_ip(a, &headers)));
    let cookie = session::websocket_cookie(&headers);
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| ws::serve(socket, t, ip, cookie))
}
