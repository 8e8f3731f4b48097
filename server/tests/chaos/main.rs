//! Fault tests: a worker, the ingest server and Redis killed with SIGKILL, PostgreSQL stopped
//! for ten seconds and crashed (`pg_ctl -m immediate`, a durable cluster), Redis restarted, each
//! under load. After each, every event answered 202 is stored exactly once, proven on ids: the
//! load generator's set of accepted ids equals the stored `event_id` set, with no id stored
//! twice (missing, unexpected and duplicated ids are each reported).
//!
//! They run one at a time (they are heavy), and the ones that stop a server start private
//! PostgreSQL/Redis instances of their own through scripts/lib.sh, so nothing else is disturbed.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use uuid::Uuid;

use helpers::{
    base_env, cli_output, fresh_database_on, lib, run_generate, sightline_cli, spawn_app_with,
    start, TestApp, TestSql,
};
use sightline::app::Mode;
use sightline::domain::DayRange;

static SERIAL: Mutex<()> = Mutex::const_new(());

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A private PostgreSQL + Redis pair that a test may stop and start.
struct Services {
    dir: PathBuf,
    pg_port: u16,
    redis_port: u16,
    pg_mode: &'static str,
}

impl Services {
    fn start() -> Self {
        Self::start_with("fast")
    }
    /// `pg_mode`: `fast` (fsync off, for tests that stop PostgreSQL cleanly) or `durable` (for
    /// crash recovery: fsync and synchronous commit on).
    fn start_with(pg_mode: &'static str) -> Self {
        let base = std::env::var("TEST_RUN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| std::env::temp_dir());
        let dir = base.join(format!(
            "chaos-{}",
            &Uuid::new_v4().simple().to_string()[..8]
        ));
        let pg_port = free_port();
        let mut redis_port = free_port();
        while redis_port == pg_port {
            redis_port = free_port();
        }
        let s = Self {
            dir,
            pg_port,
            redis_port,
            pg_mode,
        };
        s.start_pg();
        s.start_redis();
        s
    }
    fn start_pg(&self) {
        lib(&format!(
            "start_postgres '{}' {} {}",
            self.dir.join("pg").display(),
            self.pg_port,
            self.pg_mode
        ));
    }
    /// A crash: `-m immediate` aborts every server process without a checkpoint, so the next
    /// start runs crash recovery from the WAL.
    fn crash_pg(&self) {
        lib(&format!(
            "pg_user_run \"$(pg_bindir)/pg_ctl\" -D '{}' -m immediate -w stop >/dev/null",
            self.dir.join("pg").display()
        ));
    }
    /// SIGKILL: no shutdown, no final AOF flush; what was written to the AOF before the kill
    /// (every command answered, whatever `appendfsync` says) is replayed on the next start.
    fn kill_redis(&self) {
        let pid = std::fs::read_to_string(self.dir.join("redis").join("redis.pid"))
            .expect("redis pid file");
        lib(&format!("kill -9 {}", pid.trim()));
        lib(&format!(
            "for _ in $(seq 1 50); do redis-cli -p {} ping >/dev/null 2>&1 || break; sleep 0.1; done",
            self.redis_port
        ));
    }
    fn stop_pg(&self) {
        lib(&format!(
            "stop_postgres '{}'",
            self.dir.join("pg").display()
        ));
    }
    fn start_redis(&self) {
        lib(&format!(
            "start_redis '{}' {}",
            self.dir.join("redis").display(),
            self.redis_port
        ));
    }
    /// A clean restart: SHUTDOWN flushes the append-only file, as a service manager's stop does.
    fn stop_redis_gracefully(&self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.redis_port.to_string(), "shutdown"])
            .status();
    }
    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.pg_port)
    }
    fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.redis_port)
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.redis_port.to_string(), "shutdown", "nosave"])
            .status();
        self.stop_pg();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn app_on(services: &Services, mode: Mode) -> TestApp {
    let url = fresh_database_on(&services.admin_url()).await;
    let mut env = base_env(&url);
    env.insert("REDIS_URL".into(), services.redis_url());
    start(env, mode, None).await
}

/// What `sightline loadgen` reports (its JSON line), with the ids it wrote (`--ids-out`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct LoadReport {
    pub requests: u64,
    pub sent_events: u64,
    pub accepted_events: u64,
    pub rejected_events: u64,
    pub failed_batches: u64,
    /// Ids answered 202 and not listed as rejected.
    #[serde(skip)]
    pub accepted: Vec<Uuid>,
    /// Ids rejected, or never answered 202.
    #[serde(skip)]
    pub not_accepted: Vec<Uuid>,
}

impl LoadReport {
    fn merge(mut self, other: LoadReport) -> LoadReport {
        self.requests += other.requests;
        self.sent_events += other.sent_events;
        self.accepted_events += other.accepted_events;
        self.rejected_events += other.rejected_events;
        self.failed_batches += other.failed_batches;
        self.accepted.extend(other.accepted);
        self.not_accepted.extend(other.not_accepted);
        self
    }

    /// Ids of events sent outside the load generator (answered 202), added to the accepted set.
    fn with_accepted(mut self, events: &[serde_json::Value]) -> LoadReport {
        for e in events {
            let id = e["id"].as_str().and_then(|s| Uuid::parse_str(s).ok());
            self.accepted.push(id.expect("test events carry an id"));
            self.sent_events += 1;
            self.accepted_events += 1;
        }
        self
    }
}

/// How the stored `event_id`s differ from the ids answered 202. Counts alone cannot show this:
/// one lost event and one stray duplicate leave the count right.
#[derive(Debug, Default, PartialEq, Eq)]
struct IdDiff {
    /// Accepted, not stored.
    missing: Vec<Uuid>,
    /// Stored, never accepted.
    unexpected: Vec<Uuid>,
    /// Stored more than once.
    duplicated: Vec<Uuid>,
}

fn id_diff(accepted: &[Uuid], stored: &[Uuid]) -> IdDiff {
    let want: HashSet<Uuid> = accepted.iter().copied().collect();
    let mut seen: HashMap<Uuid, u32> = HashMap::with_capacity(stored.len());
    for id in stored {
        *seen.entry(*id).or_default() += 1;
    }
    let mut d = IdDiff {
        missing: want
            .iter()
            .filter(|id| !seen.contains_key(id))
            .copied()
            .collect(),
        unexpected: seen
            .keys()
            .filter(|id| !want.contains(id))
            .copied()
            .collect(),
        duplicated: seen
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, _)| *id)
            .collect(),
    };
    d.missing.sort();
    d.unexpected.sort();
    d.duplicated.sort();
    d
}

#[test]
fn id_sets_catch_what_counts_miss() {
    let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
    // One lost (b) and one duplicated (a): the count (3 of 3) looks right.
    let d = id_diff(&[a, b, c], &[a, a, c]);
    assert_eq!(
        d,
        IdDiff {
            missing: vec![b],
            unexpected: vec![],
            duplicated: vec![a],
        }
    );
    assert_eq!(id_diff(&[a], &[a, c]).unexpected, vec![c]);
    assert_eq!(id_diff(&[a, b], &[b, a]), IdDiff::default());
}

async fn stored_ids(app: &TestApp) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT event_id FROM activities WHERE project_id = $1")
        .bind(app.project.id)
        .fetch_all(app.db.pool())
        .await
        .expect("stored ids")
}

/// `sightline loadgen` against `address`: at most `events` events, `rate` events/s (None: as
/// fast as answered), for at most `secs` seconds, in batches of 50 from 8 connections.
pub async fn run_loadgen(
    address: &str,
    key: &str,
    events: u64,
    rate: Option<u32>,
    secs: u64,
) -> LoadReport {
    let mut cmd = sightline_cli();
    cmd.args(["loadgen", "--url", address, "--key", key])
        .args([
            "--events",
            &events.to_string(),
            "--duration",
            &secs.to_string(),
        ])
        .args([
            "--batch",
            "50",
            "--concurrency",
            "8",
            "--users",
            "5000",
            "--paths",
            "50",
        ]);
    if let Some(r) = rate {
        cmd.args(["--rate", &r.to_string()]);
    }
    let ids_file = std::env::temp_dir().join(format!("loadgen-ids-{}", Uuid::new_v4().simple()));
    cmd.arg("--ids-out").arg(&ids_file);
    let out = cli_output(cmd, "sightline loadgen").await;
    let line = out.lines().last().unwrap_or_default();
    let mut report: LoadReport =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("loadgen report {line:?}: {e}"));
    let ids = std::fs::read_to_string(&ids_file).expect("loadgen ids file");
    let _ = std::fs::remove_file(&ids_file);
    for l in ids.lines() {
        let (tag, id) = l.split_once(' ').expect("`tag id` lines");
        let id = Uuid::parse_str(id).expect("an id");
        if tag == "a" {
            report.accepted.push(id);
        } else {
            report.not_accepted.push(id);
        }
    }
    assert_eq!(
        report.accepted.len() as u64,
        report.accepted_events,
        "one id per accepted event"
    );
    report
}

/// The load generator (`sightline loadgen`) against the app, in the background.
fn load(
    app: &TestApp,
    events: u64,
    rate: Option<u32>,
    secs: u64,
) -> tokio::task::JoinHandle<LoadReport> {
    let (address, key) = (app.address.clone(), app.project.public_key.clone());
    tokio::spawn(async move { run_loadgen(&address, &key, events, rate, secs).await })
}

/// Every event sent was accepted (none rejected, none given up), and the stored ids are
/// exactly the accepted ones, each once.
async fn assert_exactly_once(app: &TestApp, report: &LoadReport) {
    assert_eq!(
        (
            report.accepted_events,
            report.rejected_events,
            report.failed_batches
        ),
        (report.sent_events, 0, 0),
        "every event sent is answered 202 and accepted: {} sent",
        report.sent_events
    );
    assert!(report.not_accepted.is_empty());
    app.wait_for_count(report.accepted_events as i64, Duration::from_secs(90))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = stored_ids(app).await;
    let d = id_diff(&report.accepted, &stored);
    assert!(
        d.missing.is_empty() && d.unexpected.is_empty() && d.duplicated.is_empty(),
        "{} accepted, {} rows stored: {} missing (first {:?}), {} unexpected (first {:?}), {} duplicated (first {:?})",
        report.accepted.len(),
        stored.len(),
        d.missing.len(),
        d.missing.first(),
        d.unexpected.len(),
        d.unexpected.first(),
        d.duplicated.len(),
        d.duplicated.first()
    );
    // Whatever the fault replayed, the rollups equal a recount from the stored events.
    let today = chrono::Utc::now().date_naive();
    let days =
        DayRange::new(today - chrono::Days::new(1), today + chrono::Days::new(2)).expect("days");
    let diffs = sightline::storage::rollups::verify(&app.db, app.project.id, days)
        .await
        .expect("rollup verify");
    assert!(
        diffs.is_empty(),
        "rollups equal a recount after the fault: {} differences, first {:?}",
        diffs.len(),
        diffs.first()
    );
}

fn spawn_worker(app: &TestApp) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sightline"))
        .arg("worker")
        .envs(&app.env)
        .env("SIGHTLINE_WORKER_LOCK_MS", "2000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("worker process starts")
}

/// The binary opts out of transparent huge pages at start (main.rs: the allocator's huge-page
/// faults were a third of the worker's CPU). Kernels without the status line are not checked.
fn assert_no_transparent_huge_pages(process: &Child) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", process.id()))
        .expect("the process's /proc status");
    if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_with_sigkill_during_load_loses_and_duplicates_nothing() {
    let _serial = SERIAL.lock().await;
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_WORKER_LOCK_MS".into(), "2000".into());
    })
    .await;
    let mut worker = spawn_worker(&app);
    let loader = load(&app, 100_000, None, 120);
    let started = Instant::now();
    while app.stored_count().await < 20_000 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the worker never got going"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_no_transparent_huge_pages(&worker);
    worker.kill().expect("SIGKILL");
    let _ = worker.wait();
    let at_kill = app.stored_count().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut worker = spawn_worker(&app);
    let report = loader.await.expect("loadgen");
    assert_eq!(report.accepted_events, 100_000);
    assert!(at_kill < 100_000, "the kill happened mid-load");
    assert_exactly_once(&app, &report).await;
    let _ = worker.kill();
    let _ = worker.wait();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_for_ten_seconds_during_load_loses_nothing() {
    let _serial = SERIAL.lock().await;
    let services = Services::start();
    let app = app_on(&services, Mode::All).await;
    let loader = load(&app, 60_000, Some(2500), 20);
    tokio::time::sleep(Duration::from_secs(3)).await;
    services.stop_pg();
    let (first, second) = (
        helpers::events(3, "page.view"),
        helpers::events(3, "page.view"),
    );
    let before = app.collect_events(&first).await.status();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = app.collect_events(&second).await.status();
    services.start_pg();
    let report = loader.await.expect("loadgen");
    assert_eq!(
        (before.as_u16(), during.as_u16()),
        (202, 202),
        "ingest keeps answering 202 while Postgres is down"
    );
    let expected = report.with_accepted(&first).with_accepted(&second);
    assert_exactly_once(&app, &expected).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_during_load_keeps_every_event_answered_202() {
    let _serial = SERIAL.lock().await;
    let services = Services::start();
    let app = app_on(&services, Mode::All).await;
    let loader = load(&app, 50_000, Some(2500), 16);
    tokio::time::sleep(Duration::from_secs(3)).await;
    services.stop_redis_gracefully();
    tokio::time::sleep(Duration::from_secs(2)).await;
    services.start_redis();
    let report = loader.await.expect("loadgen");
    assert!(report.sent_events > 10_000, "{report:?}");
    assert_exactly_once(&app, &report).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_and_three_workers_under_load_store_exact_counts() {
    let _serial = SERIAL.lock().await;
    let server1 = spawn_app_with(Mode::Serve, |_| {}).await;
    let server2 = start(server1.env.clone(), Mode::Serve, Some(&server1.project)).await;
    let mut workers = Vec::new();
    for _ in 0..3 {
        workers.push(start(server1.env.clone(), Mode::Worker, Some(&server1.project)).await);
    }
    let l1 = load(&server1, 30_000, None, 60);
    let l2 = load(&server2, 30_000, None, 60);
    let report = l1.await.expect("load 1").merge(l2.await.expect("load 2"));
    assert_eq!(report.sent_events, 60_000);
    assert_exactly_once(&server1, &report).await;
    for w in workers {
        w.stop().await;
    }
    server2.stop().await;
    server1.stop().await;
}

/// `sightline serve` as its own process on `port` (the worker runs elsewhere), so it can be
/// killed with SIGKILL.
fn spawn_server(app: &TestApp, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sightline"))
        .arg("serve")
        .envs(&app.env)
        .env("SIGHTLINE_BIND", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("server process starts")
}

async fn wait_ready(port: u16) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let r = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await;
        if r.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server on port {port} never became ready");
}

/// The ingest server killed three times while it enqueues at full speed (every request is a
/// group commit into Redis, so each kill lands in the middle of some): whatever it answered 202
/// before dying is in Redis, and the batches it died holding are resent with their ids by the
/// load generator and stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_server_killed_with_sigkill_mid_group_commit_loses_nothing_answered_202() {
    let _serial = SERIAL.lock().await;
    let app = spawn_app_with(Mode::Worker, |_| {}).await;
    let port = free_port();
    let mut server = spawn_server(&app, port);
    wait_ready(port).await;
    let address = format!("http://127.0.0.1:{port}");
    let key = app.project.public_key.clone();
    let loader = tokio::spawn(async move { run_loadgen(&address, &key, 40_000, None, 40).await });
    // Each kill waits for the server's own progress since the last one (jobs it added to the
    // queue), not the worker's: on a loaded machine the worker can lag so far behind that a kill
    // timed by stored events would land after the load generator has finished, with nothing in
    // flight. Jobs hold the events of many requests (group commit: 40,000 events made about 300
    // jobs here, at most 40 of 1,000), so a few new jobs mean the load is under way.
    let mut last = 0;
    for kill in 1..=3 {
        let started = Instant::now();
        while jobs_added(&app).await < last + 10 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no progress before kill {kill}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.kill().expect("SIGKILL");
        let _ = server.wait();
        last = jobs_added(&app).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        server = spawn_server(&app, port);
        wait_ready(port).await;
    }
    let report = loader.await.expect("loadgen");
    assert_eq!(report.sent_events, 40_000);
    assert!(
        report.requests > report.sent_events / 50,
        "some batches were resent"
    );
    assert_exactly_once(&app, &report).await;
    let _ = server.kill();
    let _ = server.wait();
    app.stop().await;
}

/// How many jobs ingest servers have added to the app's queue (BullMQ's job id counter).
async fn jobs_added(app: &TestApp) -> i64 {
    let mut redis = redis::Client::open(helpers::test_redis_url())
        .expect("redis")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let added: Option<i64> = redis::cmd("GET")
        .arg(app.queue.key("id"))
        .query_async(&mut redis)
        .await
        .expect("GET the job id counter");
    added.unwrap_or(0)
}

/// Redis killed with SIGKILL under load (no shutdown, no final flush) and restarted from its
/// AOF. Redis writes the AOF before it sends replies, so a process crash loses no command that
/// was answered, with `appendfsync everysec` as with `always` (fsync policy only matters when
/// the machine itself fails: docs/ARCHITECTURE.md, "Durability").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_with_sigkill_under_load_keeps_every_event_answered_202() {
    let _serial = SERIAL.lock().await;
    let services = Services::start();
    let fsync = Command::new("redis-cli")
        .args([
            "-p",
            &services.redis_port.to_string(),
            "config",
            "get",
            "appendfsync",
        ])
        .output()
        .expect("redis-cli");
    let fsync = String::from_utf8_lossy(&fsync.stdout).to_string();
    eprintln!("redis appendfsync: {}", fsync.lines().nth(1).unwrap_or("?"));
    let app = app_on(&services, Mode::All).await;
    let loader = load(&app, 40_000, Some(2500), 16);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The queue paused first, so the kill finds thousands of accepted events waiting in Redis
    // and nothing but its AOF can bring them back (a worker that keeps up would leave the queue
    // empty, and a Redis without its AOF would pass).
    app.queue.pause().await.expect("pause the queue");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let backlog = app.queue.counts().await.expect("queue counts").waiting;
    assert!(backlog >= 5, "the kill finds jobs waiting: {backlog}");
    services.kill_redis();
    tokio::time::sleep(Duration::from_secs(1)).await;
    services.start_redis();
    let resumed = Instant::now();
    while app.queue.resume().await.is_err() {
        assert!(resumed.elapsed() < Duration::from_secs(30), "Redis is back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = loader.await.expect("loadgen");
    assert!(report.sent_events > 10_000, "{report:?}");
    assert_exactly_once(&app, &report).await;
    app.stop().await;
}

/// PostgreSQL crashed (`pg_ctl -m immediate`: no checkpoint, crash recovery on restart) on a
/// durable cluster while the worker writes: every commit it was told of survives recovery, and
/// a write whose commit answer was lost is retried idempotently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crashed_with_immediate_stop_under_load_recovers_every_event() {
    let _serial = SERIAL.lock().await;
    let services = Services::start_with("durable");
    let app = app_on(&services, Mode::All).await;
    let loader = load(&app, 40_000, Some(2500), 16);
    let started = Instant::now();
    while app.stored_count().await < 5_000 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    services.crash_pg();
    tokio::time::sleep(Duration::from_secs(3)).await;
    services.start_pg();
    let report = loader.await.expect("loadgen");
    assert!(report.sent_events > 10_000, "{report:?}");
    assert_exactly_once(&app, &report).await;
    app.stop().await;
}

/// Three Redis masters on loopback ports, joined into a cluster.
struct RedisCluster {
    dir: PathBuf,
    ports: Vec<u16>,
}

impl RedisCluster {
    fn start() -> Self {
        let base = std::env::var("TEST_RUN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| std::env::temp_dir());
        let dir = base.join(format!(
            "cluster-{}",
            &Uuid::new_v4().simple().to_string()[..8]
        ));
        let mut ports: Vec<u16> = Vec::new();
        while ports.len() < 3 {
            let p = free_port();
            // A cluster node also listens on port + 10000.
            if p < 55000 && !ports.contains(&p) {
                ports.push(p);
            }
        }
        for p in &ports {
            let d = dir.join(p.to_string());
            std::fs::create_dir_all(&d).expect("dir");
            let status = Command::new("redis-server")
                .args([
                    "--port",
                    &p.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                ])
                .args([
                    "--dir",
                    &d.display().to_string(),
                    "--daemonize",
                    "yes",
                    "--logfile",
                    &d.join("redis.log").display().to_string(),
                ])
                .args([
                    "--cluster-config-file",
                    &d.join("nodes.conf").display().to_string(),
                ])
                .status()
                .expect("redis-server");
            assert!(status.success());
        }
        for p in &ports {
            lib(&format!("for _ in $(seq 1 50); do redis-cli -p {p} ping >/dev/null 2>&1 && break; sleep 0.1; done"));
        }
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // Wait until every slot is served.
        lib(&format!("for _ in $(seq 1 100); do redis-cli -p {} cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1; done", ports[0]));
        Self { dir, ports }
    }

    fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for p in &self.ports {
            let _ = Command::new("redis-cli")
                .args(["-p", &p.to_string(), "shutdown", "nosave"])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_with_hash_tagged_queue_keys_stores_exact_counts() {
    let _serial = SERIAL.lock().await;
    let cluster = RedisCluster::start();
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("REDIS_URL".into(), cluster.url());
        env.insert("SIGHTLINE_QUEUE_PREFIX".into(), "{bull}".into());
    })
    .await;
    let report = load(&app, 20_000, None, 60).await.expect("loadgen");
    assert_eq!(report.accepted_events, 20_000);
    assert_exactly_once(&app, &report).await;
    // Every queue key lives on one node's slot; the other masters hold none of them.
    let mut holders = 0;
    for p in &cluster.ports {
        let out = Command::new("redis-cli")
            .args(["-p", &p.to_string(), "--scan", "--pattern", "{bull}:*"])
            .output()
            .expect("scan");
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            holders += 1;
        }
    }
    assert_eq!(holders, 1, "hash-tagged queue keys share one slot");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_reads_go_to_the_replica_and_writes_never_do() {
    let _serial = SERIAL.lock().await;
    let services = Services::start();
    let replica_dir = services.dir.join("replica");
    let replica_port = free_port();
    let url = fresh_database_on(&services.admin_url()).await;
    let db_name = url.rsplit('/').next().expect("db name").to_string();
    // A streaming replica of the primary: pg_basebackup -R, on another loopback port.
    lib(&format!(
        "bin=$(pg_bindir); mkdir -p '{dir}'; [ \"$(id -u)\" = 0 ] && chown postgres: '{dir}'; chmod 700 '{dir}'; \
         pg_user_run \"$bin/pg_basebackup\" -h 127.0.0.1 -p {pp} -U postgres -D '{dir}' -R -X stream >/dev/null && \
         sed -i \"s|^unix_socket_directories.*|unix_socket_directories = '{dir}'|\" '{dir}/postgresql.conf' && \
         pg_user_run \"$bin/pg_ctl\" -D '{dir}' -o '-p {rp}' -l '{dir}/server.log' -w start >/dev/null",
        dir = replica_dir.display(),
        pp = services.pg_port,
        rp = replica_port
    ));
    let mut env = base_env(&url);
    env.insert("REDIS_URL".into(), services.redis_url());
    env.insert(
        "SIGHTLINE_DATABASE_READ_URL".into(),
        format!("postgres://postgres@127.0.0.1:{replica_port}/{db_name}"),
    );
    let app = start(env, Mode::All, None).await;
    let count_query = "query($p: ID!) { eventCount(projectId: $p) }";
    let vars = serde_json::json!({"p": app.project.id.to_string()});
    let gql_count = |r: serde_json::Value| r["data"]["eventCount"].as_i64().unwrap_or(-1);

    // Writes go to the primary (the replica is read-only, so any write there would fail).
    assert_eq!(
        app.collect_events(&helpers::events(5, "page.view"))
            .await
            .status(),
        202
    );
    assert_eq!(app.wait_for_count(5, Duration::from_secs(10)).await, 5);
    let mut seen = 0;
    for _ in 0..100 {
        seen = gql_count(
            app.graphql(Some(&app.admin_token), count_query, vars.clone())
                .await,
        );
        if seen == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 5, "the replica caught up");

    // Pause replay on the replica: new rows reach the primary, but analytics (read from the
    // replica) do not see them until replay resumes.
    let replica = sqlx::PgPool::connect(&format!(
        "postgres://postgres@127.0.0.1:{replica_port}/{db_name}"
    ))
    .await
    .expect("replica");
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&replica)
        .await
        .expect("pause");
    assert_eq!(
        app.collect_events(&helpers::events(7, "page.view"))
            .await
            .status(),
        202
    );
    let mut on_primary = 0i64;
    for _ in 0..100 {
        on_primary = sqlx::query_scalar("SELECT count(*) FROM activities WHERE project_id = $1")
            .bind(app.project.id)
            .fetch_one(app.db.pool())
            .await
            .expect("primary count");
        if on_primary == 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(on_primary, 12, "the primary has them");
    assert_eq!(
        gql_count(
            app.graphql(Some(&app.admin_token), count_query, vars.clone())
                .await
        ),
        5,
        "reads come from the paused replica"
    );
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&replica)
        .await
        .expect("resume");
    let mut seen = 0;
    for _ in 0..100 {
        seen = gql_count(
            app.graphql(Some(&app.admin_token), count_query, vars.clone())
                .await,
        );
        if seen == 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 12);
    replica.close().await;
    app.stop().await;
    lib(&format!("stop_postgres '{}'", replica_dir.display()));
}

/// Issue 5's figure of merit for rollups: after a random load of a million events written by
/// concurrent writers (the worker's own insert statement, sessions crossing writers and hours),
/// every additive rollup equals a recount from the raw rows. The seed is random and printed, so
/// a failure can be replayed with `sightline generate --seed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_equal_a_recount_after_a_random_million_events() {
    let _serial = SERIAL.lock().await;
    let app = spawn_app_with(Mode::Serve, |_| {}).await;
    let seed: u64 = rand::random();
    eprintln!("random load seed {seed}");
    let days = 3;
    // Small statements from several writers: many concurrent upserts of the same cells.
    let generated = run_generate(
        &app.env,
        app.project.id,
        1_000_000,
        days,
        20_000,
        seed,
        2_000,
        4,
    )
    .await;
    assert!(generated >= 1_000_000, "generated {generated}");
    assert_eq!(app.stored_count().await, generated as i64);
    let today = chrono::Utc::now().date_naive();
    let started = Instant::now();
    let range = DayRange::new(
        today - chrono::Days::new(u64::from(days) + 1),
        today + chrono::Days::new(1),
    )
    .expect("days");
    let diffs = sightline::storage::rollups::verify(&app.db, app.project.id, range)
        .await
        .expect("rollup verify");
    eprintln!(
        "{generated} events generated, recounted in {:.1} s: {} differences",
        started.elapsed().as_secs_f64(),
        diffs.len()
    );
    assert!(
        diffs.is_empty(),
        "seed {seed}: {} differences, first {:?}",
        diffs.len(),
        diffs.first()
    );
    app.stop().await;
}
