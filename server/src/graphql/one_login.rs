//! At most one `login` per request: a document whose mutation selects `login` twice (under
//! aliases, or through fragments) is refused before anything runs, so one request cannot try
//! hundreds of passwords (and queue hundreds of argon2 runs) past the per-request throttles.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Variables};

/// The schema extension (in `super::builder`).
pub struct OneLogin;

impl ExtensionFactory for OneLogin {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OneLogin)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OneLogin {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let most = doc
            .operations
            .iter()
            .filter(|(_, op)| op.node.ty == OperationType::Mutation)
            .map(|(_, op)| logins(&op.node.selection_set, &doc, &mut HashSet::new()))
            .max()
            .unwrap_or(0);
        if most > 1 {
            let mut e = ServerError::new(
                format!("a request may hold one `login`, this one holds {most}"),
                None,
            );
            e.extensions
                .get_or_insert_with(Default::default)
                .set("code", "BAD_USER_INPUT");
            return Err(e);
        }
        Ok(doc)
    }
}

/// `login` fields at the root of `set`, fragments included (each fragment counted once per
/// path: a fragment spread inside itself is invalid and validation reports it).
fn logins(
    set: &Positioned<SelectionSet>,
    doc: &ExecutableDocument,
    seen: &mut HashSet<Name>,
) -> usize {
    set.node
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => usize::from(f.node.name.node == "login"),
            Selection::InlineFragment(i) => logins(&i.node.selection_set, doc, seen),
            Selection::FragmentSpread(s) => {
                let name = &s.node.fragment_name.node;
                match doc.fragments.get(name) {
                    Some(f) if seen.insert(name.clone()) => {
                        let n = logins(&f.node.selection_set, doc, seen);
                        seen.remove(name);
                        n
                    }
                    _ => 0,
                }
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(q: &str) -> usize {
        let doc = async_graphql::parser::parse_query(q).expect("parses");
        doc.operations
            .iter()
            .map(|(_, op)| logins(&op.node.selection_set, &doc, &mut HashSet::new()))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn logins_are_counted_through_aliases_and_fragments() {
        assert_eq!(
            count("mutation { login(email: \"a\", password: \"b\") { token } }"),
            1
        );
        assert_eq!(
            count("mutation { a: login(email: \"a\", password: \"b\") { token } b: login(email: \"a\", password: \"c\") { token } }"),
            2
        );
        assert_eq!(
            count("mutation { ...F ... on MutationRoot { login(email: \"a\", password: \"c\") { token } } } fragment F on MutationRoot { login(email: \"a\", password: \"b\") { token } }"),
            2
        );
        // A fragment that spreads itself does not loop.
        assert_eq!(
            count("mutation { ...F } fragment F on MutationRoot { login(email: \"a\", password: \"b\") { token } ...F }"),
            1
        );
    }
}
