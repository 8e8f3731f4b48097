//! One Redis pattern subscription per server process, fanned out to local subscribers through
//! bounded broadcast channels: a slow subscriber lags (and is told so), it never stalls others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{LiveBatch, CHANNEL_PATTERN};

/// Messages buffered per project for slow subscribers before they lag.
const BUFFER: usize = 1024;

#[derive(Debug, Clone)]
pub enum LiveMessage {
    Batch(Arc<LiveBatch>),
}

#[derive(Clone, Default)]
pub struct LiveHub {
    senders: Arc<Mutex<HashMap<Uuid, broadcast::Sender<LiveMessage>>>>,
}

impl LiveHub {
    pub fn subscribe(&self, project_id: Uuid) -> broadcast::Receiver<LiveMessage> {
        let mut map = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(project_id).or_insert_with(|| broadcast::channel(BUFFER).0).subscribe()
    }

    fn dispatch(&self, batch: LiveBatch) {
        let mut map = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        let project = batch.project_id;
        if let Some(tx) = map.get(&project) {
            if tx.send(LiveMessage::Batch(Arc::new(batch))).is_err() {
                // Nobody listens to this project any more.
                map.remove(&project);
            }
        }
    }

    /// Listens on Redis until `shutdown`, reconnecting after errors.
    pub async fn run(self, redis_url: String, shutdown: CancellationToken) {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.listen(&redis_url, &shutdown).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "live feed subscription lost; reconnecting");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }

    async fn listen(&self, redis_url: &str, shutdown: &CancellationToken) -> Result<(), redis::RedisError> {
        let client = redis::Client::open(crate::queue::RedisConn::first_url(redis_url))?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.psubscribe(CHANNEL_PATTERN).await?;
        let mut stream = pubsub.on_message();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                msg = stream.next() => {
                    let Some(msg) = msg else {
                        return Err(redis::RedisError::from((redis::ErrorKind::IoError, "pubsub stream ended")));
                    };
                    let payload: Vec<u8> = msg.get_payload_bytes().to_vec();
                    match serde_json::from_slice::<LiveBatch>(&payload) {
                        Ok(batch) => self.dispatch(batch),
                        Err(e) => tracing::warn!(error = %e, "ignoring malformed live message"),
                    }
                }
            }
        }
    }
}
