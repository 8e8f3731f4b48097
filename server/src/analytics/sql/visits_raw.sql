-- Visits grouped by a key of the visit. A visit is a session's events in the range that match
-- the filter; its duration is its last event's time minus its first's (0 for one event), it
-- bounced with at most one page view, its entry and exit pages are its first and last page
-- views' paths. Events without a session are no visit.
-- $1..$10 the raw filter (analytics::raw_values); $11 the key: 'entry_page', 'exit_page',
-- 'page' (every page the visit viewed: a visit counts under each), '' (every visit, key '') or
-- a visit attribute (`sightline_audience_key`); $12 the keys to keep (NULL: all); $13 limit.
WITH visits AS (
    SELECT min(sightline_visitor(anonymous_id, user_id)) AS visitor,
           count(*) AS events,
           count(*) FILTER (WHERE event_type = 'page.view') AS views,
           extract(epoch FROM max(occurred_at) - min(occurred_at))::float8 AS duration,
           -- Each list only for the key that needs it: `$11` is known when planning, so the other
           -- filters fold to false and those aggregates sort nothing.
           (array_agg(path ORDER BY occurred_at, event_id)
                FILTER (WHERE $11 = 'entry_page' AND event_type = 'page.view' AND path IS NOT NULL))[1] AS entry_page,
           (array_agg(path ORDER BY occurred_at DESC, event_id DESC)
                FILTER (WHERE $11 = 'exit_page' AND event_type = 'page.view' AND path IS NOT NULL))[1] AS exit_page,
           array_agg(DISTINCT path)
                FILTER (WHERE $11 = 'page' AND event_type = 'page.view' AND path IS NOT NULL) AS pages,
           min(sightline_audience_key($11, audience, event_type, path, metadata)) AS attr
    FROM activities
    WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
      AND ($4::text IS NULL OR event_type = $4)
      AND ($5::text IS NULL OR path = $5)
      AND ($6::text IS NULL OR community_id = $6)
      AND ($7::text IS NULL OR user_id = $7)
      AND ($8::jsonb IS NULL OR metadata @> $8)
      AND (NOT is_bot OR $9)
      AND ($10::jsonb IS NULL OR sightline_where($10, audience, event_type, path, metadata, sightline_visitor(anonymous_id, user_id), (SELECT sightline_goal_visitors($1, $2, $3, $9, $10))))
      AND session_id IS NOT NULL
    GROUP BY session_id
),
keyed AS (
    SELECT k AS key, visitor, events, views, duration
    FROM visits
    CROSS JOIN LATERAL unnest(CASE $11 WHEN 'entry_page' THEN ARRAY[entry_page]
                                       WHEN 'exit_page' THEN ARRAY[exit_page]
                                       WHEN 'page' THEN pages
                                       ELSE ARRAY[attr] END) AS k
)
SELECT key, count(DISTINCT visitor)::bigint AS visitors, count(*)::bigint AS visits,
       sum(events)::bigint AS events, sum(views)::bigint AS page_views,
       (count(*) FILTER (WHERE views <= 1))::bigint AS bounced,
       COALESCE(sum(duration), 0)::float8 AS duration_sum
FROM keyed
WHERE key IS NOT NULL AND ($12::text[] IS NULL OR key = ANY($12))
GROUP BY key
ORDER BY 2 DESC, 3 DESC, 1
LIMIT $13
