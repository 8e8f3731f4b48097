//! `sightline migrate`: the schema and the partitions ahead.

use anyhow::Context;
use sea_orm_migration::MigratorTrait;
use sightline::storage::{partitions, Db};

#[derive(clap::Args)]
pub struct MigrateArgs {}

impl MigrateArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = super::settings()?;
        let db = Db::connect(&settings).await?;
        migration::Migrator::up(&db.primary, None)
            .await
            .context("migration failed")?;
        let created =
            partitions::maintain_with(&db, settings.partition_days_ahead, settings.partition_unit)
                .await?;
        println!("migrations applied; {created} partitions created");
        Ok(())
    }
}
