//! Fault tests: a worker killed with SIGKILL, PostgreSQL stopped for ten seconds and Redis
//! restarted, each under load. After each, every event answered 202 is stored exactly once.
//!
//! They run one at a time (they are heavy), and the ones that stop a server start private
//! PostgreSQL/Redis instances of their own through scripts/lib.sh, so nothing else is disturbed.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

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
}

impl Services {
    fn start() -> Self {
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
        };
        s.start_pg();
        s.start_redis();
        s
    }
    fn start_pg(&self) {
        lib(&format!(
            "start_postgres '{}' {} fast",
            self.dir.join("pg").display(),
            self.pg_port
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

/// What `sightline loadgen` reports (its JSON line).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct LoadReport {
    pub requests: u64,
    pub accepted_events: u64,
    pub rejected_events: u64,
    pub failed_batches: u64,
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
    let out = cli_output(cmd, "sightline loadgen").await;
    let line = out.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("loadgen report {line:?}: {e}"))
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

async fn assert_exactly_once(app: &TestApp, report: &LoadReport) {
    assert_eq!(report.failed_batches, 0, "{report:?}");
    let stored = app
        .wait_for_count(report.accepted_events as i64, Duration::from_secs(90))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.stored_count().await,
        report.accepted_events as i64,
        "stored {stored} of {} accepted",
        report.accepted_events
    );
    assert_eq!(app.duplicate_event_ids().await, 0);
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
    let before = app
        .collect_events(&helpers::events(3, "page.view"))
        .await
        .status();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = app
        .collect_events(&helpers::events(3, "page.view"))
        .await
        .status();
    services.start_pg();
    let report = loader.await.expect("loadgen");
    assert_eq!(
        (before.as_u16(), during.as_u16()),
        (202, 202),
        "ingest keeps answering 202 while Postgres is down"
    );
    let mut expected = report.clone();
    expected.accepted_events += 6;
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
    assert!(report.accepted_events > 0);
    assert_exactly_once(&app, &report).await;
    app.stop().await;
}

fn assert_counts_match(label: &str, stored: i64, accepted: u64) {
    assert_eq!(
        stored, accepted as i64,
        "{label}: stored {stored} of {accepted} accepted"
    );
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
    let (r1, r2) = (l1.await.expect("load 1"), l2.await.expect("load 2"));
    assert_eq!(r1.failed_batches + r2.failed_batches, 0);
    let accepted = r1.accepted_events + r2.accepted_events;
    assert_eq!(accepted, 60_000);
    server1
        .wait_for_count(accepted as i64, Duration::from_secs(90))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_counts_match(
        "2 servers + 3 workers",
        server1.stored_count().await,
        accepted,
    );
    assert_eq!(server1.duplicate_event_ids().await, 0);
    for w in workers {
        w.stop().await;
    }
    server2.stop().await;
    server1.stop().await;
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
