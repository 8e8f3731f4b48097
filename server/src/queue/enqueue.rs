//! Group commit of concurrent producers: each request hands its job to one background task,
//! which adds everything that arrived meanwhile in one script call and answers every request
//! once Redis has taken its job. A 202 therefore still means "durably queued", while Redis sees
//! one round trip per burst instead of one per request.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::{Queue, QueueError};

/// Jobs in one script call at most: bounds the script's run time (Redis is single-threaded).
const MAX_GROUP: usize = 256;
/// Script calls in flight at once: overlaps network round trips without unbounded fan-out.
const MAX_IN_FLIGHT: usize = 4;

type Reply = oneshot::Sender<Result<(), QueueError>>;

#[derive(Clone)]
pub struct Enqueuer {
    tx: mpsc::Sender<(String, Reply)>,
}

impl Enqueuer {
    /// Starts the group-commit task. `capacity` bounds requests waiting for it.
    pub fn start(queue: Queue, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity);
        tokio::spawn(run(queue, rx));
        Self { tx }
    }

    /// Queues one job's data; resolves once Redis holds the job.
    pub async fn enqueue(&self, data: String) -> Result<(), QueueError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.tx.send((data, reply_tx)).await.map_err(|_| QueueError::Closed)?;
        reply_rx.await.map_err(|_| QueueError::Closed)?
    }
}

async fn run(queue: Queue, mut rx: mpsc::Receiver<(String, Reply)>) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        // Everything that queued up while we waited for a slot goes in this group.
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(item) => group.push(item),
                Err(_) => break,
            }
        }
        let queue = queue.clone();
        tokio::spawn(async move {
            let (data, replies): (Vec<String>, Vec<Reply>) = group.into_iter().unzip();
            let result = queue.add_many(&data).await;
            metrics::histogram!(crate::telemetry::names::ENQUEUE_GROUP_SIZE).record(data.len() as f64);
            match result {
                Ok(_) => {
                    for r in replies {
                        let _ = r.send(Ok(()));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for r in replies {
                        let _ = r.send(Err(match &e {
                            QueueError::Full { waiting } => QueueError::Full { waiting: *waiting },
                            _ => QueueError::Redis(redis::RedisError::from((redis::ErrorKind::IoError, "enqueue failed", msg.clone()))),
                        }));
                    }
                }
            }
            drop(permit);
        });
    }
}
