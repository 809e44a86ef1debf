-- Business phone numbers seen in notifications (processors/pipeline/projections/numbers.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_number
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_number (
    raw_event_id bigint, channel text, phone_number_id text, waba_id text,
    display_phone_number text, first_at bigint, last_at bigint
) ON COMMIT DELETE ROWS;

-- name: project_numbers
-- First and last use by the times the notifications carry; the display number of the
-- latest sighting that gave one (ties: the greater number). Each is a min or max over
-- all sightings, so any order of events, and any re-delivery, gives the same row.
INSERT INTO {projections}.phone_number AS t
    (channel, phone_number_id, waba_id, display_phone_number, display_key, first_seen_at,
     last_seen_at, first_raw_event_id)
SELECT channel, phone_number_id, waba_id, substr(display_key, 14), display_key,
       first_seen_at, last_seen_at, first_raw_event_id
FROM (
    SELECT s.channel, s.phone_number_id, s.waba_id,
           max(wabahook.fact_key(to_timestamp(coalesce(s.last_at, 0)), s.display_phone_number)) AS display_key,
           to_timestamp(min(s.first_at)) AS first_seen_at, to_timestamp(max(s.last_at)) AS last_seen_at,
           min(s.raw_event_id) AS first_raw_event_id
    FROM stage_number s
    WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
    GROUP BY s.channel, s.phone_number_id, s.waba_id
    ORDER BY s.channel, s.phone_number_id, s.waba_id  -- one lock order for every drain
) seen
ON CONFLICT (channel, phone_number_id, waba_id) DO UPDATE SET
    display_key = greatest(t.display_key, excluded.display_key),
    display_phone_number = substr(greatest(t.display_key, excluded.display_key), 14),
    first_seen_at = least(t.first_seen_at, excluded.first_seen_at),
    last_seen_at = greatest(t.last_seen_at, excluded.last_seen_at),
    first_raw_event_id = least(t.first_raw_event_id, excluded.first_raw_event_id);
