//! The live feed: the worker publishes each committed batch on a per-project Redis channel;
//! every server instance subscribes and fans messages out to its GraphQL subscribers. Redis is
//! the bus, so subscriptions work whichever server a client is connected to.
//!
//! Invariant: only events that were *newly stored* are published (never a replay), and only
//! after their transaction committed.

mod filter;
mod hub;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::Event;
use crate::redis_conn::RedisConn;

pub use filter::{contains, LiveMatch};
pub use hub::{LiveHub, LiveMessage};

/// Pub/sub channel of a project's live events.
pub fn channel(project_id: Uuid) -> String {
    format!("sightline:live:{project_id}")
}

/// What travels on the channel: one committed batch of one project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveBatch {
    pub project_id: Uuid,
    pub events: Vec<Event>,
}

/// How long a subscriber count is trusted before asking Redis again.
const LISTENER_CHECK: i64 = 1000;

/// Publishes committed batches, skipping the work (serializing every event) for projects nobody
/// watches.
#[derive(Clone)]
pub struct LivePublisher {
    conn: RedisConn,
    /// Per project: when its subscriber count was last read (ms) and the count.
    listeners: Arc<Mutex<HashMap<Uuid, (i64, i64)>>>,
}

impl LivePublisher {
    pub fn new(conn: RedisConn) -> Self {
        Self {
            conn,
            listeners: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A cheap, synchronous guess from the cache: `false` only when Redis said, within the last
    /// second, that nobody subscribes to the project (the worker then keeps no copy to publish).
    pub fn maybe_listening(&self, project_id: Uuid) -> bool {
        if matches!(self.conn, RedisConn::Cluster(_)) {
            return true;
        }
        let now = crate::clock::now_ms();
        match self
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&project_id)
        {
            Some((at, n)) if now - at < LISTENER_CHECK => *n > 0,
            _ => true,
        }
    }

    async fn anyone_listening(&self, project_id: Uuid) -> bool {
        // Cluster nodes count only their own subscribers: there, always publish.
        if matches!(self.conn, RedisConn::Cluster(_)) {
            return true;
        }
        let now = crate::clock::now_ms();
        if let Some((at, n)) = self
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&project_id)
        {
            if now - at < LISTENER_CHECK {
                return *n > 0;
            }
        }
        let mut conn = self.conn.clone();
        let reply: Result<(String, i64), _> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel(project_id))
            .query_async(&mut conn)
            .await;
        let n = reply.map(|(_, n)| n).unwrap_or(1);
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(project_id, (now, n));
        n > 0
    }

    pub async fn publish(&self, project_id: Uuid, events: &[&Event]) {
        if !self.anyone_listening(project_id).await {
            return;
        }
        let payload = match serde_json::to_string(
            &serde_json::json!({ "project_id": project_id, "events": events }),
        ) {
            Ok(p) => p,
            Err(_) => return,
        };
        let mut conn = self.conn.clone();
        let r: Result<i64, _> = redis::cmd("PUBLISH")
            .arg(channel(project_id))
            .arg(payload)
            .query_async(&mut conn)
            .await;
        if let Err(e) = r {
            // The events are stored; a missed live message is only a missed live message.
            tracing::warn!(error = %e, "live publish failed");
        }
    }
}
