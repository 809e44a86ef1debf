-- Orders "which status did this value come from": earliest time first, then status name.
CREATE OR REPLACE FUNCTION wabahook.fact_key(at timestamptz, tiebreak text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(extract(epoch FROM at)::bigint + 100000000000, 'FM000000000000') || ':' || tiebreak
$$;
