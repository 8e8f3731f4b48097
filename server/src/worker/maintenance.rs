//! Periodic upkeep run by every worker: partitions ahead of time, DEFAULT drained, then
//! retention (archive of expired raw days, rollup pruning, empty expired partitions dropped).
//! Each step is safe when several workers run it at once (advisory locks in the database).
//!
//! A paused queue (`sightline queue pause`, for planned database work) pauses this too: the
//! operator asked for the workers to leave the database alone, and an archive or a partition
//! drop in the middle of their work is exactly what they paused to avoid. Skipping is safe:
//! partitions exist `partition_days_ahead` days ahead, rows of a missing day land in DEFAULT and
//! are moved out later, and retention is caught up by the first pass after the resume.

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::config::Settings;
use crate::queue::Queue;
use crate::storage::retention::{self, LazyStore, RetentionOptions};
use crate::storage::{partitions, Db};

pub async fn run_maintenance(
    db: Db,
    queue: Queue,
    settings: Settings,
    shutdown: CancellationToken,
) {
    let mut store = LazyStore::new(settings.archive_url.clone());
    let opts = RetentionOptions {
        minute_days: settings.rollup_minute_days,
        dry_run: false,
    };
    loop {
        if paused(&queue).await {
            info!("queue paused: maintenance pass skipped");
        } else {
            pass(&db, &mut store, &opts, &settings).await;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(settings.maintenance_interval) => {}
        }
    }
}

/// Whether the queue is paused. Unknown (Redis unreachable) counts as running: the upkeep needs
/// only the database, and a Redis outage must not stop partitions being created ahead of time.
async fn paused(queue: &Queue) -> bool {
    match queue.counts().await {
        Ok(c) => c.paused,
        Err(e) => {
            debug!(error = %e, "queue state unknown; maintenance runs");
            false
        }
    }
}

async fn pass(db: &Db, store: &mut LazyStore, opts: &RetentionOptions, settings: &Settings) {
    match partitions::maintain_with(db, settings.partition_days_ahead, settings.partition_unit)
        .await
    {
        Ok(0) => {}
        Ok(created) => info!(created, "created activities partitions"),
        Err(e) => warn!(error = %e, "partition maintenance failed; will retry"),
    }
    match retention::run(db, store, opts).await {
        Ok(r) if r.skipped => {}
        Ok(r) => {
            if !r.archived.is_empty() || !r.dropped.is_empty() || !r.failed.is_empty() {
                info!(
                    archived_days = r.archived.len(),
                    failed_days = r.failed.len(),
                    rollup_rows = r.rollup_rows,
                    dropped = r.dropped.len(),
                    "retention pass"
                );
            }
        }
        Err(e) => warn!(error = %e, "retention failed; will retry"),
    }
}
