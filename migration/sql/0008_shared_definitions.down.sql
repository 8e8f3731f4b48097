CREATE SEQUENCE IF NOT EXISTS activities_id_seq CACHE 1000;
ALTER TABLE activities ADD COLUMN id bigint NOT NULL DEFAULT nextval('activities_id_seq');
DROP FUNCTION IF EXISTS sightline_event_dims(text, text, jsonb, text, text, text);
DROP FUNCTION IF EXISTS sightline_dim_key(text, text, text, jsonb, text, text, text);
DROP FUNCTION IF EXISTS sightline_scroll_delta(integer, integer);
DROP FUNCTION IF EXISTS sightline_scroll_pct(text);
