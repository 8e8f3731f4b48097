//! SeaORM migrations for Sightline's schema.
//!
//! The schema is written as plain SQL files in `sql/` (partitioned tables, partial indexes and
//! PL/pgSQL functions are beyond the schema builder); each migration runs one file in a
//! transaction. Invariant: a migration, once released, is never edited: add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_init;
mod m20261124_000002_rollups;
mod m20261125_000003_archive;
mod m20261125_000004_partition_granularity;
mod m20261125_000005_purged_users;
mod m20261201_000006_partition_move_lock;
mod m20261202_000007_recent_purges;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_init::Migration),
            Box::new(m20261124_000002_rollups::Migration),
            Box::new(m20261125_000003_archive::Migration),
            Box::new(m20261125_000004_partition_granularity::Migration),
            Box::new(m20261125_000005_purged_users::Migration),
            Box::new(m20261201_000006_partition_move_lock::Migration),
            Box::new(m20261202_000007_recent_purges::Migration),
        ]
    }
}

/// Runs a whole SQL file (several statements) as one simple-protocol batch.
pub(crate) async fn run_sql(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(sql)
        .await
        .map(|_| ())
}
