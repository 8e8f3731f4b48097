//! How people move through a site: scroll depth per page, funnels and retention cohorts.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::FromQueryResult;
use uuid::Uuid;

use super::{fetch_all, fetch_one, Range};
use crate::storage::{Db, StorageError};

/// Most steps a funnel may have.
pub const MAX_FUNNEL_STEPS: usize = 8;
/// Longest time a funnel's actors have from entering to its last step.
pub const MAX_FUNNEL_WINDOW_DAYS: i64 = 90;
const MAX_FUNNEL_WINDOW_SECONDS: i64 = MAX_FUNNEL_WINDOW_DAYS * 86_400;

const SCROLL_DEPTH_ROLLUP: &str = include_str!("sql/scroll_depth_rollup.sql");
const SCROLL_DEPTH_RAW: &str = include_str!("sql/scroll_depth_raw.sql");
const RETENTION: &str = include_str!("sql/retention.sql");

#[derive(Debug, Clone, PartialEq)]
pub struct ScrollDepth {
    pub path: String,
    pub views: i64,
    pub avg_depth: f64,
    pub reached: [i64; 4],
}

#[derive(FromQueryResult)]
struct ScrollRow {
    path: String,
    views: i64,
    depth_sum: i64,
    reached25: i64,
    reached50: i64,
    reached75: i64,
    reached100: i64,
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
    let path = path.map(str::to_string);
    let limit = limit.clamp(1, 500);
    let rows: Vec<ScrollRow> = if range.on_hours() {
        let mut values = vec![project.into()];
        values.extend(range.split().values());
        values.extend([path.into(), limit.into()]);
        fetch_all(db, SCROLL_DEPTH_ROLLUP, values).await?
    } else {
        let values = vec![
            project.into(),
            range.from.into(),
            range.to.into(),
            path.into(),
            limit.into(),
        ];
        fetch_all(db, SCROLL_DEPTH_RAW, values).await?
    };
    Ok(rows
        .into_iter()
        .map(|r| ScrollDepth {
            path: r.path,
            views: r.views,
            avg_depth: if r.views == 0 {
                0.0
            } else {
                r.depth_sum as f64 / r.views as f64
            },
            reached: [r.reached25, r.reached50, r.reached75, r.reached100],
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub event_type: String,
    pub path: Option<String>,
}

/// A funnel to measure: 1 to [`MAX_FUNNEL_STEPS`] steps, and how long after entering an actor
/// may reach the later ones (a second to [`MAX_FUNNEL_WINDOW_DAYS`]). Only [`Funnel::new`]
/// builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funnel {
    steps: Vec<Step>,
    window: Duration,
}

/// Why a funnel was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunnelError {
    #[error("a funnel has 1 to {MAX_FUNNEL_STEPS} steps, not {0}")]
    StepCount(usize),
    #[error(
        "windowSeconds must be between 1 and {MAX_FUNNEL_WINDOW_SECONDS} \
         ({MAX_FUNNEL_WINDOW_DAYS} days), not {0}"
    )]
    Window(i64),
}

impl Funnel {
    pub fn new(steps: Vec<Step>, window: Duration) -> Result<Self, FunnelError> {
        if steps.is_empty() || steps.len() > MAX_FUNNEL_STEPS {
            return Err(FunnelError::StepCount(steps.len()));
        }
        if window < Duration::seconds(1) || window > Duration::days(MAX_FUNNEL_WINDOW_DAYS) {
            return Err(FunnelError::Window(window.num_seconds()));
        }
        Ok(Self { steps, window })
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}

#[derive(FromQueryResult)]
struct FunnelCounts {
    users: Vec<i64>,
}

/// Actors (people: user id, or the user an anonymous id is linked to, else anonymous id; bots
/// left out) reaching each step in order. An actor enters at their
/// first step-1 event in the range; each later step must follow the previous one and happen
/// within the funnel's window of the entry (and before the range ends).
pub async fn funnel(
    db: &Db,
    project: Uuid,
    range: &Range,
    funnel: &Funnel,
) -> Result<Vec<i64>, StorageError> {
    // One CTE per step, so the statement is written here for the number of steps.
    // $1 project, $2 from, $3 to, $4 window seconds, then (type, path) per step.
    let step_events = |i: usize| {
        let t = 5 + 2 * i;
        // The actor is the person: an anonymous id linked to a user (`identities`) counts as
        // that user, so the steps before a sign-up and after it are one actor's. Bots are out.
        format!(
            "SELECT COALESCE(i.user_id, a.user_id, a.anonymous_id) AS actor, a.occurred_at AS t \
             FROM activities a LEFT JOIN identities i \
               ON i.project_id = a.project_id AND i.anonymous_id = a.anonymous_id \
             WHERE a.project_id = $1 AND a.occurred_at >= $2 AND a.occurred_at < $3 \
               AND a.event_type = ${t} AND (${p}::text IS NULL OR a.path = ${p}) \
               AND COALESCE(a.user_id, a.anonymous_id) IS NOT NULL AND NOT a.is_bot",
            p = t + 1
        )
    };
    let mut sql = format!(
        "WITH s0 AS (SELECT actor, min(t) AS entry, min(t) AS t FROM ({}) e GROUP BY actor)",
        step_events(0)
    );
    for i in 1..funnel.steps.len() {
        sql.push_str(&format!(
            ", s{i} AS (SELECT p.actor, p.entry, min(e.t) AS t FROM s{prev} p JOIN ({events}) e \
                ON e.actor = p.actor AND e.t >= p.t AND e.t <= p.entry + make_interval(secs => $4) \
                GROUP BY p.actor, p.entry)",
            prev = i - 1,
            events = step_events(i)
        ));
    }
    let counts: Vec<String> = (0..funnel.steps.len())
        .map(|i| format!("(SELECT count(*) FROM s{i})::bigint"))
        .collect();
    sql.push_str(&format!(" SELECT ARRAY[{}] AS users", counts.join(", ")));
    let mut values = vec![
        project.into(),
        range.from.into(),
        range.to.into(),
        (funnel.window.num_seconds() as f64).into(),
    ];
    for s in &funnel.steps {
        values.push(s.event_type.clone().into());
        values.push(s.path.clone().into());
    }
    let row: FunnelCounts = fetch_one(db, &sql, values).await?;
    Ok(row.users)
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

#[derive(FromQueryResult)]
struct CohortRow {
    start: NaiveDate,
    retained: Vec<i64>,
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
    let step: i32 = match period {
        Period::Day => 1,
        Period::Week => 7,
    };
    let from = range.from.date_naive();
    let to = (range.to - Duration::nanoseconds(1)).date_naive();
    // One count per period: the statement's width is the number of periods.
    let counts: Vec<String> = (0..periods)
        .map(|k| format!("count(*) FILTER (WHERE m & (1::bigint << {k}) <> 0)"))
        .collect();
    let sql = RETENTION.replace("{periods}", &counts.join(", "));
    let values = vec![project.into(), from.into(), to.into(), step.into()];
    let rows: Vec<CohortRow> = fetch_all(db, &sql, values).await?;
    Ok(rows
        .into_iter()
        .map(|r| Cohort {
            start: r.start,
            size: r.retained.first().copied().unwrap_or(0),
            retained: r.retained,
        })
        .collect())
}

/// A cohort start as an instant (UTC midnight), for the API.
pub fn day_start(d: NaiveDate) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(d.and_hms_opt(0, 0, 0).unwrap_or_default(), Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(n: usize) -> Vec<Step> {
        (0..n)
            .map(|i| Step {
                event_type: format!("step.{i}"),
                path: None,
            })
            .collect()
    }

    #[test]
    fn funnels_have_one_to_eight_steps_and_a_window_up_to_ninety_days() {
        let day = Duration::days(1);
        assert!(Funnel::new(steps(1), day).is_ok());
        assert!(Funnel::new(steps(MAX_FUNNEL_STEPS), day).is_ok());
        assert_eq!(Funnel::new(steps(0), day), Err(FunnelError::StepCount(0)));
        assert_eq!(Funnel::new(steps(9), day), Err(FunnelError::StepCount(9)));
        assert!(Funnel::new(steps(2), Duration::seconds(1)).is_ok());
        assert!(Funnel::new(steps(2), Duration::days(90)).is_ok());
        assert_eq!(
            Funnel::new(steps(2), Duration::zero()),
            Err(FunnelError::Window(0))
        );
        assert_eq!(
            Funnel::new(steps(2), Duration::seconds(-5)),
            Err(FunnelError::Window(-5))
        );
        assert_eq!(
            Funnel::new(steps(2), Duration::days(90) + Duration::seconds(1)),
            Err(FunnelError::Window(7_776_001))
        );
    }
}
