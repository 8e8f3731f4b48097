//! Goals: conversions counted over raw events at query time, so a goal defined today counts the
//! past too. A goal matches an event by type, path (the pattern's anchored regex, translated by
//! `domain::goal`) and properties (`@>`): `sightline_goal_match` (migration 0014), shared by
//! the breakdown here and by the goal filter (`sightline_goal_visitors`, which every raw
//! statement's filter clause calls once when a `goal` dimension filter is present).

use sea_orm::FromQueryResult;
use uuid::Uuid;

use super::audience::{total_visitors, BreakdownRow};
use super::{fetch_all, raw_values, Filter, Range};
use crate::storage::{Db, StorageError};

const GOAL_BREAKDOWN: &str = include_str!("sql/goal_breakdown.sql");

/// The statements of this module over raw events (they share `raw_values`' filter clause).
#[cfg(test)]
pub(super) const RAW_STATEMENTS: &[(&str, &str)] = &[("goal_breakdown.sql", GOAL_BREAKDOWN)];

#[derive(FromQueryResult)]
struct Row {
    key: String,
    visitors: i64,
    visits: i64,
    events: i64,
    page_views: i64,
}

/// One row per goal of the project (most converting visitors first, at most `limit`): its
/// converting visitors, visits, conversions (matching events) and the conversion rate,
/// converting visitors over all visitors of the range under the same filter. Bots are left out
/// unless the filter includes them.
pub async fn breakdown(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<BreakdownRow>, StorageError> {
    let mut values = raw_values(project, range, filter);
    values.push(limit.into());
    let (rows, all) = tokio::try_join!(
        fetch_all::<Row>(db, GOAL_BREAKDOWN, values),
        total_visitors(db, project, range, filter),
    )?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let rate = if all == 0 {
                0.0
            } else {
                r.visitors as f64 / all as f64
            };
            BreakdownRow {
                key: r.key,
                visitors: r.visitors,
                visits: r.visits,
                events: r.events,
                page_views: r.page_views,
                share: rate,
                conversions: Some(r.events),
                conversion_rate: Some(rate),
                bounce_rate: None,
                avg_visit_duration: None,
            }
        })
        .collect())
}
