//! `sightline migrate`: the schema and the partitions ahead; with `--citus`, the schema spread
//! over a Citus cluster by project (docs/SCALING.md).

use anyhow::Context;
use sea_orm_migration::MigratorTrait;
use sightline::storage::{citus, partitions, Db};

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// DATABASE_URL is a Citus coordinator: after the migrations, distribute every table with a
    /// project_id column by it (colocated with activities) and make the others reference tables.
    /// Safe to repeat: run it after every release so new tables are distributed too.
    #[arg(long)]
    citus: bool,
}

impl MigrateArgs {
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = super::settings()?;
        let db = Db::connect(&settings).await?;
        if self.citus && !citus::is_coordinator(&db).await? {
            anyhow::bail!(
                "--citus: the database has no citus extension (CREATE EXTENSION citus on the \
                 coordinator and every worker node, then citus_add_node each worker)"
            );
        }
        migration::Migrator::up(&db.primary, None)
            .await
            .context("migration failed")?;
        if self.citus {
            citus::distribute(&db)
                .await
                .context("distributing the schema over the Citus cluster failed")?;
        }
        let created =
            partitions::maintain_with(&db, settings.partition_days_ahead, settings.partition_unit)
                .await?;
        if self.citus {
            let layout = citus::layout(&db).await?;
            println!(
                "citus: {} distributed tables, {} reference tables, {} worker nodes",
                layout.distributed, layout.reference, layout.workers
            );
        }
        println!("migrations applied; {created} partitions created");
        Ok(())
    }
}
