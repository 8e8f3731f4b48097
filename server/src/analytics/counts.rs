//! Counting queries: overview, grouped counts (top pages, elements, referrers...), time series
//! and active users. Rollups answer whenever the range and filter allow; raw rows otherwise.

use chrono::{DateTime, Duration, Timelike, Utc};
use sea_orm::FromQueryResult;
use uuid::Uuid;

use super::{
    fetch_all, fetch_one, raw_values, Count, Filter, Interval, KeyCount, Range, RangeError,
};
use crate::storage::{Db, StorageError};

/// Below this many events in the range, unique counts are computed exactly from raw rows; above
/// it they come from HyperLogLog sketches (standard error 1.6%).
pub const EXACT_UNIQUES_UP_TO: i64 = 100_000;
/// Most buckets one time series may have.
pub const MAX_BUCKETS: usize = 2000;

const GROUPED_ROLLUP: &str = include_str!("sql/grouped_rollup.sql");
const GROUPED_RAW: &str = include_str!("sql/grouped_raw.sql");
const UNIQUES_SKETCH: &str = include_str!("sql/uniques_sketch.sql");
const UNIQUES_RAW: &str = include_str!("sql/uniques_raw.sql");
const SESSIONS_ROLLUP: &str = include_str!("sql/sessions_rollup.sql");
const SESSIONS_STARTED: &str = include_str!("sql/sessions_started.sql");
const SESSIONS_MATCHING: &str = include_str!("sql/sessions_matching.sql");
const SCROLL_TOTALS_ROLLUP: &str = include_str!("sql/scroll_totals_rollup.sql");
const SCROLL_TOTALS_RAW: &str = include_str!("sql/scroll_totals_raw.sql");
const SERIES_MINUTE: &str = include_str!("sql/series_minute.sql");
const SERIES_HOUR: &str = include_str!("sql/series_hour.sql");
const SERIES_UNIQUES_HOUR: &str = include_str!("sql/series_uniques_hour.sql");
const SERIES_RAW: &str = include_str!("sql/series_raw.sql");
const ACTIVE_USERS: &str = include_str!("sql/active_users.sql");

/// The statements of this module over raw events (they share `raw_values`' filter clause).
#[cfg(test)]
pub(super) const RAW_STATEMENTS: &[(&str, &str)] = &[
    ("grouped_raw.sql", GROUPED_RAW),
    ("uniques_raw.sql", UNIQUES_RAW),
    ("sessions_matching.sql", SESSIONS_MATCHING),
    ("scroll_totals_raw.sql", SCROLL_TOTALS_RAW),
    ("series_raw.sql", SERIES_RAW),
];

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
    /// The rollup dimension holding this grouping (`rollup_hour.dim`, the `dim` argument of
    /// `sightline_dim_key`); `''` is the totals dimension, grouped by type.
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
    /// Unique visitors, one per person across identities (`audience::visitors`).
    pub visitors: i64,
    pub visitors_exact: bool,
    /// Bot events the answer leaves out.
    pub bot_events: i64,
    /// Visits (a session's matching events in the range), their mean page views and mean
    /// duration in seconds (`analytics::visits`).
    pub visits: i64,
    pub views_per_visit: f64,
    pub avg_visit_duration: f64,
}

/// Counts grouped by `group`, largest first.
pub async fn grouped(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    group: GroupBy,
    limit: i64,
) -> Result<Vec<KeyCount>, StorageError> {
    let limit = limit.clamp(1, 1000);
    let by_type = group == GroupBy::EventType;
    let path_ok = filter.path.is_none() || matches!(group, GroupBy::EventType | GroupBy::Path);
    if range.on_hours() && filter.rollup_friendly() && path_ok {
        // A path filter reads the path dimension's row of that path (grouped by type, or the
        // path itself); otherwise the grouping's own dimension, every key.
        let (dim, key) = match &filter.path {
            Some(p) => ("path", Some(p.clone())),
            None => (group.dim(), None),
        };
        let mut values = vec![project.into()];
        values.extend(range.split().values());
        values.extend([
            dim.into(),
            key.into(),
            filter.event_type.clone().into(),
            by_type.into(),
            limit.into(),
        ]);
        return fetch_all(db, GROUPED_ROLLUP, values).await;
    }
    let mut values = raw_values(project, range, filter);
    values.extend([by_type.into(), group.dim().into(), limit.into()]);
    fetch_all(db, GROUPED_RAW, values).await
}

/// The headline figures. `with_visits`: also the visit figures (`visits`, `viewsPerVisit`,
/// `avgVisitDuration`), which read raw events; without, they are 0 (callers ask only when the
/// client selected them).
pub async fn overview(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    with_visits: bool,
) -> Result<Overview, StorageError> {
    // Independent reads: run them at once on the pool, so the answer takes the slowest one's
    // time rather than the sum.
    let (by_type, sessions, scroll, bot_events, visits) = tokio::try_join!(
        grouped(db, project, range, filter, GroupBy::EventType, 1000),
        sessions(db, project, range, filter),
        scroll_totals(db, project, range, filter),
        super::audience::bot_events(db, project, range, filter),
        async {
            if with_visits {
                super::visits::totals(db, project, range, filter).await
            } else {
                Ok(super::visits::VisitRow::none(""))
            }
        },
    )?;
    let events: i64 = by_type.iter().map(|r| r.count).sum();
    let page_views = by_type
        .iter()
        .find(|r| r.key == "page.view")
        .map_or(0, |r| r.count);
    // Needs the event count: exact below a threshold, sketched above it.
    let ((unique_users, unique_users_exact), (visitors, visitors_exact)) = tokio::try_join!(
        unique_actors(db, project, range, filter, events),
        super::audience::visitors(db, project, range, filter, events, EXACT_UNIQUES_UP_TO),
    )?;
    let sessions_n = sessions.sessions.unwrap_or(0);
    let views = scroll.views.unwrap_or(0);
    Ok(Overview {
        events,
        unique_users,
        unique_users_exact,
        sessions: sessions_n,
        page_views,
        bounce_rate: ratio(sessions.bounced.unwrap_or(0), sessions_n),
        avg_scroll_depth: ratio(scroll.depth_sum.unwrap_or(0), views),
        visitors,
        visitors_exact,
        bot_events,
        visits: visits.visits,
        views_per_visit: visits.views_per_visit(),
        avg_visit_duration: visits.avg_duration(),
    })
}

fn ratio(a: i64, b: i64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// An estimate from HyperLogLog sketches (NULL over no sketch).
#[derive(FromQueryResult)]
struct Estimate {
    n: Option<f64>,
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
        let mut values = vec![project.into()];
        values.extend(range.split().values());
        let e: Estimate = fetch_one(db, UNIQUES_SKETCH, values).await?;
        return Ok((e.n.unwrap_or(0.0).round() as i64, false));
    }
    let c: Count = fetch_one(db, UNIQUES_RAW, raw_values(project, range, filter)).await?;
    Ok((c.n, true))
}

/// Sessions, and those that bounced; sums over no rows are NULL.
#[derive(FromQueryResult)]
struct Sessions {
    sessions: Option<i64>,
    bounced: Option<i64>,
}

/// Sessions and bounced sessions (at most one page view). Unfiltered: sessions *started* in the
/// range (`rollup_sessions_hour` on whole hours, else the `sessions` table). Filtered: sessions
/// with a matching event in the range.
async fn sessions(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
) -> Result<Sessions, StorageError> {
    let unfiltered =
        filter.event_type.is_none() && filter.path.is_none() && filter.rollup_friendly();
    if unfiltered {
        let sql = if range.on_hours() {
            SESSIONS_ROLLUP
        } else {
            SESSIONS_STARTED
        };
        let values = vec![project.into(), range.from.into(), range.to.into()];
        return fetch_one(db, sql, values).await;
    }
    fetch_one(db, SESSIONS_MATCHING, raw_values(project, range, filter)).await
}

/// Page views that reported scrolling, and the sum of their maximum depths.
#[derive(FromQueryResult)]
struct ScrollTotals {
    views: Option<i64>,
    depth_sum: Option<i64>,
}

async fn scroll_totals(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
) -> Result<ScrollTotals, StorageError> {
    if range.on_hours() && filter.rollup_friendly() {
        let mut values = vec![project.into()];
        values.extend(range.split().values());
        // '*' holds the site-wide totals.
        values.push(filter.path.as_deref().unwrap_or("*").into());
        return fetch_one(db, SCROLL_TOTALS_ROLLUP, values).await;
    }
    // Scroll reports are their own event type: a type filter does not narrow them.
    let scroll_only = Filter {
        event_type: None,
        ..filter.clone()
    };
    fetch_one(
        db,
        SCROLL_TOTALS_RAW,
        raw_values(project, range, &scroll_only),
    )
    .await
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

/// A time series to draw: a metric over a range in buckets of an interval, at most
/// [`MAX_BUCKETS`] of them. Only [`Series::new`] builds one.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    range: Range,
    metric: Metric,
    interval: Interval,
    /// Bucket starts in the range's time zone, so empty buckets appear as zeros.
    buckets: Vec<DateTime<Utc>>,
}

/// Why a series was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    #[error(transparent)]
    Range(#[from] RangeError),
    #[error(
        "too many {interval} buckets for this range (at most {MAX_BUCKETS}): use a wider interval"
    )]
    TooManyBuckets { interval: &'static str },
}

impl Series {
    pub fn new(range: Range, metric: Metric, interval: Interval) -> Result<Self, SeriesError> {
        let buckets = interval
            .buckets(&range, MAX_BUCKETS)
            .ok_or(SeriesError::TooManyBuckets {
                interval: interval.sql(),
            })?;
        Ok(Self {
            range,
            metric,
            interval,
            buckets,
        })
    }

    pub fn range(&self) -> &Range {
        &self.range
    }
}

/// One bucket's value.
#[derive(FromQueryResult)]
struct Point {
    bucket: DateTime<Utc>,
    value: f64,
}

/// One value per bucket start (zeros included), in the range's time zone.
pub async fn timeseries(
    db: &Db,
    project: Uuid,
    series: &Series,
    filter: &Filter,
) -> Result<Vec<(DateTime<Utc>, f64)>, StorageError> {
    let Series {
        range,
        metric,
        interval,
        buckets,
    } = series;
    let (metric, interval) = (*metric, *interval);
    let mut filter = filter.clone();
    match metric {
        Metric::PageViews => filter.event_type = Some("page.view".into()),
        Metric::Clicks => filter.event_type = Some("element.click".into()),
        _ => {}
    }
    // Rollup rows are whole UTC hours: usable when every bucket edge is one.
    let hour_edges = range.on_hours() && buckets.iter().all(|b| b.minute() == 0 && b.second() == 0);
    let span =
        || -> Vec<sea_orm::Value> { vec![project.into(), range.from.into(), range.to.into()] };
    let rows: Vec<Point> = match metric {
        Metric::Events | Metric::PageViews | Metric::Clicks => {
            if interval == Interval::Minute
                && filter.rollup_friendly()
                && filter.path.is_none()
                && whole_minutes(range)
            {
                let mut values = span();
                values.push(filter.event_type.clone().into());
                fetch_all(db, SERIES_MINUTE, values).await?
            } else if interval != Interval::Minute && hour_edges && filter.rollup_friendly() {
                let dim = if filter.path.is_some() { "path" } else { "" };
                let mut values = span();
                values.extend([
                    dim.into(),
                    interval.sql().into(),
                    range.tz.name().into(),
                    filter.path.clone().into(),
                    filter.event_type.clone().into(),
                ]);
                fetch_all(db, SERIES_HOUR, values).await?
            } else {
                raw_series(db, project, range, &filter, interval, "events").await?
            }
        }
        Metric::UniqueUsers | Metric::Sessions => {
            let measure = if metric == Metric::UniqueUsers {
                "actors"
            } else {
                "sessions"
            };
            let plain =
                filter.rollup_friendly() && filter.path.is_none() && filter.event_type.is_none();
            if interval != Interval::Minute && hour_edges && plain {
                let mut values = span();
                values.extend([
                    interval.sql().into(),
                    range.tz.name().into(),
                    measure.into(),
                ]);
                fetch_all(db, SERIES_UNIQUES_HOUR, values).await?
            } else {
                raw_series(db, project, range, &filter, interval, measure).await?
            }
        }
    };
    let mut values: std::collections::HashMap<DateTime<Utc>, f64> =
        rows.into_iter().map(|p| (p.bucket, p.value)).collect();
    Ok(buckets
        .iter()
        .map(|b| (*b, values.remove(b).unwrap_or(0.0)))
        .collect())
}

fn whole_minutes(range: &Range) -> bool {
    range.from.second() == 0
        && range.from.nanosecond() == 0
        && range.to.second() == 0
        && range.to.nanosecond() == 0
}

/// `measure`: `events`, `actors` or `sessions` (`series_raw.sql`'s `$11`).
async fn raw_series(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    interval: Interval,
    measure: &'static str,
) -> Result<Vec<Point>, StorageError> {
    let mut values = raw_values(project, range, filter);
    values.extend([
        interval.sql().into(),
        range.tz.name().into(),
        measure.into(),
    ]);
    fetch_all(db, SERIES_RAW, values).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveUsers {
    pub dau: i64,
    pub wau: i64,
    pub mau: i64,
}

/// The three estimates (NULL over no sketch).
#[derive(FromQueryResult)]
struct ActiveRow {
    dau: Option<f64>,
    wau: Option<f64>,
    mau: Option<f64>,
}

/// Distinct actors on the UTC day of `at` and the 7 and 30 days ending with it (HyperLogLog
/// day sketches; exact while a day holds few hundred actors).
pub async fn active_users(
    db: &Db,
    project: Uuid,
    at: DateTime<Utc>,
) -> Result<ActiveUsers, StorageError> {
    let day = super::floor_day(at);
    let values = vec![
        project.into(),
        day.into(),
        (day - Duration::days(6)).into(),
        (day - Duration::days(29)).into(),
    ];
    let row: ActiveRow = fetch_one(db, ACTIVE_USERS, values).await?;
    let n = |v: Option<f64>| v.unwrap_or(0.0).round() as i64;
    Ok(ActiveUsers {
        dau: n(row.dau),
        wau: n(row.wau),
        mau: n(row.mau),
    })
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz;

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn a_series_has_at_most_max_buckets() {
        let day = Range::new(
            t("2026-11-01T00:00:00Z"),
            t("2026-11-02T00:00:00Z"),
            Tz::UTC,
        )
        .expect("a range");
        let s = Series::new(day, Metric::Events, Interval::Hour).expect("24 buckets");
        assert_eq!(s.buckets.len(), 24);
        let month = Range::new(
            t("2026-10-01T00:00:00Z"),
            t("2026-11-01T00:00:00Z"),
            Tz::UTC,
        )
        .expect("a range");
        assert_eq!(
            Series::new(month, Metric::Events, Interval::Minute),
            Err(SeriesError::TooManyBuckets { interval: "minute" })
        );
        assert!(Series::new(month, Metric::Sessions, Interval::Hour).is_ok());
    }
}
