-- Creates the monthly partitions of raw_events from this month to `months_ahead` (at
-- most 24) months ahead (UTC); returns how many it made. Run by every migrate and by the
-- processor's upkeep.
-- Rights: the owner's (SECURITY DEFINER, pinned search_path and time settings, as
-- create_raw_event_partition()); wabahook_processor may call it (sql/roles.sql).
CREATE OR REPLACE FUNCTION wabahook.ensure_raw_event_partitions(months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' SET IntervalStyle = 'postgres' AS $$
    SELECT count(*) FILTER (WHERE wabahook.create_raw_event_partition(month::date))::integer
    FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                         date_trunc('month', now() AT TIME ZONE 'UTC')
                             + make_interval(months => least(greatest(months_ahead, 0), 24)),
                         interval '1 month') AS month
$$;
REVOKE ALL ON FUNCTION wabahook.ensure_raw_event_partitions(integer) FROM PUBLIC;
