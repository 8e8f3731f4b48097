-- Distinct users with events in a community (all time).
-- $1 project, $2 the community's id.
SELECT count(DISTINCT user_id)::bigint AS n
FROM activities
WHERE project_id = $1 AND community_id = $2 AND user_id IS NOT NULL
