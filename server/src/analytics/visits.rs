//! Visits: a session's events in the range that match the filter (events without a session are
//! no visit). A visit's duration is its last event's time minus its first's (a one-event visit
//! lasts 0 s); it bounced with at most one page view; its entry and exit pages are its first
//! and last page views' paths. Rollups hold none of this (a visit's bounds move with the
//! range), so it is read from raw events, grouped per session in one statement.

use sea_orm::FromQueryResult;
use uuid::Uuid;

use super::{fetch_all, raw_values, Filter, Range};
use crate::storage::{Db, StorageError};

const VISITS_RAW: &str = include_str!("sql/visits_raw.sql");

/// The statements of this module over raw events (they share `raw_values`' filter clause).
#[cfg(test)]
pub(super) const RAW_STATEMENTS: &[(&str, &str)] = &[("visits_raw.sql", VISITS_RAW)];

/// The visits under one key.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct VisitRow {
    pub key: String,
    pub visitors: i64,
    pub visits: i64,
    /// Events and page views of those visits (all of them, not only those under the key).
    pub events: i64,
    pub page_views: i64,
    /// Visits with at most one page view.
    pub bounced: i64,
    /// Sum of the visits' durations, in seconds.
    pub duration_sum: f64,
}

impl VisitRow {
    /// No visit under `key`.
    pub fn none(key: &str) -> Self {
        Self {
            key: key.to_string(),
            visitors: 0,
            visits: 0,
            events: 0,
            page_views: 0,
            bounced: 0,
            duration_sum: 0.0,
        }
    }

    pub fn bounce_rate(&self) -> f64 {
        ratio(self.bounced as f64, self.visits)
    }

    /// Mean visit duration in seconds.
    pub fn avg_duration(&self) -> f64 {
        ratio(self.duration_sum, self.visits)
    }

    pub fn views_per_visit(&self) -> f64 {
        ratio(self.page_views as f64, self.visits)
    }
}

fn ratio(a: f64, b: i64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a / b as f64
    }
}

/// What visits are grouped by (`visits_raw.sql`'s `$11`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitKey<'a> {
    /// Every visit, under the key `''`.
    All,
    EntryPage,
    ExitPage,
    /// Every page a visit viewed: a visit counts under each.
    Page,
    /// A visit attribute (`activities.audience` key).
    Attribute(&'a str),
}

impl VisitKey<'_> {
    fn sql(&self) -> &str {
        match self {
            VisitKey::All => "",
            VisitKey::EntryPage => "entry_page",
            VisitKey::ExitPage => "exit_page",
            VisitKey::Page => "page",
            VisitKey::Attribute(k) => k,
        }
    }
}

/// Visits per key, most visitors first, at most `limit`; only the keys of `keep` when given.
pub async fn by_key(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    key: VisitKey<'_>,
    keep: Option<Vec<String>>,
    limit: i64,
) -> Result<Vec<VisitRow>, StorageError> {
    let mut values = raw_values(project, range, filter);
    values.extend([
        key.sql().into(),
        sea_orm::Value::Array(
            sea_orm::sea_query::ArrayType::String,
            keep.map(|k| Box::new(k.into_iter().map(|s| Some(s).into()).collect())),
        ),
        limit.into(),
    ]);
    fetch_all(db, VISITS_RAW, values).await
}

/// All visits of the range under the filter, as one row (zeros when there is none).
pub async fn totals(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
) -> Result<VisitRow, StorageError> {
    let rows = by_key(db, project, range, filter, VisitKey::All, None, 1).await?;
    Ok(rows
        .into_iter()
        .next()
        .unwrap_or_else(|| VisitRow::none("")))
}
