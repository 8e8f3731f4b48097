-- A breakdown from the audience rollups: per key of one dimension, visitors and visits (unions
-- of HyperLogLog sketches), events and page views; `rollup_audience_day` over the range's whole
-- UTC days, `rollup_audience_hour` over the hours before and after them. Bot rows only when
-- asked. Dimension '' (key '') gives the range's totals.
-- $1 project; $2, $3 days; $4, $5 head hours; $6, $7 tail hours; $8 dim; $9 include bots;
-- $10 limit.
SELECT key, COALESCE(round(hll_cardinality(hll_union_agg(visitors))), 0)::bigint AS visitors,
       COALESCE(round(hll_cardinality(hll_union_agg(visits))), 0)::bigint AS visits,
       sum(events)::bigint AS events, sum(page_views)::bigint AS page_views
FROM (
    SELECT key, events, page_views, visits, visitors
    FROM rollup_audience_day
    WHERE project_id = $1 AND dim = $8 AND bucket >= $2 AND bucket < $3 AND (NOT bot OR $9)
    UNION ALL
    SELECT key, events, page_views, visits, visitors
    FROM rollup_audience_hour
    WHERE project_id = $1 AND dim = $8
      AND ((bucket >= $4 AND bucket < $5) OR (bucket >= $6 AND bucket < $7)) AND (NOT bot OR $9)
) t
GROUP BY key
ORDER BY 2 DESC, 4 DESC, 1
LIMIT $10
