//! Dashboard/API accounts.
//!
//! Every change that must end the account's sessions (role, password, disable, "sign out
//! everywhere") raises `token_version` in the same statement: tokens carry the version they
//! were issued with, and `auth::revocation` refuses older ones.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use entity::account;

use super::{Db, StorageError};
use crate::domain::{AccountScope, Email};

pub async fn by_email(db: &Db, email: &str) -> Result<Option<account::Model>, StorageError> {
    Ok(account::Entity::find()
        .filter(account::Column::Email.eq(email.trim().to_ascii_lowercase()))
        .one(&db.primary)
        .await?)
}

/// Creates an account; when it exists, resets it if `update`, else leaves it. Returns the
/// account and whether it was created.
pub async fn upsert(
    db: &Db,
    email: &Email,
    password_hash: &str,
    scope: &AccountScope,
    update: bool,
) -> Result<(account::Model, bool), StorageError> {
    let projects = scope.projects().map(<[Uuid]>::to_vec);
    if let Some(existing) = by_email(db, email.as_str()).await? {
        if !update {
            return Ok((existing, false));
        }
        let mut m: account::ActiveModel = existing.into();
        m.password_hash = Set(Some(password_hash.to_string()));
        m.role = Set(scope.role().as_str().to_string());
        m.project_ids = Set(projects);
        m.token_version = Set(existing_version(&m) + 1);
        return Ok((m.update(&db.primary).await?, false));
    }
    let m = account::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.as_str().to_string()),
        password_hash: Set(Some(password_hash.to_string())),
        role: Set(scope.role().as_str().to_string()),
        project_ids: Set(projects),
        created_at: Set(Utc::now().into()),
        ..Default::default()
    }
    .insert(&db.primary)
    .await?;
    Ok((m, true))
}

/// The account single sign-on knows by the provider's `issuer` and `subject`.
pub async fn by_oidc(
    db: &Db,
    issuer: &str,
    subject: &str,
) -> Result<Option<account::Model>, StorageError> {
    Ok(account::Entity::find()
        .filter(account::Column::OidcIssuer.eq(issuer))
        .filter(account::Column::OidcSubject.eq(subject))
        .one(&db.primary)
        .await?)
}

/// Links the account to a provider identity, unless it is linked already (to this one or
/// another): `None` then, so two sign-ins racing to link one account cannot both win.
pub async fn link_oidc(
    db: &Db,
    id: Uuid,
    issuer: &str,
    subject: &str,
) -> Result<Option<account::Model>, StorageError> {
    let linked = account::Entity::update_many()
        .col_expr(account::Column::OidcIssuer, Expr::value(issuer))
        .col_expr(account::Column::OidcSubject, Expr::value(subject))
        .filter(account::Column::Id.eq(id))
        .filter(account::Column::OidcSubject.is_null())
        .exec_with_returning(&db.primary)
        .await?;
    Ok(linked.into_iter().next())
}

/// Creates an account for a provider identity, with no password.
pub async fn create_oidc(
    db: &Db,
    email: &Email,
    scope: &AccountScope,
    issuer: &str,
    subject: &str,
) -> Result<account::Model, StorageError> {
    Ok(account::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.as_str().to_string()),
        password_hash: Set(None),
        role: Set(scope.role().as_str().to_string()),
        project_ids: Set(scope.projects().map(<[Uuid]>::to_vec)),
        created_at: Set(Utc::now().into()),
        oidc_issuer: Set(Some(issuer.to_string())),
        oidc_subject: Set(Some(subject.to_string())),
        ..Default::default()
    }
    .insert(&db.primary)
    .await?)
}

pub async fn list(db: &Db) -> Result<Vec<account::Model>, StorageError> {
    Ok(account::Entity::find()
        .order_by_asc(account::Column::CreatedAt)
        .all(&db.primary)
        .await?)
}

pub async fn by_id(db: &Db, id: Uuid) -> Result<Option<account::Model>, StorageError> {
    Ok(account::Entity::find_by_id(id).one(&db.primary).await?)
}

fn existing_version(m: &account::ActiveModel) -> i32 {
    match &m.token_version {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => *v,
        sea_orm::ActiveValue::NotSet => 0,
    }
}

/// What [`change`] does besides revoking the account's tokens.
pub enum Change<'a> {
    /// New role and projects.
    Scope(&'a AccountScope),
    /// A new password (its hash).
    Password(&'a str),
    /// Disabled (login refused) or enabled again.
    Disabled(bool),
    /// Nothing else: "sign out everywhere".
    SignOut,
}

/// Applies `change` and raises the token version, in one statement; `None` when there is no
/// such account.
pub async fn change(
    db: &Db,
    id: Uuid,
    change: Change<'_>,
) -> Result<Option<account::Model>, StorageError> {
    let mut update = account::Entity::update_many()
        .col_expr(
            account::Column::TokenVersion,
            Expr::col(account::Column::TokenVersion).add(1),
        )
        .filter(account::Column::Id.eq(id));
    update = match change {
        Change::Scope(scope) => update
            .col_expr(account::Column::Role, Expr::value(scope.role().as_str()))
            .col_expr(
                account::Column::ProjectIds,
                Expr::value(scope.projects().map(<[Uuid]>::to_vec)),
            ),
        Change::Password(hash) => {
            update.col_expr(account::Column::PasswordHash, Expr::value(Some(hash)))
        }
        Change::Disabled(true) => update.col_expr(
            account::Column::DisabledAt,
            Expr::value(Some(chrono::DateTime::<chrono::FixedOffset>::from(
                Utc::now(),
            ))),
        ),
        Change::Disabled(false) => update.col_expr(
            account::Column::DisabledAt,
            Expr::value(Option::<chrono::DateTime<chrono::FixedOffset>>::None),
        ),
        Change::SignOut => update,
    };
    Ok(update.exec_with_returning(&db.primary).await?.pop())
}

/// Deletes the account; false when there was none.
pub async fn delete(db: &Db, id: Uuid) -> Result<bool, StorageError> {
    let r = account::Entity::delete_by_id(id).exec(&db.primary).await?;
    Ok(r.rows_affected > 0)
}
