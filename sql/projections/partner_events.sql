-- A 360dialog partner's own events (processors/pipeline/projections/partner_events.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_partner_event
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_partner_event (
    raw_event_id bigint, channel text, event_id text, event text, client_id text,
    phone_number text, status text, event_at bigint, path text
) ON COMMIT DELETE ROWS;

-- name: project_partner_events
-- One row per event id (a repeat delivery, even of other bytes, adds nothing); an event
-- without one is its body's. The earliest raw event holding it wins, in any order.
INSERT INTO {projections}.partner_event AS t
    (channel, dedup_key, event_id, event, client_id, phone_number, status, details, event_at,
     raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, k.dedup_key)
       s.channel, k.dedup_key, s.event_id, s.event, s.client_id, s.phone_number, s.status,
       (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)),
       coalesce(to_timestamp(s.event_at), d.received_at), s.raw_event_id, d.received_at
FROM stage_partner_event s JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL (
    SELECT coalesce('id:' || s.event_id, 'body:' || encode(d.body_sha256, 'hex')) AS dedup_key
) k
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, k.dedup_key, s.raw_event_id
ON CONFLICT (channel, dedup_key) DO UPDATE SET
    (event_id, event, client_id, phone_number, status, details, event_at, raw_event_id,
     received_at)
  = (excluded.event_id, excluded.event, excluded.client_id, excluded.phone_number,
     excluded.status, excluded.details, excluded.event_at, excluded.raw_event_id,
     excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
