-- store_event() stores deliveries of known, enabled channels only: the receiver's
-- database login alone (without a channel's credentials) cannot store events for a
-- made-up or disabled channel, and a channel disabled while its credentials were
-- still cached by a receiver stops taking deliveries at once.
CREATE OR REPLACE FUNCTION wabahook.store_event(
    channel text, body bytea, body_sha256 bytea, content_type text, headers jsonb,
    client_addr inet, request_id text
) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH stored AS (
        INSERT INTO wabahook.raw_events
            (channel, body, body_sha256, content_type, headers, client_addr, request_id)
        SELECT channel, body, body_sha256, content_type, headers, client_addr, request_id
        WHERE EXISTS (
            SELECT FROM wabahook.channels c WHERE c.name = store_event.channel AND c.enabled
        )
        RETURNING id, received_at, channel
    )
    INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel)
    SELECT id, received_at, channel FROM stored
    RETURNING raw_event_id
$$;
