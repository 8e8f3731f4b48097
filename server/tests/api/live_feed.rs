//! The live feed: committed events reach subscribers of their project through Redis pub/sub;
//! other projects' subscribers see nothing of them.

use std::time::Duration;

use sightline::live::LiveMessage;

use crate::helpers::{events, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_reach_live_subscribers_of_their_project_only() {
    let app = spawn_app().await;
    let mut rx = app.live.subscribe(app.project.id);
    let mut other = app.live.subscribe(uuid::Uuid::new_v4());
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
