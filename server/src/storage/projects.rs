//! Tenant records: creating projects and their keys, looking keys up, changing settings.

use chrono::Utc;
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use entity::project;

use super::{Db, StorageError};
use crate::domain::{Origin, ProjectName, RetentionDays};
use crate::privacy::IpStorage;

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
    name: &ProjectName,
    allowed_origins: &[Origin],
) -> Result<(project::Model, ProjectKeys), StorageError> {
    let keys = new_keys();
    let model = project::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.as_str().to_string()),
        public_key: Set(keys.public_key.clone()),
        secret_key_hash: Set(hash_secret(&keys.secret_key)),
        allowed_origins: Set(origin_list(allowed_origins)),
        retention_days: Set(90),
        rollup_retention_days: Set(400),
        created_at: Set(Utc::now().into()),
        ip_storage: Set(IpStorage::default().as_str().to_string()),
    }
    .insert(&db.primary)
    .await?;
    Ok((model, keys))
}

/// Origins as stored: compared exactly with the browser's `Origin` header.
fn origin_list(origins: &[Origin]) -> Vec<String> {
    origins.iter().map(|o| o.as_str().to_string()).collect()
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

/// The settings an update changes (`None`: left as they are).
#[derive(Debug, Default, Clone)]
pub struct ProjectUpdate {
    pub name: Option<ProjectName>,
    pub allowed_origins: Option<Vec<Origin>>,
    pub retention_days: Option<RetentionDays>,
    pub rollup_retention_days: Option<RetentionDays>,
    pub ip_storage: Option<IpStorage>,
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
        m.name = Set(name.as_str().to_string());
    }
    if let Some(origins) = change.allowed_origins {
        m.allowed_origins = Set(origin_list(&origins));
    }
    if let Some(v) = change.retention_days {
        m.retention_days = Set(v.get());
    }
    if let Some(v) = change.rollup_retention_days {
        m.rollup_retention_days = Set(v.get());
    }
    if let Some(v) = change.ip_storage {
        m.ip_storage = Set(v.as_str().to_string());
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

/// What of visitors' IP addresses the project stores (`None`: no such project).
pub async fn ip_storage(db: &Db, id: Uuid) -> Result<Option<IpStorage>, StorageError> {
    // The column's CHECK allows only the three names; anything else would be a schema drift,
    // and the default (truncated) is the safe reading of it.
    Ok(by_id(db, id)
        .await?
        .map(|p| p.ip_storage.parse().unwrap_or_default()))
}
