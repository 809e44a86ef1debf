-- Why jsonb refuses a body (numbers beyond numeric's range, say), or NULL when it takes
-- it: so one such body never sinks a batch.
CREATE OR REPLACE FUNCTION wabahook.body_json_error(body bytea) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
BEGIN
    PERFORM wabahook.body_json(body);
    RETURN NULL;
EXCEPTION WHEN data_exception OR program_limit_exceeded OR character_not_in_repertoire THEN
    RETURN SQLERRM;
END
$$;
