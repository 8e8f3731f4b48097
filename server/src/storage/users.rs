//! Tracked users: the GDPR delete.
//!
//! Purging removes the user's raw events and profile and takes their share out of every
//! aggregate in the same transaction: additive rollups get negative corrections (in shard -1,
//! so readers' sums stay exact), HyperLogLog sketches of the affected hours and days are rebuilt
//! from the remaining raw events (sketches cannot subtract), sessions the user touched are
//! recomputed, and their `actor_activity` row goes. A hash of their id is kept in
//! `purged_users`, so restoring an archived day never brings their events back (see
//! `archive`).

use chrono::{DateTime, Utc};
use sea_orm::{FromQueryResult, TransactionTrait};
use uuid::Uuid;

use super::{exec, rows, sql, Db, StorageError};
use crate::domain::TrackedUserId;

/// Shard holding corrections (purges); writers use their lane number (0 and up).
pub const CORRECTION_SHARD: i16 = -1;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub events: u64,
    pub users: u64,
}

/// The purge's first statement: events deleted, rollups corrected (see the file).
const DELETE_AND_CORRECT: &str = include_str!("sql/purge_user.sql");
/// The user's sessions deleted and taken out of `rollup_sessions_hour`.
const DELETE_SESSIONS: &str = include_str!("sql/purge_sessions_delete.sql");
/// The same sessions rebuilt from the raw events left, and added back.
const REBUILD_SESSIONS: &str = include_str!("sql/purge_sessions_rebuild.sql");

/// What the first statement reports.
#[derive(FromQueryResult)]
struct Deleted {
    events: i64,
    hours: Vec<DateTime<Utc>>,
    sessions: Vec<String>,
}

/// Deletes a tracked user (by the site's user id) and everything derived from their events.
pub async fn purge(db: &Db, project: Uuid, user: &TrackedUserId) -> Result<Purged, StorageError> {
    let external_id = user.as_str();
    let tx = db.primary.begin().await?;
    let deleted: Vec<Deleted> = rows(
        &tx,
        sql(
            DELETE_AND_CORRECT,
            [project.into(), external_id.into(), CORRECTION_SHARD.into()],
        ),
    )
    .await?;
    let Some(Deleted {
        events,
        hours,
        sessions,
    }) = deleted.into_iter().next()
    else {
        return Err(sea_orm::DbErr::RecordNotFound("the purge reported nothing".into()).into());
    };
    super::rollups::rebuild_sketches(&tx, project, &hours).await?;
    if !sessions.is_empty() {
        // Two statements: a CTE's delete is invisible to its own statement's insert.
        for text in [DELETE_SESSIONS, REBUILD_SESSIONS] {
            let values = [
                project.into(),
                sessions.clone().into(),
                CORRECTION_SHARD.into(),
            ];
            exec(&tx, sql(text, values)).await?;
        }
    }
    exec(
        &tx,
        sql(
            "DELETE FROM identities WHERE project_id = $1 AND user_id = $2",
            [project.into(), external_id.into()],
        ),
    )
    .await?;
    exec(
        &tx,
        sql(
            "DELETE FROM actor_activity WHERE project_id = $1 AND actor = $2",
            [project.into(), external_id.into()],
        ),
    )
    .await?;
    // Remembered (hashed) so a restore of archived days withholds their events. (EXCLUDED's
    // time, not now(): Citus refuses functions that are not IMMUTABLE in ON CONFLICT's SET.)
    exec(
        &tx,
        sql(
            "INSERT INTO purged_users (project_id, user_hash) VALUES ($1, sightline_user_hash($2)) \
             ON CONFLICT (project_id, user_hash) DO UPDATE SET purged_at = EXCLUDED.purged_at",
            [project.into(), external_id.into()],
        ),
    )
    .await?;
    let users = exec(
        &tx,
        sql(
            "DELETE FROM users WHERE project_id = $1 AND external_id = $2",
            [project.into(), external_id.into()],
        ),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%project, events, users, "purged a tracked user");
    Ok(Purged {
        events: events as u64,
        users,
    })
}
