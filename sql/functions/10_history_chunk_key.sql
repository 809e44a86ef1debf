-- Which chunk of a number's Coexistence history sync an item is, whatever delivery
-- brought it: its number, phase and chunk order; without an order (a refusal), its
-- body and position. Keys history_chunk rows and their relay facts alike.
-- STABLE, as concat_ws is: PostgreSQL then inlines it into the queries that call it (an
-- IMMUTABLE one is run row by row instead).
CREATE OR REPLACE FUNCTION wabahook.history_chunk_key(
    phone_number_id text, phase integer, chunk_order integer, body_sha256 bytea,
    body_position integer
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT concat_ws('|', coalesce(phone_number_id, ''), coalesce(phase::text, ''),
                     coalesce(chunk_order::text,
                              'body:' || encode(body_sha256, 'hex') || ':' || body_position))
$$;
