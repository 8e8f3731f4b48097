//! One Redis pub/sub connection per server process, subscribed only to the channels of projects
//! that have a live subscriber in this process, fanned out through bounded broadcast channels: a
//! slow subscriber lags (and is told so), it never stalls others.
//!
//! Subscribing per project (not to a pattern) is what lets the worker skip serializing the live
//! feed entirely while nobody watches: it asks Redis how many subscribers a channel has.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{channel, LiveBatch};

/// Messages buffered per project for slow subscribers before they lag.
const BUFFER: usize = 1024;
/// How often channels nobody listens to any more are unsubscribed.
const SWEEP: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub enum LiveMessage {
    Batch(Arc<LiveBatch>),
}

enum Control {
    Subscribe(Uuid),
}

struct Inner {
    senders: Mutex<HashMap<Uuid, broadcast::Sender<LiveMessage>>>,
    control: mpsc::UnboundedSender<Control>,
    control_rx: Mutex<Option<mpsc::UnboundedReceiver<Control>>>,
}

#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

impl Default for LiveHub {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            inner: Arc::new(Inner {
                senders: Mutex::new(HashMap::new()),
                control: tx,
                control_rx: Mutex::new(Some(rx)),
            }),
        }
    }
}

impl LiveHub {
    fn senders(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, broadcast::Sender<LiveMessage>>> {
        self.inner.senders.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver of the project's committed batches, from now on.
    pub fn subscribe(&self, project_id: Uuid) -> broadcast::Receiver<LiveMessage> {
        let mut map = self.senders();
        if let Some(tx) = map.get(&project_id) {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(BUFFER);
        map.insert(project_id, tx);
        let _ = self.inner.control.send(Control::Subscribe(project_id));
        rx
    }

    fn dispatch(&self, batch: LiveBatch) {
        let map = self.senders();
        if let Some(tx) = map.get(&batch.project_id) {
            let _ = tx.send(LiveMessage::Batch(Arc::new(batch)));
        }
    }

    /// Projects nobody in this process listens to any more: forgotten, to be unsubscribed.
    fn sweep(&self) -> Vec<Uuid> {
        let mut map = self.senders();
        let idle: Vec<Uuid> = map
            .iter()
            .filter(|(_, tx)| tx.receiver_count() == 0)
            .map(|(p, _)| *p)
            .collect();
        for p in &idle {
            map.remove(p);
        }
        idle
    }

    /// Listens on Redis until `shutdown`, reconnecting (and resubscribing) after errors.
    pub async fn run(self, redis_url: String, shutdown: CancellationToken) {
        let Some(mut control) = self
            .inner
            .control_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.listen(&redis_url, &mut control, &shutdown).await {
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

    async fn listen(
        &self,
        redis_url: &str,
        control: &mut mpsc::UnboundedReceiver<Control>,
        shutdown: &CancellationToken,
    ) -> Result<(), redis::RedisError> {
        let client = redis::Client::open(crate::queue::RedisConn::first_url(redis_url))?;
        let (mut sink, mut stream) = client.get_async_pubsub().await?.split();
        let current: Vec<String> = self.senders().keys().map(|p| channel(*p)).collect();
        if !current.is_empty() {
            sink.subscribe(current).await?;
        }
        let mut sweep = tokio::time::interval(SWEEP);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                Some(Control::Subscribe(p)) = control.recv() => sink.subscribe(channel(p)).await?,
                _ = sweep.tick() => {
                    let idle: Vec<String> = self.sweep().into_iter().map(channel).collect();
                    if !idle.is_empty() {
                        sink.unsubscribe(idle).await?;
                    }
                }
                msg = stream.next() => {
                    let Some(msg) = msg else {
                        return Err(redis::RedisError::from((redis::ErrorKind::IoError, "pubsub stream ended")));
                    };
                    match serde_json::from_slice::<LiveBatch>(msg.get_payload_bytes()) {
                        Ok(batch) => self.dispatch(batch),
                        Err(e) => tracing::warn!(error = %e, "ignoring malformed live message"),
                    }
                }
            }
        }
    }
}
