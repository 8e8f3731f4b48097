-- GDPR purge, first statement: deletes a tracked user's events ($1 project, $2 user id) and
-- takes their share out of every additive rollup as negative corrections in shard $3, counted
-- with the same definitions the write statement adds them with (`sightline_event_dims`,
-- `sightline_scroll_pct`, `sightline_scroll_delta`). Returns the number of events deleted, the
-- hours they were in (their HyperLogLog sketches are rebuilt next) and their sessions. Bot
-- events count in the audience rollups only (see insert_events.sql), so only there.
WITH del AS (
    DELETE FROM activities WHERE project_id = $1 AND user_id = $2
    RETURNING project_id, event_type, user_id, anonymous_id, session_id, entity_type, entity_id,
              path, referrer, metadata, occurred_at, is_bot, audience
), human AS (
    SELECT * FROM del WHERE NOT is_bot
), audience_cells AS MATERIALIZED (
    SELECT d.project_id, date_trunc('hour', d.occurred_at, 'UTC') AS hour, k.dim, k.key,
           d.is_bot AS bot, count(*) AS events,
           count(*) FILTER (WHERE d.event_type = 'page.view') AS page_views
    FROM del d CROSS JOIN LATERAL sightline_audience_dims(d.audience, d.event_type, d.path) AS k
    GROUP BY 1, 2, 3, 4, 5
), audience_hour_dn AS (
    INSERT INTO rollup_audience_hour AS r (project_id, bucket, dim, key, bot, shard, events,
        page_views, visits, visitors)
    SELECT project_id, hour, dim, key, bot, $3, -events, -page_views, hll_empty(12, 5), hll_empty(12, 5)
    FROM audience_cells
    ON CONFLICT (project_id, dim, bucket, key, bot, shard) DO UPDATE
        SET events = r.events + EXCLUDED.events, page_views = r.page_views + EXCLUDED.page_views
), audience_day_dn AS (
    INSERT INTO rollup_audience_day AS r (project_id, bucket, dim, key, bot, shard, events,
        page_views, visits, visitors)
    SELECT project_id, date_trunc('day', hour, 'UTC'), dim, key, bot, $3, -sum(events)::bigint,
           -sum(page_views)::bigint, hll_empty(12, 5), hll_empty(12, 5)
    FROM audience_cells GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (project_id, dim, bucket, key, bot, shard) DO UPDATE
        SET events = r.events + EXCLUDED.events, page_views = r.page_views + EXCLUDED.page_views
), minute_dn AS (
    INSERT INTO rollup_minute AS r (project_id, bucket, event_type, shard, events)
    SELECT project_id, date_trunc('minute', occurred_at, 'UTC'), event_type, $3, -count(*)
    FROM human GROUP BY 1, 2, 3
    ON CONFLICT (project_id, bucket, event_type, shard) DO UPDATE SET events = r.events + EXCLUDED.events
), hour_cells AS MATERIALIZED (
    SELECT d.project_id, date_trunc('hour', d.occurred_at, 'UTC') AS hour, d.event_type,
           k.dim, k.key, count(*) AS n
    FROM human d
    CROSS JOIN LATERAL sightline_event_dims(d.event_type, d.path, d.metadata, d.entity_id,
                                            d.referrer, d.entity_type) AS k
    GROUP BY 1, 2, 3, 4, 5
), hour_dn AS (
    INSERT INTO rollup_hour AS r (project_id, bucket, event_type, dim, key, shard, events)
    SELECT project_id, hour, event_type, dim, key, $3, -n FROM hour_cells
    ON CONFLICT (project_id, bucket, event_type, dim, key, shard) DO UPDATE SET events = r.events + EXCLUDED.events
), day_dn AS (
    INSERT INTO rollup_day AS r (project_id, bucket, event_type, dim, key, shard, events)
    SELECT project_id, date_trunc('day', hour, 'UTC'), event_type, dim, key, $3, -sum(n)::bigint
    FROM hour_cells GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (project_id, bucket, event_type, dim, key, shard) DO UPDATE SET events = r.events + EXCLUDED.events
), scroll AS MATERIALIZED (
    -- Materialized so `depth`/`prev` are computed once per row (see insert_events.sql).
    SELECT project_id, date_trunc('hour', occurred_at, 'UTC') AS hour, p.path,
           sightline_scroll_pct(metadata->>'depth') AS depth,
           sightline_scroll_pct(metadata->>'prev') AS prev
    FROM human CROSS JOIN LATERAL (VALUES (COALESCE(human.path, '')), ('*')) AS p(path)
    WHERE event_type = 'page.scroll'
), scroll_sums AS (
    SELECT project_id, hour, path, sum(d.views) AS views, sum(d.depth_sum) AS depth_sum,
           sum(d.reached25) AS r25, sum(d.reached50) AS r50, sum(d.reached75) AS r75,
           sum(d.reached100) AS r100
    FROM scroll CROSS JOIN LATERAL sightline_scroll_delta(depth, prev) AS d
    GROUP BY 1, 2, 3
), scroll_hour_dn AS (
    INSERT INTO rollup_scroll_hour AS r (project_id, bucket, path, shard, views, depth_sum,
        reached25, reached50, reached75, reached100)
    SELECT project_id, hour, path, $3, -views, -depth_sum, -r25, -r50, -r75, -r100 FROM scroll_sums
    ON CONFLICT (project_id, bucket, path, shard) DO UPDATE
        SET views = r.views + EXCLUDED.views, depth_sum = r.depth_sum + EXCLUDED.depth_sum,
            reached25 = r.reached25 + EXCLUDED.reached25, reached50 = r.reached50 + EXCLUDED.reached50,
            reached75 = r.reached75 + EXCLUDED.reached75, reached100 = r.reached100 + EXCLUDED.reached100
), scroll_day_dn AS (
    INSERT INTO rollup_scroll_day AS r (project_id, bucket, path, shard, views, depth_sum,
        reached25, reached50, reached75, reached100)
    SELECT project_id, date_trunc('day', hour, 'UTC'), path, $3, -sum(views), -sum(depth_sum),
           -sum(r25), -sum(r50), -sum(r75), -sum(r100)
    FROM scroll_sums GROUP BY 1, 2, 3
    ON CONFLICT (project_id, bucket, path, shard) DO UPDATE
        SET views = r.views + EXCLUDED.views, depth_sum = r.depth_sum + EXCLUDED.depth_sum,
            reached25 = r.reached25 + EXCLUDED.reached25, reached50 = r.reached50 + EXCLUDED.reached50,
            reached75 = r.reached75 + EXCLUDED.reached75, reached100 = r.reached100 + EXCLUDED.reached100
)
SELECT (SELECT count(*) FROM del)::bigint AS events,
       COALESCE((SELECT array_agg(DISTINCT date_trunc('hour', occurred_at, 'UTC')) FROM del), '{}') AS hours,
       COALESCE((SELECT array_agg(DISTINCT session_id) FROM del WHERE session_id IS NOT NULL), '{}') AS sessions
