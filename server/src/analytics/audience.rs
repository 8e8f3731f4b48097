//! Audience queries: breakdowns by one dimension (pages, sources, campaigns, devices,
//! countries...), unique visitors merged across identities, and how many bot events answers
//! leave out. Also the dimension filters every analytics query accepts (`EventFilter.where`).
//!
//! Sources: `rollup_audience_day` / `rollup_audience_hour` (migration 0009: per dimension and
//! key, events, page views and HyperLogLog sketches of visits and visitors, bot rows apart) on
//! whole-hour ranges without raw-only filters; raw `activities` otherwise, with the same keys
//! (`sightline_audience_key`) and the same visitor (`sightline_visitor`).

use sea_orm::FromQueryResult;
use serde_json::{json, Value};
use uuid::Uuid;

use super::visits::{self, VisitKey, VisitRow};
use super::{fetch_all, fetch_one, raw_values, Count, Filter, Range};
use crate::storage::{Db, StorageError};

/// Most rows a breakdown returns.
pub const MAX_BREAKDOWN_ROWS: i64 = 1000;
/// Most dimension filters in one `where`, and most values in one filter.
pub const MAX_DIM_FILTERS: usize = 20;
pub const MAX_FILTER_VALUES: usize = 100;
/// Longest filter value or property name, in bytes.
pub const MAX_FILTER_VALUE_LEN: usize = 1024;

const BREAKDOWN_ROLLUP: &str = include_str!("sql/breakdown_rollup.sql");
const BREAKDOWN_RAW: &str = include_str!("sql/breakdown_raw.sql");
const VISITORS_RAW: &str = include_str!("sql/visitors_raw.sql");
const BOT_EVENTS_RAW: &str = include_str!("sql/bot_events_raw.sql");

/// The statements of this module over raw events (they share `raw_values`' filter clause).
#[cfg(test)]
pub(super) const RAW_STATEMENTS: &[(&str, &str)] = &[
    ("breakdown_raw.sql", BREAKDOWN_RAW),
    ("visitors_raw.sql", VISITORS_RAW),
    ("bot_events_raw.sql", BOT_EVENTS_RAW),
];

/// What a breakdown groups by, or a dimension filter tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    /// The event's page path.
    Page,
    EventType,
    /// A property of the event (`props.<name>`): raw events only.
    Property(String),
    /// One of the visit's attributes (`activities.audience`): its key there.
    Visit(&'static str),
    /// The first / last page view's path of each visit (`analytics::visits`): breakdowns only.
    EntryPage,
    ExitPage,
    /// The project's goals (`analytics::goals`): a breakdown row per goal; as a filter, the
    /// events of the visitors who converted on the goals named.
    Goal,
}

/// Why a dimension or a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DimensionError {
    #[error("{0} is a breakdown dimension only, not a filter")]
    NotAFilter(&'static str),
    #[error("a GOAL filter takes IS or IS_NOT and goal names")]
    GoalOp,
    #[error("the PROPERTY dimension needs `property`, the name of the property")]
    PropertyMissing,
    #[error("`property` names a property of at most {MAX_FILTER_VALUE_LEN} bytes")]
    PropertyTooLong,
    #[error("a dimension filter needs 1 to {MAX_FILTER_VALUES} values")]
    ValueCount,
    #[error("a filter value is at most {MAX_FILTER_VALUE_LEN} bytes")]
    ValueTooLong,
    #[error("at most {MAX_DIM_FILTERS} dimension filters")]
    TooManyFilters,
}

impl Dimension {
    /// The name the SQL functions know it by (`sightline_audience_key`, `rollup_audience_*.dim`).
    fn sql(&self) -> String {
        match self {
            Dimension::Page => "page".into(),
            Dimension::EventType => "event_type".into(),
            Dimension::Property(p) => format!("prop:{p}"),
            Dimension::Visit(k) => (*k).into(),
            Dimension::Goal => "goal".into(),
            Dimension::EntryPage => "entry_page".into(),
            Dimension::ExitPage => "exit_page".into(),
        }
    }

    /// A property dimension, its name checked.
    pub fn property(name: Option<&str>) -> Result<Self, DimensionError> {
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or(DimensionError::PropertyMissing)?;
        if name.len() > MAX_FILTER_VALUE_LEN {
            return Err(DimensionError::PropertyTooLong);
        }
        Ok(Dimension::Property(name.to_string()))
    }

    /// Whether the breakdown rollup holds it.
    fn in_rollup(&self) -> bool {
        !matches!(
            self,
            Dimension::Property(_) | Dimension::Goal | Dimension::EntryPage | Dimension::ExitPage
        )
    }

    /// How visits group under it, for the dimensions of visits (pages, entry and exit pages,
    /// the visit's attributes): their rows carry bounce rate and visit duration.
    fn visit_key(&self) -> Option<VisitKey<'static>> {
        match self {
            Dimension::Page => Some(VisitKey::Page),
            Dimension::EntryPage => Some(VisitKey::EntryPage),
            Dimension::ExitPage => Some(VisitKey::ExitPage),
            Dimension::Visit(k) => Some(VisitKey::Attribute(k)),
            Dimension::EventType | Dimension::Property(_) | Dimension::Goal => None,
        }
    }
}

/// How a dimension filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// The key is one of the values.
    Is,
    /// The key is none of the values (an event without the dimension passes).
    IsNot,
    /// The key holds one of the values, case-insensitively.
    Contains,
}

/// One checked dimension filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimFilter {
    dim: String,
    op: FilterOp,
    values: Vec<String>,
}

impl DimFilter {
    pub fn new(dim: Dimension, op: FilterOp, values: Vec<String>) -> Result<Self, DimensionError> {
        if values.is_empty() || values.len() > MAX_FILTER_VALUES {
            return Err(DimensionError::ValueCount);
        }
        if values.iter().any(|v| v.len() > MAX_FILTER_VALUE_LEN) {
            return Err(DimensionError::ValueTooLong);
        }
        if dim == Dimension::Goal && op == FilterOp::Contains {
            return Err(DimensionError::GoalOp);
        }
        match dim {
            Dimension::EntryPage => return Err(DimensionError::NotAFilter("ENTRY_PAGE")),
            Dimension::ExitPage => return Err(DimensionError::NotAFilter("EXIT_PAGE")),
            _ => {}
        }
        Ok(Self {
            dim: dim.sql(),
            op,
            values,
        })
    }
}

/// The dimension filters of a query: 1 to [`MAX_DIM_FILTERS`] of them, all to pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimFilters(Vec<DimFilter>);

impl DimFilters {
    /// `None` for no filters.
    pub fn new(filters: Vec<DimFilter>) -> Result<Option<Self>, DimensionError> {
        if filters.len() > MAX_DIM_FILTERS {
            return Err(DimensionError::TooManyFilters);
        }
        Ok((!filters.is_empty()).then_some(Self(filters)))
    }

    /// The goal names the filters test (each must name a goal of the project: the caller checks,
    /// since an unknown name would silently match nobody).
    pub fn goal_names(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|f| f.dim == "goal")
            .flat_map(|f| f.values.iter().map(String::as_str))
    }

    /// As `sightline_where` reads them.
    pub(super) fn to_json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|f| {
                    let op = match f.op {
                        FilterOp::Is => "is",
                        FilterOp::IsNot => "is_not",
                        FilterOp::Contains => "contains",
                    };
                    json!({"dim": f.dim, "op": op, "values": f.values})
                })
                .collect(),
        )
    }
}

/// One row of a breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakdownRow {
    pub key: String,
    pub visitors: i64,
    pub visits: i64,
    pub events: i64,
    pub page_views: i64,
    /// `visitors` over all visitors of the range (under the same filter).
    pub share: f64,
    /// Goals only: converting events, and converting visitors over all visitors (= `share`).
    pub conversions: Option<i64>,
    pub conversion_rate: Option<f64>,
    /// Dimensions of visits only: of the visits under the key, the share that bounced (at most
    /// one page view) and their mean duration in seconds.
    pub bounce_rate: Option<f64>,
    pub avg_visit_duration: Option<f64>,
}

#[derive(FromQueryResult)]
struct Row {
    key: String,
    visitors: i64,
    visits: i64,
    events: i64,
    page_views: i64,
}

/// Visitors, visits, events and page views per key of `dim`, most visitors first; keys the
/// range's events lack are not listed. From the breakdown rollup when the range is on whole
/// hours and the filter holds nothing it lacks (user, community, properties, event type, path,
/// dimension filters); from raw events otherwise.
///
/// `visit_stats`: fill `bounce_rate` and `avg_visit_duration` for the dimensions of visits,
/// which reads their visits from raw events (callers ask only when the client selected them);
/// entry and exit pages always read visits.
pub async fn breakdown(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    dim: &Dimension,
    limit: i64,
    visit_stats: bool,
) -> Result<Vec<BreakdownRow>, StorageError> {
    let name = dim.sql();
    let limit = limit.clamp(1, MAX_BREAKDOWN_ROWS);
    if *dim == Dimension::Goal {
        return super::goals::breakdown(db, project, range, filter, limit).await;
    }
    if let Some(key @ (VisitKey::EntryPage | VisitKey::ExitPage)) = dim.visit_key() {
        // Keys of visits, not of events: every figure from the visits.
        let (rows, all) = tokio::try_join!(
            visits::by_key(db, project, range, filter, key, None, limit),
            total_visitors(db, project, range, filter),
        )?;
        return Ok(rows.into_iter().map(|v| visit_row(v, all)).collect());
    }
    let (rows, total) = if rollup_served(range, filter) && dim.in_rollup() {
        let (rows, total) = tokio::try_join!(
            rollup_rows(db, project, range, filter, &name, limit),
            rollup_rows(db, project, range, filter, "", 1),
        )?;
        (rows, total)
    } else {
        let (rows, total) = tokio::try_join!(
            raw_rows(db, project, range, filter, &name, limit),
            raw_rows(db, project, range, filter, "", 1),
        )?;
        (rows, total)
    };
    // The visits of the keys listed, for their bounce rate and duration.
    let with_stats = visit_stats;
    let visit_stats: Vec<VisitRow> = match dim.visit_key() {
        Some(key) if with_stats && !rows.is_empty() => {
            let keys = rows.iter().map(|r| r.key.clone()).collect();
            visits::by_key(db, project, range, filter, key, Some(keys), limit).await?
        }
        _ => Vec::new(),
    };
    let all = total.first().map_or(0, |t| t.visitors);
    Ok(rows
        .into_iter()
        .map(|r| {
            let v = dim
                .visit_key()
                .filter(|_| with_stats)
                .map(|_| visit_stats.iter().find(|v| v.key == r.key));
            BreakdownRow {
                share: ratio(r.visitors, all),
                visitors: r.visitors,
                visits: r.visits,
                events: r.events,
                page_views: r.page_views,
                conversions: None,
                conversion_rate: None,
                // A listed key whose events belong to no visit (no session): no bounce, 0 s.
                bounce_rate: v.map(|v| v.map_or(0.0, VisitRow::bounce_rate)),
                avg_visit_duration: v.map(|v| v.map_or(0.0, VisitRow::avg_duration)),
                key: r.key,
            }
        })
        .collect())
}

fn ratio(a: i64, b: i64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// A breakdown row of a key of visits (entry or exit page).
fn visit_row(v: VisitRow, all_visitors: i64) -> BreakdownRow {
    BreakdownRow {
        share: ratio(v.visitors, all_visitors),
        bounce_rate: Some(v.bounce_rate()),
        avg_visit_duration: Some(v.avg_duration()),
        visitors: v.visitors,
        visits: v.visits,
        events: v.events,
        page_views: v.page_views,
        conversions: None,
        conversion_rate: None,
        key: v.key,
    }
}

/// A breakdown with, for each row, its key's row over the comparison period `previous` (the
/// same dimension and filter): the key's figures there, zeros when the key had none, `None`
/// when the comparison period has more than [`MAX_BREAKDOWN_ROWS`] keys and this one is not
/// among the first (unknown, rather than a false zero). Both periods are read concurrently.
// One argument per part of the question, as `breakdown`'s plus the comparison period.
#[allow(clippy::too_many_arguments)]
pub async fn breakdown_compared(
    db: &Db,
    project: Uuid,
    range: &Range,
    previous: &Range,
    filter: &Filter,
    dim: &Dimension,
    limit: i64,
    visit_stats: bool,
) -> Result<Vec<(BreakdownRow, Option<BreakdownRow>)>, StorageError> {
    let (rows, before) = tokio::try_join!(
        breakdown(db, project, range, filter, dim, limit, visit_stats),
        breakdown(
            db,
            project,
            previous,
            filter,
            dim,
            MAX_BREAKDOWN_ROWS,
            visit_stats
        ),
    )?;
    let complete = (before.len() as i64) < MAX_BREAKDOWN_ROWS;
    Ok(rows
        .into_iter()
        .map(|r| {
            let p = before
                .iter()
                .find(|p| p.key == r.key)
                .cloned()
                .or_else(|| complete.then(|| r.zero()));
            (r, p)
        })
        .collect())
}

impl BreakdownRow {
    /// The row of a key with nothing under it: zeros wherever this row has a figure.
    fn zero(&self) -> Self {
        Self {
            key: self.key.clone(),
            visitors: 0,
            visits: 0,
            events: 0,
            page_views: 0,
            share: 0.0,
            conversions: self.conversions.map(|_| 0),
            conversion_rate: self.conversion_rate.map(|_| 0.0),
            bounce_rate: self.bounce_rate.map(|_| 0.0),
            avg_visit_duration: self.avg_visit_duration.map(|_| 0.0),
        }
    }
}

/// All visitors of the range under the filter (what `share` divides by): the breakdown
/// rollup's totals when it serves the range and filter, raw events otherwise.
pub(super) async fn total_visitors(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
) -> Result<i64, StorageError> {
    let rows = if rollup_served(range, filter) {
        rollup_rows(db, project, range, filter, "", 1).await?
    } else {
        raw_rows(db, project, range, filter, "", 1).await?
    };
    Ok(rows.first().map_or(0, |t| t.visitors))
}

/// Whether the breakdown rollup answers for this range and filter (bots or not: it holds both).
fn rollup_served(range: &Range, filter: &Filter) -> bool {
    range.on_hours()
        && filter.community_id.is_none()
        && filter.user_id.is_none()
        && filter.props.is_none()
        && filter.event_type.is_none()
        && filter.path.is_none()
        && filter.dims.is_none()
}

async fn rollup_rows(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    dim: &str,
    limit: i64,
) -> Result<Vec<Row>, StorageError> {
    let mut values = vec![project.into()];
    values.extend(range.split().values());
    values.extend([dim.into(), filter.include_bots.into(), limit.into()]);
    fetch_all(db, BREAKDOWN_ROLLUP, values).await
}

async fn raw_rows(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    dim: &str,
    limit: i64,
) -> Result<Vec<Row>, StorageError> {
    let mut values = raw_values(project, range, filter);
    values.extend([dim.into(), limit.into()]);
    fetch_all(db, BREAKDOWN_RAW, values).await
}

/// Unique visitors of a range, one per person: an anonymous id linked to a user
/// (`identities`) counts as that user, before the link as after it. Exact from raw events up to
/// `exact_up_to` events in the range (or under raw-only filters); above, the union of the
/// breakdown rollup's visitor sketches (which count a browser once across a sign-up, but a
/// person on two browsers twice). Returns the count and whether it is exact.
pub async fn visitors(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    events: i64,
    exact_up_to: i64,
) -> Result<(i64, bool), StorageError> {
    if events > exact_up_to && rollup_served(range, filter) {
        let rows = rollup_rows(db, project, range, filter, "", 1).await?;
        return Ok((rows.first().map_or(0, |r| r.visitors), false));
    }
    let c: Count = fetch_one(db, VISITORS_RAW, raw_values(project, range, filter)).await?;
    Ok((c.n, true))
}

/// Bot events of the range under the filter: what answers leave out (0 when the filter
/// includes bots, since then nothing is).
pub async fn bot_events(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
) -> Result<i64, StorageError> {
    if filter.include_bots {
        return Ok(0);
    }
    if rollup_served(range, filter) {
        let mut values = vec![project.into()];
        values.extend(range.split().values());
        let c: Count = fetch_one(db, BOT_EVENTS_ROLLUP, values).await?;
        return Ok(c.n);
    }
    // The shared clause with bots included, and only bots.
    let bots = Filter {
        include_bots: true,
        ..filter.clone()
    };
    let c: Count = fetch_one(db, BOT_EVENTS_RAW, raw_values(project, range, &bots)).await?;
    Ok(c.n)
}

/// Bot events from the breakdown rollup's totals rows.
const BOT_EVENTS_ROLLUP: &str = include_str!("sql/bot_events_rollup.sql");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimension_filters_are_checked_and_serialized_for_sql() {
        let f = DimFilter::new(
            Dimension::Visit("country"),
            FilterOp::IsNot,
            vec!["FR".into(), "DE".into()],
        )
        .expect("valid");
        let all = DimFilters::new(vec![f]).expect("valid").expect("some");
        assert_eq!(
            all.to_json(),
            json!([{"dim": "country", "op": "is_not", "values": ["FR", "DE"]}])
        );
        assert_eq!(DimFilters::new(vec![]), Ok(None));
        assert_eq!(
            DimFilter::new(Dimension::Page, FilterOp::Is, vec![]),
            Err(DimensionError::ValueCount)
        );
        assert_eq!(
            DimFilter::new(Dimension::Page, FilterOp::Is, vec!["x".repeat(1025)]),
            Err(DimensionError::ValueTooLong)
        );
        let p = Dimension::property(Some(" plan ")).expect("named");
        assert_eq!(p.sql(), "prop:plan");
        assert_eq!(
            Dimension::property(Some(" ")),
            Err(DimensionError::PropertyMissing)
        );
    }
}
