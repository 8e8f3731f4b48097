-- Cohorts of actors by their first UTC day (or ISO week), with how many were active in each
-- period after it: one pass over the cohort actors' rows, period k counting the actors with
-- bit k of their day (or week) mask set; bit 0 is the first period itself. `{periods}` stands
-- for one such count per period (behaviour::retention writes them: their number varies).
-- $1 project, $2 first day, $3 last day, $4 period length in days (1 or 7).
SELECT c AS start, ARRAY[{periods}]::bigint[] AS retained
FROM (
    SELECT CASE WHEN $4 = 7 THEN sightline_week(first_day) ELSE first_day END AS c,
           CASE WHEN $4 = 7 THEN weeks ELSE days END AS m
    FROM actor_activity
    WHERE project_id = $1 AND first_day >= $2 AND first_day <= $3
) a
GROUP BY c
ORDER BY c
