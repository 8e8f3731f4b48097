//! The analytics statements over raw events are fixed texts whose optional parts are bound
//! values (`($4::text IS NULL OR event_type = $4)`, `sightline_dim_key($12, ...)`, a `CASE` on
//! the measure), on the premise that connections plan every execution with its values
//! (`plan_cache_mode = force_custom_plan`), so the planner folds them away. This test holds
//! them to it: through the application's own read connection, each statement's plan equals
//! the plan of the statement written out for those values (the form the code had before:
//! conditions only where a filter is given, the dimension's expression in place). Run with
//! `--nocapture` to read the plans.

use std::time::Duration;

use chrono::{DateTime, Duration as Span, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait, Value,
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::spawn_app;

const GROUPED_RAW: &str = include_str!("../../src/analytics/sql/grouped_raw.sql");
const SERIES_RAW: &str = include_str!("../../src/analytics/sql/series_raw.sql");
const SCROLL_TOTALS_RAW: &str = include_str!("../../src/analytics/sql/scroll_totals_raw.sql");
const SCROLL_DEPTH_RAW: &str = include_str!("../../src/analytics/sql/scroll_depth_raw.sql");

/// The raw dimension expressions as analytics wrote them out before `sightline_dim_key`
/// (the write path's definitions, copied).
const DIMENSIONS: [(&str, &str); 5] = [
    ("", "event_type"),
    ("path", "path"),
    (
        "element",
        "CASE WHEN event_type = 'element.click' THEN COALESCE(metadata->>'selector', entity_id) END",
    ),
    (
        "referrer",
        "CASE WHEN event_type = 'page.view' THEN substring(referrer FROM '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]+') END",
    ),
    ("entity_type", "entity_type"),
];

async fn plan(tx: &DatabaseTransaction, sql: &str, values: &[Value]) -> String {
    let rows = tx
        .query_all(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN (COSTS OFF) {sql}"),
            values.to_vec(),
        ))
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
    rows.iter()
        .map(|r| r.try_get::<String>("", "QUERY PLAN").expect("a plan line"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A filter of the raw statements (`$4..$8`) and its written-out conditions.
struct Case {
    name: &'static str,
    values: [Value; 5],
    conditions: &'static str,
}

fn cases() -> Vec<Case> {
    let none = || -> [Value; 5] {
        [
            Value::String(None),
            Value::String(None),
            Value::String(None),
            Value::String(None),
            Value::Json(None),
        ]
    };
    let mut by_type = none();
    by_type[0] = "element.click".into();
    let mut by_user = none();
    by_user[3] = "u-1".into();
    let mut by_props = none();
    by_props[4] = Value::Json(Some(Box::new(json!({"plan": "pro"}))));
    let mut by_path_and_community = none();
    by_path_and_community[1] = "/p/3".into();
    by_path_and_community[2] = "c-1".into();
    vec![
        Case {
            name: "no filter",
            values: none(),
            conditions: "",
        },
        Case {
            name: "event type",
            values: by_type,
            conditions: " AND event_type = $4",
        },
        Case {
            name: "user",
            values: by_user,
            conditions: " AND user_id = $7",
        },
        Case {
            name: "properties",
            values: by_props,
            conditions: " AND metadata @> $8",
        },
        Case {
            name: "path and community",
            values: by_path_and_community,
            conditions: " AND path = $5 AND community_id = $6",
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_statements_plan_as_their_written_out_form() {
    let app = spawn_app().await;
    let now = Utc::now();
    let events: Vec<serde_json::Value> = (0..300)
        .map(|i| {
            let at: DateTime<Utc> = now - Span::hours(i % 48);
            let kind = ["page.view", "element.click", "page.scroll"][i as usize % 3];
            json!({
                "id": Uuid::new_v4().to_string(),
                "type": kind,
                "ts": at.timestamp_millis(),
                "anonymous_id": format!("a-{}", i % 40),
                "user_id": format!("u-{}", i % 10),
                "session_id": format!("s-{}", i % 60),
                "community_id": format!("c-{}", i % 3),
                "url": format!("https://shop.example/p/{}", i % 7),
                "referrer": "https://news.example/story",
                "props": {"plan": if i % 2 == 0 { "pro" } else { "free" }, "selector": "a.cta",
                          "depth": (i % 5) * 25, "prev": 0}
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
    app.db
        .primary
        .execute_unprepared("ANALYZE activities")
        .await
        .expect("analyze");

    // One transaction on the read connection, so the settings below hold for every EXPLAIN and
    // end with it. Sequential scans off: on this small table, index paths must still be chosen
    // the same way for both forms.
    let tx = app.db.read.begin().await.expect("begin");
    tx.execute_unprepared("SET LOCAL enable_seqscan = off")
        .await
        .expect("set");
    let span: [Value; 3] = [
        app.project.id.into(),
        (now - Span::days(1)).into(),
        (now + Span::minutes(1)).into(),
    ];
    let mut compared = 0;
    for case in cases() {
        // Bots left out (`$9` false folds `(NOT is_bot OR $9)` to `NOT is_bot`), no dimension
        // filter (`$10` NULL folds its condition away).
        let raw: Vec<Value> = span
            .iter()
            .chain(&case.values)
            .cloned()
            .chain([false.into(), Value::Json(None)])
            .collect();
        let conds = format!("{} AND NOT is_bot", case.conditions);
        let from_raw =
            "FROM activities WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3";

        for (dim, expr) in DIMENSIONS {
            let mut values = raw.clone();
            values.extend([(dim.is_empty()).into(), dim.into(), 10i64.into()]);
            let written = format!(
                "SELECT k, count(*)::bigint FROM (SELECT {expr} AS k {from_raw}{conds}) t \
                 WHERE k IS NOT NULL GROUP BY k ORDER BY 2 DESC, 1 LIMIT $13"
            );
            let ours = plan(&tx, GROUPED_RAW, &values).await;
            println!("-- grouped by '{dim}', {}\n{ours}\n", case.name);
            assert_eq!(
                ours,
                plan(&tx, &written, &values).await,
                "grouped '{dim}', {}",
                case.name
            );
            compared += 1;
        }

        for (measure, value) in [
            ("events", "count(*)::float8"),
            (
                "actors",
                "count(DISTINCT COALESCE(user_id, anonymous_id))::float8",
            ),
            ("sessions", "count(DISTINCT session_id)::float8"),
        ] {
            let mut values = raw.clone();
            values.extend(["hour".into(), "UTC".into(), measure.into()]);
            let written = format!(
                "SELECT date_trunc($11, occurred_at, $12), {value} {from_raw}{conds} GROUP BY 1"
            );
            let ours = plan(&tx, SERIES_RAW, &values).await;
            println!("-- series of {measure}, {}\n{ours}\n", case.name);
            assert_eq!(
                ours,
                plan(&tx, &written, &values).await,
                "series {measure}, {}",
                case.name
            );
            compared += 1;
        }

        if case.values[0] == Value::String(None) {
            let written = format!(
                "SELECT (count(*) FILTER (WHERE p = 0))::bigint, COALESCE(sum(GREATEST(d - p, 0)), 0)::bigint FROM (\
                   SELECT LEAST(GREATEST(COALESCE(sightline_int(metadata->>'depth'), 0), 0), 100) AS d, \
                          LEAST(GREATEST(COALESCE(sightline_int(metadata->>'prev'), 0), 0), 100) AS p \
                   {from_raw} AND event_type = 'page.scroll'{conds}) t"
            );
            let ours = plan(&tx, SCROLL_TOTALS_RAW, &raw).await;
            println!("-- scroll totals, {}\n{ours}\n", case.name);
            assert_eq!(
                ours,
                plan(&tx, &written, &raw).await,
                "scroll totals, {}",
                case.name
            );
            compared += 1;
        }
    }

    for path in [None, Some("/p/3")] {
        let values: Vec<Value> = span
            .iter()
            .cloned()
            .chain([path.map(str::to_string).into(), 20i64.into()])
            .collect();
        let written = "SELECT path, sum(views)::bigint, sum(depth_sum)::bigint, sum(reached25)::bigint, \
                sum(reached50)::bigint, sum(reached75)::bigint, sum(reached100)::bigint \
             FROM (SELECT COALESCE(path, '') AS path, (p = 0)::int AS views, GREATEST(d - p, 0) AS depth_sum, \
                (p < 25 AND d >= 25)::int AS reached25, (p < 50 AND d >= 50)::int AS reached50, \
                (p < 75 AND d >= 75)::int AS reached75, (p < 100 AND d >= 100)::int AS reached100 \
               FROM (SELECT path, LEAST(GREATEST(COALESCE(sightline_int(metadata->>'depth'), 0), 0), 100) AS d, \
                            LEAST(GREATEST(COALESCE(sightline_int(metadata->>'prev'), 0), 0), 100) AS p \
                     FROM activities WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3 \
                       AND event_type = 'page.scroll' AND NOT is_bot) e) s \
             WHERE ($4::text IS NULL OR path = $4) GROUP BY path HAVING sum(views) > 0 \
             ORDER BY 2 DESC, 1 LIMIT $5";
        let ours = plan(&tx, SCROLL_DEPTH_RAW, &values).await;
        println!("-- scroll depth, path {path:?}\n{ours}\n");
        assert_eq!(
            ours,
            plan(&tx, written, &values).await,
            "scroll depth, {path:?}"
        );
        compared += 1;
    }
    assert_eq!(compared, 5 * 5 + 5 * 3 + 4 + 2);
    tx.rollback().await.expect("rollback");
    app.stop().await;
}
