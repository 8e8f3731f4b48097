//! Counting queries: overview, grouped counts (top pages, elements, referrers...), time series
//! and active users. Rollups answer whenever the range and filter allow; raw rows otherwise.

use chrono::{DateTime, Duration, Timelike, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{raw_dimension, Filter, Interval, Range};
use crate::storage::{Db, StorageError};

/// Below this many events in the range, unique counts are computed exactly from raw rows; above
/// it they come from HyperLogLog sketches (standard error 1.6%).
pub const EXACT_UNIQUES_UP_TO: i64 = 100_000;
/// Most buckets one time series may have.
pub const MAX_BUCKETS: usize = 2000;

/// What a grouped count groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    EventType,
    EntityType,
    Path,
    Element,
    Referrer,
}

impl GroupBy {
    /// The `rollup_hour.dim` holding this grouping (`''` groups the totals by type).
    fn dim(self) -> &'static str {
        match self {
            GroupBy::EventType => "",
            GroupBy::EntityType => "entity_type",
            GroupBy::Path => "path",
            GroupBy::Element => "element",
            GroupBy::Referrer => "referrer",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub events: i64,
    pub unique_users: i64,
    pub unique_users_exact: bool,
    pub sessions: i64,
    pub page_views: i64,
    pub bounce_rate: f64,
    pub avg_scroll_depth: f64,
}

/// Counts grouped by `group`, largest first.
pub async fn grouped(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    group: GroupBy,
    limit: i64,
) -> Result<Vec<(String, i64)>, StorageError> {
    let limit = limit.clamp(1, 1000);
    let path_ok = filter.path.is_none() || matches!(group, GroupBy::EventType | GroupBy::Path);
    if range.on_hours() && filter.rollup_friendly() && path_ok {
        let (dim, key) = match (&filter.path, group) {
            (Some(p), _) => ("path", Some(p.as_str())),
            (None, g) => (g.dim(), None),
        };
        let by_type = group == GroupBy::EventType;
        return rollup_grouped(
            db.read_pool(),
            project,
            range,
            dim,
            key,
            filter.event_type.as_deref(),
            by_type,
            limit,
        )
        .await;
    }
    let expr = raw_dimension(group.dim());
    let (conds, binds) = filter.raw_conditions(5);
    let sql = format!(
        "SELECT k, count(*)::bigint FROM (SELECT {expr} AS k FROM activities \
         WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3{conds}) t \
         WHERE k IS NOT NULL GROUP BY k ORDER BY 2 DESC, 1 LIMIT $4"
    );
    let mut q = sqlx::query_as::<_, (String, i64)>(&sql)
        .bind(project)
        .bind(range.from)
        .bind(range.to)
        .bind(limit);
    for b in binds {
        q = q.bind(b);
    }
    Ok(q.fetch_all(db.read_pool()).await?)
}

/// Sums `rollup_day` over the range's whole UTC days and `rollup_hour` over its edges.
#[allow(clippy::too_many_arguments)]
async fn rollup_grouped(
    pool: &PgPool,
    project: Uuid,
    range: &Range,
    dim: &str,
    key: Option<&str>,
    event_type: Option<&str>,
    by_type: bool,
    limit: i64,
) -> Result<Vec<(String, i64)>, StorageError> {
    let col = if by_type { "event_type" } else { "key" };
    let conds = "AND dim = $4 AND ($9::text IS NULL OR key = $9) AND ($10::text IS NULL OR event_type = $10)";
    let sql = format!(
        "SELECT k, sum(n)::bigint FROM (\
           SELECT {col} AS k, events AS n FROM rollup_day \
            WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 {conds} \
           UNION ALL \
           SELECT {col}, events FROM rollup_hour \
            WHERE project_id = $1 AND ((bucket >= $5 AND bucket < $6) OR (bucket >= $7 AND bucket < $8)) {conds}\
         ) t GROUP BY k ORDER BY 2 DESC, 1 LIMIT $11"
    );
    let s = range.split();
    Ok(sqlx::query_as(&sql)
        .bind(project)
        .bind(s.days.0)
        .bind(s.days.1)
        .bind(dim)
        .bind(s.head.0)
        .bind(s.head.1)
        .bind(s.tail.0)
        .bind(s.tail.1)
        .bind(key)
        .bind(event_type)
        .bind(limit)
        .fetch_all(pool)
        .await?)
}

pub async fn overview(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
) -> Result<Overview, StorageError> {
    // Independent reads: run them at once on the pool, so the answer takes the slowest one's
    // time rather than the sum.
    let (by_type, (sessions, bounced), (views, depth_sum)) = tokio::try_join!(
        grouped(db, project, range, filter, GroupBy::EventType, 1000),
        sessions(db, project, range, filter),
        scroll_totals(db, project, range, filter),
    )?;
    let events: i64 = by_type.iter().map(|(_, n)| n).sum();
    let page_views = by_type
        .iter()
        .find(|(t, _)| t == "page.view")
        .map_or(0, |(_, n)| *n);
    // Needs the event count: exact below a threshold, sketched above it.
    let (unique_users, unique_users_exact) =
        unique_actors(db, project, range, filter, events).await?;
    Ok(Overview {
        events,
        unique_users,
        unique_users_exact,
        sessions,
        page_views,
        bounce_rate: ratio(bounced, sessions),
        avg_scroll_depth: ratio(depth_sum, views),
    })
}

fn ratio(a: i64, b: i64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Distinct actors (user id, else anonymous id): exact on small or filtered ranges, from the
/// HyperLogLog rollups otherwise. Returns the count and whether it is exact.
async fn unique_actors(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    events: i64,
) -> Result<(i64, bool), StorageError> {
    let sketchable = range.on_hours()
        && filter.rollup_friendly()
        && filter.path.is_none()
        && filter.event_type.is_none();
    if sketchable && events > EXACT_UNIQUES_UP_TO {
        let s = range.split();
        let (n,): (Option<f64>,) = sqlx::query_as(
            "SELECT hll_cardinality(hll_union_agg(actors)) FROM (\
               SELECT actors FROM rollup_uniques_day WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 \
               UNION ALL \
               SELECT actors FROM rollup_uniques_hour WHERE project_id = $1 \
                 AND ((bucket >= $4 AND bucket < $5) OR (bucket >= $6 AND bucket < $7))) t",
        )
        .bind(project)
        .bind(s.days.0)
        .bind(s.days.1)
        .bind(s.head.0)
        .bind(s.head.1)
        .bind(s.tail.0)
        .bind(s.tail.1)
        .fetch_one(db.read_pool())
        .await?;
        return Ok((n.unwrap_or(0.0).round() as i64, false));
    }
    let (conds, binds) = filter.raw_conditions(4);
    let sql = format!(
        "SELECT count(DISTINCT COALESCE(user_id, anonymous_id))::bigint FROM activities \
         WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3{conds}"
    );
    let mut q = sqlx::query_as::<_, (i64,)>(&sql)
        .bind(project)
        .bind(range.from)
        .bind(range.to);
    for b in binds {
        q = q.bind(b);
    }
    Ok((q.fetch_one(db.read_pool()).await?.0, true))
}

/// Sessions and bounced sessions (at most one page view). Unfiltered: sessions *started* in the
/// range (`rollup_sessions_hour` on whole hours, else the `sessions` table). Filtered: sessions
/// with a matching event in the range.
async fn sessions(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
) -> Result<(i64, i64), StorageError> {
    let unfiltered =
        filter.event_type.is_none() && filter.path.is_none() && filter.rollup_friendly();
    if unfiltered && range.on_hours() {
        let row: (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT sum(sessions)::bigint, sum(bounced)::bigint FROM rollup_sessions_hour \
             WHERE project_id = $1 AND bucket >= $2 AND bucket < $3",
        )
        .bind(project)
        .bind(range.from)
        .bind(range.to)
        .fetch_one(db.read_pool())
        .await?;
        return Ok((row.0.unwrap_or(0), row.1.unwrap_or(0)));
    }
    if unfiltered {
        let row: (i64, i64) = sqlx::query_as(
            "SELECT count(*)::bigint, (count(*) FILTER (WHERE page_views <= 1))::bigint FROM sessions \
             WHERE project_id = $1 AND started_at >= $2 AND started_at < $3",
        )
        .bind(project)
        .bind(range.from)
        .bind(range.to)
        .fetch_one(db.read_pool())
        .await?;
        return Ok(row);
    }
    let (conds, binds) = filter.raw_conditions(4);
    let sql = format!(
        "SELECT count(*)::bigint, (count(*) FILTER (WHERE page_views <= 1))::bigint FROM sessions \
         WHERE project_id = $1 AND session_id IN (SELECT session_id FROM activities \
           WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND session_id IS NOT NULL{conds})"
    );
    let mut q = sqlx::query_as::<_, (i64, i64)>(&sql)
        .bind(project)
        .bind(range.from)
        .bind(range.to);
    for b in binds {
        q = q.bind(b);
    }
    Ok(q.fetch_one(db.read_pool()).await?)
}

/// Page views that reported scrolling, and the sum of their maximum depths.
async fn scroll_totals(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
) -> Result<(i64, i64), StorageError> {
    if range.on_hours() && filter.rollup_friendly() {
        let s = range.split();
        let row: (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT sum(views)::bigint, sum(depth_sum)::bigint FROM (\
               SELECT views, depth_sum FROM rollup_scroll_day WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 AND path = $8 \
               UNION ALL \
               SELECT views, depth_sum FROM rollup_scroll_hour WHERE project_id = $1 AND path = $8 \
                 AND ((bucket >= $4 AND bucket < $5) OR (bucket >= $6 AND bucket < $7))) t",
        )
        .bind(project)
        .bind(s.days.0)
        .bind(s.days.1)
        .bind(s.head.0)
        .bind(s.head.1)
        .bind(s.tail.0)
        .bind(s.tail.1)
        // '*' holds the site-wide totals.
        .bind(filter.path.as_deref().unwrap_or("*"))
        .fetch_one(db.read_pool())
        .await?;
        return Ok((row.0.unwrap_or(0), row.1.unwrap_or(0)));
    }
    let scroll_only = Filter {
        event_type: None,
        ..filter.clone()
    };
    let (conds, binds) = scroll_only.raw_conditions(4);
    let sql = format!(
        "SELECT (count(*) FILTER (WHERE p = 0))::bigint, COALESCE(sum(GREATEST(d - p, 0)), 0)::bigint FROM (\
           SELECT LEAST(GREATEST(COALESCE(sightline_int(metadata->>'depth'), 0), 0), 100) AS d, \
                  LEAST(GREATEST(COALESCE(sightline_int(metadata->>'prev'), 0), 0), 100) AS p \
           FROM activities WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3 \
             AND event_type = 'page.scroll'{conds}) t"
    );
    let mut q = sqlx::query_as::<_, (i64, i64)>(&sql)
        .bind(project)
        .bind(range.from)
        .bind(range.to);
    for b in binds {
        q = q.bind(b);
    }
    Ok(q.fetch_one(db.read_pool()).await?)
}

/// What a time series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Events,
    PageViews,
    Clicks,
    UniqueUsers,
    Sessions,
}

/// One value per bucket start (zeros included), in the range's time zone.
pub async fn timeseries(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    metric: Metric,
    interval: Interval,
) -> Result<Vec<(DateTime<Utc>, f64)>, StorageError> {
    let buckets = interval.buckets(range, MAX_BUCKETS)?;
    let mut filter = filter.clone();
    match metric {
        Metric::PageViews => filter.event_type = Some("page.view".into()),
        Metric::Clicks => filter.event_type = Some("element.click".into()),
        _ => {}
    }
    // Rollup rows are whole UTC hours: usable when every bucket edge is one.
    let hour_edges = range.on_hours() && buckets.iter().all(|b| b.minute() == 0 && b.second() == 0);
    let rows: Vec<(DateTime<Utc>, f64)> = match metric {
        Metric::Events | Metric::PageViews | Metric::Clicks => {
            if interval == Interval::Minute
                && filter.rollup_friendly()
                && filter.path.is_none()
                && whole_minutes(range)
            {
                sqlx::query_as(
                    "SELECT bucket, sum(events)::float8 FROM rollup_minute \
                     WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 AND ($4::text IS NULL OR event_type = $4) \
                     GROUP BY 1",
                )
                .bind(project)
                .bind(range.from)
                .bind(range.to)
                .bind(filter.event_type.as_deref())
                .fetch_all(db.read_pool())
                .await?
            } else if interval != Interval::Minute && hour_edges && filter.rollup_friendly() {
                let dim = if filter.path.is_some() { "path" } else { "" };
                sqlx::query_as(
                    "SELECT date_trunc($5, bucket, $6), sum(events)::float8 FROM rollup_hour \
                     WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 AND dim = $4 \
                       AND ($7::text IS NULL OR key = $7) AND ($8::text IS NULL OR event_type = $8) \
                     GROUP BY 1",
                )
                .bind(project)
                .bind(range.from)
                .bind(range.to)
                .bind(dim)
                .bind(interval.sql())
                .bind(range.tz.name())
                .bind(filter.path.as_deref())
                .bind(filter.event_type.as_deref())
                .fetch_all(db.read_pool())
                .await?
            } else {
                raw_series(db, project, range, &filter, interval, "count(*)::float8").await?
            }
        }
        Metric::UniqueUsers | Metric::Sessions => {
            let sketch = if metric == Metric::UniqueUsers {
                "actors"
            } else {
                "sessions"
            };
            let plain =
                filter.rollup_friendly() && filter.path.is_none() && filter.event_type.is_none();
            if interval != Interval::Minute && hour_edges && plain {
                let sql = format!(
                    "SELECT date_trunc($4, bucket, $5), hll_cardinality(hll_union_agg({sketch}))::float8 \
                     FROM rollup_uniques_hour WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1"
                );
                sqlx::query_as(&sql)
                    .bind(project)
                    .bind(range.from)
                    .bind(range.to)
                    .bind(interval.sql())
                    .bind(range.tz.name())
                    .fetch_all(db.read_pool())
                    .await?
            } else {
                let expr = if metric == Metric::UniqueUsers {
                    "count(DISTINCT COALESCE(user_id, anonymous_id))::float8"
                } else {
                    "count(DISTINCT session_id)::float8"
                };
                raw_series(db, project, range, &filter, interval, expr).await?
            }
        }
    };
    let mut values: std::collections::HashMap<DateTime<Utc>, f64> = rows.into_iter().collect();
    Ok(buckets
        .into_iter()
        .map(|b| (b, values.remove(&b).unwrap_or(0.0)))
        .collect())
}

fn whole_minutes(range: &Range) -> bool {
    range.from.second() == 0
        && range.from.nanosecond() == 0
        && range.to.second() == 0
        && range.to.nanosecond() == 0
}

async fn raw_series(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    interval: Interval,
    value: &str,
) -> Result<Vec<(DateTime<Utc>, f64)>, StorageError> {
    let (conds, binds) = filter.raw_conditions(6);
    let sql = format!(
        "SELECT date_trunc($4, occurred_at, $5), {value} FROM activities \
         WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3{conds} GROUP BY 1"
    );
    let mut q = sqlx::query_as::<_, (DateTime<Utc>, f64)>(&sql)
        .bind(project)
        .bind(range.from)
        .bind(range.to)
        .bind(interval.sql())
        .bind(range.tz.name());
    for b in binds {
        q = q.bind(b);
    }
    Ok(q.fetch_all(db.read_pool()).await?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveUsers {
    pub dau: i64,
    pub wau: i64,
    pub mau: i64,
}

/// Distinct actors on the UTC day of `at` and the 7 and 30 days ending with it (HyperLogLog
/// day sketches; exact while a day holds few hundred actors).
pub async fn active_users(
    db: &Db,
    project: Uuid,
    at: DateTime<Utc>,
) -> Result<ActiveUsers, StorageError> {
    let day = super::floor_day(at);
    let row: (Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT hll_cardinality(hll_union_agg(actors) FILTER (WHERE bucket = $2)), \
                hll_cardinality(hll_union_agg(actors) FILTER (WHERE bucket >= $3)), \
                hll_cardinality(hll_union_agg(actors)) \
         FROM rollup_uniques_day WHERE project_id = $1 AND bucket >= $4 AND bucket <= $2",
    )
    .bind(project)
    .bind(day)
    .bind(day - Duration::days(6))
    .bind(day - Duration::days(29))
    .fetch_one(db.read_pool())
    .await?;
    let n = |v: Option<f64>| v.unwrap_or(0.0).round() as i64;
    Ok(ActiveUsers {
        dau: n(row.0),
        wau: n(row.1),
        mau: n(row.2),
    })
}
