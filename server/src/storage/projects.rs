//! Tenant records: creating projects and their keys, looking keys up, changing settings.

use chrono::Utc;
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use entity::project;

use super::{Db, StorageError};

/// A project's keys as created or rotated: the secret is shown once, then only its hash is kept.
#[derive(Debug, Clone)]
pub struct ProjectKeys {
    pub public_key: String,
    pub secret_key: String,
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// SHA-256 hex of a secret key: how it is stored and looked up.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_keys() -> ProjectKeys {
    ProjectKeys {
        public_key: random_token("pk_"),
        secret_key: random_token("sk_"),
    }
}

pub async fn create(
    db: &Db,
    name: &str,
    allowed_origins: Vec<String>,
) -> Result<(project::Model, ProjectKeys), StorageError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(StorageError::Invalid(
            "name must be 1 to 200 characters".into(),
        ));
    }
    let origins = normalize_origins(allowed_origins)?;
    let keys = new_keys();
    let model = project::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_string()),
        public_key: Set(keys.public_key.clone()),
        secret_key_hash: Set(hash_secret(&keys.secret_key)),
        allowed_origins: Set(origins),
        retention_days: Set(90),
        rollup_retention_days: Set(400),
        created_at: Set(Utc::now().into()),
    }
    .insert(&db.primary)
    .await?;
    Ok((model, keys))
}

/// Origins are compared exactly with the browser's `Origin` header: scheme://host[:port].
pub fn normalize_origins(origins: Vec<String>) -> Result<Vec<String>, StorageError> {
    origins
        .into_iter()
        .map(|o| {
            let o = o.trim().trim_end_matches('/').to_ascii_lowercase();
            let ok = (o.starts_with("http://") || o.starts_with("https://"))
                && !o["https://".len().min(o.len())..].contains('/')
                && o.len() <= 255;
            if ok || o == "*" {
                Ok(o)
            } else {
                Err(StorageError::Invalid(format!(
                    "allowed origin {o:?} must look like https://shop.example or http://localhost:3000"
                )))
            }
        })
        .collect()
}

pub async fn by_public_key(db: &Db, key: &str) -> Result<Option<project::Model>, StorageError> {
    Ok(project::Entity::find()
        .filter(project::Column::PublicKey.eq(key))
        .one(&db.primary)
        .await?)
}

pub async fn by_secret_key(db: &Db, secret: &str) -> Result<Option<project::Model>, StorageError> {
    Ok(project::Entity::find()
        .filter(project::Column::SecretKeyHash.eq(hash_secret(secret)))
        .one(&db.primary)
        .await?)
}

pub async fn by_id(db: &Db, id: Uuid) -> Result<Option<project::Model>, StorageError> {
    Ok(project::Entity::find_by_id(id).one(&db.primary).await?)
}

pub async fn by_name(db: &Db, name: &str) -> Result<Option<project::Model>, StorageError> {
    Ok(project::Entity::find()
        .filter(project::Column::Name.eq(name))
        .order_by_asc(project::Column::CreatedAt)
        .one(&db.primary)
        .await?)
}

/// All projects, or only `ids` when given.
pub async fn list(db: &Db, ids: Option<&[Uuid]>) -> Result<Vec<project::Model>, StorageError> {
    let mut q = project::Entity::find().order_by_asc(project::Column::CreatedAt);
    if let Some(ids) = ids {
        q = q.filter(project::Column::Id.is_in(ids.to_vec()));
    }
    Ok(q.all(&db.primary).await?)
}

#[derive(Debug, Default, Clone)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub retention_days: Option<i32>,
    pub rollup_retention_days: Option<i32>,
}

pub async fn update(
    db: &Db,
    id: Uuid,
    change: ProjectUpdate,
) -> Result<Option<project::Model>, StorageError> {
    let Some(existing) = by_id(db, id).await? else {
        return Ok(None);
    };
    let mut m: project::ActiveModel = existing.into();
    if let Some(name) = change.name {
        if name.trim().is_empty() || name.len() > 200 {
            return Err(StorageError::Invalid(
                "name must be 1 to 200 characters".into(),
            ));
        }
        m.name = Set(name.trim().to_string());
    }
    if let Some(origins) = change.allowed_origins {
        m.allowed_origins = Set(normalize_origins(origins)?);
    }
    for (value, field) in [
        (change.retention_days, "retentionDays"),
        (change.rollup_retention_days, "rollupRetentionDays"),
    ] {
        if let Some(v) = value {
            if !(1..=3650).contains(&v) {
                return Err(StorageError::Invalid(format!(
                    "{field} must be between 1 and 3650"
                )));
            }
        }
    }
    if let Some(v) = change.retention_days {
        m.retention_days = Set(v);
    }
    if let Some(v) = change.rollup_retention_days {
        m.rollup_retention_days = Set(v);
    }
    Ok(Some(m.update(&db.primary).await?))
}

/// New public and secret keys; the old ones stop working (after the ingest key cache expires).
pub async fn rotate_keys(
    db: &Db,
    id: Uuid,
) -> Result<Option<(project::Model, ProjectKeys)>, StorageError> {
    let Some(existing) = by_id(db, id).await? else {
        return Ok(None);
    };
    let keys = new_keys();
    let mut m: project::ActiveModel = existing.into();
    m.public_key = Set(keys.public_key.clone());
    m.secret_key_hash = Set(hash_secret(&keys.secret_key));
    Ok(Some((m.update(&db.primary).await?, keys)))
}
