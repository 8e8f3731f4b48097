//! The GraphQL API (async-graphql): schema assembly and the HTTP/WebSocket transport.
//!
//! Resolvers authorize first ([`context::authorize`]), then call `storage` or `analytics`; they
//! hold no SQL. Errors carry `extensions.code` ([`error::ApiError`]).

pub mod context;
pub mod error;
pub mod query;
pub mod types;

use async_graphql::http::GraphiQLSource;
use async_graphql::{EmptyMutation, EmptySubscription, Schema};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use context::Caller;
use query::QueryRoot;

pub type ApiSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

pub fn build_schema() -> ApiSchema {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .limit_depth(12)
        .limit_complexity(2000)
        .finish()
}

pub fn router() -> Router<AppState> {
    Router::new().route("/graphql", get(ide).post(execute))
}

async fn execute(State(state): State<AppState>, headers: HeaderMap, req: GraphQLRequest) -> GraphQLResponse {
    let caller = Caller::from_authorization(&state, headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()));
    let req = req.into_inner().data(caller).data(state.clone());
    state.schema.execute(req).await.into()
}

async fn ide(State(state): State<AppState>) -> Response {
    if state.settings.production {
        return (axum::http::StatusCode::NOT_FOUND, "the GraphQL IDE is off in production").into_response();
    }
    Html(GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").finish()).into_response()
}
