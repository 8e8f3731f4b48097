//! What operators see: Prometheus metrics after real traffic, health and readiness, the example
//! alert rules referring only to metrics that exist.

use std::time::Duration;

use crate::helpers::{events, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_cover_ingest_queue_worker_and_http() {
    let app = spawn_app().await;
    assert_eq!(
        app.collect_events(&events(5, "page.view")).await.status(),
        202
    );
    let bad = app
        .client
        .post(format!("{}/collect", app.address))
        .body("{")
        .send()
        .await
        .expect("req");
    assert_eq!(bad.status(), 400);
    assert_eq!(app.wait_for_count(5, Duration::from_secs(10)).await, 5);
    // The queue-depth sampler runs every few seconds.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("req")
        .text()
        .await
        .expect("text");
    for name in [
        "sightline_ingest_events_accepted_total",
        "sightline_ingest_rejected_total{reason=\"malformed\"}",
        "sightline_http_request_duration_seconds_bucket",
        "sightline_queue_jobs{state=\"wait\"}",
        "sightline_queue_jobs{state=\"failed\"}",
        "sightline_queue_paused 0",
        "sightline_worker_batch_size",
        "sightline_db_write_duration_seconds_bucket",
        "sightline_worker_events_stored_total",
        "sightline_rollup_lag_seconds",
        "sightline_enqueue_group_size",
        "sightline_enqueue_write_duration_seconds_bucket",
    ] {
        assert!(text.contains(name), "/metrics lacks {name}");
    }
    app.stop().await;
}

#[test]
fn alert_rules_use_only_metrics_we_emit() {
    let rules =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/alerts.yml"))
            .expect("alerts.yml");
    let names = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/telemetry/names.rs"
    ))
    .expect("names.rs");
    let parsed: serde_yaml::Value = serde_yaml::from_str(&rules).expect("valid YAML");
    assert!(parsed["groups"][0]["rules"]
        .as_sequence()
        .is_some_and(|r| r.len() >= 5));
    for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if let Some(base) = word.strip_prefix("sightline_") {
            let base = base.trim_end_matches("_bucket");
            assert!(
                names.contains(&format!("\"sightline_{base}\"")),
                "alert rule uses unknown metric sightline_{base}"
            );
        }
    }
}
