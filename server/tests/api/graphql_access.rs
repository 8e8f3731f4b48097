//! GraphQL auth, tenant isolation and administration: every query, mutation and subscription
//! with a token for project A against project B answers FORBIDDEN; roles see only what they may;
//! login, project and account administration, server-side tracking, the dead-letter queue and
//! the GDPR purge work end to end. Subscriptions go through the real `graphql-ws` npm client.

use std::process::Stdio;
use std::time::Duration;

use chrono::{Duration as Span, Utc};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

use sightline::app::Mode;
use sightline::auth::Role;

use crate::helpers::{
    code, create_project, event, events, spawn_app, spawn_app_with, token, TestApp, TestSql,
};

const RANGE_QUERIES: &[&str] = &[
    "eventCount(projectId: $p)",
    "overview(projectId: $p, range: $r) { events }",
    "timeseries(projectId: $p, range: $r) { t }",
    "activeUsers(projectId: $p) { dau }",
    "eventCounts(projectId: $p, range: $r, groupBy: PATH) { key }",
    "topPages(projectId: $p, range: $r) { key }",
    "topElements(projectId: $p, range: $r) { key }",
    "scrollDepth(projectId: $p, range: $r) { path }",
    "funnel(projectId: $p, range: $r, steps: [{eventType: \"page.view\"}]) { steps { users } }",
    "retention(projectId: $p, range: $r) { size }",
    "user(projectId: $p, id: \"u-1\") { id }",
    "community(projectId: $p, id: \"c-1\") { id }",
    "events(projectId: $p, range: $r) { pageInfo { hasNextPage } }",
];

/// Runs `tests-interop/live.mjs` (the real graphql-ws client) and returns its output lines as
/// they come.
struct LiveClient {
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
}

impl LiveClient {
    fn start(
        app: &TestApp,
        token: Option<&str>,
        query: &str,
        variables: Value,
        count: usize,
    ) -> Self {
        Self::start_with(app, token, query, variables, count, 8000, 0)
    }

    /// `pause_ms` > 0: the client stops reading its socket for that long after connecting;
    /// < 0: until [`LiveClient::resume`].
    fn start_with(
        app: &TestApp,
        token: Option<&str>,
        query: &str,
        variables: Value,
        count: usize,
        timeout_ms: u64,
        pause_ms: i64,
    ) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests-interop/live.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(format!("ws://127.0.0.1:{}/graphql/ws", app.port))
            .arg(token.unwrap_or("-"))
            .arg(query)
            .arg(variables.to_string())
            .arg(count.to_string())
            .arg(timeout_ms.to_string())
            .arg(pause_ms.to_string())
            .stdout(Stdio::piped())
            .stdin(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (scripts/test installs tests-interop)");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut r = BufReader::new(stdout).lines();
            while let Ok(Some(l)) = r.next_line().await {
                let _ = tx.send(l);
            }
        });
        Self {
            lines,
            child,
            stdin,
        }
    }

    /// The client's exit status: 0 after its `count` messages, 2 after an error, 3 on timeout.
    async fn exit_code(mut self) -> Option<i32> {
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|s| s.code())
    }

    /// Lets a client started with a negative `pause_ms` read its socket again.
    async fn resume(&mut self) {
        use tokio::io::AsyncWriteExt;
        self.stdin
            .write_all(b"resume\n")
            .await
            .expect("client stdin");
    }

    async fn next(&mut self, within: Duration) -> Option<String> {
        tokio::time::timeout(within, self.lines.recv())
            .await
            .ok()
            .flatten()
    }

    async fn ready(&mut self) {
        assert_eq!(
            self.next(Duration::from_secs(10)).await.as_deref(),
            Some("READY")
        );
        // Let the subscription reach the hub and Redis.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_project_a_is_forbidden_everywhere_on_project_b() {
    let app = spawn_app().await;
    let a = app.project.id;
    let (b, _) = create_project(&app.db, "other tenant").await;
    let analyst_a = token(&app, Role::Analyst, Some(&[a]));
    let admin_a = token(&app, Role::Admin, Some(&[a]));
    let service_a = token(&app, Role::Service, Some(&[a]));
    let now = Utc::now();
    let vars = json!({"p": b.id.to_string(), "r": {"from": (now - Span::days(1)).to_rfc3339(), "to": now.to_rfc3339()}});

    for field in RANGE_QUERIES {
        let q = format!("query($p: ID!, $r: TimeRange!) {{ {field} }}");
        let vars = if field.contains("$r") {
            vars.clone()
        } else {
            json!({"p": vars["p"]})
        };
        let q = if field.contains("$r") {
            q
        } else {
            q.replace(", $r: TimeRange!", "")
        };
        for t in [&analyst_a, &admin_a] {
            let r = app.graphql(Some(t), &q, vars.clone()).await;
            assert_eq!(code(&r), "FORBIDDEN", "{field}: {r}");
        }
        // The same field on the caller's own project is allowed.
        let own = json!({"p": a.to_string(), "r": vars.get("r").cloned().unwrap_or(Value::Null)});
        let own = if field.contains("$r") {
            own
        } else {
            json!({"p": a.to_string()})
        };
        let r = app.graphql(Some(&analyst_a), &q, own).await;
        assert!(r["errors"].is_null(), "{field} on own project: {r}");
    }

    let pb = b.id.to_string();
    for (t, m) in [
        (&admin_a, format!("mutation {{ updateProject(id: \"{pb}\", name: \"x\") {{ id }} }}")),
        (&admin_a, format!("mutation {{ rotateKeys(id: \"{pb}\") {{ publicKey }} }}")),
        (&admin_a, format!("mutation {{ purgeUser(projectId: \"{pb}\", userId: \"u-1\") {{ events }} }}")),
        (&admin_a, format!("mutation {{ createAccount(email: \"x@b.example\", password: \"long-enough-pass\", role: ANALYST, projectIds: [\"{pb}\"]) {{ id }} }}")),
        (&admin_a, "mutation { createProject(name: \"sneaky\") { publicKey } }".to_string()),
        (&admin_a, "mutation { retryDeadLetters }".to_string()),
        (&admin_a, "mutation { discardDeadLetters }".to_string()),
        (&admin_a, format!("mutation {{ setAccountRole(id: \"{}\", role: VIEWER, projectIds: [\"{pb}\"]) {{ id }} }}", Uuid::new_v4())),
        (&admin_a, "query { deadLetters { id } }".to_string()),
        (&admin_a, "mutation { pauseQueue }".to_string()),
        (&admin_a, "mutation { resumeQueue }".to_string()),
        (&admin_a, "query { queueState { paused } }".to_string()),
        (&admin_a, "query { accounts { id } }".to_string()),
        (&service_a, format!("mutation {{ trackEvents(projectId: \"{pb}\", events: [{{id: \"{}\", type: \"x.y\", ts: 1}}]) {{ accepted }} }}", Uuid::new_v4())),
        (&analyst_a, format!("mutation {{ trackEvents(projectId: \"{}\", events: []) {{ accepted }} }}", a)),
    ] {
        let r = app.graphql(Some(t), &m, json!({})).await;
        assert_eq!(code(&r), "FORBIDDEN", "{m}: {r}");
    }

    // The project list shows only the caller's projects.
    let r = app
        .graphql(Some(&analyst_a), "{ projects { id } }", json!({}))
        .await;
    assert_eq!(r["data"]["projects"], json!([{"id": a.to_string()}]));

    // Subscriptions: refused for the foreign project, through the real graphql-ws client.
    for sub in [
        "subscription($p: ID!) { liveEvents(projectId: $p) { lagged } }",
        "subscription($p: ID!) { liveStats(projectId: $p) { events } }",
    ] {
        let mut c = LiveClient::start(&app, Some(&analyst_a), sub, json!({"p": pb}), 1);
        c.ready().await;
        let line = c.next(Duration::from_secs(5)).await.unwrap_or_default();
        assert!(line.contains("FORBIDDEN"), "{sub}: {line}");
        assert_eq!(c.exit_code().await, Some(2), "the client exits as failed");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_see_only_what_they_may_and_tokens_are_checked() {
    let app = spawn_app().await;
    let a = app.project.id.to_string();
    let viewer = token(&app, Role::Viewer, Some(&[app.project.id]));
    let now = Utc::now();
    let vars =
        json!({"p": a, "r": {"from": (now - Span::days(1)).to_rfc3339(), "to": now.to_rfc3339()}});
    let r = app
        .graphql(
            Some(&viewer),
            "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events } }",
            vars.clone(),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    for q in [
        "query($p: ID!, $r: TimeRange!) { events(projectId: $p, range: $r) { pageInfo { hasNextPage } } }",
        "query($p: ID!) { user(projectId: $p, id: \"u-1\") { id } }",
        "mutation($p: ID!) { updateProject(id: $p, name: \"x\") { id } }",
    ] {
        let v = if q.contains("$r") { vars.clone() } else { json!({"p": a}) };
        let r = app.graphql(Some(&viewer), q, v).await;
        assert_eq!(code(&r), "FORBIDDEN", "{q}: {r}");
    }
    // No token, a garbage token: UNAUTHENTICATED.
    let q = "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events } }";
    assert_eq!(
        code(&app.graphql(None, q, vars.clone()).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.graphql(Some("not.a.jwt"), q, vars.clone()).await),
        "UNAUTHENTICATED"
    );
    // A viewer cannot open the raw live feed (but may see live stats).
    let mut c = LiveClient::start(
        &app,
        Some(&viewer),
        "subscription($p: ID!) { liveEvents(projectId: $p) { lagged } }",
        json!({"p": a}),
        1,
    );
    c.ready().await;
    assert!(c
        .next(Duration::from_secs(5))
        .await
        .unwrap_or_default()
        .contains("FORBIDDEN"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_feed_and_stats_reach_a_graphql_ws_client_within_two_seconds() {
    let app = spawn_app().await;
    let analyst = token(&app, Role::Analyst, Some(&[app.project.id]));
    let p = app.project.id.to_string();
    let mut feed = LiveClient::start(
        &app,
        Some(&analyst),
        "subscription($p: ID!) { liveEvents(projectId: $p, filter: {eventTypes: [\"element.click\"]}) { lagged event { id type path } } }",
        json!({"p": p}),
        2,
    );
    let mut stats = LiveClient::start(
        &app,
        Some(&analyst),
        "subscription($p: ID!) { liveStats(projectId: $p) { events byType { key count } } }",
        json!({"p": p}),
        5,
    );
    feed.ready().await;
    stats.ready().await;
    let click = event("element.click");
    let view = event("page.view");
    let sent = std::time::Instant::now();
    assert_eq!(
        app.collect_events(&[view.clone(), click.clone()])
            .await
            .status(),
        202
    );
    let line = feed
        .next(Duration::from_secs(2))
        .await
        .expect("a live event within 2 s");
    assert!(sent.elapsed() < Duration::from_secs(2));
    let msg: Value = serde_json::from_str(&line).expect("json");
    assert_eq!(
        msg["data"]["liveEvents"]["event"]["id"], click["id"],
        "filtered to clicks: {msg}"
    );
    assert_eq!(msg["data"]["liveEvents"]["event"]["path"], "/pricing");
    assert_eq!(msg["data"]["liveEvents"]["lagged"], 0);
    // liveStats: one message a second; within a few, one counts both events.
    let mut counted = false;
    for _ in 0..5 {
        let Some(l) = stats.next(Duration::from_secs(3)).await else {
            break;
        };
        let v: Value = serde_json::from_str(&l).unwrap_or(Value::Null);
        if v["data"]["liveStats"]["events"] == 2 {
            counted = true;
            break;
        }
    }
    assert!(counted, "liveStats counted the two events");
    // Without a token the connection is accepted but the subscription is refused.
    let mut anon = LiveClient::start(
        &app,
        None,
        "subscription($p: ID!) { liveStats(projectId: $p) { events } }",
        json!({"p": p}),
        1,
    );
    anon.ready().await;
    assert!(anon
        .next(Duration::from_secs(5))
        .await
        .unwrap_or_default()
        .contains("UNAUTHENTICATED"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_live_feed_sends_what_the_same_filter_finds_in_stored_events() {
    let app = spawn_app().await;
    let analyst = token(&app, Role::Analyst, Some(&[app.project.id]));
    let p = app.project.id.to_string();
    let filter = json!({"path": "/pricing", "props": {"plan": "pro", "tags": ["b"]}});
    let mut feed = LiveClient::start(
        &app,
        Some(&analyst),
        "subscription($p: ID!, $f: LiveFilter) { liveEvents(projectId: $p, filter: $f) { event { id } } }",
        json!({"p": p, "f": filter}),
        2,
    );
    feed.ready().await;
    let with = |url: &str, props: Value| {
        let mut e = event("element.click");
        e["url"] = json!(url);
        e["props"] = props;
        e
    };
    let batch = vec![
        with(
            "https://shop.example/pricing",
            json!({"plan": "pro", "tags": ["a", "b"], "n": 1}),
        ),
        with(
            "https://shop.example/pricing",
            json!({"plan": "free", "tags": ["b"]}),
        ),
        with(
            "https://shop.example/about",
            json!({"plan": "pro", "tags": ["b"]}),
        ),
        with(
            "https://shop.example/pricing",
            json!({"plan": "pro", "tags": "b"}),
        ),
        with("https://shop.example/pricing", json!({"plan": "pro"})),
        with(
            "https://shop.example/pricing?x=1",
            json!({"tags": ["b", "c"], "plan": "pro"}),
        ),
    ];
    assert_eq!(app.collect_events(&batch).await.status(), 202);
    let mut live = Vec::new();
    while let Some(line) = feed.next(Duration::from_secs(5)).await {
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        match v["data"]["liveEvents"]["event"]["id"].as_str() {
            Some(id) => live.push(id.to_string()),
            None => break,
        }
    }
    let wanted = vec![batch[0]["id"].clone(), batch[5]["id"].clone()];
    assert_eq!(live, wanted, "only the two matching events, in order");
    assert_eq!(feed.exit_code().await, Some(0), "its 2 messages, no error");

    // The stored rows answer the same filter with the same events.
    app.wait_for_count(batch.len() as i64, Duration::from_secs(10))
        .await;
    let now = Utc::now();
    let r = app
        .graphql(
            Some(&analyst),
            "query($p: ID!, $r: TimeRange!, $f: EventFilter) { events(projectId: $p, range: $r, filter: $f) { edges { node { id } } } }",
            json!({"p": p, "r": {"from": (now - Span::hours(1)).to_rfc3339(), "to": (now + Span::hours(1)).to_rfc3339()}, "f": filter}),
        )
        .await;
    let mut stored: Vec<Value> = r["data"]["events"]["edges"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|e| e["node"]["id"].clone())
        .collect();
    stored.sort_by_key(|v| v.to_string());
    let mut wanted_sorted = wanted.clone();
    wanted_sorted.sort_by_key(|v| v.to_string());
    assert_eq!(stored, wanted_sorted, "{r}");

    // A filter the stored-events query refuses, the live feed refuses too, with the same code.
    let mut bad = LiveClient::start(
        &app,
        Some(&analyst),
        "subscription($p: ID!) { liveEvents(projectId: $p, filter: {props: [\"plan\"]}) { event { id } } }",
        json!({"p": p}),
        1,
    );
    bad.ready().await;
    let line = bad.next(Duration::from_secs(5)).await.unwrap_or_default();
    assert!(line.contains("BAD_USER_INPUT"), "{line}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_projects_accounts_tracking_dead_letters_purges_and_the_queue() {
    let app = spawn_app().await;
    let admin = app.admin_token.clone();
    // createProject returns keys that work, and a snippet.
    let r = app
        .graphql(Some(&admin), "mutation { createProject(name: \"shop\", allowedOrigins: [\"https://shop.example\"]) { project { id snippet(host: \"https://sl.example\") allowedOrigins } publicKey secretKey } }", json!({}))
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let created = &r["data"]["createProject"];
    let key = created["publicKey"].as_str().expect("key").to_string();
    assert_eq!(
        created["project"]["snippet"],
        format!(
            "<script async src=\"https://sl.example/sightline.js\" data-key=\"{key}\"></script>"
        )
    );
    let resp = app
        .collect(&json!({"key": key, "events": [event("page.view")]}))
        .await;
    assert_eq!(resp.status(), 202);
    let pid = created["project"]["id"].as_str().expect("id").to_string();
    let r = app.graphql(Some(&admin), "mutation($p: ID!) { updateProject(id: $p, allowedOrigins: [\"https://b.example\"], retentionDays: 30) { allowedOrigins retentionDays } }", json!({"p": pid})).await;
    assert_eq!(
        r["data"]["updateProject"],
        json!({"allowedOrigins": ["https://b.example"], "retentionDays": 30}),
        "{r}"
    );
    let r = app
        .graphql(
            Some(&admin),
            "mutation($p: ID!) { rotateKeys(id: $p) { publicKey } }",
            json!({"p": pid}),
        )
        .await;
    assert_ne!(
        r["data"]["rotateKeys"]["publicKey"].as_str(),
        Some(key.as_str()),
        "{r}"
    );

    // Accounts: create an analyst, log in as them, wrong passwords refused.
    let p = app.project.id.to_string();
    let r = app
        .graphql(Some(&admin), "mutation($p: ID!) { createAccount(email: \"Ana@Example.com\", password: \"correct horse battery\", role: ANALYST, projectIds: [$p]) { id email role } }", json!({"p": p}))
        .await;
    assert_eq!(r["data"]["createAccount"]["role"], "analyst", "{r}");
    let r = app.graphql(None, "mutation { login(email: \"ana@example.com\", password: \"correct horse battery\") { token role expiresAt } }", json!({})).await;
    let analyst = r["data"]["login"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let me = app
        .graphql(Some(&analyst), "{ me { role projects } }", json!({}))
        .await;
    assert_eq!(
        me["data"]["me"],
        json!({"role": "analyst", "projects": [p]})
    );
    let r = app
        .graphql(
            None,
            "mutation { login(email: \"ana@example.com\", password: \"wrong\") { token } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), "UNAUTHENTICATED");
    let r = app
        .graphql(
            None,
            "mutation { login(email: \"nobody@example.com\", password: \"whatever\") { token } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), "UNAUTHENTICATED");
    let r = app.graphql(Some(&admin), "mutation { createAccount(email: \"short@example.com\", password: \"short\", role: ADMIN) { id } }", json!({})).await;
    assert_eq!(code(&r), "BAD_USER_INPUT");

    // trackEvents with a service token stores events like /api/v1/track.
    let service = token(&app, Role::Service, Some(&[app.project.id]));
    let mut evs: Vec<Value> = Vec::new();
    for i in 0..4 {
        let mut e = event("page.view");
        e["user_id"] = json!(if i < 3 { "gone" } else { "stays" });
        evs.push(e);
    }
    let r = app
        .graphql(Some(&service), "mutation($p: ID!, $e: [JSON!]!) { trackEvents(projectId: $p, events: $e) { accepted rejected { index reason } } }", json!({"p": p, "e": [evs[0], evs[1], evs[2], evs[3], {"type": "bad"}]}))
        .await;
    assert_eq!(r["data"]["trackEvents"]["accepted"], 4, "{r}");
    assert_eq!(r["data"]["trackEvents"]["rejected"][0]["index"], 4);
    assert_eq!(app.wait_for_count(4, Duration::from_secs(10)).await, 4);

    // purgeUser: the user's events and their share of the aggregates are gone.
    let now = Utc::now();
    let hour = now - Span::seconds(now.timestamp() % 3600);
    let vars = json!({"p": p, "r": {"from": (hour - Span::hours(2)).to_rfc3339(), "to": (hour + Span::hours(2)).to_rfc3339()}});
    let q = "query($p: ID!, $r: TimeRange!) { overview(projectId: $p, range: $r) { events pageViews uniqueUsers sessions } }";
    let before = app.graphql(Some(&admin), q, vars.clone()).await;
    assert_eq!(before["data"]["overview"]["events"], 4, "{before}");
    let r = app
        .graphql(
            Some(&admin),
            "mutation($p: ID!) { purgeUser(projectId: $p, userId: \"gone\") { events users } }",
            json!({"p": p}),
        )
        .await;
    assert_eq!(
        r["data"]["purgeUser"],
        json!({"events": 3, "users": 1}),
        "{r}"
    );
    let after = app.graphql(Some(&admin), q, vars).await;
    assert_eq!(
        after["data"]["overview"],
        json!({"events": 1, "pageViews": 1, "uniqueUsers": 1, "sessions": 1}),
        "{after}"
    );
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM activities WHERE user_id = 'gone'")
        .fetch_one(app.db.pool())
        .await
        .expect("q");
    assert_eq!(left, 0);

    // Dead letters: a job the worker cannot store ends in the failed set, listed, then discarded.
    app.queue
        .add_many(&[
            json!({"project_id": "not-a-uuid", "received_at": 0, "events": []}).to_string(),
        ])
        .await
        .expect("add");
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = app
            .graphql(
                Some(&admin),
                "{ deadLetters { id reason data } }",
                json!({}),
            )
            .await;
        if listed["data"]["deadLetters"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        listed["data"]["deadLetters"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    let r = app
        .graphql(Some(&admin), "mutation { discardDeadLetters }", json!({}))
        .await;
    assert_eq!(r["data"]["discardDeadLetters"], 1, "{r}");
    let r = app
        .graphql(Some(&admin), "{ deadLetters { id } }", json!({}))
        .await;
    assert_eq!(r["data"]["deadLetters"], json!([]));

    // Queue pause: beacons still accepted, nothing stored until resumed, then all of them.
    let stored = app.stored_count().await;
    let r = app
        .graphql(Some(&admin), "mutation { pauseQueue }", json!({}))
        .await;
    assert_eq!(r["data"]["pauseQueue"], true, "{r}");
    assert_eq!(
        app.collect_events(&events(6, "page.view")).await.status(),
        202
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let r = app
        .graphql(
            Some(&admin),
            "{ queueState { paused waiting active failed } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"]["queueState"],
        json!({"paused": true, "waiting": 1, "active": 0, "failed": 0}),
        "{r}"
    );
    assert_eq!(app.stored_count().await, stored, "stored while paused");
    let r = app
        .graphql(Some(&admin), "mutation { resumeQueue }", json!({}))
        .await;
    assert_eq!(r["data"]["resumeQueue"], true, "{r}");
    assert_eq!(
        app.wait_for_count(stored + 6, Duration::from_secs(10))
            .await,
        stored + 6
    );
    app.stop().await;
}

/// A subscriber that stops reading must not hold up anyone: its server-side buffer is bounded,
/// it skips ahead, and the next event it gets says how many it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_gets_a_lag_notice_and_never_stalls_others() {
    // A small per-project buffer (16 messages of at most 64 events) so a test-sized load
    // overflows it, and one job per write so commits stay smaller than that buffer.
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_LIVE_BUFFER".into(), "16".into());
        env.insert("SIGHTLINE_WORKER_BATCH_JOBS".into(), "1".into());
    })
    .await;
    let analyst = token(&app, Role::Analyst, Some(&[app.project.id]));
    let p = app.project.id.to_string();
    // Big events (about 7.5 KB of props each) and enough of them (75 MB) to fill the paused
    // client's socket buffers (Linux autotunes loopback receive buffers up to 32 MB here) and
    // then the server's bounded per-subscriber buffer.
    let sub = "subscription($p: ID!) { liveEvents(projectId: $p) { lagged event { id props } } }";
    const TOTAL: usize = 10_000;
    let mut slow = LiveClient::start_with(
        &app,
        Some(&analyst),
        sub,
        json!({"p": p}),
        TOTAL + 1,
        120_000,
        -1,
    );
    let mut fast =
        LiveClient::start_with(&app, Some(&analyst), sub, json!({"p": p}), TOTAL, 90_000, 0);
    slow.ready().await;
    fast.ready().await;
    let blob = "x".repeat(7500);
    for chunk in 0..TOTAL / 100 {
        let batch: Vec<Value> = (0..100)
            .map(|i| {
                let mut e = event("element.click");
                e["props"] = json!({ "blob": blob, "n": chunk * 100 + i });
                e
            })
            .collect();
        let r = app
            .client
            .post(format!("{}/api/v1/track", app.address))
            .bearer_auth(&app.project.secret_key)
            .json(&json!({ "events": batch }))
            .send()
            .await
            .expect("track");
        assert_eq!(r.status(), 202);
    }
    // The fast subscriber sees every event while the slow one is still paused...
    let mut seen = 0;
    while seen < TOTAL {
        let Some(line) = fast.next(Duration::from_secs(10)).await else {
            break;
        };
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["data"]["liveEvents"]["event"]["id"].is_string() {
            seen += 1;
        }
    }
    // ...all of them while the slow one has not read a byte since READY: it stalled no one.
    assert_eq!(seen, TOTAL, "the fast subscriber got every event");
    slow.resume().await;
    // Once it reads again, the slow one is told what it missed, and gets fewer than all.
    let mut lagged = 0;
    let mut got = 0;
    let mut before_resume = None;
    while let Some(line) = slow.next(Duration::from_secs(20)).await {
        if line == "RESUMED" {
            before_resume = Some(got);
            continue;
        }
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v.get("timeout").is_some() {
            break;
        }
        got += 1;
        lagged += v["data"]["liveEvents"]["lagged"].as_i64().unwrap_or(0);
        if got + lagged as usize >= TOTAL {
            break;
        }
    }
    assert!(
        lagged > 0,
        "the slow subscriber got a lag notice (got {got} events, {before_resume:?} before resuming)"
    );
    assert_eq!(
        got + lagged as usize,
        TOTAL,
        "received + reported missed = published"
    );
}

/// Query depth and complexity are bounded before anything runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_deep_or_too_complex_queries_are_refused() {
    // Introspection on: its types nest deeply enough to show the depth limit.
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_GRAPHIQL".into(), "true".into());
    })
    .await;
    let admin = token(&app, Role::Admin, Some(&[app.project.id]));
    // __schema > types > fields > type > ofType x 10 > name: depth 15.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(10),
        "} ".repeat(10)
    );
    let r = app.graphql(Some(&admin), &deep, json!({})).await;
    let msg = r["errors"][0]["message"].as_str().unwrap_or("");
    assert!(msg.contains("too deep"), "{r}");
    assert!(r["data"].is_null(), "{r}");

    // 1,050 x (me + subject) = complexity 2,100 (introspection fields do not count).
    let wide: Vec<String> = (0..1050)
        .map(|i| format!("a{i}: me {{ subject }}"))
        .collect();
    let r = app
        .graphql(
            Some(&admin),
            &format!("{{ {} }}", wide.join(" ")),
            json!({}),
        )
        .await;
    let msg = r["errors"][0]["message"].as_str().unwrap_or("");
    assert!(msg.contains("too complex"), "{r}");
    app.stop().await;
}
