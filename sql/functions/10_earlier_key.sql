-- Takes the earlier of two (key, value) facts; NULL keys lose.
CREATE OR REPLACE FUNCTION wabahook.earlier_key(a_key text, b_key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT b_key IS NOT NULL AND (a_key IS NULL OR b_key < a_key)
$$;
