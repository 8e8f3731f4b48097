//! Person- and group-level reads: a tracked user's profile and timeline, a community's stats and
//! members, and raw event pages (keyset pagination, newest first).

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Filter, Range};
use crate::storage::{Db, StorageError};

/// Most events one page may hold.
pub const MAX_PAGE: i64 = 500;

/// A stored event as the API shows it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub session_id: Option<String>,
    pub community_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub path: Option<String>,
    pub referrer: Option<String>,
    pub metadata: Value,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for StoredEvent {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(Self {
            event_id: row.try_get("event_id")?,
            event_type: row.try_get("event_type")?,
            occurred_at: row.try_get("occurred_at")?,
            received_at: row.try_get("received_at")?,
            user_id: row.try_get("user_id")?,
            anonymous_id: row.try_get("anonymous_id")?,
            session_id: row.try_get("session_id")?,
            community_id: row.try_get("community_id")?,
            entity_type: row.try_get("entity_type")?,
            entity_id: row.try_get("entity_id")?,
            path: row.try_get("path")?,
            referrer: row.try_get("referrer")?,
            metadata: row.try_get("metadata")?,
        })
    }
}

const EVENT_COLUMNS: &str =
    "event_id, event_type, occurred_at, received_at, user_id, anonymous_id, session_id, \
     community_id, entity_type, entity_id, path, referrer, metadata";

#[derive(Debug, Clone)]
pub struct TrackedUser {
    pub external_id: String,
    pub email: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub events: i64,
}

/// external_id, email, first_seen, last_seen.
type UserRow = (String, Option<String>, DateTime<Utc>, DateTime<Utc>);

pub async fn user(
    db: &Db,
    project: Uuid,
    external_id: &str,
) -> Result<Option<TrackedUser>, StorageError> {
    let row: Option<UserRow> = sqlx::query_as(
        "SELECT external_id, email, first_seen, last_seen FROM users WHERE project_id = $1 AND external_id = $2",
    )
    .bind(project)
    .bind(external_id)
    .fetch_optional(db.read_pool())
    .await?;
    let Some((external_id, email, first_seen, last_seen)) = row else {
        return Ok(None);
    };
    let (events,): (i64,) = sqlx::query_as(
        "SELECT count(*)::bigint FROM activities WHERE project_id = $1 AND user_id = $2",
    )
    .bind(project)
    .bind(&external_id)
    .fetch_one(db.read_pool())
    .await?;
    Ok(Some(TrackedUser {
        external_id,
        email,
        first_seen,
        last_seen,
        events,
    }))
}

/// A user's latest events, newest first.
pub async fn timeline(
    db: &Db,
    project: Uuid,
    external_id: &str,
    first: i64,
) -> Result<Vec<StoredEvent>, StorageError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM activities WHERE project_id = $1 AND user_id = $2 \
         ORDER BY occurred_at DESC, event_id DESC LIMIT $3"
    );
    Ok(sqlx::query_as(&sql)
        .bind(project)
        .bind(external_id)
        .bind(first.clamp(1, MAX_PAGE))
        .fetch_all(db.read_pool())
        .await?)
}

#[derive(Debug, Clone)]
pub struct Community {
    pub external_id: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub events: i64,
    pub members: i64,
    pub top_event_types: Vec<(String, i64)>,
}

pub async fn community(
    db: &Db,
    project: Uuid,
    external_id: &str,
) -> Result<Option<Community>, StorageError> {
    let row: Option<(String, Option<String>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT external_id, name, created_at FROM communities WHERE project_id = $1 AND external_id = $2",
    )
    .bind(project)
    .bind(external_id)
    .fetch_optional(db.read_pool())
    .await?;
    let Some((external_id, name, created_at)) = row else {
        return Ok(None);
    };
    let by_type: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, count(*)::bigint FROM activities \
         WHERE project_id = $1 AND community_id = $2 GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    .bind(project)
    .bind(&external_id)
    .fetch_all(db.read_pool())
    .await?;
    let (members,): (i64,) = sqlx::query_as(
        "SELECT count(DISTINCT user_id)::bigint FROM activities WHERE project_id = $1 AND community_id = $2 AND user_id IS NOT NULL",
    )
    .bind(project)
    .bind(&external_id)
    .fetch_one(db.read_pool())
    .await?;
    Ok(Some(Community {
        external_id,
        name,
        created_at,
        events: by_type.iter().map(|r| r.1).sum(),
        members,
        top_event_types: by_type.into_iter().take(10).collect(),
    }))
}

/// Users with events in a community, most active first.
pub async fn community_members(
    db: &Db,
    project: Uuid,
    external_id: &str,
    first: i64,
) -> Result<Vec<String>, StorageError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT user_id FROM activities WHERE project_id = $1 AND community_id = $2 AND user_id IS NOT NULL \
         GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT $3",
    )
    .bind(project)
    .bind(external_id)
    .bind(first.clamp(1, MAX_PAGE))
    .fetch_all(db.read_pool())
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Position after which a page continues: the last event's time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub occurred_at: DateTime<Utc>,
    pub event_id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.occurred_at.timestamp_micros(),
            self.event_id.simple()
        )
    }

    pub fn decode(s: &str) -> Result<Self, StorageError> {
        let bad = || StorageError::Invalid("`after` is not a cursor returned by this API".into());
        let (micros, id) = s.split_once('_').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        Ok(Self {
            occurred_at: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
            event_id: Uuid::parse_str(id).map_err(|_| bad())?,
        })
    }
}

/// One page of raw events, newest first, and whether more follow.
pub async fn events(
    db: &Db,
    project: Uuid,
    range: &Range,
    filter: &Filter,
    first: i64,
    after: Option<Cursor>,
) -> Result<(Vec<StoredEvent>, bool), StorageError> {
    let first = first.clamp(1, MAX_PAGE);
    let (conds, binds) = filter.raw_conditions(7);
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM activities WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3 \
           AND ($4::timestamptz IS NULL OR (occurred_at, event_id) < ($4, $5)){conds} \
         ORDER BY occurred_at DESC, event_id DESC LIMIT $6"
    );
    let mut q = sqlx::query_as::<_, StoredEvent>(&sql)
        .bind(project)
        .bind(range.from)
        .bind(range.to)
        .bind(after.map(|c| c.occurred_at))
        .bind(after.map(|c| c.event_id))
        .bind(first + 1);
    for b in binds {
        q = q.bind(b);
    }
    let mut rows = q.fetch_all(db.read_pool()).await?;
    let more = rows.len() as i64 > first;
    rows.truncate(first as usize);
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
        assert_eq!(Cursor::decode(&c.encode()).ok(), Some(c));
        for bad in [
            "",
            "x",
            "12_notauuid",
            "abc_00000000000000000000000000000007",
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }
}
