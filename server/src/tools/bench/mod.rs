//! `sightline bench`: the end-to-end benchmark with its physical references, measured in one run
//! on one machine (see docs/BENCHMARKS.md; `scripts/bench` starts the stack and calls this).
//!
//! 1. End-to-end ingest (HTTP -> Redis -> worker -> Postgres) for a fixed time, then a drain, then
//!    the stored `event_id` set checked against the ids answered 202: missing, unexpected and
//!    duplicated ids are reported, and any of them fails the benchmark (as it does again at the
//!    end for every event accepted in every phase).
//! 2. A raw `COPY` of exactly those rows into a table with the same layout, partitions and indexes
//!    as `activities`: the physical reference for the write path (`e2e_vs_copy`). Run on a settled
//!    database (vacuum, analyze, checkpoint before each run), three times: the median is the
//!    reference, the spread is reported beside it.
//! 3. HTTP ingest requests/s and p50/p99 for 1-event and 20-event batches, against a trivial axum
//!    handler in its own process on the same machine (`http_vs_trivial`; the two take turns in
//!    short rounds), and p99 at half the maximum rate once the worker has caught up, beside the
//!    trivial handler's p99 at that rate and the machine's own wakeup lateness ([`noise`]).
//!
//! Its last output line is one JSON object with every figure.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::tools::loadgen::{self, LoadgenConfig, LoadgenReport};
use noise::{lateness_ms, WakeupProbe};
use sightline::queue::Queue;

pub mod enrich;
pub mod export;
pub mod noise;

#[derive(Clone)]
pub struct BenchConfig {
    pub url: String,
    pub key: String,
    pub project_id: Uuid,
    pub database_url: String,
    pub server_pid: Option<u32>,
    pub worker_pid: Option<u32>,
    pub e2e_duration: Duration,
    pub http_duration: Duration,
    pub concurrency: usize,
    /// Base URL of the trivial reference handler (`sightline bench-trivial`).
    pub trivial_url: String,
    /// End-to-end phase: most accepted events awaiting storage before the load generator waits
    /// (0: no limit, offer as fast as the server answers).
    pub e2e_backlog: u64,
    /// The server's queue: paused for the "ingest alone" case (storage off the CPU meanwhile).
    pub queue: Queue,
}

/// Rounds each HTTP case is split into, ours and the trivial handler taking turns.
const HTTP_ROUNDS: u32 = 5;

fn load(
    cfg: &BenchConfig,
    url: &str,
    batch: usize,
    rate: Option<u32>,
    duration: Duration,
) -> LoadgenConfig {
    LoadgenConfig {
        url: url.to_string(),
        key: cfg.key.clone(),
        rate,
        duration,
        max_events: None,
        batch,
        concurrency: cfg.concurrency,
        users: 200_000,
        paths: 500,
        allow_remote: false,
        seed: rand::random(),
        backlog: None,
    }
}

/// How the stored `event_id`s of the project differ from the ids answered 202.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IdCheck {
    pub accepted: usize,
    pub stored_rows: usize,
    /// Accepted, not stored.
    pub missing: usize,
    /// Stored, never accepted.
    pub unexpected: usize,
    /// Stored more than once.
    pub duplicated: usize,
}

impl IdCheck {
    pub fn compare(accepted: &[Uuid], stored: &[Uuid]) -> Self {
        use std::collections::{HashMap, HashSet};
        let want: HashSet<Uuid> = accepted.iter().copied().collect();
        let mut seen: HashMap<Uuid, u32> = HashMap::with_capacity(stored.len());
        for id in stored {
            *seen.entry(*id).or_default() += 1;
        }
        Self {
            accepted: want.len(),
            stored_rows: stored.len(),
            missing: want.iter().filter(|id| !seen.contains_key(id)).count(),
            unexpected: seen.keys().filter(|id| !want.contains(id)).count(),
            duplicated: seen.values().filter(|n| **n > 1).count(),
        }
    }

    pub fn exact(&self) -> bool {
        self.missing == 0 && self.unexpected == 0 && self.duplicated == 0
    }

    fn describe(&self) -> String {
        format!(
            "{} accepted, {} rows stored: missing {}, unexpected {}, duplicated {}",
            self.accepted, self.stored_rows, self.missing, self.unexpected, self.duplicated
        )
    }
}

async fn stored_ids(pool: &PgPool, project: Uuid) -> anyhow::Result<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT event_id FROM activities WHERE project_id = $1")
            .bind(project)
            .fetch_all(pool)
            .await?,
    )
}

/// Events stored so far, read from `rollup_minute` (written in the same statement as the raw
/// rows, a few hundred rows to sum): cheap enough to poll while the worker drains, where a
/// count over millions of raw rows would take a core away from the system being measured.
async fn stored_progress(pool: &PgPool, project: Uuid) -> anyhow::Result<i64> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT sum(events)::int8 FROM rollup_minute WHERE project_id = $1")
            .bind(project)
            .fetch_one(pool)
            .await?;
    Ok(n.unwrap_or(0))
}

/// Waits until `target` events are stored (by [`stored_progress`]), or until nothing has been
/// stored for 30 s (a loss, which the caller's exact count then reports).
async fn wait_stored(pool: &PgPool, project: Uuid, target: i64) -> anyhow::Result<()> {
    let mut last = (i64::MIN, Instant::now());
    loop {
        let n = stored_progress(pool, project).await?;
        if n >= target {
            return Ok(());
        }
        if n > last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Feeds the stored count to the load generator's backlog gate until `stop`.
async fn report_stored(
    pool: PgPool,
    project: Uuid,
    base: i64,
    backlog: std::sync::Arc<loadgen::Backlog>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        match stored_progress(&pool, project).await {
            Ok(n) => backlog.set_stored((n - base).max(0) as u64),
            Err(e) => tracing::warn!(error = %e, "reading the stored count failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

fn say(line: String) {
    println!("{line}");
}

pub async fn run(cfg: BenchConfig) -> anyhow::Result<Value> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&cfg.database_url)
        .await
        .context("connect to Postgres")?;
    // The project must be new: every stored id is then one this run sent.
    let before = stored_ids(&pool, cfg.project_id).await?;
    anyhow::ensure!(
        before.is_empty(),
        "the bench project already holds {} events: use a new project",
        before.len()
    );
    let progress_before = stored_progress(&pool, cfg.project_id).await?;
    // Every id answered 202 by our server, over all phases.
    let mut accepted_ids: Vec<Uuid> = Vec::new();

    // 1. End to end.
    say(format!(
        "[1/3] end-to-end ingest for {} s (batch 20, {} connections)...",
        cfg.e2e_duration.as_secs(),
        cfg.concurrency
    ));
    let mut e2e_load = load(&cfg, &cfg.url, 20, None, cfg.e2e_duration);
    let polling = CancellationToken::new();
    if cfg.e2e_backlog > 0 {
        let backlog = loadgen::Backlog::new(cfg.e2e_backlog);
        e2e_load.backlog = Some(backlog.clone());
        tokio::spawn(report_stored(
            pool.clone(),
            cfg.project_id,
            progress_before,
            backlog,
            polling.clone(),
        ));
    }
    let started = Instant::now();
    let report = loadgen::run(e2e_load, CancellationToken::new()).await;
    polling.cancel();
    let report = report?;
    let sent_for = started.elapsed();
    let target = progress_before + report.accepted_events as i64;
    wait_stored(&pool, cfg.project_id, target).await?;
    let drained_in = started.elapsed();
    // The verdict comes from the raw rows themselves, compared id by id once the drain is over.
    let check = IdCheck::compare(
        &report.accepted_ids,
        &stored_ids(&pool, cfg.project_id).await?,
    );
    let (lost, duplicated, unexpected) = (check.missing, check.duplicated, check.unexpected);
    let e2e = check.stored_rows as f64 / drained_in.as_secs_f64();
    accepted_ids.extend(&report.accepted_ids);
    let pacing = match cfg.e2e_backlog {
        0 => "offered without limit".to_string(),
        n => format!("at most {n} awaiting storage"),
    };
    say(format!(
        "      accepted {} events in {:.1} s ({:.0}/s, {pacing}), all stored after {:.1} s: {:.0} events/s end to end; ids: lost {lost}, unexpected {unexpected}, duplicated {duplicated}",
        report.accepted_events,
        sent_for.as_secs_f64(),
        report.events_per_s,
        drained_in.as_secs_f64(),
        e2e
    ));

    // 2. Raw COPY of the same rows into the same layout, on a settled database, 3 times.
    say(format!(
        "[2/3] raw COPY of the same rows into a copy of the activities layout, {COPY_RUNS} runs..."
    ));
    let (copy_rows, copy_secs) = copy_reference(&pool, cfg.project_id).await?;
    let mut rates: Vec<f64> = copy_secs.iter().map(|s| copy_rows as f64 / s).collect();
    rates.sort_by(f64::total_cmp);
    let copy_rate = rates[rates.len() / 2];
    let copy_spread = (rates[rates.len() - 1] - rates[0]) / copy_rate;
    say(format!(
        "      COPY {copy_rows} rows: {} rows/s; median {copy_rate:.0} rows/s, spread (max-min)/median {:.0}%; e2e/COPY = {:.2}",
        rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", "),
        copy_spread * 100.0,
        e2e / copy_rate
    ));

    // 3. HTTP against the trivial handler. Phases 1 and 2 leave millions of fresh rows that
    // autovacuum and the next checkpoint would otherwise process during this phase's few
    // seconds, measuring their aftermath rather than ingest: settle them first.
    // Best effort: CHECKPOINT needs a privileged role, which a user's own database may not give.
    let settle = Instant::now();
    for statement in ["VACUUM (ANALYZE) activities", "CHECKPOINT"] {
        if let Err(e) = sqlx::query(statement).execute(&pool).await {
            say(format!("      ({statement} skipped: {e})"));
        }
    }
    say(format!(
        "      (settled the stored rows first: vacuum, analyze, checkpoint in {:.1} s)",
        settle.elapsed().as_secs_f64()
    ));
    say(format!(
        "[3/3] HTTP ingest vs a trivial axum handler, {} s each...",
        cfg.http_duration.as_secs()
    ));
    let mut http = serde_json::Map::new();
    let mut ours_1 = LoadgenReport::default();
    let mut accepted_so_far = target;
    for batch in [1usize, 20] {
        let (ours, trivial) = alternate(&cfg, batch, None).await?;
        say(format!(
            "      batch {batch:>2}: sightline {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms) vs trivial {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms): {:.2}",
            ours.requests_per_s, ours.p50_ms, ours.p99_ms, trivial.requests_per_s, trivial.p50_ms, trivial.p99_ms,
            ours.requests_per_s / trivial.requests_per_s.max(1e-9)
        ));
        http.insert(
            format!("http_rps_{batch}"),
            json!(ours.requests_per_s.round()),
        );
        http.insert(format!("http_p50_ms_{batch}"), json!(ours.p50_ms));
        http.insert(format!("http_p99_ms_{batch}"), json!(ours.p99_ms));
        http.insert(
            format!("trivial_rps_{batch}"),
            json!(trivial.requests_per_s.round()),
        );
        http.insert(
            format!("http_vs_trivial_{batch}"),
            json!(round2(
                ours.requests_per_s / trivial.requests_per_s.max(1e-9)
            )),
        );
        accepted_so_far += ours.accepted_events as i64;
        accepted_ids.extend(&ours.accepted_ids);
        if batch == 1 {
            ours_1 = ours;
        }
    }
    // The cases above measure the whole box: the worker and Postgres store what ingest accepts
    // on the same cores meanwhile. The same 1-event case with the queue paused (what
    // `sightline queue pause` does) measures the ingest path alone; the worker then stores the
    // held events after it.
    let drain_backlog = |accepted: i64| {
        let pool = pool.clone();
        async move {
            let drain = Instant::now();
            wait_stored(&pool, cfg.project_id, accepted).await?;
            say(format!(
                "      (waited {:.1} s for the worker to store the backlog of the cases above)",
                drain.elapsed().as_secs_f64()
            ));
            anyhow::Ok(())
        }
    };
    drain_backlog(accepted_so_far).await?;
    cfg.queue.pause().await.context("pausing the queue")?;
    let alone = alternate(&cfg, 1, None).await;
    cfg.queue.resume().await.context("resuming the queue")?;
    let (alone, trivial_alone) = alone?;
    let alone_ratio = alone.requests_per_s / trivial_alone.requests_per_s.max(1e-9);
    say(format!(
        "      batch  1, storage paused (ingest alone): sightline {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms) vs trivial {:.0} req/s: {:.2}",
        alone.requests_per_s, alone.p50_ms, alone.p99_ms, trivial_alone.requests_per_s, alone_ratio
    ));
    http.insert(
        "http_rps_1_ingest_alone".into(),
        json!(alone.requests_per_s.round()),
    );
    http.insert("http_p99_ms_1_ingest_alone".into(), json!(alone.p99_ms));
    http.insert(
        "http_vs_trivial_ingest_alone".into(),
        json!(round2(alone_ratio)),
    );
    accepted_so_far += alone.accepted_events as i64;
    accepted_ids.extend(&alone.accepted_ids);
    // "Half the maximum rate" is a steady state: the cases above leave a backlog that the worker
    // would otherwise still be storing at full speed during this case.
    drain_backlog(accepted_so_far).await?;
    let half = ((ours_1.requests_per_s / 2.0).max(1.0)) as u32;
    // The same rate against the trivial handler, and the wakeup lateness of an idle thread
    // during each side: the two references that tell a slow path from a noisy machine.
    let slice = cfg.http_duration / HTTP_ROUNDS;
    let (mut ours, mut trivial) = (Vec::new(), Vec::new());
    let (mut ours_late, mut trivial_late) = (Vec::new(), Vec::new());
    for _ in 0..HTTP_ROUNDS {
        for (url, parts, late) in [
            (&cfg.url, &mut ours, &mut ours_late),
            (&cfg.trivial_url, &mut trivial, &mut trivial_late),
        ] {
            let probe = WakeupProbe::start().context("starting the wakeup probe")?;
            let report = loadgen::run(
                load(&cfg, url, 1, Some(half), slice),
                CancellationToken::new(),
            )
            .await;
            late.extend(probe.finish());
            parts.push(report?);
        }
    }
    let (at_half, trivial_at_half) = (LoadgenReport::merge(ours), LoadgenReport::merge(trivial));
    accepted_so_far += at_half.accepted_events as i64;
    accepted_ids.extend(&at_half.accepted_ids);
    let (ours_late, trivial_late) = (lateness_ms(ours_late), lateness_ms(trivial_late));
    say(format!(
        "      1-event beacons at half the maximum rate ({half}/s): sightline p50 {:.2} ms, p99 {:.2} ms \
         (a sleeping thread woke p99 {:.2} ms late) vs trivial p50 {:.2} ms, p99 {:.2} ms (woke p99 {:.2} ms late)",
        at_half.p50_ms, at_half.p99_ms, ours_late.1, trivial_at_half.p50_ms, trivial_at_half.p99_ms, trivial_late.1
    ));

    // Every event accepted in every phase, stored exactly once.
    drain_backlog(accepted_so_far).await?;
    let all = IdCheck::compare(&accepted_ids, &stored_ids(&pool, cfg.project_id).await?);
    say(format!("      every phase: {}", all.describe()));
    let rss = cfg.server_pid.and_then(peak_rss_mb);
    let mut out = json!({
        "e2e_events_per_s": e2e.round(),
        "e2e_accepted": report.accepted_events,
        "e2e_backlog_limit": cfg.e2e_backlog,
        "copy_rows_per_s": copy_rate.round(),
        "copy_runs": COPY_RUNS,
        "copy_spread": round2(copy_spread),
        "e2e_vs_copy": round2(e2e / copy_rate),
        "http_vs_trivial": round2(ours_1.requests_per_s / http["trivial_rps_1"].as_f64().unwrap_or(1.0).max(1e-9)),
        "http_p99_ms_at_half_rate": at_half.p99_ms,
        "trivial_p99_ms_at_half_rate": trivial_at_half.p99_ms,
        "wakeup_p99_ms_at_half_rate": ours_late.1,
        "lost": lost,
        "duplicated": duplicated,
        "unexpected": unexpected,
        "all_phases_accepted": all.accepted,
        "all_phases_missing": all.missing,
        "all_phases_unexpected": all.unexpected,
        "all_phases_duplicated": all.duplicated,
        "server_rss_mb": rss,
        "worker_rss_mb": cfg.worker_pid.and_then(peak_rss_mb),
    });
    if let Value::Object(o) = &mut out {
        o.extend(http);
    }
    if !(check.exact() && all.exact()) {
        say(out.to_string());
        anyhow::bail!(
            "not exactly once: phase 1 {}; every phase {}",
            check.describe(),
            all.describe()
        );
    }
    Ok(out)
}

/// One HTTP case at `rate` (None: as fast as answered), split into [`HTTP_ROUNDS`] rounds in
/// which ours and the trivial handler take turns, so that the machine's noise (it is shared)
/// lands on both sides of a ratio rather than on whichever ran during a busy stretch.
async fn alternate(
    cfg: &BenchConfig,
    batch: usize,
    rate: Option<u32>,
) -> anyhow::Result<(LoadgenReport, LoadgenReport)> {
    let slice = cfg.http_duration / HTTP_ROUNDS;
    let (mut ours, mut trivial) = (Vec::new(), Vec::new());
    for _ in 0..HTTP_ROUNDS {
        for (url, parts) in [(&cfg.url, &mut ours), (&cfg.trivial_url, &mut trivial)] {
            let report =
                loadgen::run(load(cfg, url, batch, rate, slice), CancellationToken::new()).await?;
            parts.push(report);
        }
    }
    Ok((LoadgenReport::merge(ours), LoadgenReport::merge(trivial)))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Peak resident memory of a process, from /proc (Linux).
pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0).round())
}

/// Runs of the COPY reference; the median is the figure.
const COPY_RUNS: usize = 3;

/// Copies the project's rows out of `activities`, builds `bench_copy` with the same columns,
/// partitions and indexes, and times a COPY of those rows into it [`COPY_RUNS`] times, each on
/// a settled database (the previous run's rows truncated, `activities` vacuumed and analyzed
/// before the first, a checkpoint before each, so no run pays for earlier writes). Returns
/// (rows, seconds of each run).
async fn copy_reference(pool: &PgPool, project: Uuid) -> anyhow::Result<(u64, Vec<f64>)> {
    let mut conn = pool.acquire().await?;
    sqlx::query("DROP TABLE IF EXISTS bench_copy CASCADE")
        .execute(&mut *conn)
        .await?;
    sqlx::query("CREATE TABLE bench_copy (LIKE activities INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at)")
        .execute(&mut *conn)
        .await?;
    let parts: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'activities'::regclass",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (name, bound) in parts {
        let ddl = format!("CREATE TABLE \"bench_copy_{name}\" PARTITION OF bench_copy {bound}");
        sqlx::query(&ddl).execute(&mut *conn).await?;
    }
    let constraints: Vec<(String,)> = sqlx::query_as(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'activities'::regclass AND contype IN ('p', 'u')",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (def,) in constraints {
        sqlx::query(&format!("ALTER TABLE bench_copy ADD {def}"))
            .execute(&mut *conn)
            .await?;
    }
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
         WHERE i.indrelid = 'activities'::regclass AND NOT i.indisprimary AND NOT i.indisunique",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (def,) in indexes {
        // `CREATE INDEX name ON ONLY public.activities USING ...`: keep the method and columns,
        // let Postgres name the copy.
        let Some(at) = def.find(" USING ") else {
            continue;
        };
        sqlx::query(&format!("CREATE INDEX ON bench_copy{}", &def[at..]))
            .execute(&mut *conn)
            .await?;
    }
    // Export the rows (binary COPY), then time the import alone.
    let mut data = Vec::new();
    {
        use futures_util::StreamExt;
        let mut out = conn
            .copy_out_raw(&format!("COPY (SELECT * FROM activities WHERE project_id = '{project}') TO STDOUT (FORMAT binary)"))
            .await?;
        while let Some(chunk) = out.next().await {
            data.extend_from_slice(&chunk?);
        }
    }
    // Best effort: VACUUM and CHECKPOINT need privileges a user's own database may not give.
    if let Err(e) = sqlx::query("VACUUM (ANALYZE) activities")
        .execute(&mut *conn)
        .await
    {
        say(format!("      (VACUUM skipped: {e})"));
    }
    let (mut rows, mut runs) = (0, Vec::with_capacity(COPY_RUNS));
    for _ in 0..COPY_RUNS {
        sqlx::query("TRUNCATE bench_copy")
            .execute(&mut *conn)
            .await?;
        if let Err(e) = sqlx::query("CHECKPOINT").execute(&mut *conn).await {
            say(format!("      (CHECKPOINT skipped: {e})"));
        }
        let started = Instant::now();
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let mut copy = tx
            .copy_in_raw("COPY bench_copy FROM STDIN (FORMAT binary)")
            .await?;
        for chunk in data.chunks(1 << 20) {
            copy.send(chunk).await?;
        }
        rows = copy.finish().await?;
        tx.commit().await?;
        runs.push(started.elapsed().as_secs_f64());
    }
    sqlx::query("DROP TABLE bench_copy CASCADE")
        .execute(&mut *conn)
        .await?;
    Ok((rows, runs))
}

/// The reference for HTTP figures: an axum handler that reads the body and answers 202, nothing
/// else. Run in its own process (`sightline bench-trivial`) like the real server.
pub async fn serve_trivial(bind: std::net::SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind).await?;
    axum::serve(listener, trivial_router()).await?;
    Ok(())
}

/// The trivial reference: reads the body and answers 202 with the shape ours answers.
pub fn trivial_router() -> axum::Router {
    use axum::routing::post;
    axum::Router::new().route(
        "/collect",
        post(|_body: axum::body::Bytes| async {
            (
                axum::http::StatusCode::ACCEPTED,
                "{\"accepted\":1,\"rejected\":[]}",
            )
        }),
    )
}

/// Phase 4: GraphQL query latencies over HTTP (as the dashboard sees them), `runs` times each,
/// over ranges on whole hours ending now: the last 7 days and the last `days` days.
pub async fn queries(
    url: &str,
    project: Uuid,
    token: &str,
    runs: usize,
    days: u32,
) -> anyhow::Result<Value> {
    let client = reqwest::Client::new();
    let end = {
        // The next whole hour, with no sub-second part: ranges on hour boundaries are answered
        // from the rollups, as the dashboard's presets are.
        let now = chrono::Utc::now().timestamp();
        chrono::DateTime::from_timestamp(now - now % 3600 + 3600, 0)
            .ok_or_else(|| anyhow::anyhow!("clock out of range"))?
    };
    let range = |d: i64| json!({"from": (end - chrono::Duration::days(d)).to_rfc3339(), "to": end.to_rfc3339()});
    let all = days.max(1) as i64;
    let cases: Vec<(&str, &str, Value)> = vec![
        ("overview_7d", "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events uniqueUsers sessions pageViews bounceRate avgScrollDepth } }", range(7)),
        ("overview_30d", "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events uniqueUsers sessions pageViews bounceRate avgScrollDepth } }", range(all)),
        ("timeseries_7d_hour", "query($p: ID!, $r: TimeRange!) { timeseries(projectId: $p, range: $r, metric: EVENTS, interval: HOUR) { t value } }", range(7)),
        ("timeseries_30d_day_users", "query($p: ID!, $r: TimeRange!) { timeseries(projectId: $p, range: $r, metric: UNIQUE_USERS, interval: DAY) { t value } }", range(all)),
        ("top_pages_30d", "query($p: ID!, $r: TimeRange!) { topPages(projectId: $p, range: $r, limit: 10) { key count } }", range(all)),
        ("top_elements_30d", "query($p: ID!, $r: TimeRange!) { topElements(projectId: $p, range: $r, limit: 10) { key count } }", range(all)),
        ("funnel_7d", "query($p: ID!, $r: TimeRange!) { funnel(projectId: $p, range: $r, windowSeconds: 3600, steps: [{eventType: \"page.view\", path: \"/pricing\"}, {eventType: \"signup.started\"}, {eventType: \"signup.completed\"}]) { steps { users } } }", range(7)),
        // Property filters read raw rows through the GIN index on `metadata`.
        ("overview_props_7d", "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r, filter: {props: {plan: \"pro\"}}) { events uniqueUsers sessions } }", range(7)),
        ("events_props_30d", "query($p: ID!, $r: TimeRange!) { events(projectId: $p, range: $r, first: 50, filter: {props: {plan: \"pro\"}}) { edges { node { id } } } }", range(all)),
        // Journeys read each visit's page views by session (`activities_session_views_idx`);
        // heatmaps bin one page's clicks.
        ("journeys_pricing_7d", "query($p: ID!, $r: TimeRange!) { journeys(projectId: $p, range: $r, path: \"/pricing\", direction: NEXT, steps: 3, limit: 5) { id visits ends otherVisits } }", range(7)),
        ("heatmap_pricing_7d", "query($p: ID!, $r: TimeRange!) { heatmap(projectId: $p, range: $r, path: \"/pricing\") { clicks cells { x y clicks } selectors { key count } } }", range(7)),
        ("retention_30d", "query($p: ID!, $r: TimeRange!) { retention(projectId: $p, range: $r, period: WEEK, periods: 5) { size retained } }", range(all)),
        // Audience: breakdowns from the audience rollups, a dimension-filtered overview from raw.
        ("breakdown_source_30d", "query($p: ID!, $r: TimeRange!) { breakdown(projectId: $p, range: $r, dimension: SOURCE) { key visitors visits events pageViews share } }", range(all)),
        ("breakdown_country_30d", "query($p: ID!, $r: TimeRange!) { breakdown(projectId: $p, range: $r, dimension: COUNTRY) { key visitors visits events pageViews share } }", range(all)),
        ("breakdown_page_30d", "query($p: ID!, $r: TimeRange!) { breakdown(projectId: $p, range: $r, dimension: PAGE) { key visitors visits events pageViews share } }", range(all)),
        ("breakdown_browser_7d", "query($p: ID!, $r: TimeRange!) { breakdown(projectId: $p, range: $r, dimension: BROWSER) { key visitors visits events pageViews share } }", range(7)),
        ("overview_device_7d", "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r, filter: {where: [{dimension: DEVICE, values: [\"mobile\"]}]}) { events visitors sessions pageViews botEvents } }", range(7)),
        ("overview_visitors_30d", "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { visitors botEvents } }", range(all)),
        // Engagement, goals and comparisons (issue 25): visits and goals read raw events.
        ("overview_visits_30d", "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { visits viewsPerVisit avgVisitDuration } }", range(all)),
        ("breakdown_entry_7d", "query($p: ID!, $r: TimeRange!) { breakdown(projectId: $p, range: $r, dimension: ENTRY_PAGE) { key visits bounceRate avgVisitDuration } }", range(7)),
        ("breakdown_source_compare_30d", "query($p: ID!, $r: TimeRange!) { breakdown(projectId: $p, range: $r, dimension: SOURCE, compare: PREVIOUS_PERIOD) { key visitors previous { visitors } } }", range(all)),
        ("breakdown_goal_30d", "query($p: ID!, $r: TimeRange!) { breakdown(projectId: $p, range: $r, dimension: GOAL) { key visitors conversions conversionRate } }", range(all)),
        ("overview_goal_7d", "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r, filter: {where: [{dimension: GOAL, values: [\"Bench signup\"]}]}) { events visitors } }", range(7)),
    ];
    // The goal the goal cases read (already there after a first run: "already" is fine).
    let created: Value = client
        .post(format!("{url}/graphql"))
        .bearer_auth(token)
        .json(&json!({
            "query": "mutation($p: ID!) { createGoal(projectId: $p, name: \"Bench signup\", eventType: \"signup.completed\") { id } }",
            "variables": {"p": project.to_string()},
        }))
        .send()
        .await?
        .json()
        .await?;
    let message = created["errors"][0]["message"].as_str().unwrap_or("");
    if !created["errors"].is_null() && !message.contains("already") {
        anyhow::bail!("cannot create the bench goal: {}", created["errors"]);
    }
    let mut out = serde_json::Map::new();
    for (name, query, r) in cases {
        let mut ms = Vec::with_capacity(runs);
        for i in 0..runs.max(1) + 1 {
            let started = Instant::now();
            let resp: Value = client
                .post(format!("{url}/graphql"))
                .bearer_auth(token)
                .json(&json!({"query": query, "variables": {"p": project.to_string(), "r": r}}))
                .send()
                .await?
                .json()
                .await?;
            let took = started.elapsed().as_secs_f64() * 1000.0;
            if !resp["errors"].is_null() {
                anyhow::bail!("{name} failed: {}", resp["errors"]);
            }
            // The first run warms caches and prepares statements: not counted.
            if i > 0 {
                ms.push(took);
            }
        }
        ms.sort_by(f64::total_cmp);
        let pick = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
        say(format!(
            "      {name:<26} p50 {:>7.1} ms   p95 {:>7.1} ms",
            pick(0.5),
            pick(0.95)
        ));
        out.insert(
            format!("{name}_p50_ms"),
            json!((pick(0.5) * 10.0).round() / 10.0),
        );
        out.insert(
            format!("{name}_p95_ms"),
            json!((pick(0.95) * 10.0).round() / 10.0),
        );
    }
    Ok(Value::Object(out))
}
