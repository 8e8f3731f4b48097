DROP FUNCTION IF EXISTS sightline_where(jsonb, jsonb, text, text, jsonb, text, jsonb);
DROP FUNCTION IF EXISTS sightline_goal_visitors(uuid, timestamptz, timestamptz, boolean, jsonb);
DROP FUNCTION IF EXISTS sightline_goal_match(text, text, jsonb, text, text, jsonb);
DROP TABLE IF EXISTS goals;
