//! Mutation root: login, project and account administration, server-side tracking, the
//! dead-letter queue and GDPR deletes.

use async_graphql::{Context, Json, Object, ID};
use chrono::Utc;
use serde_json::Value;

use super::context::{api, authorize, authorize_global};
use super::error::{ApiError, ApiResult};
use super::query::parse_id;
use super::types::*;
use crate::auth::{password, Role};
use crate::domain::{AccountScope, Email, Origin, ProjectName, RetentionDays, TrackedUserId};
use crate::event::Dialect;
use crate::ingest::{Batch, IngestError, ProjectInfo};
use crate::storage::{accounts, projects, users};

pub struct MutationRoot;

/// Longest password accepted (argon2 input; longer is a denial-of-service vector, not security).
const MAX_PASSWORD: usize = 256;

fn keys_payload(model: entity::project::Model, keys: projects::ProjectKeys) -> ProjectWithKeys {
    ProjectWithKeys {
        project: Project::from(model),
        public_key: keys.public_key,
        secret_key: keys.secret_key,
    }
}

fn parse_project_ids(ids: Option<Vec<ID>>) -> Result<Option<Vec<uuid::Uuid>>, ApiError> {
    ids.map(|ids| ids.iter().map(|i| parse_id(i, "projectIds")).collect())
        .transpose()
}

/// Who may grant what: an admin of all projects anything; an admin of some projects only
/// non-admin roles on those projects.
fn check_grant(
    ctx: &Context<'_>,
    role: Role,
    ids: &Option<Vec<uuid::Uuid>>,
) -> Result<(), ApiError> {
    let me = authorize(ctx, Role::Admin, None)?;
    if me.projects.is_none() {
        return Ok(());
    }
    if role == Role::Admin {
        return Err(ApiError::Forbidden(
            "only an admin of all projects may create admins".into(),
        ));
    }
    for p in ids.iter().flatten() {
        me.require(Role::Admin, Some(*p))?;
    }
    Ok(())
}

// `updateProject` takes one argument per setting (GraphQL's own way to say "change these").
#[allow(clippy::too_many_arguments)]
#[Object]
impl MutationRoot {
    /// Exchanges an account's email and password for a token.
    async fn login(&self, ctx: &Context<'_>, email: String, password: String) -> ApiResult<Login> {
        let st = api(ctx);
        if password.len() > MAX_PASSWORD {
            return Err(ApiError::Unauthenticated("wrong email or password".into()).into());
        }
        let account = accounts::by_email(&st.db, &email)
            .await
            .map_err(ApiError::from)?;
        // Verify even for unknown emails (against a fixed hash) so timing does not reveal which
        // emails have accounts.
        let phc = account
            .as_ref()
            .map(|a| a.password_hash.clone())
            .unwrap_or_else(|| UNKNOWN_HASH.clone());
        let ok = tokio::task::spawn_blocking(move || password::verify(&password, &phc))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let account = match (ok, account) {
            (true, Some(a)) => a,
            _ => {
                metrics::counter!(crate::telemetry::names::ERRORS, "where" => "login").increment(1);
                return Err(ApiError::Unauthenticated("wrong email or password".into()).into());
            }
        };
        let role: Role = account
            .role
            .parse()
            .map_err(|_| ApiError::Internal(format!("bad role {}", account.role)))?;
        let ttl = st.jwt.token_ttl();
        let token = st
            .jwt
            .issue(
                &account.email,
                role,
                account.project_ids.as_deref(),
                Some(ttl),
            )
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
        Ok(Login {
            token,
            expires_at,
            role: role.as_str().to_string(),
        })
    }

    /// Creates a project; the secret key is returned this once.
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        name: String,
        #[graphql(default)] allowed_origins: Vec<String>,
    ) -> ApiResult<ProjectWithKeys> {
        authorize_global(ctx)?;
        let name = ProjectName::try_from(name.as_str()).map_err(ApiError::from)?;
        let origins = Origin::parse_all(&allowed_origins).map_err(ApiError::from)?;
        let (m, keys) = projects::create(&api(ctx).db, &name, &origins)
            .await
            .map_err(ApiError::from)?;
        Ok(keys_payload(m, keys))
    }

    async fn update_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        allowed_origins: Option<Vec<String>>,
        retention_days: Option<i32>,
        rollup_retention_days: Option<i32>,
        ip_storage: Option<IpStorage>,
    ) -> ApiResult<Project> {
        let project = parse_id(&id, "id")?;
        authorize(ctx, Role::Admin, Some(project))?;
        let days = |v: Option<i32>, field| v.map(|d| RetentionDays::parse(d, field)).transpose();
        let change = projects::ProjectUpdate {
            name: name
                .as_deref()
                .map(ProjectName::try_from)
                .transpose()
                .map_err(ApiError::from)?,
            allowed_origins: allowed_origins
                .as_deref()
                .map(Origin::parse_all)
                .transpose()
                .map_err(ApiError::from)?,
            retention_days: days(retention_days, "retentionDays").map_err(ApiError::from)?,
            rollup_retention_days: days(rollup_retention_days, "rollupRetentionDays")
                .map_err(ApiError::from)?,
            ip_storage: ip_storage.map(Into::into),
        };
        let m = projects::update(&api(ctx).db, project, change)
            .await
            .map_err(ApiError::from)?;
        Ok(Project::from(
            m.ok_or_else(|| ApiError::NotFound("project".into()))?,
        ))
    }

    /// New public and secret keys; the old ones stop working (within the key cache's lifetime).
    async fn rotate_keys(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ProjectWithKeys> {
        let project = parse_id(&id, "id")?;
        authorize(ctx, Role::Admin, Some(project))?;
        let (m, keys) = projects::rotate_keys(&api(ctx).db, project)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound("project".into()))?;
        Ok(keys_payload(m, keys))
    }

    async fn create_account(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        role: RoleName,
        project_ids: Option<Vec<ID>>,
    ) -> ApiResult<Account> {
        let ids = parse_project_ids(project_ids)?;
        check_grant(ctx, role.into(), &ids)?;
        let email = Email::try_from(email.as_str()).map_err(ApiError::from)?;
        let scope = AccountScope::new(role.into(), ids).map_err(ApiError::from)?;
        if password.chars().count() < 10 || password.len() > MAX_PASSWORD {
            return Err(ApiError::BadInput(format!(
                "password must have 10 to {MAX_PASSWORD} characters"
            ))
            .into());
        }
        let hash = tokio::task::spawn_blocking(move || password::hash(&password))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(ApiError::Internal)?;
        let (m, created) = accounts::upsert(&api(ctx).db, &email, &hash, &scope, false)
            .await
            .map_err(ApiError::from)?;
        if !created {
            return Err(
                ApiError::BadInput(format!("an account for {} exists already", m.email)).into(),
            );
        }
        Ok(Account::from(m))
    }

    /// Changes an account's role and projects.
    async fn set_account_role(
        &self,
        ctx: &Context<'_>,
        id: ID,
        role: RoleName,
        project_ids: Option<Vec<ID>>,
    ) -> ApiResult<Account> {
        authorize_global(ctx)?;
        let account = parse_id(&id, "id")?;
        let ids = parse_project_ids(project_ids)?;
        let scope = AccountScope::new(role.into(), ids).map_err(ApiError::from)?;
        let m = accounts::set_role(&api(ctx).db, account, &scope)
            .await
            .map_err(ApiError::from)?;
        Ok(Account::from(
            m.ok_or_else(|| ApiError::NotFound("account".into()))?,
        ))
    }

    /// Server-side tracking (service role): same validation and queue as `/api/v1/track`.
    async fn track_events(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        events: Vec<Json<Value>>,
    ) -> ApiResult<TrackResult> {
        let project = parse_id(&project_id, "projectId")?;
        authorize(ctx, Role::Service, Some(project))?;
        let st = api(ctx);
        projects::by_id(&st.db, project)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound("project".into()))?;
        let info = ProjectInfo {
            id: project,
            allowed_origins: Vec::new(),
        };
        let batch = Batch {
            events: events.into_iter().map(|j| j.0).collect(),
            dialect: Dialect::Server,
            ip: None,
            user_agent: None,
            endpoint: "graphql",
        };
        match st.intake.accept(&info, batch).await {
            Ok(a) => Ok(TrackResult {
                accepted: a.accepted as i64,
                rejected: a
                    .rejected
                    .into_iter()
                    .map(|r| Rejection {
                        index: r.index as i64,
                        reason: r.reason,
                    })
                    .collect(),
            }),
            Err(IngestError::NothingValid(rejected)) => Ok(TrackResult {
                accepted: 0,
                rejected: rejected
                    .into_iter()
                    .map(|r| Rejection {
                        index: r.index as i64,
                        reason: r.reason,
                    })
                    .collect(),
            }),
            Err(e @ IngestError::RateLimited { .. }) | Err(e @ IngestError::QueueFull) => {
                Err(ApiError::RateLimited(e.to_string()).into())
            }
            Err(e @ IngestError::Unavailable) => Err(ApiError::Internal(e.to_string()).into()),
            Err(e) => Err(ApiError::BadInput(e.to_string()).into()),
        }
    }

    /// Moves dead-lettered jobs back to the queue (all when `ids` is absent). Returns how many.
    async fn retry_dead_letters(&self, ctx: &Context<'_>, ids: Option<Vec<ID>>) -> ApiResult<i64> {
        authorize_global(ctx)?;
        let ids: Vec<String> = ids.unwrap_or_default().into_iter().map(|i| i.0).collect();
        let moved = api(ctx)
            .queue
            .retry_failed(&ids, 10_000)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(moved.len() as i64)
    }

    /// Deletes dead-lettered jobs for good (all when `ids` is absent). Returns how many.
    async fn discard_dead_letters(
        &self,
        ctx: &Context<'_>,
        ids: Option<Vec<ID>>,
    ) -> ApiResult<i64> {
        authorize_global(ctx)?;
        let ids: Vec<String> = ids.unwrap_or_default().into_iter().map(|i| i.0).collect();
        let n = api(ctx)
            .queue
            .discard_failed(&ids, 10_000)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(n as i64)
    }

    /// Stops workers taking jobs (for database work): beacons are still accepted and wait in
    /// Redis until `resumeQueue`. True when the queue was running. Admin.
    async fn pause_queue(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        set_queue_paused(ctx, true).await
    }

    /// Lets workers take jobs again; what was held is stored first. True when it was paused.
    /// Admin.
    async fn resume_queue(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        set_queue_paused(ctx, false).await
    }

    /// GDPR delete: the user's events, profile and their share of every aggregate.
    async fn purge_user(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        user_id: String,
    ) -> ApiResult<PurgeResult> {
        let project = parse_id(&project_id, "projectId")?;
        authorize(ctx, Role::Admin, Some(project))?;
        let user = TrackedUserId::try_from(user_id.as_str()).map_err(ApiError::from)?;
        let r = users::purge(&api(ctx).db, project, &user)
            .await
            .map_err(ApiError::from)?;
        Ok(PurgeResult {
            events: r.events as i64,
            users: r.users as i64,
        })
    }
}

/// An argon2id hash of a random password nobody knows: verified against for unknown emails.
static UNKNOWN_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    password::hash(&uuid::Uuid::new_v4().to_string()).unwrap_or_default()
});

/// `pauseQueue` / `resumeQueue`: true when the state changed.
async fn set_queue_paused(ctx: &Context<'_>, paused: bool) -> ApiResult<bool> {
    authorize_global(ctx)?;
    let queue = &api(ctx).queue;
    let changed = if paused {
        queue.pause().await
    } else {
        queue.resume().await
    };
    Ok(changed.map_err(|e| ApiError::Internal(e.to_string()))?)
}
