//! The ingest contract: status codes, validation and hygiene, CORS, limits.

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{event, events, spawn_app, spawn_app_with, TestSql, ALLOWED_ORIGIN};
use sightline::app::Mode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_text_plain_and_gzip_bodies_are_accepted() {
    let app = spawn_app().await;
    let body = json!({"key": app.project.public_key, "events": events(2, "page.view")});
    let r = app
        .client
        .post(format!("{}/collect", app.address))
        .json(&body)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    assert_eq!(
        app.collect(&json!({"key": app.project.public_key, "events": events(2, "page.view")}))
            .await
            .status(),
        202
    );

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(
        json!({"key": app.project.public_key, "events": events(2, "page.view")})
            .to_string()
            .as_bytes(),
    )
    .expect("gzip");
    let r = app
        .client
        .post(format!("{}/collect", app.address))
        .header("content-type", "text/plain")
        .header("content-encoding", "gzip")
        .body(gz.finish().expect("gzip"))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    // The key may also come in the query string.
    let r = app
        .client
        .post(format!(
            "{}/collect?key={}",
            app.address, app.project.public_key
        ))
        .body(json!({"events": events(1, "page.view")}).to_string())
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    assert_eq!(app.wait_for_count(7, Duration::from_secs(10)).await, 7);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_are_checked_against_the_project_list() {
    let app = spawn_app().await;
    let pre = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/collect", app.address))
        .header("origin", ALLOWED_ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("req");
    assert!(pre.status().is_success());
    assert_eq!(pre.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);

    let body = json!({"key": app.project.public_key, "events": events(1, "page.view")}).to_string();
    let ok = app
        .client
        .post(format!("{}/collect", app.address))
        .header("origin", ALLOWED_ORIGIN)
        .body(body.clone())
        .send()
        .await
        .expect("req");
    assert_eq!(ok.status(), 202);
    assert_eq!(ok.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);

    let bad = app
        .client
        .post(format!("{}/collect", app.address))
        .header("origin", "http://evil.example")
        .body(body)
        .send()
        .await
        .expect("req");
    assert_eq!(bad.status(), 403);
    assert!(bad.headers().get("access-control-allow-origin").is_none());
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("req")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("sightline_ingest_origin_refused_total"),
        "refused origins are counted"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let app = spawn_app().await;
    assert_eq!(
        app.collect_events(&events(2, "page.view")).await.status(),
        202
    );
    assert_eq!(app.wait_for_count(2, Duration::from_secs(10)).await, 2);
    let url = format!("{}/collect", app.address);
    let key = app.project.public_key.clone();
    let post = |body: Vec<u8>| {
        let (c, u) = (app.client.clone(), url.clone());
        async move {
            c.post(u)
                .header("content-type", "text/plain")
                .body(body)
                .send()
                .await
                .expect("req")
        }
    };

    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("invalid JSON", b"{\"key\": ".to_vec(), 400),
        (
            "invalid UTF-8",
            [
                b"{\"key\":\"".as_slice(),
                &[0xff, 0xfe],
                b"\",\"events\":[]}",
            ]
            .concat(),
            400,
        ),
        (
            "events not an array",
            json!({"key": key, "events": "x"}).to_string().into_bytes(),
            400,
        ),
        (
            "unknown top-level key",
            json!({"key": key, "events": [event("page.view")], "admin": true})
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "empty batch",
            json!({"key": key, "events": []}).to_string().into_bytes(),
            400,
        ),
        (
            "unknown key",
            json!({"key": "pk_nope", "events": [event("page.view")]})
                .to_string()
                .into_bytes(),
            401,
        ),
        (
            "missing key",
            json!({"events": [event("page.view")]})
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "all events invalid",
            json!({"key": key, "events": [{"id": "x", "type": "Bad Type", "ts": 1}]})
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "wrong types",
            json!({"key": key, "events": [{"id": 5, "type": ["a"], "ts": "soon"}]})
                .to_string()
                .into_bytes(),
            400,
        ),
    ];
    for (what, body, status) in cases {
        let r = post(body).await;
        assert_eq!(r.status().as_u16(), status, "{what}");
        let v: Value = r
            .json()
            .await
            .unwrap_or_else(|_| panic!("{what}: JSON error body"));
        assert!(
            v["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: error message"
        );
    }

    // Too large: a body over the limit, and a gzip bomb that inflates past it.
    let huge = vec![b' '; app.settings.ingest.max_body_bytes + 10];
    assert_eq!(post(huge).await.status(), 413);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 20 * 1024 * 1024]).expect("gzip");
    let bomb = app
        .client
        .post(&url)
        .header("content-encoding", "gzip")
        .body(gz.finish().expect("gzip"))
        .send()
        .await
        .expect("req");
    assert_eq!(bomb.status(), 413);
    let too_many =
        json!({"key": key, "events": events(app.settings.ingest.max_events + 1, "page.view")});
    assert_eq!(app.collect(&too_many).await.status(), 413);
    let r = app
        .client
        .post(&url)
        .header("content-type", "application/xml")
        .body("<x/>")
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 415);

    // Deep nesting in props and hostile strings.
    let mut deep = json!("leaf");
    for _ in 0..200 {
        deep = json!({ "d": deep });
    }
    let mut e = event("page.view");
    e["props"] = deep;
    assert_eq!(app.collect_events(&[e]).await.status(), 400);

    // The process is alive and the stored data unchanged.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.stored_count().await, 2);
    assert_eq!(
        app.collect_events(&events(1, "page.view")).await.status(),
        202
    );
    assert_eq!(app.wait_for_count(3, Duration::from_secs(10)).await, 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_events_are_kept_and_invalid_ones_listed() {
    let app = spawn_app().await;
    let mut bad_ts = event("page.view");
    bad_ts["ts"] = json!(0);
    let mut no_id = event("page.view");
    no_id.as_object_mut().expect("obj").remove("id");
    let r = app
        .collect_events(&[event("page.view"), bad_ts, event("element.click"), no_id])
        .await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["accepted"], 2);
    let idx: Vec<i64> = v["rejected"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["index"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(idx, vec![1, 3]);
    assert!(v["rejected"][0]["reason"]
        .as_str()
        .unwrap_or("")
        .contains("window"));
    assert_eq!(app.wait_for_count(2, Duration::from_secs(10)).await, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_and_secrets_are_stored_inert_or_stripped() {
    let app = spawn_app().await;
    let mut e = event("element.click");
    let id = e["id"].as_str().expect("id").to_string();
    e["props"] = json!({
        "sql": "'); DROP TABLE activities; --",
        "html": "<img src=x onerror=alert(1)>",
        "password": "hunter2", "api_key": "k", "card": "4111111111111111",
        "nested": {"token": "t", "ok": 1}
    });
    assert_eq!(app.collect_events(&[e]).await.status(), 202);
    assert_eq!(app.wait_for_count(1, Duration::from_secs(10)).await, 1);
    let (meta,): (Value,) =
        sqlx::query_as("SELECT metadata FROM activities WHERE event_id = $1::uuid")
            .bind(&id)
            .fetch_one(app.db.pool())
            .await
            .expect("row");
    assert_eq!(meta["sql"], "'); DROP TABLE activities; --");
    assert_eq!(meta["html"], "<img src=x onerror=alert(1)>");
    for k in ["password", "api_key", "card"] {
        assert!(meta.get(k).is_none(), "{k} must be stripped: {meta}");
    }
    assert_eq!(meta["nested"], json!({"ok": 1}));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_are_tagged_not_mixed_in() {
    let app = spawn_app().await;
    let body = json!({"key": app.project.public_key, "events": events(1, "page.view")}).to_string();
    let r = app
        .client
        .post(format!("{}/collect", app.address))
        .header(
            "user-agent",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
        )
        .body(body)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    let body = json!({"key": app.project.public_key, "events": events(1, "page.view")}).to_string();
    let r = app
        .client
        .post(format!("{}/collect", app.address))
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36",
        )
        .body(body)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    assert_eq!(app.wait_for_count(2, Duration::from_secs(10)).await, 2);
    let rows: Vec<(bool, Option<String>)> = sqlx::query_as(
        "SELECT is_bot, user_agent FROM activities WHERE project_id = $1 ORDER BY is_bot",
    )
    .bind(app.project.id)
    .fetch_all(app.db.pool())
    .await
    .expect("rows");
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![false, true]
    );
    assert!(rows[1].1.as_deref().unwrap_or("").contains("Googlebot"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_RATE_PER_IP".into(), "2".into());
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = app.collect_events(&events(1, "page.view")).await;
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
        statuses.push(r.status().as_u16());
    }
    assert!(
        statuses.contains(&202) && statuses.contains(&429),
        "{statuses:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_anonymous_id_sending_implausibly_fast_is_dropped_as_spam() {
    let app = spawn_app_with(Mode::All, |env| {
        env.insert("SIGHTLINE_RATE_PER_ANON".into(), "3".into());
    })
    .await;
    let mut batch = events(20, "element.click");
    for e in &mut batch {
        e["anonymous_id"] = json!("a-spammer");
    }
    let r = app.collect_events(&batch).await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["accepted"], 6, "a burst of two seconds' worth is allowed");
    assert_eq!(v["rejected"].as_array().map(Vec::len), Some(14));
    assert!(v["rejected"][0]["reason"]
        .as_str()
        .unwrap_or("")
        .starts_with("spam"));
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("req")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("sightline_ingest_spam_dropped_total"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_endpoint_takes_backend_batches_with_the_secret_key() {
    let app = spawn_app().await;
    let kinds = [
        "user.signup",
        "user.login",
        "community.created",
        "member.created",
        "member.activated",
        "event.created",
        "hackathon.created",
        "webhook.triggered",
        "github.push",
        "github.pr.opened",
    ];
    let batch: Vec<Value> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            json!({"eventId": uuid::Uuid::new_v4().to_string(), "eventType": k, "timestamp": chrono::Utc::now().to_rfc3339(),
                   "userId": format!("u-{i}"), "communityId": "c-1", "entityType": "community", "entityId": "c-1",
                   "metadata": {"name": "Rustaceans", "i": i}})
        })
        .collect();
    let url = format!("{}/api/v1/track", app.address);
    let r = app
        .client
        .post(&url)
        .bearer_auth(&app.project.secret_key)
        .json(&json!({"events": batch}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["accepted"], 10);
    // The public key is not a secret key, and no key is no key.
    let r = app
        .client
        .post(&url)
        .bearer_auth(&app.project.public_key)
        .json(&json!({"events": [event("user.login")]}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(&url)
        .json(&json!({"events": [event("user.login")]}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 401);
    assert_eq!(app.wait_for_count(10, Duration::from_secs(10)).await, 10);
    // Users and communities are upserted in the same batch.
    let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users WHERE project_id = $1")
        .bind(app.project.id)
        .fetch_one(app.db.pool())
        .await
        .expect("q");
    assert_eq!(users, 10);
    let (name,): (Option<String>,) = sqlx::query_as(
        "SELECT name FROM communities WHERE project_id = $1 AND external_id = 'c-1'",
    )
    .bind(app.project.id)
    .fetch_one(app.db.pool())
    .await
    .expect("q");
    assert_eq!(name.as_deref(), Some("Rustaceans"));
    app.stop().await;
}
