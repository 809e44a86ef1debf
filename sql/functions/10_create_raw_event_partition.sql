-- Creates the partition of raw_events for one month (UTC) unless it exists, moving any
-- rows the default partition holds for that month into it. A name that exists but is
-- not one of raw_events' partitions is an error, not "done": otherwise a table created
-- under that name in advance would make a month go missing.
-- Rights: the owner's (SECURITY DEFINER, pinned search_path), so the processor needs no
-- CREATE on the schema; wabahook_processor may not call it directly (sql/roles.sql), only
-- through ensure_raw_event_partitions().
-- The bounds go out as text (format's %L) and come back in ATTACH PARTITION: fixed
-- TimeZone, DateStyle and IntervalStyle keep a caller's settings from shifting them.
CREATE OR REPLACE FUNCTION wabahook.create_raw_event_partition(month date)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' AS $$
DECLARE
    month_start timestamp := date_trunc('month', month);
    lower_bound timestamptz := month_start AT TIME ZONE 'UTC';
    upper_bound timestamptz := (month_start + interval '1 month') AT TIME ZONE 'UTC';
    partition   text := 'raw_events_' || to_char(month_start, 'YYYY_MM');
    existing    regclass := to_regclass(format('wabahook.%I', partition));
BEGIN
    IF existing IS NOT NULL THEN
        IF EXISTS (SELECT FROM pg_inherits
                   WHERE inhrelid = existing AND inhparent = 'wabahook.raw_events'::regclass) THEN
            RETURN false;
        END IF;
        RAISE EXCEPTION 'wabahook.% exists but is not a partition of wabahook.raw_events', partition
            USING HINT = 'Drop or rename it, then run: wabahook migrate';
    END IF;
    EXECUTE format('CREATE TABLE wabahook.%I (LIKE wabahook.raw_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition);
    EXECUTE format(
        'WITH moved AS (DELETE FROM wabahook.raw_events_default WHERE received_at >= %L AND received_at < %L RETURNING *)
         INSERT INTO wabahook.%I SELECT * FROM moved',
        lower_bound, upper_bound, partition);
    EXECUTE format('ALTER TABLE wabahook.raw_events ATTACH PARTITION wabahook.%I FOR VALUES FROM (%L) TO (%L)',
        partition, lower_bound, upper_bound);
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION wabahook.create_raw_event_partition(date) FROM PUBLIC;
