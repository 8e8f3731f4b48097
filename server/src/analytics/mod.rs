//! Analytics queries: the read side behind the GraphQL API. Each function takes a validated
//! [`Range`] and [`Filter`], picks the cheapest exact source and returns plain data.
//!
//! Sources, cheapest first (all written by the worker's insert statement, `storage::events`):
//! - `rollup_day` / `rollup_hour` (counts per type and dimension) and `rollup_uniques_*` (HLL);
//!   a range is split into whole UTC days (day table) and edge hours (hour table).
//! - `rollup_minute` for minute series, `rollup_scroll_hour`, `sessions`, `actor_days`.
//! - raw `activities` for drill-down: filters rollups do not carry (user, community), ranges not
//!   on whole hours, funnels, timelines and raw event pages.
//!
//! Invariants: every statement is scoped by `project_id` (the caller was authorized for it in the
//! resolver); reads go to the read pool (a replica when configured); counts from rollups equal
//! counts from raw rows (checked by `sightline rollup verify` and by the API tests).

pub mod behaviour;
pub mod counts;
pub mod people;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::storage::StorageError;

/// Longest range a query may span.
pub const MAX_RANGE_DAYS: i64 = 400;

/// A validated half-open time range `[from, to)` and the time zone buckets are cut in.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub tz: Tz,
}

impl Range {
    pub fn new(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        time_zone: Option<&str>,
    ) -> Result<Self, StorageError> {
        if from >= to {
            return Err(StorageError::Invalid(
                "range: `from` must be before `to`".into(),
            ));
        }
        if to - from > Duration::days(MAX_RANGE_DAYS) {
            return Err(StorageError::Invalid(format!(
                "range: at most {MAX_RANGE_DAYS} days"
            )));
        }
        let tz = parse_tz(time_zone)?;
        Ok(Self { from, to, tz })
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

pub fn parse_tz(name: Option<&str>) -> Result<Tz, StorageError> {
    match name.map(str::trim) {
        None | Some("") => Ok(Tz::UTC),
        Some(n) => n.parse::<Tz>().map_err(|_| {
            StorageError::Invalid(format!(
                "unknown time zone `{n}` (use an IANA name such as Europe/Paris)"
            ))
        }),
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
/// property filters are answered from raw events.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub event_type: Option<String>,
    pub path: Option<String>,
    pub community_id: Option<String>,
    pub user_id: Option<String>,
    /// Events whose properties contain this JSON object (`metadata @> props`, served by the
    /// GIN index on `activities.metadata`), as JSON text; checked by [`Filter::props_json`].
    pub props: Option<String>,
}

/// Serialized size of a property filter at most: far above any real filter, far below what
/// would make the containment test itself costly.
pub const MAX_PROPS_FILTER_BYTES: usize = 2048;

impl Filter {
    pub fn rollup_friendly(&self) -> bool {
        self.community_id.is_none() && self.user_id.is_none() && self.props.is_none()
    }

    /// The JSON text of a property filter: `None` for an empty object (it matches every event),
    /// an error for anything but an object of at most [`MAX_PROPS_FILTER_BYTES`].
    pub fn props_json(props: &serde_json::Value) -> Result<Option<String>, StorageError> {
        let Some(obj) = props.as_object() else {
            return Err(StorageError::Invalid(
                "filter props must be a JSON object of the properties to match, e.g. {\"plan\": \"pro\"}"
                    .into(),
            ));
        };
        if obj.is_empty() {
            return Ok(None);
        }
        let text = props.to_string();
        if text.len() > MAX_PROPS_FILTER_BYTES {
            return Err(StorageError::Invalid(format!(
                "filter props is {} bytes of JSON; at most {MAX_PROPS_FILTER_BYTES}",
                text.len()
            )));
        }
        Ok(Some(text))
    }

    /// SQL conditions on `activities` for this filter, binding from parameter `$first` on.
    /// Returns the SQL and the values in order.
    fn raw_conditions(&self, first: usize) -> (String, Vec<String>) {
        let mut sql = String::new();
        let mut binds = Vec::new();
        for (col, v) in [
            ("event_type", &self.event_type),
            ("path", &self.path),
            ("community_id", &self.community_id),
            ("user_id", &self.user_id),
        ] {
            if let Some(v) = v {
                binds.push(v.clone());
                sql.push_str(&format!(" AND {col} = ${}", first + binds.len() - 1));
            }
        }
        if let Some(p) = &self.props {
            binds.push(p.clone());
            sql.push_str(&format!(
                " AND metadata @> ${}::jsonb",
                first + binds.len() - 1
            ));
        }
        (sql, binds)
    }
}

/// Bucket width of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Minute,
    Hour,
    Day,
}

impl Interval {
    pub fn sql(self) -> &'static str {
        match self {
            Interval::Minute => "minute",
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }

    /// Bucket starts covering `range` in its time zone (local midnight for days), so empty
    /// buckets appear as zeros. At most `max` buckets.
    pub fn buckets(self, range: &Range, max: usize) -> Result<Vec<DateTime<Utc>>, StorageError> {
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
                return Err(StorageError::Invalid(format!(
                    "too many {} buckets for this range (at most {max}): use a wider interval",
                    self.sql()
                )));
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
        Ok(out)
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

/// Raw-event expressions for each grouping dimension: the same definitions the worker uses to
/// fill `rollup_hour.key` (storage::events), so raw and rollup answers agree.
pub fn raw_dimension(dim: &str) -> &'static str {
    match dim {
        "path" => "path",
        "element" => "CASE WHEN event_type = 'element.click' THEN COALESCE(metadata->>'selector', entity_id) END",
        "referrer" => "CASE WHEN event_type = 'page.view' THEN substring(referrer FROM '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]+') END",
        "entity_type" => "entity_type",
        _ => "event_type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn split_uses_whole_days_inside_and_hours_at_the_edges() {
        let r =
            Range::new(t("2026-11-01T05:00:00Z"), t("2026-11-04T02:00:00Z"), None).expect("range");
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
        let short =
            Range::new(t("2026-11-01T05:00:00Z"), t("2026-11-01T09:00:00Z"), None).expect("range");
        assert_eq!(short.split().head, (short.from, short.to));
        assert_eq!(short.split().days.0, short.split().days.1);
    }

    #[test]
    fn ranges_are_checked() {
        assert!(Range::new(t("2026-11-02T00:00:00Z"), t("2026-11-01T00:00:00Z"), None).is_err());
        assert!(Range::new(t("2024-01-01T00:00:00Z"), t("2026-11-01T00:00:00Z"), None).is_err());
        assert!(Range::new(
            t("2026-11-01T00:00:00Z"),
            t("2026-11-02T00:00:00Z"),
            Some("Mars/Base")
        )
        .is_err());
        assert!(
            !Range::new(t("2026-11-01T00:30:00Z"), t("2026-11-02T00:00:00Z"), None)
                .expect("r")
                .on_hours()
        );
    }

    #[test]
    fn day_buckets_follow_the_local_calendar_across_dst() {
        // Europe/Paris leaves summer time on 2026-10-25: that day is 25 hours long.
        let r = Range::new(
            t("2026-10-24T22:00:00Z"),
            t("2026-10-26T23:00:00Z"),
            Some("Europe/Paris"),
        )
        .expect("r");
        let b = Interval::Day.buckets(&r, 100).expect("buckets");
        assert_eq!(
            b,
            vec![t("2026-10-24T22:00:00Z"), t("2026-10-25T23:00:00Z")]
        );
        let hours = Interval::Hour
            .buckets(
                &Range::new(t("2026-11-01T00:00:00Z"), t("2026-11-01T03:00:00Z"), None).expect("r"),
                100,
            )
            .expect("b");
        assert_eq!(hours.len(), 3);
        assert!(Interval::Minute
            .buckets(
                &Range::new(t("2026-11-01T00:00:00Z"), t("2026-11-05T00:00:00Z"), None).expect("r"),
                1000
            )
            .is_err());
    }
}
