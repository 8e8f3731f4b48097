//! SeaORM migrations for Sightline's schema.
//!
//! The schema is written as plain SQL files in `sql/` (partitioned tables, partial indexes and
//! PL/pgSQL functions are beyond the schema builder); each migration runs its `.up.sql` file (or
//! `.down.sql` to revert) as one batch. Invariant: a migration, once released, is never edited:
//! add a new one. The names are what `seaql_migrations` records, so they never change either.

pub use sea_orm_migration::prelude::*;

/// A migration that is one SQL file each way.
struct SqlMigration {
    name: &'static str,
    up: &'static str,
    down: &'static str,
}

/// `sql_migration!(name, file)`: the migration `name` running `sql/<file>.up.sql` /
/// `sql/<file>.down.sql`.
macro_rules! sql_migration {
    ($name:literal, $file:literal) => {
        Box::new(SqlMigration {
            name: $name,
            up: include_str!(concat!("../sql/", $file, ".up.sql")),
            down: include_str!(concat!("../sql/", $file, ".down.sql")),
        })
    };
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            // Tenants, accounts, the tracked people and groups, and the time-partitioned
            // `activities` table.
            sql_migration!("m20261124_000001_init", "0001_init"),
            // Incremental rollups (minute/hour/day counts, HyperLogLog uniques, scroll,
            // sessions, actor days) and the metadata GIN index.
            sql_migration!("m20261124_000002_rollups", "0002_rollups"),
            // Retention and archive bookkeeping: archived parts, restored days, rollup horizons.
            sql_migration!("m20261125_000003_archive", "0003_archive"),
            // Partition granularity: day, ISO week or month partitions of `activities`.
            sql_migration!(
                "m20261125_000004_partition_granularity",
                "0004_partition_granularity"
            ),
            // Purged users remembered (hashed) so archive restores withhold their events.
            sql_migration!("m20261125_000005_purged_users", "0005_purged_users"),
            // Partition creation locks the parent while rows move out of DEFAULT (no reader
            // misses them).
            sql_migration!(
                "m20261201_000006_partition_move_lock",
                "0006_partition_move_lock"
            ),
            // Recent purges of a project found by index (the write statement asks per batch).
            sql_migration!("m20261202_000007_recent_purges", "0007_recent_purges"),
            // The definitions write, purge, recount and raw reads share (rollup dimensions,
            // scroll measures) as SQL functions; `activities.id` dropped.
            sql_migration!(
                "m20261203_000008_shared_definitions",
                "0008_shared_definitions"
            ),
            // Audience: visit attributes on events and sessions, identity links, and the
            // breakdown rollups (`rollup_audience_hour/day`, bot traffic apart).
            sql_migration!("m20261203_000009_audience", "0009_audience"),
            // Client IPs stored truncated by default (`projects.ip_storage`).
            sql_migration!("m20261203_000010_privacy", "0010_privacy"),
            // Revocable sessions (`accounts.token_version`, `disabled_at`) and the audit log.
            sql_migration!("m20261203_000011_accounts", "0011_accounts"),
            // Citus: partition creation drops the coordinator's local copy of moved rows (the
            // distribution itself runs after migrations: `sightline migrate --citus`).
            sql_migration!("m20261203_000012_citus", "0012_citus"),
            // Journeys: a session's page views by index (`activities_session_views_idx`).
            sql_migration!("m20261203_000013_engagement", "0013_engagement"),
            // Goals: conversions defined per project, evaluated over raw events at query time;
            // `sightline_where` learns the goal filter (converting visitors).
            sql_migration!("m20261203_000014_goals", "0014_goals"),
            // Shared links: a project's read-only dashboard without login, by a secret token
            // (only its SHA-256 stored). 0014 belongs to another change; the names order them.
            sql_migration!("m20261203_000015_share_links", "0015_share_links"),
            // Single sign-on: accounts known by (`oidc_issuer`, `oidc_subject`), passwords
            // optional for them.
            sql_migration!("m20261203_000016_oidc", "0016_oidc"),
        ]
    }
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(manager, self.up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_sql(manager, self.down).await
    }
}

/// Runs a whole SQL file (several statements) as one simple-protocol batch.
async fn run_sql(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(sql)
        .await
        .map(|_| ())
}
