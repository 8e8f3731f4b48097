//! The worker's write path: many jobs' events in one idempotent statement.
//!
//! One round trip binds the batch as arrays and, in a single statement, inserts what is new into
//! `activities` (`ON CONFLICT DO NOTHING` on the idempotency key), then derives everything else
//! (tracked users, communities, sessions, every rollup table) from the rows *actually inserted*
//! (`RETURNING`). A replayed job therefore changes nothing, which is what makes retries and crash
//! recovery exact, rollups included.

use std::collections::HashSet;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Db, StorageError};

/// One row of `activities`.
#[derive(Debug, Clone)]
pub struct Row {
    pub event_id: Uuid,
    pub project_id: Uuid,
    pub event_type: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub session_id: Option<String>,
    pub community_id: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub path: Option<String>,
    pub referrer: Option<String>,
    pub metadata: Value,
    pub ip_address: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub is_bot: bool,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

/// How long after a GDPR purge in a project the write statement trusts no known actor-day there
/// (see `worker::actor_days`, whose entries must live less long), as SQL.
macro_rules! actor_days_purge_window {
    () => {
        "2 hours"
    };
}
/// [`actor_days_purge_window`] as a duration.
pub const ACTOR_DAYS_PURGE_WINDOW: std::time::Duration = std::time::Duration::from_secs(2 * 3600);

const INSERT_SQL: &str = concat!(
    r#"
WITH input AS (
    SELECT * FROM unnest(
        $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::text[], $12::jsonb[], $13::text[], $14::text[],
        $15::bool[], $16::timestamptz[], $17::timestamptz[]
    ) AS t(event_id, project_id, event_type, user_id, anonymous_id, session_id, community_id,
           entity_type, entity_id, path, referrer, metadata, ip_address, user_agent,
           is_bot, occurred_at, received_at)
), ins AS (
    INSERT INTO activities (event_id, project_id, event_type, user_id, anonymous_id, session_id,
        community_id, entity_type, entity_id, path, referrer, metadata, ip_address, user_agent,
        is_bot, occurred_at, received_at)
    SELECT event_id, project_id, event_type, user_id, anonymous_id, session_id, community_id,
        entity_type, entity_id, path, referrer, metadata, ip_address::inet, user_agent, is_bot,
        occurred_at, received_at
    FROM input
    ON CONFLICT DO NOTHING
    RETURNING project_id, event_id, event_type, user_id, anonymous_id, session_id, community_id,
              entity_type, entity_id, path, referrer, metadata, occurred_at
), users_up AS (
    -- last_seen moves in steps of a minute at most: most batches then update no user row.
    INSERT INTO users AS u (project_id, external_id, first_seen, last_seen)
    SELECT project_id, user_id, min(occurred_at), max(occurred_at)
    FROM ins WHERE user_id IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (project_id, external_id) DO UPDATE
        SET first_seen = LEAST(u.first_seen, EXCLUDED.first_seen),
            last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen)
        WHERE u.first_seen > EXCLUDED.first_seen
           OR u.last_seen < EXCLUDED.last_seen - interval '1 minute'
), communities_up AS (
    INSERT INTO communities AS c (project_id, external_id, name, created_at)
    SELECT project_id, community_id,
           max(metadata->>'name') FILTER (WHERE event_type = 'community.created'),
           min(occurred_at)
    FROM ins WHERE community_id IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (project_id, external_id) DO UPDATE
        SET name = COALESCE(EXCLUDED.name, c.name),
            created_at = LEAST(c.created_at, EXCLUDED.created_at)
        WHERE (EXCLUDED.name IS NOT NULL AND EXCLUDED.name IS DISTINCT FROM c.name)
           OR c.created_at > EXCLUDED.created_at
), minute_up AS (
    INSERT INTO rollup_minute AS r (project_id, bucket, event_type, shard, events)
    SELECT project_id, date_trunc('minute', occurred_at, 'UTC'), event_type, $18, count(*)
    FROM ins GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, bucket, event_type, shard) DO UPDATE SET events = r.events + EXCLUDED.events
), hour_cells AS MATERIALIZED (
    -- Counted once; day cells are sums of these (counting the per-event dimensions a second
    -- time, by day, cost more than any upsert of the statement).
    "#,
    rollup_hour_cells_sql!("ins"),
    r#"
), hour_up AS (
    INSERT INTO rollup_hour AS r (project_id, bucket, event_type, dim, key, shard, events)
    SELECT project_id, hour, event_type, dim, key, $18, n
    FROM hour_cells ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (project_id, bucket, event_type, dim, key, shard) DO UPDATE SET events = r.events + EXCLUDED.events
), day_up AS (
    INSERT INTO rollup_day AS r (project_id, bucket, event_type, dim, key, shard, events)
    SELECT project_id, date_trunc('day', hour, 'UTC'), event_type, dim, key, $18, sum(n)::bigint
    FROM hour_cells GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (project_id, bucket, event_type, dim, key, shard) DO UPDATE SET events = r.events + EXCLUDED.events
), uniques AS (
    SELECT project_id, date_trunc('hour', occurred_at, 'UTC') AS hour,
           COALESCE(hll_add_agg(hll_hash_text(COALESCE(user_id, anonymous_id)), 12, 5), hll_empty(12, 5)) AS actors,
           COALESCE(hll_add_agg(hll_hash_text(session_id), 12, 5), hll_empty(12, 5)) AS sessions
    FROM ins GROUP BY 1, 2
), uniques_hour_up AS (
    INSERT INTO rollup_uniques_hour AS r (project_id, bucket, shard, actors, sessions)
    SELECT project_id, hour, $18, actors, sessions FROM uniques ORDER BY 1, 2
    ON CONFLICT (project_id, bucket, shard) DO UPDATE
        SET actors = hll_union(r.actors, EXCLUDED.actors), sessions = hll_union(r.sessions, EXCLUDED.sessions)
), uniques_day_up AS (
    INSERT INTO rollup_uniques_day AS r (project_id, bucket, shard, actors, sessions)
    SELECT project_id, date_trunc('day', hour, 'UTC'), $18, hll_union_agg(actors), hll_union_agg(sessions)
    FROM uniques GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (project_id, bucket, shard) DO UPDATE
        SET actors = hll_union(r.actors, EXCLUDED.actors), sessions = hll_union(r.sessions, EXCLUDED.sessions)
), scroll AS MATERIALIZED (
    -- Materialized: inlined, `depth` and `prev` would be recomputed (regex, numeric) in every
    -- aggregate and FILTER that names them, a dozen times per row (measured: 20 ms of a
    -- 5,000-event statement, against 2 ms).
    SELECT project_id, date_trunc('hour', occurred_at, 'UTC') AS hour, p.path,
           LEAST(GREATEST(COALESCE(sightline_int(metadata->>'depth'), 0), 0), 100) AS depth,
           LEAST(GREATEST(COALESCE(sightline_int(metadata->>'prev'), 0), 0), 100) AS prev
    FROM ins CROSS JOIN LATERAL (VALUES (COALESCE(ins.path, '')), ('*')) AS p(path)
    WHERE event_type = 'page.scroll'
), scroll_sums AS (
    SELECT project_id, hour, path,
           "#,
    rollup_scroll_sums_sql!(),
    r#"
    FROM scroll GROUP BY 1, 2, 3
), scroll_hour_up AS (
    INSERT INTO rollup_scroll_hour AS r (project_id, bucket, path, shard, views, depth_sum,
        reached25, reached50, reached75, reached100)
    SELECT project_id, hour, path, $18, views, depth_sum, r25, r50, r75, r100 FROM scroll_sums ORDER BY 1, 2, 3
    ON CONFLICT (project_id, bucket, path, shard) DO UPDATE
        SET views = r.views + EXCLUDED.views, depth_sum = r.depth_sum + EXCLUDED.depth_sum,
            reached25 = r.reached25 + EXCLUDED.reached25, reached50 = r.reached50 + EXCLUDED.reached50,
            reached75 = r.reached75 + EXCLUDED.reached75, reached100 = r.reached100 + EXCLUDED.reached100
), scroll_day_up AS (
    INSERT INTO rollup_scroll_day AS r (project_id, bucket, path, shard, views, depth_sum,
        reached25, reached50, reached75, reached100)
    SELECT project_id, date_trunc('day', hour, 'UTC'), path, $18, sum(views), sum(depth_sum),
           sum(r25), sum(r50), sum(r75), sum(r100)
    FROM scroll_sums GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, bucket, path, shard) DO UPDATE
        SET views = r.views + EXCLUDED.views, depth_sum = r.depth_sum + EXCLUDED.depth_sum,
            reached25 = r.reached25 + EXCLUDED.reached25, reached50 = r.reached50 + EXCLUDED.reached50,
            reached75 = r.reached75 + EXCLUDED.reached75, reached100 = r.reached100 + EXCLUDED.reached100
), sessions_up AS (
    INSERT INTO sessions AS s (project_id, session_id, actor, started_at, last_seen, page_views, events)
    SELECT project_id, session_id, min(COALESCE(user_id, anonymous_id)), min(occurred_at), max(occurred_at),
           count(*) FILTER (WHERE event_type = 'page.view'), count(*)
    FROM ins WHERE session_id IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (project_id, session_id) DO UPDATE
        SET actor = COALESCE(s.actor, EXCLUDED.actor),
            started_at = LEAST(s.started_at, EXCLUDED.started_at),
            last_seen = GREATEST(s.last_seen, EXCLUDED.last_seen),
            page_views = s.page_views + EXCLUDED.page_views,
            events = s.events + EXCLUDED.events,
            prev_started_at = s.started_at,
            prev_page_views = s.page_views
    RETURNING project_id, started_at, page_views, prev_started_at, prev_page_views
), session_moves AS (
    -- A new session adds itself to its start hour; an updated one also leaves its old hour and
    -- bounce state (prev_* are NULL on a fresh insert, set on every update).
    SELECT project_id, date_trunc('hour', started_at, 'UTC') AS hour, 1 AS n, (page_views <= 1)::int AS b
    FROM sessions_up
    UNION ALL
    SELECT project_id, date_trunc('hour', prev_started_at, 'UTC'), -1, -((prev_page_views <= 1)::int)
    FROM sessions_up WHERE prev_started_at IS NOT NULL
), sessions_roll AS (
    INSERT INTO rollup_sessions_hour AS r (project_id, bucket, shard, sessions, bounced)
    SELECT project_id, hour, $18, sum(n), sum(b) FROM session_moves
    GROUP BY 1, 2 HAVING sum(n) <> 0 OR sum(b) <> 0 ORDER BY 1, 2
    ON CONFLICT (project_id, bucket, shard) DO UPDATE
        SET sessions = r.sessions + EXCLUDED.sessions, bounced = r.bounced + EXCLUDED.bounced
), purged_lately AS (
    -- The batch's projects with a GDPR purge lately: a purge deletes `actor_activity` rows, and
    -- the caller remembers an actor-day for less long than this, so none of its skips are
    -- trusted there. One index probe per project of the batch.
    SELECT b.project_id FROM (SELECT DISTINCT project_id FROM input) b
    WHERE EXISTS (SELECT 1 FROM purged_users p WHERE p.project_id = b.project_id
                  AND p.purged_at > now() - interval '"#,
    actor_days_purge_window!(),
    r#"')
), known_actor_days AS (
    -- Rows whose actor-day the caller knows stored ($19/$20: their project and event ids; the
    -- worker's `ActorDays`).
    SELECT k.project_id, k.event_id FROM unnest($19::uuid[], $20::uuid[]) AS k(project_id, event_id)
    WHERE k.project_id NOT IN (SELECT project_id FROM purged_lately)
), actor_days AS (
    -- A plain NOT EXISTS, so it plans as a hash anti-join (an OR beside it made it a subplan
    -- run per row: quadratic in the batch).
    SELECT DISTINCT i.project_id, COALESCE(i.user_id, i.anonymous_id) AS actor, (i.occurred_at AT TIME ZONE 'UTC')::date AS day
    FROM ins i
    WHERE COALESCE(i.user_id, i.anonymous_id) IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM known_actor_days k
                      WHERE k.project_id = i.project_id AND k.event_id = i.event_id)
), actor_batch AS (
    -- The batch's own activity per actor, relative to its earliest day here.
    SELECT project_id, actor, f,
           bit_or(sightline_shl(1, day - f)) AS days,
           bit_or(sightline_shl(1, (sightline_week(day) - sightline_week(f)) / 7)) AS weeks
    FROM (SELECT project_id, actor, day, min(day) OVER (PARTITION BY project_id, actor) AS f FROM actor_days) d
    GROUP BY 1, 2, 3
), actor_activity_up AS (
    INSERT INTO actor_activity AS a (project_id, actor, first_day, days, weeks)
    SELECT project_id, actor, f, days, weeks FROM actor_batch ORDER BY 1, 2
    ON CONFLICT (project_id, actor) DO UPDATE
        SET first_day = LEAST(a.first_day, EXCLUDED.first_day),
            days = sightline_shl(a.days, a.first_day - LEAST(a.first_day, EXCLUDED.first_day))
                 | sightline_shl(EXCLUDED.days, EXCLUDED.first_day - LEAST(a.first_day, EXCLUDED.first_day)),
            weeks = sightline_shl(a.weeks, (sightline_week(a.first_day) - sightline_week(LEAST(a.first_day, EXCLUDED.first_day))) / 7)
                  | sightline_shl(EXCLUDED.weeks, (sightline_week(EXCLUDED.first_day) - sightline_week(LEAST(a.first_day, EXCLUDED.first_day))) / 7)
        -- Most batches add nothing new for a known actor (same day): skip those writes.
        WHERE EXCLUDED.first_day < a.first_day
           OR a.days <> a.days | sightline_shl(EXCLUDED.days, EXCLUDED.first_day - a.first_day)
           OR a.weeks <> a.weeks | sightline_shl(EXCLUDED.weeks, (sightline_week(EXCLUDED.first_day) - sightline_week(a.first_day)) / 7)
)
SELECT project_id, event_id FROM ins
"#
);

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
pub async fn insert(db: &Db, rows: &[Row]) -> Result<HashSet<(Uuid, Uuid)>, StorageError> {
    insert_known(db, rows, &[]).await
}

/// [`insert`], told for each row (`actor_day_known[i]`, missing = false) whether its actor's
/// activity on its day is known stored already: those rows leave `actor_activity` alone unless
/// their project had a purge lately. Only the worker's `ActorDays` should say so.
pub async fn insert_known(
    db: &Db,
    rows: &[Row],
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
    let n = rows.len();
    let mut event_id = Vec::with_capacity(n);
    let mut project_id = Vec::with_capacity(n);
    let mut event_type = Vec::with_capacity(n);
    let mut user_id = Vec::with_capacity(n);
    let mut anonymous_id = Vec::with_capacity(n);
    let mut session_id = Vec::with_capacity(n);
    let mut community_id = Vec::with_capacity(n);
    let mut entity_type = Vec::with_capacity(n);
    let mut entity_id = Vec::with_capacity(n);
    let mut path = Vec::with_capacity(n);
    let mut referrer = Vec::with_capacity(n);
    let mut metadata = Vec::with_capacity(n);
    let mut ip = Vec::with_capacity(n);
    let mut user_agent = Vec::with_capacity(n);
    let mut is_bot = Vec::with_capacity(n);
    let mut occurred_at = Vec::with_capacity(n);
    let mut received_at = Vec::with_capacity(n);
    for r in rows {
        event_id.push(r.event_id);
        project_id.push(r.project_id);
        event_type.push(r.event_type.as_str());
        user_id.push(r.user_id.as_deref());
        anonymous_id.push(r.anonymous_id.as_deref());
        session_id.push(r.session_id.as_deref());
        community_id.push(r.community_id.as_deref());
        entity_type.push(r.entity_type.as_deref());
        entity_id.push(r.entity_id.as_deref());
        path.push(r.path.as_deref());
        referrer.push(r.referrer.as_deref());
        metadata.push(&r.metadata);
        ip.push(r.ip_address.map(|a| a.to_string()));
        user_agent.push(r.user_agent.as_deref());
        is_bot.push(r.is_bot);
        occurred_at.push(r.occurred_at);
        received_at.push(r.received_at);
    }
    let mut tx = db.pool().begin().await?;
    // The connections plan every statement afresh (`force_custom_plan`, for the analytics reads'
    // partition pruning); this statement gains nothing from its parameters' values and its plan
    // costs ~1.3 ms, most of the work of a small batch: plan it once per connection.
    sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
        .execute(&mut *tx)
        .await?;
    let inserted: Vec<(Uuid, Uuid)> = sqlx::query_as(INSERT_SQL)
        .bind(&event_id)
        .bind(&project_id)
        .bind(&event_type)
        .bind(&user_id)
        .bind(&anonymous_id)
        .bind(&session_id)
        .bind(&community_id)
        .bind(&entity_type)
        .bind(&entity_id)
        .bind(&path)
        .bind(&referrer)
        .bind(&metadata)
        .bind(&ip)
        .bind(&user_agent)
        .bind(&is_bot)
        .bind(&occurred_at)
        .bind(&received_at)
        .bind(current_shard())
        .bind(&known_projects)
        .bind(&known_events)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(inserted.into_iter().collect())
}

/// Number of stored events of a project (the foundation's count query).
pub async fn count(db: &Db, project_id: Uuid) -> Result<i64, StorageError> {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM activities WHERE project_id = $1")
        .bind(project_id)
        .fetch_one(db.read_pool())
        .await?;
    Ok(n)
}
