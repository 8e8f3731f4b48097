-- Scroll depth per page from raw scroll reports, with the rollups' arithmetic: each report's
-- clamped depth and previous depth (`sightline_scroll_pct`) give what it adds
-- (`sightline_scroll_delta`: a view when first, the depth gained, the 25% marks crossed).
-- $1 project, $2 from, $3 to, $4 path (NULL: every page), $5 limit.
SELECT path, sum(views)::bigint AS views, sum(depth_sum)::bigint AS depth_sum,
       sum(reached25)::bigint AS reached25, sum(reached50)::bigint AS reached50,
       sum(reached75)::bigint AS reached75, sum(reached100)::bigint AS reached100
FROM (
    SELECT COALESCE(path, '') AS path, d.views, d.depth_sum, d.reached25, d.reached50,
           d.reached75, d.reached100
    FROM activities
    CROSS JOIN LATERAL sightline_scroll_delta(sightline_scroll_pct(metadata->>'depth'),
                                              sightline_scroll_pct(metadata->>'prev')) d
    WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
      AND event_type = 'page.scroll' AND NOT is_bot
) s
WHERE ($4::text IS NULL OR path = $4)
GROUP BY path
HAVING sum(views) > 0
ORDER BY 2 DESC, 1
LIMIT $5
