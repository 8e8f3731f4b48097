//! Shared links: a project's read-only dashboard behind a secret token. Only the token's hash
//! is stored (`auth::share` makes tokens and hashes them); a link is revoked once and kept.

use chrono::{DateTime, Utc};
use sea_orm::FromQueryResult;
use uuid::Uuid;

use super::{exec, rows, sql, Db, StorageError};

const COLUMNS: &str = "id, project_id, label, created_by, created_at, revoked_at";

#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct ShareLink {
    pub id: Uuid,
    pub project_id: Uuid,
    pub label: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Adds a link of `project` whose token hashes to `token_hash`.
pub async fn create(
    db: &Db,
    project: Uuid,
    token_hash: &str,
    label: Option<&str>,
    created_by: &str,
) -> Result<ShareLink, StorageError> {
    let stmt = sql(
        format!(
            "INSERT INTO share_links (id, project_id, token_hash, label, created_by) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ),
        [
            Uuid::now_v7().into(),
            project.into(),
            token_hash.into(),
            label.map(str::to_string).into(),
            created_by.into(),
        ],
    );
    let mut created: Vec<ShareLink> = rows(&db.primary, stmt).await?;
    created
        .pop()
        .ok_or_else(|| sea_orm::DbErr::RecordNotInserted.into())
}

/// A project's links, revoked ones included, newest first.
pub async fn list(db: &Db, project: Uuid) -> Result<Vec<ShareLink>, StorageError> {
    rows(
        &db.primary,
        sql(
            format!(
                "SELECT {COLUMNS} FROM share_links WHERE project_id = $1 \
                 ORDER BY created_at DESC, id DESC"
            ),
            [project.into()],
        ),
    )
    .await
}

pub async fn by_id(db: &Db, id: Uuid) -> Result<Option<ShareLink>, StorageError> {
    let found: Vec<ShareLink> = rows(
        &db.primary,
        sql(
            format!("SELECT {COLUMNS} FROM share_links WHERE id = $1"),
            [id.into()],
        ),
    )
    .await?;
    Ok(found.into_iter().next())
}

/// The link whose token hashes to `token_hash` (revoked or not).
pub async fn by_token_hash(db: &Db, token_hash: &str) -> Result<Option<ShareLink>, StorageError> {
    let found: Vec<ShareLink> = rows(
        &db.primary,
        sql(
            format!("SELECT {COLUMNS} FROM share_links WHERE token_hash = $1"),
            [token_hash.into()],
        ),
    )
    .await?;
    Ok(found.into_iter().next())
}

/// Revokes the link `id` of `project`; true when it was active (false: revoked before, or no
/// such link).
pub async fn revoke(db: &Db, project: Uuid, id: Uuid) -> Result<bool, StorageError> {
    let changed = exec(
        &db.primary,
        sql(
            "UPDATE share_links SET revoked_at = now() \
             WHERE project_id = $1 AND id = $2 AND revoked_at IS NULL",
            [project.into(), id.into()],
        ),
    )
    .await?;
    Ok(changed == 1)
}
