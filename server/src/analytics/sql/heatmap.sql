-- Clicks on one page binned on a 1% x 1% grid of the document, and clicks by selector, each per
-- document width class. The tracker records a click's position relative to the document in
-- 1/10000 of its width and height (`x`, `y`), the document's width (`doc_w`) and the viewport's
-- (`vw`): cell = position / 100, the right and bottom edges (10000) in the last cell. Clicks
-- without a position (synthetic ones) have no cell; clicks without a width, no class.
-- Bot clicks (`is_bot`) are left out, as from every other answer.
-- $1 project, $2 from, $3 to, $4 path.
WITH clicks AS (
    SELECT CASE WHEN w IS NULL THEN NULL
                WHEN w < 576 THEN 'mobile'
                WHEN w < 992 THEN 'tablet'
                WHEN w < 1440 THEN 'laptop'
                ELSE 'desktop'
           END AS screen,
           -- greatest() skips NULLs: only clicks with both coordinates get a cell.
           CASE WHEN x IS NOT NULL AND y IS NOT NULL THEN least(greatest(x, 0) / 100, 99) END AS cx,
           CASE WHEN x IS NOT NULL AND y IS NOT NULL THEN least(greatest(y, 0) / 100, 99) END AS cy,
           selector
    FROM (
        SELECT coalesce(sightline_int(metadata->>'doc_w'), sightline_int(metadata->>'vw')) AS w,
               sightline_int(metadata->>'x') AS x,
               sightline_int(metadata->>'y') AS y,
               nullif(metadata->>'selector', '') AS selector
        FROM activities
        WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
          AND path = $4 AND event_type = 'element.click' AND NOT is_bot
    ) c
)
SELECT screen, cx, cy, selector, count(*)::bigint AS clicks, GROUPING(cx, cy)::int AS by_selector
FROM clicks
GROUP BY GROUPING SETS ((screen, cx, cy), (screen, selector))
