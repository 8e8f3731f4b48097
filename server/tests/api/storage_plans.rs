//! Every index of `activities` is there for a query: this test runs those queries' shapes
//! through EXPLAIN on real PostgreSQL and checks the planner uses the index and prunes day
//! partitions. Run with `--nocapture` to read the plans.
//!
//! The data set is small, so sequential scans are disabled for the session: the test proves an
//! index *applies* to each query (the planner can use it), which is what a larger table needs.

use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::helpers::{spawn_app, TestSql};

async fn plan(conn: &mut PgConnection, sql: &str) -> String {
    let rows: Vec<(String,)> = sqlx::query_as(&format!("EXPLAIN {sql}"))
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
    let text: Vec<String> = rows.into_iter().map(|(l,)| l).collect();
    text.join("\n")
}

/// Partitions of `activities` a plan reads.
fn partitions(plan: &str) -> Vec<String> {
    let mut found: Vec<String> = plan
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("activities_p") || *w == "activities_default")
        .map(|w| {
            // Index names start with their partition's name: activities_p20261124_path_... .
            w.split('_').take(2).collect::<Vec<_>>().join("_")
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_index_serves_its_query_and_day_partitions_are_pruned() {
    let app = spawn_app().await;
    let now = Utc::now();
    let events: Vec<Value> = (0..300)
        .map(|i| {
            let at: DateTime<Utc> = now - Span::hours(i % 48);
            let kind = ["page.view", "element.click", "signup.completed"][i as usize % 3];
            json!({
                "id": Uuid::new_v4().to_string(),
                "type": kind,
                "ts": at.timestamp_millis(),
                "anonymous_id": format!("a-{}", i % 40),
                "user_id": format!("u-{}", i % 10),
                "session_id": format!("s-{}", i % 60),
                "community_id": format!("c-{}", i % 3),
                "url": format!("https://shop.example/p/{}", i % 7),
                "props": {"plan": if i % 2 == 0 { "pro" } else { "free" }}
            })
        })
        .collect();
    let r = app
        .client
        .post(format!("{}/api/v1/track", app.address))
        .bearer_auth(&app.project.secret_key)
        .json(&json!({ "events": events }))
        .send()
        .await
        .expect("track");
    assert_eq!(r.status(), 202);
    assert_eq!(app.wait_for_count(300, Duration::from_secs(20)).await, 300);

    sqlx::query("ANALYZE activities")
        .execute(app.db.pool())
        .await
        .expect("analyze");
    // SET LOCAL: the setting ends with this transaction, never reaching the app's pool.
    let mut tx = app.db.pool().begin().await.expect("begin");
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .expect("set");
    let conn: &mut PgConnection = &mut tx;

    let p = app.project.id;
    let from = (now - Span::days(1)).format("%Y-%m-%d %H:%M:%S%:z");
    let to = (now + Span::minutes(1)).format("%Y-%m-%d %H:%M:%S%:z");
    let range = format!("occurred_at >= '{from}' AND occurred_at < '{to}'");
    let cases = [
        (
            "user timeline: user(projectId, id), purgeUser",
            format!("SELECT * FROM activities WHERE project_id = '{p}' AND user_id = 'u-1' AND {range} ORDER BY occurred_at DESC LIMIT 50"),
            "user_id_occurred_at_idx",
        ),
        (
            "community stats by type: community(projectId, id)",
            format!("SELECT event_type, count(*) FROM activities WHERE project_id = '{p}' AND community_id = 'c-1' GROUP BY 1"),
            "community_id_event_type_idx",
        ),
        (
            "type over time: funnel steps, events(filter: type)",
            format!("SELECT occurred_at FROM activities WHERE project_id = '{p}' AND event_type = 'signup.completed' AND {range}"),
            "event_type_occurred_at_idx",
        ),
        (
            "page over time: funnel steps with a path, path filters",
            format!("SELECT occurred_at FROM activities WHERE project_id = '{p}' AND path = '/p/3' AND {range}"),
            "path_occurred_at_idx",
        ),
        (
            // Without the project condition: on a table this small the planner prefers the
            // project prefix of another index; at scale it combines both (BitmapAnd).
            "properties: EventFilter.props (metadata @>, GIN, jsonb_path_ops)",
            "SELECT event_id FROM activities WHERE metadata @> '{\"plan\": \"pro\"}'".to_string(),
            "metadata_idx",
        ),
    ];
    for (what, sql, index) in &cases {
        let plan = plan(conn, sql).await;
        println!("-- {what}\n{sql}\n{plan}\n");
        assert!(plan.contains(index), "{what}: expected {index} in\n{plan}");
    }

    // A time range reads only the day partitions it overlaps, never DEFAULT.
    let day = now.date_naive();
    let one_day = format!(
        "SELECT count(*) FROM activities WHERE project_id = '{p}' AND occurred_at >= '{day} 00:00:00+00' AND occurred_at < '{day} 00:00:00+00'::timestamptz + interval '1 day'"
    );
    let plan_one = plan(conn, &one_day).await;
    println!("-- one UTC day\n{plan_one}\n");
    let expected = format!("activities_p{}", day.format("%Y%m%d"));
    assert_eq!(partitions(&plan_one), vec![expected], "{plan_one}");

    let total: (i64,) =
        sqlx::query_as("SELECT count(*) FROM pg_inherits WHERE inhparent = 'activities'::regclass")
            .fetch_one(&mut *conn)
            .await
            .expect("partitions");
    let plan_all = plan(
        conn,
        &format!("SELECT count(*) FROM activities WHERE project_id = '{p}' AND {range}"),
    )
    .await;
    let read = partitions(&plan_all);
    assert!(
        !read.is_empty()
            && (read.len() as i64) < total.0
            && !read.iter().any(|p| p == "activities_default"),
        "a 1-day range reads {read:?} of {} partitions:\n{plan_all}",
        total.0
    );
    tx.rollback().await.expect("rollback");
    app.stop().await;
}
