-- Bot events of a range from the audience rollups' totals rows (dimension '', bot rows).
-- $1 project; $2, $3 days; $4, $5 head hours; $6, $7 tail hours.
SELECT COALESCE(sum(events), 0)::bigint AS n
FROM (
    SELECT events FROM rollup_audience_day
    WHERE project_id = $1 AND dim = '' AND bucket >= $2 AND bucket < $3 AND bot
    UNION ALL
    SELECT events FROM rollup_audience_hour
    WHERE project_id = $1 AND dim = ''
      AND ((bucket >= $4 AND bucket < $5) OR (bucket >= $6 AND bucket < $7)) AND bot
) t
