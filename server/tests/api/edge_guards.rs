//! What an anonymous client on the internet meets before any handler: body limits (413 before
//! the body is read), security headers on every response, the client IP behind trusted proxies
//! only, `/metrics` behind a token or on its own address, `/readyz` without error texts, the
//! GraphQL IDE off unless enabled (and then served from the server's own files).

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use sightline::app::Mode;

use crate::helpers::{spawn_app, spawn_app_with, TestApp, TestSql};

/// Sends `head` and then up to `body_bytes` of body, without waiting for the server to read
/// it, and returns what the server answered (status line, headers and body) and how many body
/// bytes it took before answering.
async fn raw_request(app: &TestApp, head: &str, body_bytes: usize) -> (String, usize) {
    let stream = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    wr.write_all(head.as_bytes()).await.expect("head");
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let writer = tokio::spawn(async move {
        let block = vec![b'x'; 16 * 1024];
        let mut sent = 0usize;
        while sent < body_bytes {
            let r = if chunked {
                let mut frame = format!("{:x}\r\n", block.len()).into_bytes();
                frame.extend_from_slice(&block);
                frame.extend_from_slice(b"\r\n");
                wr.write_all(&frame).await
            } else {
                wr.write_all(&block).await
            };
            if r.is_err() {
                break;
            }
            sent += block.len();
        }
        sent
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&answer);
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head.lines().find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        });
                        if len.is_some_and(|n| body.len() >= n) {
                            break;
                        }
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server answered within 10 s");
    writer.abort();
    let sent = writer.await.unwrap_or(usize::MAX);
    (String::from_utf8_lossy(&answer).into_owned(), sent)
}

fn body_json(answer: &str) -> Value {
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON body ({e}): {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_graphql_post_without_login_gets_413_before_its_body_is_read() {
    let app = spawn_app().await;
    // 64 MiB announced, 256 KiB actually sent: the answer comes without the rest.
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        64 << 20
    );
    let (answer, _) = raw_request(&app, &head, 256 << 10).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = body_json(&answer);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE",
        "{body}"
    );
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("1048576"));

    // Without a length (chunked), reading stops at the limit: 8 MiB offered, 413 all the same.
    let head = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (answer, _) = raw_request(&app, head, 8 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // The limit is a setting; the ingest endpoints keep theirs, in the contract's error shape;
    // routes that take no body accept 64 KiB.
    for (path, code) in [
        ("/collect", "too_large"),
        ("/api/v1/track", "too_large"),
        ("/healthz", "too_large"),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            8 << 20
        );
        let (answer, _) = raw_request(&app, &head, 64 << 10).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        let body = body_json(&answer);
        assert_eq!(body["code"], code, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    app.stop().await;

    // A smaller configured limit applies to /graphql; an ordinary query still passes.
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_GRAPHQL_MAX_BODY_BYTES".into(), "2048".into());
    })
    .await;
    let big = json!({"query": format!("{{ me {{ subject }} }} #{}", "x".repeat(4096))});
    let r = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&big)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 413);
    let r = app
        .graphql(Some(&app.admin_token), "{ me { subject } }", json!({}))
        .await;
    assert_eq!(r["data"]["me"]["subject"], "test-admin", "{r}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers_and_the_tracker_is_cross_origin() {
    let app = spawn_app_with(Mode::Serve, |_| {}).await;
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/dashboard/some/route"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("POST", "/graphql"),
        ("POST", "/collect"),
        ("GET", "/sightline.js"),
        ("GET", "/tracker/tracker_wasm_bg.wasm"),
    ] {
        let req = match method {
            "GET" => app.client.get(format!("{}{path}", app.address)),
            _ => app
                .client
                .post(format!("{}{path}", app.address))
                .header("content-type", "application/json")
                .body("{}"),
        };
        let r = req.send().await.expect("request");
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{path}: no CSP"));
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
        assert!(h.get("referrer-policy").is_some(), "{path}");
        assert_eq!(
            h.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..]),
            "{path}"
        );
        if path == "/sightline.js" || path.starts_with("/tracker/") {
            assert_eq!(
                h.get("access-control-allow-origin").map(|v| v.as_bytes()),
                Some(&b"*"[..]),
                "{path}"
            );
            assert_eq!(
                h.get("cross-origin-resource-policy").map(|v| v.as_bytes()),
                Some(&b"cross-origin"[..]),
                "{path}"
            );
        }
    }
    app.stop().await;
}

/// The stored `ip_address` of the event with this id, as text (`host()` of the inet).
async fn stored_ip(app: &TestApp, id: &str) -> Option<String> {
    for _ in 0..200 {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT host(ip_address) FROM activities WHERE event_id = $1::uuid")
                .bind(id)
                .fetch_optional(app.db.pool())
                .await
                .expect("query");
        if let Some((ip,)) = row {
            return ip;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("event {id} was not stored");
}

/// A beacon with one event, sent with `X-Forwarded-For: xff`; returns the event's id.
async fn beacon_via(app: &TestApp, xff: Option<&str>) -> String {
    let e = crate::helpers::event("page.view");
    let id = e["id"].as_str().expect("id").to_string();
    let mut req = app
        .client
        .post(format!("{}/collect", app.address))
        .header("content-type", "text/plain")
        .body(json!({"key": app.project.public_key, "events": [e]}).to_string());
    if let Some(v) = xff {
        req = req.header("x-forwarded-for", v);
    }
    assert_eq!(req.send().await.expect("beacon").status(), 202);
    id
}

async fn set_ip_storage(app: &TestApp, mode: &str) {
    let r = app
        .graphql(
            Some(&app.admin_token),
            &format!("mutation($id: ID!) {{ updateProject(id: $id, ipStorage: {mode}) {{ ipStorage }} }}"),
            json!({"id": app.project.id.to_string()}),
        )
        .await;
    assert_eq!(r["data"]["updateProject"]["ipStorage"], mode, "{r}");
    // The worker reads the setting anew within its cache's lifetime.
    tokio::time::sleep(Duration::from_secs(11)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_ip_is_the_rightmost_hop_not_ours_and_only_behind_our_proxies() {
    // The test client connects from 127.0.0.1: a trusted proxy here.
    let app = spawn_app_with(Mode::All, |env| {
        env.insert(
            "SIGHTLINE_TRUSTED_PROXIES".into(),
            "127.0.0.1/32, 10.0.0.0/8".into(),
        );
    })
    .await;
    set_ip_storage(&app, "FULL").await;
    // The client wrote 6.6.6.6 itself; our proxy 10.1.2.3 received it from 198.51.100.7.
    let id = beacon_via(&app, Some("6.6.6.6, 198.51.100.7, 10.1.2.3")).await;
    assert_eq!(stored_ip(&app, &id).await.as_deref(), Some("198.51.100.7"));
    let id = beacon_via(&app, None).await;
    assert_eq!(stored_ip(&app, &id).await.as_deref(), Some("127.0.0.1"));
    app.stop().await;

    // No trusted proxy: the header is ignored, whatever it says.
    let app = spawn_app().await;
    set_ip_storage(&app, "FULL").await;
    let id = beacon_via(&app, Some("6.6.6.6")).await;
    assert_eq!(stored_ip(&app, &id).await.as_deref(), Some("127.0.0.1"));
    app.stop().await;

    // A peer outside the trusted networks cannot pick its address either.
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_TRUSTED_PROXIES".into(), "10.0.0.0/8".into());
    })
    .await;
    set_ip_storage(&app, "FULL").await;
    let id = beacon_via(&app, Some("6.6.6.6, 10.1.2.3")).await;
    assert_eq!(stored_ip(&app, &id).await.as_deref(), Some("127.0.0.1"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ips_are_stored_truncated_by_default_full_or_none_per_project() {
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_TRUSTED_PROXIES".into(), "127.0.0.1".into());
    })
    .await;
    let r = app
        .graphql(
            Some(&app.admin_token),
            "{ projects { ipStorage } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["projects"][0]["ipStorage"], "TRUNCATED", "{r}");
    let v4 = beacon_via(&app, Some("203.0.113.77")).await;
    let v6 = beacon_via(&app, Some("2001:db8:abcd:1234::5")).await;
    assert_eq!(stored_ip(&app, &v4).await.as_deref(), Some("203.0.113.0"));
    assert_eq!(
        stored_ip(&app, &v6).await.as_deref(),
        Some("2001:db8:abcd::")
    );

    set_ip_storage(&app, "FULL").await;
    let v4 = beacon_via(&app, Some("203.0.113.77")).await;
    assert_eq!(stored_ip(&app, &v4).await.as_deref(), Some("203.0.113.77"));

    set_ip_storage(&app, "NONE").await;
    let v4 = beacon_via(&app, Some("203.0.113.77")).await;
    assert_eq!(stored_ip(&app, &v4).await, None);

    // Jobs from any BullMQ producer follow the same rule (their `ip` is the full address).
    set_ip_storage(&app, "TRUNCATED").await;
    let e = crate::helpers::event("page.view");
    let id = e["id"].as_str().expect("id").to_string();
    let job = json!({"project_id": app.project.id, "received_at": chrono::Utc::now().timestamp_millis(), "ip": "198.51.100.200", "events": [e]});
    app.queue
        .add_many(&[job.to_string()])
        .await
        .expect("add job");
    assert_eq!(stored_ip(&app, &id).await.as_deref(), Some("198.51.100.0"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_credentials_are_stripped_from_every_producer() {
    let app = spawn_app().await;
    let url = "https://shop.example/cb?code=SECRET1&state=SECRET2&plan=pro#access_token=SECRET3";
    let referrer = "https://idp.example/authorize?id_token=SECRET4&next=%2F";
    let mut tracked = crate::helpers::event("page.view");
    tracked["url"] = json!(url);
    tracked["referrer"] = json!(referrer);
    assert_eq!(
        app.track_with(&app.project.secret_key, &[tracked]).await,
        202
    );
    let mut queued = crate::helpers::event("page.view");
    queued["url"] = json!(url);
    queued["referrer"] = json!(referrer);
    let job = json!({"project_id": app.project.id, "received_at": chrono::Utc::now().timestamp_millis(), "events": [queued]});
    app.queue
        .add_many(&[job.to_string()])
        .await
        .expect("add job");
    assert_eq!(app.wait_for_count(2, Duration::from_secs(10)).await, 2);
    let rows: Vec<(Option<String>, Option<String>, Value)> =
        sqlx::query_as("SELECT path, referrer, metadata FROM activities WHERE project_id = $1")
            .bind(app.project.id)
            .fetch_all(app.db.pool())
            .await
            .expect("rows");
    assert_eq!(rows.len(), 2);
    for (path, referrer, metadata) in rows {
        let all = format!("{path:?} {referrer:?} {metadata}");
        assert!(!all.contains("SECRET"), "a credential was stored: {all}");
        assert_eq!(metadata["url"], "https://shop.example/cb?plan=pro", "{all}");
        assert_eq!(
            referrer.as_deref(),
            Some("https://idp.example/authorize?next=%2F"),
            "{all}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_require_a_token_or_live_on_their_own_address() {
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert(
            "SIGHTLINE_METRICS_TOKEN".into(),
            "metrics-token-0123456789".into(),
        );
    })
    .await;
    let url = format!("{}/metrics", app.address);
    let r = app.client.get(&url).send().await.expect("get");
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(&url)
        .bearer_auth("metrics-token-0123456789")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("text").contains("sightline_"));
    app.stop().await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_METRICS_BIND".into(), format!("127.0.0.1:{port}"));
    })
    .await;
    let r = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("get");
    assert_ne!(r.status(), 200, "not on the public listener");
    let r = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("text").contains("sightline_"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_unavailable_without_the_database_error_text() {
    let app = spawn_app_with(Mode::Serve, |_| {}).await;
    let r = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    // The database goes away under the running server.
    let name = app.env["DATABASE_URL"]
        .rsplit('/')
        .next()
        .expect("a name")
        .to_string();
    let admin = sqlx::PgPool::connect(&crate::helpers::test_database_url())
        .await
        .expect("admin");
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("drop");
    let r = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["postgres"], "unavailable", "{body}");
    let text = body.to_string();
    for leak in [name.as_str(), "does not exist", "postgres://", "error"] {
        assert!(!text.contains(leak), "{leak:?} in {text}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ide_and_introspection_are_off_unless_enabled_and_use_no_cdn() {
    let introspect = "{ __schema { queryType { name } } }";
    let app = spawn_app_with(Mode::Serve, |_| {}).await;
    let ide = |app: &TestApp| {
        app.client
            .get(format!("{}/graphql", app.address))
            .header("accept", "text/html")
            .send()
    };
    assert_eq!(ide(&app).await.expect("get").status(), 404);
    let r = app
        .graphql(Some(&app.admin_token), introspect, json!({}))
        .await;
    // No schema is given away (async-graphql answers null, as if there were none).
    assert!(r["data"]["__schema"].is_null(), "{r}");
    assert!(!r.to_string().contains("QueryRoot"), "{r}");
    app.stop().await;

    let app = spawn_app_with(Mode::Serve, |env| {
        env.insert("SIGHTLINE_GRAPHIQL".into(), "true".into());
    })
    .await;
    let r = ide(&app).await.expect("get");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    assert!(html.contains("src=\"/graphql/ide/ide.js\""), "{html}");
    for cdn in ["unpkg", "jsdelivr", "cdn", "https://"] {
        assert!(!html.contains(cdn), "{cdn} in the IDE page");
    }
    let js = app
        .client
        .get(format!("{}/graphql/ide/ide.js", app.address))
        .send()
        .await
        .expect("get");
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/javascript"));
    let r = app
        .graphql(Some(&app.admin_token), introspect, json!({}))
        .await;
    assert_eq!(
        r["data"]["__schema"]["queryType"]["name"], "QueryRoot",
        "{r}"
    );
    app.stop().await;

    // Production refuses to start with it on.
    let mut env = crate::helpers::base_env("postgres://u@127.0.0.1/db");
    env.insert("SIGHTLINE_ENV".into(), "production".into());
    env.insert("SIGHTLINE_GRAPHIQL".into(), "true".into());
    let err = sightline::config::Settings::from_map(&env).expect_err("refused");
    assert!(err.to_string().contains("SIGHTLINE_GRAPHIQL"), "{err}");
}

#[tokio::test]
async fn an_invalid_database_url_is_never_printed_with_its_password() {
    for url in [
        "postgres://app:hunter2-pw@127.0.0.1:1/sightline",
        "postgres://app:hunter2-pw@db.invalid:notaport/sightline",
        "postgres://app:hunter2-pw@/",
    ] {
        let mut cmd = crate::helpers::sightline_cli();
        cmd.env_clear()
            .env("DATABASE_URL", url)
            .env("REDIS_URL", "redis://127.0.0.1:1")
            .env("SIGHTLINE_JWT_SECRET", crate::helpers::JWT_SECRET)
            .arg("migrate");
        let out = cmd.output().await.expect("runs");
        assert!(!out.status.success(), "{url}: cannot succeed");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains("hunter2"),
            "{url}: the password was printed: {all}"
        );
        assert!(!all.trim().is_empty(), "{url}: an error is told");
    }
}
