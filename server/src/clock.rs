//! The wall clock as the queue and the ingest edge count it: milliseconds since the Unix epoch
//! (BullMQ's job timestamps are in the same unit).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock reads before it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}
