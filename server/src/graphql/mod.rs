//! The GraphQL API (async-graphql): schema assembly and the HTTP/WebSocket transport.
//!
//! Resolvers authorize first ([`context::authorize`]), then call `storage` or `analytics`; they
//! hold no SQL. Errors carry `extensions.code` ([`error::ApiError`]).

pub mod context;
pub mod error;
pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;

use async_graphql::http::GraphiQLSource;
use async_graphql::{Data, Schema};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use context::Caller;
use mutation::MutationRoot;
use query::QueryRoot;
use subscription::SubscriptionRoot;

pub type ApiSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

pub fn build_schema() -> ApiSchema {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .limit_depth(12)
        .limit_complexity(2000)
        .finish()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/graphql", get(ide).post(execute))
        .route("/graphql/ws", get(websocket))
}

async fn execute(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> GraphQLResponse {
    let caller = Caller::from_authorization(
        &state,
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    let req = req.into_inner().data(caller).data(state.clone());
    state.schema.execute(req).await.into()
}

async fn ide(State(state): State<AppState>) -> Response {
    if state.settings.production {
        return (
            axum::http::StatusCode::NOT_FOUND,
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
/// comes in `connection_init` as `{"Authorization": "Bearer <jwt>"}`; a connection with an
/// invalid token is closed, one without a token gets UNAUTHENTICATED per subscription.
async fn websocket(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
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
                    let caller = Caller::from_authorization(&state, header.as_deref());
                    if let Caller::Invalid(why) = &caller {
                        return Err(async_graphql::Error::new(format!(
                            "authentication required: {why}"
                        )));
                    }
                    let mut data = Data::default();
                    data.insert(caller);
                    data.insert(state);
                    Ok(data)
                })
                .serve()
        })
}
