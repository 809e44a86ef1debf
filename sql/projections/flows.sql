-- WhatsApp Flows notifications (processors/pipeline/projections/flows.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_flow_event
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_flow_event (
    raw_event_id bigint, channel text, waba_id text, phone_number_id text, field text,
    position integer, entry_time bigint, path text, flow_id text, flow_name text, event text,
    old_status text, new_status text
) ON COMMIT DELETE ROWS;

-- name: project_flow_events
-- Named like the other management events, the flow being its subject.
INSERT INTO {projections}.flow_event AS t
    (channel, dedup_key, waba_id, phone_number_id, flow_id, flow_name, event, old_status,
     new_status, details, event_at, raw_event_id, received_at)
SELECT DISTINCT ON (s.channel, k.dedup_key)
       s.channel, k.dedup_key, s.waba_id, s.phone_number_id, s.flow_id, s.flow_name, s.event,
       s.old_status, s.new_status, (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)),
       coalesce(to_timestamp(s.entry_time), d.received_at), s.raw_event_id, d.received_at
FROM stage_flow_event s JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL (
    SELECT wabahook.management_key(s.waba_id, s.field, NULL, s.flow_id, s.event, s.entry_time,
                                   d.body_sha256, s.position) AS dedup_key
) k
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, k.dedup_key, s.raw_event_id, s.position
ON CONFLICT (channel, dedup_key) DO UPDATE SET
    (waba_id, phone_number_id, flow_id, flow_name, event, old_status, new_status, details,
     event_at, raw_event_id, received_at)
  = (excluded.waba_id, excluded.phone_number_id, excluded.flow_id, excluded.flow_name,
     excluded.event, excluded.old_status, excluded.new_status, excluded.details,
     excluded.event_at, excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
