//! Journeys: from a page, where visits went next (or where they came from), as a tree of pages
//! with visit counts.
//!
//! A visit is a session's page views inside the range, in time order (ties by event id), a page
//! viewed again right after itself counted once (a reload or an in-page navigation is not a
//! step). A visit counts from its first view of the page: one visit, one path through the tree,
//! however often it came back. The database groups visits by their sequence of pages from the
//! page on (`sql/journeys.sql`); the tree, with its top-`limit` children per node and the rest
//! folded into `other_visits`, is cut here, from those few rows, so it stays exact.

use std::collections::BTreeMap;

use sea_orm::FromQueryResult;
use uuid::Uuid;

use super::{fetch_all, raw_values, Filter, Range};
use crate::storage::{Db, StorageError};

/// Most steps a journey may go from its page.
pub const MAX_STEPS: i64 = 5;
/// Most children a node may show (the rest are folded into `other_visits`).
pub const MAX_LIMIT: i64 = 20;

const JOURNEYS: &str = include_str!("sql/journeys.sql");

/// The statements of this module over raw events (they share `raw_values`' filter clause).
#[cfg(test)]
pub(super) const RAW_STATEMENTS: &[(&str, &str)] = &[("journeys.sql", JOURNEYS)];

/// Which way a journey goes from its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The pages visits went to after the page.
    Next,
    /// The pages visits came through before the page (the first is where they entered).
    Previous,
}

/// A journey to trace: a page, a direction, 1 to [`MAX_STEPS`] steps and 1 to [`MAX_LIMIT`]
/// children per node. Only [`Journey::new`] builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journey {
    path: String,
    direction: Direction,
    steps: usize,
    limit: usize,
}

/// Why a journey was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JourneyError {
    #[error("path must be a page path such as /pricing")]
    Path,
    #[error("steps must be between 1 and {MAX_STEPS}, not {0}")]
    Steps(i64),
    #[error("limit must be between 1 and {MAX_LIMIT}, not {0}")]
    Limit(i64),
}

impl Journey {
    pub fn new(
        path: &str,
        direction: Direction,
        steps: i64,
        limit: i64,
    ) -> Result<Self, JourneyError> {
        let path = path.trim();
        if path.is_empty() {
            return Err(JourneyError::Path);
        }
        if !(1..=MAX_STEPS).contains(&steps) {
            return Err(JourneyError::Steps(steps));
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(JourneyError::Limit(limit));
        }
        Ok(Self {
            path: path.to_string(),
            direction,
            steps: steps as usize,
            limit: limit as usize,
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

/// One node of the tree. Nodes come in depth-first order, the root (the journey's page, step 0)
/// first, each node's children largest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node's position in the list.
    pub id: usize,
    /// The position of its parent; `None` for the root.
    pub parent: Option<usize>,
    /// Pages away from the root.
    pub step: usize,
    pub path: String,
    /// Visits that reached this node.
    pub visits: i64,
    /// Visits that ended here: no page after it (next), or none before it, i.e. they entered
    /// the site here (previous).
    pub ends: i64,
    /// Visits that went on to a page not shown among the children (beyond `limit`).
    pub other_visits: i64,
}

/// Visits grouped by their pages from the journey's page on (outward: for previous, the page
/// itself first, then the one before it...), and whether they went beyond the last step.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Sequence {
    pub seq: Vec<String>,
    pub more: bool,
    pub visits: i64,
}

/// The journey's tree; its root has 0 visits when no visit reached the page in the range.
pub async fn journeys(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    journey: &Journey,
) -> Result<Vec<Node>, StorageError> {
    let mut values = raw_values(project, range, filter);
    values.extend([
        journey.path.clone().into(),
        (journey.direction == Direction::Next).into(),
        (journey.steps as i32).into(),
    ]);
    let mut rows: Vec<Sequence> = fetch_all(db, JOURNEYS, values).await?;
    if journey.direction == Direction::Previous {
        // The database reads them in time order; the tree goes outward from the page.
        for r in &mut rows {
            r.seq.reverse();
        }
    }
    Ok(tree(journey, &rows))
}

/// Cuts the tree from the grouped sequences: a node's visits are those of the sequences through
/// it, its ends those that stop at it, its children the `limit` largest next pages (ties by
/// path), the rest summed into `other_visits`.
pub fn tree(journey: &Journey, rows: &[Sequence]) -> Vec<Node> {
    let all: Vec<&Sequence> = rows
        .iter()
        .filter(|r| r.seq.first() == Some(&journey.path))
        .collect();
    let mut out = Vec::new();
    grow(journey, &all, 0, None, journey.path.clone(), &mut out);
    out
}

fn grow(
    journey: &Journey,
    through: &[&Sequence],
    step: usize,
    parent: Option<usize>,
    path: String,
    out: &mut Vec<Node>,
) {
    let id = out.len();
    let visits = through.iter().map(|r| r.visits).sum();
    let ends = through
        .iter()
        .filter(|r| r.seq.len() == step + 1 && !r.more)
        .map(|r| r.visits)
        .sum();
    let mut next: BTreeMap<&str, Vec<&Sequence>> = BTreeMap::new();
    if step < journey.steps {
        for r in through {
            if let Some(p) = r.seq.get(step + 1) {
                next.entry(p.as_str()).or_default().push(r);
            }
        }
    }
    let mut children: Vec<(&str, i64, Vec<&Sequence>)> = next
        .into_iter()
        .map(|(p, rs)| (p, rs.iter().map(|r| r.visits).sum(), rs))
        .collect();
    // Largest first, then by path (the map's order, kept by the stable sort).
    children.sort_by_key(|c| std::cmp::Reverse(c.1));
    let other_visits = children.iter().skip(journey.limit).map(|c| c.1).sum();
    out.push(Node {
        id,
        parent,
        step,
        path,
        visits,
        ends,
        other_visits,
    });
    for (p, _, rs) in children.into_iter().take(journey.limit) {
        grow(journey, &rs, step + 1, Some(id), p.to_string(), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(pages: &[&str], more: bool, visits: i64) -> Sequence {
        Sequence {
            seq: pages.iter().map(|p| p.to_string()).collect(),
            more,
            visits,
        }
    }

    fn journey(steps: i64, limit: i64) -> Journey {
        Journey::new("/", Direction::Next, steps, limit).expect("a valid journey")
    }

    /// Parent, step, path, visits, ends, other visits.
    type Shape<'a> = (Option<usize>, usize, &'a str, i64, i64, i64);

    fn shape(nodes: &[Node]) -> Vec<Shape<'_>> {
        nodes
            .iter()
            .map(|n| {
                (
                    n.parent,
                    n.step,
                    n.path.as_str(),
                    n.visits,
                    n.ends,
                    n.other_visits,
                )
            })
            .collect()
    }

    #[test]
    fn the_tree_counts_visits_ends_and_folds_beyond_the_limit() {
        let rows = [
            seq(&["/"], false, 4),
            seq(&["/", "/a"], false, 3),
            seq(&["/", "/a", "/b"], true, 2),
            seq(&["/", "/b", "/a"], false, 3),
            seq(&["/", "/c"], false, 1),
            seq(&["/", "/d"], false, 1),
        ];
        let nodes = tree(&journey(2, 2), &rows);
        assert_eq!(
            shape(&nodes),
            vec![
                (None, 0, "/", 14, 4, 2),
                (Some(0), 1, "/a", 5, 3, 0),
                (Some(1), 2, "/b", 2, 0, 0),
                (Some(0), 1, "/b", 3, 0, 0),
                (Some(3), 2, "/a", 3, 3, 0),
            ]
        );
        assert_eq!(
            nodes.iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn ties_are_broken_by_path_and_no_visit_gives_an_empty_root() {
        let rows = [seq(&["/", "/z"], false, 2), seq(&["/", "/m"], false, 2)];
        let nodes = tree(&journey(1, 1), &rows);
        assert_eq!(
            shape(&nodes),
            vec![(None, 0, "/", 4, 0, 2), (Some(0), 1, "/m", 2, 2, 0)]
        );
        assert_eq!(
            shape(&tree(&journey(3, 5), &[])),
            vec![(None, 0, "/", 0, 0, 0)]
        );
    }

    #[test]
    fn journeys_are_checked() {
        let new = |path, steps, limit| Journey::new(path, Direction::Previous, steps, limit);
        assert!(new("/pricing", 1, 1).is_ok() && new("/x", 5, 20).is_ok());
        assert_eq!(new("  ", 3, 5), Err(JourneyError::Path));
        assert_eq!(new("/", 0, 5), Err(JourneyError::Steps(0)));
        assert_eq!(new("/", 6, 5), Err(JourneyError::Steps(6)));
        assert_eq!(new("/", 3, 0), Err(JourneyError::Limit(0)));
        assert_eq!(new("/", 3, 21), Err(JourneyError::Limit(21)));
        assert_eq!(
            JourneyError::Steps(6).to_string(),
            "steps must be between 1 and 5, not 6"
        );
    }
}
