-- Grouped counts from raw events. A key is the event type, or the event's key for a rollup
-- dimension: `sightline_dim_key`, the definition the rollups are written with, inlined and
-- folded to the one dimension's expression since `$10` is known when planning.
-- $1..$8 the raw filter (analytics::raw_values); $9 group by type (boolean); $10 dim; $11 limit.
SELECT k AS key, count(*)::bigint AS count
FROM (
    SELECT CASE WHEN $9 THEN event_type
                ELSE sightline_dim_key($10, event_type, path, metadata, entity_id, referrer,
                                       entity_type)
           END AS k
    FROM activities
    WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
      AND ($4::text IS NULL OR event_type = $4)
      AND ($5::text IS NULL OR path = $5)
      AND ($6::text IS NULL OR community_id = $6)
      AND ($7::text IS NULL OR user_id = $7)
      AND ($8::jsonb IS NULL OR metadata @> $8)
) t
WHERE k IS NOT NULL
GROUP BY k
ORDER BY 2 DESC, 1
LIMIT $11
