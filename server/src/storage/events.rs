//! The worker's write path: many jobs' events in one idempotent statement.
//!
//! One round trip binds the batch as arrays and, in a single statement, inserts what is new into
//! `activities` (`ON CONFLICT DO NOTHING` on the idempotency key), then derives everything else
//! (tracked users, communities, sessions, every rollup table) from the rows *actually inserted*
//! (`RETURNING`). A replayed job therefore changes nothing, which is what makes retries and crash
//! recovery exact, rollups included.

use std::collections::HashSet;

use entity::activity;
use sea_orm::{ConnectionTrait, TransactionTrait, Value};
use uuid::Uuid;

use super::{one, sql, Db, StorageError};

/// How long after a GDPR purge in a project the write statement trusts no known actor-day there
/// (see `worker::actor_days`, whose entries must live less long).
pub const ACTOR_DAYS_PURGE_WINDOW: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

/// The write statement (see the file's header for its parameters).
const INSERT_SQL: &str = include_str!("sql/insert_events.sql");

tokio::task_local! {
    /// The rollup shard of the current writer (a worker lane, a generator writer). Concurrent
    /// writers in different shards never wait on each other's rollup row locks; a stable shard
    /// per writer keeps the row count at (writers x keys). Readers sum over shards.
    pub static ROLLUP_SHARD: i16;
}

fn current_shard() -> i16 {
    ROLLUP_SHARD.try_with(|s| *s).unwrap_or(0)
}

/// Inserts rows idempotently in one transaction. Returns the keys of the rows that were new:
/// already-stored event ids (a replay) are skipped, and so are duplicates inside `rows`.
pub async fn insert(
    db: &Db,
    rows: &[activity::Model],
) -> Result<HashSet<(Uuid, Uuid)>, StorageError> {
    insert_known(db, rows, &[]).await
}

/// [`insert`], told for each row (`actor_day_known[i]`, missing = false) whether its actor's
/// activity on its day is known stored already: those rows leave `actor_activity` alone unless
/// their project had a purge lately. Only the worker's `ActorDays` should say so.
pub async fn insert_known(
    db: &Db,
    rows: &[activity::Model],
    actor_day_known: &[bool],
) -> Result<HashSet<(Uuid, Uuid)>, StorageError> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let (known_projects, known_events): (Vec<Uuid>, Vec<Uuid>) = rows
        .iter()
        .zip(actor_day_known)
        .filter(|(_, known)| **known)
        .map(|(r, _)| (r.project_id, r.event_id))
        .unzip();
    let mut values = columns(rows);
    values.push(current_shard().into());
    values.push(known_projects.into());
    values.push(known_events.into());
    values.push(ACTOR_DAYS_PURGE_WINDOW.as_secs_f64().into());
    values.push(audience(rows));
    let tx = db.primary.begin().await?;
    // The connections plan every statement afresh (`force_custom_plan`, for the analytics reads'
    // partition pruning); this statement gains nothing from its parameters' values and its plan
    // costs ~1.3 ms, most of the work of a small batch: plan it once per connection. Not on a
    // Citus coordinator, which cannot plan it generically ("could not create distributed plan":
    // parameters reaching the inlined SQL functions stay unresolved in a generic plan).
    if !db.citus {
        tx.execute_unprepared("SET LOCAL plan_cache_mode = force_generic_plan")
            .await?;
    }
    let inserted = tx.query_all(sql(INSERT_SQL, values)).await?;
    tx.commit().await?;
    inserted
        .iter()
        .map(|r| {
            let project: Uuid = r.try_get_by_index(0)?;
            let event: Uuid = r.try_get_by_index(1)?;
            Ok((project, event))
        })
        .collect()
}

/// The rows as the statement's seventeen parallel arrays, `$1` to `$17`. Text columns carry ''
/// for NULL (see `sql/insert_events.sql`); `metadata` goes as JSON text, so a batch is
/// serialized once rather than deep-copied.
fn columns(rows: &[activity::Model]) -> Vec<Value> {
    let text = |f: fn(&activity::Model) -> &Option<String>| -> Value {
        rows.iter()
            .map(|r| f(r).clone().unwrap_or_default())
            .collect::<Vec<String>>()
            .into()
    };
    vec![
        rows.iter().map(|r| r.event_id).collect::<Vec<_>>().into(),
        rows.iter().map(|r| r.project_id).collect::<Vec<_>>().into(),
        rows.iter()
            .map(|r| r.event_type.clone())
            .collect::<Vec<_>>()
            .into(),
        text(|r| &r.user_id),
        text(|r| &r.anonymous_id),
        text(|r| &r.session_id),
        text(|r| &r.community_id),
        text(|r| &r.entity_type),
        text(|r| &r.entity_id),
        text(|r| &r.path),
        text(|r| &r.referrer),
        rows.iter()
            .map(|r| r.metadata.to_string())
            .collect::<Vec<_>>()
            .into(),
        text(|r| &r.ip_address),
        text(|r| &r.user_agent),
        rows.iter().map(|r| r.is_bot).collect::<Vec<_>>().into(),
        // As UTC: sea-query-binder 0.7 binds arrays of fixed-offset times as local ones and
        // panics (its `ChronoDateTimeWithTimeZone` array arm reads `DateTime<Local>`).
        utc(rows, |r| r.occurred_at),
        utc(rows, |r| r.received_at),
    ]
}

/// `$22`: each row's own audience attributes as JSON text ('' when it has none).
fn audience(rows: &[activity::Model]) -> Value {
    rows.iter()
        .map(|r| match &r.audience {
            serde_json::Value::Object(m) if !m.is_empty() => r.audience.to_string(),
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .into()
}

fn utc(
    rows: &[activity::Model],
    f: fn(&activity::Model) -> chrono::DateTime<chrono::FixedOffset>,
) -> Value {
    rows.iter()
        .map(|r| f(r).with_timezone(&chrono::Utc))
        .collect::<Vec<_>>()
        .into()
}

/// Number of stored events of a project.
pub async fn count(db: &Db, project_id: Uuid) -> Result<i64, StorageError> {
    one(
        &db.read,
        sql(
            "SELECT count(*) FROM activities WHERE project_id = $1",
            [project_id.into()],
        ),
    )
    .await
}
