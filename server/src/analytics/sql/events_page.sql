-- One page of raw events, newest first, as `entity::activity::Model` rows: those before the
-- cursor (keyset pagination on the primary key's order), one more than the page holds, which
-- says whether another page follows.
-- $1..$8 the raw filter (analytics::raw_values); $9, $10 the cursor's time and event id (NULL:
-- the first page); $11 limit.
SELECT project_id, event_id, occurred_at, event_type, user_id, anonymous_id, session_id,
       community_id, entity_type, entity_id, path, referrer, metadata,
       ip_address::text AS ip_address, user_agent, is_bot, received_at
FROM activities
WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::text IS NULL OR path = $5)
  AND ($6::text IS NULL OR community_id = $6)
  AND ($7::text IS NULL OR user_id = $7)
  AND ($8::jsonb IS NULL OR metadata @> $8)
  AND ($9::timestamptz IS NULL OR (occurred_at, event_id) < ($9, $10))
ORDER BY occurred_at DESC, event_id DESC
LIMIT $11
