//! `sightline rollup`: rollups recounted from raw events, and repaired.

use clap::Subcommand;
use sightline::domain::DayRange;
use sightline::storage::{rollups, Db};
use uuid::Uuid;

#[derive(Subcommand)]
pub enum RollupCommand {
    /// Recounts the additive rollups of whole UTC days from raw events and prints every cell
    /// that differs (expected: none; exits 1 when any). --fix rewrites them from raw.
    Verify {
        #[arg(long)]
        project: Uuid,
        /// First UTC day (YYYY-MM-DD).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Day after the last one (YYYY-MM-DD).
        #[arg(long)]
        to: chrono::NaiveDate,
        #[arg(long)]
        fix: bool,
    },
}

impl RollupCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let RollupCommand::Verify {
            project,
            from,
            to,
            fix,
        } = self;
        let days = DayRange::new(from, to)?;
        let mut settings = super::settings()?;
        // A recount of many days is an operator's job, not an API query: no statement_timeout.
        settings.api.query_timeout = std::time::Duration::ZERO;
        let db = Db::connect(&settings).await?;
        let bar = sightline::telemetry::progress_bar(
            Some(rollups::RECOUNTED_TABLES as u64),
            "{spinner} [{elapsed_precise}] {bar:20} {pos}/{len} tables, recounting {msg}",
        );
        let diffs = rollups::verify_with_progress(&db, project, days, &|i, table| {
            bar.set_position(i as u64);
            bar.set_message(table.to_string());
        })
        .await?;
        bar.finish_and_clear();
        for d in &diffs {
            println!(
                "{}\t{}\t{}\tstored {}\texpected {}",
                d.table,
                d.bucket.to_rfc3339(),
                d.cell,
                d.stored,
                d.expected
            );
        }
        println!(
            "{} differences between the rollups and raw events",
            diffs.len()
        );
        if fix && !diffs.is_empty() {
            let rows = rollups::fix(&db, project, days).await?;
            let left = rollups::verify(&db, project, days).await?;
            println!(
                "rewrote {rows} rollup rows from raw events; {} differences left",
                left.len()
            );
            anyhow::ensure!(left.is_empty(), "rollups still differ after --fix");
            return Ok(());
        }
        anyhow::ensure!(diffs.is_empty(), "rollups differ from raw events");
        Ok(())
    }
}
