-- Bot events of the range under the filter (bound with bots included: `$9` true).
-- $1..$10 the raw filter (analytics::raw_values).
SELECT count(*)::bigint AS n
FROM activities
WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::text IS NULL OR path = $5)
  AND ($6::text IS NULL OR community_id = $6)
  AND ($7::text IS NULL OR user_id = $7)
  AND ($8::jsonb IS NULL OR metadata @> $8)
  AND (NOT is_bot OR $9)
  AND ($10::jsonb IS NULL OR sightline_where($10, audience, event_type, path, metadata, sightline_visitor(anonymous_id, user_id), (SELECT sightline_goal_visitors($1, $2, $3, $9, $10))))
  AND is_bot
