-- Sessions started in any range, and how many bounced (at most one page view).
-- $1 project, $2 from, $3 to.
SELECT count(*)::bigint AS sessions, (count(*) FILTER (WHERE page_views <= 1))::bigint AS bounced
FROM sessions
WHERE project_id = $1 AND started_at >= $2 AND started_at < $3
