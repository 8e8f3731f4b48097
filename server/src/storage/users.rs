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
use uuid::Uuid;

use super::{Db, StorageError};

/// Shard holding corrections (purges); writers use their lane number (0 and up).
pub const CORRECTION_SHARD: i16 = -1;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub events: u64,
    pub users: u64,
}

const DELETE_AND_CORRECT: &str = concat!(
    r#"
WITH del AS (
    DELETE FROM activities WHERE project_id = $1 AND user_id = $2
    RETURNING project_id, event_type, user_id, anonymous_id, session_id, entity_type, entity_id,
              path, referrer, metadata, occurred_at
), minute_dn AS (
    INSERT INTO rollup_minute AS r (project_id, bucket, event_type, shard, events)
    SELECT project_id, date_trunc('minute', occurred_at, 'UTC'), event_type, $3, -count(*)
    FROM del GROUP BY 1, 2, 3
    ON CONFLICT (project_id, bucket, event_type, shard) DO UPDATE SET events = r.events + EXCLUDED.events
), hour_cells AS MATERIALIZED (
    "#,
    rollup_hour_cells_sql!("del"),
    r#"
), hour_dn AS (
    INSERT INTO rollup_hour AS r (project_id, bucket, event_type, dim, key, shard, events)
    SELECT project_id, hour, event_type, dim, key, $3, -n FROM hour_cells
    ON CONFLICT (project_id, bucket, event_type, dim, key, shard) DO UPDATE SET events = r.events + EXCLUDED.events
), day_dn AS (
    INSERT INTO rollup_day AS r (project_id, bucket, event_type, dim, key, shard, events)
    SELECT project_id, date_trunc('day', hour, 'UTC'), event_type, dim, key, $3, -sum(n)::bigint FROM hour_cells GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (project_id, bucket, event_type, dim, key, shard) DO UPDATE SET events = r.events + EXCLUDED.events
), scroll AS MATERIALIZED (
    -- Materialized so `depth`/`prev` are computed once per row (see events.rs).
    SELECT project_id, date_trunc('hour', occurred_at, 'UTC') AS hour, p.path,
           LEAST(GREATEST(COALESCE(sightline_int(metadata->>'depth'), 0), 0), 100) AS depth,
           LEAST(GREATEST(COALESCE(sightline_int(metadata->>'prev'), 0), 0), 100) AS prev
    FROM del CROSS JOIN LATERAL (VALUES (COALESCE(del.path, '')), ('*')) AS p(path)
    WHERE event_type = 'page.scroll'
), scroll_sums AS (
    SELECT project_id, hour, path,
           -count(*) FILTER (WHERE prev = 0) AS views, -sum(GREATEST(depth - prev, 0)) AS depth_sum,
           -count(*) FILTER (WHERE prev < 25 AND depth >= 25) AS r25, -count(*) FILTER (WHERE prev < 50 AND depth >= 50) AS r50,
           -count(*) FILTER (WHERE prev < 75 AND depth >= 75) AS r75, -count(*) FILTER (WHERE prev < 100 AND depth >= 100) AS r100
    FROM scroll GROUP BY 1, 2, 3
), scroll_hour_dn AS (
    INSERT INTO rollup_scroll_hour AS r (project_id, bucket, path, shard, views, depth_sum,
        reached25, reached50, reached75, reached100)
    SELECT project_id, hour, path, $3, views, depth_sum, r25, r50, r75, r100 FROM scroll_sums
    ON CONFLICT (project_id, bucket, path, shard) DO UPDATE
        SET views = r.views + EXCLUDED.views, depth_sum = r.depth_sum + EXCLUDED.depth_sum,
            reached25 = r.reached25 + EXCLUDED.reached25, reached50 = r.reached50 + EXCLUDED.reached50,
            reached75 = r.reached75 + EXCLUDED.reached75, reached100 = r.reached100 + EXCLUDED.reached100
), scroll_day_dn AS (
    INSERT INTO rollup_scroll_day AS r (project_id, bucket, path, shard, views, depth_sum,
        reached25, reached50, reached75, reached100)
    SELECT project_id, date_trunc('day', hour, 'UTC'), path, $3, sum(views), sum(depth_sum),
           sum(r25), sum(r50), sum(r75), sum(r100)
    FROM scroll_sums GROUP BY 1, 2, 3
    ON CONFLICT (project_id, bucket, path, shard) DO UPDATE
        SET views = r.views + EXCLUDED.views, depth_sum = r.depth_sum + EXCLUDED.depth_sum,
            reached25 = r.reached25 + EXCLUDED.reached25, reached50 = r.reached50 + EXCLUDED.reached50,
            reached75 = r.reached75 + EXCLUDED.reached75, reached100 = r.reached100 + EXCLUDED.reached100
)
SELECT (SELECT count(*) FROM del)::bigint,
       COALESCE((SELECT array_agg(DISTINCT date_trunc('hour', occurred_at, 'UTC')) FROM del), '{}'),
       COALESCE((SELECT array_agg(DISTINCT session_id) FROM del WHERE session_id IS NOT NULL), '{}')
"#
);

/// Deletes the given sessions and takes them out of `rollup_sessions_hour` (correction shard).
const DELETE_SESSIONS: &str = r#"
WITH gone AS (
    DELETE FROM sessions WHERE project_id = $1 AND session_id = ANY($2)
    RETURNING started_at, page_views
)
INSERT INTO rollup_sessions_hour AS r (project_id, bucket, shard, sessions, bounced)
SELECT $1, date_trunc('hour', started_at, 'UTC'), $3, -count(*), -(count(*) FILTER (WHERE page_views <= 1))
FROM gone GROUP BY 2 ORDER BY 2
ON CONFLICT (project_id, bucket, shard) DO UPDATE
    SET sessions = r.sessions + EXCLUDED.sessions, bounced = r.bounced + EXCLUDED.bounced
"#;

/// Recomputes the given sessions (deleted just before) from the raw events left, and adds them
/// back to `rollup_sessions_hour` (correction shard).
const REBUILD_SESSIONS: &str = r#"
WITH built AS (
    INSERT INTO sessions (project_id, session_id, actor, started_at, last_seen, page_views, events)
    SELECT $1, session_id, min(COALESCE(user_id, anonymous_id)), min(occurred_at), max(occurred_at),
           count(*) FILTER (WHERE event_type = 'page.view'), count(*)
    FROM activities WHERE project_id = $1 AND session_id = ANY($2)
    GROUP BY session_id
    RETURNING started_at, page_views
)
INSERT INTO rollup_sessions_hour AS r (project_id, bucket, shard, sessions, bounced)
SELECT $1, date_trunc('hour', started_at, 'UTC'), $3, count(*), count(*) FILTER (WHERE page_views <= 1)
FROM built GROUP BY 2 ORDER BY 2
ON CONFLICT (project_id, bucket, shard) DO UPDATE
    SET sessions = r.sessions + EXCLUDED.sessions, bounced = r.bounced + EXCLUDED.bounced
"#;

/// Deletes a tracked user (by the site's user id) and everything derived from their events.
pub async fn purge(db: &Db, project: Uuid, external_id: &str) -> Result<Purged, StorageError> {
    let external_id = external_id.trim();
    if external_id.is_empty() {
        return Err(StorageError::Invalid("userId must not be empty".into()));
    }
    let mut tx = db.pool().begin().await?;
    let (events, hours, sessions): (i64, Vec<DateTime<Utc>>, Vec<String>) =
        sqlx::query_as(DELETE_AND_CORRECT)
            .bind(project)
            .bind(external_id)
            .bind(CORRECTION_SHARD)
            .fetch_one(&mut *tx)
            .await?;
    super::rollups::rebuild_sketches(&mut tx, project, &hours).await?;
    if !sessions.is_empty() {
        // Two statements: a CTE's delete is invisible to its own statement's insert.
        for sql in [DELETE_SESSIONS, REBUILD_SESSIONS] {
            sqlx::query(sql)
                .bind(project)
                .bind(&sessions)
                .bind(CORRECTION_SHARD)
                .execute(&mut *tx)
                .await?;
        }
    }
    sqlx::query("DELETE FROM actor_activity WHERE project_id = $1 AND actor = $2")
        .bind(project)
        .bind(external_id)
        .execute(&mut *tx)
        .await?;
    // Remembered (hashed) so a restore of archived days withholds their events.
    sqlx::query(
        "INSERT INTO purged_users (project_id, user_hash) VALUES ($1, sightline_user_hash($2)) \
         ON CONFLICT (project_id, user_hash) DO UPDATE SET purged_at = now()",
    )
    .bind(project)
    .bind(external_id)
    .execute(&mut *tx)
    .await?;
    let users = sqlx::query("DELETE FROM users WHERE project_id = $1 AND external_id = $2")
        .bind(project)
        .bind(external_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    tracing::info!(%project, events, users, "purged a tracked user");
    Ok(Purged {
        events: events as u64,
        users,
    })
}
