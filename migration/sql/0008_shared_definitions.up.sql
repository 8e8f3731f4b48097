-- Definitions the write statement, the GDPR purge, the rollup recount and the raw analytics
-- queries share, written once here so they cannot drift apart. Each is a plain SQL function the
-- planner inlines (IMMUTABLE, not STRICT, one SELECT), so using one costs what writing its body
-- in place would.

-- A scroll report's depth or previous depth (`props.depth`, `props.prev`): a percentage, clamped
-- to 0..100; anything that is not a number counts 0.
CREATE FUNCTION sightline_scroll_pct(v text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT LEAST(GREATEST(COALESCE(sightline_int(v), 0), 0), 100)
$$;

-- What one scroll report adds to the scroll rollups (`rollup_scroll_hour/day`), from its
-- clamped depth and the previously reported depth of the same page view: a view when it is
-- the first report (prev = 0), the depth gained, and each 25% mark crossed.
CREATE FUNCTION sightline_scroll_delta(depth integer, prev integer)
RETURNS TABLE (views integer, depth_sum integer, reached25 integer, reached50 integer,
               reached75 integer, reached100 integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (prev = 0)::integer, GREATEST(depth - prev, 0),
           (prev < 25 AND depth >= 25)::integer, (prev < 50 AND depth >= 50)::integer,
           (prev < 75 AND depth >= 75)::integer, (prev < 100 AND depth >= 100)::integer
$$;

-- The key an event is counted under in `rollup_hour`/`rollup_day` for one dimension (NULL: not
-- counted under it). '' is the totals dimension (every event, key '').
CREATE FUNCTION sightline_dim_key(dim text, event_type text, path text, metadata jsonb,
                                  entity_id text, referrer text, entity_type text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE dim
        WHEN '' THEN ''
        WHEN 'path' THEN path
        WHEN 'element' THEN CASE WHEN event_type = 'element.click'
                                 THEN COALESCE(metadata->>'selector', entity_id) END
        WHEN 'referrer' THEN CASE WHEN event_type = 'page.view'
                                  THEN substring(referrer FROM '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]+') END
        WHEN 'entity_type' THEN entity_type
    END
$$;

-- Every (dimension, key) an event is counted under: the rows of `rollup_hour`/`rollup_day`
-- it adds one to. Keys come from `sightline_dim_key` with a constant dimension each, which the
-- planner folds to that dimension's expression: each is computed once per event (a join on a
-- list of dimensions would evaluate the whole CASE twice per pair, in its filter and output).
CREATE FUNCTION sightline_event_dims(event_type text, path text, metadata jsonb,
                                     entity_id text, referrer text, entity_type text)
RETURNS TABLE (dim text, key text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT d.dim, d.key
    FROM (VALUES
        ('', sightline_dim_key('', event_type, path, metadata, entity_id, referrer, entity_type)),
        ('path', sightline_dim_key('path', event_type, path, metadata, entity_id, referrer, entity_type)),
        ('element', sightline_dim_key('element', event_type, path, metadata, entity_id, referrer, entity_type)),
        ('referrer', sightline_dim_key('referrer', event_type, path, metadata, entity_id, referrer, entity_type)),
        ('entity_type', sightline_dim_key('entity_type', event_type, path, metadata, entity_id, referrer, entity_type))
    ) AS d(dim, key)
    WHERE d.key IS NOT NULL
$$;

-- `activities.id` was a sequence value per insert that nothing read: one nextval() per event
-- on the write path, 8 bytes per row. Events are identified by (project_id, event_id).
ALTER TABLE activities DROP COLUMN id;
DROP SEQUENCE IF EXISTS activities_id_seq;
