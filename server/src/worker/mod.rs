//! The queue consumer: claims many jobs, writes their events in one idempotent database write,
//! publishes what was new to the live feed, then completes the jobs.
//!
//! Failure policy, in one place:
//! - The database is unreachable or busy (transient): wait and retry the same write, keeping the
//!   job locks alive; no attempt is spent, so a Postgres outage loses nothing.
//! - A write fails because of the data: store the jobs one by one, so a poison job fails alone
//!   (retried with backoff, then dead-lettered) and its neighbours are stored.
//! - Job data that is not an ingest job at all: dead-lettered at once (retrying cannot help).
//! - The process dies: its locks expire and [`Queue::recover_stalled`] hands the jobs to another
//!   worker; the idempotent write makes the replay exact.
//!
//! Invariant: the worker never parses HTTP; it trusts only what [`crate::event::Validator`]
//! accepts, because jobs may come from any BullMQ producer.

mod actor_days;
pub mod audience;
mod maintenance;
mod privacy;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use entity::activity;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

use crate::config::Settings;
use crate::enrich::Enricher;
use crate::event::{Dialect, Event, Rejected, Validator};
use crate::live::LivePublisher;
use crate::queue::{ClaimedJob, FailOutcome, Queue};
use crate::redis_conn::RedisConn;
use crate::storage::{Db, StorageError};
use crate::telemetry::names;

pub use maintenance::run_maintenance;

/// A job whose worker died this many times is dead-lettered rather than retried forever. High,
/// because a stall spends no attempt and its replay is harmless (idempotent write).
const MAX_STALLS: u32 = 10;

/// Events a worker aims to write per statement: large enough that per-statement costs vanish,
/// small enough to keep memory and lock times modest.
const TARGET_BATCH_EVENTS: usize = 5000;
/// A batch smaller than this means the queue is short: the lane lingers before its next claim.
const LINGER_BELOW_EVENTS: usize = 1000;

/// An ingest job's data as a worker reads it: any BullMQ producer may have written it.
///
/// Events stay raw JSON until validated one at a time: a job can hold a thousand events, and a
/// whole job of parsed values at once is what used to dominate worker memory.
#[derive(serde::Deserialize)]
pub struct JobFields<'a> {
    pub project_id: Uuid,
    #[serde(default)]
    pub received_at: Option<i64>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(borrow)]
    pub events: Vec<&'a serde_json::value::RawValue>,
}

impl<'a> JobFields<'a> {
    /// The job's fields, or why the data is not an ingest job (the dead-letter reason).
    pub fn parse(data: &'a str) -> Result<Self, String> {
        serde_json::from_str(data).map_err(|e| format!("job data is not an ingest job: {e}"))
    }
}

/// A job decoded into rows, or the reason it cannot be.
struct Decoded {
    job: ClaimedJob,
    project_id: Uuid,
    rows: Vec<activity::Model>,
    /// Copies of the events for the live feed, kept only while someone may be watching.
    live: Vec<Event>,
}

pub struct Worker {
    queue: Queue,
    db: Db,
    settings: Arc<Settings>,
    token: String,
    validator: Validator,
    live: LivePublisher,
    events_per_job: AtomicU64,
    /// The last batch any lane claimed was small (or none): the queue is short, and only lane 0
    /// claims until a batch comes back large.
    short_queue: AtomicBool,
    /// Actor-days stored lately, shared by the lanes (an actor's events land in any lane).
    actor_days: std::sync::Mutex<actor_days::ActorDays>,
    /// Each project's IP storage policy, applied last to every row.
    ip_policies: privacy::IpPolicies,
    /// Audience attributes of each event (device, country, source...), built once.
    enricher: Enricher,
}

impl Worker {
    pub fn new(queue: Queue, db: Db, settings: Arc<Settings>, enricher: Enricher) -> Self {
        // Jobs may sit in the queue (or the dead-letter queue) for long: the skew window was
        // enforced at ingest, so here any time is accepted.
        let validator = Validator {
            now_ms: 0,
            max_past_ms: i64::MAX / 4,
            max_future_ms: i64::MAX / 4,
            deny_keys: settings.ingest.deny_keys.clone(),
        };
        let live = LivePublisher::new(queue.conn());
        Self {
            queue,
            db,
            settings,
            token: Uuid::new_v4().to_string(),
            validator,
            live,
            // Start from the largest a job can be (merged jobs): a first claim sized for small
            // jobs could take hundreds of thousands of events at once.
            events_per_job: AtomicU64::new(crate::queue::MAX_JOB_EVENTS as u64),
            short_queue: AtomicBool::new(false),
            actor_days: Default::default(),
            ip_policies: Default::default(),
            enricher,
        }
    }

    /// Runs `lanes` claim/write loops until `shutdown`; each then finishes the batch in hand (or
    /// releases it) and returns. Several lanes keep Postgres busy while another lane decodes,
    /// claims or completes: one lane leaves the database idle a third of the time.
    pub async fn run(self: Arc<Self>, lanes: usize, shutdown: CancellationToken) {
        info!(worker = %self.token, lanes, "worker started");
        let mut tasks = tokio::task::JoinSet::new();
        for lane in 0..lanes.max(1) {
            let (me, stop) = (self.clone(), shutdown.clone());
            let shard = i16::try_from(lane).unwrap_or(i16::MAX);
            tasks.spawn(
                crate::storage::events::ROLLUP_SHARD
                    .scope(shard, async move { me.lane(lane, stop).await }),
            );
        }
        while tasks.join_next().await.is_some() {}
        info!(worker = %self.token, "worker stopped");
    }

    async fn lane(&self, lane: usize, shutdown: CancellationToken) {
        // Each lane blocks on the marker on a connection of its own.
        let mut blocking = loop {
            match RedisConn::connect(self.settings.redis_url.expose()).await {
                Ok(c) => break c,
                Err(e) => {
                    warn!(error = %e, "worker cannot reach Redis; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        };
        let stalled_every = self.settings.worker.lock / 2;
        let mut last_stalled_check = tokio::time::Instant::now() - stalled_every;
        while !shutdown.is_cancelled() {
            if lane == 0 && last_stalled_check.elapsed() >= stalled_every {
                last_stalled_check = tokio::time::Instant::now();
                match self.queue.recover_stalled(stalled_every, MAX_STALLS).await {
                    Ok(ids) if !ids.is_empty() => {
                        warn!(count = ids.len(), "recovered stalled jobs of a dead worker");
                        metrics::counter!(names::WORKER_STALLED_RECOVERED)
                            .increment(ids.len() as u64);
                    }
                    Ok(_) => {}
                    Err(e) => warn!(error = %e, "stalled-job check failed"),
                }
            }
            let linger = self.settings.worker.linger;
            if lane > 0 && !linger.is_zero() && self.short_queue.load(Ordering::Relaxed) {
                // A short queue needs one lane: more would split the trickle into more, smaller
                // statements (measured at 8,000 1-event beacons/s, old and new alternating:
                // 89-91 us of Postgres and worker CPU per stored event with three lanes
                // claiming, 75-86 with one; docs/BENCHMARKS.md).
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(linger) => {}
                }
                continue;
            }
            let outcome = self.try_execute_batch(&shutdown).await;
            if let Ok(events) = &outcome {
                self.short_queue
                    .store(*events < LINGER_BELOW_EVENTS, Ordering::Relaxed);
            }
            match outcome {
                Ok(0) => {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        r = self.queue.wait_for_marker(&mut blocking, Duration::from_millis(500)) => {
                            if let Ok(Some(due)) = r {
                                // A delayed-job marker carries its due time: sleep until then.
                                let wait = due as i64 - crate::clock::now_ms();
                                if wait > 0 {
                                    tokio::time::sleep(Duration::from_millis(wait.min(500) as u64)).await;
                                }
                            } else if r.is_err() {
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                        }
                    }
                }
                Ok(events) => {
                    // A short queue: let it fill a little rather than write a handful of events
                    // per statement (each statement's fixed cost is CPU the ingest path needs).
                    if events < LINGER_BELOW_EVENTS && !linger.is_zero() {
                        tokio::select! {
                            _ = shutdown.cancelled() => break,
                            _ = tokio::time::sleep(linger) => {}
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, "claiming jobs failed; retrying");
                    metrics::counter!(names::ERRORS, "where" => "worker_claim").increment(1);
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }

    /// Claims one batch and settles every job of it. Returns how many events its jobs held
    /// (0: nothing claimed).
    pub async fn try_execute_batch(
        &self,
        shutdown: &CancellationToken,
    ) -> Result<usize, crate::queue::QueueError> {
        let jobs = self
            .queue
            .claim(&self.token, self.settings.worker.lock, self.jobs_to_claim())
            .await?;
        if jobs.is_empty() {
            return Ok(0);
        }
        let n = jobs.len();
        metrics::histogram!(names::WORKER_BATCH_JOBS).record(n as f64);

        let mut decoded = Vec::with_capacity(n);
        for job in jobs {
            match self.decode(job) {
                Ok(d) => decoded.push(d),
                Err((job, reason)) => {
                    warn!(job = %job.id, %reason, "job data is not an ingest job; dead-lettering it");
                    self.fail(&job, &reason, true).await;
                }
            }
        }

        // The last step of building each row: what of the client IP the project stores (what
        // is derived from the full address was derived while decoding).
        for d in &mut decoded {
            let policy = self.ip_policies.get(&self.db, d.project_id).await;
            for row in &mut d.rows {
                row.ip_address = policy.apply_text(row.ip_address.take());
            }
        }

        let events: usize = decoded.iter().map(|d| d.rows.len()).sum();
        // Moving average (half weight on the new batch) of events per job, for the next claim.
        let avg = (events / n.max(1)).max(1) as u64;
        let old = self.events_per_job.load(Ordering::Relaxed);
        self.events_per_job
            .store((old + avg).div_ceil(2), Ordering::Relaxed);

        // Keep our locks alive while we work, however long the database takes.
        let ids: Vec<String> = decoded.iter().map(|d| d.job.id.clone()).collect();
        let keeper = self.spawn_lock_keeper(ids);
        let result = self.store(decoded, shutdown).await;
        keeper.cancel();
        result.map(|_| events.max(1))
    }

    /// Jobs to claim so a batch holds about [`TARGET_BATCH_EVENTS`] events: merged jobs can hold
    /// a thousand events, single beacons one, so a fixed job count would give batches from tiny
    /// (slow: per-statement overhead) to huge (memory, lock time).
    fn jobs_to_claim(&self) -> usize {
        let per_job = self.events_per_job.load(Ordering::Relaxed).max(1) as usize;
        (TARGET_BATCH_EVENTS / per_job).clamp(1, self.settings.worker.batch_jobs)
    }

    fn spawn_lock_keeper(&self, ids: Vec<String>) -> CancellationToken {
        let stop = CancellationToken::new();
        let (queue, token, lock, stop2) = (
            self.queue.clone(),
            self.token.clone(),
            self.settings.worker.lock,
            stop.clone(),
        );
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop2.cancelled() => return,
                    _ = tokio::time::sleep(lock / 3) => {
                        if let Err(e) = queue.extend_locks(&token, &ids, lock).await {
                            warn!(error = %e, "extending job locks failed");
                        }
                    }
                }
            }
        });
        stop
    }

    fn decode(&self, job: ClaimedJob) -> Result<Decoded, (ClaimedJob, String)> {
        let data = match JobFields::parse(&job.data) {
            Ok(d) => d,
            Err(reason) => return Err((job, reason)),
        };
        let received_at = data
            .received_at
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_else(chrono::Utc::now);
        let ip: Option<IpAddr> = data.ip.as_deref().and_then(|s| s.parse().ok());
        let keep_live = self.live.maybe_listening(data.project_id);
        let mut rows = Vec::with_capacity(data.events.len());
        let mut live = Vec::new();
        for (i, raw) in data.events.iter().enumerate() {
            let checked = serde_json::from_str::<Value>(raw.get())
                .map_err(|e| Rejected::NotJson(e.to_string()))
                .and_then(|v| self.validator.event(v, Dialect::Job));
            match checked {
                Ok(ev) => {
                    if keep_live {
                        live.push(ev.clone());
                    }
                    rows.push(into_row(
                        &self.enricher,
                        ev,
                        data.project_id,
                        ip,
                        data.user_agent.as_deref(),
                        received_at,
                    ));
                }
                Err(reason) => {
                    // Already answered 202 by some producer: nothing to reject to; count it.
                    warn!(job = %job.id, index = i, %reason, "dropping invalid event from job");
                    metrics::counter!(names::WORKER_INVALID_EVENTS).increment(1);
                }
            }
        }
        let project_id = data.project_id;
        drop(data);
        Ok(Decoded {
            job,
            project_id,
            rows,
            live,
        })
    }

    async fn store(
        &self,
        mut decoded: Vec<Decoded>,
        shutdown: &CancellationToken,
    ) -> Result<(), crate::queue::QueueError> {
        if decoded.is_empty() {
            return Ok(());
        }
        // Move the rows into one batch (no copies); they are handed back if the batch must be split.
        let lens: Vec<usize> = decoded.iter().map(|d| d.rows.len()).collect();
        let mut rows: Vec<activity::Model> = Vec::with_capacity(lens.iter().sum());
        for d in &mut decoded {
            rows.append(&mut d.rows);
        }
        match self.write_waiting_out_outages(&rows, shutdown).await {
            Ok(Some(new)) => {
                self.after_commit(&decoded, &new).await;
                let ids: Vec<String> = decoded.iter().map(|d| d.job.id.clone()).collect();
                self.queue
                    .complete(&self.token, &ids, self.settings.worker.keep_completed)
                    .await?;
                Ok(())
            }
            Ok(None) => {
                // Shutting down while the database is away: hand the jobs back untouched.
                let ids: Vec<String> = decoded.iter().map(|d| d.job.id.clone()).collect();
                let released = self.queue.release(&self.token, &ids).await?;
                info!(
                    released,
                    "released jobs at shutdown; another worker will store them"
                );
                Ok(())
            }
            Err(e) if decoded.len() > 1 => {
                warn!(error = %e, jobs = decoded.len(), "batch write failed on its data; isolating jobs");
                let mut rest = rows.into_iter();
                for (mut d, n) in decoded.into_iter().zip(lens) {
                    d.rows = rest.by_ref().take(n).collect();
                    Box::pin(self.store(vec![d], shutdown)).await?;
                }
                Ok(())
            }
            Err(e) => {
                let d = &decoded[0];
                warn!(job = %d.job.id, error = %e, "job failed to store");
                self.fail(&d.job, &e.to_string(), false).await;
                Ok(())
            }
        }
    }

    /// Writes, retrying transient failures until the database answers. `Ok(None)` when asked to
    /// shut down before it did.
    async fn write_waiting_out_outages(
        &self,
        rows: &[activity::Model],
        shutdown: &CancellationToken,
    ) -> Result<Option<HashSet<(Uuid, Uuid)>>, StorageError> {
        let mut delay = Duration::from_millis(100);
        // Never held across an await; a poisoned lock only means nothing is skipped.
        let known = self
            .actor_days
            .lock()
            .map(|mut d| d.known(rows))
            .unwrap_or_default();
        loop {
            let started = std::time::Instant::now();
            match crate::storage::events::insert_known(&self.db, rows, &known).await {
                Ok(new) => {
                    // Only rows this statement stored: a duplicate may name another actor than
                    // the stored row with its id.
                    if let Ok(mut d) = self.actor_days.lock() {
                        let fresh: Vec<&activity::Model> = rows
                            .iter()
                            .filter(|r| new.contains(&(r.project_id, r.event_id)))
                            .collect();
                        d.stored(fresh);
                    }
                    metrics::histogram!(names::DB_WRITE_SECONDS)
                        .record(started.elapsed().as_secs_f64());
                    metrics::counter!(names::WORKER_EVENTS_STORED).increment(new.len() as u64);
                    metrics::counter!(names::WORKER_EVENTS_DUPLICATE)
                        .increment((rows.len() - new.len()) as u64);
                    // Rollups are updated in the same statement, so their lag is the time from
                    // receipt of the batch's oldest event to this commit.
                    if let Some(oldest) = rows.iter().map(|r| r.received_at).min() {
                        let lag = (chrono::Utc::now().fixed_offset() - oldest)
                            .num_milliseconds()
                            .max(0) as f64
                            / 1000.0;
                        metrics::gauge!(names::ROLLUP_LAG_SECONDS).set(lag);
                    }
                    return Ok(Some(new));
                }
                Err(e) if e.is_transient() => {
                    warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "database unavailable; waiting");
                    metrics::counter!(names::ERRORS, "where" => "db_write").increment(1);
                    tokio::select! {
                        _ = shutdown.cancelled() => return Ok(None),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn after_commit(&self, decoded: &[Decoded], new: &HashSet<(Uuid, Uuid)>) {
        if new.is_empty() {
            return;
        }
        let mut by_project: std::collections::HashMap<Uuid, Vec<&Event>> =
            std::collections::HashMap::new();
        for d in decoded {
            for ev in &d.live {
                if new.contains(&(d.project_id, ev.id)) {
                    by_project.entry(d.project_id).or_default().push(ev);
                }
            }
        }
        for (project, events) in by_project {
            self.live.publish(project, &events).await;
        }
    }

    async fn fail(&self, job: &ClaimedJob, reason: &str, permanent: bool) {
        match self
            .queue
            .fail(
                &self.token,
                &job.id,
                reason,
                &self.settings.worker,
                permanent,
            )
            .await
        {
            Ok(FailOutcome::DeadLettered) => {
                metrics::counter!(names::WORKER_JOBS_DEAD_LETTERED).increment(1);
            }
            Ok(FailOutcome::Retried) => metrics::counter!(names::WORKER_JOBS_RETRIED).increment(1),
            Ok(FailOutcome::NotOurs) => {}
            Err(e) => {
                warn!(job = %job.id, error = %e, "could not record job failure; it will be recovered as stalled")
            }
        }
    }
}

/// The row for an event, moving its fields (no copies). `metadata` holds the event's props, plus
/// the page title and URL when there are any (the table has no columns for them; the contract
/// says metadata holds the props).
fn into_row(
    enricher: &Enricher,
    ev: Event,
    project_id: Uuid,
    job_ip: Option<IpAddr>,
    job_ua: Option<&str>,
    received_at: DateTime<chrono::Utc>,
) -> activity::Model {
    let path = ev.path();
    let occurred_at = ev.occurred_at();
    let user_agent = ev.user_agent.or_else(|| job_ua.map(str::to_string));
    // Parsed, so only a valid address is stored (written in its canonical form).
    let ip = ev
        .ip
        .as_deref()
        .and_then(|s| s.parse::<IpAddr>().ok())
        .or(job_ip);
    // First, from the full address: anything that truncates the stored address comes after.
    let (audience, bot_device) = audience::attributes(
        enricher,
        &audience::Inputs {
            user_agent: user_agent.as_deref(),
            ip,
            referrer: ev.referrer.as_deref(),
            url: ev.url.as_deref(),
            screen_width: ev.screen_width,
            language: ev.language.as_deref(),
        },
    );
    let is_bot = ev.bot
        || ev.webdriver
        || bot_device
        || user_agent
            .as_deref()
            .is_some_and(crate::event::is_bot_user_agent);
    let mut props = ev.props;
    if let Some(title) = ev.title {
        props.entry("title").or_insert(Value::String(title));
    }
    if let Some(url) = ev.url {
        props.entry("url").or_insert(Value::String(url));
    }
    activity::Model {
        event_id: ev.id,
        project_id,
        event_type: ev.event_type,
        user_id: ev.user_id,
        anonymous_id: ev.anonymous_id,
        session_id: ev.session_id,
        community_id: ev.community_id,
        entity_type: ev.entity_type,
        entity_id: ev.entity_id,
        path,
        referrer: ev.referrer,
        metadata: Value::Object(props),
        ip_address: ip.map(|ip| ip.to_string()),
        user_agent,
        is_bot,
        occurred_at: occurred_at.fixed_offset(),
        received_at: received_at.fixed_offset(),
        audience,
    }
}
