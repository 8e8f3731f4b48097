-- Journeys through a page: for each visit (a session's page views in the range, in time order,
-- a page repeated back to back counted once) that viewed page $11, the pages after its first view
-- of $11 (next) or before it (previous), up to $13 steps, grouped by that sequence.
-- $1..$10 the raw filter (analytics::raw_values), applied to the view of $11 that makes a visit
-- count; $11 the page; $12 true for next, false for previous; $13 steps.
--
-- The session's own bounds (`sessions.started_at`, `last_seen`: its first and last event) let
-- the views of each session be read by `activities_session_views_idx` in the one or two
-- partitions the session spans (run-time pruning), not in every partition of the range.
WITH anchors AS (
    SELECT DISTINCT session_id
    FROM activities
    WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
      AND ($4::text IS NULL OR event_type = $4)
      AND ($5::text IS NULL OR path = $5)
      AND ($6::text IS NULL OR community_id = $6)
      AND ($7::text IS NULL OR user_id = $7)
      AND ($8::jsonb IS NULL OR metadata @> $8)
      AND (NOT is_bot OR $9)
      AND ($10::jsonb IS NULL OR sightline_where($10, audience, event_type, path, metadata, sightline_visitor(anonymous_id, user_id), (SELECT sightline_goal_visitors($1, $2, $3, $9, $10))))
      AND event_type = 'page.view' AND path = $11 AND session_id IS NOT NULL
),
views AS (
    SELECT v.session_id, v.path, v.occurred_at, v.event_id
    FROM anchors a
    JOIN sessions s ON s.project_id = $1 AND s.session_id = a.session_id
    JOIN activities v ON v.project_id = $1 AND v.session_id = s.session_id
         AND v.occurred_at >= s.started_at AND v.occurred_at <= s.last_seen
    WHERE v.occurred_at >= $2 AND v.occurred_at < $3
      AND v.event_type = 'page.view' AND v.path IS NOT NULL
      AND (NOT v.is_bot OR $9)
),
marked AS (
    SELECT session_id, path, occurred_at, event_id,
           path IS DISTINCT FROM lag(path) OVER (
               PARTITION BY session_id ORDER BY occurred_at, event_id
           ) AS new_page
    FROM views
),
visits AS (
    SELECT array_agg(path ORDER BY occurred_at, event_id) AS seq
    FROM marked
    WHERE new_page
    GROUP BY session_id
),
placed AS (
    SELECT seq, array_position(seq, $11) AS i
    FROM visits
)
SELECT CASE WHEN $12 THEN seq[i:i + $13] ELSE seq[greatest(1, i - $13):i] END AS seq,
       CASE WHEN $12 THEN cardinality(seq) > i + $13 ELSE i - $13 > 1 END AS more,
       count(*)::bigint AS visits
FROM placed
WHERE i IS NOT NULL
GROUP BY 1, 2
