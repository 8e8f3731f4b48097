//! Comparisons: the period a range is compared with, and which of its buckets a point is
//! compared with.
//!
//! The previous period is the range moved back, keeping local clock times where the range is
//! made of whole local days (so a day across a daylight-saving change is compared with a whole
//! local day, 23, 24 or 25 hours long):
//!
//! | range | `PreviousPeriod` | `PreviousYear` |
//! | --- | --- | --- |
//! | whole local days, a multiple of 7 | as many days before (same weekdays) | 52 weeks before (same weekdays) |
//! | whole local days, other | as many days before | the same dates a year before |
//! | anything else | its exact length before | the same local times a year before |
//!
//! Local times a shift lands on that do not exist (a skipped hour) move to the first one that
//! does; ambiguous ones (a repeated hour) take the earlier.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::{local_midnight, Range, RangeError};

/// What a range is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    PreviousPeriod,
    PreviousYear,
}

/// How far back a comparison moves a range's instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shift {
    /// A fixed length of time.
    Exact(Duration),
    /// Whole local days in the zone (local clock times kept).
    LocalDays(i64, Tz),
    /// One calendar year in the zone (local dates and clock times kept; 29 February becomes 28).
    LocalYear(Tz),
}

impl Shift {
    /// The shift that makes `range`'s comparison period.
    pub fn of(range: &Range, comparison: Comparison) -> Self {
        let tz = range.tz();
        let days = whole_local_days(range);
        match (comparison, days) {
            (Comparison::PreviousPeriod, Some(n)) => Shift::LocalDays(n, tz),
            (Comparison::PreviousPeriod, None) => Shift::Exact(range.to() - range.from()),
            (Comparison::PreviousYear, Some(n)) if n % 7 == 0 => Shift::LocalDays(364, tz),
            (Comparison::PreviousYear, _) => Shift::LocalYear(tz),
        }
    }

    /// The instant `t` moved back.
    pub fn apply(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        match *self {
            Shift::Exact(d) => t - d,
            Shift::LocalDays(n, tz) => {
                let local = t.with_timezone(&tz).naive_local();
                localize(tz, local - Duration::days(n))
            }
            Shift::LocalYear(tz) => {
                let local = t.with_timezone(&tz).naive_local();
                let date = local.date();
                let year_before =
                    NaiveDate::from_ymd_opt(date.year() - 1, date.month(), date.day())
                        .or_else(|| NaiveDate::from_ymd_opt(date.year() - 1, date.month(), 28))
                        .unwrap_or(date);
                localize(tz, year_before.and_time(local.time()))
            }
        }
    }

    /// The comparison period of `range`.
    pub fn range(&self, range: &Range) -> Result<Range, RangeError> {
        Range::new(self.apply(range.from()), self.apply(range.to()), range.tz())
    }
}

/// The number of local days of a range whose both ends are local midnights.
fn whole_local_days(range: &Range) -> Option<i64> {
    let tz = range.tz();
    let day = |t: DateTime<Utc>| {
        let d = t.with_timezone(&tz).date_naive();
        (local_midnight(tz, d) == t).then_some(d)
    };
    let (from, to) = (day(range.from())?, day(range.to())?);
    Some((to - from).num_days())
}

/// The instant of a local time: the earlier of a repeated one, the first existing minute after
/// a skipped one.
fn localize(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut t = local;
    for _ in 0..=180 {
        if let Some(at) = tz.from_local_datetime(&t).earliest() {
            return at.with_timezone(&Utc);
        }
        t += Duration::minutes(1);
    }
    Utc.from_utc_datetime(&local)
}

/// The value of the previous period's bucket holding `shift`ed `t`: `previous` are that
/// period's buckets in order; `None` when the moved instant falls outside them (before the
/// first bucket or at or after `end`, the previous period's end).
pub fn previous_value(
    shift: &Shift,
    t: DateTime<Utc>,
    previous: &[(DateTime<Utc>, f64)],
    end: DateTime<Utc>,
) -> Option<f64> {
    let s = shift.apply(t);
    if s >= end {
        return None;
    }
    let i = previous.partition_point(|(b, _)| *b <= s);
    i.checked_sub(1).map(|i| previous[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn range(from: &str, to: &str, tz: Tz) -> Range {
        Range::new(t(from), t(to), tz).expect("a valid range")
    }

    fn previous(r: &Range, c: Comparison) -> (DateTime<Utc>, DateTime<Utc>) {
        let p = Shift::of(r, c).range(r).expect("a valid range");
        (p.from(), p.to())
    }

    #[test]
    fn a_week_of_local_days_across_dst_is_compared_with_the_week_before() {
        // Paris leaves summer time on 2026-10-25. The week of Monday 26 October (local) is 168
        // hours; the week before it holds the change and is 169.
        let paris = Tz::Europe__Paris;
        let r = range("2026-10-25T23:00:00Z", "2026-11-01T23:00:00Z", paris);
        assert_eq!(
            previous(&r, Comparison::PreviousPeriod),
            (t("2026-10-18T22:00:00Z"), t("2026-10-25T23:00:00Z"))
        );
        // 52 weeks before: Monday 27 October 2025 (Paris left summer time on 26 October 2025).
        assert_eq!(
            previous(&r, Comparison::PreviousYear),
            (t("2025-10-26T23:00:00Z"), t("2025-11-02T23:00:00Z"))
        );
    }

    #[test]
    fn other_day_ranges_use_calendar_dates_and_other_ranges_their_length() {
        let paris = Tz::Europe__Paris;
        // Three local days: 25 to 28 October 2026 (the 25th is 25 hours long).
        let r = range("2026-10-24T22:00:00Z", "2026-10-27T23:00:00Z", paris);
        assert_eq!(
            previous(&r, Comparison::PreviousPeriod),
            (t("2026-10-21T22:00:00Z"), t("2026-10-24T22:00:00Z"))
        );
        assert_eq!(
            previous(&r, Comparison::PreviousYear),
            (t("2025-10-24T22:00:00Z"), t("2025-10-27T23:00:00Z"))
        );
        // Not on local midnights: the exact length.
        let r = range("2026-10-25T10:30:00Z", "2026-10-25T16:00:00Z", paris);
        assert_eq!(
            previous(&r, Comparison::PreviousPeriod),
            (t("2026-10-25T05:00:00Z"), t("2026-10-25T10:30:00Z"))
        );
        // In UTC, 29 February has no date a year before: the 28th.
        let r = range("2028-02-29T00:00:00Z", "2028-03-01T00:00:00Z", Tz::UTC);
        assert_eq!(
            previous(&r, Comparison::PreviousYear),
            (t("2027-02-28T00:00:00Z"), t("2027-03-01T00:00:00Z"))
        );
    }

    #[test]
    fn a_point_takes_the_previous_bucket_holding_its_moved_start() {
        let shift = Shift::Exact(Duration::days(1));
        let prev = [
            (t("2026-11-01T00:00:00Z"), 1.0),
            (t("2026-11-01T01:00:00Z"), 2.0),
        ];
        let end = t("2026-11-01T02:00:00Z");
        let at = |s: &str| previous_value(&shift, t(s), &prev, end);
        assert_eq!(at("2026-11-02T00:00:00Z"), Some(1.0));
        assert_eq!(at("2026-11-02T01:30:00Z"), Some(2.0));
        assert_eq!(at("2026-11-02T02:00:00Z"), None);
        assert_eq!(at("2026-11-01T23:00:00Z"), None);
        // A skipped local hour moves to the first existing time after it.
        let paris = Tz::Europe__Paris;
        let spring = Shift::LocalDays(1, paris);
        // 2026-03-30 02:30 local (00:30 UTC) -> 2026-03-29 02:30, skipped -> 03:00 (01:00 UTC).
        assert_eq!(
            spring.apply(t("2026-03-30T00:30:00Z")),
            t("2026-03-29T01:00:00Z")
        );
    }
}
