//! Recount: the additive rollups of a project recomputed from raw `activities` for a range of
//! whole UTC days, compared with what is stored (summed over shards, corrections included), and
//! on request rewritten from raw.
//!
//! Covered: `rollup_minute`, `rollup_hour`, `rollup_day` (every dimension), `rollup_scroll_hour`
//! and `rollup_scroll_day` (every measure), and `rollup_sessions_hour` (recounted from the raw
//! events of the sessions started in the range). Not covered: the HyperLogLog sketches (a
//! sketch is checked by its estimate only, not worth a false alarm) and `actor_activity`.
//!
//! Invariant: the definitions come from the same SQL fragments as the write statement
//! ([`rollup_dims_sql`], [`rollup_scroll_sums_sql`]), so a recount cannot drift from it.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{Db, StorageError};

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
fn bounds(from: NaiveDate, to: NaiveDate) -> Result<(DateTime<Utc>, DateTime<Utc>), StorageError> {
    if from >= to {
        return Err(StorageError::Invalid("--from must be before --to".into()));
    }
    let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    match (at(from), at(to)) {
        (Some(f), Some(t)) => Ok((f, t)),
        _ => Err(StorageError::Invalid("date out of range".into())),
    }
}

/// Each table's recount: (table, SQL giving `bucket, cell, n` recomputed from raw for $1
/// project, [$2, $3), SQL giving the same from the stored rows).
fn recounts() -> [(&'static str, String, String); 6] {
    let raw = "activities i WHERE i.project_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3";
    let dims = |unit: &str| {
        format!(
            "SELECT date_trunc('{unit}', i.occurred_at, 'UTC') AS bucket, i.event_type || ' ' || d.dim || '=' || d.key AS cell, count(*) AS n \
             FROM activities i CROSS JOIN LATERAL {dims} \
             WHERE i.project_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3 AND d.key IS NOT NULL GROUP BY 1, 2",
            dims = rollup_dims_sql!()
        )
    };
    let stored_dims = |table: &str| {
        format!(
            "SELECT bucket, event_type || ' ' || dim || '=' || key AS cell, sum(events) AS n FROM {table} \
             WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1, 2"
        )
    };
    let scroll = |unit: &str| {
        format!(
            "SELECT bucket, path || E'\\t' || m.name AS cell, m.n FROM (\
               SELECT date_trunc('{unit}', occurred_at, 'UTC') AS bucket, path, {sums} FROM (\
                 SELECT i.occurred_at, p.path, \
                        LEAST(GREATEST(COALESCE(sightline_int(i.metadata->>'depth'), 0), 0), 100) AS depth, \
                        LEAST(GREATEST(COALESCE(sightline_int(i.metadata->>'prev'), 0), 0), 100) AS prev \
                 FROM activities i CROSS JOIN LATERAL (VALUES (COALESCE(i.path, '')), ('*')) AS p(path) \
                 WHERE i.project_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3 \
                   AND i.event_type = 'page.scroll') s GROUP BY 1, 2) t \
             CROSS JOIN LATERAL (VALUES ('views', views), ('depth_sum', depth_sum), ('reached25', r25), \
               ('reached50', r50), ('reached75', r75), ('reached100', r100)) AS m(name, n)",
            sums = rollup_scroll_sums_sql!(),
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
            // not be.
            format!(
                "SELECT bucket, m.name AS cell, m.n FROM (\
                   SELECT date_trunc('hour', started, 'UTC') AS bucket, count(*) AS sessions, count(*) FILTER (WHERE pv <= 1) AS bounced FROM (\
                     SELECT a.session_id, min(a.occurred_at) AS started, count(*) FILTER (WHERE a.event_type = 'page.view') AS pv \
                     FROM activities a WHERE a.project_id = $1 AND a.session_id IN (\
                       SELECT DISTINCT i.session_id FROM {raw} AND i.session_id IS NOT NULL) \
                     GROUP BY 1) s WHERE started >= $2 AND started < $3 GROUP BY 1) t \
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
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Difference>, StorageError> {
    let (lo, hi) = bounds(from, to)?;
    let mut out = Vec::new();
    for (table, expected, stored) in recounts() {
        // Hour buckets of sessions can sit anywhere in the range; hours of a session table are
        // compared like the others. Cells whose sum is 0 on both sides are equal.
        let sql = format!(
            "WITH e AS ({expected}), s AS ({stored}) \
             SELECT COALESCE(s.bucket, e.bucket), COALESCE(s.cell, e.cell), COALESCE(s.n, 0)::bigint, COALESCE(e.n, 0)::bigint \
             FROM e FULL JOIN s ON s.bucket = e.bucket AND s.cell = e.cell \
             WHERE COALESCE(s.n, 0) <> COALESCE(e.n, 0) ORDER BY 1, 2 LIMIT 1000"
        );
        let rows: Vec<(DateTime<Utc>, String, i64, i64)> = sqlx::query_as(&sql)
            .bind(project)
            .bind(lo)
            .bind(hi)
            .fetch_all(db.read_pool())
            .await?;
        out.extend(
            rows.into_iter()
                .map(|(bucket, cell, stored, expected)| Difference {
                    table,
                    bucket,
                    cell,
                    stored,
                    expected,
                }),
        );
    }
    Ok(out)
}

/// Rewrites the covered rollups of the range from raw rows, in one transaction: the range's
/// rows (every shard, corrections included) are replaced by the recount, as shard 0. Run it
/// while the project is quiet or accept that events stored meanwhile are recounted next time.
pub async fn fix(
    db: &Db,
    project: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<u64, StorageError> {
    let (lo, hi) = bounds(from, to)?;
    let mut tx = db.pool().begin().await?;
    let mut written = 0;
    for table in [
        "rollup_minute",
        "rollup_hour",
        "rollup_day",
        "rollup_scroll_hour",
        "rollup_scroll_day",
        "rollup_sessions_hour",
    ] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE project_id = $1 AND bucket >= $2 AND bucket < $3"
        ))
        .bind(project)
        .bind(lo)
        .bind(hi)
        .execute(&mut *tx)
        .await?;
    }
    let [minute, hour, day, scroll_hour, scroll_day, sessions] = recounts();
    let inserts = [
        format!("INSERT INTO rollup_minute (project_id, bucket, event_type, shard, events) SELECT $1, bucket, cell, 0, n FROM ({}) r", minute.1),
        format!("INSERT INTO rollup_hour (project_id, bucket, event_type, dim, key, shard, events) SELECT $1, bucket, split_part(cell, ' ', 1), split_part(split_part(cell, ' ', 2), '=', 1), substr(cell, length(split_part(cell, '=', 1)) + 2), 0, n FROM ({}) r", hour.1),
        format!("INSERT INTO rollup_day (project_id, bucket, event_type, dim, key, shard, events) SELECT $1, bucket, split_part(cell, ' ', 1), split_part(split_part(cell, ' ', 2), '=', 1), substr(cell, length(split_part(cell, '=', 1)) + 2), 0, n FROM ({}) r", day.1),
        scroll_insert("rollup_scroll_hour", &scroll_hour.1),
        scroll_insert("rollup_scroll_day", &scroll_day.1),
        format!("INSERT INTO rollup_sessions_hour (project_id, bucket, shard, sessions, bounced) SELECT $1, bucket, 0, max(n) FILTER (WHERE cell = 'sessions'), max(n) FILTER (WHERE cell = 'bounced') FROM ({}) r GROUP BY bucket", sessions.1),
    ];
    for sql in inserts {
        written += sqlx::query(&sql)
            .bind(project)
            .bind(lo)
            .bind(hi)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
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
