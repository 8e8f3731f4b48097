//! Dashboard/API accounts.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use entity::account;

use super::{Db, StorageError};
use crate::auth::Role;

fn check_email(email: &str) -> Result<String, StorageError> {
    let e = email.trim().to_ascii_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(a, d)| !a.is_empty() && d.contains('.'));
    if ok {
        Ok(e)
    } else {
        Err(StorageError::Invalid(format!(
            "{email:?} is not an email address"
        )))
    }
}

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
    email: &str,
    password_hash: &str,
    role: Role,
    projects: Option<Vec<Uuid>>,
    update: bool,
) -> Result<(account::Model, bool), StorageError> {
    let email = check_email(email)?;
    if role != Role::Admin && projects.as_ref().is_none_or(|p| p.is_empty()) {
        return Err(StorageError::Invalid(format!(
            "a {} account needs at least one project",
            role.as_str()
        )));
    }
    if let Some(existing) = by_email(db, &email).await? {
        if !update {
            return Ok((existing, false));
        }
        let mut m: account::ActiveModel = existing.into();
        m.password_hash = Set(password_hash.to_string());
        m.role = Set(role.as_str().to_string());
        m.project_ids = Set(projects);
        return Ok((m.update(&db.primary).await?, false));
    }
    let m = account::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email),
        password_hash: Set(password_hash.to_string()),
        role: Set(role.as_str().to_string()),
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
    role: Role,
    projects: Option<Vec<Uuid>>,
) -> Result<Option<account::Model>, StorageError> {
    if role != Role::Admin && projects.as_ref().is_none_or(|p| p.is_empty()) {
        return Err(StorageError::Invalid(format!(
            "a {} account needs at least one project",
            role.as_str()
        )));
    }
    let Some(existing) = account::Entity::find_by_id(id).one(&db.primary).await? else {
        return Ok(None);
    };
    let mut m: account::ActiveModel = existing.into();
    m.role = Set(role.as_str().to_string());
    m.project_ids = Set(projects);
    Ok(Some(m.update(&db.primary).await?))
}
