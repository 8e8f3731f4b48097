//! The live feed: the worker publishes each committed batch on a per-project Redis channel;
//! every server instance subscribes and fans messages out to its GraphQL subscribers. Redis is
//! the bus, so subscriptions work whichever server a client is connected to.
//!
//! Invariant: only events that were *newly stored* are published (never a replay), and only
//! after their transaction committed.

mod hub;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::Event;
use crate::queue::RedisConn;

pub use hub::{LiveHub, LiveMessage};

/// Pub/sub channel of a project's live events.
pub fn channel(project_id: Uuid) -> String {
    format!("sightline:live:{project_id}")
}

/// Pattern matching every project's channel.
pub const CHANNEL_PATTERN: &str = "sightline:live:*";

/// What travels on the channel: one committed batch of one project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveBatch {
    pub project_id: Uuid,
    pub events: Vec<Event>,
}

/// Publishes committed batches, skipping the work when nobody listens.
#[derive(Clone)]
pub struct LivePublisher {
    conn: RedisConn,
    /// When the subscriber count was last checked (ms) and whether there were any.
    checked_at: Arc<AtomicI64>,
    listeners: Arc<AtomicI64>,
}

impl LivePublisher {
    pub fn new(conn: RedisConn) -> Self {
        Self {
            conn,
            checked_at: Arc::new(AtomicI64::new(0)),
            listeners: Arc::new(AtomicI64::new(1)),
        }
    }

    async fn anyone_listening(&self) -> bool {
        let now = crate::queue::now_ms();
        if now - self.checked_at.load(Ordering::Relaxed) > 1000 {
            self.checked_at.store(now, Ordering::Relaxed);
            let mut conn = self.conn.clone();
            let n: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query_async(&mut conn).await.unwrap_or(1);
            self.listeners.store(n, Ordering::Relaxed);
        }
        self.listeners.load(Ordering::Relaxed) > 0
    }

    pub async fn publish(&self, project_id: Uuid, events: &[&Event]) {
        if !self.anyone_listening().await {
            return;
        }
        let payload = match serde_json::to_string(&serde_json::json!({ "project_id": project_id, "events": events })) {
            Ok(p) => p,
            Err(_) => return,
        };
        let mut conn = self.conn.clone();
        let r: Result<i64, _> = redis::cmd("PUBLISH").arg(channel(project_id)).arg(payload).query_async(&mut conn).await;
        if let Err(e) = r {
            // The events are stored; a missed live message is only a missed live message.
            tracing::warn!(error = %e, "live publish failed");
        }
    }
}
