-- Scroll depth per page from the scroll rollups (day rows inside, hour rows at the edges; path
-- '*', the site-wide totals, left out), most viewed first.
-- $1 project; $2, $3 days; $4, $5 head hours; $6, $7 tail hours; $8 path (NULL: every page);
-- $9 limit.
SELECT path, sum(views)::bigint AS views, sum(depth_sum)::bigint AS depth_sum,
       sum(reached25)::bigint AS reached25, sum(reached50)::bigint AS reached50,
       sum(reached75)::bigint AS reached75, sum(reached100)::bigint AS reached100
FROM (
    SELECT path, views, depth_sum, reached25, reached50, reached75, reached100
    FROM rollup_scroll_day
    WHERE project_id = $1 AND path <> '*' AND bucket >= $2 AND bucket < $3
    UNION ALL
    SELECT path, views, depth_sum, reached25, reached50, reached75, reached100
    FROM rollup_scroll_hour
    WHERE project_id = $1 AND path <> '*'
      AND ((bucket >= $4 AND bucket < $5) OR (bucket >= $6 AND bucket < $7))
) s
WHERE ($8::text IS NULL OR path = $8)
GROUP BY path
HAVING sum(views) > 0
ORDER BY 2 DESC, 1
LIMIT $9
