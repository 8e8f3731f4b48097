-- A user's latest events, newest first, as `entity::activity::Model` rows.
-- $1 project, $2 the user's id, $3 limit.
SELECT project_id, event_id, occurred_at, event_type, user_id, anonymous_id, session_id,
       community_id, entity_type, entity_id, path, referrer, metadata,
       ip_address::text AS ip_address, user_agent, is_bot, received_at, audience
FROM activities
WHERE project_id = $1 AND user_id = $2
ORDER BY occurred_at DESC, event_id DESC
LIMIT $3
