-- Intake through one function, so the internet-facing role needs no table rights:
-- it can store a delivery and learn its id, but can neither read nor change events.
CREATE FUNCTION wabahook.store_event(
    channel text, body bytea, body_sha256 bytea, content_type text, headers jsonb,
    client_addr inet, request_id text
) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH stored AS (
        INSERT INTO wabahook.raw_events
            (channel, body, body_sha256, content_type, headers, client_addr, request_id)
        VALUES (channel, body, body_sha256, content_type, headers, client_addr, request_id)
        RETURNING id, received_at, channel
    )
    INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)
    SELECT id, received_at, channel FROM stored
    RETURNING raw_event_id
$$;
REVOKE ALL ON FUNCTION wabahook.store_event(text, bytea, bytea, text, jsonb, inet, text) FROM PUBLIC;
