-- A channel's own retention (`channels set NAME --retention 90d`): its stored bodies
-- older than this are deleted, a batch at a time, by the cron's retention job and by
-- `wabahook retention`; the projections, results and deduplication keys stay. NULL: kept
-- until whole months go (`wabahook retention --older-than`).
ALTER TABLE wabahook.channels
    ADD COLUMN retention interval CHECK (retention >= interval '1 day');

-- Whether a JSON document holds one of `exact` as a whole value, or one of `words` as a
-- word of a text value ("changed from 15550100001 to …"); keys never count. How an
-- erasure finds the rows kept of bodies retention deleted that name the person
-- (processors/pipeline/rebuild_keep.py).
CREATE OR REPLACE FUNCTION wabahook.names_any(doc jsonb, exact text[], words text[])
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT EXISTS (
        SELECT FROM jsonb_path_query(doc, 'strict $.**') AS v
        WHERE jsonb_typeof(v) IN ('string', 'number')
          AND (v #>> '{}' = ANY (exact)
               OR EXISTS (SELECT FROM regexp_split_to_table(v #>> '{}', '[^0-9A-Za-z_.]+') AS w
                          WHERE rtrim(w, '.') = ANY (words))))
$$;

-- Replay locks each event it queues: see sql/functions/20_replay_events.sql.
CREATE OR REPLACE FUNCTION wabahook.replay_events(
    channels text[], since timestamptz, until timestamptz, ids bigint[], states text[],
    marker text
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    queued bigint;
BEGIN
    -- Each stored event locked (shared) while it is queued: retention never deletes one
    -- it would then queue, and skips it from then on (it is queued).
    INSERT INTO wabahook.event_queue (raw_event_id, received_at, channel, replay)
    SELECT e.raw_event_id, e.received_at, e.channel, replay_events.marker
    FROM wabahook.selected_events(replay_events.channels, replay_events.since,
                                  replay_events.until, replay_events.ids,
                                  replay_events.states) e
    JOIN wabahook.raw_events r ON r.id = e.raw_event_id AND r.received_at = e.received_at
    FOR SHARE OF r
    ON CONFLICT (raw_event_id) DO UPDATE
        SET not_before = now(), last_error = NULL, replay = excluded.replay;
    GET DIAGNOSTICS queued = ROW_COUNT;
    RETURN queued;
END
$$;
REVOKE ALL ON FUNCTION wabahook.replay_events(text[], timestamptz, timestamptz, bigint[], text[], text)
    FROM PUBLIC;
