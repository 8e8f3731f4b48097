CREATE OR REPLACE FUNCTION sightline_audience_key(dim text, audience jsonb, event_type text,
                                                  path text, metadata jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN dim = '' THEN ''
        WHEN dim = 'page' THEN path
        WHEN dim = 'event_type' THEN event_type
        WHEN left(dim, 5) = 'prop:' THEN metadata->>substr(dim, 6)
        ELSE audience->>dim
    END
$$;
DROP FUNCTION IF EXISTS sightline_where(jsonb, jsonb, text, text, jsonb, text, jsonb);
DROP FUNCTION IF EXISTS sightline_goal_visitors(uuid, timestamptz, timestamptz, boolean, jsonb);
DROP FUNCTION IF EXISTS sightline_goal_match(text, text, jsonb, text, text, jsonb);
DROP TABLE IF EXISTS goals;
