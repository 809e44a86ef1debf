-- Retention works on whole monthly partitions of raw_events.

-- Creates the partition of one month (UTC) unless it exists, moving any rows the
-- default partition holds for that month into it.
CREATE FUNCTION wabahook.create_raw_event_partition(month date)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamp := date_trunc('month', month);
    lower_bound timestamptz := month_start AT TIME ZONE 'UTC';
    upper_bound timestamptz := (month_start + interval '1 month') AT TIME ZONE 'UTC';
    partition   text := 'raw_events_' || to_char(month_start, 'YYYY_MM');
BEGIN
    IF to_regclass(format('wabahook.%I', partition)) IS NOT NULL THEN
        RETURN false;
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

CREATE OR REPLACE FUNCTION wabahook.ensure_raw_event_partitions(months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE sql AS $$
    SELECT count(*) FILTER (WHERE wabahook.create_raw_event_partition(month::date))::integer
    FROM generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                         date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => months_ahead),
                         interval '1 month') AS month
$$;
