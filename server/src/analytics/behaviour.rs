//! How people move through a site: scroll depth per page, funnels and retention cohorts.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use super::Range;
use crate::storage::{Db, StorageError};

/// Most steps a funnel may have.
pub const MAX_FUNNEL_STEPS: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct ScrollDepth {
    pub path: String,
    pub views: i64,
    pub avg_depth: f64,
    pub reached: [i64; 4],
}

/// Scroll depth per page (page views that scrolled, their average maximum depth, and how many
/// reached 25/50/75/100%), most viewed first. From `rollup_scroll_hour` on whole hours; the same
/// arithmetic over raw `page.scroll` events otherwise.
pub async fn scroll_depth(
    db: &Db,
    project: Uuid,
    range: &Range,
    path: Option<&str>,
    limit: i64,
) -> Result<Vec<ScrollDepth>, StorageError> {
    let source = if range.on_hours() {
        let s = range.split();
        let q = |t: &str, a: &DateTime<Utc>, b: &DateTime<Utc>| {
            format!(
                "SELECT path, views, depth_sum, reached25, reached50, reached75, reached100 FROM {t} \
                 WHERE project_id = $1 AND path <> '*' AND bucket >= '{}' AND bucket < '{}'",
                a.to_rfc3339(),
                b.to_rfc3339()
            )
        };
        format!(
            "{} UNION ALL {} UNION ALL {}",
            q("rollup_scroll_day", &s.days.0, &s.days.1),
            q("rollup_scroll_hour", &s.head.0, &s.head.1),
            q("rollup_scroll_hour", &s.tail.0, &s.tail.1)
        )
    } else {
        "SELECT COALESCE(path, '') AS path, (p = 0)::int AS views, GREATEST(d - p, 0) AS depth_sum, \
                (p < 25 AND d >= 25)::int AS reached25, (p < 50 AND d >= 50)::int AS reached50, \
                (p < 75 AND d >= 75)::int AS reached75, (p < 100 AND d >= 100)::int AS reached100 \
         FROM (SELECT path, LEAST(GREATEST(COALESCE(sightline_int(metadata->>'depth'), 0), 0), 100) AS d, \
                      LEAST(GREATEST(COALESCE(sightline_int(metadata->>'prev'), 0), 0), 100) AS p \
               FROM activities WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3 \
                 AND event_type = 'page.scroll') e"
            .to_string()
    };
    let sql = format!(
        "SELECT path, sum(views)::bigint, sum(depth_sum)::bigint, sum(reached25)::bigint, sum(reached50)::bigint, \
                sum(reached75)::bigint, sum(reached100)::bigint \
         FROM ({source}) s WHERE ($4::text IS NULL OR path = $4) GROUP BY path HAVING sum(views) > 0 \
         ORDER BY 2 DESC, 1 LIMIT $5"
    );
    let rows: Vec<(String, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(&sql)
        .bind(project)
        .bind(range.from)
        .bind(range.to)
        .bind(path)
        .bind(limit.clamp(1, 500))
        .fetch_all(db.read_pool())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(path, views, sum, r25, r50, r75, r100)| ScrollDepth {
            path,
            views,
            avg_depth: if views == 0 {
                0.0
            } else {
                sum as f64 / views as f64
            },
            reached: [r25, r50, r75, r100],
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub event_type: String,
    pub path: Option<String>,
}

/// Actors (user id, else anonymous id) reaching each step in order. An actor enters at their
/// first step-1 event in the range; each later step must follow the previous one and happen
/// within `window` of the entry (and before the range ends).
pub async fn funnel(
    db: &Db,
    project: Uuid,
    range: &Range,
    steps: &[Step],
    window: Duration,
) -> Result<Vec<i64>, StorageError> {
    if steps.is_empty() || steps.len() > MAX_FUNNEL_STEPS {
        return Err(StorageError::Invalid(format!(
            "a funnel has 1 to {MAX_FUNNEL_STEPS} steps"
        )));
    }
    if window <= Duration::zero() || window > Duration::days(90) {
        return Err(StorageError::Invalid(
            "windowSeconds must be between 1 and 90 days".into(),
        ));
    }
    // $1 project, $2 from, $3 to, $4 window seconds, then (type, path) per step.
    let step_events = |i: usize| {
        let t = 5 + 2 * i;
        format!(
            "SELECT COALESCE(user_id, anonymous_id) AS actor, occurred_at AS t FROM activities \
             WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3 \
               AND event_type = ${t} AND (${p}::text IS NULL OR path = ${p}) \
               AND COALESCE(user_id, anonymous_id) IS NOT NULL",
            p = t + 1
        )
    };
    let mut sql = format!(
        "WITH s0 AS (SELECT actor, min(t) AS entry, min(t) AS t FROM ({}) e GROUP BY actor)",
        step_events(0)
    );
    for i in 1..steps.len() {
        sql.push_str(&format!(
            ", s{i} AS (SELECT p.actor, p.entry, min(e.t) AS t FROM s{prev} p JOIN ({events}) e \
                ON e.actor = p.actor AND e.t >= p.t AND e.t <= p.entry + make_interval(secs => $4) \
                GROUP BY p.actor, p.entry)",
            prev = i - 1,
            events = step_events(i)
        ));
    }
    let counts: Vec<String> = (0..steps.len())
        .map(|i| format!("(SELECT count(*) FROM s{i})::bigint"))
        .collect();
    sql.push_str(&format!(" SELECT ARRAY[{}]", counts.join(", ")));
    let mut q = sqlx::query_as::<_, (Vec<i64>,)>(&sql)
        .bind(project)
        .bind(range.from)
        .bind(range.to)
        .bind(window.num_seconds() as f64);
    for s in steps {
        q = q.bind(&s.event_type).bind(s.path.as_deref());
    }
    Ok(q.fetch_one(db.read_pool()).await?.0)
}

/// Cohort length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohort {
    pub start: NaiveDate,
    pub size: i64,
    /// Actors of the cohort active in period k after it (k = 0 is the cohort's own period).
    pub retained: Vec<i64>,
}

/// Cohorts of actors by the UTC day (or ISO week) they were first seen, for cohorts starting in
/// the range, with how many came back in each following period (from `actor_activity`).
pub async fn retention(
    db: &Db,
    project: Uuid,
    range: &Range,
    period: Period,
    periods: usize,
) -> Result<Vec<Cohort>, StorageError> {
    let periods = periods.clamp(1, 52);
    let step = match period {
        Period::Day => 1,
        Period::Week => 7,
    };
    let from = range.from.date_naive();
    let to = (range.to - Duration::nanoseconds(1)).date_naive();
    // One pass over the cohort actors' rows: period k counts the actors with bit k of their
    // day (or week) mask set. Bit 0 is the first period itself, so retained[0] is the size.
    let counts: Vec<String> = (0..periods)
        .map(|k| format!("count(*) FILTER (WHERE m & (1::bigint << {k}) <> 0)"))
        .collect();
    let sql = format!(
        "SELECT c, ARRAY[{}]::bigint[] FROM (\
           SELECT CASE WHEN $4 = 7 THEN sightline_week(first_day) ELSE first_day END AS c, \
                  CASE WHEN $4 = 7 THEN weeks ELSE days END AS m \
           FROM actor_activity WHERE project_id = $1 AND first_day >= $2 AND first_day <= $3) a \
         GROUP BY c ORDER BY c",
        counts.join(", ")
    );
    let rows: Vec<(NaiveDate, Vec<i64>)> = sqlx::query_as(&sql)
        .bind(project)
        .bind(from)
        .bind(to)
        .bind(step)
        .fetch_all(db.read_pool())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(start, retained)| Cohort {
            start,
            size: retained.first().copied().unwrap_or(0),
            retained,
        })
        .collect())
}

/// A cohort start as an instant (UTC midnight), for the API.
pub fn day_start(d: NaiveDate) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(d.and_hms_opt(0, 0, 0).unwrap_or_default(), Utc)
}
