-- One page of raw events, newest first, as `entity::activity::Model` rows: those before the
-- cursor (keyset pagination on the primary key's order), one more than the page holds, which
-- says whether another page follows.
-- $1..$10 the raw filter (analytics::raw_values); $11, $12 the cursor's time and event id (NULL:
-- the first page); $13 limit.
SELECT project_id, event_id, occurred_at, event_type, user_id, anonymous_id, session_id,
       community_id, entity_type, entity_id, path, referrer, metadata,
       ip_address::text AS ip_address, user_agent, is_bot, received_at, audience
FROM activities
WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::text IS NULL OR path = $5)
  AND ($6::text IS NULL OR community_id = $6)
  AND ($7::text IS NULL OR user_id = $7)
  AND ($8::jsonb IS NULL OR metadata @> $8)
  AND (NOT is_bot OR $9)
  AND ($10::jsonb IS NULL OR sightline_where($10, audience, event_type, path, metadata, sightline_visitor(anonymous_id, user_id), (SELECT sightline_goal_visitors($1, $2, $3, $9, $10))))
  AND ($11::timestamptz IS NULL OR (occurred_at, event_id) < ($11, $12))
ORDER BY occurred_at DESC, event_id DESC
LIMIT $13
