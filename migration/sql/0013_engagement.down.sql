DROP INDEX IF EXISTS activities_session_views_idx;
