//! Queue and worker guarantees: exactly-once storage under resends and replays, poison
//! isolation with retries and the dead-letter queue, backpressure, and BullMQ wire
//! compatibility proven with the real `bullmq` npm package.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{events, queue_for, spawn_app, spawn_app_with, start, TestApp, TestSql};
use sightline::app::Mode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_batch_posted_three_times_is_stored_once() {
    let app = spawn_app().await;
    let batch = events(25, "page.view");
    for _ in 0..3 {
        assert_eq!(app.collect_events(&batch).await.status(), 202);
    }
    assert_eq!(app.wait_for_count(25, Duration::from_secs(10)).await, 25);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.stored_count().await, 25);
    assert_eq!(app.duplicate_event_ids().await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_job_stores_each_event_once() {
    let app = spawn_app().await;
    let evs = events(10, "element.click");
    let data = json!({"project_id": app.project.id, "received_at": chrono::Utc::now().timestamp_millis(), "events": evs}).to_string();
    // The same job data enqueued twice, as a crash between commit and completion would replay it.
    app.queue
        .add_many(std::slice::from_ref(&data))
        .await
        .expect("add");
    assert_eq!(app.wait_for_count(10, Duration::from_secs(10)).await, 10);
    app.queue.add_many(&[data]).await.expect("add again");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let counts = app.queue.counts().await.expect("counts");
    assert_eq!(counts.completed, 2, "both jobs completed");
    assert_eq!(app.stored_count().await, 10);
    assert_eq!(app.duplicate_event_ids().await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_job_fails_alone_is_retried_then_dead_lettered() {
    let app = spawn_app().await;
    // A database-side rule that refuses one event type: a write that can never succeed.
    sqlx::query(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.event_type = 'poison.event' THEN RAISE EXCEPTION 'poison event refused'; END IF; RETURN NEW; END $$",
    )
    .execute(app.db.pool())
    .await
    .expect("function");
    // The app's partition maintenance may be creating partitions right now; DDL on the
    // partitioned table can then fail with a lock conflict: retry.
    let mut created = Err(sqlx::Error::PoolClosed);
    for _ in 0..20 {
        created = sqlx::query("CREATE TRIGGER refuse_poison BEFORE INSERT ON activities FOR EACH ROW EXECUTE FUNCTION refuse_poison()")
            .execute(app.db.pool())
            .await;
        if created.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    created.expect("trigger");

    let job = |evs: Vec<Value>| {
        json!({"project_id": app.project.id, "received_at": chrono::Utc::now().timestamp_millis(), "events": evs}).to_string()
    };
    let good1 = job(events(5, "page.view"));
    let poison = job(events(1, "poison.event"));
    let good2 = job(events(5, "page.view"));
    let not_a_job = "this is not JSON".to_string();
    app.queue
        .add_many(&[good1, poison, good2, not_a_job])
        .await
        .expect("add");

    assert_eq!(
        app.wait_for_count(10, Duration::from_secs(10)).await,
        10,
        "neighbours are stored"
    );
    // Three attempts with 200 ms, 400 ms backoff, then the dead-letter queue.
    let mut counts = app.queue.counts().await.expect("counts");
    for _ in 0..100 {
        if counts.failed == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        counts = app.queue.counts().await.expect("counts");
    }
    assert_eq!(counts.failed, 2, "{counts:?}");
    let failed = app.queue.failed_jobs(10).await.expect("failed");
    let reasons: Vec<&str> = failed.iter().map(|f| f.1.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("poison event refused")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not an ingest job")),
        "{reasons:?}"
    );
    let poison_id = &failed
        .iter()
        .find(|f| f.1.contains("poison"))
        .expect("poison job")
        .0;
    let mut conn = app.queue.conn();
    let atm: i64 = redis::cmd("HGET")
        .arg(app.queue.key(poison_id))
        .arg("atm")
        .query_async(&mut conn)
        .await
        .expect("atm");
    assert_eq!(atm, 3, "attempts made before dead-lettering");

    // Dead-letter retry once the cause is fixed stores it, exactly once.
    sqlx::query("DROP TRIGGER refuse_poison ON activities")
        .execute(app.db.pool())
        .await
        .expect("drop");
    let moved = app
        .queue
        .retry_failed(std::slice::from_ref(poison_id), 10)
        .await
        .expect("retry");
    assert_eq!(moved.len(), 1);
    assert_eq!(app.wait_for_count(11, Duration::from_secs(10)).await, 11);
    assert_eq!(
        app.queue.discard_failed(&[], 10).await.expect("discard"),
        1,
        "the non-job is discarded"
    );
    assert_eq!(app.queue.counts().await.expect("counts").failed, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_503_with_retry_after_then_recovers() {
    // Ingest only (no worker), with a tiny bound.
    let server = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_QUEUE_MAX_WAITING".into(), "5".into());
    })
    .await;
    let mut accepted = 0;
    let mut refused = None;
    for _ in 0..8 {
        let r = server.collect_events(&events(2, "page.view")).await;
        match r.status().as_u16() {
            202 => accepted += 1,
            503 => {
                refused = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap_or("").to_string());
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(accepted, 5);
    assert!(
        refused.is_some_and(|s| s.parse::<u64>().is_ok()),
        "503 carries Retry-After"
    );

    // A worker drains the queue; ingest accepts again; nothing accepted was lost.
    let worker = start(server.env.clone(), Mode::Worker, Some(&server.project)).await;
    assert_eq!(server.wait_for_count(10, Duration::from_secs(10)).await, 10);
    assert_eq!(
        server
            .collect_events(&events(2, "page.view"))
            .await
            .status(),
        202
    );
    assert_eq!(server.wait_for_count(12, Duration::from_secs(10)).await, 12);
    worker.stop().await;
    server.stop().await;
}

/// What `tests-interop/bullmq.mjs` needs to reach the app's queue.
fn bullmq_env(app: &TestApp) -> Vec<(&'static str, String)> {
    vec![
        ("REDIS_URL", app.env["REDIS_URL"].clone()),
        ("QUEUE_PREFIX", app.settings.queue.prefix.clone()),
        ("QUEUE_NAME", app.settings.queue.name.clone()),
        ("PROJECT_ID", app.project.id.to_string()),
    ]
}

fn node(args: &[&str], env: &[(&str, String)]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests-interop/bullmq.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(script).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    stdout_of(cmd, "node (scripts/test installs tests-interop)")
}

/// Runs `cmd`, asserts it succeeded, returns its trimmed standard output.
fn stdout_of(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what} runs: {e}"));
    assert!(
        out.status.success(),
        "{what} {:?} failed: {}",
        cmd.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_added_by_bullmq_queue_add_are_stored_by_our_worker() {
    let app = spawn_app().await;
    let env = bullmq_env(&app);
    let ids: Vec<String> = serde_json::from_str(
        &tokio::task::spawn_blocking(move || node(&["add", "4", "5"], &env))
            .await
            .expect("join"),
    )
    .expect("ids");
    assert_eq!(ids.len(), 20);
    assert_eq!(app.wait_for_count(20, Duration::from_secs(10)).await, 20);
    let (users,): (i64,) = sqlx::query_as("SELECT count(DISTINCT user_id) FROM activities WHERE project_id = $1 AND metadata->>'from' = 'bullmq'")
        .bind(app.project.id)
        .fetch_one(app.db.pool())
        .await
        .expect("q");
    assert_eq!(users, 20);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.queue.counts().await.expect("counts").completed, 4);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_enqueued_by_our_server_are_counted_and_processed_by_bullmq() {
    let server = spawn_app_with(Mode::Serve, |_| {}).await;
    for _ in 0..3 {
        assert_eq!(
            server
                .collect_events(&events(4, "page.view"))
                .await
                .status(),
            202
        );
    }
    let env = bullmq_env(&server);
    let env2 = env.clone();
    let counts: Value = serde_json::from_str(
        &tokio::task::spawn_blocking(move || node(&["counts"], &env))
            .await
            .expect("join"),
    )
    .expect("json");
    assert_eq!(counts["wait"], 3, "{counts}");
    assert_eq!(counts["active"], 0);
    let seen: Value = serde_json::from_str(
        &tokio::task::spawn_blocking(move || node(&["consume", "3"], &env2))
            .await
            .expect("join"),
    )
    .expect("json");
    let seen = seen.as_array().expect("array");
    assert_eq!(seen.len(), 3);
    for job in seen {
        assert_eq!(job["name"], "ingest");
        assert_eq!(job["data"]["project_id"], server.project.id.to_string());
        assert_eq!(job["data"]["events"].as_array().map(Vec::len), Some(4));
    }
    let q = queue_for(&server.settings).await;
    let c = q.counts().await.expect("counts");
    assert_eq!((c.waiting, c.active, c.completed), (0, 0, 3));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_merged_into_one_job_keep_each_senders_context() {
    let app = spawn_app().await;
    let mut handles = Vec::new();
    let mut expected = std::collections::HashMap::new();
    for i in 0..40 {
        let evs = events(2, "page.view");
        let ua = if i % 4 == 0 {
            format!("Googlebot/{i}")
        } else {
            format!("Mozilla/5.0 Browser/{i}")
        };
        for e in &evs {
            expected.insert(e["id"].as_str().unwrap_or("").to_string(), ua.clone());
        }
        let (client, url, key) = (
            app.client.clone(),
            format!("{}/collect", app.address),
            app.project.public_key.clone(),
        );
        handles.push(tokio::spawn(async move {
            client
                .post(url)
                .header("user-agent", ua)
                .body(json!({"key": key, "events": evs}).to_string())
                .send()
                .await
                .expect("req")
                .status()
        }));
    }
    for h in handles {
        assert_eq!(h.await.expect("join"), 202);
    }
    assert_eq!(app.wait_for_count(80, Duration::from_secs(10)).await, 80);
    let rows: Vec<(uuid::Uuid, Option<String>, bool)> =
        sqlx::query_as("SELECT event_id, user_agent, is_bot FROM activities WHERE project_id = $1")
            .bind(app.project.id)
            .fetch_all(app.db.pool())
            .await
            .expect("rows");
    for (id, ua, bot) in rows {
        let want = &expected[&id.to_string()];
        assert_eq!(ua.as_deref(), Some(want.as_str()));
        assert_eq!(bot, want.starts_with("Googlebot"), "{want}");
    }
    // How many jobs the 40 requests became depends on timing (the merge itself is unit-tested in
    // queue::enqueue); what must hold whatever the grouping is checked above.
    app.stop().await;
}

/// The `sightline` binary with the app's environment; its standard output.
fn sightline_cli(app: &TestApp, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sightline"));
    cmd.args(args).envs(&app.env);
    stdout_of(cmd, "sightline")
}

/// `sightline queue pause`: ingest goes on answering 202, the worker stores nothing until
/// `resume`, then everything exactly once, including jobs a BullMQ < 6 producer left in the
/// legacy `paused` list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_queue_accepts_stores_nothing_then_everything_once_on_resume() {
    let app = spawn_app().await;
    assert_eq!(sightline_cli(&app, &["queue", "pause"]), "paused");
    assert_eq!(sightline_cli(&app, &["queue", "pause"]), "already paused");
    assert!(app.queue.counts().await.expect("counts").paused);
    for _ in 0..5 {
        assert_eq!(
            app.collect_events(&events(10, "page.view")).await.status(),
            202
        );
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.stored_count().await, 0, "stored while paused");
    let held = app.queue.counts().await.expect("counts");
    assert!(held.waiting >= 1 && held.active == 0, "{held:?}");
    // What BullMQ 5's pause did: the waiting ids moved to the `paused` list; new ones then land
    // in wait again, so resume finds both lists.
    let mut conn = app.queue.conn();
    let _: () = redis::cmd("RENAME")
        .arg(app.queue.key("wait"))
        .arg(app.queue.key("paused"))
        .query_async(&mut conn)
        .await
        .expect("rename");
    assert_eq!(
        app.collect_events(&events(10, "page.view")).await.status(),
        202
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(app.stored_count().await, 0, "stored while paused");

    let status = sightline_cli(&app, &["queue", "status"]);
    assert!(status.starts_with("paused: wait 1 active 0 "), "{status}");
    assert_eq!(sightline_cli(&app, &["queue", "resume"]), "resumed");
    assert_eq!(sightline_cli(&app, &["queue", "resume"]), "was not paused");
    assert_eq!(app.wait_for_count(60, Duration::from_secs(10)).await, 60);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.stored_count().await, 60);
    assert_eq!(app.duplicate_event_ids().await, 0);
    let legacy: i64 = redis::cmd("LLEN")
        .arg(app.queue.key("paused"))
        .query_async(&mut conn)
        .await
        .expect("llen");
    assert_eq!(legacy, 0, "legacy paused list drained");
    let after = app.queue.counts().await.expect("counts");
    assert_eq!((after.waiting, after.active), (0, 0), "{after:?}");
    app.stop().await;
}

/// Pausing is one state for BullMQ 6 and for us: each side sees the other's pause, and a
/// resume from either side lets our worker store what was held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_interoperate_with_bullmq() {
    let app = spawn_app().await;
    let env = bullmq_env(&app);
    let run = |args: &'static [&'static str]| {
        let env = env.clone();
        tokio::task::spawn_blocking(move || node(args, &env))
    };

    // Ours pauses, BullMQ sees it and resumes.
    assert!(app.queue.pause().await.expect("pause"));
    assert_eq!(run(&["is-paused"]).await.expect("join"), "true");
    assert_eq!(
        app.collect_events(&events(8, "page.view")).await.status(),
        202
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(app.stored_count().await, 0, "stored while paused");
    run(&["resume"]).await.expect("join");
    assert_eq!(app.wait_for_count(8, Duration::from_secs(10)).await, 8);

    // BullMQ pauses, we see it, our worker holds off, ours resumes.
    run(&["pause"]).await.expect("join");
    assert!(app.queue.counts().await.expect("counts").paused);
    assert_eq!(
        app.collect_events(&events(8, "page.view")).await.status(),
        202
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(app.stored_count().await, 8, "stored while paused by BullMQ");
    assert!(app.queue.resume().await.expect("resume"));
    assert_eq!(run(&["is-paused"]).await.expect("join"), "false");
    assert_eq!(app.wait_for_count(16, Duration::from_secs(10)).await, 16);
    assert_eq!(app.duplicate_event_ids().await, 0);
    app.stop().await;
}

/// The enqueue task's own Redis socket (`queue/own_conn.rs`): it selects the database the URL
/// names, loads a script Redis does not know yet, and after Redis drops the connection fails at
/// most the call in flight, then reconnects.
#[tokio::test]
async fn own_redis_socket_selects_its_db_loads_scripts_and_reconnects() {
    use redis::{ConnectionAddr, IntoConnectionInfo};
    use sightline::queue::OwnConn;

    let info = crate::helpers::test_redis_url()
        .into_connection_info()
        .expect("TEST_REDIS_URL");
    let ConnectionAddr::Tcp(host, port) = info.addr else {
        panic!("the tests run Redis over TCP");
    };
    let url = format!("redis://{host}:{port}/5");
    let mut own = OwnConn::new(&url).expect("a single TCP Redis gets its own socket");
    let mut other = redis::Client::open(url.as_str())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let key = format!("own-conn-test:{}", uuid::Uuid::new_v4());

    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("stored")
        .arg("EX")
        .arg(60)
        .query_async(&mut own)
        .await
        .expect("SET");
    let seen: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut other)
        .await
        .expect("GET");
    assert_eq!(seen.as_deref(), Some("stored"), "written to database 5");

    // Pipelines read exactly their own replies, atomic (MULTI/EXEC) ones included.
    let (plain, atomic): ((String,), (String, i64)) = (
        redis::pipe()
            .cmd("GET")
            .arg(&key)
            .query_async(&mut own)
            .await
            .expect("pipeline"),
        redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(&key)
            .cmd("EXISTS")
            .arg(&key)
            .query_async(&mut own)
            .await
            .expect("atomic pipeline"),
    );
    assert_eq!(plain.0, "stored");
    assert_eq!(atomic, ("stored".to_string(), 1));

    // A script body nobody loaded: EVALSHA answers NOSCRIPT and the invocation loads it.
    let script = redis::Script::new(&format!("return ARGV[1] .. '{key}'"));
    let echoed: String = script
        .arg("x")
        .invoke_async(&mut own)
        .await
        .expect("script");
    assert_eq!(echoed, format!("x{key}"));

    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut own)
        .await
        .expect("CLIENT ID");
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query_async(&mut other)
        .await
        .expect("CLIENT KILL");
    let mut failures = 0;
    let value = loop {
        match redis::cmd("GET")
            .arg(&key)
            .query_async::<Option<String>>(&mut own)
            .await
        {
            Ok(v) => break v,
            Err(e) => {
                failures += 1;
                assert!(failures < 2, "still failing after a reconnect: {e}");
            }
        }
    };
    assert_eq!(
        value.as_deref(),
        Some("stored"),
        "reconnected to database 5"
    );
    let new_id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut own)
        .await
        .expect("CLIENT ID");
    assert_ne!(new_id, id, "a new connection");
}
