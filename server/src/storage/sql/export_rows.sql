SELECT event_id, event_type,
       to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
       to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS received_at,
       user_id, anonymous_id, session_id, community_id, entity_type, entity_id, path, referrer,
       is_bot, metadata AS props
FROM activities
WHERE project_id = '{project}' AND occurred_at >= '{from}' AND occurred_at < '{to}'
