-- Account-level notifications (processors/pipeline/projections/accounts.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_account_event
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_account_event (
    raw_event_id bigint, channel text, waba_id text, phone_number_id text, field text,
    position integer, entry_time bigint, path text, event text, severity text,
    entity_type text, entity_id text, alert_status text, display_phone_number text
) ON COMMIT DELETE ROWS;

-- name: project_account_events
-- The subject of the dedup key: the entity an alert is about, or the number of a
-- security event; account updates and capability changes name none but the account.
INSERT INTO {projections}.account_event AS t
    (channel, dedup_key, waba_id, phone_number_id, field, event, severity, entity_type,
     entity_id, alert_status, display_phone_number, details, event_at, raw_event_id,
     received_at)
SELECT DISTINCT ON (s.channel, k.dedup_key)
       s.channel, k.dedup_key, s.waba_id, s.phone_number_id, s.field, s.event, s.severity,
       s.entity_type, s.entity_id, s.alert_status, s.display_phone_number,
       (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)),
       coalesce(to_timestamp(s.entry_time), d.received_at), s.raw_event_id, d.received_at
FROM stage_account_event s JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL (
    SELECT wabahook.management_key(s.waba_id, s.field, NULL,
                                   coalesce(s.entity_id, s.display_phone_number), s.event,
                                   s.entry_time, d.body_sha256, s.position) AS dedup_key
) k
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, k.dedup_key, s.raw_event_id, s.position
ON CONFLICT (channel, dedup_key) DO UPDATE SET
    (waba_id, phone_number_id, field, event, severity, entity_type, entity_id, alert_status,
     display_phone_number, details, event_at, raw_event_id, received_at)
  = (excluded.waba_id, excluded.phone_number_id, excluded.field, excluded.event,
     excluded.severity, excluded.entity_type, excluded.entity_id, excluded.alert_status,
     excluded.display_phone_number, excluded.details, excluded.event_at,
     excluded.raw_event_id, excluded.received_at)
WHERE excluded.raw_event_id < t.raw_event_id;
