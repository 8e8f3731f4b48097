-- Distinct actors on one UTC day, the 7 and the 30 days ending with it (day sketches).
-- $1 project, $2 the day, $3 six days before, $4 29 days before.
SELECT hll_cardinality(hll_union_agg(actors) FILTER (WHERE bucket = $2)) AS dau,
       hll_cardinality(hll_union_agg(actors) FILTER (WHERE bucket >= $3)) AS wau,
       hll_cardinality(hll_union_agg(actors)) AS mau
FROM rollup_uniques_day
WHERE project_id = $1 AND bucket >= $4 AND bucket <= $2
