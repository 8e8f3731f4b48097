//! Periodic upkeep run by every worker: partitions ahead of time, DEFAULT drained. Each step is
//! safe when several workers run it at once (advisory locks inside the SQL).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::storage::{partitions, Db};

pub async fn run_maintenance(
    db: Db,
    days_ahead: u32,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        match partitions::maintain(&db, days_ahead).await {
            Ok(0) => {}
            Ok(created) => info!(created, "created activities partitions"),
            Err(e) => warn!(error = %e, "partition maintenance failed; will retry"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
