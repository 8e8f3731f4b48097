-- A measure per bucket from raw events: events, distinct actors or distinct sessions. The CASE
-- folds to the one aggregate `$13` names when planned, so only that one is computed.
-- $1..$10 the raw filter (analytics::raw_values); $11 date_trunc unit; $12 time zone;
-- $13 'events', 'actors' or 'sessions'.
SELECT date_trunc($11, occurred_at, $12) AS bucket,
       CASE $13
           WHEN 'actors' THEN count(DISTINCT COALESCE(user_id, anonymous_id))
           WHEN 'sessions' THEN count(DISTINCT session_id)
           ELSE count(*)
       END::float8 AS value
FROM activities
WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::text IS NULL OR path = $5)
  AND ($6::text IS NULL OR community_id = $6)
  AND ($7::text IS NULL OR user_id = $7)
  AND ($8::jsonb IS NULL OR metadata @> $8)
  AND (NOT is_bot OR $9)
  AND ($10::jsonb IS NULL OR sightline_where($10, audience, event_type, path, metadata, sightline_visitor(anonymous_id, user_id), (SELECT sightline_goal_visitors($1, $2, $3, $9, $10))))
GROUP BY 1
