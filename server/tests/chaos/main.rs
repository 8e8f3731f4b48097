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
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use helpers::{base_env, fresh_database_on, spawn_app_with, start, TestApp};
use sightline::app::Mode;
use sightline::loadgen::{self, LoadgenConfig, LoadgenReport};

static SERIAL: Mutex<()> = Mutex::const_new(());

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn lib(cmd: &str) {
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}/scripts/lib.sh' && {cmd}", repo().display()))
        .status()
        .expect("bash runs");
    assert!(status.success(), "`{cmd}` failed");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A private PostgreSQL + Redis pair that a test may stop and start.
struct Services {
    dir: PathBuf,
    pg_port: u16,
    redis_port: u16,
}

impl Services {
    fn start() -> Self {
        let base = std::env::var("TEST_RUN_DIR").map(PathBuf::from).unwrap_or_else(|_| std::env::temp_dir());
        let dir = base.join(format!("chaos-{}", &Uuid::new_v4().simple().to_string()[..8]));
        let pg_port = free_port();
        let mut redis_port = free_port();
        while redis_port == pg_port {
            redis_port = free_port();
        }
        let s = Self { dir, pg_port, redis_port };
        s.start_pg();
        s.start_redis();
        s
    }
    fn start_pg(&self) {
        lib(&format!("start_postgres '{}' {} fast", self.dir.join("pg").display(), self.pg_port));
    }
    fn stop_pg(&self) {
        lib(&format!("stop_postgres '{}'", self.dir.join("pg").display()));
    }
    fn start_redis(&self) {
        lib(&format!("start_redis '{}' {}", self.dir.join("redis").display(), self.redis_port));
    }
    /// A clean restart: SHUTDOWN flushes the append-only file, as a service manager's stop does.
    fn stop_redis_gracefully(&self) {
        let _ = Command::new("redis-cli").args(["-p", &self.redis_port.to_string(), "shutdown"]).status();
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
        let _ = Command::new("redis-cli").args(["-p", &self.redis_port.to_string(), "shutdown", "nosave"]).status();
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

fn load(app: &TestApp, events: u64, rate: Option<u32>, secs: u64) -> tokio::task::JoinHandle<LoadgenReport> {
    let cfg = LoadgenConfig {
        url: app.address.clone(),
        key: app.project.public_key.clone(),
        rate,
        duration: Duration::from_secs(secs),
        max_events: Some(events),
        batch: 50,
        concurrency: 8,
        users: 5000,
        paths: 50,
        allow_remote: false,
        seed: 42,
    };
    tokio::spawn(async move { loadgen::run(cfg, CancellationToken::new()).await.expect("loadgen runs") })
}

async fn assert_exactly_once(app: &TestApp, report: &LoadgenReport) {
    assert_eq!(report.failed_batches, 0, "{report:?}");
    let stored = app.wait_for_count(report.accepted_events as i64, Duration::from_secs(90)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.stored_count().await, report.accepted_events as i64, "stored {stored} of {} accepted", report.accepted_events);
    assert_eq!(app.duplicate_event_ids().await, 0);
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
        assert!(started.elapsed() < Duration::from_secs(120), "the worker never got going");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    let before = app.collect_events(&helpers::events(3, "page.view")).await.status();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = app.collect_events(&helpers::events(3, "page.view")).await.status();
    services.start_pg();
    let report = loader.await.expect("loadgen");
    assert_eq!((before.as_u16(), during.as_u16()), (202, 202), "ingest keeps answering 202 while Postgres is down");
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
