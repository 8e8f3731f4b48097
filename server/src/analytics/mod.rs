//! Analytics queries: the read side behind the GraphQL API. Each function takes validated types
//! ([`Range`], [`Filter`], [`counts::Series`], [`behaviour::Funnel`], [`people::Page`]), picks the
//! cheapest exact source and returns plain data; it fails only when the database does.
//!
//! Sources, cheapest first (all written by the worker's insert statement, `storage::events`):
//! - `rollup_day` / `rollup_hour` (counts per type and dimension) and `rollup_uniques_*` (HLL);
//!   a range is split into whole UTC days (day table) and edge hours (hour table).
//! - `rollup_minute` for minute series, `rollup_scroll_hour`, `sessions`, `actor_days`.
//! - raw `activities` for drill-down: filters rollups do not carry (user, community), ranges not
//!   on whole hours, funnels, timelines and raw event pages.
//!
//! SQL: every fixed statement is a file in `sql/`, run through SeaORM's connection with bound
//! values. What varies from call to call (an absent filter, the dimension, the measure) is a
//! bound value, not a different text: connections plan each execution with its values
//! (`plan_cache_mode = force_custom_plan`, `storage::connect_one`), so the planner folds
//! `($4::text IS NULL OR event_type = $4)` to nothing or to `event_type = '...'`, and a `CASE`
//! on a parameter to its one branch, and the plan is the one the written-out statement would
//! get (`tests/api/analytics_plans.rs` compares them). Only funnels (one CTE per step) and
//! retention (one column per period) are assembled with `format!`, and bind every value.
//! Statements over raw events share one parameter layout: see [`raw_values`].
//!
//! Invariants: every statement is scoped by `project_id` (the caller was authorized for it in the
//! resolver); reads go to the read connection (a replica when configured); counts from rollups
//! equal counts from raw rows (checked by `sightline rollup verify` and by the API tests); raw
//! dimension keys and scroll arithmetic are the SQL functions the rollups are written with
//! (`sightline_dim_key`, `sightline_scroll_pct`, `sightline_scroll_delta`, migration 0008).

pub mod audience;
pub mod behaviour;
pub mod compare;
pub mod counts;
pub mod goals;
pub mod heatmap;
pub mod journeys;
pub mod people;
pub mod visits;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use sea_orm::{DbBackend, DbErr, FromQueryResult, Statement, Value};
use serde_json::Map;
use uuid::Uuid;

use crate::storage::{Db, StorageError};

/// Longest range a query may span.
pub const MAX_RANGE_DAYS: i64 = 400;

/// A half-open time range `[from, to)` of at most [`MAX_RANGE_DAYS`], and the time zone buckets
/// are cut in. Only [`Range::new`] builds one, so every `Range` is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("range: `from` must be before `to`")]
    NotOrdered,
    #[error("range: at most {MAX_RANGE_DAYS} days")]
    TooLong,
    #[error("unknown time zone `{0}` (use an IANA name such as Europe/Paris)")]
    UnknownTimeZone(String),
}

impl Range {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> Result<Self, RangeError> {
        if from >= to {
            return Err(RangeError::NotOrdered);
        }
        if to - from > Duration::days(MAX_RANGE_DAYS) {
            return Err(RangeError::TooLong);
        }
        Ok(Self { from, to, tz })
    }

    pub fn from(&self) -> DateTime<Utc> {
        self.from
    }

    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Rollups hold whole UTC hours: only ranges on hour boundaries can be answered from them.
    pub fn on_hours(&self) -> bool {
        on_hour(self.from) && on_hour(self.to)
    }

    /// `[from, to)` as whole UTC days inside the range (possibly empty) and the hour-table parts
    /// before and after them. Only meaningful when [`Range::on_hours`].
    pub fn split(&self) -> Split {
        let first_day = ceil_day(self.from);
        let last_day = floor_day(self.to);
        if first_day < last_day {
            Split {
                days: (first_day, last_day),
                head: (self.from, first_day),
                tail: (last_day, self.to),
            }
        } else {
            Split {
                days: (self.from, self.from),
                head: (self.from, self.to),
                tail: (self.to, self.to),
            }
        }
    }
}

/// Which rollup rows cover a range: day rows in `days`, hour rows in `head` and `tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub days: (DateTime<Utc>, DateTime<Utc>),
    pub head: (DateTime<Utc>, DateTime<Utc>),
    pub tail: (DateTime<Utc>, DateTime<Utc>),
}

impl Split {
    /// The six bounds in the order the rollup statements take them: days, head hours, tail
    /// hours.
    fn values(&self) -> [Value; 6] {
        [
            self.days.0.into(),
            self.days.1.into(),
            self.head.0.into(),
            self.head.1.into(),
            self.tail.0.into(),
            self.tail.1.into(),
        ]
    }
}

fn on_hour(t: DateTime<Utc>) -> bool {
    t.minute() == 0 && t.second() == 0 && t.nanosecond() == 0
}

fn floor_day(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn ceil_day(t: DateTime<Utc>) -> DateTime<Utc> {
    let f = floor_day(t);
    if f == t {
        f
    } else {
        f + Duration::days(1)
    }
}

/// Optional narrowing of a query. Rollups carry event type and path; user, community and
/// property filters are answered from raw events. Any strings are valid (a value no event has
/// matches nothing); the property filter is checked when it is built ([`Props::new`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub event_type: Option<String>,
    pub path: Option<String>,
    pub community_id: Option<String>,
    pub user_id: Option<String>,
    /// Events whose properties contain this object (`metadata @> props`, served by the GIN
    /// index on `activities.metadata`).
    pub props: Option<Props>,
    /// Bot traffic counted too (left out by default; the rollups other than the audience
    /// rollup hold no bot events, so this reads raw events).
    pub include_bots: bool,
    /// Dimension filters, all of which an event must pass (`EventFilter.where`).
    pub dims: Option<audience::DimFilters>,
}

impl Filter {
    pub fn rollup_friendly(&self) -> bool {
        self.community_id.is_none()
            && self.user_id.is_none()
            && self.props.is_none()
            && !self.include_bots
            && self.dims.is_none()
    }
}

/// Serialized size of a property filter at most: far above any real filter, far below what
/// would make the containment test itself costly.
pub const MAX_PROPS_FILTER_BYTES: usize = 2048;

/// A property filter: a non-empty JSON object of at most [`MAX_PROPS_FILTER_BYTES`] of JSON,
/// matched by containment (PostgreSQL's `@>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Props(Map<String, serde_json::Value>);

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "filter props must be a JSON object of the properties to match, e.g. {{\"plan\": \"pro\"}}"
    )]
    PropsNotAnObject,
    #[error("filter props is {0} bytes of JSON; at most {MAX_PROPS_FILTER_BYTES}")]
    PropsTooLarge(usize),
    #[error("filter where: {0}")]
    Dimension(#[from] audience::DimensionError),
}

impl Props {
    /// `None` for an empty object (it matches every event); an error for anything but an
    /// object, or one larger than [`MAX_PROPS_FILTER_BYTES`].
    pub fn new(props: serde_json::Value) -> Result<Option<Self>, FilterError> {
        let serde_json::Value::Object(obj) = props else {
            return Err(FilterError::PropsNotAnObject);
        };
        if obj.is_empty() {
            return Ok(None);
        }
        // Measured as JSON text, compact (what `Value::to_string` writes).
        let bytes = serde_json::to_vec(&obj).map_or(usize::MAX, |text| text.len());
        if bytes > MAX_PROPS_FILTER_BYTES {
            return Err(FilterError::PropsTooLarge(bytes));
        }
        Ok(Some(Self(obj)))
    }

    pub fn as_map(&self) -> &Map<String, serde_json::Value> {
        &self.0
    }

    pub fn into_map(self) -> Map<String, serde_json::Value> {
        self.0
    }
}

/// Bind values of the statements over raw events, `$1` to `$10`: project, `from`, `to`, then the
/// filter (event type, path, community, user, properties, each NULL when absent; whether bots
/// count; the dimension filters as JSON, NULL when none). Those statements' `WHERE` clauses all
/// start the same way:
///
/// ```sql
/// WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
///   AND ($4::text IS NULL OR event_type = $4)
///   AND ($5::text IS NULL OR path = $5)
///   AND ($6::text IS NULL OR community_id = $6)
///   AND ($7::text IS NULL OR user_id = $7)
///   AND ($8::jsonb IS NULL OR metadata @> $8)
///   AND (NOT is_bot OR $9)
///   AND ($10::jsonb IS NULL OR sightline_where($10, audience, event_type, path, metadata, sightline_visitor(anonymous_id, user_id), (SELECT sightline_goal_visitors($1, $2, $3, $9, $10))))
/// ```
///
/// and take their own values from `$11` on (a unit test checks each file has that clause).
/// The last line hands `sightline_where` the event's visitor and, computed once per statement
/// (an uncorrelated sub-select), the visitors who converted on the goals a `goal` filter names
/// (NULL without one): a goal filter keeps the events of converting visitors.
fn raw_values(project: Uuid, range: &Range, filter: &Filter) -> Vec<Value> {
    vec![
        project.into(),
        range.from.into(),
        range.to.into(),
        filter.event_type.clone().into(),
        filter.path.clone().into(),
        filter.community_id.clone().into(),
        filter.user_id.clone().into(),
        Value::Json(
            filter
                .props
                .as_ref()
                .map(|p| Box::new(serde_json::Value::Object(p.0.clone()))),
        ),
        filter.include_bots.into(),
        Value::Json(filter.dims.as_ref().map(|d| Box::new(d.to_json()))),
    ]
}

fn statement(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Every row of a read statement, on the read connection.
async fn fetch_all<T: FromQueryResult>(
    db: &Db,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<T>, StorageError> {
    Ok(T::find_by_statement(statement(sql, values))
        .all(&db.read)
        .await?)
}

/// The first row of a read statement, if any.
async fn fetch_optional<T: FromQueryResult>(
    db: &Db,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<T>, StorageError> {
    Ok(T::find_by_statement(statement(sql, values))
        .one(&db.read)
        .await?)
}

/// The one row of an aggregate without `GROUP BY` (which always has exactly one).
async fn fetch_one<T: FromQueryResult>(
    db: &Db,
    sql: &str,
    values: Vec<Value>,
) -> Result<T, StorageError> {
    fetch_optional(db, sql, values)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("an aggregate returned no row".into()).into())
}

/// An exact count.
#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

/// A key and its count, largest first: grouped counts and top lists.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct KeyCount {
    pub key: String,
    pub count: i64,
}

/// Bucket width of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Minute,
    Hour,
    Day,
}

impl Interval {
    /// The unit's name for `date_trunc` (and for messages).
    pub fn sql(self) -> &'static str {
        match self {
            Interval::Minute => "minute",
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }

    /// Bucket starts covering `range` in its time zone (local midnight for days), so empty
    /// buckets appear as zeros; `None` when there would be more than `max`.
    pub fn buckets(self, range: &Range, max: usize) -> Option<Vec<DateTime<Utc>>> {
        let mut out = Vec::new();
        let local = range.from.with_timezone(&range.tz);
        let mut t = match self {
            Interval::Minute => {
                range.from
                    - Duration::seconds(range.from.second() as i64)
                    - Duration::nanoseconds(range.from.nanosecond() as i64)
            }
            Interval::Hour => {
                let m = local.minute() as i64;
                range.from
                    - Duration::minutes(m)
                    - Duration::seconds(range.from.second() as i64)
                    - Duration::nanoseconds(range.from.nanosecond() as i64)
            }
            Interval::Day => local_midnight(range.tz, local.date_naive()),
        };
        while t < range.to {
            if out.len() >= max {
                return None;
            }
            out.push(t);
            t = match self {
                Interval::Minute => t + Duration::minutes(1),
                Interval::Hour => t + Duration::hours(1),
                Interval::Day => {
                    let d = t.with_timezone(&range.tz).date_naive();
                    local_midnight(range.tz, d.succ_opt().unwrap_or(d))
                }
            };
        }
        Some(out)
    }
}

/// The instant a local day starts (the earliest, when DST makes midnight ambiguous; the first
/// existing hour when it makes midnight skipped).
fn local_midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    for h in 0..3 {
        if let Some(t) = tz
            .with_ymd_and_hms(d.year(), d.month(), d.day(), h, 0, 0)
            .earliest()
        {
            return t.with_timezone(&Utc);
        }
    }
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn range(from: &str, to: &str) -> Range {
        Range::new(t(from), t(to), Tz::UTC).expect("a valid range")
    }

    #[test]
    fn split_uses_whole_days_inside_and_hours_at_the_edges() {
        let r = range("2026-11-01T05:00:00Z", "2026-11-04T02:00:00Z");
        let s = r.split();
        assert_eq!(
            s.days,
            (t("2026-11-02T00:00:00Z"), t("2026-11-04T00:00:00Z"))
        );
        assert_eq!(
            s.head,
            (t("2026-11-01T05:00:00Z"), t("2026-11-02T00:00:00Z"))
        );
        assert_eq!(
            s.tail,
            (t("2026-11-04T00:00:00Z"), t("2026-11-04T02:00:00Z"))
        );
        let short = range("2026-11-01T05:00:00Z", "2026-11-01T09:00:00Z");
        assert_eq!(short.split().head, (short.from, short.to));
        assert_eq!(short.split().days.0, short.split().days.1);
    }

    #[test]
    fn ranges_are_checked() {
        let new = |a: &str, b: &str| Range::new(t(a), t(b), Tz::UTC);
        assert_eq!(
            new("2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z"),
            Err(RangeError::NotOrdered)
        );
        assert_eq!(
            new("2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"),
            Err(RangeError::NotOrdered)
        );
        assert_eq!(
            new("2024-01-01T00:00:00Z", "2026-11-01T00:00:00Z"),
            Err(RangeError::TooLong)
        );
        assert!(new("2025-09-27T00:00:00Z", "2026-11-01T00:00:00Z").is_ok());
        assert!(!range("2026-11-01T00:30:00Z", "2026-11-02T00:00:00Z").on_hours());
    }

    #[test]
    fn day_buckets_follow_the_local_calendar_across_dst() {
        // Europe/Paris leaves summer time on 2026-10-25: that day is 25 hours long.
        let paris: Tz = "Europe/Paris".parse().expect("a zone");
        let r = Range::new(t("2026-10-24T22:00:00Z"), t("2026-10-26T23:00:00Z"), paris)
            .expect("a valid range");
        let b = Interval::Day.buckets(&r, 100).expect("buckets");
        assert_eq!(
            b,
            vec![t("2026-10-24T22:00:00Z"), t("2026-10-25T23:00:00Z")]
        );
        let hours = Interval::Hour
            .buckets(&range("2026-11-01T00:00:00Z", "2026-11-01T03:00:00Z"), 100)
            .expect("b");
        assert_eq!(hours.len(), 3);
        assert!(Interval::Minute
            .buckets(&range("2026-11-01T00:00:00Z", "2026-11-05T00:00:00Z"), 1000)
            .is_none());
    }

    #[test]
    fn property_filters_are_non_empty_bounded_objects() {
        assert_eq!(Props::new(json!({})), Ok(None));
        let p = Props::new(json!({"plan": "pro"}))
            .expect("an object")
            .expect("not empty");
        assert_eq!(p.as_map().get("plan"), Some(&json!("pro")));
        for bad in [json!(["plan"]), json!("plan"), json!(3), json!(null)] {
            assert_eq!(Props::new(bad), Err(FilterError::PropsNotAnObject));
        }
        let big = json!({ "k": "x".repeat(MAX_PROPS_FILTER_BYTES) });
        assert_eq!(
            Props::new(big),
            Err(FilterError::PropsTooLarge(MAX_PROPS_FILTER_BYTES + 8))
        );
    }

    /// Every statement over raw events filters with the same clause, bound by [`raw_values`].
    #[test]
    fn raw_statements_share_the_filter_clause() {
        let scope = "WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3";
        let filter = [
            "AND ($4::text IS NULL OR event_type = $4)",
            "AND ($5::text IS NULL OR path = $5)",
            "AND ($6::text IS NULL OR community_id = $6)",
            "AND ($7::text IS NULL OR user_id = $7)",
            "AND ($8::jsonb IS NULL OR metadata @> $8)",
            "AND (NOT is_bot OR $9)",
            "AND ($10::jsonb IS NULL OR sightline_where($10, audience, event_type, path, metadata, sightline_visitor(anonymous_id, user_id), (SELECT sightline_goal_visitors($1, $2, $3, $9, $10))))",
        ];
        for (name, sql) in counts::RAW_STATEMENTS
            .iter()
            .chain(people::RAW_STATEMENTS)
            .chain(journeys::RAW_STATEMENTS)
            .chain(audience::RAW_STATEMENTS)
            .chain(goals::RAW_STATEMENTS)
            .chain(visits::RAW_STATEMENTS)
        {
            let lines: Vec<&str> = sql.lines().map(str::trim).collect();
            assert!(lines.contains(&scope), "{name} is not scoped as the others");
            assert!(
                lines.windows(filter.len()).any(|w| w == filter),
                "{name} does not filter with the shared clause"
            );
        }
    }
}
