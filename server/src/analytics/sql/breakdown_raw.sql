-- A breakdown from raw events, with the rollup's definitions: the key `sightline_audience_key`
-- (folded to the one dimension's expression since `$11` is known when planning), the visitor
-- `sightline_visitor`. Dimension '' (key '') gives the totals.
-- $1..$10 the raw filter (analytics::raw_values); $11 dim; $12 limit.
SELECT k AS key, count(DISTINCT v)::bigint AS visitors, count(DISTINCT session_id)::bigint AS visits,
       count(*)::bigint AS events, (count(*) FILTER (WHERE event_type = 'page.view'))::bigint AS page_views
FROM (
    SELECT sightline_audience_key($11, audience, event_type, path, metadata) AS k,
           sightline_visitor(anonymous_id, user_id) AS v, session_id, event_type
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
ORDER BY 2 DESC, 4 DESC, 1
LIMIT $12
