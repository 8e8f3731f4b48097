-- Events per hour or local day from `rollup_hour` (the totals, or one path's row).
-- $1 project, $2 from, $3 to, $4 dim ('' or 'path'), $5 date_trunc unit, $6 time zone,
-- $7 path (NULL: any), $8 event type (NULL: any).
SELECT date_trunc($5, bucket, $6) AS bucket, sum(events)::float8 AS value
FROM rollup_hour
WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 AND dim = $4
  AND ($7::text IS NULL OR key = $7) AND ($8::text IS NULL OR event_type = $8)
GROUP BY 1
