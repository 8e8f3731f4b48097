-- Sessions started in a range on whole hours, and how many bounced (at most one page view).
-- $1 project, $2 from, $3 to.
SELECT sum(sessions)::bigint AS sessions, sum(bounced)::bigint AS bounced
FROM rollup_sessions_hour
WHERE project_id = $1 AND bucket >= $2 AND bucket < $3
