-- GDPR purge: deletes the given sessions ($2 of project $1) and takes them out of
-- `rollup_sessions_hour` (correction shard $3). Its own statement: a CTE's delete is invisible
-- to the same statement's insert, and the rebuild (purge_sessions_rebuild.sql) follows.
WITH gone AS (
    DELETE FROM sessions WHERE project_id = $1 AND session_id = ANY($2)
    RETURNING started_at, page_views
)
INSERT INTO rollup_sessions_hour AS r (project_id, bucket, shard, sessions, bounced)
SELECT $1, date_trunc('hour', started_at, 'UTC'), $3, -count(*), -(count(*) FILTER (WHERE page_views <= 1))
FROM gone GROUP BY 2 ORDER BY 2
ON CONFLICT (project_id, bucket, shard) DO UPDATE
    SET sessions = r.sessions + EXCLUDED.sessions, bounced = r.bounced + EXCLUDED.bounced
