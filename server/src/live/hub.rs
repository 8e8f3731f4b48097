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

/// Messages buffered per project for slow subscribers before they lag (default): at most
/// 256 x 64 = 16,384 events, more than one worker commit (~5,000 events) so a burst alone does
/// not make a subscriber that keeps reading lag.
const BUFFER: usize = 256;
/// Most events per message: a worker commits thousands at once, and the buffer must be bounded
/// in events (memory), not in batches of any size.
const CHUNK: usize = 64;
/// How often channels nobody listens to any more are unsubscribed.
const SWEEP: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub enum LiveMessage {
    /// Events of a project, and the position of the first one in this hub's stream of that
    /// project's events: a subscriber that sees a gap knows exactly how many it missed.
    Batch(Arc<LiveBatch>, u64),
}

enum Control {
    Subscribe(Uuid),
}

struct Inner {
    /// Per project: the channel and the position of the next event in its stream.
    senders: Mutex<HashMap<Uuid, (broadcast::Sender<LiveMessage>, u64)>>,
    control: mpsc::UnboundedSender<Control>,
    control_rx: Mutex<Option<mpsc::UnboundedReceiver<Control>>>,
    buffer: usize,
}

#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<Inner>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::with_buffer(BUFFER)
    }
}

impl LiveHub {
    /// `buffer` messages (of at most 64 events) are kept per project for slow subscribers; one
    /// copy is shared by all of a project's subscribers in this process.
    pub fn with_buffer(buffer: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            inner: Arc::new(Inner {
                senders: Mutex::new(HashMap::new()),
                control: tx,
                control_rx: Mutex::new(Some(rx)),
                buffer: buffer.max(1),
            }),
        }
    }

    fn senders(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Uuid, (broadcast::Sender<LiveMessage>, u64)>> {
        self.inner.senders.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver of the project's committed batches, from now on.
    pub fn subscribe(&self, project_id: Uuid) -> broadcast::Receiver<LiveMessage> {
        let mut map = self.senders();
        if let Some((tx, _)) = map.get(&project_id) {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(self.inner.buffer);
        map.insert(project_id, (tx, 0));
        let _ = self.inner.control.send(Control::Subscribe(project_id));
        rx
    }

    fn dispatch(&self, batch: LiveBatch) {
        let mut map = self.senders();
        let Some((tx, next)) = map.get_mut(&batch.project_id) else {
            return;
        };
        let project_id = batch.project_id;
        let mut events = batch.events;
        while !events.is_empty() {
            let rest = events.split_off(events.len().min(CHUNK));
            let first = *next;
            *next += events.len() as u64;
            let _ = tx.send(LiveMessage::Batch(
                Arc::new(LiveBatch { project_id, events }),
                first,
            ));
            events = rest;
        }
    }

    /// Projects nobody in this process listens to any more: forgotten, to be unsubscribed.
    fn sweep(&self) -> Vec<Uuid> {
        let mut map = self.senders();
        let idle: Vec<Uuid> = map
            .iter()
            .filter(|(_, (tx, _))| tx.receiver_count() == 0)
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
        let client = redis::Client::open(crate::redis_conn::RedisConn::first_url(redis_url))?;
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
