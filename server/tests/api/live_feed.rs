//! The live feed: committed events reach subscribers of their project through Redis pub/sub;
//! other projects' subscribers see nothing of them.

use std::time::Duration;

use sightline::live::LiveMessage;

use crate::helpers::{events, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_reach_live_subscribers_of_their_project_only() {
    let app = spawn_app().await;
    let hub = app.live.as_ref().expect("the app serves HTTP");
    let mut rx = hub.subscribe(app.project.id);
    let mut other = hub.subscribe(uuid::Uuid::new_v4());
    // Let the hub's SUBSCRIBE reach Redis.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let batch = events(3, "element.click");
    assert_eq!(app.collect_events(&batch).await.status(), 202);
    let msg = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .expect("within 2 s")
        .expect("message");
    let LiveMessage::Batch(b, _) = msg;
    assert_eq!(b.project_id, app.project.id);
    let mut ids: Vec<String> = b.events.iter().map(|e| e.id.to_string()).collect();
    let mut sent: Vec<String> = batch
        .iter()
        .map(|e| e["id"].as_str().unwrap_or("").to_string())
        .collect();
    ids.sort();
    sent.sort();
    assert_eq!(ids, sent);
    assert!(
        other.try_recv().is_err(),
        "another project's subscriber gets nothing"
    );

    // A replay stores nothing new, so nothing is published again.
    assert_eq!(app.collect_events(&batch).await.status(), 202);
    assert!(tokio::time::timeout(Duration::from_millis(800), rx.recv())
        .await
        .is_err());
    app.stop().await;
}

/// The live feed's property filter ([`sightline::live::contains`]) against PostgreSQL's own
/// `jsonb @>`, which answers the same filter on stored events: they must agree on every pair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_props_containment_agrees_with_postgres() {
    use serde_json::json;
    let pool = sqlx::PgPool::connect(&crate::helpers::test_database_url())
        .await
        .expect("postgres");
    let docs = [
        json!({}),
        json!({"plan": "pro", "n": 3, "f": 1.5, "ok": true, "none": null}),
        json!({"tags": ["a", "b", 1, 2.0, null, true, ["x", "y"], {"k": 1, "j": [1, 2]}]}),
        json!({"nested": {"x": {"y": true, "z": [1, {"w": "v"}]}, "s": "t"}}),
        json!({"big": 12345678901234567_i64, "neg": -4, "zero": 0, "e": 1e3}),
        json!({"plan": "Pro", "unicode": "héllo", "empty": "", "arr": []}),
    ];
    let filters = [
        json!({}),
        json!({"plan": "pro"}),
        json!({"plan": "Pro"}),
        json!({"n": 3}),
        json!({"n": 3.0}),
        json!({"n": "3"}),
        json!({"f": 1.5}),
        json!({"ok": true}),
        json!({"ok": "true"}),
        json!({"none": null}),
        json!({"missing": null}),
        json!({"tags": []}),
        json!({"tags": ["b"]}),
        json!({"tags": ["b", "a", "b"]}),
        json!({"tags": [2]}),
        json!({"tags": [1.0]}),
        json!({"tags": [null]}),
        json!({"tags": [["y"]]}),
        json!({"tags": ["y"]}),
        json!({"tags": [{"k": 1}]}),
        json!({"tags": [{"j": [2]}]}),
        json!({"tags": [{}]}),
        json!({"tags": [[]]}),
        json!({"tags": "a"}),
        json!({"tags": {"k": 1}}),
        json!({"nested": {}}),
        json!({"nested": {"x": {"z": [{"w": "v"}]}}}),
        json!({"nested": {"x": {"z": [{"w": "u"}]}}}),
        json!({"nested": {"x": {"y": 1}}}),
        json!({"nested": {"s": ["t"]}}),
        json!({"big": 12345678901234567_i64}),
        json!({"big": 12345678901234568_i64}),
        json!({"neg": -4.0}),
        json!({"zero": -0.0}),
        json!({"e": 1000}),
        json!({"unicode": "héllo"}),
        json!({"unicode": "hello"}),
        json!({"empty": ""}),
        json!({"arr": []}),
        json!({"arr": [null]}),
        json!({"arr": {}}),
    ];
    let mut disagree = Vec::new();
    for doc in &docs {
        for want in &filters {
            let (pg,): (bool,) = sqlx::query_as("SELECT $1::jsonb @> $2::jsonb")
                .bind(doc)
                .bind(want)
                .fetch_one(&pool)
                .await
                .expect("query");
            let ours = sightline::live::contains(doc, want);
            if pg != ours {
                disagree.push(format!("{doc} @> {want}: postgres {pg}, live {ours}"));
            }
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}
