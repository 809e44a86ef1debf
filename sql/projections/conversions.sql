-- Ad conversions (processors/pipeline/projections/conversions.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_ad_conversion
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_ad_conversion (
    raw_event_id bigint, channel text, message_id text, event_name text, ctwa_clid text,
    value numeric(20, 4), currency text, event_at bigint, waba_id text, phone_number_id text,
    path text
) ON COMMIT DELETE ROWS;

-- name: project_ad_conversions
-- One row per (channel, message, event name, time); among items naming the same one,
-- the lowest raw event wins: a choice of the set of events, never of their order.
INSERT INTO {projections}.ad_conversion AS t
    (channel, message_id, event_name, ctwa_clid, value, currency, event_at, waba_id,
     phone_number_id, details, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, s.message_id, s.event_name, s.event_at)
       s.channel, s.message_id, s.event_name, s.ctwa_clid, s.value, s.currency,
       to_timestamp(s.event_at), s.waba_id, s.phone_number_id,
       (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)), s.raw_event_id,
       d.received_at
FROM stage_ad_conversion s JOIN stage_doc d USING (raw_event_id)
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, s.message_id, s.event_name, s.event_at, s.raw_event_id, s.path
ON CONFLICT (channel, message_id, event_name, event_at) DO UPDATE SET
    (ctwa_clid, value, currency, waba_id, phone_number_id, details, raw_event_id, received_at)
  = (excluded.ctwa_clid, excluded.value, excluded.currency, excluded.waba_id,
     excluded.phone_number_id, excluded.details, excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
