-- Journeys (analytics/sql/journeys.sql): the page views of one session in time order, read per
-- session within its own bounds. Partial (page views only, about a third of the rows) and
-- covering the path, so a session's views are an index-only scan of one or two partitions.
CREATE INDEX activities_session_views_idx ON activities (project_id, session_id, occurred_at)
    INCLUDE (path) WHERE event_type = 'page.view' AND session_id IS NOT NULL;
