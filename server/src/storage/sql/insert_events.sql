-- The worker's write: a batch of events in one idempotent statement.
--
-- Inserts what is new into `activities` (ON CONFLICT DO NOTHING on the idempotency key), then
-- derives everything else (tracked users, communities, every rollup table, sessions and
-- per-actor activity) from the rows *actually inserted* (RETURNING): a replayed batch changes
-- nothing. Every upsert runs in key order, so concurrent writers cannot deadlock, and in the
-- writer's rollup shard ($18), so they never wait on each other's rollup rows.
--
-- Parameters: $1-$17 the rows as parallel arrays (text columns use '' for NULL: SeaORM's
-- array values cannot hold a NULL element, and no stored text is ever empty); $18 the rollup
-- shard; $19/$20 project and event ids of the rows whose actor-day the caller knows stored
-- (left out of actor_activity's upsert); $21 seconds after a GDPR purge during which no such
-- skip is trusted in that project; $22 each row's own audience attributes (JSON text, '' for
-- none: see migration 0009), which the statement resolves to its visit's.
--
-- Bot events ($15) are stored and counted in `rollup_audience_*` (under `bot`), and left out of
-- every other rollup, of `sessions`, `actor_activity` and `identities`: answers leave bots out
-- by default, and bring them back from raw rows or the audience rollup's bot rows.
WITH input AS (
    SELECT t.event_id, t.project_id, t.event_type, NULLIF(t.user_id, '') AS user_id,
           NULLIF(t.anonymous_id, '') AS anonymous_id, NULLIF(t.session_id, '') AS session_id,
           NULLIF(t.community_id, '') AS community_id, NULLIF(t.entity_type, '') AS entity_type,
           NULLIF(t.entity_id, '') AS entity_id, NULLIF(t.path, '') AS path,
           NULLIF(t.referrer, '') AS referrer, t.metadata::jsonb AS metadata,
           NULLIF(t.ip_address, '')::inet AS ip_address, NULLIF(t.user_agent, '') AS user_agent,
           t.is_bot, t.occurred_at, t.received_at,
           COALESCE(NULLIF(t.audience, '')::jsonb, '{}') AS own_audience
    FROM unnest(
        $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
        $15::bool[], $16::timestamptz[], $17::timestamptz[], $22::text[]
    ) AS t(event_id, project_id, event_type, user_id, anonymous_id, session_id, community_id,
           entity_type, entity_id, path, referrer, metadata, ip_address, user_agent,
           is_bot, occurred_at, received_at, audience)
), visit_first AS (
    -- The batch's earliest event of each visit, whose attributes the visit takes unless it was
    -- stored before.
    SELECT DISTINCT ON (project_id, session_id) project_id, session_id, own_audience
    FROM input WHERE session_id IS NOT NULL
    ORDER BY project_id, session_id, occurred_at, event_id
), visit AS (
    SELECT f.project_id, f.session_id, COALESCE(s.audience, f.own_audience) AS audience
    FROM visit_first f
    LEFT JOIN sessions s ON s.project_id = f.project_id AND s.session_id = f.session_id
), ins AS (
    INSERT INTO activities (event_id, project_id, event_type, user_id, anonymous_id, session_id,
        community_id, entity_type, entity_id, path, referrer, metadata, ip_address, user_agent,
        is_bot, occurred_at, received_at, audience)
    SELECT i.event_id, i.project_id, i.event_type, i.user_id, i.anonymous_id, i.session_id,
           i.community_id, i.entity_type, i.entity_id, i.path, i.referrer, i.metadata,
           i.ip_address, i.user_agent, i.is_bot, i.occurred_at, i.received_at,
           COALESCE(v.audience, i.own_audience)
    FROM input i
    LEFT JOIN visit v ON v.project_id = i.project_id AND v.session_id = i.session_id
    ON CONFLICT DO NOTHING
    RETURNING project_id, event_id, event_type, user_id, anonymous_id, session_id, community_id,
              entity_type, entity_id, path, referrer, metadata, occurred_at, is_bot, audience
), users_up AS (
    -- last_seen moves in steps of a minute at most: most batches then update no user row.
    -- (Written as a difference of times: `timestamptz - interval` is only STABLE, and Citus
    -- refuses non-IMMUTABLE functions in an ON CONFLICT's WHERE.)
    INSERT INTO users AS u (project_id, external_id, first_seen, last_seen)
    SELECT project_id, user_id, min(occurred_at), max(occurred_at)
    FROM ins WHERE user_id IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (project_id, external_id) DO UPDATE
        SET first_seen = LEAST(u.first_seen, EXCLUDED.first_seen),
            last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen)
        WHERE u.first_seen > EXCLUDED.first_seen
           OR EXCLUDED.last_seen - u.last_seen > interval '1 minute'
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
    FROM ins WHERE NOT is_bot GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, bucket, event_type, shard) DO UPDATE SET events = r.events + EXCLUDED.events
), hour_cells AS MATERIALIZED (
    -- Events per hour cell, counted once; day cells are sums of these (counting the per-event
    -- dimensions a second time, by day, cost more than any upsert of the statement).
    SELECT i.project_id, date_trunc('hour', i.occurred_at, 'UTC') AS hour, i.event_type,
           d.dim, d.key, count(*) AS n
    FROM ins i
    CROSS JOIN LATERAL sightline_event_dims(i.event_type, i.path, i.metadata, i.entity_id,
                                            i.referrer, i.entity_type) AS d
    WHERE NOT i.is_bot
    GROUP BY 1, 2, 3, 4, 5
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
    FROM ins WHERE NOT is_bot GROUP BY 1, 2
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
    -- aggregate that names them (measured: 20 ms of a 5,000-event statement, against 2 ms).
    SELECT project_id, date_trunc('hour', occurred_at, 'UTC') AS hour, p.path,
           sightline_scroll_pct(metadata->>'depth') AS depth,
           sightline_scroll_pct(metadata->>'prev') AS prev
    FROM ins CROSS JOIN LATERAL (VALUES (COALESCE(ins.path, '')), ('*')) AS p(path)
    WHERE event_type = 'page.scroll' AND NOT is_bot
), scroll_sums AS (
    SELECT project_id, hour, path, sum(d.views) AS views, sum(d.depth_sum) AS depth_sum,
           sum(d.reached25) AS r25, sum(d.reached50) AS r50, sum(d.reached75) AS r75,
           sum(d.reached100) AS r100
    FROM scroll CROSS JOIN LATERAL sightline_scroll_delta(depth, prev) AS d
    GROUP BY 1, 2, 3
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
    INSERT INTO sessions AS s (project_id, session_id, actor, started_at, last_seen, page_views, events,
                               audience)
    SELECT project_id, session_id, min(COALESCE(user_id, anonymous_id)), min(occurred_at), max(occurred_at),
           count(*) FILTER (WHERE event_type = 'page.view'), count(*),
           (array_agg(audience ORDER BY occurred_at))[1]
    FROM ins WHERE session_id IS NOT NULL AND NOT is_bot
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (project_id, session_id) DO UPDATE
        SET actor = COALESCE(s.actor, EXCLUDED.actor),
            audience = COALESCE(s.audience, EXCLUDED.audience),
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
    -- trusted there. One index probe per project of the batch. Filtered by the batch's
    -- project ids as given ($2), not by a subquery over `input`: Citus plans no correlated
    -- subquery over a CTE, and with the values in hand it reads only those projects' shards.
    SELECT DISTINCT p.project_id FROM purged_users p
    WHERE p.project_id = ANY($2::uuid[])
      AND p.purged_at > now() - make_interval(secs => $21)
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
    WHERE COALESCE(i.user_id, i.anonymous_id) IS NOT NULL AND NOT i.is_bot
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
), identities_up AS (
    -- An anonymous id seen with a user id is that user's, from its first such event on.
    INSERT INTO identities (project_id, anonymous_id, user_id, linked_at)
    SELECT DISTINCT ON (project_id, anonymous_id) project_id, anonymous_id, user_id, occurred_at
    FROM ins WHERE anonymous_id IS NOT NULL AND user_id IS NOT NULL AND NOT is_bot
    ORDER BY project_id, anonymous_id, occurred_at
    ON CONFLICT DO NOTHING
), audience_cells AS MATERIALIZED (
    -- Per hour cell of the breakdown rollup: events, page views, and sketches of the visits
    -- and visitors, counted once; day cells are unions of these.
    SELECT i.project_id, date_trunc('hour', i.occurred_at, 'UTC') AS hour, d.dim, d.key,
           i.is_bot AS bot, count(*) AS events,
           count(*) FILTER (WHERE i.event_type = 'page.view') AS page_views,
           COALESCE(hll_add_agg(hll_hash_text(i.session_id), 12, 5), hll_empty(12, 5)) AS visits,
           COALESCE(hll_add_agg(hll_hash_text(sightline_visitor(i.anonymous_id, i.user_id)), 12, 5),
                    hll_empty(12, 5)) AS visitors
    FROM ins i
    CROSS JOIN LATERAL sightline_audience_dims(i.audience, i.event_type, i.path) AS d
    GROUP BY 1, 2, 3, 4, 5
), audience_hour_up AS (
    INSERT INTO rollup_audience_hour AS r (project_id, bucket, dim, key, bot, shard, events,
        page_views, visits, visitors)
    SELECT project_id, hour, dim, key, bot, $18, events, page_views, visits, visitors
    FROM audience_cells ORDER BY 1, 3, 2, 4, 5
    ON CONFLICT (project_id, dim, bucket, key, bot, shard) DO UPDATE
        SET events = r.events + EXCLUDED.events, page_views = r.page_views + EXCLUDED.page_views,
            visits = hll_union(r.visits, EXCLUDED.visits),
            visitors = hll_union(r.visitors, EXCLUDED.visitors)
), audience_day_up AS (
    INSERT INTO rollup_audience_day AS r (project_id, bucket, dim, key, bot, shard, events,
        page_views, visits, visitors)
    SELECT project_id, date_trunc('day', hour, 'UTC'), dim, key, bot, $18, sum(events)::bigint,
           sum(page_views)::bigint, hll_union_agg(visits), hll_union_agg(visitors)
    FROM audience_cells GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 3, 2, 4, 5
    ON CONFLICT (project_id, dim, bucket, key, bot, shard) DO UPDATE
        SET events = r.events + EXCLUDED.events, page_views = r.page_views + EXCLUDED.page_views,
            visits = hll_union(r.visits, EXCLUDED.visits),
            visitors = hll_union(r.visitors, EXCLUDED.visitors)
)
SELECT project_id, event_id FROM ins
