//! The ingest queue: Redis, in BullMQ's wire format (`<prefix>:<queue>:<suffix>` keys, job
//! hashes, `wait`/`active`/`delayed`/`completed`/`failed`, the `events` stream and `marker`).
//!
//! Every state change is one Lua script (in `lua/`), loaded once and run by SHA, so a crash
//! between steps can neither lose nor duplicate a job. The scripts are our own batch variants of
//! BullMQ's: one call adds or claims many jobs, which is what lets a job per beacon batch reach
//! tens of thousands of events per second.
//!
//! Invariant: the queue knows job ids, JSON text and locks; it knows nothing of events, HTTP or
//! SQL. [`Enqueuer`] group-commits concurrent producers into one script call.

mod enqueue;
mod own_conn;

use std::time::Duration;

use redis::Script;
use serde::{Deserialize, Serialize};

pub use enqueue::{Enqueuer, Submission, MAX_JOB_EVENTS};
pub use own_conn::OwnConn;

use crate::clock::now_ms;
use crate::config::{QueueSettings, WorkerSettings};
use crate::redis_conn::RedisConn;

/// BullMQ job name of our ingest jobs.
pub const JOB_NAME: &str = "ingest";

/// Most jobs one claim or complete script call handles. Redis runs a script to completion while
/// every client waits: a 1,000-job call held it ~4 ms, which the ingest path felt as tail
/// latency. Calls of this size take ~1 ms at most (slow log under load); 32-job calls did not
/// lower the ingest p99 further (docs/BENCHMARKS.md), so the round trips are not worth it.
pub const SCRIPT_CHUNK: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue is full ({waiting} jobs waiting)")]
    Full { waiting: i64 },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Job data could not be written as JSON (a bug, never the producer's input).
    #[error("job encoding: {0}")]
    Encode(#[from] serde_json::Error),
    /// The group-commit call carrying this submission failed (told to each submitter).
    #[error("enqueue failed: {0}")]
    Group(String),
    #[error("queue stopped")]
    Closed,
}

/// The job data of an ingest job, as the contract defines it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobData<E> {
    pub project_id: uuid::Uuid,
    /// Server receive time, ms since the epoch.
    pub received_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub events: Vec<E>,
}

/// A job claimed by a worker.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: String,
    pub data: String,
    pub attempts_made: u32,
}

/// The jobs in claim.lua's flat reply (id, data, attemptsMade, opts, id, ...).
///
/// Read as bytes, not as strings: a producer can write any bytes into a job's hash, and one
/// job whose data is not UTF-8 used to fail the whole claim, leaving every job of it locked
/// until it stalled, then claimed and failed again. Such data becomes empty, which the worker
/// dead-letters as not an ingest job (its bytes stay in the job's hash for inspection).
pub fn claimed_jobs(flat: &[redis::Value]) -> Vec<ClaimedJob> {
    fn bytes(v: &redis::Value) -> &[u8] {
        match v {
            redis::Value::BulkString(b) => b,
            redis::Value::SimpleString(s) => s.as_bytes(),
            _ => &[],
        }
    }
    flat.chunks_exact(4)
        .map(|c| {
            let data = std::str::from_utf8(bytes(&c[1])).unwrap_or_else(|_| {
                tracing::warn!(job = %String::from_utf8_lossy(bytes(&c[0])), "job data is not UTF-8");
                ""
            });
            ClaimedJob {
                id: String::from_utf8_lossy(bytes(&c[0])).into_owned(),
                data: data.to_string(),
                attempts_made: match &c[2] {
                    redis::Value::Int(n) => u32::try_from(*n).unwrap_or(0),
                    v => std::str::from_utf8(bytes(v))
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0),
                },
            }
        })
        .collect()
}

/// Depths of the queue's states, as `Queue.getJobCounts()` reports them, and whether it is paused
/// (read in the same round trip, so the two agree).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    /// Workers take nothing while set ([`Queue::pause`]).
    pub paused: bool,
    pub waiting: u64,
    pub active: u64,
    pub delayed: u64,
    pub completed: u64,
    pub failed: u64,
}

/// Outcome of failing a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    Retried,
    DeadLettered,
    NotOurs,
}

struct Scripts {
    add: Script,
    claim: Script,
    complete: Script,
    fail: Script,
    stalled: Script,
    extend: Script,
    requeue_failed: Script,
    release: Script,
    discard_failed: Script,
    pause: Script,
}

impl Scripts {
    fn load() -> Self {
        Self {
            add: Script::new(include_str!("lua/add.lua")),
            claim: Script::new(include_str!("lua/claim.lua")),
            complete: Script::new(include_str!("lua/complete.lua")),
            fail: Script::new(include_str!("lua/fail.lua")),
            stalled: Script::new(include_str!("lua/stalled.lua")),
            extend: Script::new(include_str!("lua/extend.lua")),
            requeue_failed: Script::new(include_str!("lua/requeue_failed.lua")),
            release: Script::new(include_str!("lua/release.lua")),
            discard_failed: Script::new(include_str!("lua/discard_failed.lua")),
            pause: Script::new(include_str!("lua/pause.lua")),
        }
    }
}

/// A handle on one BullMQ queue. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    conn: RedisConn,
    /// `<prefix>:<name>:`, the start of every key of this queue.
    base: String,
    max_waiting: u64,
    default_opts: String,
    scripts: std::sync::Arc<Scripts>,
}

impl Queue {
    pub fn new(conn: RedisConn, settings: &QueueSettings, worker: &WorkerSettings) -> Self {
        let default_opts = serde_json::json!({
            "attempts": worker.attempts,
            "backoff": {"type": "exponential", "delay": worker.backoff.as_millis() as u64},
        })
        .to_string();
        Self {
            conn,
            base: format!("{}:{}:", settings.prefix, settings.name),
            max_waiting: settings.max_waiting,
            default_opts,
            scripts: std::sync::Arc::new(Scripts::load()),
        }
    }

    pub fn key(&self, suffix: &str) -> String {
        format!("{}{}", self.base, suffix)
    }

    /// The Redis connection, for callers that need plain commands (pub/sub publishing).
    pub fn conn(&self) -> RedisConn {
        self.conn.clone()
    }

    /// Adds jobs atomically, all or none. `Err(Full)` when the queue is over its bound.
    pub async fn add_many(&self, data: &[String]) -> Result<Vec<String>, QueueError> {
        self.add_many_on(&mut self.conn.clone(), data).await
    }

    /// [`Queue::add_many`] over a connection of the caller's (the enqueue task's [`OwnConn`]).
    pub async fn add_many_on(
        &self,
        conn: &mut impl redis::aio::ConnectionLike,
        data: &[String],
    ) -> Result<Vec<String>, QueueError> {
        let mut inv = self.scripts.add.prepare_invoke();
        for k in ["wait", "paused", "meta", "id", "events", "marker"] {
            inv.key(self.key(k));
        }
        inv.arg(&self.base)
            .arg(now_ms())
            .arg(self.max_waiting)
            .arg(JOB_NAME)
            .arg(&self.default_opts);
        for d in data {
            inv.arg(d.as_str());
        }
        let reply: redis::Value = inv.invoke_async(conn).await?;
        let items: Vec<redis::Value> = redis::from_redis_value(&reply)?;
        if let Some(redis::Value::Int(-1)) = items.first() {
            let waiting = items
                .get(1)
                .and_then(|v| redis::from_redis_value::<i64>(v).ok())
                .unwrap_or(0);
            return Err(QueueError::Full { waiting });
        }
        Ok(items
            .iter()
            .filter_map(|v| redis::from_redis_value::<String>(v).ok())
            .collect())
    }

    /// Claims up to `max` jobs under `token`'s lock, in script calls of at most
    /// [`SCRIPT_CHUNK`] jobs.
    pub async fn claim(
        &self,
        token: &str,
        lock: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, QueueError> {
        let mut jobs = Vec::new();
        while jobs.len() < max {
            let want = (max - jobs.len()).min(SCRIPT_CHUNK);
            let got = self.claim_once(token, lock, want).await?;
            let short = got.len() < want;
            jobs.extend(got);
            if short {
                break;
            }
        }
        Ok(jobs)
    }

    async fn claim_once(
        &self,
        token: &str,
        lock: Duration,
        max: usize,
    ) -> Result<Vec<ClaimedJob>, QueueError> {
        let mut inv = self.scripts.claim.prepare_invoke();
        for k in ["wait", "active", "delayed", "events", "marker", "meta"] {
            inv.key(self.key(k));
        }
        inv.arg(&self.base)
            .arg(now_ms())
            .arg(token)
            .arg(lock.as_millis() as u64)
            .arg(max);
        let mut conn = self.conn.clone();
        let flat: Vec<redis::Value> = inv.invoke_async(&mut conn).await?;
        Ok(claimed_jobs(&flat))
    }

    pub async fn complete(
        &self,
        token: &str,
        ids: &[String],
        keep: u64,
    ) -> Result<u64, QueueError> {
        let mut done = 0;
        for chunk in ids.chunks(SCRIPT_CHUNK) {
            let mut inv = self.scripts.complete.prepare_invoke();
            for k in ["active", "completed", "events"] {
                inv.key(self.key(k));
            }
            inv.arg(&self.base)
                .arg(now_ms())
                .arg(token)
                .arg(keep as i64);
            for id in chunk {
                inv.arg(id.as_str());
            }
            let mut conn = self.conn.clone();
            let n: u64 = inv.invoke_async(&mut conn).await?;
            done += n;
        }
        Ok(done)
    }

    /// Fails one job: retried with backoff while attempts remain (unless `permanent`), else
    /// dead-lettered with `reason`.
    pub async fn fail(
        &self,
        token: &str,
        id: &str,
        reason: &str,
        worker: &WorkerSettings,
        permanent: bool,
    ) -> Result<FailOutcome, QueueError> {
        let mut inv = self.scripts.fail.prepare_invoke();
        for k in ["active", "failed", "delayed", "events", "marker"] {
            inv.key(self.key(k));
        }
        inv.arg(&self.base)
            .arg(now_ms())
            .arg(token)
            .arg(id)
            .arg(reason)
            .arg(worker.attempts)
            .arg(worker.backoff.as_millis() as u64)
            .arg(if permanent { "1" } else { "0" });
        let mut conn = self.conn.clone();
        let r: i64 = inv.invoke_async(&mut conn).await?;
        Ok(match r {
            1 => FailOutcome::Retried,
            2 => FailOutcome::DeadLettered,
            _ => FailOutcome::NotOurs,
        })
    }

    /// Moves jobs whose worker died (lock expired) back to wait. Returns their ids.
    pub async fn recover_stalled(
        &self,
        interval: Duration,
        max_stalls: u32,
    ) -> Result<Vec<String>, QueueError> {
        let mut inv = self.scripts.stalled.prepare_invoke();
        for k in [
            "active",
            "wait",
            "failed",
            "stalled-check",
            "events",
            "marker",
        ] {
            inv.key(self.key(k));
        }
        inv.arg(&self.base)
            .arg(now_ms())
            .arg(interval.as_millis() as u64)
            .arg(max_stalls);
        let mut conn = self.conn.clone();
        Ok(inv.invoke_async(&mut conn).await?)
    }

    pub async fn extend_locks(
        &self,
        token: &str,
        ids: &[String],
        lock: Duration,
    ) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut inv = self.scripts.extend.prepare_invoke();
        inv.key(self.key("active"));
        inv.arg(&self.base).arg(token).arg(lock.as_millis() as u64);
        for id in ids {
            inv.arg(id.as_str());
        }
        let mut conn = self.conn.clone();
        Ok(inv.invoke_async(&mut conn).await?)
    }

    /// Gives jobs back to wait without spending an attempt (shutdown with work in hand).
    pub async fn release(&self, token: &str, ids: &[String]) -> Result<u64, QueueError> {
        let mut inv = self.scripts.release.prepare_invoke();
        for k in ["active", "wait", "events", "marker"] {
            inv.key(self.key(k));
        }
        inv.arg(&self.base).arg(token);
        for id in ids {
            inv.arg(id.as_str());
        }
        let mut conn = self.conn.clone();
        Ok(inv.invoke_async(&mut conn).await?)
    }

    /// Dead-letter retry: failed jobs (all, up to `max`, or the given ids) back to wait.
    pub async fn retry_failed(
        &self,
        ids: &[String],
        max: usize,
    ) -> Result<Vec<String>, QueueError> {
        let mut inv = self.scripts.requeue_failed.prepare_invoke();
        for k in ["failed", "wait", "events", "marker"] {
            inv.key(self.key(k));
        }
        inv.arg(&self.base).arg(max);
        for id in ids {
            inv.arg(id.as_str());
        }
        let mut conn = self.conn.clone();
        Ok(inv.invoke_async(&mut conn).await?)
    }

    /// Dead-letter discard: failed jobs (all, up to `max`, or the given ids) deleted.
    pub async fn discard_failed(&self, ids: &[String], max: usize) -> Result<u64, QueueError> {
        let mut inv = self.scripts.discard_failed.prepare_invoke();
        inv.key(self.key("failed"));
        inv.arg(&self.base).arg(max);
        for id in ids {
            inv.arg(id.as_str());
        }
        let mut conn = self.conn.clone();
        Ok(inv.invoke_async(&mut conn).await?)
    }

    /// Failed jobs, newest first: (id, failedReason, data, finishedOn ms).
    pub async fn failed_jobs(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String, String, i64)>, QueueError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("ZREVRANGE")
            .arg(self.key("failed"))
            .arg(0)
            .arg(limit.saturating_sub(1))
            .query_async(&mut conn)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let (reason, data, finished): (Option<String>, Option<String>, Option<i64>) =
                redis::cmd("HMGET")
                    .arg(self.key(&id))
                    .arg("failedReason")
                    .arg("data")
                    .arg("finishedOn")
                    .query_async(&mut conn)
                    .await?;
            out.push((
                id,
                reason.unwrap_or_default(),
                data.unwrap_or_default(),
                finished.unwrap_or_default(),
            ));
        }
        Ok(out)
    }

    /// Stops workers claiming jobs (BullMQ's `Queue.pause()`): producers keep adding to wait,
    /// workers take nothing until [`Queue::resume`]. Returns false when it already was paused.
    pub async fn pause(&self) -> Result<bool, QueueError> {
        self.set_paused("paused").await
    }

    /// Lets workers claim again (BullMQ's `Queue.resume()`). Returns false when it was not paused.
    pub async fn resume(&self) -> Result<bool, QueueError> {
        self.set_paused("resumed").await
    }

    async fn set_paused(&self, state: &str) -> Result<bool, QueueError> {
        let mut inv = self.scripts.pause.prepare_invoke();
        for k in ["wait", "paused", "meta", "events", "marker"] {
            inv.key(self.key(k));
        }
        inv.arg(state);
        let mut conn = self.conn.clone();
        let changed: i64 = inv.invoke_async(&mut conn).await?;
        Ok(changed == 1)
    }

    pub async fn counts(&self) -> Result<JobCounts, QueueError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HEXISTS").arg(self.key("meta")).arg("paused");
        pipe.cmd("LLEN").arg(self.key("wait"));
        pipe.cmd("LLEN").arg(self.key("active"));
        pipe.cmd("ZCARD").arg(self.key("delayed"));
        pipe.cmd("ZCARD").arg(self.key("completed"));
        pipe.cmd("ZCARD").arg(self.key("failed"));
        let mut conn = self.conn.clone();
        let (paused, waiting, active, delayed, completed, failed): (bool, u64, u64, u64, u64, u64) =
            pipe.query_async(&mut conn).await?;
        Ok(JobCounts {
            paused,
            waiting,
            active,
            delayed,
            completed,
            failed,
        })
    }

    /// Blocks up to `timeout` for the marker a producer sets after adding jobs. Returns the
    /// marker's score (0 for "jobs waiting", a due time in ms for delayed jobs), or None.
    /// Uses `blocking`, a connection of its own: a blocking command would stall a shared one.
    pub async fn wait_for_marker(
        &self,
        blocking: &mut RedisConn,
        timeout: Duration,
    ) -> Result<Option<f64>, QueueError> {
        let reply: Option<(String, String, f64)> = redis::cmd("BZPOPMIN")
            .arg(self.key("marker"))
            .arg(timeout.as_secs_f64())
            .query_async(blocking)
            .await?;
        Ok(reply.map(|(_, _, score)| score))
    }

    /// Is Redis reachable? (for readiness)
    pub async fn ping(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    /// Deletes every key of this queue (tests and `sightline queue obliterate`).
    pub async fn obliterate(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}*", self.base);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async(&mut conn)
            .await?;
        for chunk in keys.chunks(500) {
            let _: () = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await?;
        }
        Ok(())
    }

    /// Runs a raw command on the shared connection (for callers such as the live publisher).
    pub async fn publish(&self, channel: &str, payload: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    fn bulk(b: &[u8]) -> Value {
        Value::BulkString(b.to_vec())
    }

    #[test]
    fn a_job_whose_data_is_not_utf8_does_not_fail_its_neighbours() {
        let flat = [
            bulk(b"1"),
            bulk(b"{\"ok\":1}"),
            bulk(b"0"),
            bulk(b"{}"),
            bulk(b"2"),
            bulk(b"{\"bad\":\"\xff\xfe\"}"),
            bulk(b"3"),
            bulk(b"{}"),
        ];
        let jobs = claimed_jobs(&flat);
        assert_eq!(jobs.len(), 2);
        assert_eq!(
            (
                jobs[0].id.as_str(),
                jobs[0].data.as_str(),
                jobs[0].attempts_made
            ),
            ("1", "{\"ok\":1}", 0)
        );
        assert_eq!(
            (
                jobs[1].id.as_str(),
                jobs[1].data.as_str(),
                jobs[1].attempts_made
            ),
            ("2", "", 3),
            "data that is not UTF-8 becomes empty (dead-lettered by the worker)"
        );
    }
}
