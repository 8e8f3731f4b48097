//! What every resolver gets: the app state and the caller, plus the checks they apply.

use async_graphql::Context;
use uuid::Uuid;

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{Principal, Role};

/// The caller as the transport saw it.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    Authenticated(Principal),
    Invalid(String),
}

impl Caller {
    pub fn from_authorization(state: &AppState, header: Option<&str>) -> Self {
        match header.map(str::trim) {
            None | Some("") => Caller::Anonymous,
            Some(h) => match h
                .strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
            {
                None => Caller::Invalid("Authorization must be `Bearer <token>`".into()),
                Some(token) => match state.jwt.verify(token.trim()) {
                    Ok(p) => Caller::Authenticated(p),
                    Err(e) => Caller::Invalid(e.to_string()),
                },
            },
        }
    }
}

pub fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
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
