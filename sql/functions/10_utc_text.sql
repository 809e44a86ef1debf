-- A time as facts and JSON output carry it: UTC, to the second, ending in Z. STABLE, as
-- to_char is: the planner inlines it where it is used.
CREATE OR REPLACE FUNCTION wabahook.utc_text(at timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;
