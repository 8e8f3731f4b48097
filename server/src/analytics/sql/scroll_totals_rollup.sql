-- Page views that reported scrolling and the sum of their maximum depths, from the scroll
-- rollups (path '*' holds the site-wide totals).
-- $1 project; $2, $3 days; $4, $5 head hours; $6, $7 tail hours; $8 path or '*'.
SELECT sum(views)::bigint AS views, sum(depth_sum)::bigint AS depth_sum
FROM (
    SELECT views, depth_sum FROM rollup_scroll_day
    WHERE project_id = $1 AND bucket >= $2 AND bucket < $3 AND path = $8
    UNION ALL
    SELECT views, depth_sum FROM rollup_scroll_hour
    WHERE project_id = $1 AND path = $8
      AND ((bucket >= $4 AND bucket < $5) OR (bucket >= $6 AND bucket < $7))
) t
