-- Grouped counts from raw events. A key is the event type, or the event's key for a rollup
-- dimension: `sightline_dim_key`, the definition the rollups are written with, inlined and
-- folded to the one dimension's expression since `$12` is known when planning.
-- $1..$10 the raw filter (analytics::raw_values); $11 group by type (boolean); $12 dim; $13 limit.
SELECT k AS key, count(*)::bigint AS count
FROM (
    SELECT CASE WHEN $11 THEN event_type
                ELSE sightline_dim_key($12, event_type, path, metadata, entity_id, referrer,
                                       entity_type)
           END AS k
    FROM activities
    WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
      AND ($4::text IS NULL OR event_type = $4)
      AND ($5::text IS NULL OR path = $5)
      AND ($6::text IS NULL OR community_id = $6)
      AND ($7::text IS NULL OR user_id = $7)
      AND ($8::jsonb IS NULL OR metadata @> $8)
      AND (NOT is_bot OR $9)
      AND ($10::jsonb IS NULL OR sightline_where($10, audience, event_type, path, metadata, sightline_visitor(anonymous_id, user_id), (SELECT sightline_goal_visitors($1, $2, $3, $9, $10))))
) t
WHERE k IS NOT NULL
GROUP BY k
ORDER BY 2 DESC, 1
LIMIT $13
