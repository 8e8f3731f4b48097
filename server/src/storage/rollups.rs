//! Recount: the additive rollups of a project recomputed from raw `activities` for a range of
//! whole UTC days, compared with what is stored (summed over shards, corrections included), and
//! on request rewritten from raw.
//!
//! Covered: `rollup_minute`, `rollup_hour`, `rollup_day` (every dimension), `rollup_scroll_hour`
//! and `rollup_scroll_day` (every measure), and `rollup_sessions_hour` (recounted from the raw
//! events of the sessions started in the range). Not covered: the HyperLogLog sketches (a
//! sketch is checked by its estimate only, not worth a false alarm) and `actor_activity`.
//!
//! Compared only where both sides are kept: days whose raw events are archived (and not
//! restored) and buckets older than what retention keeps of a table (`rollup_horizons`) are
//! skipped, and `fix` never rewrites an archived day (its rollups are all that is left of it).
//!
//! Invariant: the definitions come from the same SQL functions as the write statement
//! (`sightline_event_dims`, `sightline_scroll_pct`, `sightline_scroll_delta`, migration 0008),
//! so a recount cannot drift from it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, TransactionTrait};
use uuid::Uuid;

use super::{column, exec, one, rows, sql, Db, StorageError};
use crate::domain::DayRange;

/// One rollup cell whose stored value differs from the recount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub table: &'static str,
    pub bucket: DateTime<Utc>,
    /// Which cell of the bucket: event type, dimension and key, or the measure.
    pub cell: String,
    pub stored: i64,
    pub expected: i64,
}

/// `[from, to)` as UTC midnights.
fn bounds(days: DayRange) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
    (at(days.from), at(days.to))
}

/// Each table's recount: (table, SQL giving `bucket, cell, n` recomputed from raw for $1
/// project, [$2, $3), SQL giving the same from the stored rows).
fn recounts() -> [(&'static str, String, String); RECOUNTED_TABLES] {
    // Bot events are counted in the audience rollups only (see insert_events.sql).
    let raw = "activities i WHERE i.project_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3 AND NOT i.is_bot";
    let dims = |unit: &str| {
        format!(
            "SELECT date_trunc('{unit}', i.occurred_at, 'UTC') AS bucket, i.event_type || ' ' || d.dim || '=' || d.key AS cell, count(*) AS n \
             FROM activities i CROSS JOIN LATERAL \
               sightline_event_dims(i.event_type, i.path, i.metadata, i.entity_id, i.referrer, i.entity_type) AS d \
             WHERE i.project_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3 AND NOT i.is_bot GROUP BY 1, 2"
        )
    };
    let stored_dims = |table: &str| {
        format!(
            "SELECT bucket, event_type || ' ' || dim || '=' || key AS cell, sum(events) AS n FROM {table} \
             WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1, 2"
        )
    };
    // `OFFSET 0` keeps the inner query from being flattened, so `depth` and `prev` are computed
    // once per row rather than in every aggregate naming them (see events.rs).
    let scroll = |unit: &str| {
        format!(
            "SELECT bucket, path || E'\\t' || m.name AS cell, m.n FROM (\
               SELECT date_trunc('{unit}', occurred_at, 'UTC') AS bucket, path, \
                      sum(d.views) AS views, sum(d.depth_sum) AS depth_sum, sum(d.reached25) AS r25, \
                      sum(d.reached50) AS r50, sum(d.reached75) AS r75, sum(d.reached100) AS r100 FROM (\
                 SELECT i.occurred_at, p.path, \
                        sightline_scroll_pct(i.metadata->>'depth') AS depth, \
                        sightline_scroll_pct(i.metadata->>'prev') AS prev \
                 FROM activities i CROSS JOIN LATERAL (VALUES (COALESCE(i.path, '')), ('*')) AS p(path) \
                 WHERE i.project_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3 \
                   AND i.event_type = 'page.scroll' AND NOT i.is_bot OFFSET 0) s \
               CROSS JOIN LATERAL sightline_scroll_delta(depth, prev) AS d GROUP BY 1, 2) t \
             CROSS JOIN LATERAL (VALUES ('views', views), ('depth_sum', depth_sum), ('reached25', r25), \
               ('reached50', r50), ('reached75', r75), ('reached100', r100)) AS m(name, n)"
        )
    };
    let stored_scroll = |table: &str| {
        format!(
            "SELECT bucket, path || E'\\t' || m.name AS cell, m.n FROM (\
               SELECT bucket, path, sum(views) AS views, sum(depth_sum) AS depth_sum, sum(reached25) AS r25, \
                      sum(reached50) AS r50, sum(reached75) AS r75, sum(reached100) AS r100 \
               FROM {table} WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1, 2) t \
             CROSS JOIN LATERAL (VALUES ('views', views), ('depth_sum', depth_sum), ('reached25', r25), \
               ('reached50', r50), ('reached75', r75), ('reached100', r100)) AS m(name, n)"
        )
    };
    [
        (
            "rollup_minute",
            format!("SELECT date_trunc('minute', i.occurred_at, 'UTC') AS bucket, i.event_type AS cell, count(*) AS n FROM {raw} GROUP BY 1, 2"),
            "SELECT bucket, event_type AS cell, sum(events) AS n FROM rollup_minute \
             WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1, 2"
                .to_string(),
        ),
        ("rollup_hour", dims("hour"), stored_dims("rollup_hour")),
        ("rollup_day", dims("day"), stored_dims("rollup_day")),
        ("rollup_scroll_hour", scroll("hour"), stored_scroll("rollup_scroll_hour")),
        ("rollup_scroll_day", scroll("day"), stored_scroll("rollup_scroll_day")),
        (
            "rollup_sessions_hour",
            // Sessions started in the range: their first event is in it, their page views may
            // not be. A session whose stored start lies on an archived day ($4) is left out:
            // its first events are in the archive, so raw rows would place its start too late,
            // and its stored count sits on that archived day, which is not compared.
            format!(
                "SELECT bucket, m.name AS cell, m.n FROM (\
                   SELECT date_trunc('hour', started, 'UTC') AS bucket, count(*) AS sessions, count(*) FILTER (WHERE pv <= 1) AS bounced FROM (\
                     SELECT a.session_id, min(a.occurred_at) AS started, count(*) FILTER (WHERE a.event_type = 'page.view') AS pv \
                     FROM activities a WHERE a.project_id = $1 AND NOT a.is_bot AND a.session_id IN (\
                       SELECT DISTINCT i.session_id FROM {raw} AND i.session_id IS NOT NULL) \
                     GROUP BY 1) s WHERE started >= $2 AND started < $3 AND NOT EXISTS (\
                       SELECT 1 FROM sessions k WHERE k.project_id = $1 AND k.session_id = s.session_id \
                         AND (k.started_at AT TIME ZONE 'UTC')::date = ANY($4)) GROUP BY 1) t \
                 CROSS JOIN LATERAL (VALUES ('sessions', sessions), ('bounced', bounced)) AS m(name, n)"
            ),
            "SELECT bucket, m.name AS cell, m.n FROM (\
               SELECT bucket, sum(sessions) AS sessions, sum(bounced) AS bounced FROM rollup_sessions_hour \
               WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1) t \
             CROSS JOIN LATERAL (VALUES ('sessions', sessions), ('bounced', bounced)) AS m(name, n)"
                .to_string(),
        ),
    ]
}

/// Every cell that differs between the stored rollups and a recount from raw, at most 1000 per
/// table. Empty means the rollups are exact for the range.
pub async fn verify(
    db: &Db,
    project: Uuid,
    days: DayRange,
) -> Result<Vec<Difference>, StorageError> {
    verify_with_progress(db, project, days, &|_, _| {}).await
}

/// A differing cell as the comparison returns it.
#[derive(FromQueryResult)]
struct Cell {
    bucket: DateTime<Utc>,
    cell: String,
    stored: i64,
    expected: i64,
}

/// How many tables [`verify`] recounts.
pub const RECOUNTED_TABLES: usize = 6;

/// [`verify`], telling `progress` the position (from 0) and name of each table before
/// recounting it (the CLI's progress display: a month of 10M events takes minutes).
pub async fn verify_with_progress(
    db: &Db,
    project: Uuid,
    days: DayRange,
    progress: &(dyn Fn(usize, &str) + Sync),
) -> Result<Vec<Difference>, StorageError> {
    let (lo, hi) = bounds(days);
    let scope = Scope::load(db, project).await?;
    let mut out = Vec::new();
    for (i, (table, expected, stored)) in recounts().into_iter().enumerate() {
        progress(i, table);
        let lo = scope.horizons.get(table).map_or(lo, |h| (*h).max(lo));
        if lo >= hi {
            continue;
        }
        // Hour buckets of sessions can sit anywhere in the range; hours of a session table are
        // compared like the others. Cells whose sum is 0 on both sides are equal.
        let compare = format!(
            "WITH e AS ({expected}), s AS ({stored}) \
             SELECT COALESCE(s.bucket, e.bucket) AS bucket, COALESCE(s.cell, e.cell) AS cell, \
                    COALESCE(s.n, 0)::bigint AS stored, COALESCE(e.n, 0)::bigint AS expected \
             FROM e FULL JOIN s ON s.bucket = e.bucket AND s.cell = e.cell \
             WHERE COALESCE(s.n, 0) <> COALESCE(e.n, 0) \
               AND (COALESCE(s.bucket, e.bucket) AT TIME ZONE 'UTC')::date <> ALL($4) ORDER BY 1, 2 LIMIT 1000"
        );
        let values = [
            project.into(),
            lo.into(),
            hi.into(),
            scope.archived.clone().into(),
        ];
        let cells: Vec<Cell> = rows(&db.read, sql(compare, values)).await?;
        out.extend(cells.into_iter().map(|c| Difference {
            table,
            bucket: c.bucket,
            cell: c.cell,
            stored: c.stored,
            expected: c.expected,
        }));
    }
    Ok(out)
}

/// Rewrites the covered rollups of the range from raw rows, in one transaction: the range's
/// rows (every shard, corrections included) are replaced by the recount, as shard 0. Run it
/// while the project is quiet or accept that events stored meanwhile are recounted next time.
pub async fn fix(db: &Db, project: Uuid, days: DayRange) -> Result<u64, StorageError> {
    let (lo, hi) = bounds(days);
    let archived = Scope::load(db, project).await?.archived;
    let values = || {
        [
            project.into(),
            lo.into(),
            hi.into(),
            archived.clone().into(),
        ]
    };
    let tx = db.primary.begin().await?;
    let mut written = 0;
    for table in [
        "rollup_minute",
        "rollup_hour",
        "rollup_day",
        "rollup_scroll_hour",
        "rollup_scroll_day",
        "rollup_sessions_hour",
    ] {
        let delete = format!(
            "DELETE FROM {table} WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 \
               AND (bucket AT TIME ZONE 'UTC')::date <> ALL($4)"
        );
        exec(&tx, sql(delete, values())).await?;
    }
    let [minute, hour, day, scroll_hour, scroll_day, sessions] = recounts().map(|(t, recount, stored)| {
        (
            t,
            format!("SELECT * FROM ({recount}) kept WHERE (kept.bucket AT TIME ZONE 'UTC')::date <> ALL($4)"),
            stored,
        )
    });
    let inserts = [
        format!("INSERT INTO rollup_minute (project_id, bucket, event_type, shard, events) SELECT $1, bucket, cell, 0, n FROM ({}) r", minute.1),
        format!("INSERT INTO rollup_hour (project_id, bucket, event_type, dim, key, shard, events) SELECT $1, bucket, split_part(cell, ' ', 1), split_part(split_part(cell, ' ', 2), '=', 1), substr(cell, length(split_part(cell, '=', 1)) + 2), 0, n FROM ({}) r", hour.1),
        format!("INSERT INTO rollup_day (project_id, bucket, event_type, dim, key, shard, events) SELECT $1, bucket, split_part(cell, ' ', 1), split_part(split_part(cell, ' ', 2), '=', 1), substr(cell, length(split_part(cell, '=', 1)) + 2), 0, n FROM ({}) r", day.1),
        scroll_insert("rollup_scroll_hour", &scroll_hour.1),
        scroll_insert("rollup_scroll_day", &scroll_day.1),
        format!("INSERT INTO rollup_sessions_hour (project_id, bucket, shard, sessions, bounced) SELECT $1, bucket, 0, max(n) FILTER (WHERE cell = 'sessions'), max(n) FILTER (WHERE cell = 'bounced') FROM ({}) r GROUP BY bucket", sessions.1),
    ];
    for insert in inserts {
        written += exec(&tx, sql(insert, values())).await?;
    }
    tx.commit().await?;
    let (from, to) = (days.from, days.to);
    tracing::info!(%project, %from, %to, rows = written, "rollups rewritten from raw events");
    Ok(written)
}

fn scroll_insert(table: &str, recount: &str) -> String {
    // The recount's cell is "<path>\t<measure>" (a URL path never holds a raw tab).
    format!(
        "INSERT INTO {table} (project_id, bucket, path, shard, views, depth_sum, reached25, reached50, reached75, reached100) \
         SELECT $1, bucket, p, 0, \
                max(n) FILTER (WHERE m = 'views'), max(n) FILTER (WHERE m = 'depth_sum'), \
                max(n) FILTER (WHERE m = 'reached25'), max(n) FILTER (WHERE m = 'reached50'), \
                max(n) FILTER (WHERE m = 'reached75'), max(n) FILTER (WHERE m = 'reached100') \
         FROM (SELECT bucket, split_part(cell, E'\\t', 1) AS p, split_part(cell, E'\\t', 2) AS m, n FROM ({recount}) r) t \
         GROUP BY bucket, p"
    )
}

/// Whether retention pruned some rollup table of the project at `at` (its horizon is later).
pub async fn pruned_at(db: &Db, project: Uuid, at: DateTime<Utc>) -> Result<bool, StorageError> {
    one(
        &db.primary,
        sql(
            "SELECT EXISTS (SELECT 1 FROM rollup_horizons WHERE project_id = $1 AND rollup <> 'rollup_minute' AND before > $2)",
            [project.into(), at.into()],
        ),
    )
    .await
}

/// The oldest bucket retention keeps of a rollup table.
#[derive(FromQueryResult)]
struct Horizon {
    rollup: String,
    before: DateTime<Utc>,
}

/// What a project's rollups can be compared with: the days whose raw events are archived (and
/// not restored), and per rollup table the oldest bucket retention keeps.
struct Scope {
    archived: Vec<NaiveDate>,
    horizons: HashMap<String, DateTime<Utc>>,
}

impl Scope {
    async fn load(db: &Db, project: Uuid) -> Result<Self, StorageError> {
        let archived: Vec<NaiveDate> = column(
            &db.primary,
            sql(
                "SELECT DISTINCT p.day FROM archive_parts p WHERE p.project_id = $1 AND NOT EXISTS \
                   (SELECT 1 FROM archive_restores r WHERE r.project_id = p.project_id AND r.day = p.day)",
                [project.into()],
            ),
        )
        .await?;
        let horizons: Vec<Horizon> = rows(
            &db.primary,
            sql(
                "SELECT rollup, before FROM rollup_horizons WHERE project_id = $1",
                [project.into()],
            ),
        )
        .await?;
        Ok(Self {
            archived,
            horizons: horizons.into_iter().map(|h| (h.rollup, h.before)).collect(),
        })
    }
}

/// Rebuilds the HyperLogLog sketches of the given hours (and of their days) from the raw events
/// there: the old rows are deleted first in a statement of their own (a CTE's delete is
/// invisible to its own statement's insert). Sketches cannot subtract, so purges and restores
/// rebuild instead of correcting.
pub(crate) async fn rebuild_sketches(
    conn: &impl ConnectionTrait,
    project: Uuid,
    hours: &[DateTime<Utc>],
) -> Result<(), StorageError> {
    if hours.is_empty() {
        return Ok(());
    }
    for text in DELETE_SKETCHES.iter().chain(REBUILD_SKETCHES.iter()) {
        exec(conn, sql(*text, [project.into(), hours.to_vec().into()])).await?;
    }
    Ok(())
}

// The audience rollup's rows also hold additive counts: their sketches are emptied rather
// than their rows deleted, and the rebuilt sketches go to shard 0's row of each cell.
const DELETE_SKETCHES: [&str; 4] = [
    "DELETE FROM rollup_uniques_hour WHERE project_id = $1 AND bucket = ANY($2)",
    "DELETE FROM rollup_uniques_day WHERE project_id = $1
       AND bucket IN (SELECT DISTINCT date_trunc('day', h, 'UTC') FROM unnest($2::timestamptz[]) AS h)",
    "UPDATE rollup_audience_hour SET visits = hll_empty(12, 5), visitors = hll_empty(12, 5)
     WHERE project_id = $1 AND bucket = ANY($2)",
    "UPDATE rollup_audience_day SET visits = hll_empty(12, 5), visitors = hll_empty(12, 5)
     WHERE project_id = $1
       AND bucket IN (SELECT DISTINCT date_trunc('day', h, 'UTC') FROM unnest($2::timestamptz[]) AS h)",
];

const REBUILD_SKETCHES: [&str; 4] = [
    r#"
INSERT INTO rollup_audience_hour AS r (project_id, bucket, dim, key, bot, shard, events, page_views, visits, visitors)
SELECT $1, date_trunc('hour', a.occurred_at, 'UTC'), d.dim, d.key, a.is_bot, 0, 0, 0,
       COALESCE(hll_add_agg(hll_hash_text(a.session_id), 12, 5), hll_empty(12, 5)),
       COALESCE(hll_add_agg(hll_hash_text(sightline_visitor(a.anonymous_id, a.user_id)), 12, 5), hll_empty(12, 5))
FROM activities a CROSS JOIN LATERAL sightline_audience_dims(a.audience, a.event_type, a.path) AS d
WHERE a.project_id = $1 AND a.occurred_at >= (SELECT min(h) FROM unnest($2::timestamptz[]) AS h)
  AND date_trunc('hour', a.occurred_at, 'UTC') = ANY($2)
GROUP BY 2, 3, 4, 5
ON CONFLICT (project_id, dim, bucket, key, bot, shard) DO UPDATE
    SET visits = EXCLUDED.visits, visitors = EXCLUDED.visitors
"#,
    r#"
INSERT INTO rollup_audience_day AS r (project_id, bucket, dim, key, bot, shard, events, page_views, visits, visitors)
SELECT $1, date_trunc('day', a.occurred_at, 'UTC'), d.dim, d.key, a.is_bot, 0, 0, 0,
       COALESCE(hll_add_agg(hll_hash_text(a.session_id), 12, 5), hll_empty(12, 5)),
       COALESCE(hll_add_agg(hll_hash_text(sightline_visitor(a.anonymous_id, a.user_id)), 12, 5), hll_empty(12, 5))
FROM activities a CROSS JOIN LATERAL sightline_audience_dims(a.audience, a.event_type, a.path) AS d
WHERE a.project_id = $1
  AND a.occurred_at >= (SELECT min(date_trunc('day', h, 'UTC')) FROM unnest($2::timestamptz[]) AS h)
  AND date_trunc('day', a.occurred_at, 'UTC') IN (SELECT DISTINCT date_trunc('day', h, 'UTC') FROM unnest($2::timestamptz[]) AS h)
GROUP BY 2, 3, 4, 5
ON CONFLICT (project_id, dim, bucket, key, bot, shard) DO UPDATE
    SET visits = EXCLUDED.visits, visitors = EXCLUDED.visitors
"#,
    r#"
INSERT INTO rollup_uniques_hour (project_id, bucket, shard, actors, sessions)
SELECT $1, date_trunc('hour', occurred_at, 'UTC'), 0,
       COALESCE(hll_add_agg(hll_hash_text(COALESCE(user_id, anonymous_id)), 12, 5), hll_empty(12, 5)),
       COALESCE(hll_add_agg(hll_hash_text(session_id), 12, 5), hll_empty(12, 5))
FROM activities
WHERE project_id = $1 AND occurred_at >= (SELECT min(h) FROM unnest($2::timestamptz[]) AS h)
  AND date_trunc('hour', occurred_at, 'UTC') = ANY($2) AND NOT is_bot
GROUP BY 2
"#,
    r#"
INSERT INTO rollup_uniques_day (project_id, bucket, shard, actors, sessions)
SELECT $1, date_trunc('day', occurred_at, 'UTC'), 0,
       COALESCE(hll_add_agg(hll_hash_text(COALESCE(user_id, anonymous_id)), 12, 5), hll_empty(12, 5)),
       COALESCE(hll_add_agg(hll_hash_text(session_id), 12, 5), hll_empty(12, 5))
FROM activities
WHERE project_id = $1
  AND occurred_at >= (SELECT min(date_trunc('day', h, 'UTC')) FROM unnest($2::timestamptz[]) AS h)
  AND date_trunc('day', occurred_at, 'UTC') IN (SELECT DISTINCT date_trunc('day', h, 'UTC') FROM unnest($2::timestamptz[]) AS h)
  AND NOT is_bot
GROUP BY 2
"#,
];

/// After raw events of `[lo, hi)` came back (a restore): the distinct-count sketches of those
/// hours rebuilt from raw, and `sessions` rows that retention had pruned recreated from the
/// session's raw events (rows still there are left as they are).
pub(crate) async fn rebuild_day_extras(
    db: &Db,
    project: Uuid,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> Result<(), StorageError> {
    let tx = db.primary.begin().await?;
    let hours: Vec<DateTime<Utc>> = column(
        &tx,
        sql(
            "SELECT DISTINCT date_trunc('hour', occurred_at, 'UTC') FROM activities \
             WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3",
            [project.into(), lo.into(), hi.into()],
        ),
    )
    .await?;
    rebuild_sketches(&tx, project, &hours).await?;
    exec(
        &tx,
        sql(
            "INSERT INTO sessions (project_id, session_id, actor, started_at, last_seen, page_views, events, audience) \
             SELECT $1, session_id, min(COALESCE(user_id, anonymous_id)), min(occurred_at), max(occurred_at), \
                    count(*) FILTER (WHERE event_type = 'page.view'), count(*), \
                    (array_agg(audience ORDER BY occurred_at))[1] \
             FROM activities WHERE project_id = $1 AND NOT is_bot AND session_id IN ( \
                 SELECT DISTINCT session_id FROM activities \
                 WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND session_id IS NOT NULL) \
             GROUP BY session_id \
             ON CONFLICT (project_id, session_id) DO NOTHING",
            [project.into(), lo.into(), hi.into()],
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
