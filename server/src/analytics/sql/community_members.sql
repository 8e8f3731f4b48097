-- Users with events in a community, most active first.
-- $1 project, $2 the community's id, $3 limit.
SELECT user_id
FROM activities
WHERE project_id = $1 AND community_id = $2 AND user_id IS NOT NULL
GROUP BY 1
ORDER BY count(*) DESC, 1
LIMIT $3
