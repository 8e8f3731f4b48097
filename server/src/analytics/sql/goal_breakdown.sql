-- Goals: for every goal of the project, the visitors and visits that converted, the converting
-- events (conversions) and the page views among them, over the raw events matching the filter.
-- A goal without conversions has a row of zeros. Only events of the goals' types are read.
-- $1..$10 the raw filter (analytics::raw_values); $11 limit.
SELECT g.name AS key, count(DISTINCT m.v)::bigint AS visitors,
       count(DISTINCT m.session_id)::bigint AS visits, count(m.event_type)::bigint AS events,
       (count(*) FILTER (WHERE m.event_type = 'page.view'))::bigint AS page_views
FROM goals g
LEFT JOIN (
    SELECT sightline_visitor(anonymous_id, user_id) AS v, session_id, event_type, path, metadata
    FROM activities
    WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
      AND ($4::text IS NULL OR event_type = $4)
      AND ($5::text IS NULL OR path = $5)
      AND ($6::text IS NULL OR community_id = $6)
      AND ($7::text IS NULL OR user_id = $7)
      AND ($8::jsonb IS NULL OR metadata @> $8)
      AND (NOT is_bot OR $9)
      AND ($10::jsonb IS NULL OR sightline_where($10, audience, event_type, path, metadata, sightline_visitor(anonymous_id, user_id), (SELECT sightline_goal_visitors($1, $2, $3, $9, $10))))
      AND event_type IN (SELECT event_type FROM goals WHERE project_id = $1)
) m ON sightline_goal_match(g.event_type, g.path_regex, g.props, m.event_type, m.path, m.metadata)
WHERE g.project_id = $1
GROUP BY g.name
ORDER BY 2 DESC, 4 DESC, 1
LIMIT $11
