-- Incremental rollups: the worker updates these in the statement that stores the events, from
-- the rows actually inserted (a replay adds nothing), so they are exact and never rescanned.
-- `shard` (the worker lane) spreads concurrent writers over distinct rows (no lock waits between
-- lanes of a worker);
-- readers sum over it. Every key leads with project_id (tenant isolation, Citus-ready).
CREATE EXTENSION IF NOT EXISTS hll;

-- Lenient integer from event properties: NULL (not an error) when the text is not a number, so
-- one odd event can never fail the batch that stores it.
CREATE FUNCTION sightline_int(t text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t ~ '^\s*-?[0-9]{1,9}(\.[0-9]+)?\s*$' THEN round(t::numeric)::integer END
$$;

-- Counts per minute and event type: recent series (pruned after a few days by maintenance).
CREATE TABLE rollup_minute (
    project_id uuid        NOT NULL,
    bucket     timestamptz NOT NULL,
    event_type text        NOT NULL,
    shard      smallint    NOT NULL,
    events     bigint      NOT NULL,
    PRIMARY KEY (project_id, bucket, event_type, shard)
);

-- Counts per UTC hour, event type and one dimension: dim '' (key '') is the type's total; other
-- dims: 'path', 'element' (clicks: selector), 'referrer' (page views: origin), 'entity_type'.
CREATE TABLE rollup_hour (
    project_id uuid        NOT NULL,
    bucket     timestamptz NOT NULL,
    event_type text        NOT NULL,
    dim        text        NOT NULL,
    key        text        NOT NULL,
    shard      smallint    NOT NULL,
    events     bigint      NOT NULL,
    -- Readers always fix dim (and usually the type) and scan a time range: that order first.
    PRIMARY KEY (project_id, dim, event_type, bucket, key, shard)
);

-- The same per UTC day: long ranges read 24 times fewer rows.
CREATE TABLE rollup_day (LIKE rollup_hour INCLUDING ALL);

-- Distinct actors (user id, else anonymous id) and sessions as HyperLogLog sketches
-- (log2m 12: standard error 1.04/sqrt(4096) = 1.6%), mergeable over any range.
CREATE TABLE rollup_uniques_hour (
    project_id uuid        NOT NULL,
    bucket     timestamptz NOT NULL,
    shard      smallint    NOT NULL,
    actors     hll         NOT NULL,
    sessions   hll         NOT NULL,
    PRIMARY KEY (project_id, bucket, shard)
);
CREATE TABLE rollup_uniques_day (LIKE rollup_uniques_hour INCLUDING ALL);

-- Scroll depth per page view, additive: each page.scroll event carries the new maximum
-- `props.depth` and the previously reported one `props.prev` (0 on a page view's first report),
-- so a view adds 1 to views once and its depth increments sum to its maximum. Each event also
-- adds to a total row with path '*' (no URL path is '*'), so site-wide figures read one row.
CREATE TABLE rollup_scroll_hour (
    project_id uuid        NOT NULL,
    bucket     timestamptz NOT NULL,
    path       text        NOT NULL,
    shard      smallint    NOT NULL,
    views      bigint      NOT NULL,
    depth_sum  bigint      NOT NULL,
    reached25  bigint      NOT NULL,
    reached50  bigint      NOT NULL,
    reached75  bigint      NOT NULL,
    reached100 bigint      NOT NULL,
    PRIMARY KEY (project_id, bucket, path, shard)
);
CREATE TABLE rollup_scroll_day (LIKE rollup_scroll_hour INCLUDING ALL);
-- overview's average scroll depth reads the '*' rows of a range (and a page's rows when
-- filtered by path) without walking every page's rows of every day.
CREATE INDEX rollup_scroll_hour_path_idx ON rollup_scroll_hour (project_id, path, bucket);
CREATE INDEX rollup_scroll_day_path_idx ON rollup_scroll_day (project_id, path, bucket);

-- One row per session: sessions started in a range and the bounce rate (one page view or none).
CREATE TABLE sessions (
    project_id uuid        NOT NULL,
    session_id text        NOT NULL,
    actor      text,
    started_at timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    page_views integer     NOT NULL,
    events     integer     NOT NULL,
    -- The row's started_at and page_views before its latest update (NULL until updated): the
    -- statement that changes a session reads them back through RETURNING, so it knows exactly
    -- which hour and bounce state to move in rollup_sessions_hour (PostgreSQL 15's RETURNING
    -- cannot see the old row), even when several writers update the same session.
    prev_started_at timestamptz,
    prev_page_views integer,
    PRIMARY KEY (project_id, session_id)
);
-- overview with filters or off-hour ranges: sessions started in the range. No INCLUDE of
-- page_views: it changes on most updates, and an indexed column changing rules out HOT updates.
CREATE INDEX sessions_started_idx ON sessions (project_id, started_at);

-- Sessions by the UTC hour they started in, and how many of them bounced (one page view or
-- none): additive, so an overview over 30 days sums ~720 rows per shard instead of counting a
-- million sessions. A session whose start moves (an earlier event arrives late) or that stops
-- bouncing is moved: -1 from its old (hour, bounced) and +1 to its new one, hence rows of a
-- shard may be negative; sums over shards are exact.
CREATE TABLE rollup_sessions_hour (
    project_id uuid        NOT NULL,
    bucket     timestamptz NOT NULL,
    shard      smallint    NOT NULL,
    sessions   bigint      NOT NULL,
    bounced    bigint      NOT NULL,
    PRIMARY KEY (project_id, bucket, shard)
);

-- Retention, one row per actor (user id, else anonymous id): the UTC day first seen, and which
-- days (bit i: first_day + i) and ISO weeks (bit k: the first day's week + k) they were active
-- in, for the first 62 of each. Writers merge their batch into the row under its lock: the
-- earlier first day wins and both masks are shifted onto it, then OR-ed. The merge is
-- commutative and idempotent, so concurrent writers and replays leave the same row, and a
-- retention grid reads one row per cohort actor instead of joining every active day.
CREATE TABLE actor_activity (
    project_id uuid   NOT NULL,
    actor      text   NOT NULL,
    first_day  date   NOT NULL,
    days       bigint NOT NULL,
    weeks      bigint NOT NULL,
    PRIMARY KEY (project_id, actor)
);
-- retention: the cohorts first seen in a range, index-only.
CREATE INDEX actor_activity_first_idx ON actor_activity (project_id, first_day) INCLUDE (days, weeks);

-- `m` shifted left by `n` bits, keeping bits 0..61 (retention masks; n < 0 is not used).
CREATE FUNCTION sightline_shl(m bigint, n integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN n >= 62 THEN 0::bigint ELSE (m << n) & 4611686018427387903 END;

-- Monday of the ISO week holding `d`.
CREATE FUNCTION sightline_week(d date) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN d - (extract(isodow FROM d)::integer - 1);

-- Raw queries on a page: funnel steps with a path (e.g. page.view of /pricing is a few
-- thousand rows among millions of page views) and path-filtered raw counts.
CREATE INDEX activities_path_idx ON activities (project_id, path, occurred_at);

-- Raw drill-down on properties (e.g. metadata @> '{"plan":"pro"}'): jsonb_path_ops is smaller
-- and faster for containment than the default operator class.
CREATE INDEX activities_metadata_gin ON activities USING gin (metadata jsonb_path_ops);

-- Rollup and per-session/per-actor rows are updated in place batch after batch. Free space in
-- each page lets PostgreSQL write the new row version next to the old one without touching any
-- index (a HOT update: none of the updated columns is indexed), instead of adding an entry to
-- every index of the table on every update.
ALTER TABLE rollup_minute SET (fillfactor = 70);
ALTER TABLE rollup_hour SET (fillfactor = 70);
ALTER TABLE rollup_day SET (fillfactor = 70);
ALTER TABLE rollup_uniques_hour SET (fillfactor = 70);
ALTER TABLE rollup_uniques_day SET (fillfactor = 70);
ALTER TABLE rollup_scroll_hour SET (fillfactor = 70);
ALTER TABLE rollup_scroll_day SET (fillfactor = 70);
ALTER TABLE rollup_sessions_hour SET (fillfactor = 70);
ALTER TABLE sessions SET (fillfactor = 70);
ALTER TABLE actor_activity SET (fillfactor = 80);
