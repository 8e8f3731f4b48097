//! The audit log: who did what, when, from which IP, to which projects. Entries are only added
//! (the API has no way to change or delete one).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{rows, sql, Db, StorageError};
use crate::domain::TrackedUserId;

const PAGE_SQL: &str = include_str!("sql/audit_page.sql");

/// An entry to add.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// The token's subject, or the email a login was attempted for.
    pub actor: String,
    /// `project.create`, `account.disable`, `login.failure`, ...
    pub action: &'static str,
    /// The projects concerned (empty: the whole installation).
    pub project_ids: Vec<Uuid>,
    pub target: Option<String>,
    pub ip: Option<IpAddr>,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, FromQueryResult)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub project_ids: Vec<Uuid>,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

/// How an entry names a purged user: a hash of their id, not the id the purge removed
/// everywhere else.
pub fn purged_user_target(user: &TrackedUserId) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(user.as_str())))
}

pub async fn record(db: &Db, e: NewEntry) -> Result<(), StorageError> {
    db.primary
        .execute(sql(
            "INSERT INTO audit_log (actor, action, project_ids, target, ip, detail) \
             VALUES ($1, $2, $3, $4, $5::inet, $6)",
            [
                e.actor.into(),
                e.action.into(),
                e.project_ids.into(),
                e.target.into(),
                e.ip.map(|ip| ip.to_string()).into(),
                e.detail.into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Which entries a reader sees: all (an admin of all projects) or those within `projects`.
#[derive(Debug, Clone, Copy)]
pub enum Visible<'a> {
    All,
    Within(&'a [Uuid]),
}

/// Up to `limit` entries older than `before` (newest first), those `visible` to the reader,
/// concerning `project` when given.
pub async fn page(
    db: &Db,
    visible: Visible<'_>,
    project: Option<Uuid>,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<Entry>, StorageError> {
    let (all, within) = match visible {
        Visible::All => (true, Vec::new()),
        Visible::Within(ids) => (false, ids.to_vec()),
    };
    rows(
        &db.primary,
        sql(
            PAGE_SQL,
            [
                all.into(),
                within.into(),
                project.into(),
                before.into(),
                (limit as i64).into(),
            ],
        ),
    )
    .await
}
