DROP INDEX IF EXISTS activities_metadata_gin;
DROP TABLE IF EXISTS actor_days, sessions, rollup_scroll_day, rollup_scroll_hour, rollup_uniques_day, rollup_uniques_hour,
    rollup_day, rollup_hour, rollup_minute;
DROP FUNCTION IF EXISTS sightline_int(text);
