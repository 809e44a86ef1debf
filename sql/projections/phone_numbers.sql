-- Phone-number notifications (processors/pipeline/projections/phone_numbers.py).
-- The project_* queries write the staged items of the events {ids} (an array of event
-- ids, NULL: all of them) into the projection tables of the schema {projections}.

-- name: stage_phone_number_event
-- The staging table, filled by COPY: raw_event_id, channel, then the module's `columns`.
CREATE TEMP TABLE IF NOT EXISTS stage_phone_number_event (
    raw_event_id bigint, channel text, waba_id text, phone_number_id text, field text,
    position integer, entry_time bigint, path text, display_phone_number text, event text,
    old_limit text, current_limit text, max_daily_conversations text, requested_name text,
    rejection_reason text, username text
) ON COMMIT DELETE ROWS;

-- name: project_phone_number_events
INSERT INTO {projections}.phone_number_event AS t
    (channel, dedup_key, waba_id, phone_number_id, display_phone_number, field, event,
     old_limit, current_limit, max_daily_conversations, requested_name, rejection_reason,
     details, event_at, raw_event_id, received_at, username)
SELECT DISTINCT ON (s.channel, k.dedup_key)
       s.channel, k.dedup_key, s.waba_id, s.phone_number_id, s.display_phone_number, s.field,
       s.event, s.old_limit, s.current_limit, s.max_daily_conversations, s.requested_name,
       s.rejection_reason, (SELECT p.payload FROM stage_payload p WHERE (p.raw_event_id, p.path) = (s.raw_event_id, s.path)),
       coalesce(to_timestamp(s.entry_time), d.received_at), s.raw_event_id, d.received_at,
       s.username
FROM stage_phone_number_event s JOIN stage_doc d USING (raw_event_id)
CROSS JOIN LATERAL (
    SELECT wabahook.management_key(s.waba_id, s.field, NULL, s.display_phone_number, s.event,
                                   s.entry_time, d.body_sha256, s.position) AS dedup_key
) k
WHERE {ids}::bigint[] IS NULL OR s.raw_event_id = ANY({ids})
ORDER BY s.channel, k.dedup_key, s.raw_event_id, s.position
ON CONFLICT (channel, dedup_key) DO UPDATE SET
    (waba_id, phone_number_id, display_phone_number, field, event, old_limit, current_limit,
     max_daily_conversations, requested_name, rejection_reason, details, event_at,
     raw_event_id, received_at, username)
  = (excluded.waba_id, excluded.phone_number_id, excluded.display_phone_number, excluded.field,
     excluded.event, excluded.old_limit, excluded.current_limit,
     excluded.max_daily_conversations, excluded.requested_name, excluded.rejection_reason,
     excluded.details, excluded.event_at, excluded.raw_event_id, excluded.received_at,
     excluded.username)
WHERE excluded.raw_event_id < t.raw_event_id;
