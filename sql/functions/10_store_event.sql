-- Intake through one function, so the internet-facing role needs no table rights: it
-- can store a delivery and learn its id, but can neither read nor change events.
-- Stores deliveries of known, enabled channels only: any other gets NULL and stores
-- nothing, so the receiver's login alone cannot store events for a made-up or disabled
-- channel. PL/pgSQL, because it keeps its statement's plan for the session (a
-- SQL-language body is planned anew on every call before PostgreSQL 18).
-- Rights: the owner's (SECURITY DEFINER, pinned search_path); only wabahook_receiver
-- may call it (sql/roles.sql).
CREATE OR REPLACE FUNCTION wabahook.store_event(
    channel text, body bytea, body_sha256 bytea, content_type text, headers jsonb,
    client_addr inet, request_id text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    stored_id bigint;
BEGIN
    WITH stored AS (
        INSERT INTO wabahook.raw_events
            (channel, body, body_sha256, content_type, headers, client_addr, request_id)
        SELECT store_event.channel, store_event.body, store_event.body_sha256,
               store_event.content_type, store_event.headers, store_event.client_addr,
               store_event.request_id
        WHERE EXISTS (
            SELECT FROM wabahook.channels c WHERE c.name = store_event.channel AND c.enabled
        )
        RETURNING id, received_at, channel
    )
    INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)
    SELECT id, received_at, channel FROM stored
    RETURNING raw_event_id INTO stored_id;
    RETURN stored_id;
END
$$;
REVOKE ALL ON FUNCTION wabahook.store_event(text, bytea, bytea, text, jsonb, inet, text) FROM PUBLIC;
