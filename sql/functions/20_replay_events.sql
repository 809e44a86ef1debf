-- Replay: queues the selected events (wabahook.selected_events(), sql/views/05_raw_events.sql)
-- again, marked with the replay's id; returns how many were queued. The same statement
-- `wabahook replay` runs.
-- Rights: the owner's (SECURITY DEFINER, pinned search_path), so the console's role may
-- queue stored events again without the right to write the queue itself; only the
-- processor and wabahook_console may call it (sql/roles.sql).
-- PL/pgSQL resolves selected_events() when called, so it may be created before the views.
CREATE OR REPLACE FUNCTION wabahook.replay_events(
    channels text[], since timestamptz, until timestamptz, ids bigint[], states text[],
    marker text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    queued bigint;
BEGIN
    -- Each stored event locked (key share: a body's rewrite goes on) while it is queued:
    -- retention never deletes one it would then queue, and skips it from then on.
    INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel, replay)
    SELECT e.raw_event_id, e.received_at, e.channel, replay_events.marker
    FROM wabahook.selected_events(replay_events.channels, replay_events.since,
                                  replay_events.until, replay_events.ids,
                                  replay_events.states) e
    JOIN wabahook.raw_events r ON r.id = e.raw_event_id AND r.received_at = e.received_at
    FOR KEY SHARE OF r
    ON CONFLICT (raw_event_id) DO UPDATE
        SET not_before = now(), last_error = NULL, replay = excluded.replay;
    GET DIAGNOSTICS queued = ROW_COUNT;
    RETURN queued;
END
$$;
REVOKE ALL ON FUNCTION wabahook.replay_events(text[], timestamptz, timestamptz, bigint[], text[], text)
    FROM PUBLIC;
