use std::time::Duration;

use serde_json::json;

use crate::helpers::{events, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_posted_to_collect_is_counted_by_graphql() {
    let app = spawn_app().await;
    let resp = app.collect_events(&events(3, "page.view")).await;
    assert_eq!(resp.status(), 202);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"accepted": 3, "rejected": []}));

    let query = "query($p: ID!) { eventCount(projectId: $p) }";
    let mut count = 0;
    for _ in 0..100 {
        let r = app
            .graphql(
                Some(&app.admin_token),
                query,
                json!({"p": app.project.id.to_string()}),
            )
            .await;
        count = r["data"]["eventCount"].as_i64().unwrap_or(-1);
        if count == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count, 3,
        "the three events reach Postgres through Redis and the worker"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_count_needs_a_token() {
    let app = spawn_app().await;
    let r = app
        .graphql(
            None,
            "query($p: ID!) { eventCount(projectId: $p) }",
            json!({"p": app.project.id.to_string()}),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let r = app
        .graphql(
            Some("garbage"),
            "query($p: ID!) { eventCount(projectId: $p) }",
            json!({"p": app.project.id.to_string()}),
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_report_dependencies() {
    let app = spawn_app().await;
    let h = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("req");
    assert_eq!(h.status(), 200);
    let r = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        body,
        json!({"postgres": "ok", "redis": "ok", "migrations": "ok"})
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracker_files_are_served_to_any_origin() {
    // Serve from a temporary tracker dir so the test does not depend on a wasm build.
    let dir = std::env::temp_dir().join(format!("sightline-tracker-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("sightline.js"), "/* loader */").expect("write");
    std::fs::write(dir.join("tracker_wasm.js"), "export default 1;").expect("write");
    let app = crate::helpers::spawn_app_with(sightline::app::Mode::Serve, |env| {
        env.insert("SIGHTLINE_TRACKER_DIR".into(), dir.display().to_string());
    })
    .await;
    for path in ["/sightline.js", "/tracker/tracker_wasm.js"] {
        let r = app
            .client
            .get(format!("{}{path}", app.address))
            .header("origin", "https://shop.example")
            .send()
            .await
            .expect("req");
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
    }
    app.stop().await;
}
