//! Group commit of concurrent producers. Each request hands its validated events to one
//! background task, which turns everything that arrived meanwhile into as few jobs as possible
//! (one per project, up to [`MAX_JOB_EVENTS`] events), adds them in one script call, and answers
//! every request once Redis holds its events. A 202 therefore still means "durably queued",
//! while Redis and the worker pay their per-job costs once per burst instead of once per beacon.
//!
//! One script call at a time, awaited by the group task itself: Redis runs scripts one at a time
//! anyway, so a second call in flight only waited inside Redis (each call is also an AOF write),
//! and whatever arrives during a call becomes the next, larger group. Measured against four in
//! flight (docs/BENCHMARKS.md, "One enqueue call in flight"): p99 of 1-event beacons at 4,000/s
//! 8.6-13.4 ms against 12.7-20.4 ms, their maximum rate +11%, 20-event batches' maximum -10%.
//!
//! The task reaches Redis over a socket of its own ([`OwnConn`]) where it can: no driver task
//! between it and the reply (docs/BENCHMARKS.md, "The enqueue task's own connection": -12% of
//! the server's CPU at 4,500 beacons/s).
//!
//! Job-level `ip` and `user_agent` are kept exactly as the contract shows when every request in
//! a job shares them (always the case for a job of one request); otherwise they move onto each
//! event, where only the worker's `Dialect::Job` accepts them.

use redis::aio::ConnectionLike;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{JobData, OwnConn, Queue, QueueError};
use crate::event::Event;

/// Requests in one group at most.
const MAX_GROUP: usize = 512;
/// Events in one merged job at most: keeps jobs (and the worker's batches) bounded.
pub const MAX_JOB_EVENTS: usize = 1000;

/// One request's accepted events and where they came from.
#[derive(Debug, Clone)]
pub struct Submission {
    pub project_id: Uuid,
    pub received_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub events: Vec<Event>,
}

type Reply = oneshot::Sender<Result<(), QueueError>>;

#[derive(Clone)]
pub struct Enqueuer {
    tx: mpsc::Sender<(Submission, Reply)>,
}

impl Enqueuer {
    /// Starts the group-commit task, with a connection of its own to the Redis at `redis_url`
    /// where it can have one ([`OwnConn`]), else the queue's shared one. `capacity` bounds
    /// requests waiting for it.
    pub fn start(queue: Queue, redis_url: &str, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity);
        match OwnConn::new(redis_url) {
            Some(own) => tokio::spawn(run(queue, own, rx)),
            None => {
                let shared = queue.conn();
                tokio::spawn(run(queue, shared, rx))
            }
        };
        Self { tx }
    }

    /// Queues one request's events; resolves once Redis holds them.
    pub async fn enqueue(&self, submission: Submission) -> Result<(), QueueError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.tx
            .send((submission, reply_tx))
            .await
            .map_err(|_| QueueError::Closed)?;
        reply_rx.await.map_err(|_| QueueError::Closed)?
    }
}

async fn run<C: ConnectionLike + Send>(
    queue: Queue,
    mut conn: C,
    mut rx: mpsc::Receiver<(Submission, Reply)>,
) {
    while let Some(first) = rx.recv().await {
        // Everything that queued up during the previous call goes in this group.
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(item) => group.push(item),
                Err(_) => break,
            }
        }
        let (submissions, replies): (Vec<Submission>, Vec<Reply>) = group.into_iter().unzip();
        metrics::histogram!(crate::telemetry::names::ENQUEUE_GROUP_SIZE)
            .record(submissions.len() as f64);
        // One call at a time, awaited here: see the module docs.
        let result = match merge(submissions) {
            Ok(jobs) => {
                let started = std::time::Instant::now();
                let added = queue.add_many_on(&mut conn, &jobs).await.map(|_| ());
                metrics::histogram!(crate::telemetry::names::ENQUEUE_WRITE_SECONDS)
                    .record(started.elapsed().as_secs_f64());
                added
            }
            Err(e) => Err(e),
        };
        for r in replies {
            let _ = r.send(match &result {
                Ok(()) => Ok(()),
                Err(QueueError::Full { waiting }) => Err(QueueError::Full { waiting: *waiting }),
                Err(e) => Err(QueueError::Group(e.to_string())),
            });
        }
    }
}

/// Turns a group of submissions into job data: one job per project per [`MAX_JOB_EVENTS`].
pub fn merge(submissions: Vec<Submission>) -> Result<Vec<String>, QueueError> {
    let mut by_project: Vec<(Uuid, Vec<Submission>)> = Vec::new();
    for s in submissions {
        match by_project.iter_mut().find(|(p, _)| *p == s.project_id) {
            Some((_, list)) => list.push(s),
            None => by_project.push((s.project_id, vec![s])),
        }
    }
    let mut jobs = Vec::new();
    for (project_id, list) in by_project {
        let mut chunk: Vec<Submission> = Vec::new();
        let mut size = 0;
        for s in list {
            if size + s.events.len() > MAX_JOB_EVENTS && !chunk.is_empty() {
                jobs.push(job(project_id, std::mem::take(&mut chunk))?);
                size = 0;
            }
            size += s.events.len();
            chunk.push(s);
        }
        if !chunk.is_empty() {
            jobs.push(job(project_id, chunk)?);
        }
    }
    Ok(jobs)
}

fn job(project_id: Uuid, chunk: Vec<Submission>) -> Result<String, QueueError> {
    let uniform = chunk
        .iter()
        .all(|s| s.ip == chunk[0].ip && s.user_agent == chunk[0].user_agent);
    let received_at = chunk
        .iter()
        .map(|s| s.received_at)
        .min()
        .unwrap_or_default();
    let (ip, user_agent) = if uniform {
        (chunk[0].ip.clone(), chunk[0].user_agent.clone())
    } else {
        (None, None)
    };
    let mut events = Vec::with_capacity(chunk.iter().map(|s| s.events.len()).sum());
    for s in chunk {
        for mut e in s.events {
            if !uniform {
                e.ip.clone_from(&s.ip);
                e.user_agent.clone_from(&s.user_agent);
            }
            events.push(e);
        }
    }
    let data = JobData {
        project_id,
        received_at,
        ip,
        user_agent,
        events,
    };
    Ok(serde_json::to_string(&data)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(project: Uuid, ip: &str, n: usize) -> Submission {
        let events = (0..n)
            .map(|i| Event {
                id: Uuid::new_v4(),
                event_type: "page.view".into(),
                ts: i as i64,
                anonymous_id: None,
                session_id: None,
                user_id: None,
                community_id: None,
                entity_type: None,
                entity_id: None,
                url: None,
                referrer: None,
                title: None,
                props: Default::default(),
                screen_width: None,
                language: None,
                webdriver: false,
                bot: false,
                ip: None,
                user_agent: None,
            })
            .collect();
        Submission {
            project_id: project,
            received_at: 10,
            ip: Some(ip.into()),
            user_agent: Some("UA".into()),
            events,
        }
    }

    #[test]
    fn one_request_makes_a_job_exactly_in_the_contract_shape() {
        let p = Uuid::new_v4();
        let jobs = merge(vec![sub(p, "1.1.1.1", 2)]).expect("merge");
        assert_eq!(jobs.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&jobs[0]).expect("json");
        assert_eq!(v["ip"], "1.1.1.1");
        assert_eq!(v["user_agent"], "UA");
        assert!(v["events"][0].get("ip").is_none());
    }

    #[test]
    fn concurrent_requests_merge_per_project_with_per_event_context() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let jobs = merge(vec![
            sub(a, "1.1.1.1", 2),
            sub(b, "3.3.3.3", 1),
            sub(a, "2.2.2.2", 3),
        ])
        .expect("merge");
        assert_eq!(jobs.len(), 2);
        let ja: serde_json::Value = serde_json::from_str(&jobs[0]).expect("json");
        assert_eq!(ja["project_id"], a.to_string());
        assert!(ja.get("ip").is_none(), "mixed senders: no job-level ip");
        let ips: Vec<&str> = ja["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["ip"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            ips,
            vec!["1.1.1.1", "1.1.1.1", "2.2.2.2", "2.2.2.2", "2.2.2.2"]
        );
    }

    #[test]
    fn merged_jobs_are_bounded() {
        let p = Uuid::new_v4();
        let jobs = merge((0..5).map(|_| sub(p, "1.1.1.1", 400)).collect()).expect("merge");
        assert_eq!(jobs.len(), 3, "400+400 | 400+400 | 400");
    }
}
