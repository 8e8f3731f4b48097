//! The audit log as the API writes and reads it: [`record`] after each administrative action
//! and each login (who from the caller's token, the client IP from the transport), and the
//! `auditLog` page ([`page`]), which an admin of some projects sees only within them.

use async_graphql::{Context, Json, SimpleObject, ID};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::context::{api, authorize, client_ip, Caller};
use super::error::ApiError;
use super::query::parse_id;
use super::types::PageInfo;
use crate::auth::Role;
use crate::storage::audit::{self, NewEntry, Visible};

/// Most entries per page.
const MAX_PAGE: i32 = 200;

/// Adds an entry for the caller's `action`. The action has happened: a failure to record it is
/// logged and counted, not turned into the caller's error.
pub async fn record(
    ctx: &Context<'_>,
    action: &'static str,
    project_ids: Vec<Uuid>,
    target: Option<String>,
    detail: Value,
) {
    let actor = match ctx.data_opt::<Caller>() {
        Some(Caller::Authenticated(p)) => p.subject.clone(),
        _ => "anonymous".to_string(),
    };
    record_as(ctx, actor, action, project_ids, target, detail).await;
}

/// [`record`] with the actor given (a login names the email it was attempted for).
pub async fn record_as(
    ctx: &Context<'_>,
    actor: String,
    action: &'static str,
    project_ids: Vec<Uuid>,
    target: Option<String>,
    detail: Value,
) {
    let entry = NewEntry {
        actor,
        action,
        project_ids,
        target,
        ip: client_ip(ctx),
        detail,
    };
    if let Err(e) = audit::record(&api(ctx).db, entry).await {
        tracing::error!(error = %e, action, "cannot write the audit log");
        metrics::counter!(crate::telemetry::names::ERRORS, "where" => "audit").increment(1);
    }
}

/// One audit entry.
#[derive(SimpleObject)]
pub struct AuditEntry {
    pub id: ID,
    pub at: DateTime<Utc>,
    /// Who: the token's subject (an account's email, or a `sightline token` subject), or the
    /// email a login was attempted for.
    pub actor: String,
    /// What, as `object.verb`: `project.create`, `account.disable`, `login.failure`, ...
    pub action: String,
    /// The projects it concerns (empty: the whole installation).
    pub project_ids: Vec<ID>,
    /// What it was done to (an account id, a user id...), when one thing.
    pub target: Option<String>,
    /// The client's IP.
    pub ip: Option<String>,
    /// The action's arguments and outcome.
    pub detail: Json<Value>,
}

#[derive(SimpleObject)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub page_info: PageInfo,
}

/// `auditLog`: admins; an admin of some projects sees entries whose projects are all theirs.
pub async fn page(
    ctx: &Context<'_>,
    project_id: Option<ID>,
    first: i32,
    after: Option<String>,
) -> Result<AuditPage, ApiError> {
    let project = project_id
        .map(|id| parse_id(&id, "projectId"))
        .transpose()?;
    let me = authorize(ctx, Role::Admin, project)?;
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(ApiError::BadInput(format!(
            "first must be between 1 and {MAX_PAGE}, not {first}"
        )));
    }
    let before = after
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                ApiError::BadInput(format!("after {c:?} is not a cursor of this list"))
            })
        })
        .transpose()?;
    let visible = match &me.projects {
        None => Visible::All,
        Some(ids) => Visible::Within(ids),
    };
    let mut rows = audit::page(&api(ctx).db, visible, project, before, first as u64 + 1).await?;
    let has_next_page = rows.len() > first as usize;
    rows.truncate(first as usize);
    let end_cursor = rows.last().map(|e| e.id.to_string());
    Ok(AuditPage {
        entries: rows
            .into_iter()
            .map(|e| AuditEntry {
                id: ID(e.id.to_string()),
                at: e.at,
                actor: e.actor,
                action: e.action,
                project_ids: e.project_ids.iter().map(|p| ID(p.to_string())).collect(),
                target: e.target,
                ip: e.ip,
                detail: Json(e.detail),
            })
            .collect(),
        page_info: PageInfo {
            has_next_page,
            end_cursor,
        },
    })
}
