//! Heatmaps: the clicks on one page binned on a 1% x 1% grid of the document, the clicks per
//! document width class, and the most clicked selectors.
//!
//! Positions are the tracker's (`js/sightline.js`): `x` and `y` relative to the whole document
//! in 1/10000 of its `doc_w` x `doc_h` CSS pixels, so a click lands in the same cell whatever
//! the page's length or the screen's size within a class. Layouts change between classes, so a
//! map is read one class at a time (`screen`); the classes are the common CSS breakpoints of the
//! document's width (the viewport's, for events that carry no document width).

use std::collections::BTreeMap;
use std::str::FromStr;

use sea_orm::FromQueryResult;
use uuid::Uuid;

use super::{fetch_all, KeyCount, Range};
use crate::storage::{Db, StorageError};

/// Most selectors a heatmap lists.
pub const TOP_SELECTORS: usize = 20;
/// Cells per side of the grid (1% each).
pub const GRID: i32 = 100;

const HEATMAP: &str = include_str!("sql/heatmap.sql");

/// A document width class (CSS pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Screen {
    /// Below 576.
    Mobile,
    /// 576 to 991.
    Tablet,
    /// 992 to 1439.
    Laptop,
    /// 1440 and above.
    Desktop,
}

impl Screen {
    pub const ALL: [Screen; 4] = [
        Screen::Mobile,
        Screen::Tablet,
        Screen::Laptop,
        Screen::Desktop,
    ];

    /// The name the API and `sql/heatmap.sql` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Screen::Mobile => "mobile",
            Screen::Tablet => "tablet",
            Screen::Laptop => "laptop",
            Screen::Desktop => "desktop",
        }
    }
}

/// Why a screen class was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown screen `{0}`: use mobile (< 576 px), tablet (< 992), laptop (< 1440) or desktop")]
pub struct ScreenError(pub String);

impl FromStr for Screen {
    type Err = ScreenError;

    fn from_str(s: &str) -> Result<Self, ScreenError> {
        let name = s.trim().to_ascii_lowercase();
        Screen::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| ScreenError(s.to_string()))
    }
}

/// A heatmap of one page (for one screen class, or all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heatmap {
    /// Cells with at least one click, by `(x, y)` (each 0..=99: the cell's left and top edge in
    /// percent of the document).
    pub cells: Vec<Cell>,
    /// Clicks counted (those of the screen class when one was given), with or without a
    /// position.
    pub clicks: i64,
    /// Clicks per screen class, whatever class was asked (the classes with clicks, in size
    /// order).
    pub screens: Vec<(Screen, i64)>,
    /// The [`TOP_SELECTORS`] most clicked selectors (ties by selector).
    pub selectors: Vec<KeyCount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cell {
    pub x: i32,
    pub y: i32,
    pub clicks: i64,
}

#[derive(FromQueryResult)]
struct Row {
    screen: Option<String>,
    cx: Option<i32>,
    cy: Option<i32>,
    selector: Option<String>,
    clicks: i64,
    by_selector: i32,
}

/// The heatmap of `path` in the range, for `screen` or for every class.
pub async fn heatmap(
    db: &Db,
    project: Uuid,
    range: &Range,
    path: &str,
    screen: Option<Screen>,
) -> Result<Heatmap, StorageError> {
    let values = vec![
        project.into(),
        range.from().into(),
        range.to().into(),
        path.to_string().into(),
    ];
    let rows: Vec<Row> = fetch_all(db, HEATMAP, values).await?;
    let wanted = |s: &Option<String>| match screen {
        None => true,
        Some(c) => s.as_deref() == Some(c.as_str()),
    };
    let mut cells: BTreeMap<(i32, i32), i64> = BTreeMap::new();
    let mut screens: BTreeMap<Screen, i64> = BTreeMap::new();
    let mut selectors: BTreeMap<String, i64> = BTreeMap::new();
    let mut clicks = 0;
    for r in rows {
        if r.by_selector != 0 {
            if let (Some(sel), true) = (r.selector, wanted(&r.screen)) {
                *selectors.entry(sel).or_default() += r.clicks;
            }
            continue;
        }
        if let Some(s) = r.screen.as_deref().and_then(|s| s.parse().ok()) {
            *screens.entry(s).or_default() += r.clicks;
        }
        if !wanted(&r.screen) {
            continue;
        }
        clicks += r.clicks;
        if let (Some(x), Some(y)) = (r.cx, r.cy) {
            *cells.entry((x, y)).or_default() += r.clicks;
        }
    }
    let mut selectors: Vec<KeyCount> = selectors
        .into_iter()
        .map(|(key, count)| KeyCount { key, count })
        .collect();
    // Largest first, then by selector (the map's order, kept by the stable sort).
    selectors.sort_by_key(|k| std::cmp::Reverse(k.count));
    selectors.truncate(TOP_SELECTORS);
    Ok(Heatmap {
        cells: cells
            .into_iter()
            .map(|((x, y), clicks)| Cell { x, y, clicks })
            .collect(),
        clicks,
        screens: screens.into_iter().collect(),
        selectors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_classes_are_parsed_by_name() {
        use Screen::*;
        assert_eq!(" Laptop ".parse::<Screen>(), Ok(Laptop));
        assert_eq!(
            "phone".parse::<Screen>(),
            Err(ScreenError("phone".to_string()))
        );
        assert_eq!(
            ScreenError("phone".into()).to_string(),
            "unknown screen `phone`: use mobile (< 576 px), tablet (< 992), laptop (< 1440) or desktop"
        );
    }
}
