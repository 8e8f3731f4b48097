-- Back to the 0004 definition (no lock on the parent while rows move).
CREATE OR REPLACE FUNCTION sightline_ensure_partition(day date, unit text) RETURNS boolean
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
