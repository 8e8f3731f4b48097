-- A measure per bucket from raw events: events, distinct actors or distinct sessions. The CASE
-- folds to the one aggregate `$11` names when planned, so only that one is computed.
-- $1..$8 the raw filter (analytics::raw_values); $9 date_trunc unit; $10 time zone;
-- $11 'events', 'actors' or 'sessions'.
SELECT date_trunc($9, occurred_at, $10) AS bucket,
       CASE $11
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
GROUP BY 1
