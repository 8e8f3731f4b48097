//! Partition upkeep for `activities`: partitions (a day, an ISO week or a month each:
//! `SIGHTLINE_PARTITION_GRANULARITY`) created ahead of time, and rows that landed in DEFAULT
//! (events for days without a partition) moved into their own partition.
//!
//! Safe with several workers: the SQL function takes an advisory lock and re-checks. Changing
//! the granularity is safe too: where a wider partition would overlap existing ones, the
//! function makes day partitions until the ranges line up.

use crate::config::PartitionUnit;

use super::{column, one, sql, Db, StorageError};

/// [`maintain_with`] for daily partitions.
pub async fn maintain(db: &Db, days_ahead: u32) -> Result<u32, StorageError> {
    maintain_with(db, days_ahead, PartitionUnit::Day).await
}

/// Ensures partitions covering yesterday to `days_ahead` days after today (UTC), and one for
/// every day that has rows waiting in DEFAULT. Returns how many partitions were created.
pub async fn maintain_with(
    db: &Db,
    days_ahead: u32,
    unit: PartitionUnit,
) -> Result<u32, StorageError> {
    // One statement per day, in order: each sees the partitions the previous ones made.
    let mut created = 0;
    for d in -1..=(days_ahead as i32) {
        let made: bool = one(
            &db.primary,
            sql(
                "SELECT sightline_ensure_partition((now() AT TIME ZONE 'UTC')::date + $1, $2)",
                [d.into(), unit.as_sql().into()],
            ),
        )
        .await?;
        created += u32::from(made);
    }
    let waiting: Vec<chrono::NaiveDate> = column(
        &db.primary,
        sql(
            "SELECT DISTINCT (occurred_at AT TIME ZONE 'UTC')::date FROM activities_default ORDER BY 1",
            [],
        ),
    )
    .await?;
    for day in waiting {
        let made: bool = one(
            &db.primary,
            sql(
                "SELECT sightline_ensure_partition($1, $2)",
                [day.into(), unit.as_sql().into()],
            ),
        )
        .await?;
        created += u32::from(made);
    }
    Ok(created)
}
