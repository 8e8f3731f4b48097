-- The same totals from raw scroll reports, with the rollups' arithmetic: each report's clamped
-- depth and previous depth (`sightline_scroll_pct`) give what it adds (`sightline_scroll_delta`).
-- $1..$10 the raw filter (analytics::raw_values; the event type is always NULL here).
SELECT COALESCE(sum(d.views), 0)::bigint AS views, COALESCE(sum(d.depth_sum), 0)::bigint AS depth_sum
FROM activities
CROSS JOIN LATERAL sightline_scroll_delta(sightline_scroll_pct(metadata->>'depth'),
                                          sightline_scroll_pct(metadata->>'prev')) d
WHERE project_id = $1 AND occurred_at >= $2 AND occurred_at < $3
  AND event_type = 'page.scroll'
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::text IS NULL OR path = $5)
  AND ($6::text IS NULL OR community_id = $6)
  AND ($7::text IS NULL OR user_id = $7)
  AND ($8::jsonb IS NULL OR metadata @> $8)
  AND (NOT is_bot OR $9)
  AND ($10::jsonb IS NULL OR sightline_where($10, audience, event_type, path, metadata, sightline_visitor(anonymous_id, user_id), (SELECT sightline_goal_visitors($1, $2, $3, $9, $10))))
