//! Shared links as the API offers them: `createShareLink` (the token shown once),
//! `revokeShareLink` and `shareLinks`, for admins and analysts of the project, each change in the
//! audit log. What a link's bearer may do is `auth::share`'s and `super::read_only`'s.

use async_graphql::{Context, SimpleObject, ID};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit;
use super::context::{api, authorize};
use super::error::ApiError;
use super::query::parse_id;
use crate::auth::{share, Role};
use crate::domain::ShareLabel;
use crate::storage::share_links;

/// A project's shared link (its token is not kept: only its hash).
#[derive(SimpleObject)]
pub struct ShareLink {
    pub id: ID,
    pub project_id: ID,
    pub label: Option<String>,
    /// The subject of the token that created it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// When it was revoked; null while it works.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<share_links::ShareLink> for ShareLink {
    fn from(l: share_links::ShareLink) -> Self {
        Self {
            id: ID(l.id.to_string()),
            project_id: ID(l.project_id.to_string()),
            label: l.label,
            created_by: l.created_by,
            created_at: l.created_at,
            revoked_at: l.revoked_at,
        }
    }
}

/// A new link with its secret, shown this once.
#[derive(SimpleObject)]
pub struct ShareLinkWithToken {
    pub link: ShareLink,
    /// The secret: sent as the `X-Sightline-Share` header, it reads the project as a viewer.
    pub token: String,
    /// The dashboard's page for it, relative to the server's address: `/#/share/<token>` (the
    /// token in the fragment never reaches a server's logs or a `Referer`).
    pub path: String,
}

/// `createShareLink`: admins and analysts of the project.
pub async fn create(
    ctx: &Context<'_>,
    project_id: ID,
    label: Option<String>,
) -> Result<ShareLinkWithToken, ApiError> {
    let project = parse_id(&project_id, "projectId")?;
    let me = authorize(ctx, Role::Analyst, Some(project))?;
    let label = ShareLabel::optional(label.as_deref())?;
    let st = api(ctx);
    crate::storage::projects::by_id(&st.db, project)
        .await?
        .ok_or_else(|| ApiError::NotFound("project".into()))?;
    let (token, hash) = share::new_token();
    let link = share_links::create(
        &st.db,
        project,
        &hash,
        label.as_ref().map(ShareLabel::as_str),
        &me.subject,
    )
    .await?;
    let detail = json!({"label": link.label});
    audit::record(
        ctx,
        "share_link.create",
        vec![project],
        Some(link.id.to_string()),
        detail,
    )
    .await;
    Ok(ShareLinkWithToken {
        link: link.into(),
        path: format!("/#/share/{token}"),
        token,
    })
}

/// `revokeShareLink`: admins and analysts of the link's project. True when the link worked
/// until now (false: revoked before).
pub async fn revoke(ctx: &Context<'_>, id: ID) -> Result<bool, ApiError> {
    let id = parse_id(&id, "id")?;
    let st = api(ctx);
    let link = share_links::by_id(&st.db, id).await?;
    // Whoever may not see the project learns nothing of its links.
    let Some(link) = link else {
        authorize(ctx, Role::Analyst, None)?;
        return Err(ApiError::NotFound("shared link".into()));
    };
    authorize(ctx, Role::Analyst, Some(link.project_id))?;
    let revoked = share_links::revoke(&st.db, link.project_id, id).await?;
    st.share_links.forget(id);
    let detail = json!({"label": link.label, "changed": revoked});
    audit::record(
        ctx,
        "share_link.revoke",
        vec![link.project_id],
        Some(id.to_string()),
        detail,
    )
    .await;
    Ok(revoked)
}

/// `shareLinks`: a project's links, revoked ones included, newest first. Admins and analysts.
pub async fn list(ctx: &Context<'_>, project_id: ID) -> Result<Vec<ShareLink>, ApiError> {
    let project = parse_id(&project_id, "projectId")?;
    authorize(ctx, Role::Analyst, Some(project))?;
    let links = share_links::list(&api(ctx).db, project).await?;
    Ok(links.into_iter().map(ShareLink::from).collect())
}
