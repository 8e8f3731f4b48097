//! Mutation root: login, project and account administration, server-side tracking, the
//! dead-letter queue and GDPR deletes.

use async_graphql::{Context, Json, Object, ID};
use axum::http::header;
use serde_json::{json, Value};

use super::audit;
use super::context::{api, authorize, authorize_global, client_ip};
use super::error::{ApiError, ApiResult};
use super::query::parse_id;
use super::session;
use super::types::*;
use crate::auth::password::{self, WorkError};
use crate::auth::throttle::{Locked, Scope};
use crate::auth::Role;
use crate::domain::goal::{GoalInput, GoalSpec, MAX_GOALS};
use crate::domain::{AccountScope, Email, Origin, ProjectName, RetentionDays, TrackedUserId};
use crate::event::Dialect;
use crate::ingest::{Batch, IngestError, ProjectInfo};
use crate::storage::{accounts, goals, projects, users};

pub struct MutationRoot;

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
    /// Exchanges an account's email and password for a token. Failed logins are throttled per
    /// account and per client IP (RATE_LIMITED with `extensions.retryAfter` in seconds); a
    /// request may hold one `login`. `cookie: true` (the dashboard) puts the token in an
    /// HttpOnly session cookie instead of the answer.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        #[graphql(default)] cookie: bool,
    ) -> ApiResult<Login> {
        let st = api(ctx);
        let ip = client_ip(ctx);
        let throttle_err =
            |e: redis::RedisError| ApiError::Internal(format!("login throttle: {e}"));
        if let Some(locked) = st.throttle.check(&email, ip).await.map_err(throttle_err)? {
            return Err(login_locked(locked).into());
        }
        let account = accounts::by_email(&st.db, &email)
            .await
            .map_err(ApiError::from)?;
        // Verify even for unknown emails (against a fixed hash) so timing does not reveal which
        // emails have accounts. An over-long password is checked against it too.
        // Accounts that only single sign-on opens have no password: the fixed hash too.
        let phc = match &account {
            Some(a) if password.len() <= password::MAX_LEN => a
                .password_hash
                .clone()
                .unwrap_or_else(|| UNKNOWN_HASH.clone()),
            _ => UNKNOWN_HASH.clone(),
        };
        let ok = match st.passwords.verify(password, phc).await {
            Ok(ok) => ok,
            Err(WorkError::Busy) => {
                login_refused("busy");
                return Err(ApiError::RetryAfter {
                    message: "too many logins at once".into(),
                    secs: 1,
                }
                .into());
            }
            Err(e) => return Err(ApiError::Internal(e.to_string()).into()),
        };
        let account = match (ok, account) {
            (true, Some(a)) if a.password_hash.is_some() && a.disabled_at.is_some() => {
                login_refused("disabled");
                audit::record_as(
                    ctx,
                    a.email,
                    "login.failure",
                    vec![],
                    None,
                    json!({"reason": "disabled"}),
                )
                .await;
                return Err(ApiError::Unauthenticated("this account is disabled".into()).into());
            }
            (true, Some(a)) if a.password_hash.is_some() => a,
            _ => {
                let locked = st.throttle.failed(&email, ip).await.map_err(throttle_err)?;
                login_refused("password");
                let detail =
                    json!({"reason": "password", "locked": locked.map(|l| l.scope.as_str())});
                audit::record_as(
                    ctx,
                    login_actor(&email),
                    "login.failure",
                    vec![],
                    None,
                    detail,
                )
                .await;
                return Err(ApiError::Unauthenticated("wrong email or password".into()).into());
            }
        };
        st.throttle.succeeded(&email).await.map_err(throttle_err)?;
        let session::Issued {
            token,
            ttl,
            expires_at,
            role,
        } = session::issue(&st.jwt, &account).map_err(ApiError::Internal)?;
        audit::record_as(
            ctx,
            account.email.clone(),
            "login.success",
            vec![],
            Some(account.id.to_string()),
            json!({}),
        )
        .await;
        let token = if cookie {
            ctx.append_http_header(header::SET_COOKIE, session::set_cookie(&token, ttl));
            None
        } else {
            Some(token)
        };
        Ok(Login {
            token,
            expires_at,
            role: role.as_str().to_string(),
        })
    }

    /// Ends the dashboard's session in this browser (clears the session cookie). Other
    /// sessions and tokens stay: `signOutEverywhere` ends those.
    async fn logout(&self, ctx: &Context<'_>) -> bool {
        ctx.append_http_header(header::SET_COOKIE, session::clear_cookie());
        true
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
        let detail = json!({"name": m.name, "allowedOrigins": m.allowed_origins});
        audit::record(ctx, "project.create", vec![m.id], None, detail).await;
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
        let detail = json!({
            "name": name,
            "allowedOrigins": allowed_origins,
            "retentionDays": retention_days,
            "rollupRetentionDays": rollup_retention_days,
        });
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
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound("project".into()))?;
        audit::record(ctx, "project.update", vec![project], None, detail).await;
        Ok(Project::from(m))
    }

    /// New public and secret keys; the old ones stop working (within the key cache's lifetime).
    async fn rotate_keys(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ProjectWithKeys> {
        let project = parse_id(&id, "id")?;
        authorize(ctx, Role::Admin, Some(project))?;
        let (m, keys) = projects::rotate_keys(&api(ctx).db, project)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound("project".into()))?;
        audit::record(ctx, "project.rotate_keys", vec![project], None, json!({})).await;
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
        let hash = new_password_hash(ctx, password).await?;
        let (m, created) = accounts::upsert(&api(ctx).db, &email, &hash, &scope, false)
            .await
            .map_err(ApiError::from)?;
        if !created {
            return Err(
                ApiError::BadInput(format!("an account for {} exists already", m.email)).into(),
            );
        }
        let detail = json!({"email": m.email, "role": m.role, "projectIds": m.project_ids});
        let projects = m.project_ids.clone().unwrap_or_default();
        audit::record(
            ctx,
            "account.create",
            projects,
            Some(m.id.to_string()),
            detail,
        )
        .await;
        Ok(Account::from(m))
    }

    /// Changes an account's role and projects; its existing tokens stop working. An admin of
    /// some projects may change only non-admin accounts within them, to non-admin roles.
    async fn set_account_role(
        &self,
        ctx: &Context<'_>,
        id: ID,
        role: RoleName,
        project_ids: Option<Vec<ID>>,
    ) -> ApiResult<Account> {
        let ids = parse_project_ids(project_ids)?;
        check_grant(ctx, role.into(), &ids)?;
        let scope = AccountScope::new(role.into(), ids).map_err(ApiError::from)?;
        let account = managed_account(ctx, &id).await?;
        Ok(change_account(ctx, &account, accounts::Change::Scope(&scope)).await?)
    }

    /// Disables an account: it cannot log in and its tokens stop working. Admin (of the
    /// account's projects).
    async fn disable_account(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Account> {
        let account = managed_account(ctx, &id).await?;
        Ok(change_account(ctx, &account, accounts::Change::Disabled(true)).await?)
    }

    /// Enables a disabled account again (its old tokens stay revoked).
    async fn enable_account(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Account> {
        let account = managed_account(ctx, &id).await?;
        Ok(change_account(ctx, &account, accounts::Change::Disabled(false)).await?)
    }

    /// Deletes an account; its tokens stop working. True when it existed.
    async fn delete_account(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let account = managed_account(ctx, &id).await?;
        let st = api(ctx);
        let deleted = accounts::delete(&st.db, account.id)
            .await
            .map_err(ApiError::from)?;
        st.revocation.forget(account.id);
        let detail = json!({"email": account.email});
        let projects = account.project_ids.clone().unwrap_or_default();
        audit::record(
            ctx,
            "account.delete",
            projects,
            Some(account.id.to_string()),
            detail,
        )
        .await;
        Ok(deleted)
    }

    /// Sets a new password for an account (admin); its existing tokens stop working.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        id: ID,
        password: String,
    ) -> ApiResult<Account> {
        let account = managed_account(ctx, &id).await?;
        let hash = new_password_hash(ctx, password).await?;
        Ok(change_account(ctx, &account, accounts::Change::Password(&hash)).await?)
    }

    /// Ends every session of an account: all its tokens stop working (within a few seconds in
    /// other server processes). Without `accountId`, the caller's own account (a token from
    /// `login`); with it, an admin's action on another account.
    async fn sign_out_everywhere(
        &self,
        ctx: &Context<'_>,
        account_id: Option<ID>,
    ) -> ApiResult<bool> {
        let target = match account_id {
            Some(id) => managed_account(ctx, &id).await?,
            None => {
                let me = super::context::principal(ctx)?;
                let mine = me.account.ok_or_else(|| {
                    ApiError::BadInput(
                        "this token belongs to no account (a `sightline token`): it ends at its expiry or with a new signing key".into(),
                    )
                })?;
                accounts::by_id(&api(ctx).db, mine.id)
                    .await?
                    .ok_or_else(|| ApiError::NotFound("account".into()))?
            }
        };
        change_account(ctx, &target, accounts::Change::SignOut).await?;
        Ok(true)
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
        let detail = json!({"ids": ids, "moved": moved.len()});
        audit::record(ctx, "dead_letters.retry", vec![], None, detail).await;
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
        let detail = json!({"ids": ids, "discarded": n});
        audit::record(ctx, "dead_letters.discard", vec![], None, detail).await;
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

    /// Defines a goal: events of `eventType`, on a page matching `pathPattern` (`*` one path
    /// segment, `**` any depth) and carrying `props` when given. It counts over past events
    /// too. Analyst and up.
    async fn create_goal(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        name: String,
        event_type: String,
        path_pattern: Option<String>,
        props: Option<Json<Value>>,
    ) -> ApiResult<Goal> {
        let project = parse_id(&project_id, "projectId")?;
        authorize(ctx, Role::Analyst, Some(project))?;
        let spec: GoalSpec = parse(GoalInput {
            name,
            event_type,
            path_pattern,
            props: props.map(|Json(p)| p),
        })?;
        let db = &api(ctx).db;
        projects::by_id(db, project)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound("project".into()))?;
        let m = match goals::create(db, project, &spec)
            .await
            .map_err(ApiError::from)?
        {
            goals::Created::Goal(m) => m,
            goals::Created::NameTaken => {
                return Err(ApiError::BadInput(format!(
                    "this project has a goal named {:?} already",
                    spec.name
                ))
                .into())
            }
            goals::Created::TooMany => {
                return Err(ApiError::BadInput(format!(
                    "a project has at most {MAX_GOALS} goals: delete one first"
                ))
                .into())
            }
        };
        let detail = json!({"name": m.name, "eventType": m.event_type,
                            "pathPattern": m.path_pattern, "props": m.props});
        audit::record(
            ctx,
            "goal.create",
            vec![project],
            Some(m.id.to_string()),
            detail,
        )
        .await;
        Ok(Goal::from(m))
    }

    /// Deletes a goal (its conversions were never stored: they are counted when asked). True
    /// when it was deleted. Analyst and up of the goal's project; NOT_FOUND for an unknown goal
    /// or one of another project.
    async fn delete_goal(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let me = authorize(ctx, Role::Analyst, None)?;
        let id = parse_id(&id, "id")?;
        let db = &api(ctx).db;
        let goal = goals::by_id(db, id)
            .await
            .map_err(ApiError::from)?
            .filter(|g| me.require(Role::Analyst, Some(g.project_id)).is_ok())
            .ok_or_else(|| ApiError::NotFound("goal".into()))?;
        let deleted = goals::delete(db, goal.project_id, goal.id)
            .await
            .map_err(ApiError::from)?;
        if deleted {
            let detail = json!({"name": goal.name});
            audit::record(
                ctx,
                "goal.delete",
                vec![goal.project_id],
                Some(goal.id.to_string()),
                detail,
            )
            .await;
        }
        Ok(deleted)
    }

    /// A secret link to the project's dashboard overview that works without login, read-only
    /// at viewer level, until revoked. Admin or analyst of the project. The token (and the
    /// page's path) is shown this once: only its hash is stored.
    async fn create_share_link(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        label: Option<String>,
    ) -> ApiResult<super::share::ShareLinkWithToken> {
        Ok(super::share::create(ctx, project_id, label).await?)
    }

    /// Ends a shared link: its token is refused from then on (at once in this server process,
    /// within a few seconds in the others). True when it worked until now. Admin or analyst of
    /// the link's project.
    async fn revoke_share_link(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        Ok(super::share::revoke(ctx, id).await?)
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
        let detail = json!({"events": r.events, "users": r.users});
        let target = crate::storage::audit::purged_user_target(&user);
        audit::record(ctx, "user.purge", vec![project], Some(target), detail).await;
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

fn login_refused(reason: &'static str) {
    metrics::counter!(crate::telemetry::names::LOGIN_REFUSED, "reason" => reason).increment(1);
}

/// The refusal of a login while its account or IP is locked.
fn login_locked(locked: Locked) -> ApiError {
    let (reason, message) = match locked.scope {
        Scope::Account => ("locked_account", "too many failed logins for this account"),
        Scope::Ip => ("locked_ip", "too many failed logins from this address"),
    };
    login_refused(reason);
    ApiError::RetryAfter {
        message: message.into(),
        secs: locked.retry_after_secs,
    }
}

/// The hash of a new password: the policy checked (BAD_USER_INPUT), argon2 run within the
/// bound (RATE_LIMITED when busy).
async fn new_password_hash(ctx: &Context<'_>, password: String) -> Result<String, ApiError> {
    api(ctx)
        .passwords
        .hash(password)
        .await
        .map_err(|e| match e {
            WorkError::Policy(why) => ApiError::BadInput(why),
            WorkError::Busy => ApiError::RetryAfter {
                message: "too many password changes at once".into(),
                secs: 1,
            },
            WorkError::Failed(why) => ApiError::Internal(why),
        })
}

/// The account `id` names, when the caller may manage it: an admin of all projects any account;
/// an admin of some projects only non-admin accounts whose projects are all theirs. NOT_FOUND
/// for no such account (told only to admins of all projects, so scoped admins learn nothing of
/// accounts outside their projects).
async fn managed_account(ctx: &Context<'_>, id: &ID) -> Result<entity::account::Model, ApiError> {
    let me = authorize(ctx, Role::Admin, None)?;
    let id = parse_id(id, "id")?;
    let account = accounts::by_id(&api(ctx).db, id).await?;
    let Some(scope) = &me.projects else {
        return account.ok_or_else(|| ApiError::NotFound("account".into()));
    };
    let refused = || ApiError::Forbidden("this account is not within your projects".into());
    let account = account.ok_or_else(refused)?;
    let within = account
        .project_ids
        .as_ref()
        .is_some_and(|ids| ids.iter().all(|p| scope.contains(p)));
    if account.role == Role::Admin.as_str() || !within {
        return Err(refused());
    }
    Ok(account)
}

/// Applies an account change (which revokes its tokens), forgets the cached state and records
/// it in the audit log (with the projects of the account before and after).
async fn change_account(
    ctx: &Context<'_>,
    before: &entity::account::Model,
    change: accounts::Change<'_>,
) -> Result<Account, ApiError> {
    let st = api(ctx);
    let (action, mut detail) = match &change {
        accounts::Change::Scope(scope) => (
            "account.set_role",
            json!({"role": scope.role().as_str(), "projectIds": scope.projects()}),
        ),
        accounts::Change::Password(_) => ("account.reset_password", json!({})),
        accounts::Change::Disabled(true) => ("account.disable", json!({})),
        accounts::Change::Disabled(false) => ("account.enable", json!({})),
        accounts::Change::SignOut => ("account.sign_out_everywhere", json!({})),
    };
    let after = accounts::change(&st.db, before.id, change)
        .await?
        .ok_or_else(|| ApiError::NotFound("account".into()))?;
    st.revocation.forget(before.id);
    detail["email"] = json!(after.email);
    let projects = match (&before.project_ids, &after.project_ids) {
        (Some(a), Some(b)) => {
            let mut all: Vec<uuid::Uuid> = a.iter().chain(b).copied().collect();
            all.sort();
            all.dedup();
            all
        }
        // An account of every project: for admins of every project only.
        _ => Vec::new(),
    };
    audit::record(ctx, action, projects, Some(after.id.to_string()), detail).await;
    Ok(Account::from(after))
}

/// The actor of a login attempt: the email as login normalizes it, cut to a sane length (it is
/// whatever the client sent).
fn login_actor(email: &str) -> String {
    email
        .trim()
        .to_ascii_lowercase()
        .chars()
        .take(254)
        .collect()
}

/// `pauseQueue` / `resumeQueue`: true when the state changed.
async fn set_queue_paused(ctx: &Context<'_>, paused: bool) -> ApiResult<bool> {
    authorize_global(ctx)?;
    let queue = &api(ctx).queue;
    let changed = if paused {
        queue.pause().await
    } else {
        queue.resume().await
    }
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let action = if paused {
        "queue.pause"
    } else {
        "queue.resume"
    };
    audit::record(ctx, action, vec![], None, json!({"changed": changed})).await;
    Ok(changed)
}
