//! Query root.

use async_graphql::{Context, Object, ID};
use uuid::Uuid;

use super::context::{authorize, principal, state};
use super::error::{ApiError, ApiResult};
use super::types::{Me, Project};
use crate::auth::Role;
use crate::storage::{events, projects};

#[derive(Default)]
pub struct QueryRoot;

pub fn parse_id(id: &ID, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::BadInput(format!("{what} must be a UUID")))
}

#[Object]
impl QueryRoot {
    /// The caller's identity and role.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Me> {
        let p = principal(ctx)?;
        Ok(Me::from(p))
    }

    /// Projects the caller may see.
    async fn projects(&self, ctx: &Context<'_>) -> ApiResult<Vec<Project>> {
        let p = authorize(ctx, Role::Viewer, None)?;
        let list = projects::list(&state(ctx).db, p.projects.as_deref()).await.map_err(ApiError::from)?;
        Ok(list.into_iter().map(Project::from).collect())
    }

    /// Number of stored events of a project (all time).
    async fn event_count(&self, ctx: &Context<'_>, project_id: ID) -> ApiResult<i64> {
        let project = parse_id(&project_id, "projectId")?;
        authorize(ctx, Role::Viewer, Some(project))?;
        Ok(events::count(&state(ctx).db, project).await.map_err(ApiError::from)?)
    }
}
