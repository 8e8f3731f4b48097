-- Partition granularity: day (default), ISO week or calendar month, per deployment
-- (SIGHTLINE_PARTITION_GRANULARITY). Names say the range: activities_pYYYYMMDD (a day),
-- activities_wYYYYMMDD (the ISO week starting that Monday), activities_mYYYYMM (a month), so
-- which partition covers a day is known from names alone.

-- The partition covering `day`, by name, or NULL. Reads pg_class with the statement's snapshot
-- rather than to_regclass(), whose catalog cache is not refreshed by taking an advisory lock:
-- after waiting for another creator's lock it could still miss the table just committed.
CREATE FUNCTION sightline_partition_of(day date) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT c.n FROM (VALUES
        (1, 'activities_p' || to_char(day, 'YYYYMMDD')),
        (2, 'activities_w' || to_char(sightline_week(day), 'YYYYMMDD')),
        (3, 'activities_m' || to_char(day, 'YYYYMM'))
    ) AS c(o, n)
    WHERE EXISTS (SELECT 1 FROM pg_class k
                  WHERE k.relname = c.n AND k.relnamespace = current_schema()::regnamespace)
    ORDER BY c.o
    LIMIT 1
$$;

-- Creates the partition of `unit` ('day' | 'week' | 'month') holding `day` unless some
-- partition covers that day already, moving the range's rows out of DEFAULT first. When the
-- wider range would overlap partitions made under another granularity (the setting changed),
-- it creates the day's partition instead, so changing the setting never fails. Serialized by
-- the same advisory lock as before, so several workers may call it at once.
CREATE FUNCTION sightline_ensure_partition(day date, unit text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    first date;
    next date;
    part text;
    d date;
BEGIN
    IF unit NOT IN ('day', 'week', 'month') THEN
        RAISE EXCEPTION 'partition unit must be day, week or month, not %', unit;
    END IF;
    IF sightline_partition_of(day) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('sightline_partitions'));
    IF sightline_partition_of(day) IS NOT NULL THEN
        RETURN false;
    END IF;
    IF unit = 'week' THEN
        first := sightline_week(day);
        next := first + 7;
        part := 'activities_w' || to_char(first, 'YYYYMMDD');
    ELSIF unit = 'month' THEN
        first := date_trunc('month', day)::date;
        next := (first + interval '1 month')::date;
        part := 'activities_m' || to_char(first, 'YYYYMM');
    END IF;
    IF unit <> 'day' THEN
        d := first;
        WHILE d < next LOOP
            IF sightline_partition_of(d) IS NOT NULL THEN
                unit := 'day';
                EXIT;
            END IF;
            d := d + 1;
        END LOOP;
    END IF;
    IF unit = 'day' THEN
        first := day;
        next := day + 1;
        part := 'activities_p' || to_char(day, 'YYYYMMDD');
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE activities INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format(
        'WITH moved AS (DELETE FROM activities_default WHERE occurred_at >= %L AND occurred_at < %L RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved',
        first::timestamp AT TIME ZONE 'UTC', next::timestamp AT TIME ZONE 'UTC', part);
    EXECUTE format('ALTER TABLE activities ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
        part, first::timestamp AT TIME ZONE 'UTC', next::timestamp AT TIME ZONE 'UTC');
    RETURN true;
END
$$;

-- The daily form every caller used so far: now aware of week and month partitions (it used to
-- look for the day's own name only, and would have failed on a day a wider partition covers).
CREATE OR REPLACE FUNCTION sightline_ensure_day_partition(day date) RETURNS boolean
LANGUAGE sql AS $$
    SELECT sightline_ensure_partition(day, 'day')
$$;
