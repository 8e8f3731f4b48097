//! Partition upkeep for `activities`: daily partitions created ahead of time, and rows that
//! landed in DEFAULT (events for days without a partition) moved into their own day.
//!
//! Safe with several workers: the SQL function takes an advisory lock and re-checks.

use super::{Db, StorageError};

/// Ensures partitions from yesterday to `days_ahead` days after today (UTC), and one for every
/// day that has rows waiting in DEFAULT. Returns how many partitions were created.
pub async fn maintain(db: &Db, days_ahead: u32) -> Result<u32, StorageError> {
    let (ahead,): (i64,) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE created) FROM (
             SELECT sightline_ensure_day_partition((now() AT TIME ZONE 'UTC')::date + d) AS created
             FROM generate_series(-1, $1::int) AS d) s",
    )
    .bind(days_ahead as i32)
    .fetch_one(db.pool())
    .await?;
    let (drained,): (i64,) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE created) FROM (
             SELECT sightline_ensure_day_partition(day) AS created
             FROM (SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date AS day FROM activities_default) d) s",
    )
    .fetch_one(db.pool())
    .await?;
    Ok((ahead + drained) as u32)
}
