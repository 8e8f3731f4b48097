-- Events per minute from `rollup_minute`.
-- $1 project, $2 from, $3 to, $4 event type (NULL: any).
SELECT bucket, sum(events)::float8 AS value
FROM rollup_minute
WHERE project_id = $1 AND bucket >= $2 AND bucket < $3
  AND ($4::text IS NULL OR event_type = $4)
GROUP BY 1
