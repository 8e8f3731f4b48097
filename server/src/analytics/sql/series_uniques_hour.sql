-- Distinct actors or sessions per hour or local day, from the hourly HyperLogLog sketches.
-- $1 project, $2 from, $3 to, $4 date_trunc unit, $5 time zone, $6 'actors' or 'sessions'
-- (the sketch; the CASE folds to that column when planned).
SELECT date_trunc($4, bucket, $5) AS bucket,
       hll_cardinality(hll_union_agg(CASE WHEN $6 = 'actors' THEN actors ELSE sessions END))::float8
           AS value
FROM rollup_uniques_hour
WHERE project_id = $1 AND bucket >= $2 AND bucket < $3
GROUP BY 1
