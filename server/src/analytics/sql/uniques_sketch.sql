-- Distinct actors of a range from the HyperLogLog rollups (day sketches inside, hour sketches
-- at the edges), as a float estimate.
-- $1 project; $2, $3 days; $4, $5 head hours; $6, $7 tail hours.
SELECT hll_cardinality(hll_union_agg(actors)) AS n
FROM (
    SELECT actors FROM rollup_uniques_day
    WHERE project_id = $1 AND bucket >= $2 AND bucket < $3
    UNION ALL
    SELECT actors FROM rollup_uniques_hour
    WHERE project_id = $1 AND ((bucket >= $4 AND bucket < $5) OR (bucket >= $6 AND bucket < $7))
) t
