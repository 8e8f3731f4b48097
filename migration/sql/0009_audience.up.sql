-- Audience: who visitors are and where they come from (issue 24).
--
-- Each event is stored with its visit's attributes (`audience`: source, channel, UTM tags,
-- referrer host, device, browser, OS, screen class, language, country, region, city), taken from
-- the visit's (session's) first stored event, so every event of a visit counts under the visit's
-- source even when its own referrer is the site itself. The worker computes an event's own
-- attributes (user agent, IP before truncation, referrer, URL); the write statement resolves the
-- visit's (the stored session's, else the batch's earliest event of it) and writes them here,
-- in `sessions.audience` and in `rollup_audience_hour/day`. Keys are absent, not empty, when
-- unknown (an event without UTM tags has no `utm_source`).
ALTER TABLE activities ADD COLUMN audience jsonb NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD COLUMN audience jsonb;

-- One person per visitor: an anonymous id linked to the user id it was first seen with (an
-- event carrying both, such as the tracker's after `identify`). First link wins: a replay or a
-- later sign-in on the same browser under another account does not move it (the tracker's
-- `reset()` on sign-out starts a new anonymous id). Written by the worker in its statement.
CREATE TABLE identities (
    project_id   uuid        NOT NULL,
    anonymous_id text        NOT NULL,
    user_id      text        NOT NULL,
    linked_at    timestamptz NOT NULL,
    PRIMARY KEY (project_id, anonymous_id)
);
-- GDPR purge and "every id of this user": the links of one user.
CREATE INDEX identities_user_idx ON identities (project_id, user_id);

-- Breakdowns: per UTC hour (and day), dimension and key, whether the events are bots', the
-- events, page views, and HyperLogLog sketches of visits (session ids) and visitors (anonymous
-- id, else user id). Dimensions: '' (key '': every event), 'page' (path), 'event_type', and
-- every key of `activities.audience`. `bot` is part of the key so that answers leave bot
-- traffic out by reading `NOT bot` rows, and bring it back by reading both.
CREATE TABLE rollup_audience_hour (
    project_id uuid        NOT NULL,
    bucket     timestamptz NOT NULL,
    dim        text        NOT NULL,
    key        text        NOT NULL,
    bot        boolean     NOT NULL,
    shard      smallint    NOT NULL,
    events     bigint      NOT NULL,
    page_views bigint      NOT NULL,
    visits     hll         NOT NULL,
    visitors   hll         NOT NULL,
    -- Readers fix the dimension and scan a time range, grouping by key.
    PRIMARY KEY (project_id, dim, bucket, key, bot, shard)
);
CREATE TABLE rollup_audience_day (LIKE rollup_audience_hour INCLUDING ALL);
ALTER TABLE rollup_audience_hour SET (fillfactor = 70);
ALTER TABLE rollup_audience_day SET (fillfactor = 70);

-- The visitor an event counts for in breakdown sketches: the browser's anonymous id, which the
-- tracker keeps across `identify` (so a sign-up does not split a visitor), else the user id.
CREATE FUNCTION sightline_visitor(anonymous_id text, user_id text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN COALESCE(anonymous_id, user_id);

-- The key of an event under a breakdown dimension (NULL: not counted under it). 'prop:<name>'
-- is a property (raw only); other names are keys of the visit's attributes.
CREATE FUNCTION sightline_audience_key(dim text, audience jsonb, event_type text, path text,
                                       metadata jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN dim = '' THEN ''
        WHEN dim = 'page' THEN path
        WHEN dim = 'event_type' THEN event_type
        WHEN left(dim, 5) = 'prop:' THEN metadata->>substr(dim, 6)
        ELSE audience->>dim
    END
$$;

-- Every (dimension, key) of `rollup_audience_*` an event counts under.
CREATE FUNCTION sightline_audience_dims(audience jsonb, event_type text, path text)
RETURNS TABLE (dim text, key text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '', ''
    UNION ALL SELECT 'event_type', event_type
    UNION ALL SELECT 'page', path WHERE path IS NOT NULL
    UNION ALL SELECT e.key, e.value FROM jsonb_each_text(audience) AS e
$$;

-- Whether an event passes a list of dimension filters (NULL: no filter), each
-- {"dim": ..., "op": "is" | "is_not" | "contains", "values": [...]}: `is` matches any of the
-- values, `is_not` none of them (an event without the dimension passes), `contains` any value
-- as a case-insensitive substring. All filters must pass.
CREATE FUNCTION sightline_where(filters jsonb, audience jsonb, event_type text, path text,
                                metadata jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT filters IS NULL OR NOT EXISTS (
        SELECT 1
        FROM jsonb_array_elements(filters) AS f,
             LATERAL (SELECT sightline_audience_key(f->>'dim', audience, event_type, path, metadata) AS v) k
        WHERE NOT CASE f->>'op'
            WHEN 'is' THEN COALESCE(k.v IN (SELECT jsonb_array_elements_text(f->'values')), false)
            WHEN 'is_not' THEN k.v IS NULL OR k.v NOT IN (SELECT jsonb_array_elements_text(f->'values'))
            ELSE COALESCE(EXISTS (SELECT 1 FROM jsonb_array_elements_text(f->'values') AS x
                                  WHERE strpos(lower(k.v), lower(x)) > 0), false)
        END
    )
$$;
