//! Dashboard/API accounts.

use chrono::Utc;
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
        m.password_hash = Set(password_hash.to_string());
        m.role = Set(scope.role().as_str().to_string());
        m.project_ids = Set(projects);
        return Ok((m.update(&db.primary).await?, false));
    }
    let m = account::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.as_str().to_string()),
        password_hash: Set(password_hash.to_string()),
        role: Set(scope.role().as_str().to_string()),
        project_ids: Set(projects),
        created_at: Set(Utc::now().into()),
    }
    .insert(&db.primary)
    .await?;
    Ok((m, true))
}

pub async fn list(db: &Db) -> Result<Vec<account::Model>, StorageError> {
    Ok(account::Entity::find()
        .order_by_asc(account::Column::CreatedAt)
        .all(&db.primary)
        .await?)
}

pub async fn set_role(
    db: &Db,
    id: Uuid,
    scope: &AccountScope,
) -> Result<Option<account::Model>, StorageError> {
    let Some(existing) = account::Entity::find_by_id(id).one(&db.primary).await? else {
        return Ok(None);
    };
    let mut m: account::ActiveModel = existing.into();
    m.role = Set(scope.role().as_str().to_string());
    m.project_ids = Set(scope.projects().map(<[Uuid]>::to_vec));
    Ok(Some(m.update(&db.primary).await?))
}
