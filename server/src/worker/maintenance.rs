//! Periodic upkeep run by every worker: partitions ahead of time, DEFAULT drained, then
//! retention (archive of expired raw days, rollup pruning, empty expired partitions dropped).
//! Each step is safe when several workers run it at once (advisory locks in the database).

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Settings;
use crate::storage::retention::{self, LazyStore, RetentionOptions};
use crate::storage::{partitions, Db};

pub async fn run_maintenance(db: Db, settings: Settings, shutdown: CancellationToken) {
    let mut store = LazyStore::new(settings.archive_url.clone());
    let opts = RetentionOptions {
        minute_days: settings.rollup_minute_days,
        dry_run: false,
    };
    loop {
        match partitions::maintain_with(&db, settings.partition_days_ahead, settings.partition_unit)
            .await
        {
            Ok(0) => {}
            Ok(created) => info!(created, "created activities partitions"),
            Err(e) => warn!(error = %e, "partition maintenance failed; will retry"),
        }
        match retention::run(&db, &mut store, &opts).await {
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
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(settings.maintenance_interval) => {}
        }
    }
}
