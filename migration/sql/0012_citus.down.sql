-- Back to the partition function of 0006 (no Citus branch).
CREATE OR REPLACE FUNCTION sightline_ensure_partition(day date, unit text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    first date;
    next date;
    part text;
    d date;
    old_timeout text;
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
    -- Rows waiting in DEFAULT are about to move: a reader that planned with the old partition
    -- list and took its snapshot after the move would find them nowhere (ATTACH PARTITION lets
    -- queries on the parent run on). An exclusive lock on the parent makes readers wait and
    -- plan again. Taken only when rows move (rare: late events), never held long: bounded wait,
    -- and a timeout just leaves the move to the next maintenance pass.
    IF EXISTS (SELECT 1 FROM activities_default
               WHERE occurred_at >= first::timestamp AT TIME ZONE 'UTC'
                 AND occurred_at < next::timestamp AT TIME ZONE 'UTC') THEN
        old_timeout := current_setting('lock_timeout');
        PERFORM set_config('lock_timeout', '5s', true);
        LOCK TABLE activities IN ACCESS EXCLUSIVE MODE;
        PERFORM set_config('lock_timeout', old_timeout, true);
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
