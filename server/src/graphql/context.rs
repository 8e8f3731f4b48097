//! What every resolver gets: the [`ApiContext`] (the handles the API works with, put into the
//! schema once when it is built) and the [`Caller`] of the request, plus the checks resolvers
//! apply first.

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::Context;
use uuid::Uuid;

use super::error::ApiError;
use crate::auth::password::PasswordWork;
use crate::auth::revocation::Revocation;
use crate::auth::share::ShareLinks;
use crate::auth::throttle::LoginThrottle;
use crate::auth::{JwtKeys, Principal, Role};
use crate::ingest::Intake;
use crate::live::LiveHub;
use crate::queue::Queue;
use crate::storage::Db;

/// The GraphQL API's own state: what its resolvers read and write through. Assembled by
/// `app.rs`; resolvers reach it with [`api`].
#[derive(Clone)]
pub struct ApiContext {
    pub db: Db,
    /// The ingest queue (dead letters, pause/resume).
    pub queue: Queue,
    pub jwt: JwtKeys,
    pub live: LiveHub,
    /// Accepts `trackEvents` batches exactly as the HTTP endpoints do.
    pub intake: Arc<Intake>,
    /// Failed-login counts and locks, shared by every process through Redis.
    pub throttle: Arc<LoginThrottle>,
    /// The bound on argon2 runs (login, new passwords).
    pub passwords: Arc<PasswordWork>,
    /// Account tokens checked against their account (and forgotten after a change).
    pub revocation: Arc<Revocation>,
    /// Single sign-on is configured (`/auth/oidc/login` serves).
    pub single_sign_on: bool,
    /// Shared links' tokens checked against their link (and forgotten once revoked).
    pub share_links: Arc<ShareLinks>,
}

/// The client's IP as the transport saw it (the peer, or the proxy's forwarded address when
/// proxies are trusted): what login throttles and the audit log record. `None` when unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientIp(pub Option<IpAddr>);

/// The client's IP of this request (or socket).
pub fn client_ip(ctx: &Context<'_>) -> Option<IpAddr> {
    ctx.data_opt::<ClientIp>().and_then(|c| c.0)
}

/// The caller as the transport saw it.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    Authenticated(Principal),
    Invalid(String),
}

impl Caller {
    /// The caller of a request or socket: the bearer token verified, then, when it names an
    /// account, checked against the account (disabled, deleted or revoked tokens are refused).
    pub async fn authenticate(
        jwt: &JwtKeys,
        revocation: &Revocation,
        header: Option<&str>,
    ) -> Self {
        Self::checked(revocation, Self::from_authorization(jwt, header)).await
    }

    /// The caller of a request carrying a shared link's token: the link's read-only viewer, or
    /// invalid (UNAUTHENTICATED) when the link is unknown or revoked.
    pub async fn from_share_link(links: &ShareLinks, token: &str) -> Self {
        match links.principal(token).await {
            Ok(p) => Caller::Authenticated(p),
            Err(why) => Caller::Invalid(why),
        }
    }

    /// The caller of a dashboard request: the session cookie's token, verified and checked.
    pub async fn from_session(jwt: &JwtKeys, revocation: &Revocation, token: &str) -> Self {
        let caller = match jwt.verify(token) {
            Ok(p) => Caller::Authenticated(p),
            Err(e) => Caller::Invalid(format!("the session cookie: {e}")),
        };
        Self::checked(revocation, caller).await
    }

    async fn checked(revocation: &Revocation, caller: Caller) -> Self {
        match caller {
            Caller::Authenticated(p) => match revocation.check(&p).await {
                Ok(()) => Caller::Authenticated(p),
                Err(why) => Caller::Invalid(why),
            },
            other => other,
        }
    }

    pub fn from_authorization(jwt: &JwtKeys, header: Option<&str>) -> Self {
        match header.map(str::trim) {
            None | Some("") => Caller::Anonymous,
            Some(h) => match h
                .strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
            {
                None => Caller::Invalid("Authorization must be `Bearer <token>`".into()),
                Some(token) => match jwt.verify(token.trim()) {
                    Ok(p) => Caller::Authenticated(p),
                    Err(e) => Caller::Invalid(e.to_string()),
                },
            },
        }
    }
}

/// The API's handles (put into the schema by [`super::build_schema`]).
pub fn api<'a>(ctx: &Context<'a>) -> &'a ApiContext {
    ctx.data_unchecked::<ApiContext>()
}

pub fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::Authenticated(p)) => Ok(p),
        Some(Caller::Invalid(why)) => Err(ApiError::Unauthenticated(why.clone())),
        _ => Err(ApiError::Unauthenticated(
            "send Authorization: Bearer <token>".into(),
        )),
    }
}

/// The caller, checked for at least `min` on `project`.
pub fn authorize<'a>(
    ctx: &Context<'a>,
    min: Role,
    project: Option<Uuid>,
) -> Result<&'a Principal, ApiError> {
    let p = principal(ctx)?;
    p.require(min, project)?;
    Ok(p)
}

/// An admin whose token covers every project: needed for what spans tenants (the shared
/// dead-letter queue, the account list, creating projects).
pub fn authorize_global<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    let p = authorize(ctx, Role::Admin, None)?;
    if p.projects.is_some() {
        return Err(ApiError::Forbidden(
            "this needs an admin of all projects".into(),
        ));
    }
    Ok(p)
}
