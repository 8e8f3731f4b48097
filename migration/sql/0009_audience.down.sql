DROP FUNCTION IF EXISTS sightline_where(jsonb, jsonb, text, text, jsonb);
DROP FUNCTION IF EXISTS sightline_audience_dims(jsonb, text, text);
DROP FUNCTION IF EXISTS sightline_audience_key(text, jsonb, text, text, jsonb);
DROP FUNCTION IF EXISTS sightline_visitor(text, text);
DROP TABLE IF EXISTS rollup_audience_day;
DROP TABLE IF EXISTS rollup_audience_hour;
DROP TABLE IF EXISTS identities;
ALTER TABLE sessions DROP COLUMN IF EXISTS audience;
ALTER TABLE activities DROP COLUMN IF EXISTS audience;
