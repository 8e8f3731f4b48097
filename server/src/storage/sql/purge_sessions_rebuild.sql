-- GDPR purge: recomputes the given sessions ($2 of project $1, deleted just before) from the
-- raw (human: bots have no sessions) events left, and adds them back to `rollup_sessions_hour` (correction shard $3).
WITH built AS (
    INSERT INTO sessions (project_id, session_id, actor, started_at, last_seen, page_views, events,
                          audience)
    SELECT $1, session_id, min(COALESCE(user_id, anonymous_id)), min(occurred_at), max(occurred_at),
           count(*) FILTER (WHERE event_type = 'page.view'), count(*),
           (array_agg(audience ORDER BY occurred_at))[1]
    FROM activities WHERE project_id = $1 AND session_id = ANY($2) AND NOT is_bot
    GROUP BY session_id
    RETURNING started_at, page_views
)
INSERT INTO rollup_sessions_hour AS r (project_id, bucket, shard, sessions, bounced)
SELECT $1, date_trunc('hour', started_at, 'UTC'), $3, count(*), count(*) FILTER (WHERE page_views <= 1)
FROM built GROUP BY 2 ORDER BY 2
ON CONFLICT (project_id, bucket, shard) DO UPDATE
    SET sessions = r.sessions + EXCLUDED.sessions, bounced = r.bounced + EXCLUDED.bounced
