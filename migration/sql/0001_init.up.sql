-- Tenants. Keys: the public write key travels in every beacon; the secret key is stored only as
-- its SHA-256 (it is a 256-bit random token, so a slow hash adds nothing).
CREATE TABLE projects (
    id                    uuid PRIMARY KEY,
    name                  text NOT NULL,
    public_key            text NOT NULL UNIQUE,
    secret_key_hash       text NOT NULL UNIQUE,
    allowed_origins       text[] NOT NULL DEFAULT '{}',
    retention_days        integer NOT NULL DEFAULT 90 CHECK (retention_days > 0),
    rollup_retention_days integer NOT NULL DEFAULT 400 CHECK (rollup_retention_days > 0),
    created_at            timestamptz NOT NULL DEFAULT now()
);

-- People who use the dashboard and the API (not tracked people).
CREATE TABLE accounts (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer', 'service')),
    -- Projects the account may use; NULL means all (admins).
    project_ids   uuid[],
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Tracked people, per project, upserted from events in the batch that stores the events.
CREATE TABLE users (
    project_id  uuid NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    external_id text NOT NULL,
    email       text,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (project_id, id),
    UNIQUE (project_id, external_id)
);
CREATE UNIQUE INDEX users_email_uq ON users (project_id, email) WHERE email IS NOT NULL;

-- Groups within a project (communities), upserted like users.
CREATE TABLE communities (
    project_id  uuid NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    external_id text NOT NULL,
    name        text,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (project_id, id),
    UNIQUE (project_id, external_id)
);

CREATE SEQUENCE activities_id_seq CACHE 1000;

-- The core events table, range-partitioned by event time (one partition per UTC day, created
-- ahead by the worker's maintenance; DEFAULT catches anything else so no event is refused).
CREATE TABLE activities (
    id           bigint NOT NULL DEFAULT nextval('activities_id_seq'),
    event_id     uuid NOT NULL,
    project_id   uuid NOT NULL,
    event_type   text NOT NULL,
    user_id      text,
    anonymous_id text,
    session_id   text,
    community_id text,
    entity_type  text,
    entity_id    text,
    path         text,
    referrer     text,
    metadata     jsonb NOT NULL DEFAULT '{}',
    ip_address   inet,
    user_agent   text,
    is_bot       boolean NOT NULL DEFAULT false,
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    -- Idempotency: one row per event id per project. The partition key must be part of any
    -- unique key of a partitioned table; clients resend the same ts with the same id.
    PRIMARY KEY (project_id, event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);

CREATE TABLE activities_default PARTITION OF activities DEFAULT;

-- A user's timeline: user(projectId, id) and purgeUser.
CREATE INDEX activities_user_idx ON activities (project_id, user_id, occurred_at) WHERE user_id IS NOT NULL;
-- Raw drill-down by type over time: funnels, events(filter: type).
CREATE INDEX activities_type_idx ON activities (project_id, event_type, occurred_at);
-- Community stats and members: community(projectId, id).
CREATE INDEX activities_community_idx ON activities (project_id, community_id, event_type) WHERE community_id IS NOT NULL;
-- Time scans within a partition (raw events page, recounts): tiny and append-friendly.
CREATE INDEX activities_time_brin ON activities USING brin (occurred_at);

-- Creates the partition for one UTC day if missing, moving any rows of that day out of DEFAULT
-- first. Serialized by an advisory lock, so several workers may call it at once.
CREATE FUNCTION sightline_ensure_day_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'activities_p' || to_char(day, 'YYYYMMDD');
    lo timestamptz := (day::timestamp AT TIME ZONE 'UTC');
    hi timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('sightline_partitions'));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE activities INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format(
        'WITH moved AS (DELETE FROM activities_default WHERE occurred_at >= %L AND occurred_at < %L RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved', lo, hi, part);
    EXECUTE format('ALTER TABLE activities ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    RETURN true;
END
$$;

-- At least today's partition and the next days exist from the start.
SELECT sightline_ensure_day_partition((now() AT TIME ZONE 'UTC')::date + d) FROM generate_series(-1, 3) AS d;
