//! Read-only callers (a shared link's, `auth::share`): a request whose selected operation is a
//! mutation or a subscription is refused with FORBIDDEN before anything runs, over HTTP and
//! over WebSocket alike. The check is [`crate::auth::Principal::require_change`]; this schema
//! extension applies it to every such operation, so no resolver has to remember it, and the
//! resolvers' own `Principal::require` stays the one check of role and project.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, ServerResult, Variables};

use super::context::Caller;
use super::error::ApiError;

/// The schema extension (in `super::builder`).
pub struct ReadOnly;

impl ExtensionFactory for ReadOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestReadOnly::default())
    }
}

#[derive(Default)]
struct RequestReadOnly {
    /// The request's `operationName`, to know which operation of the document runs.
    operation: Mutex<Option<String>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestReadOnly {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut op) = self.operation.lock() {
            *op = request.operation_name.clone();
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let Some(Caller::Authenticated(who)) = ctx.data_opt::<Caller>() else {
            return Ok(doc);
        };
        let name = self.operation.lock().ok().and_then(|op| op.clone());
        let changes = match selected(&doc.operations, name.as_deref()) {
            Some(OperationType::Query) => false,
            Some(_) => true,
            // No operation selected (async-graphql reports it): refuse a read-only caller a
            // document holding anything but queries rather than guess.
            None => doc
                .operations
                .iter()
                .any(|(_, op)| op.node.ty != OperationType::Query),
        };
        if changes {
            if let Err(denied) = who.require_change() {
                let e: async_graphql::Error = ApiError::from(denied).into();
                return Err(e.into_server_error(Default::default()));
            }
        }
        Ok(doc)
    }
}

/// The kind of the operation the request selects, when it selects one.
fn selected(ops: &DocumentOperations, name: Option<&str>) -> Option<OperationType> {
    match (ops, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(map), Some(name)) => map.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(map), None) if map.len() == 1 => {
            map.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(q: &str, name: Option<&str>) -> Option<OperationType> {
        let doc = async_graphql::parser::parse_query(q).expect("parses");
        selected(&doc.operations, name)
    }

    #[test]
    fn the_selected_operations_kind_decides() {
        assert_eq!(kind("{ me { role } }", None), Some(OperationType::Query));
        assert_eq!(
            kind("mutation { logout }", None),
            Some(OperationType::Mutation)
        );
        let two =
            "query A { me { role } } subscription B { liveStats(projectId: \"x\") { events } }";
        assert_eq!(kind(two, Some("A")), Some(OperationType::Query));
        assert_eq!(kind(two, Some("B")), Some(OperationType::Subscription));
        assert_eq!(kind(two, None), None);
    }
}
