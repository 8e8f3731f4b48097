//! Person- and group-level reads: a tracked user's profile and timeline, a community's stats and
//! members, and raw event pages (keyset pagination, newest first). Events come back as
//! [`activity::Model`], the one event row of the code base.

use chrono::{DateTime, Utc};
use entity::{activity, community, user};
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter};
use uuid::Uuid;

use super::{fetch_all, fetch_one, raw_values, Count, Filter, KeyCount, Range};
use crate::storage::{Db, StorageError};

/// Most events one page may hold.
pub const MAX_PAGE: i64 = 500;

const USER_EVENTS: &str = include_str!("sql/user_events.sql");
const TIMELINE: &str = include_str!("sql/timeline.sql");
const COMMUNITY_BY_TYPE: &str = include_str!("sql/community_by_type.sql");
const COMMUNITY_MEMBER_COUNT: &str = include_str!("sql/community_member_count.sql");
const COMMUNITY_MEMBERS: &str = include_str!("sql/community_members.sql");
const EVENTS_PAGE: &str = include_str!("sql/events_page.sql");

/// The statements of this module over raw events (they share `raw_values`' filter clause).
#[cfg(test)]
pub(super) const RAW_STATEMENTS: &[(&str, &str)] = &[("events_page.sql", EVENTS_PAGE)];

/// A tracked user's stored record and how many events they have.
#[derive(Debug, Clone)]
pub struct TrackedUser {
    pub user: user::Model,
    pub events: i64,
}

pub async fn user(
    db: &Db,
    project: Uuid,
    external_id: &str,
) -> Result<Option<TrackedUser>, StorageError> {
    let found = user::Entity::find()
        .filter(user::Column::ProjectId.eq(project))
        .filter(user::Column::ExternalId.eq(external_id))
        .one(&db.read)
        .await?;
    let Some(user) = found else {
        return Ok(None);
    };
    let values = vec![project.into(), user.external_id.clone().into()];
    let events: Count = fetch_one(db, USER_EVENTS, values).await?;
    Ok(Some(TrackedUser {
        user,
        events: events.n,
    }))
}

/// A user's latest events, newest first.
pub async fn timeline(
    db: &Db,
    project: Uuid,
    external_id: &str,
    size: PageSize,
) -> Result<Vec<activity::Model>, StorageError> {
    let values = vec![project.into(), external_id.into(), size.get().into()];
    fetch_all(db, TIMELINE, values).await
}

/// A community's stored record and its activity.
#[derive(Debug, Clone)]
pub struct Community {
    pub community: community::Model,
    pub events: i64,
    pub members: i64,
    /// The ten most frequent event types.
    pub top_event_types: Vec<KeyCount>,
}

pub async fn community(
    db: &Db,
    project: Uuid,
    external_id: &str,
) -> Result<Option<Community>, StorageError> {
    let found = community::Entity::find()
        .filter(community::Column::ProjectId.eq(project))
        .filter(community::Column::ExternalId.eq(external_id))
        .one(&db.read)
        .await?;
    let Some(community) = found else {
        return Ok(None);
    };
    let values = || vec![project.into(), community.external_id.clone().into()];
    let by_type: Vec<KeyCount> = fetch_all(db, COMMUNITY_BY_TYPE, values()).await?;
    let members: Count = fetch_one(db, COMMUNITY_MEMBER_COUNT, values()).await?;
    Ok(Some(Community {
        events: by_type.iter().map(|r| r.count).sum(),
        members: members.n,
        top_event_types: by_type.into_iter().take(10).collect(),
        community,
    }))
}

#[derive(FromQueryResult)]
struct Member {
    user_id: String,
}

/// Users with events in a community, most active first.
pub async fn community_members(
    db: &Db,
    project: Uuid,
    external_id: &str,
    size: PageSize,
) -> Result<Vec<String>, StorageError> {
    let values = vec![project.into(), external_id.into(), size.get().into()];
    let rows: Vec<Member> = fetch_all(db, COMMUNITY_MEMBERS, values).await?;
    Ok(rows.into_iter().map(|m| m.user_id).collect())
}

/// How many items a page holds: 1 to [`MAX_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(i64);

impl PageSize {
    /// Refuses a size out of bounds (raw event pages: asking for more than a page holds is an
    /// error, not a silent truncation).
    pub fn new(n: i64) -> Result<Self, PageError> {
        if (1..=MAX_PAGE).contains(&n) {
            Ok(Self(n))
        } else {
            Err(PageError::Size(n))
        }
    }

    /// Brings a size into bounds (timelines and member lists, which have always done so).
    pub fn clamped(n: i64) -> Self {
        Self(n.clamp(1, MAX_PAGE))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A page of raw events to read: its size, and where the previous page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub size: PageSize,
    pub after: Option<Cursor>,
}

/// Why a page request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("first must be between 1 and {MAX_PAGE}, not {0}")]
    Size(i64),
    #[error("`after` is not a cursor returned by this API")]
    Cursor,
}

/// Position after which a page continues: the last event's time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub occurred_at: DateTime<Utc>,
    pub event_id: Uuid,
}

impl Cursor {
    /// The position just after this event.
    pub fn after(e: &activity::Model) -> Self {
        Self {
            occurred_at: e.occurred_at.with_timezone(&Utc),
            event_id: e.event_id,
        }
    }

    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.occurred_at.timestamp_micros(),
            self.event_id.simple()
        )
    }

    pub fn decode(s: &str) -> Result<Self, PageError> {
        let (micros, id) = s.split_once('_').ok_or(PageError::Cursor)?;
        let micros: i64 = micros.parse().map_err(|_| PageError::Cursor)?;
        Ok(Self {
            occurred_at: DateTime::from_timestamp_micros(micros).ok_or(PageError::Cursor)?,
            event_id: Uuid::parse_str(id).map_err(|_| PageError::Cursor)?,
        })
    }
}

/// One page of raw events, newest first, and whether more follow.
pub async fn events(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    page: &Page,
) -> Result<(Vec<activity::Model>, bool), StorageError> {
    let size = page.size.get();
    let mut values = raw_values(project, range, filter);
    values.extend([
        page.after.map(|c| c.occurred_at).into(),
        page.after.map(|c| c.event_id).into(),
        (size + 1).into(),
    ]);
    let mut rows: Vec<activity::Model> = fetch_all(db, EVENTS_PAGE, values).await?;
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    Ok((rows, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            occurred_at: DateTime::from_timestamp_micros(1_763_820_000_123_456).unwrap_or_default(),
            event_id: Uuid::from_u128(7),
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        for bad in [
            "",
            "x",
            "12_notauuid",
            "abc_00000000000000000000000000000007",
            "99999999999999999999_00000000000000000000000000000007",
        ] {
            assert_eq!(Cursor::decode(bad), Err(PageError::Cursor), "{bad}");
        }
    }

    #[test]
    fn page_sizes_are_checked_or_clamped() {
        assert_eq!(PageSize::new(1).map(PageSize::get), Ok(1));
        assert_eq!(PageSize::new(MAX_PAGE).map(PageSize::get), Ok(MAX_PAGE));
        assert_eq!(PageSize::new(0), Err(PageError::Size(0)));
        assert_eq!(PageSize::new(501), Err(PageError::Size(501)));
        assert_eq!(PageSize::clamped(0).get(), 1);
        assert_eq!(PageSize::clamped(5000).get(), MAX_PAGE);
    }
}
