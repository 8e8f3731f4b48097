-- A community's events by type (all time), most frequent first.
-- $1 project, $2 the community's id.
SELECT event_type AS key, count(*)::bigint AS count
FROM activities
WHERE project_id = $1 AND community_id = $2
GROUP BY 1
ORDER BY 2 DESC, 1
