//! `sightline loadgen`: a realistic beacon load (page views, clicks, scrolls over many users and
//! sessions) against a Sightline server, with rate, duration, batch size and concurrency set by
//! the caller. Used by the benchmark and by the fault tests.
//!
//! Every batch is resent with the same event ids until it is answered 202 (after 429/503 or a
//! connection error), as the browser tracker does, so `accepted` is exactly the number of
//! distinct events the server promised to store: the figure stored counts are checked against.
//!
//! Safety: it refuses targets that are not loopback unless `allow_remote` is set.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct LoadgenConfig {
    /// Server base URL, e.g. http://127.0.0.1:8080.
    pub url: String,
    pub key: String,
    /// Total events per second across all connections; `None`: as fast as answers come.
    pub rate: Option<u32>,
    pub duration: Duration,
    /// Stop after this many events (whichever of duration and count comes first).
    pub max_events: Option<u64>,
    pub batch: usize,
    pub concurrency: usize,
    pub users: u32,
    pub paths: u32,
    pub allow_remote: bool,
    /// Seed for reproducible event mixes.
    pub seed: u64,
    /// Closed loop: send only while fewer than its limit of accepted events await storage.
    pub backlog: Option<Arc<Backlog>>,
}

/// How far acceptance may run ahead of storage. The caller reports the stored count (it can see
/// the database, the load generator cannot); connections wait while the accepted events not yet
/// stored exceed `limit`. Offered load then follows what the system sustains, as the queue's
/// backpressure would make real senders do, instead of piling a backlog of millions of events
/// into Redis that the end-to-end figure then also pays for.
#[derive(Debug)]
pub struct Backlog {
    limit: u64,
    accepted: AtomicU64,
    stored: tokio::sync::watch::Sender<u64>,
}

impl Backlog {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            limit,
            accepted: AtomicU64::new(0),
            stored: tokio::sync::watch::Sender::new(0),
        })
    }

    /// Events stored since the load began (monotonic; smaller values are ignored).
    pub fn set_stored(&self, n: u64) {
        self.stored.send_if_modified(|s| {
            let grew = n > *s;
            if grew {
                *s = n;
            }
            grew
        });
    }

    /// Waits until sending is allowed, or `deadline`.
    async fn admit(&self, deadline: Instant) {
        let mut rx = self.stored.subscribe();
        let open = rx.wait_for(|&s| self.accepted.load(Ordering::Relaxed) <= s + self.limit);
        let _ = tokio::time::timeout_at(deadline.into(), open).await;
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadgenReport {
    pub requests: u64,
    pub accepted_events: u64,
    pub rejected_events: u64,
    pub retries: u64,
    pub failed_batches: u64,
    pub elapsed_s: f64,
    pub events_per_s: f64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Every answered request's latency in microseconds, sorted: lets reports of several
    /// rounds be merged into exact percentiles.
    #[serde(skip)]
    pub latencies_us: Vec<u32>,
}

impl LoadgenReport {
    /// One report for consecutive runs, as if they were one run of their summed duration.
    pub fn merge(parts: Vec<LoadgenReport>) -> LoadgenReport {
        let mut total = LoadgenReport::default();
        for p in parts {
            total.requests += p.requests;
            total.accepted_events += p.accepted_events;
            total.rejected_events += p.rejected_events;
            total.retries += p.retries;
            total.failed_batches += p.failed_batches;
            total.elapsed_s += p.elapsed_s;
            total.latencies_us.extend(p.latencies_us);
        }
        total.finish();
        total
    }

    /// Derives the rates and percentiles from the counts, elapsed time and latencies.
    fn finish(&mut self) {
        self.events_per_s = self.accepted_events as f64 / self.elapsed_s.max(1e-9);
        self.requests_per_s = self.latencies_us.len() as f64 / self.elapsed_s.max(1e-9);
        self.latencies_us.sort_unstable();
        self.p50_ms = percentile_ms(&self.latencies_us, 0.50);
        self.p99_ms = percentile_ms(&self.latencies_us, 0.99);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    #[error("refusing to load {0}: not a loopback address (pass --allow-remote to override)")]
    NotLoopback(String),
    #[error("invalid target URL {0:?}")]
    BadUrl(String),
    #[error("http client: {0}")]
    Client(String),
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.split("://").nth(1)?;
    let host_port = rest.split(['/', '?']).next()?;
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next();
    }
    Some(
        host_port
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(host_port),
    )
}

pub fn is_loopback_url(url: &str) -> Result<bool, LoadgenError> {
    let host = host_of(url).ok_or_else(|| LoadgenError::BadUrl(url.to_string()))?;
    Ok(host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false))
}

/// Events a browser sends at most in one batch (the tracker's default flush size).
const VISIT_EVENTS: u64 = 20;

/// A visitor and one of their sessions. A request carries one visitor's events, as a browser
/// running the tracker sends them (one page's or one visit's batch), not a random visitor per
/// event: the per-session and per-actor rows then see the locality real traffic has.
pub fn pick_visitor(rng: &mut SmallRng, users: u32) -> (u32, u32) {
    let user = rng.gen_range(0..users.max(1));
    (user, user * 4 + rng.gen_range(0..4))
}

/// Appends one generated event of `visitor`, in the tracker's shape, to `out` as JSON.
///
/// Written straight into the request body rather than built as a `serde_json::Value`: the load
/// generator shares the machine with the system it measures, and a tree of small allocations
/// per event was a tenth of the benchmark's CPU. Every string written here is ASCII without
/// quotes or backslashes, so nothing needs escaping.
pub fn write_synthetic_event(
    out: &mut String,
    rng: &mut SmallRng,
    visitor: (u32, u32),
    paths: u32,
    now_ms: i64,
) {
    use std::fmt::Write as _;
    let (user, session) = visitor;
    let path = rng.gen_range(0..paths.max(1));
    let roll: u8 = rng.gen_range(0..100);
    // Time-ordered v7 ids, as the tracker sends (tracker-wasm/src/ids.rs).
    let id = uuid::Builder::from_unix_timestamp_millis(now_ms as u64, &rng.gen()).into_uuid();
    let _ = write!(out, r#"{{"id":"{}","type":"#, id.as_hyphenated());
    if roll < 50 {
        out.push_str(r#""page.view","props":{}"#);
    } else if roll < 85 {
        let b = rng.gen_range(0..12);
        let _ = write!(
            out,
            r#""element.click","props":{{"tag":"button","selector":"main > button.cta-{b}","text":"Action {b}","x":{},"y":{},"vw":1280}}"#,
            rng.gen_range(0..1000),
            rng.gen_range(0..1000)
        );
    } else {
        let depth = [25, 50, 75, 100][rng.gen_range(0..4)];
        let _ = write!(out, r#""page.scroll","props":{{"depth":{depth}}}"#);
    }
    // The session's referrer and landing tags (crate::tools::mix), hashed from the session:
    // the random stream above is what it was.
    let arrival = crate::tools::mix::arrival_of(u64::from(session));
    let _ = write!(
        out,
        r#","ts":{now_ms},"anonymous_id":"a-{user}","session_id":"s-{session}","url":"https://shop.example/p/{path}{}","title":"Shop""#,
        arrival.query
    );
    if let Some(referrer) = arrival.referrer {
        let _ = write!(out, r#","referrer":"{referrer}""#);
    }
    if user % 5 == 0 {
        let _ = write!(out, r#","user_id":"u-{user}""#);
    }
    out.push('}');
}

pub async fn run(
    cfg: LoadgenConfig,
    stop: CancellationToken,
) -> Result<LoadgenReport, LoadgenError> {
    if !cfg.allow_remote && !is_loopback_url(&cfg.url)? {
        return Err(LoadgenError::NotLoopback(cfg.url.clone()));
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(cfg.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| LoadgenError::Client(e.to_string()))?;
    let endpoint = format!("{}/collect", cfg.url.trim_end_matches('/'));
    let started = Instant::now();
    let deadline = started + cfg.duration;
    let remaining = Arc::new(AtomicU64::new(cfg.max_events.unwrap_or(u64::MAX)));
    let done = Arc::new(AtomicBool::new(false));
    let concurrency = cfg.concurrency.max(1);
    // Per-connection pacing: each connection sends one batch per interval.
    let interval = cfg
        .rate
        .map(|r| Duration::from_secs_f64(cfg.batch as f64 * concurrency as f64 / r.max(1) as f64));
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        let (client, endpoint, cfg, stop, remaining, done) = (
            client.clone(),
            endpoint.clone(),
            cfg.clone(),
            stop.clone(),
            remaining.clone(),
            done.clone(),
        );
        tasks.spawn(async move {
            let body_start = format!(r#"{{"key":{},"events":["#, Value::from(cfg.key.as_str()));
            let mut rng = SmallRng::seed_from_u64(cfg.seed.wrapping_add(worker as u64 * 7919));
            let mut report = LoadgenReport::default();
            let mut latencies: Vec<u32> = Vec::new();
            let mut next = Instant::now();
            loop {
                if let Some(b) = &cfg.backlog {
                    b.admit(deadline).await;
                }
                if stop.is_cancelled() || done.load(Ordering::Relaxed) || Instant::now() >= deadline
                {
                    break;
                }
                // Claim this batch's share of the event budget.
                let want = cfg.batch as u64;
                let got = remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| {
                        Some(r.saturating_sub(want))
                    })
                    .unwrap_or(0)
                    .min(want);
                if got == 0 {
                    done.store(true, Ordering::Relaxed);
                    break;
                }
                let now_ms = sightline::clock::now_ms();
                // A browser's batch is one visitor's: a new visitor every VISIT_EVENTS events
                // (larger requests stand for a proxy forwarding several browsers' batches).
                let mut visitor = pick_visitor(&mut rng, cfg.users);
                // The browser of the request's first visitor (crate::tools::mix).
                let user_agent = crate::tools::mix::user_agent(u64::from(visitor.0));
                let mut body = String::with_capacity(64 + 320 * got as usize);
                body.push_str(&body_start);
                for i in 0..got {
                    if i > 0 {
                        body.push(',');
                        if i % VISIT_EVENTS == 0 {
                            visitor = pick_visitor(&mut rng, cfg.users);
                        }
                    }
                    write_synthetic_event(&mut body, &mut rng, visitor, cfg.paths, now_ms);
                }
                body.push_str("]}");
                let body = axum::body::Bytes::from(body);
                // Resend the same batch until it is accepted (or we give up well after the end).
                let give_up = deadline + Duration::from_secs(60);
                loop {
                    let t = Instant::now();
                    let r = client
                        .post(&endpoint)
                        .header("content-type", "text/plain")
                        .header("user-agent", user_agent)
                        .body(body.clone())
                        .send()
                        .await;
                    report.requests += 1;
                    match r {
                        Ok(resp) if resp.status().as_u16() == 202 => {
                            latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                            let v: Value = resp.json().await.unwrap_or_default();
                            let accepted = v["accepted"].as_u64().unwrap_or(0);
                            report.accepted_events += accepted;
                            if let Some(b) = &cfg.backlog {
                                b.accepted.fetch_add(accepted, Ordering::Relaxed);
                            }
                            report.rejected_events += v["rejected"]
                                .as_array()
                                .map(|a| a.len() as u64)
                                .unwrap_or(0);
                            break;
                        }
                        Ok(resp)
                            if matches!(resp.status().as_u16(), 429 | 503 | 502 | 504 | 500) =>
                        {
                            let wait = resp
                                .headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .and_then(|v| v.parse::<u64>().ok())
                                .map(|s| Duration::from_millis((s * 1000).min(1000)))
                                .unwrap_or(Duration::from_millis(100));
                            report.retries += 1;
                            tokio::time::sleep(wait).await;
                        }
                        Ok(resp) => {
                            tracing::warn!(status = %resp.status(), "batch refused");
                            report.rejected_events += got;
                            report.failed_batches += 1;
                            break;
                        }
                        Err(_) => {
                            report.retries += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                    if Instant::now() > give_up {
                        report.failed_batches += 1;
                        break;
                    }
                }
                if let Some(iv) = interval {
                    next += iv;
                    let now = Instant::now();
                    if next > now {
                        tokio::time::sleep(next - now).await;
                    } else {
                        next = now;
                    }
                }
            }
            (report, latencies)
        });
    }
    let mut total = LoadgenReport::default();
    while let Some(r) = tasks.join_next().await {
        if let Ok((r, l)) = r {
            total.requests += r.requests;
            total.accepted_events += r.accepted_events;
            total.rejected_events += r.rejected_events;
            total.retries += r.retries;
            total.failed_batches += r.failed_batches;
            total.latencies_us.extend(l);
        }
    }
    total.elapsed_s = started.elapsed().as_secs_f64();
    total.finish();
    Ok(total)
}

/// Percentile of sorted microsecond samples, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let idx = ((sorted_us.len() as f64 - 1.0) * q).round() as usize;
    sorted_us[idx.min(sorted_us.len() - 1)] as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_allowed_by_default() {
        assert!(is_loopback_url("http://127.0.0.1:8080").expect("url"));
        assert!(is_loopback_url("http://localhost:1/x").expect("url"));
        assert!(is_loopback_url("http://[::1]:8080").expect("url"));
        assert!(!is_loopback_url("http://10.0.0.5:8080").expect("url"));
        assert!(!is_loopback_url("https://example.com").expect("url"));
        assert!(is_loopback_url("not a url").is_err());
    }

    #[test]
    fn synthetic_events_pass_ingest_validation() {
        let mut rng = SmallRng::seed_from_u64(1);
        let v = sightline::event::Validator {
            now_ms: 1_000_000,
            max_past_ms: 1000,
            max_future_ms: 1000,
            deny_keys: Vec::<String>::new().into(),
        };
        for _ in 0..200 {
            let visitor = pick_visitor(&mut rng, 100);
            let mut json = String::new();
            write_synthetic_event(&mut json, &mut rng, visitor, 10, 1_000_000);
            let e: Value = serde_json::from_str(&json).expect("well-formed JSON");
            v.event(e, sightline::event::Dialect::Browser)
                .expect("valid");
        }
    }

    #[test]
    fn merged_rounds_report_like_one_run() {
        let round = |lat: Vec<u32>, secs: f64| {
            let mut r = LoadgenReport {
                requests: lat.len() as u64,
                accepted_events: lat.len() as u64,
                elapsed_s: secs,
                latencies_us: lat,
                ..Default::default()
            };
            r.finish();
            r
        };
        let merged = LoadgenReport::merge(vec![
            round((1..=50).map(|i| i * 1000).collect(), 1.0),
            round((51..=100).map(|i| i * 1000).collect(), 4.0),
        ]);
        assert_eq!(merged.requests, 100);
        assert_eq!(merged.requests_per_s, 20.0);
        assert_eq!(merged.p50_ms, 51.0);
        assert_eq!(merged.p99_ms, 99.0);
    }

    #[tokio::test]
    async fn the_backlog_gate_holds_senders_until_storage_catches_up() {
        let b = Backlog::new(10);
        let far = Instant::now() + Duration::from_secs(30);
        // Within the limit: no wait.
        b.accepted.store(10, Ordering::Relaxed);
        tokio::time::timeout(Duration::from_secs(1), b.admit(far))
            .await
            .expect("open while 10 of 10 await storage");
        // Over it: waits, until the stored count brings it back under.
        b.accepted.store(25, Ordering::Relaxed);
        let waiting = tokio::spawn({
            let b = b.clone();
            async move { b.admit(far).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "25 accepted, 0 stored: must wait");
        b.set_stored(10);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "15 awaiting storage: still over");
        b.set_stored(3); // stale, smaller report: ignored
        b.set_stored(15);
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("opens at 10 awaiting")
            .expect("task");
        // The deadline ends any wait.
        b.accepted.store(1000, Ordering::Relaxed);
        let soon = Instant::now() + Duration::from_millis(50);
        tokio::time::timeout(Duration::from_secs(1), b.admit(soon))
            .await
            .expect("the deadline releases the wait");
    }

    #[test]
    fn percentiles_pick_the_right_sample() {
        let s: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&s, 0.5), 51.0);
        assert_eq!(percentile_ms(&s, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.99), 0.0);
    }
}
