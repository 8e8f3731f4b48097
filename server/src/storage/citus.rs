//! Citus (distributed PostgreSQL): spreading the schema over a cluster by project.
//!
//! `sightline migrate --citus` runs [`distribute`] on the coordinator after the migrations:
//! every table with a `project_id` column becomes a distributed table colocated with
//! `activities`, every other one a reference table (`sql/citus_distribute.sql`, driven by the
//! catalog so tables of later migrations are covered by the next run). Nothing else in the
//! product branches on Citus: the statements are written so both a single node and a cluster
//! run them (each place Citus constrained says so beside the SQL), and the one Citus-only step of
//! partition creation lives in `sightline_ensure_partition` (migration 0012).

use sea_orm::ConnectionTrait;

use super::{one, sql, Db, StorageError};

/// The distribution step (see the file's header). Idempotent.
const DISTRIBUTE_SQL: &str = include_str!("sql/citus_distribute.sql");

/// How the schema is spread, after [`distribute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Tables distributed by `project_id`, partitions of `activities` included.
    pub distributed: i64,
    /// Tables copied to every node.
    pub reference: i64,
    /// Worker nodes holding shards.
    pub workers: i64,
}

/// Whether the database is a Citus coordinator (the `citus` extension is installed).
pub async fn is_coordinator(db: &Db) -> Result<bool, StorageError> {
    one(
        &db.primary,
        sql(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
            [],
        ),
    )
    .await
}

/// Distributes the schema over the cluster (see the file's header).
pub async fn distribute(db: &Db) -> Result<(), StorageError> {
    db.primary.execute_unprepared(DISTRIBUTE_SQL).await?;
    Ok(())
}

/// The current layout (zero everywhere before [`distribute`]).
pub async fn layout(db: &Db) -> Result<Layout, StorageError> {
    let row = db
        .primary
        .query_one(sql(
            "SELECT (SELECT count(*) FROM pg_dist_partition WHERE partmethod = 'h'), \
                    (SELECT count(*) FROM pg_dist_partition WHERE partmethod = 'n'), \
                    (SELECT count(*) FROM pg_dist_node WHERE shouldhaveshards AND isactive \
                       AND noderole = 'primary' AND groupid <> 0)",
            [],
        ))
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("layout".into()))?;
    Ok(Layout {
        distributed: row.try_get_by_index(0)?,
        reference: row.try_get_by_index(1)?,
        workers: row.try_get_by_index(2)?,
    })
}
