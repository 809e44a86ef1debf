-- Which notification a management event is, whatever delivery brought it: with
-- `entry.time`, (waba_id, field, kind, subject, event, entry.time); without it, (body,
-- position of the change in the body). A digest, so that every part may be NULL or long
-- and the key still fits a btree; the JSON array keeps the parts apart (no separator to
-- forge).
-- STABLE, as jsonb_build_array and convert_to are: PostgreSQL then inlines it into the
-- queries that call it (an IMMUTABLE one is run row by row instead).
CREATE OR REPLACE FUNCTION wabahook.management_key(
    waba_id text, field text, kind text, subject text, event text, entry_time bigint,
    body_sha256 bytea, body_position integer
) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(CASE
        WHEN entry_time IS NOT NULL
            THEN jsonb_build_array('entry', waba_id, field, kind, subject, event, entry_time)
        ELSE jsonb_build_array('body', encode(body_sha256, 'hex'), body_position)
    END::text, 'UTF8'))
$$;
