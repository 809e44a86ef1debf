-- store_event() in PL/pgSQL: PostgreSQL plans a SQL-language function's body anew on
-- every call (before version 18), which here was half of the database's time per
-- delivery; PL/pgSQL keeps the plan of its statement for the session. Same name,
-- arguments, result and rights: a known, enabled channel's delivery is stored and
-- queued in one statement; any other gets NULL and stores nothing.
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
