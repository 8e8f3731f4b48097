-- Events stored for one tracked user (all time).
-- $1 project, $2 the user's id.
SELECT count(*)::bigint AS n
FROM activities
WHERE project_id = $1 AND user_id = $2
