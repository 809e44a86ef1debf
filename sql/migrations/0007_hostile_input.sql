-- Bodies as jsonb, exactly as the parser reads them, and a per-body check for the rare
-- batch whose bodies PostgreSQL will not all take (so one such body never sinks a batch).

-- The stored bytes as jsonb; a leading UTF-8 byte order mark is skipped, as the parser does.
-- Not STRICT: PostgreSQL then inlines it into the query that loads a batch.
CREATE FUNCTION wabahook.body_json(body bytea) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT convert_from(
        CASE WHEN substring(body FROM 1 FOR 3) = '\xefbbbf'::bytea THEN substring(body FROM 4)
             ELSE body END,
        'UTF8')::jsonb
$$;

-- Why jsonb refuses a body (numbers beyond numeric's range, say), or NULL when it takes it.
CREATE FUNCTION wabahook.body_json_error(body bytea) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
BEGIN
    PERFORM wabahook.body_json(body);
    RETURN NULL;
EXCEPTION WHEN data_exception OR program_limit_exceeded OR character_not_in_repertoire THEN
    RETURN SQLERRM;
END
$$;
