//! The GraphQL API (async-graphql): schema assembly and the HTTP/WebSocket transport.
//!
//! HTTP follows the GraphQL-over-HTTP spec ([`http`]); subscriptions go over WebSocket.
//! Resolvers authorize first ([`context::authorize`]), then call `storage` or `analytics`; they
//! hold no SQL. Errors carry `extensions.code` ([`error::ApiError`]).

pub mod audit;
pub mod context;
pub mod error;
pub mod http;
pub mod mutation;
pub mod one_login;
pub mod query;
pub mod session;
pub mod subscription;
pub mod types;

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql::{Data, Schema, SchemaBuilder};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub use context::ApiContext;
use context::{Caller, ClientIp};
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
}

/// The schema, holding the API's handles for its resolvers.
pub fn build_schema(api: ApiContext) -> ApiSchema {
    builder().data(api).finish()
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
    /// Production: no GraphQL IDE.
    production: bool,
    /// Ingest's client-IP rule (trusted proxies), shared so both edges agree.
    intake: Arc<crate::ingest::Intake>,
    /// Account tokens' revocation check (the resolvers' own handle).
    revocation: Arc<crate::auth::revocation::Revocation>,
}

impl Transport {
    fn client_ip(&self, peer: std::net::SocketAddr, headers: &HeaderMap) -> std::net::IpAddr {
        crate::ingest::client_ip(&self.intake, peer, headers)
    }
}

/// GraphQL over HTTP on `/graphql` (`POST`, and `GET` for queries; a browser's `GET` without a
/// query gets the IDE), subscriptions on `/graphql/ws`, with their own state.
pub fn router(api: ApiContext, production: bool) -> Router {
    let jwt = api.jwt.clone();
    let intake = api.intake.clone();
    let revocation = api.revocation.clone();
    let transport = Arc::new(Transport {
        schema: build_schema(api),
        jwt,
        production,
        intake,
        revocation,
    });
    Router::new()
        .route("/graphql", get(get_graphql).post(http::post))
        .route("/graphql/ws", get(websocket))
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

fn ide(t: &Transport) -> Response {
    if t.production {
        return (
            StatusCode::NOT_FOUND,
            "the GraphQL IDE is off in production",
        )
            .into_response();
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
    .into_response()
}

/// Subscriptions over WebSocket (`graphql-transport-ws`, and the older `graphql-ws`). The token
/// comes in `connection_init` as `{"Authorization": "Bearer <jwt>"}`, or from the dashboard's
/// session cookie when the handshake comes from the server's own origin ([`session`]); a
/// connection with an invalid token is closed, one without a token gets UNAUTHENTICATED per
/// subscription.
async fn websocket(
    State(t): State<Arc<Transport>>,
    peer: http::Peer,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = t.schema.clone();
    let ip = ClientIp(peer.map(|axum::Extension(ConnectInfo(a))| t.client_ip(a, &headers)));
    let cookie = session::websocket_cookie(&headers);
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let header = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .and_then(|v| v.as_str())
                        .map(str::to_string);
                    // A token in `connection_init` wins; else the dashboard's session cookie.
                    let caller = match (header, cookie) {
                        (None, Some(token)) => {
                            Caller::from_session(&t.jwt, &t.revocation, &token).await
                        }
                        (header, _) => {
                            Caller::authenticate(&t.jwt, &t.revocation, header.as_deref()).await
                        }
                    };
                    if let Caller::Invalid(why) = &caller {
                        return Err(async_graphql::Error::new(format!(
                            "authentication required: {why}"
                        )));
                    }
                    let mut data = Data::default();
                    data.insert(caller);
                    data.insert(ip);
                    Ok(data)
                })
                .serve()
        })
}
