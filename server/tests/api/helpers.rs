//! `spawn_app()`: the real application on a random port, against the real PostgreSQL (a fresh
//! database per test) and Redis (a fresh queue prefix per test) that scripts/test started.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use sea_orm_migration::MigratorTrait;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use sightline::app::{Application, Mode};
use sightline::auth::{JwtKeys, Role};
use sightline::config::Settings;
use sightline::domain::{Origin, ProjectName};
use sightline::queue::Queue;
use sightline::redis_conn::RedisConn;
use sightline::storage::{projects, Db};

pub const JWT_SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const ALLOWED_ORIGIN: &str = "http://allowed.example";
/// The user agent of `TestApp::collect`'s beacons.
pub const BROWSER_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

pub fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL is not set: run the tests through ./scripts/test")
}

pub fn test_redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .expect("TEST_REDIS_URL is not set: run the tests through ./scripts/test")
}

/// A new empty database with the schema applied; returns its URL.
pub async fn fresh_database() -> String {
    fresh_database_on(&test_database_url()).await
}

/// Same, on the cluster behind `admin` (a URL to any database of it).
pub async fn fresh_database_on(admin: &str) -> String {
    let admin = admin.to_string();
    let name = format!("t_{}", Uuid::new_v4().simple());
    let conn = Database::connect(&admin)
        .await
        .expect("connect to the test cluster");
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .expect("database URL has a path");
    let url = format!("{base}/{name}");
    let db = Database::connect(&url)
        .await
        .expect("connect to the new database");
    migration::Migrator::up(&db, None)
        .await
        .expect("migrations apply");
    url
}

pub struct TestProject {
    pub id: Uuid,
    pub public_key: String,
    pub secret_key: String,
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub db: Db,
    pub queue: Queue,
    /// The live feed's hub (an app that serves HTTP).
    pub live: Option<sightline::live::LiveHub>,
    pub settings: Settings,
    pub env: HashMap<String, String>,
    pub project: TestProject,
    pub admin_token: String,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    handle: Option<tokio::task::JoinHandle<()>>,
}

pub fn base_env(database_url: &str) -> HashMap<String, String> {
    let prefix = format!("t{}", &Uuid::new_v4().simple().to_string()[..12]);
    [
        ("DATABASE_URL", database_url.to_string()),
        ("REDIS_URL", test_redis_url()),
        ("SIGHTLINE_JWT_SECRET", JWT_SECRET.to_string()),
        ("SIGHTLINE_BIND", "127.0.0.1:0".to_string()),
        ("SIGHTLINE_QUEUE_PREFIX", prefix),
        ("SIGHTLINE_WORKER_LOCK_MS", "3000".to_string()),
        ("SIGHTLINE_WORKER_BACKOFF_MS", "200".to_string()),
        ("SIGHTLINE_DATABASE_POOL", "8".to_string()),
        ("SIGHTLINE_LOG_FORMAT", "pretty".to_string()),
        // The production limits (10 s per statement, 30 s per request) guard a server from its
        // users; on a shared test machine under load a correct 200k-event answer can take longer.
        // The limit tests (api_limits.rs) set their own.
        ("SIGHTLINE_QUERY_TIMEOUT_MS", "120000".to_string()),
        ("SIGHTLINE_REQUEST_TIMEOUT_MS", "300000".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Mode::All, |_| {}).await
}

pub async fn spawn_app_with(
    mode: Mode,
    configure: impl FnOnce(&mut HashMap<String, String>),
) -> TestApp {
    let url = fresh_database().await;
    let mut env = base_env(&url);
    configure(&mut env);
    start(env, mode, None).await
}

/// Starts an application from an explicit environment (a second instance on the same database
/// and queue, for example). `project` reuses an existing project instead of creating one.
pub async fn start(
    env: HashMap<String, String>,
    mode: Mode,
    project: Option<&TestProject>,
) -> TestApp {
    sightline::telemetry::init_tracing(false);
    let settings = Settings::from_map(&env).expect("test settings are valid");
    let app = Application::build(settings.clone(), mode)
        .await
        .expect("application starts");
    let port = app.port();
    let db = app.db().clone();
    let queue = app.queue().clone();
    let live = app.live().cloned();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let handle = tokio::spawn(async move {
        app.run_until_stopped(stop).await;
    });
    let project = match project {
        Some(p) => TestProject {
            id: p.id,
            public_key: p.public_key.clone(),
            secret_key: p.secret_key.clone(),
        },
        None => {
            let name = ProjectName::try_from("test project").expect("a name");
            let origins = Origin::parse_all(&[ALLOWED_ORIGIN]).expect("an origin");
            let (p, keys) = projects::create(&db, &name, &origins)
                .await
                .expect("create project");
            TestProject {
                id: p.id,
                public_key: keys.public_key,
                secret_key: keys.secret_key,
            }
        }
    };
    let jwt = JwtKeys::from_settings(&settings.jwt).expect("jwt keys");
    let admin_token = jwt
        .issue("test-admin", Role::Admin, None, None)
        .expect("token");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db,
        queue,
        live,
        settings,
        env,
        project,
        admin_token,
        client: reqwest::Client::new(),
        shutdown,
        handle: Some(handle),
    }
}

/// A BullMQ queue handle on the test's prefix, independent of any app (for tests that drive
/// the queue directly).
pub async fn queue_for(settings: &Settings) -> Queue {
    let conn = RedisConn::connect(settings.redis_url.expose())
        .await
        .expect("redis");
    Queue::new(conn, &settings.queue, &settings.worker)
}

pub fn event(event_type: &str) -> Value {
    json!({
        "id": Uuid::new_v4().to_string(),
        "type": event_type,
        "ts": chrono::Utc::now().timestamp_millis(),
        "anonymous_id": format!("a-{}", &Uuid::new_v4().simple().to_string()[..8]),
        "session_id": "s-1",
        "url": "https://shop.example/pricing?plan=pro",
        "props": {"k": "v"}
    })
}

pub fn events(n: usize, event_type: &str) -> Vec<Value> {
    (0..n).map(|_| event(event_type)).collect()
}

impl TestApp {
    /// A beacon from a desktop Chrome: a beacon without a user agent is a bot's, and bots are
    /// left out of every analytics answer.
    pub async fn collect(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/collect", self.address))
            .header("content-type", "text/plain")
            .header("user-agent", BROWSER_UA)
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }

    pub async fn collect_events(&self, events: &[Value]) -> reqwest::Response {
        self.collect(&json!({"key": self.project.public_key, "events": events}))
            .await
    }

    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    /// `POST /api/v1/track` of `events` with the secret key `secret`; the answer's status.
    pub async fn track_with(&self, secret: &str, events: &[Value]) -> reqwest::StatusCode {
        self.client
            .post(format!("{}/api/v1/track", self.address))
            .bearer_auth(secret)
            .json(&json!({ "events": events }))
            .send()
            .await
            .expect("track")
            .status()
    }

    pub async fn stored_count(&self) -> i64 {
        sightline::storage::events::count(&self.db, self.project.id)
            .await
            .expect("count")
    }

    /// Polls until the project has `n` stored events (or fails after `timeout`).
    pub async fn wait_for_count(&self, n: i64, timeout: Duration) -> i64 {
        let started = Instant::now();
        loop {
            let c = self.stored_count().await;
            if c >= n || started.elapsed() > timeout {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Rows per event id that appear more than once (must always be empty).
    pub async fn duplicate_event_ids(&self) -> i64 {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM (SELECT event_id FROM activities WHERE project_id = $1 GROUP BY event_id HAVING count(*) > 1) d",
        )
        .bind(self.project.id)
        .fetch_one(self.db.pool())
        .await
        .expect("query");
        n
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The `sightline` binary of this build: the CLI, with the tools the library does not export
/// (load generator, data generator, benchmark).
pub fn sightline_cli() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sightline"));
    cmd.kill_on_drop(true);
    cmd
}

/// Runs the command to its end and returns its stdout; fails the test, with its stderr, when it
/// fails.
pub async fn cli_output(mut cmd: tokio::process::Command, what: &str) -> String {
    let out = cmd.output().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sightline generate` for `project` with the app's settings; returns the events written.
#[allow(clippy::too_many_arguments)]
pub async fn run_generate(
    env: &HashMap<String, String>,
    project: Uuid,
    events: u64,
    days: u32,
    users: u32,
    seed: u64,
    batch: usize,
    writers: usize,
) -> u64 {
    let mut cmd = sightline_cli();
    cmd.envs(env)
        .args(["generate", "--project", &project.to_string()])
        .args(["--events", &events.to_string(), "--days", &days.to_string()])
        .args(["--users", &users.to_string(), "--seed", &seed.to_string()])
        .args([
            "--batch",
            &batch.to_string(),
            "--writers",
            &writers.to_string(),
        ]);
    let out = cli_output(cmd, "sightline generate").await;
    // "generated N events in S s: R events/s"
    out.lines()
        .find_map(|l| l.strip_prefix("generated "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("generate's summary line in {out:?}"))
}

/// Tests check the database with SQL of their own, independent of the product's storage code:
/// a sqlx pool on the app's primary connection.
pub trait TestSql {
    fn pool(&self) -> &sqlx::PgPool;
}

impl TestSql for Db {
    fn pool(&self) -> &sqlx::PgPool {
        self.primary.get_postgres_connection_pool()
    }
}

/// Whole UTC days `[from, to)` (at least one).
pub fn days(from: chrono::NaiveDate, to: chrono::NaiveDate) -> sightline::domain::DayRange {
    sightline::domain::DayRange::new(from, to).expect("from before to")
}

/// A project of that name allowing no origin (another tenant, in tests of isolation).
pub async fn create_project(
    db: &Db,
    name: &str,
) -> (entity::project::Model, projects::ProjectKeys) {
    let name = ProjectName::try_from(name).expect("a name");
    projects::create(db, &name, &[])
        .await
        .expect("create project")
}

/// A token of this app's keys for `role` over `projects` (`None`: all).
pub fn token(app: &TestApp, role: Role, projects: Option<&[Uuid]>) -> String {
    JwtKeys::from_settings(&app.settings.jwt)
        .expect("keys")
        .issue(&format!("{}-test", role.as_str()), role, projects, None)
        .expect("token")
}

/// `extensions.code` of a GraphQL answer's first error.
pub fn code(r: &Value) -> String {
    r["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
        .to_string()
}

/// A `[KeyCount]` GraphQL answer as (key, count) pairs, in its order.
pub fn keycounts(v: &Value) -> Vec<(String, i64)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["key"].as_str().unwrap_or("").to_string(),
                        r["count"].as_i64().unwrap_or(-1),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The repository's root (scripts/ lives there). (The chaos and Citus test binaries use it.)
#[allow(dead_code)]
pub fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Runs `cmd` with scripts/lib.sh's functions (start_postgres, stop_postgres, ...); fails the
/// test when it fails. (The chaos and Citus test binaries use it.)
#[allow(dead_code)]
pub fn lib(cmd: &str) {
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}/scripts/lib.sh' && {cmd}",
            repo().display()
        ))
        .status()
        .expect("bash runs");
    assert!(status.success(), "`{cmd}` failed");
}

/// Row count and a digest of every column of a project's rows of one UTC day, in a stable
/// order: equal before and after an archive round trip.
pub async fn day_fingerprint(db: &Db, project: Uuid, day: chrono::NaiveDate) -> (i64, String) {
    let (lo, hi) = sightline::storage::archive::day_bounds(day);
    sqlx::query_as(
        "SELECT count(*), COALESCE(md5(string_agg(t::text, '|' ORDER BY t.event_id)), '') FROM \
           (SELECT event_id, project_id, event_type, user_id, anonymous_id, session_id, community_id, \
                   entity_type, entity_id, path, referrer, metadata, ip_address, user_agent, is_bot, \
                   occurred_at, received_at \
            FROM activities WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3) t",
    )
    .bind(project)
    .bind(lo)
    .bind(hi)
    .fetch_one(db.pool())
    .await
    .expect("fingerprint")
}
