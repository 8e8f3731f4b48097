//! Sightline on a real Citus cluster: a coordinator and two worker nodes on loopback, started by
//! scripts/test (`start_citus_cluster` in scripts/lib.sh), which exports where they are:
//! `TEST_CITUS_DIR` (the nodes' data directories: coordinator, worker1, worker2) and
//! `TEST_CITUS_PORTS` ("coordinator,worker1,worker2"). Without them (a plain `cargo test`) these
//! tests say so and pass; scripts/test always sets them, or fails when the cluster cannot start.
//!
//! Each test gets a fresh database on every node, registers the workers, and runs the real
//! `sightline migrate --citus` (twice: the second run must change nothing). Truths are computed
//! here: the event ids sent, and the same events stored by a single PostgreSQL node.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, Utc};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use uuid::Uuid;

use helpers::{
    base_env, cli_output, create_project, day_fingerprint, fresh_database, lib, sightline_cli,
    start, TestApp, TestSql,
};
use sightline::app::Mode;
use sightline::domain::RetentionDays;
use sightline::storage::archive::{self, ArchiveStore};
use sightline::storage::retention::{self, LazyStore, RetentionOptions};
use sightline::storage::{partitions, projects, rollups, Db};

/// The tests share one cluster, and the fault test stops one of its nodes: one at a time.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// Shards per distributed table in the test databases (Citus's default is 32): enough to spread
/// projects over both workers, few enough that creating a database's ~900 shards stays quick.
const TEST_SHARD_COUNT: u32 = 8;

/// The cluster scripts/test started.
struct Cluster {
    dir: PathBuf,
    coordinator: u16,
    workers: [u16; 2],
}

impl Cluster {
    fn from_env() -> Option<Self> {
        let dir = std::env::var("TEST_CITUS_DIR").ok()?;
        let ports: Vec<u16> = std::env::var("TEST_CITUS_PORTS")
            .ok()?
            .split(',')
            .map(|p| p.trim().parse().expect("TEST_CITUS_PORTS: three ports"))
            .collect();
        assert_eq!(
            ports.len(),
            3,
            "TEST_CITUS_PORTS: coordinator,worker1,worker2"
        );
        Some(Self {
            dir: PathBuf::from(dir),
            coordinator: ports[0],
            workers: [ports[1], ports[2]],
        })
    }

    /// Citus turns TLS on with a self-signed certificate of its own (X.509 v1, which rustls
    /// refuses), for the connections between nodes: the tests connect over loopback without it.
    fn url(port: u16, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/{db}?sslmode=disable")
    }

    /// A new database on every node with the extensions, the workers registered, and the schema
    /// migrated and distributed by `sightline migrate --citus` (run twice). Returns its URL on
    /// the coordinator.
    async fn fresh_database(&self) -> String {
        let name = format!("c_{}", Uuid::new_v4().simple());
        for port in [self.coordinator, self.workers[0], self.workers[1]] {
            let admin = Database::connect(Self::url(port, "postgres"))
                .await
                .expect("connect to a Citus node");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create database");
            let db = Database::connect(Self::url(port, &name))
                .await
                .expect("connect to the new database");
            db.execute_unprepared("CREATE EXTENSION citus; CREATE EXTENSION hll")
                .await
                .expect("extensions");
            db.close().await.ok();
            admin.close().await.ok();
        }
        let url = Self::url(self.coordinator, &name);
        let db = Database::connect(&url).await.expect("coordinator");
        db.execute_unprepared(&format!(
            "ALTER DATABASE {name} SET citus.shard_count = {TEST_SHARD_COUNT}"
        ))
        .await
        .expect("shard count");
        db.execute_unprepared(&format!(
            "SELECT citus_set_coordinator_host('127.0.0.1', {}); \
             SELECT citus_add_node('127.0.0.1', {}); SELECT citus_add_node('127.0.0.1', {});",
            self.coordinator, self.workers[0], self.workers[1]
        ))
        .await
        .expect("register the worker nodes");
        db.close().await.ok();

        let env = base_env(&url);
        let first = migrate_citus(&env).await;
        assert!(
            first.contains("citus: ") && first.contains(" reference tables, 2 worker nodes"),
            "{first}"
        );
        // A second run is a no-op: the same layout, nothing created.
        let second = migrate_citus(&env).await;
        let layout = |out: &str| {
            out.lines()
                .find(|l| l.starts_with("citus: "))
                .map(str::to_string)
        };
        assert_eq!(
            layout(&first),
            layout(&second),
            "the layout changed on a second run"
        );
        assert!(
            second.contains("; 0 partitions created"),
            "second run: {second}"
        );
        url
    }

    /// Drops a test's database on every node (each holds a Citus maintenance worker while it
    /// exists).
    async fn drop_database(&self, url: &str) {
        let name = url
            .rsplit('/')
            .next()
            .and_then(|n| n.split('?').next())
            .expect("database name");
        for port in [self.coordinator, self.workers[0], self.workers[1]] {
            let admin = Database::connect(Self::url(port, "postgres"))
                .await
                .expect("connect to a Citus node");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .expect("drop database");
            admin.close().await.ok();
        }
    }

    fn node_dir(&self, worker: usize) -> PathBuf {
        self.dir.join(format!("worker{}", worker + 1))
    }

    fn stop_worker(&self, worker: usize) {
        lib(&format!(
            "stop_postgres '{}'",
            self.node_dir(worker).display()
        ));
    }

    fn start_worker(&self, worker: usize) {
        lib(&format!(
            "start_postgres '{}' {} fast citus",
            self.node_dir(worker).display(),
            self.workers[worker]
        ));
    }
}

async fn migrate_citus(env: &HashMap<String, String>) -> String {
    let mut cmd = sightline_cli();
    cmd.envs(env).args(["migrate", "--citus"]);
    cli_output(cmd, "sightline migrate --citus").await
}

/// The cluster, or `None` (and a note) outside scripts/test.
fn cluster() -> Option<Cluster> {
    let c = Cluster::from_env();
    if c.is_none() {
        eprintln!("TEST_CITUS_DIR/TEST_CITUS_PORTS not set: no Citus cluster (run ./scripts/test)");
    }
    c
}

/// The worker node (its port) holding a project's shard group.
async fn node_of(db: &Db, project: Uuid) -> u16 {
    let (port,): (i32,) = sqlx::query_as(
        "SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) \
         WHERE p.shardid = get_shard_id_for_distribution_column('activities', $1)",
    )
    .bind(project)
    .fetch_one(db.pool())
    .await
    .expect("placement");
    port as u16
}

/// Projects on the app's database until each worker node holds at least `per_node` of them
/// (the app's own project first); returns (project id, public key) pairs.
async fn projects_on_both_nodes(
    app: &TestApp,
    cluster: &Cluster,
    per_node: usize,
) -> Vec<(Uuid, String)> {
    let mut out = vec![(app.project.id, app.project.public_key.clone())];
    for i in 0..40 {
        let mut on: HashMap<u16, usize> = HashMap::new();
        for (p, _) in &out {
            *on.entry(node_of(&app.db, *p).await).or_default() += 1;
        }
        if cluster
            .workers
            .iter()
            .all(|w| on.get(w).copied().unwrap_or(0) >= per_node)
        {
            return out;
        }
        let (p, keys) = create_project(&app.db, &format!("tenant {i}")).await;
        out.push((p.id, keys.public_key));
    }
    panic!("40 projects all hashed to one worker node");
}

fn citus_env(url: &str) -> HashMap<String, String> {
    let mut env = base_env(url);
    // The tests drive partition upkeep themselves.
    env.insert("SIGHTLINE_MAINTENANCE_INTERVAL_SECS".into(), "3600".into());
    env
}

/// A deterministic visit history of one project: page views (a few paths, referrers), clicks,
/// two-step scrolls, a custom `signup` with a plan, identified and anonymous visitors in
/// sessions and communities, over the last four UTC days (the older ones land in DEFAULT until
/// partition upkeep moves them).
fn history(seed: usize, n: usize, now: DateTime<Utc>) -> Vec<Value> {
    let start = (now - Span::days(3))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    let span = (now - start.and_utc()).num_seconds() - 60;
    (0..n)
        .map(|i| {
            let k = i * 7919 + seed * 104_729;
            let at = start.and_utc() + Span::seconds((k as i64 * 37) % span);
            let session = format!("s{}", (i / 6) % 40);
            let path = ["/", "/pricing", "/docs", "/blog"][k % 4];
            let plan = ["pro", "free", "team"][k % 3];
            let mut v = json!({
                "id": Uuid::new_v4().to_string(),
                "ts": at.timestamp_millis(),
                "session_id": session,
                "url": format!("https://shop.example{path}"),
                "props": {"plan": plan},
            });
            if k % 3 == 0 {
                v["user_id"] = json!(format!("u{}", k % 11));
            } else {
                v["anonymous_id"] = json!(format!("a{}", k % 17));
            }
            if k % 5 == 0 {
                v["community_id"] = json!(format!("c{}", k % 2));
            }
            match i % 5 {
                0 | 1 => {
                    v["type"] = json!("page.view");
                    let referrer = ["https://news.example/x", "https://search.example/q"][k % 2];
                    v["referrer"] = json!(referrer);
                }
                2 => {
                    v["type"] = json!("element.click");
                    let selector = ["button.buy", "a.nav"][k % 2];
                    v["props"]["selector"] = json!(selector);
                    v["entity_type"] = json!("button");
                    v["entity_id"] = json!(format!("b{}", k % 3));
                }
                3 => {
                    v["type"] = json!("page.scroll");
                    v["props"]["depth"] = json!(25 + (k % 4) * 25);
                    v["props"]["prev"] = json!(0);
                }
                _ => v["type"] = json!("signup"),
            }
            v
        })
        .collect()
}

async fn send(app: &TestApp, key: &str, events: &[Value]) {
    for chunk in events.chunks(50) {
        let r = app.collect(&json!({"key": key, "events": chunk})).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or_default();
        // Every event accepted: a 202 may still refuse some of them by index.
        assert_eq!(
            (status.as_u16(), &body["accepted"]),
            (202, &json!(chunk.len())),
            "{body}"
        );
    }
}

async fn stored_ids(db: &Db, project: Uuid) -> BTreeSet<Uuid> {
    let ids: Vec<(Uuid,)> = sqlx::query_as("SELECT event_id FROM activities WHERE project_id = $1")
        .bind(project)
        .fetch_all(db.pool())
        .await
        .expect("event ids");
    ids.into_iter().map(|(id,)| id).collect()
}

/// Stored ids equal the expected ones (the sizes and a few ids of each difference when not).
fn assert_same_ids(stored: &BTreeSet<Uuid>, expected: &BTreeSet<Uuid>, what: &str) {
    let missing: Vec<_> = expected.difference(stored).take(3).collect();
    let extra: Vec<_> = stored.difference(expected).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} stored, {} expected; missing e.g. {missing:?}, unexpected e.g. {extra:?}",
        stored.len(),
        expected.len()
    );
}

async fn wait_stored(db: &Db, project: Uuid, n: usize, timeout: Duration) -> BTreeSet<Uuid> {
    let started = Instant::now();
    loop {
        let ids = stored_ids(db, project).await;
        if ids.len() >= n || started.elapsed() > timeout {
            return ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every analytics question the API answers, for one project over `range`.
fn questions(project: Uuid, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(String, Value)> {
    let range = json!({"from": from.to_rfc3339(), "to": to.to_rfc3339()});
    let zoned =
        json!({"from": from.to_rfc3339(), "to": to.to_rfc3339(), "timeZone": "Europe/Paris"});
    let v = |extra: Value| {
        let mut m = json!({"p": project.to_string(), "r": range});
        for (k, val) in extra.as_object().expect("object") {
            m[k] = val.clone();
        }
        m
    };
    let q = |s: &str| s.to_string();
    vec![
        (q("query($p: ID!) { eventCount(projectId: $p) }"), v(json!({}))),
        (
            q("query($p: ID!, $r: TimeRange!, $f: EventFilter) { overview(projectId: $p, range: $r, filter: $f) { events uniqueUsers uniqueUsersExact sessions pageViews bounceRate avgScrollDepth } }"),
            v(json!({})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!, $f: EventFilter) { overview(projectId: $p, range: $r, filter: $f) { events uniqueUsers uniqueUsersExact sessions pageViews bounceRate avgScrollDepth } }"),
            v(json!({"f": {"path": "/pricing"}})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!, $f: EventFilter) { overview(projectId: $p, range: $r, filter: $f) { events uniqueUsers sessions pageViews bounceRate } }"),
            v(json!({"f": {"props": {"plan": "pro"}}})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!, $m: Metric!, $i: Interval!, $f: EventFilter) { timeseries(projectId: $p, range: $r, metric: $m, interval: $i, filter: $f) { t value } }"),
            v(json!({"m": "EVENTS", "i": "HOUR"})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!, $m: Metric!, $i: Interval!, $f: EventFilter) { timeseries(projectId: $p, range: $r, metric: $m, interval: $i, filter: $f) { t value } }"),
            v(json!({"m": "UNIQUE_USERS", "i": "DAY", "r": zoned})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!, $m: Metric!, $i: Interval!, $f: EventFilter) { timeseries(projectId: $p, range: $r, metric: $m, interval: $i, filter: $f) { t value } }"),
            v(json!({"m": "SESSIONS", "i": "DAY", "f": {"eventType": "signup"}})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!, $m: Metric!, $i: Interval!, $f: EventFilter) { timeseries(projectId: $p, range: $r, metric: $m, interval: $i, filter: $f) { t value } }"),
            v(json!({"m": "PAGE_VIEWS", "i": "HOUR", "f": {"props": {"plan": "team"}}})),
        ),
        (
            q("query($p: ID!, $at: DateTime) { activeUsers(projectId: $p, at: $at) { dau wau mau } }"),
            v(json!({"at": to.to_rfc3339()})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!) { a: eventCounts(projectId: $p, range: $r, groupBy: EVENT_TYPE) { key count } b: eventCounts(projectId: $p, range: $r, groupBy: PATH) { key count } c: eventCounts(projectId: $p, range: $r, groupBy: ELEMENT) { key count } d: eventCounts(projectId: $p, range: $r, groupBy: REFERRER) { key count } e: eventCounts(projectId: $p, range: $r, groupBy: ENTITY_TYPE, filter: {communityId: \"c1\"}) { key count } }"),
            v(json!({})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!) { topPages(projectId: $p, range: $r) { key count } topElements(projectId: $p, range: $r) { key count } scrollDepth(projectId: $p, range: $r) { path views avgDepth reached25 reached50 reached75 reached100 } }"),
            v(json!({})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!) { funnel(projectId: $p, range: $r, steps: [{eventType: \"page.view\", path: \"/\"}, {eventType: \"page.view\", path: \"/pricing\"}, {eventType: \"signup\"}], windowSeconds: 86400) { steps { eventType path users conversion } } }"),
            v(json!({})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!) { retention(projectId: $p, range: $r, period: DAY, periods: 4) { start size retained } }"),
            v(json!({})),
        ),
        (
            q("query($p: ID!) { user(projectId: $p, id: \"u3\") { id firstSeen lastSeen events timeline(first: 20) { id type occurredAt path props } } }"),
            v(json!({})),
        ),
        (
            q("query($p: ID!) { community(projectId: $p, id: \"c1\") { id events members topEventTypes { key count } memberIds } }"),
            v(json!({})),
        ),
        (
            q("query($p: ID!, $r: TimeRange!) { events(projectId: $p, range: $r, filter: {props: {plan: \"pro\"}}, first: 25) { edges { node { id type occurredAt userId sessionId path props } } pageInfo { hasNextPage } } }"),
            v(json!({})),
        ),
    ]
}

/// `data` of a GraphQL answer; fails the test on any error.
async fn answer(app: &TestApp, query: &str, vars: &Value) -> Value {
    let r = app
        .graphql(Some(&app.admin_token), query, vars.clone())
        .await;
    assert!(r.get("errors").is_none(), "{query}: {r}");
    r["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn citus_cluster_stores_each_event_once_and_answers_like_a_single_node() {
    let _serial = SERIAL.lock().await;
    let Some(cluster) = cluster() else { return };
    let citus_url = cluster.fresh_database().await;
    let citus = start(citus_env(&citus_url), Mode::All, None).await;
    let tenants = projects_on_both_nodes(&citus, &cluster, 2).await;
    let single = start(citus_env(&fresh_database().await), Mode::All, None).await;
    let mut twins = vec![(single.project.id, single.project.public_key.clone())];
    for i in 1..tenants.len() {
        let (p, keys) = create_project(&single.db, &format!("tenant {i}")).await;
        twins.push((p.id, keys.public_key));
    }

    let now = Utc::now();
    let sent: Vec<Vec<Value>> = (0..tenants.len())
        .map(|i| history(i, 300 + 40 * i, now))
        .collect();
    for (i, events) in sent.iter().enumerate() {
        send(&citus, &tenants[i].1, events).await;
        send(&single, &twins[i].1, events).await;
    }

    // Stored exactly once: the ids sent, per project, no more, no fewer.
    for (i, events) in sent.iter().enumerate() {
        let expected: BTreeSet<Uuid> = events
            .iter()
            .map(|e| e["id"].as_str().expect("id").parse().expect("uuid"))
            .collect();
        let on_citus = wait_stored(
            &citus.db,
            tenants[i].0,
            expected.len(),
            Duration::from_secs(90),
        )
        .await;
        assert_same_ids(&on_citus, &expected, &format!("project {i} on the cluster"));
        let on_single = wait_stored(
            &single.db,
            twins[i].0,
            expected.len(),
            Duration::from_secs(60),
        )
        .await;
        assert_same_ids(
            &on_single,
            &expected,
            &format!("project {i} on the single node"),
        );
    }

    // The rows are on both worker nodes (the coordinator holds none), as the placements say.
    let per_node: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT nodeport, sum(result::bigint)::bigint FROM run_command_on_placements('activities', \
           'SELECT count(*) FROM %s') GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(citus.db.pool())
    .await
    .expect("rows per node");
    let total: usize = sent.iter().map(Vec::len).sum();
    assert_eq!(per_node.len(), 2, "{per_node:?}");
    assert!(per_node.iter().all(|(_, n)| *n > 0), "{per_node:?}");
    assert_eq!(per_node.iter().map(|(_, n)| n).sum::<i64>(), total as i64);
    let mut expected_per_node: BTreeMap<i32, i64> = BTreeMap::new();
    for (i, (p, _)) in tenants.iter().enumerate() {
        *expected_per_node
            .entry(node_of(&citus.db, *p).await as i32)
            .or_default() += sent[i].len() as i64;
    }
    assert_eq!(
        per_node.into_iter().collect::<BTreeMap<_, _>>(),
        expected_per_node
    );

    // Partition upkeep on the cluster: the older days waited in DEFAULT; upkeep gives them their
    // partitions (distributed, on the workers) and leaves DEFAULT empty, every row kept.
    let in_default = |db: Db| async move {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM activities_default")
            .fetch_one(db.pool())
            .await
            .expect("default");
        n
    };
    assert!(
        in_default(citus.db.clone()).await > 0,
        "the history starts before the partitions"
    );
    let created = partitions::maintain(&citus.db, 3)
        .await
        .expect("maintain on Citus");
    assert!(created >= 1, "created {created}");
    assert_eq!(in_default(citus.db.clone()).await, 0);
    partitions::maintain(&single.db, 3).await.expect("maintain");
    let distributed_partitions: (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE d.logicalrelid IS NOT NULL) \
         FROM pg_inherits i LEFT JOIN pg_dist_partition d ON d.logicalrelid = i.inhrelid \
         WHERE i.inhparent = 'activities'::regclass",
    )
    .fetch_one(citus.db.pool())
    .await
    .expect("partitions");
    assert_eq!(
        distributed_partitions.0, distributed_partitions.1,
        "every partition distributed"
    );
    for (i, events) in sent.iter().enumerate() {
        assert_eq!(
            stored_ids(&citus.db, tenants[i].0).await.len(),
            events.len()
        );
    }

    // Every analytics answer equals the single node's for the same events.
    let (from, to) = (now - Span::days(4), now + Span::hours(1));
    let compare = |label: &'static str| {
        let (citus, single, tenants, twins) = (&citus, &single, &tenants, &twins);
        async move {
            for (i, ((cp, _), (sp, _))) in tenants.iter().zip(twins).enumerate() {
                for ((query, vars), (_, single_vars)) in questions(*cp, from, to)
                    .into_iter()
                    .zip(questions(*sp, from, to))
                {
                    let a = answer(citus, &query, &vars).await;
                    let b = answer(single, &query, &single_vars).await;
                    assert_eq!(a, b, "{label}: project {i}: {query}");
                }
            }
        }
    };
    compare("after ingest").await;

    // Rollups equal a recount from raw events on the cluster (`rollup verify`).
    let days = helpers::days(from.date_naive(), to.date_naive() + Span::days(1));
    for (p, _) in &tenants {
        let diffs = rollups::verify(&citus.db, *p, days)
            .await
            .expect("verify on Citus");
        assert!(diffs.is_empty(), "{diffs:?}");
    }

    // The GDPR purge on both, then the same answers again.
    let purge = "mutation($p: ID!) { purgeUser(projectId: $p, userId: \"u3\") { events users } }";
    for ((cp, _), (sp, _)) in tenants.iter().zip(&twins) {
        let a = answer(&citus, purge, &json!({"p": cp.to_string()})).await;
        let b = answer(&single, purge, &json!({"p": sp.to_string()})).await;
        assert_eq!(a, b);
        assert!(
            a["purgeUser"]["events"].as_i64().expect("events") > 0,
            "{a}"
        );
        let (left,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM activities WHERE project_id = $1 AND user_id = 'u3'",
        )
        .bind(cp)
        .fetch_one(citus.db.pool())
        .await
        .expect("left");
        assert_eq!(left, 0);
        let diffs = rollups::verify(&citus.db, *cp, days).await.expect("verify");
        assert!(diffs.is_empty(), "after the purge: {diffs:?}");
    }
    compare("after the purge").await;

    citus.stop().await;
    single.stop().await;
    cluster.drop_database(&citus_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_citus_worker_node_down_for_ten_seconds_loses_no_accepted_event() {
    let _serial = SERIAL.lock().await;
    let Some(cluster) = cluster() else { return };
    let url = cluster.fresh_database().await;
    let app = Arc::new(start(citus_env(&url), Mode::All, None).await);
    let tenants = projects_on_both_nodes(&app, &cluster, 1).await;
    let down = 1; // worker2
    let mut on_down = None;
    for (p, _) in &tenants {
        if node_of(&app.db, *p).await == cluster.workers[down] {
            on_down = Some(*p);
        }
    }
    let on_down = on_down.expect("a project on the node to stop");

    // Load: batches of 20 events for every project, one after another, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let outage = Arc::new(AtomicBool::new(false));
    let mut loaders = Vec::new();
    for (p, key) in tenants.clone() {
        let (app, stop, outage) = (app.clone(), stop.clone(), outage.clone());
        loaders.push(tokio::spawn(async move {
            let mut accepted: BTreeSet<Uuid> = BTreeSet::new();
            let (mut during_outage, mut refused) = (0u32, 0u32);
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<Value> = (0..20)
                    .map(|i| {
                        n += 1;
                        json!({"id": Uuid::new_v4().to_string(), "type": "page.view",
                               "ts": Utc::now().timestamp_millis(), "session_id": format!("s{}", n / 50),
                               "anonymous_id": format!("a{}", (n + i) % 30), "url": "https://shop.example/"})
                    })
                    .collect();
                let r = app.collect(&json!({"key": key, "events": batch})).await;
                match r.status().as_u16() {
                    202 => {
                        accepted.extend(batch.iter().map(|e| e["id"].as_str().expect("id").parse::<Uuid>().expect("uuid")));
                        if outage.load(Ordering::Relaxed) {
                            during_outage += 1;
                        }
                    }
                    503 => refused += 1,
                    other => panic!("ingest answered {other} for project {p}"),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (p, accepted, during_outage, refused)
        }));
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.stop_worker(down);
    outage.store(true, Ordering::Relaxed);
    let stopped = Instant::now();
    // A query for a project on the stopped node answers an error with a code, promptly.
    let asked = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(15),
        app.graphql(
            Some(&app.admin_token),
            "query($p: ID!) { eventCount(projectId: $p) }",
            json!({"p": on_down.to_string()}),
        ),
    )
    .await
    .expect("a query during the outage answers (no hang)");
    let took = asked.elapsed();
    let code = r["errors"][0]["extensions"]["code"].as_str();
    assert_eq!(code, Some("INTERNAL"), "{r}");
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(stopped.elapsed())).await;
    outage.store(false, Ordering::Relaxed);
    cluster.start_worker(down);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);

    let mut accepted_during = 0;
    for l in loaders {
        let (p, accepted, during, refused) = l.await.expect("loader");
        accepted_during += during;
        let stored = wait_stored(&app.db, p, accepted.len(), Duration::from_secs(120)).await;
        assert_same_ids(
            &stored,
            &accepted,
            &format!("project {p} ({refused} refused)"),
        );
    }
    assert!(
        accepted_during > 0,
        "ingest kept answering 202 during the outage"
    );
    let (dups,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM (SELECT project_id, event_id FROM activities GROUP BY 1, 2 HAVING count(*) > 1) d",
    )
    .fetch_one(app.db.pool())
    .await
    .expect("duplicates");
    assert_eq!(dups, 0);
    match Arc::try_unwrap(app) {
        Ok(app) => app.stop().await,
        Err(_) => panic!("loaders still hold the app"),
    }
    cluster.drop_database(&url).await;
}

async fn partition_of(db: &Db, day: chrono::NaiveDate) -> bool {
    let (exists,): (bool,) = sqlx::query_as("SELECT sightline_partition_of($1) IS NOT NULL")
        .bind(day)
        .fetch_one(db.pool())
        .await
        .expect("partition");
    exists
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_days_on_citus_are_archived_dropped_and_restored_exactly() {
    let _serial = SERIAL.lock().await;
    let Some(cluster) = cluster() else { return };
    let dir = std::env::temp_dir().join(format!("sightline-citus-archive-{}", Uuid::new_v4()));
    let store_url = format!("file://{}", dir.display());
    let url = cluster.fresh_database().await;
    let mut env = citus_env(&url);
    env.insert("SIGHTLINE_ARCHIVE_URL".into(), store_url.clone());
    env.insert("SIGHTLINE_ROLLUP_MINUTE_DAYS".into(), "30".into());
    let app = start(env, Mode::All, None).await;
    let tenants = projects_on_both_nodes(&app, &cluster, 1).await;
    let now = Utc::now();
    let sent: Vec<Vec<Value>> = (0..tenants.len())
        .map(|i| history(i + 7, 200, now))
        .collect();
    for (i, events) in sent.iter().enumerate() {
        send(&app, &tenants[i].1, events).await;
    }
    for (i, events) in sent.iter().enumerate() {
        let ids = wait_stored(&app.db, tenants[i].0, events.len(), Duration::from_secs(90)).await;
        assert_eq!(ids.len(), events.len());
    }
    partitions::maintain(&app.db, 3).await.expect("maintain");
    let today = now.date_naive();
    let old: Vec<chrono::NaiveDate> = (2..=3).map(|d| today - Span::days(d)).collect();
    let mut before = HashMap::new();
    for (p, _) in &tenants {
        for d in &old {
            let f = day_fingerprint(&app.db, *p, *d).await;
            assert!(f.0 > 0, "history has rows on {d}");
            before.insert((*p, *d), f);
        }
    }

    // Every project keeps raw events one day: the old days go to the archive, their
    // partitions (empty on both nodes) are dropped, the rollups stay and still match.
    for (p, _) in &tenants {
        projects::update(&app.db, *p, set_raw_retention(1))
            .await
            .expect("retention");
    }
    let mut store = LazyStore::new(store_url.clone());
    let opts = RetentionOptions {
        minute_days: 30,
        dry_run: false,
    };
    let mut report = None;
    for _ in 0..200 {
        let r = retention::run(&app.db, &mut store, &opts)
            .await
            .expect("retention on Citus");
        if !r.skipped {
            report = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = report.expect("retention ran");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    for (p, _) in &tenants {
        for d in &old {
            assert!(
                report
                    .archived
                    .iter()
                    .any(|a| a.project == *p && a.day == *d),
                "{p} {d} archived: {report:?}"
            );
            assert_eq!(day_fingerprint(&app.db, *p, *d).await.0, 0);
        }
    }
    for d in &old {
        assert!(!partition_of(&app.db, *d).await, "{d}'s partition dropped");
    }
    let days = helpers::days(old[1], today + Span::days(1));
    for (p, _) in &tenants {
        let diffs = rollups::verify(&app.db, *p, days).await.expect("verify");
        assert!(diffs.is_empty(), "{diffs:?}");
    }

    // Restore brings a day back exactly, on whichever node holds the project.
    let s = ArchiveStore::open(&store_url).expect("store");
    for (p, _) in &tenants {
        let r = archive::restore_day(&app.db, &s, *p, old[0], 7)
            .await
            .expect("restore on Citus");
        assert_eq!(r.rows, r.inserted);
        assert_eq!(
            day_fingerprint(&app.db, *p, old[0]).await,
            before[&(*p, old[0])]
        );
    }
    app.stop().await;
    cluster.drop_database(&url).await;
    let _ = std::fs::remove_dir_all(dir);
}

fn set_raw_retention(days: i32) -> projects::ProjectUpdate {
    projects::ProjectUpdate {
        retention_days: Some(RetentionDays::parse(days, "days").expect("1..3650")),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_citus_on_a_database_without_citus_refuses_and_changes_nothing() {
    // A plain PostgreSQL database (no cluster needed): a clear error, and no migration applied.
    let admin = helpers::test_database_url();
    let name = format!("t_{}", Uuid::new_v4().simple());
    let conn = Database::connect(&admin).await.expect("connect");
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).expect("a path");
    let url = format!("{base}/{name}");
    let mut cmd = sightline_cli();
    cmd.envs(base_env(&url)).args(["migrate", "--citus"]);
    let out = cmd.output().await.expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--citus: the database has no citus extension"),
        "{err}"
    );
    let db = Database::connect(&url).await.expect("connect");
    let tables = db
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) FROM pg_class WHERE relname IN ('activities', 'seaql_migrations')",
        ))
        .await
        .expect("query")
        .expect("a row");
    let n: i64 = tables.try_get_by_index(0).expect("count");
    assert_eq!(n, 0, "nothing was migrated");
}
