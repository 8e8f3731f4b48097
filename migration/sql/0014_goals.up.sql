-- Goals (issue 25): what a project counts as a conversion. A goal is an event type, optionally
-- a page path pattern and properties the event must contain; it is evaluated over the raw events
-- at query time, so a goal defined today counts last month's conversions too.
--
-- `path_pattern` is what the analyst wrote (`/docs/*`, `/blog/**`); `path_regex` is its anchored
-- translation (by the server, `domain::goal`), which is what statements match with `~`. Names are
-- unique per project: they are the breakdown's keys and the dimension filter's values.
CREATE TABLE goals (
    project_id   uuid        NOT NULL,
    id           uuid        NOT NULL,
    name         text        NOT NULL,
    event_type   text        NOT NULL,
    path_pattern text,
    path_regex   text,
    props        jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id),
    UNIQUE (project_id, name)
);
-- `deleteGoal(id)` finds the goal (and so its project) by id alone.
CREATE INDEX goals_id_idx ON goals (id);

-- Whether an event converts on a goal: its type, its path matching the pattern's regex, its
-- properties containing the goal's.
CREATE FUNCTION sightline_goal_match(goal_type text, goal_regex text, goal_props jsonb,
                                     event_type text, path text, metadata jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN event_type = goal_type
   AND (goal_regex IS NULL OR COALESCE(path ~ goal_regex, false))
   AND (goal_props IS NULL OR metadata @> goal_props);

-- The visitors who converted on the goals a list of dimension filters names (`{"dim": "goal",
-- "values": [names]}`) in [from, to), bots only when asked: {visitor: [goal names]}. NULL when
-- no filter names a goal. Statements call it once (an uncorrelated sub-select, planned as an
-- InitPlan) and hand the result to `sightline_where` for every event.
CREATE FUNCTION sightline_goal_visitors(project uuid, range_from timestamptz,
                                        range_to timestamptz, bots boolean, filters jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH named AS (
        SELECT DISTINCT v AS name
        FROM jsonb_array_elements(filters) AS f,
             LATERAL jsonb_array_elements_text(f->'values') AS v
        WHERE f->>'dim' = 'goal'
    ),
    converted AS (
        SELECT sightline_visitor(a.anonymous_id, a.user_id) AS visitor,
               jsonb_agg(DISTINCT g.name) AS goals
        FROM goals g
        JOIN activities a ON a.project_id = project
             AND a.occurred_at >= range_from AND a.occurred_at < range_to
             AND a.event_type = g.event_type
             AND sightline_goal_match(g.event_type, g.path_regex, g.props,
                                      a.event_type, a.path, a.metadata)
             AND (NOT a.is_bot OR bots)
        WHERE g.project_id = project AND g.name IN (SELECT name FROM named)
          AND sightline_visitor(a.anonymous_id, a.user_id) IS NOT NULL
        GROUP BY 1
    )
    SELECT CASE WHEN EXISTS (SELECT 1 FROM named)
                THEN (SELECT COALESCE(jsonb_object_agg(visitor, goals), '{}') FROM converted)
           END
$$;

-- `sightline_where` with the event's visitor and the converting visitors
-- (`sightline_goal_visitors`): a `goal` filter passes the events of visitors who converted on
-- one of its goals (`is`) or on none of them (`is_not`); every other dimension as before.
CREATE FUNCTION sightline_where(filters jsonb, audience jsonb, event_type text, path text,
                                metadata jsonb, visitor text, goal_visitors jsonb)
RETURNS boolean
-- STABLE, not IMMUTABLE: its last argument is a STABLE function's result, and the planner
-- inlines it into the statement as long as it is no less volatile than what it is given.
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT filters IS NULL OR NOT EXISTS (
        SELECT 1
        FROM jsonb_array_elements(filters) AS f,
             LATERAL (SELECT sightline_audience_key(f->>'dim', audience, event_type, path, metadata) AS v) k
        WHERE NOT CASE
            WHEN f->>'dim' = 'goal' THEN
                COALESCE((goal_visitors -> visitor)
                         ?| ARRAY(SELECT jsonb_array_elements_text(f->'values')), false)
                = (f->>'op' = 'is')
            WHEN f->>'op' = 'is' THEN COALESCE(k.v IN (SELECT jsonb_array_elements_text(f->'values')), false)
            WHEN f->>'op' = 'is_not' THEN k.v IS NULL OR k.v NOT IN (SELECT jsonb_array_elements_text(f->'values'))
            ELSE COALESCE(EXISTS (SELECT 1 FROM jsonb_array_elements_text(f->'values') AS x
                                  WHERE strpos(lower(k.v), lower(x)) > 0), false)
        END
    )
$$;

-- Property breakdowns list the events without the property too, under the key '(none)' (issue
-- 25 item 4), and a dimension filter can name it: an event's key under 'prop:<name>' is the
-- property's text, else '(none)'. Other dimensions are unchanged (a key the event lacks is
-- NULL: not counted under it).
CREATE OR REPLACE FUNCTION sightline_audience_key(dim text, audience jsonb, event_type text,
                                                  path text, metadata jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN dim = '' THEN ''
        WHEN dim = 'page' THEN path
        WHEN dim = 'event_type' THEN event_type
        WHEN left(dim, 5) = 'prop:' THEN COALESCE(metadata->>substr(dim, 6), '(none)')
        ELSE audience->>dim
    END
$$;
