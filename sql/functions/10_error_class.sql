-- The class of an error code, `other` when it is not listed (or NULL). Runs with the
-- owner's rights so that failures_daily, whose function runs with the caller's, keeps
-- working for an analyst the reference table has not been granted to yet. Executable by
-- everyone (PUBLIC keeps EXECUTE): it reveals no more than a code's class.
CREATE OR REPLACE FUNCTION wabahook.error_class(code integer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT c.class FROM wabahook.error_codes c WHERE c.code = error_class.code), 'other')
$$;
