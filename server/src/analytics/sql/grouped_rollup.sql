-- Grouped counts from the rollups: `rollup_day` over the range's whole UTC days, `rollup_hour`
-- over the hours before and after them. A key is the row's event type when grouping by type,
-- else its dimension key.
-- $1 project; $2, $3 days; $4, $5 head hours; $6, $7 tail hours; $8 dim; $9 key (NULL: any);
-- $10 event type (NULL: any); $11 group by type (boolean); $12 limit.
SELECT k AS key, sum(n)::bigint AS count
FROM (
    SELECT CASE WHEN $11 THEN event_type ELSE key END AS k, events AS n
    FROM rollup_day
    WHERE project_id = $1 AND bucket >= $2 AND bucket < $3
      AND dim = $8 AND ($9::text IS NULL OR key = $9) AND ($10::text IS NULL OR event_type = $10)
    UNION ALL
    SELECT CASE WHEN $11 THEN event_type ELSE key END, events
    FROM rollup_hour
    WHERE project_id = $1 AND ((bucket >= $4 AND bucket < $5) OR (bucket >= $6 AND bucket < $7))
      AND dim = $8 AND ($9::text IS NULL OR key = $9) AND ($10::text IS NULL OR event_type = $10)
) t
GROUP BY k
ORDER BY 2 DESC, 1
LIMIT $12
