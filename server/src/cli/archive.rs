//! `sightline archive`: retention passes, and archived days listed, restored and rewritten.

use std::sync::atomic::{AtomicU64, Ordering};

use clap::Subcommand;
use sightline::config::Settings;
use sightline::storage::{archive, partitions, retention, Db};
use uuid::Uuid;

#[derive(Subcommand)]
pub enum ArchiveCommand {
    /// One retention pass now (what the worker's maintenance timer does): raw days past each
    /// project's retention exported to SIGHTLINE_ARCHIVE_URL, verified and deleted; rollups
    /// past their retention pruned; empty expired partitions dropped.
    Run {
        /// Print what would be archived and pruned; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Re-imports a project's archived day (idempotent) and rebuilds that day's rollups.
    Restore {
        #[arg(long)]
        project: Uuid,
        /// UTC day (YYYY-MM-DD).
        #[arg(long)]
        day: chrono::NaiveDate,
        /// Days retention leaves the restored rows in place before archiving them again.
        #[arg(long, default_value_t = 7)]
        keep_days: u32,
    },
    /// Rewrites an archived day's files from their rows without the users purged since it was
    /// archived (GDPR), and takes them out of that day's rollups.
    Rewrite {
        #[arg(long)]
        project: Uuid,
        /// UTC day (YYYY-MM-DD).
        #[arg(long)]
        day: chrono::NaiveDate,
    },
    /// Lists a project's archived days and their row counts.
    List {
        #[arg(long)]
        project: Uuid,
    },
}

impl ArchiveCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        let settings = super::settings()?;
        let db = Db::connect(&settings).await?;
        match self {
            ArchiveCommand::Run { dry_run } => run_pass(&settings, &db, dry_run).await,
            ArchiveCommand::Restore {
                project,
                day,
                keep_days,
            } => {
                let store = archive::ArchiveStore::open(&settings.archive_url)?;
                let r = archive::restore_day(&db, &store, project, day, keep_days).await?;
                println!(
                    "restored {day} of {project}: {} parts, {} rows in the archive, {} inserted, {} withheld (purged users), {} were there; {} rollup rows rebuilt; kept {keep_days} days",
                    r.parts,
                    r.rows,
                    r.inserted,
                    r.withheld,
                    r.rows - r.inserted - r.withheld,
                    r.rollup_rows
                );
                Ok(())
            }
            ArchiveCommand::Rewrite { project, day } => {
                let store = archive::ArchiveStore::open(&settings.archive_url)?;
                let (r, a) = archive::rewrite_day(&db, &store, project, day).await?;
                println!(
                    "rewrote {day} of {project}: {} rows read from {} parts, {} withheld (purged users), {} rows in the new part {}",
                    r.rows, r.parts, r.withheld, a.rows, a.object_key
                );
                Ok(())
            }
            ArchiveCommand::List { project } => {
                for (day, rows) in archive::archived_days(&db, project).await? {
                    println!("{day}\t{rows}");
                }
                Ok(())
            }
        }
    }
}

/// One retention pass, with a progress bar and a line per archived day.
async fn run_pass(settings: &Settings, db: &Db, dry_run: bool) -> anyhow::Result<()> {
    if !dry_run {
        // Rows still in DEFAULT go to their day first, so they are archived too.
        partitions::maintain_with(db, settings.partition_days_ahead, settings.partition_unit)
            .await?;
    }
    let mut store = retention::LazyStore::new(settings.archive_url.clone());
    let opts = retention::RetentionOptions {
        minute_days: settings.rollup_minute_days,
        dry_run,
    };
    let verb = if dry_run { "would archive" } else { "archived" };
    let bar =
        sightline::telemetry::progress_bar(None, "{spinner} [{elapsed_precise}] {pos} days {msg}");
    let rows = AtomicU64::new(0);
    let r = retention::run_with_progress(db, &mut store, &opts, &|a| {
        let total = rows.fetch_add(a.rows, Ordering::Relaxed) + a.rows;
        bar.inc(1);
        bar.set_message(format!(
            "{verb} ({total} rows), last {} {}",
            a.project, a.day
        ));
    })
    .await?;
    bar.finish_and_clear();
    if r.skipped {
        println!("another worker is running retention right now; nothing done");
        return Ok(());
    }
    for a in &r.archived {
        println!(
            "{verb}\t{}\t{}\t{} rows\t{} bytes\t{}",
            a.project, a.day, a.rows, a.bytes, a.object_key
        );
    }
    for (project, day, error) in &r.failed {
        println!("failed\t{project}\t{day}\t{error}");
    }
    for p in &r.dropped {
        println!("{}\t{p}", if dry_run { "would drop" } else { "dropped" });
    }
    println!(
        "{} days {verb} ({} rows), {} rollup/session rows {}, {} partitions {}",
        r.archived.len(),
        r.archived.iter().map(|a| a.rows).sum::<u64>(),
        r.rollup_rows,
        if dry_run { "to prune" } else { "pruned" },
        r.dropped.len(),
        if dry_run { "empty" } else { "dropped" },
    );
    anyhow::ensure!(
        r.failed.is_empty(),
        "{} days could not be archived",
        r.failed.len()
    );
    Ok(())
}
