DROP INDEX IF EXISTS activities_metadata_gin, activities_path_idx;
DROP TABLE IF EXISTS actor_activity, rollup_sessions_hour, sessions, rollup_scroll_day, rollup_scroll_hour, rollup_uniques_day, rollup_uniques_hour,
    rollup_day, rollup_hour, rollup_minute;
DROP FUNCTION IF EXISTS sightline_int(text), sightline_shl(bigint, integer), sightline_week(date);
