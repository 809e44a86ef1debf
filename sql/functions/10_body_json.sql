-- The stored bytes as jsonb; a leading UTF-8 byte order mark is skipped, as the parser does.
-- Not STRICT: PostgreSQL then inlines it into the query that loads a batch.
CREATE OR REPLACE FUNCTION wabahook.body_json(body bytea) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT convert_from(
        CASE WHEN substring(body FROM 1 FOR 3) = '\xefbbbf'::bytea THEN substring(body FROM 4)
             ELSE body END,
        'UTF8')::jsonb
$$;
